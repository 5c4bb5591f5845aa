/**
 * @module consent/quiet-hours
 * When a text may reach a recipient: a pure function of the recipient's candidate time zones,
 * the windows that apply (the installation's, the organisation's and any stricter state rule)
 * and a time. It answers whether the message may go now and, if not, the next instant it may.
 * Times are compared in each zone's local wall-clock time with the IANA database (luxon), so
 * daylight-saving changes move the instants, never the local hours. When a number may be in
 * several zones, a time is allowed only if it is inside the window in every one of them.
 *
 * No I/O: the zones come from consent/timezones, the state rules from consent/state-rules.
 */
import { DateTime, IANAZone } from 'luxon';
import { quietHoursOf, type DayWindow, type UsState } from './state-rules.js';

export type { DayWindow } from './state-rules.js';

/**
 * The federal window: no telephone solicitation "before the hour of 8 a.m. or after 9 p.m.
 * (local time at the called party's location)", 47 CFR § 64.1200(c)(1). Tidings applies it to
 * every program unless an organisation exempts one.
 */
export const DEFAULT_QUIET_WINDOW: DayWindow = { start: 8 * 60, end: 21 * 60 };

/**
 * The zones assumed when nothing is known about a recipient: the four zones of the
 * contiguous United States. Allowed in all four means 11:00–21:00 Eastern by default.
 */
export const UNKNOWN_RECIPIENT_ZONES: readonly string[] = [
  'America/New_York',
  'America/Chicago',
  'America/Denver',
  'America/Los_Angeles',
];

/** Why a message is not held: a reply to STOP/HELP/START, or a program the organisation exempted. */
export type QuietHoursExemption = 'consent_reply' | 'program';

/** The windows that apply to one recipient. */
export interface QuietHoursRules {
  /** The installation's window (TIDINGS_QUIET_HOURS), or `off` for none at all. */
  server: DayWindow | 'off';
  /** The organisation's window; it can only narrow the installation's. */
  org?: DayWindow | null | undefined;
  /** States whose stricter rules apply (from the area code, the contact's state or ZIP). */
  states?: readonly UsState[] | undefined;
}

/** An instant range in epoch milliseconds, `[start, end)`. */
export type Interval = readonly [number, number];

export interface QuietHoursInput extends QuietHoursRules {
  /** Candidate IANA zones of the recipient (consent/timezones). */
  zones: readonly string[];
  /** Epoch milliseconds. */
  at: number;
  exempt?: QuietHoursExemption | undefined;
}

export interface QuietHoursDecision {
  allowed: boolean;
  /** `at` when allowed now; otherwise the first instant at which every zone is in its window. */
  nextOpening: number;
  /** The zones the decision used (names luxon does not know are dropped). */
  zones: string[];
  /**
   * The zones share no window within a week (a number listed in zones hours apart), so only
   * the first was used rather than never sending.
   */
  degraded: boolean;
  /** The statutes of the state rules that applied. */
  sources: string[];
}

/** How far ahead openings are looked for: a week covers every weekly pattern. */
const HORIZON_MS = 8 * 24 * 3600_000;

const WINDOW_TEXT = /^([01]\d|2[0-4]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$/;

/** Parses `HH:MM-HH:MM` (end after start, at most 24:00); null for anything else. */
export function parseWindow(text: string): DayWindow | null {
  const m = WINDOW_TEXT.exec(text.trim());
  if (!m) return null;
  const start = Number(m[1]) * 60 + Number(m[2]);
  const end = Number(m[3]) * 60 + Number(m[4]);
  if (start >= end || end > 24 * 60) return null;
  return { start, end };
}

export function formatWindow(w: DayWindow): string {
  const f = (v: number) =>
    `${String(Math.floor(v / 60)).padStart(2, '0')}:${String(v % 60).padStart(2, '0')}`;
  return `${f(w.start)}-${f(w.end)}`;
}

/** Whether `inner` lies within `outer` (an organisation's window must be at least as strict). */
export function windowWithin(inner: DayWindow, outer: DayWindow): boolean {
  return inner.start >= outer.start && inner.end <= outer.end;
}

function intersect(a: DayWindow | null, b: DayWindow): DayWindow | null {
  if (!a) return null;
  const start = Math.max(a.start, b.start);
  const end = Math.min(a.end, b.end);
  return start < end ? { start, end } : null;
}

/** The local window for an ISO weekday (1 = Monday); null when the whole day is closed. */
export function windowFor(rules: QuietHoursRules, weekday: number): DayWindow | null {
  let w: DayWindow | null = rules.server === 'off' ? { start: 0, end: 24 * 60 } : rules.server;
  if (rules.org) w = intersect(w, rules.org);
  for (const r of quietHoursOf(rules.states ?? [])) {
    w = intersect(w, r.days[weekday as 1 | 2 | 3 | 4 | 5 | 6 | 7]);
  }
  return w;
}

/** Zone names already checked (luxon builds an Intl.DateTimeFormat for every check). */
const zoneValidity = new Map<string, boolean>();

function isKnownZone(zone: string): boolean {
  let ok = zoneValidity.get(zone);
  if (ok === undefined) {
    ok = IANAZone.isValidZone(zone);
    if (zoneValidity.size < 10_000) zoneValidity.set(zone, ok);
  }
  return ok;
}

/** The known zones among `zones`, each once. */
export function validZones(zones: readonly string[]): string[] {
  return [...new Set(zones)].filter(isKnownZone);
}

/** The instant a local wall-clock time occurs in `zone` (a time in a DST gap moves forward). */
function localInstant(zone: string, day: DateTime, minutes: number): number {
  if (minutes >= 24 * 60) {
    return day.plus({ days: 1 }).startOf('day').toMillis();
  }
  return DateTime.fromObject(
    {
      year: day.year,
      month: day.month,
      day: day.day,
      hour: Math.floor(minutes / 60),
      minute: minutes % 60,
    },
    { zone },
  ).toMillis();
}

/** The open intervals of one zone that overlap `[from, until)`. */
function zoneIntervals(zone: string, rules: QuietHoursRules, from: number, until: number) {
  const out: [number, number][] = [];
  let day = DateTime.fromMillis(from, { zone }).startOf('day').minus({ days: 1 });
  const last = DateTime.fromMillis(until, { zone }).startOf('day').plus({ days: 1 });
  while (day <= last) {
    const w = windowFor(rules, day.weekday);
    if (w) {
      const s = localInstant(zone, day, w.start);
      const e = localInstant(zone, day, w.end);
      if (s < e && e > from && s < until) out.push([s, e]);
    }
    day = day.plus({ days: 1 });
  }
  return out;
}

function intersectIntervals(a: readonly Interval[], b: readonly Interval[]): [number, number][] {
  const out: [number, number][] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const s = Math.max(a[i]![0], b[j]![0]);
    const e = Math.min(a[i]![1], b[j]![1]);
    if (s < e) out.push([s, e]);
    if (a[i]![1] < b[j]![1]) i++;
    else j++;
  }
  return out;
}

/**
 * The instants in `[from, until)` at which a message may reach a recipient who may be in any
 * of `zones`: the intersection of every zone's local windows, in ascending order.
 */
export function openIntervals(
  zones: readonly string[],
  rules: QuietHoursRules,
  from: number,
  until: number,
): Interval[] {
  let acc: Interval[] | null = null;
  for (const z of zones) {
    const own = zoneIntervals(z, rules, from, until);
    acc = acc === null ? own : intersectIntervals(acc, own);
    if (acc.length === 0) break;
  }
  return acc ?? [[from, until]];
}

/** Whether `at` lies in one of `intervals`, and otherwise the next start after it (or null). */
export function openingIn(
  intervals: readonly Interval[],
  at: number,
): { allowed: boolean; next: number | null } {
  for (const [s, e] of intervals) {
    if (at < s) return { allowed: false, next: s };
    if (at < e) return { allowed: true, next: at };
  }
  return { allowed: false, next: null };
}

/**
 * May a message reach this recipient at `at`, and if not, when? Exempt messages and an
 * installation with quiet hours `off` always may.
 */
export function checkQuietHours(input: QuietHoursInput): QuietHoursDecision {
  const sources = quietHoursOf(input.states ?? []).map((r) => r.source);
  let zones = validZones(input.zones);
  if (input.exempt || input.server === 'off') {
    return { allowed: true, nextOpening: input.at, zones, degraded: false, sources: [] };
  }
  if (zones.length === 0) zones = [...UNKNOWN_RECIPIENT_ZONES];
  const until = input.at + HORIZON_MS;
  let found = openingIn(openIntervals(zones, input, input.at, until), input.at);
  let degraded = false;
  if (found.next === null && zones.length > 1) {
    degraded = true;
    zones = zones.slice(0, 1);
    found = openingIn(openIntervals(zones, input, input.at, until), input.at);
  }
  return {
    allowed: found.allowed,
    // Validated windows open at least once a week, so `next` is only null for impossible rules;
    // then the message waits a day and is checked again rather than being dropped.
    nextOpening: found.next ?? input.at + 24 * 3600_000,
    zones,
    degraded,
    sources,
  };
}
