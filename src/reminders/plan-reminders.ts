/**
 * @module reminders/plan-reminders
 * When each reminder of an appointment goes: pure, no I/O. A reminder is due its offset before
 * the start; one that would fall in the recipient's quiet hours moves EARLIER, to the end of
 * the last opening before it (a patient would rather hear the evening before than after the
 * appointment), unless that is before the appointment was booked or already past; then it
 * waits for the next opening if that still lies before the start, and is skipped otherwise.
 * Nothing is planned for a past time, and two offsets landing on one time give one reminder.
 */

/** Default offsets (minutes before the start): 72 h, 24 h and 2 h. */
export const DEFAULT_OFFSETS_MINUTES: readonly number[] = [72 * 60, 24 * 60, 2 * 60];

export interface PlanInput {
  start: number;
  bookedAt: number;
  now: number;
  offsetsMinutes: readonly number[];
  /** The next instant at or after `t` the recipient may be texted (`t` itself when open). */
  nextOpening: (t: number) => Promise<number>;
}

export interface PlannedReminder {
  offsetMinutes: number;
  sendAt: number;
  /** How quiet hours moved it, if they did. */
  moved: 'earlier' | 'later' | null;
}

export interface SkippedReminder {
  offsetMinutes: number;
  reason: 'past' | 'quiet_hours';
}

const STEP_MS = 15 * 60_000;
/** Quiet hours last at most 15 h (Saturday 21:00 to Sunday noon under Texas law). */
const MAX_LOOKBACK_MS = 16 * 3600_000;
const MINUTE = 60_000;

/** The latest open instant before `t` (to the minute), or null within the look-back. */
export async function latestOpeningBefore(
  t: number,
  nextOpening: (t: number) => Promise<number>,
): Promise<number | null> {
  for (let back = STEP_MS; back <= MAX_LOOKBACK_MS; back += STEP_MS) {
    const c = t - back;
    if ((await nextOpening(c)) !== c) continue;
    // Open at c, closed at c + STEP: find the last open minute in between.
    let lo = c;
    let hi = c + STEP_MS;
    while (hi - lo > MINUTE) {
      const mid = lo + Math.floor((hi - lo) / 2 / MINUTE) * MINUTE;
      if ((await nextOpening(mid)) === mid) lo = mid;
      else hi = mid;
    }
    return lo;
  }
  return null;
}

export async function planReminders(
  input: PlanInput,
): Promise<{ planned: PlannedReminder[]; skipped: SkippedReminder[] }> {
  const planned: PlannedReminder[] = [];
  const skipped: SkippedReminder[] = [];
  const offsets = [...new Set(input.offsetsMinutes)].sort((a, b) => b - a);
  for (const offsetMinutes of offsets) {
    const due = input.start - offsetMinutes * MINUTE;
    if (due <= input.now) {
      skipped.push({ offsetMinutes, reason: 'past' });
      continue;
    }
    let sendAt = due;
    let moved: PlannedReminder['moved'] = null;
    if ((await input.nextOpening(due)) !== due) {
      const earlier = await latestOpeningBefore(due, input.nextOpening);
      if (earlier !== null && earlier >= Math.max(input.bookedAt, input.now)) {
        sendAt = earlier;
        moved = 'earlier';
      } else {
        const later = await input.nextOpening(due);
        if (later >= input.start) {
          skipped.push({ offsetMinutes, reason: 'quiet_hours' });
          continue;
        }
        sendAt = later;
        moved = 'later';
      }
    }
    if (planned.some((p) => p.sendAt === sendAt)) continue;
    planned.push({ offsetMinutes, sendAt, moved });
  }
  return { planned, skipped };
}
