import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  applyCaps,
  bodyMeetsConditions,
  capPolicyFor,
  checkCaps,
  decideCaps,
  DEFAULT_CAP_SETTINGS,
  earliestAllowed,
  rulesFor,
  validateProgramCap,
  type CapRule,
  type CapSettings,
} from './caps.js';

const H = 3600_000;
const D = 24 * H;
const T = Date.parse('2026-06-10T15:00:00Z');
const perDay: CapRule = { max: 1, windowMs: D, source: 'test' };
const perWeek: CapRule = { max: 3, windowMs: 7 * D, source: 'test' };
const fcc = [perDay, perWeek];

describe('the FCC healthcare exemption defaults', () => {
  const care = capPolicyFor(DEFAULT_CAP_SETTINGS, 'care', [])!;

  it('caps care at 1 a day and 3 a week, only without prior express consent', () => {
    expect(care.rules).toEqual([]);
    expect(rulesFor(care, undefined).map((r) => [r.max, r.windowMs])).toEqual([
      [1, D],
      [3, 7 * D],
    ]);
    expect(rulesFor(care, false)).toHaveLength(2);
    expect(rulesFor(care, true)).toEqual([]);
    expect(rulesFor(care, undefined)[0]!.source).toMatch(/64\.1200\(a\)\(9\)\(iv\)/);
  });

  it('asks for 160 characters or fewer and a STOP instruction when it applies', () => {
    const ok = 'Lakeside Clinic: your appointment is Tue 10:30. Reply STOP to opt out.';
    expect(bodyMeetsConditions(care, ok, undefined)).toBe(true);
    expect(bodyMeetsConditions(care, 'Lakeside Clinic: see you Tuesday.', undefined)).toBe(false);
    expect(bodyMeetsConditions(care, `${'x'.repeat(150)} Reply STOP`, undefined)).toBe(false);
    expect(bodyMeetsConditions(care, `${'x'.repeat(149)} Reply STOP`, undefined)).toBe(true);
    // Emoji count as one character each.
    expect(bodyMeetsConditions(care, `${'😀'.repeat(149)} Reply STOP`, undefined)).toBe(true);
    expect(bodyMeetsConditions(care, 'Lakeside Clinic: see you Tuesday.', true)).toBe(true);
  });

  it('leaves the other programs uncapped, except marketing in Florida, Oklahoma and Maryland', () => {
    expect(capPolicyFor(DEFAULT_CAP_SETTINGS, 'billing', ['FL'])).toBeNull();
    expect(capPolicyFor(DEFAULT_CAP_SETTINGS, 'marketing', ['NY'])).toBeNull();
    for (const state of ['FL', 'OK', 'MD'] as const) {
      const m = capPolicyFor(DEFAULT_CAP_SETTINGS, 'marketing', [state])!;
      expect(m.rules).toEqual([expect.objectContaining({ max: 3, windowMs: D })]);
      // Statutory: consent does not lift it.
      expect(rulesFor(m, true)).toHaveLength(1);
    }
  });

  it('adds an organisation cap to the statutory one', () => {
    const settings: CapSettings = {
      mode: 'defer',
      programs: {
        ...DEFAULT_CAP_SETTINGS.programs,
        marketing: {
          per24h: 1,
          per7d: 2,
          withoutExpressConsentOnly: false,
          maxChars: null,
          requireStopInstructions: false,
        },
      },
    };
    const m = capPolicyFor(settings, 'marketing', ['FL'])!;
    expect(m.mode).toBe('defer');
    expect(rulesFor(m, true).map((r) => r.max)).toEqual([3, 1, 2]);
    expect(m.body).toBeNull();
  });
});

describe('rolling windows', () => {
  it('1 a day: a second text within 24 hours is over, at 24 hours it is not', () => {
    expect(checkCaps(fcc, [T - 23 * H], T).ok).toBe(false);
    expect(checkCaps(fcc, [T - D], T).ok).toBe(true);
    expect(checkCaps(fcc, [], T).ok).toBe(true);
  });

  it('3 a week: a fourth text within 7 days is over', () => {
    expect(checkCaps(fcc, [T - 6 * D, T - 4 * D, T - 2 * D], T)).toMatchObject({
      ok: false,
      rule: { max: 3 },
    });
    expect(checkCaps(fcc, [T - 7 * D, T - 4 * D, T - 2 * D], T).ok).toBe(true);
  });

  it('counts texts scheduled later as well as those already sent', () => {
    expect(checkCaps(fcc, [T + 12 * H], T).ok).toBe(false);
    expect(checkCaps(fcc, [T + D], T).ok).toBe(true);
    // Two days apart either side still leaves room in every 7-day window but not a fourth.
    expect(checkCaps(fcc, [T - 3 * D, T + 3 * D], T).ok).toBe(true);
    expect(checkCaps(fcc, [T - 3 * D, T + 2 * D, T + 3 * D], T).ok).toBe(false);
  });

  it('agrees with counting every window by brute force', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 400 }), { maxLength: 12 }),
        fc.integer({ min: 100, max: 300 }),
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 1, max: 5 }),
        (times, at, w, max) => {
          const rule = { max, windowMs: w, source: 'test' };
          let busiest = 0;
          for (let a = at - w + 1; a <= at; a++) {
            busiest = Math.max(busiest, times.filter((s) => s >= a && s < a + w).length);
          }
          expect(checkCaps([rule], times, at).ok).toBe(busiest + 1 <= max);
        },
      ),
    );
  });

  it('finds the earliest time the caps allow', () => {
    expect(earliestAllowed(fcc, [T - 2 * H], T)).toBe(T + 22 * H);
    // The day cap frees at T+23h, but the week cap only when the first text turns 7 days old.
    expect(earliestAllowed(fcc, [T - 6 * D, T - 5 * D, T - H], T)).toBe(T + D);
    expect(earliestAllowed(fcc, [], T)).toBe(T);
    expect(earliestAllowed([perDay], [T - H], T, H)).toBeNull();
  });
});

describe('refuse or defer', () => {
  it('refuses, or defers to when the cap allows and quiet hours are open', () => {
    expect(applyCaps(fcc, [T - 2 * H], T, 'refuse')).toMatchObject({ kind: 'refused' });
    expect(applyCaps(fcc, [T - 2 * H], T, 'defer')).toEqual({ kind: 'deferred', at: T + 22 * H });
    // Quiet hours push it to the next 08:00 (here: the next whole day boundary).
    const nextDay = (x: number) => Math.ceil(x / D) * D;
    expect(applyCaps(fcc, [T - 2 * H], T, 'defer', nextDay)).toEqual({
      kind: 'deferred',
      at: nextDay(T + 22 * H),
    });
    expect(applyCaps(fcc, [], T, 'refuse')).toEqual({ kind: 'ok', at: T });
  });

  it('decides a message: body conditions first, then counts', () => {
    const caps = {
      policy: capPolicyFor(DEFAULT_CAP_SETTINGS, 'care', [])!,
      opening: (x: number) => x,
    };
    const body = 'Lakeside: reminder for Tue 10:30. Reply STOP to opt out.';
    expect(decideCaps(caps, body, undefined, [], T)).toEqual({
      ok: true,
      sendAt: T,
      deferred: false,
    });
    expect(decideCaps(caps, body, undefined, [T - H], T)).toEqual({
      ok: false,
      code: 'frequency_cap_exceeded',
    });
    expect(decideCaps(caps, 'no instructions', undefined, [], T)).toEqual({
      ok: false,
      code: 'exemption_conditions_unmet',
    });
    expect(decideCaps(caps, 'no instructions', true, [T - H], T)).toEqual({
      ok: true,
      sendAt: T,
      deferred: false,
    });
    const deferring = { ...caps, policy: { ...caps.policy, mode: 'defer' as const } };
    expect(decideCaps(deferring, body, undefined, [T - H], T)).toEqual({
      ok: true,
      sendAt: T + 23 * H,
      deferred: true,
    });
  });
});

describe('settings', () => {
  const cap = {
    per24h: 1,
    per7d: 3,
    withoutExpressConsentOnly: false,
    maxChars: null,
    requireStopInstructions: false,
  };
  it('accepts sensible caps and explains the rest', () => {
    expect(validateProgramCap(cap)).toBeNull();
    expect(validateProgramCap({ ...cap, per24h: 0 })).toMatch(/per24h/);
    expect(validateProgramCap({ ...cap, per7d: 1001 })).toMatch(/per7d/);
    expect(validateProgramCap({ ...cap, per24h: 4 })).toMatch(/lower/);
    expect(validateProgramCap({ ...cap, maxChars: 0 })).toMatch(/maxChars/);
  });
});
