/**
 * @module content-guard
 * PHI detection and the allow / secure verdict for outbound texts (DESIGN.md: "SMS is a
 * trigger, never a container"). `scan` is pure — no I/O, vocabularies built once on first
 * use — so every send path, the API check route and the CLI give the same answer.
 * Policy, vocabularies, their sources and the measured quality: docs/content-guard.md.
 */
export { scan, MAX_TEXT_LENGTH } from './scan.js';
export { checkText } from './check-text.js';
export { CATEGORIES } from './types.js';
export type { Category, Finding, ScanContext, ScanResult, Verdict } from './types.js';
export {
  categoriesOf,
  DEFAULT_GUARD_SETTINGS,
  GUARD_ACTIONS,
  guardSettingsSchema,
  parseGuardSettings,
  type GuardAction,
  type GuardSettings,
} from './policy.js';
