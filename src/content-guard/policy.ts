/**
 * @module content-guard/policy
 * What an organisation does with a text the guard holds (issue 5, "Where the guard acts"):
 * - `divert` (default): the content becomes a secure message behind the portal and the SMS
 *   becomes the organisation's neutral notice with the link;
 * - `reject`: the send is refused (422 `content_requires_secure`) with the finding categories;
 * - `override`: as `divert`, but a provider may send the text as plain SMS anyway by giving a
 *   written reason, which is audited.
 * Pure: the settings are stored by orgs and handed in as JSON.
 */
import { z } from 'zod';
import type { Category, Finding } from './types.js';

export const GUARD_ACTIONS = ['divert', 'reject', 'override'] as const;
export type GuardAction = (typeof GUARD_ACTIONS)[number];

export interface GuardSettings {
  action: GuardAction;
}

export const DEFAULT_GUARD_SETTINGS: GuardSettings = { action: 'divert' };

export const guardSettingsSchema = z.object({ action: z.enum(GUARD_ACTIONS) });

/** Stored settings, or the defaults when none (or unreadable ones) are stored. */
export function parseGuardSettings(json: string | null): GuardSettings {
  if (json === null) return DEFAULT_GUARD_SETTINGS;
  try {
    const parsed = guardSettingsSchema.safeParse(JSON.parse(json));
    return parsed.success ? parsed.data : DEFAULT_GUARD_SETTINGS;
  } catch {
    return DEFAULT_GUARD_SETTINGS;
  }
}

/** The distinct categories of a scan's findings, in the order first found. */
export function categoriesOf(findings: readonly Finding[]): Category[] {
  return [...new Set(findings.map((f) => f.category))];
}
