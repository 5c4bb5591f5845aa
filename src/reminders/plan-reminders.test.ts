import { describe, expect, it } from 'vitest';
import { DEFAULT_OFFSETS_MINUTES, latestOpeningBefore, planReminders } from './plan-reminders.js';

const H = 3600_000;
const DAY = 24 * H;
const T0 = Date.UTC(2026, 11, 1); // midnight UTC
/** Open 08:00–21:00 UTC every day. */
async function opening(t: number): Promise<number> {
  const dayStart = Math.floor(t / DAY) * DAY;
  const m = t - dayStart;
  if (m < 8 * H) return dayStart + 8 * H;
  if (m >= 21 * H) return dayStart + DAY + 8 * H;
  return t;
}
const always = async (t: number) => t;

describe('planReminders', () => {
  it('plans 72 h, 24 h and 2 h before by default', async () => {
    const start = T0 + 10 * DAY + 14 * H;
    const { planned, skipped } = await planReminders({
      start,
      bookedAt: T0,
      now: T0,
      offsetsMinutes: DEFAULT_OFFSETS_MINUTES,
      nextOpening: always,
    });
    expect(planned.map((p) => (start - p.sendAt) / H)).toEqual([72, 24, 2]);
    expect(skipped).toEqual([]);
  });

  it('never plans for a past time', async () => {
    const now = T0 + 5 * DAY;
    const start = now + 30 * H;
    const { planned, skipped } = await planReminders({
      start,
      bookedAt: T0,
      now,
      offsetsMinutes: DEFAULT_OFFSETS_MINUTES,
      nextOpening: always,
    });
    expect(planned.map((p) => p.offsetMinutes)).toEqual([1440, 120]);
    expect(skipped).toEqual([{ offsetMinutes: 4320, reason: 'past' }]);
  });

  it('moves a reminder in quiet hours earlier, to the end of the last opening', async () => {
    // 09:00 appointment: 2 h before is 07:00, closed → 20:59 the evening before.
    const start = T0 + 10 * DAY + 9 * H;
    const { planned } = await planReminders({
      start,
      bookedAt: T0,
      now: T0,
      offsetsMinutes: [120],
      nextOpening: opening,
    });
    expect(planned).toEqual([
      { offsetMinutes: 120, sendAt: T0 + 9 * DAY + 21 * H - 60_000, moved: 'earlier' },
    ]);
  });

  it('moves later instead when earlier is before the booking, and skips past the start', async () => {
    const start = T0 + 10 * DAY + 9 * H + 30 * 60_000; // 09:30; 2 h before = 07:30
    const booked = T0 + 10 * DAY + 6 * H; // booked at 06:00 the same morning
    const r = await planReminders({
      start,
      bookedAt: booked,
      now: booked,
      offsetsMinutes: [120],
      nextOpening: opening,
    });
    expect(r.planned).toEqual([
      { offsetMinutes: 120, sendAt: T0 + 10 * DAY + 8 * H, moved: 'later' },
    ]);
    const early = await planReminders({
      start: T0 + 10 * DAY + 7 * H + 30 * 60_000,
      bookedAt: booked,
      now: booked,
      offsetsMinutes: [60],
      nextOpening: opening,
    });
    expect(early.skipped).toEqual([{ offsetMinutes: 60, reason: 'quiet_hours' }]);
  });

  it('de-duplicates offsets that land on one time', async () => {
    const start = T0 + 10 * DAY + 9 * H;
    const { planned } = await planReminders({
      start,
      bookedAt: T0,
      now: T0,
      offsetsMinutes: [120, 180, 120],
      nextOpening: opening,
    });
    expect(planned).toHaveLength(1);
  });
});

describe('latestOpeningBefore', () => {
  it('finds the last open minute', async () => {
    expect(await latestOpeningBefore(T0 + 23 * H, opening)).toBe(T0 + 21 * H - 60_000);
  });
});
