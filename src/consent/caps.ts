/**
 * @module consent/caps
 * Frequency caps: how many texts of one program one recipient may get from one organisation
 * in rolling windows. Pure functions: the settings and their defaults, the rules that apply
 * to one message, and the verdict for a message given the send times of the others. The send
 * path (messaging, at acceptance; dispatch, before each submission) supplies the history.
 *
 * Defaults encode the FCC's 2015 exemption for healthcare-treatment texts to wireless numbers
 * sent without prior express consent (FCC 15-72, 30 FCC Rcd 7961 ¶ 147 (2015), codified at
 * 47 CFR § 64.1200(a)(9)(iv)): at most one a day and three a week from one provider, 160
 * characters or fewer, with instructions to reply STOP. Florida, Oklahoma and Maryland allow
 * at most three marketing texts in 24 hours (consent/state-rules).
 */
import type { Program } from '../messaging/index.js';
import type { ErrorCode } from '../errors/index.js';
import { marketingCapsOf, type UsState } from './state-rules.js';

export const CAP_MODES = ['refuse', 'defer'] as const;
/** Over a cap: refuse the message (422 `frequency_cap_exceeded`) or queue it for when the cap allows. */
export type CapMode = (typeof CAP_MODES)[number];

/** The most a configured cap may allow per window (the history kept per recipient grows with it). */
export const MAX_CAP = 1000;

/** One program's cap, as an organisation configures it. */
export interface ProgramCap {
  /** At most this many in any rolling 24 hours; null: no daily cap. */
  per24h: number | null;
  /** At most this many in any rolling 7 days; null: no weekly cap. */
  per7d: number | null;
  /**
   * Only for recipients without prior express consent (the FCC exemption's conditions): a
   * recipient who gave express consent is not capped by this program's settings.
   */
  withoutExpressConsentOnly: boolean;
  /** Longest body in characters (Unicode code points); null: any length. */
  maxChars: number | null;
  /** The body must tell the recipient to reply STOP to opt out. */
  requireStopInstructions: boolean;
}

export interface CapSettings {
  mode: CapMode;
  programs: Record<Program, ProgramCap | null>;
}

/** FCC 15-72 ¶ 147; 47 CFR § 64.1200(a)(9)(iv)(C)–(F). */
export const FCC_HEALTHCARE_EXEMPTION: Readonly<ProgramCap> = Object.freeze({
  per24h: 1,
  per7d: 3,
  withoutExpressConsentOnly: true,
  maxChars: 160,
  requireStopInstructions: true,
});

const FCC_SOURCE = 'FCC 15-72 ¶ 147; 47 CFR § 64.1200(a)(9)(iv)';

export const DEFAULT_CAP_SETTINGS: Readonly<CapSettings> = Object.freeze({
  mode: 'refuse',
  programs: Object.freeze({
    care: FCC_HEALTHCARE_EXEMPTION,
    billing: null,
    surveys: null,
    marketing: null,
  }),
});

const HOUR = 3600_000;

/** At most `max` messages in any rolling window of `windowMs`, and where that comes from. */
export interface CapRule {
  max: number;
  windowMs: number;
  source: string;
}

/** Everything that caps one message: what always applies, and what applies without consent. */
export interface CapPolicy {
  mode: CapMode;
  rules: CapRule[];
  /** Apply only when the recipient has not given prior express consent (or it is unknown). */
  withoutConsentRules: CapRule[];
  /** `rules` and `withoutConsentRules` together (what applies when consent is not known). */
  allRules: CapRule[];
  /** Body conditions (length, opt-out instruction). */
  body: {
    maxChars: number | null;
    requireStopInstructions: boolean;
    withoutExpressConsentOnly: boolean;
  } | null;
}

function sameCap(a: ProgramCap, b: ProgramCap): boolean {
  return (
    a.per24h === b.per24h &&
    a.per7d === b.per7d &&
    a.withoutExpressConsentOnly === b.withoutExpressConsentOnly &&
    a.maxChars === b.maxChars &&
    a.requireStopInstructions === b.requireStopInstructions
  );
}

function capRules(cap: ProgramCap, source: string): CapRule[] {
  const rules: CapRule[] = [];
  if (cap.per24h !== null) rules.push({ max: cap.per24h, windowMs: 24 * HOUR, source });
  if (cap.per7d !== null) rules.push({ max: cap.per7d, windowMs: 7 * 24 * HOUR, source });
  return rules;
}

/**
 * What caps a message of `program` to a recipient in `states`, under the organisation's
 * `settings`; null when nothing does.
 */
export function capPolicyFor(
  settings: CapSettings,
  program: Program,
  states: readonly UsState[],
): CapPolicy | null {
  const cap = settings.programs[program];
  const source =
    cap && sameCap(cap, FCC_HEALTHCARE_EXEMPTION) ? FCC_SOURCE : 'organisation setting';
  const own = cap ? capRules(cap, source) : [];
  const statutory =
    program === 'marketing'
      ? marketingCapsOf(states).map((r) => ({
          max: r.max,
          windowMs: r.windowHours * HOUR,
          source: r.source,
        }))
      : [];
  const conditional = cap?.withoutExpressConsentOnly === true;
  const body =
    cap && (cap.maxChars !== null || cap.requireStopInstructions)
      ? {
          maxChars: cap.maxChars,
          requireStopInstructions: cap.requireStopInstructions,
          withoutExpressConsentOnly: conditional,
        }
      : null;
  const rules = conditional ? statutory : [...statutory, ...own];
  const withoutConsentRules = conditional ? own : [];
  const policy: CapPolicy = {
    mode: settings.mode,
    rules,
    withoutConsentRules,
    allRules: [...rules, ...withoutConsentRules],
    body,
  };
  if (policy.rules.length + policy.withoutConsentRules.length === 0 && !body) return null;
  return policy;
}

/**
 * The count rules that apply, given what is known of consent. Unknown consent counts as none:
 * the exemption's limits apply until the ledger says otherwise.
 */
export function rulesFor(policy: CapPolicy, hasExpressConsent: boolean | undefined): CapRule[] {
  return hasExpressConsent === true ? policy.rules : policy.allRules;
}

/** "Reply STOP", "text STOP to …", "STOP to opt out": the instruction the FCC asks for. */
const STOP_INSTRUCTION = /\bstop\b/i;

/**
 * Whether the body meets the exemption's conditions (length, opt-out instruction) when they
 * apply; a recipient with express consent is not held to them if the cap says so.
 */
export function bodyMeetsConditions(
  policy: CapPolicy,
  body: string,
  hasExpressConsent: boolean | undefined,
): boolean {
  if (!policy.body) return true;
  if (hasExpressConsent === true && policy.body.withoutExpressConsentOnly) return true;
  if (policy.body.maxChars !== null && [...body].length > policy.body.maxChars) return false;
  if (policy.body.requireStopInstructions && !STOP_INSTRUCTION.test(body)) return false;
  return true;
}

/**
 * The most messages of `times` that one window of `rule` containing `at` also holds. Windows
 * are `[a, a + W)` with `at` inside; scheduled (future) messages count as well as past ones.
 * The busiest such window starts just after `at - W` or at a message after `at`.
 */
function busiestWindow(rule: CapRule, times: readonly number[], at: number): number {
  const w = rule.windowMs;
  const sorted = Float64Array.from(times).sort();
  let most = countIn(sorted, at - w + 1, w);
  let last = NaN;
  for (let i = lowerBound(sorted, at); i < sorted.length && sorted[i]! < at + w; i++) {
    const s = sorted[i]!;
    if (s === last) continue;
    last = s;
    const n = countIn(sorted, s - w + 1, w);
    if (n > most) most = n;
  }
  return most;
}

/** The first index of sorted `xs` holding a value at least `v`. */
function lowerBound(xs: Float64Array, v: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** How many of sorted `xs` fall in `[a, a + w)`. */
function countIn(xs: Float64Array, a: number, w: number): number {
  return lowerBound(xs, a + w) - lowerBound(xs, a);
}

export type CapVerdict = { ok: true } | { ok: false; rule: CapRule };

/** May one more message go at `at`, given the send times of the others? */
export function checkCaps(
  rules: readonly CapRule[],
  times: readonly number[],
  at: number,
): CapVerdict {
  for (const rule of rules) {
    // Fewer messages in all than the cap allows: no window can be full.
    if (times.length < rule.max) continue;
    if (busiestWindow(rule, times, at) + 1 > rule.max) return { ok: false, rule };
  }
  return { ok: true };
}

/**
 * The earliest instant at or after `from` at which one more message fits under every rule, or
 * null if none does within `horizonMs`. A time becomes possible only when an earlier message
 * leaves the windows, so the candidates are `from` and each `s + W`.
 */
export function earliestAllowed(
  rules: readonly CapRule[],
  times: readonly number[],
  from: number,
  horizonMs = 30 * 24 * HOUR,
): number | null {
  const candidates = [from];
  for (const r of rules)
    for (const s of times) if (s + r.windowMs > from) candidates.push(s + r.windowMs);
  candidates.sort((a, b) => a - b);
  for (const t of candidates) {
    if (t > from + horizonMs) break;
    if (checkCaps(rules, times, t).ok) return t;
  }
  return null;
}

export type CapOutcome =
  | { kind: 'ok'; at: number }
  | { kind: 'deferred'; at: number }
  | { kind: 'refused'; rule: CapRule };

/**
 * The verdict for one message planned at `at`: it fits; or, over a cap, it is refused
 * (`refuse` mode) or moved to the earliest time the caps allow that `opening` (quiet hours)
 * also allows (`defer` mode). Refused when no such time exists within the horizon.
 */
export function applyCaps(
  rules: readonly CapRule[],
  times: readonly number[],
  at: number,
  mode: CapMode,
  opening: (t: number) => number = (t) => t,
): CapOutcome {
  const first = checkCaps(rules, times, at);
  if (first.ok) return { kind: 'ok', at };
  if (mode === 'refuse') return { kind: 'refused', rule: first.rule };
  let t = at;
  for (let i = 0; i < 8; i++) {
    const c = earliestAllowed(rules, times, t);
    if (c === null) break;
    const o = opening(c);
    if (o === c || checkCaps(rules, times, o).ok) return { kind: 'deferred', at: o };
    t = o;
  }
  return { kind: 'refused', rule: first.rule };
}

/** A cap setting from user input, or a sentence saying what is wrong (no values echoed). */
export function validateProgramCap(v: ProgramCap): string | null {
  for (const [name, n] of [
    ['per24h', v.per24h],
    ['per7d', v.per7d],
  ] as const) {
    if (n !== null && (!Number.isInteger(n) || n < 1 || n > MAX_CAP)) {
      return `${name} must be a whole number from 1 to ${MAX_CAP}, or null.`;
    }
  }
  if (v.per24h !== null && v.per7d !== null && v.per7d < v.per24h) {
    return 'per7d cannot be lower than per24h.';
  }
  if (
    v.maxChars !== null &&
    (!Number.isInteger(v.maxChars) || v.maxChars < 1 || v.maxChars > 1600)
  ) {
    return 'maxChars must be a whole number from 1 to 1600, or null.';
  }
  return null;
}

/** The caps one accepted message is checked against in its transaction. */
export interface PendingCaps {
  policy: CapPolicy;
  /** The next instant at or after `t` quiet hours allow (for a deferral past a cap). */
  opening: (t: number) => number;
}

/** The accepting transaction's verdict on one capped message. */
export type CapDecision =
  { ok: true; sendAt: number; deferred: boolean } | { ok: false; code: ErrorCode };

/**
 * The verdict of the accepting transaction on one capped message, given the send times of the
 * recipient's other messages in the program: the body conditions first, then the counts.
 */
export function decideCaps(
  caps: PendingCaps,
  body: string,
  hasExpressConsent: boolean | undefined,
  times: readonly number[],
  sendAt: number,
): CapDecision {
  if (!bodyMeetsConditions(caps.policy, body, hasExpressConsent)) {
    return { ok: false, code: 'exemption_conditions_unmet' };
  }
  const rules = rulesFor(caps.policy, hasExpressConsent);
  if (rules.length === 0) return { ok: true, sendAt, deferred: false };
  const out = applyCaps(rules, times, sendAt, caps.policy.mode, caps.opening);
  switch (out.kind) {
    case 'ok':
      return { ok: true, sendAt, deferred: false };
    case 'deferred':
      return { ok: true, sendAt: out.at, deferred: true };
    case 'refused':
      return { ok: false, code: 'frequency_cap_exceeded' };
  }
}
