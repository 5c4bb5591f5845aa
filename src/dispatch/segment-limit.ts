/**
 * @module dispatch/segment-limit
 * Per-sender throughput counted in SMS segments, shared by every worker process through the
 * database (`sender_usage`): a counter row per sender and second, and one per sender and day
 * for a daily cap, each raised by an atomic upsert that refuses to pass the limit
 * (`INSERT … ON CONFLICT DO UPDATE … WHERE used + n <= limit RETURNING used`, the same on
 * SQLite and PostgreSQL). To keep the database off the per-message path, a process reserves
 * a slice of a second's budget at once (a tenth of it) and spends it locally; at worst a
 * process leaves a slice unused at the end of a second, never sends over the limit.
 *
 * The daily cap is counted per calendar day in the sender's cap time zone: T-Mobile's
 * daily brand cap resets at midnight US Pacific (`America/Los_Angeles`).
 */
import { sql } from 'kysely';
import type { Db } from '../store/index.js';

export interface LimitedSender {
  orgId: string;
  id: string;
  /** Segments per second. */
  mps: number;
  dailyCap: number | null;
  capTimeZone: string | null;
}

export type Reservation =
  { ok: true } | { ok: false; waitMs: number } | { ok: false; deferUntil: number };

/**
 * 10DLC throughput presets (segments). AT&T assigns a per-campaign limit by class (TCR
 * message class: A/B 4,500 per minute … T 75 per minute); T-Mobile a daily cap per brand by
 * its vetting score (e.g. 2,000 a day for the lowest tier), reset at midnight Pacific.
 * Sources: AT&T 10DLC Code of Conduct / TCR campaign classes; T-Mobile 10DLC brand tiers.
 */
export const TEN_DLC_PRESETS = {
  'att-class-a': { segmentsPerMinute: 4500 },
  'att-class-b': { segmentsPerMinute: 4500 },
  'att-class-c': { segmentsPerMinute: 2400 },
  'att-class-d': { segmentsPerMinute: 2400 },
  'att-class-e': { segmentsPerMinute: 240 },
  'att-class-f': { segmentsPerMinute: 240 },
  'att-class-t': { segmentsPerMinute: 75 },
  'tmobile-low-tier': { dailyCap: 2000, capTimeZone: 'America/Los_Angeles' },
} as const;

/** Whole segments per second for a per-minute limit (at least one). */
export function perSecond(segmentsPerMinute: number): number {
  return Math.max(1, Math.floor(segmentsPerMinute / 60));
}

/** The calendar day (YYYY-MM-DD) of `now` in `zone`, and when the next one starts. */
export function capDay(now: number, zone: string | null): { day: string; nextStart: number } {
  const tz = zone ?? 'UTC';
  const fmt = new Intl.DateTimeFormat('en-CA', {
    timeZone: tz,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  });
  const day = fmt.format(now);
  // The next day starts within 23–25 hours (DST); find the first minute that is not `day`.
  let lo = now;
  let hi = now + 26 * 3600_000;
  while (hi - lo > 60_000) {
    const mid = Math.floor((lo + hi) / 2);
    if (fmt.format(mid) === day) lo = mid;
    else hi = mid;
  }
  // Midnight is a whole minute in (lo, hi], and hi - lo is at most a minute.
  return { day, nextStart: Math.floor(hi / 60_000) * 60_000 };
}

interface Slice {
  second: number;
  left: number;
  /** The shared counter refused this second: the rest of it waits without asking again. */
  spent: boolean;
}

export class SegmentLimiter {
  private readonly slices = new Map<string, Slice>();
  private readonly refills = new Map<string, Promise<void>>();
  private lastSweep = 0;

  constructor(private readonly db: Db) {}

  /** Reserves `segments` for one message from `sender` at `now`. */
  async reserve(sender: LimitedSender, segments: number, now = Date.now()): Promise<Reservation> {
    let second = Math.floor(now / 1000);
    for (;;) {
      let slice = this.slices.get(sender.id);
      // A reservation that waited while the clock moved on joins the newer second rather than
      // putting the older one back (which would throw away what the newer one had reserved).
      if (slice && slice.second > second) second = slice.second;
      if (!slice || slice.second !== second) {
        slice = { second, left: 0, spent: false };
        this.slices.set(sender.id, slice);
      }
      if (slice.left >= segments) break;
      if (slice.spent) {
        return { ok: false, waitMs: (second + 1) * 1000 - now + Math.floor(Math.random() * 20) };
      }
      // One refill per sender at a time: the worker reserves for a whole claimed batch at
      // once, and concurrent refills would each go to the database (one write each).
      const pending = this.refills.get(sender.id);
      if (pending) {
        await pending;
        continue;
      }
      const refill = this.refill(sender, slice, segments, second);
      this.refills.set(
        sender.id,
        refill.then(() => undefined),
      );
      let got: boolean;
      try {
        got = await refill;
      } finally {
        this.refills.delete(sender.id);
      }
      if (!got) slice.spent = true;
    }
    // Taken now, before any other wait, so concurrent reservations never share these segments.
    const slice = this.slices.get(sender.id)!;
    slice.left -= segments;
    if (sender.dailyCap !== null) {
      const { day, nextStart } = capDay(now, sender.capTimeZone);
      const ok = await this.add(
        sender,
        `d:${day}`,
        segments,
        sender.dailyCap,
        nextStart + 86_400_000,
      );
      if (!ok) {
        slice.left += segments;
        return { ok: false, deferUntil: nextStart };
      }
    }
    await this.sweep(now);
    return { ok: true };
  }

  /**
   * Takes a tenth of the sender's second from the shared counter into `slice` (or, when less
   * is left, just what this message needs). False when the second's budget is spent.
   */
  private async refill(
    sender: LimitedSender,
    slice: Slice,
    segments: number,
    second: number,
  ): Promise<boolean> {
    const expires = (second + 2) * 1000;
    const need = segments - slice.left;
    const chunk = Math.max(need, Math.ceil(sender.mps / 10));
    let got = (await this.add(sender, `s:${second}`, chunk, sender.mps, expires)) ? chunk : 0;
    if (!got && chunk > need) {
      got = (await this.add(sender, `s:${second}`, need, sender.mps, expires)) ? need : 0;
    }
    slice.left += got;
    return got > 0;
  }

  /** Adds `n` to a counter unless that passes `limit` (a fresh counter always takes it). */
  private async add(
    s: LimitedSender,
    period: string,
    n: number,
    limit: number,
    expiresAt: number,
  ): Promise<boolean> {
    const row = await this.db
      .insertInto('sender_usage')
      .values({ org_id: s.orgId, sender_id: s.id, period, used: n, expires_at: expiresAt })
      .onConflict((oc) =>
        oc
          .columns(['org_id', 'sender_id', 'period'])
          .doUpdateSet({ used: sql<number>`sender_usage.used + excluded.used` })
          .where(sql<number>`sender_usage.used + excluded.used`, '<=', limit),
      )
      .returning('used')
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Removes counters of past periods, at most once a minute per process. */
  private async sweep(now: number): Promise<void> {
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    await this.db.deleteFrom('sender_usage').where('expires_at', '<', now).execute();
  }
}
