/**
 * Per-sender segment limits shared through the database: two limiters (as two worker
 * processes would have) never grant more than a sender's segments per second between them,
 * and a daily cap defers to the next midnight of the cap's time zone. SQLite and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { announcePgSkip, DIALECTS, freshPgSchema, PG_URL, tempDir } from './helpers.js';
import { Store } from '../src/store/index.js';
import { SegmentLimiter, capDay, perSecond, TEN_DLC_PRESETS } from '../src/dispatch/index.js';

announcePgSkip('segment limits');

describe('capDay', () => {
  it('counts days from midnight US Pacific for a T-Mobile brand cap', () => {
    const now = Date.parse('2026-07-01T06:30:00Z'); // 23:30 on 30 June in Los Angeles (PDT)
    const { day, nextStart } = capDay(now, 'America/Los_Angeles');
    expect(day).toBe('2026-06-30');
    expect(new Date(nextStart).toISOString()).toBe('2026-07-01T07:00:00.000Z');
    expect(capDay(now, null).day).toBe('2026-07-01');
  });
  it('has the 10DLC presets of issue 6', () => {
    expect(perSecond(TEN_DLC_PRESETS['att-class-a'].segmentsPerMinute)).toBe(75);
    expect(perSecond(TEN_DLC_PRESETS['att-class-t'].segmentsPerMinute)).toBe(1);
  });
});

for (const dialect of DIALECTS) {
  describe(`segment limiter (${dialect})`, () => {
    let store: Store;
    let drop: (() => Promise<void>) | undefined;
    beforeAll(async () => {
      if (dialect === 'postgres') {
        const s = await freshPgSchema(PG_URL!);
        drop = s.drop;
        store = Store.open({ databaseUrl: PG_URL, dataDir: tempDir(), pgSchema: s.schema });
      } else {
        store = Store.open({ databaseUrl: undefined, dataDir: tempDir() });
      }
      await store.migrate();
    });
    afterAll(async () => {
      await store?.close();
      await drop?.();
    });

    it('two processes together grant at most mps segments in one second', async () => {
      const sender = { orgId: 'org_x', id: 'snd_rate', mps: 10, dailyCap: null, capTimeZone: null };
      const a = new SegmentLimiter(store.db);
      const b = new SegmentLimiter(store.db);
      const now = 1_800_000_000_000;
      let granted = 0;
      const waits: number[] = [];
      for (let i = 0; i < 12; i++) {
        for (const l of [a, b]) {
          const r = await l.reserve(sender, 1, now + i);
          if (r.ok) granted += 1;
          else if ('waitMs' in r) waits.push(r.waitMs);
        }
      }
      expect(granted).toBe(10);
      expect(waits.length).toBe(14);
      expect(Math.max(...waits)).toBeLessThanOrEqual(1020);
      // The next second has a fresh budget; a 3-segment message takes 3.
      expect(await a.reserve(sender, 3, now + 1000)).toEqual({ ok: true });
    });

    it('refills once for a whole batch of concurrent reservations', async () => {
      // A worker reserves for a claimed batch at once: one write takes a tenth of the second's
      // budget, and the other reservations wait for it instead of each writing their own.
      const sender = {
        orgId: 'org_x',
        id: 'snd_batch',
        mps: 1000,
        dailyCap: null,
        capTimeZone: null,
      };
      const l = new SegmentLimiter(store.db);
      const now = 1_800_000_100_000;
      const results = await Promise.all(
        Array.from({ length: 100 }, () => l.reserve(sender, 1, now)),
      );
      expect(results.every((r) => r.ok)).toBe(true);
      const row = await store.db
        .selectFrom('sender_usage')
        .select('used')
        .where('sender_id', '=', 'snd_batch')
        .executeTakeFirstOrThrow();
      expect(Number(row.used)).toBe(100);
      // Once the shared counter refuses, the rest of that second waits without asking again.
      const other = new SegmentLimiter(store.db);
      const spent = { ...sender, id: 'snd_spent', mps: 10 };
      await other.reserve(spent, 10, now);
      const late = await Promise.all(Array.from({ length: 5 }, () => l.reserve(spent, 1, now)));
      expect(late.every((r) => !r.ok && 'waitMs' in r)).toBe(true);
    });

    it('lets a reservation that waited past the second join the newer one', async () => {
      const sender = {
        orgId: 'org_x',
        id: 'snd_late',
        mps: 1000,
        dailyCap: null,
        capTimeZone: null,
      };
      const l = new SegmentLimiter(store.db);
      const now = 1_800_000_200_000;
      expect(await l.reserve(sender, 1, now + 1000)).toEqual({ ok: true });
      // Stamped in the second before: served from the newer second's slice, no new counter.
      expect(await l.reserve(sender, 1, now + 999)).toEqual({ ok: true });
      const rows = await store.db
        .selectFrom('sender_usage')
        .select(['period', 'used'])
        .where('sender_id', '=', 'snd_late')
        .execute();
      expect(rows.map((r) => [r.period, Number(r.used)])).toEqual([
        [`s:${(now + 1000) / 1000}`, 100],
      ]);
    });

    it('defers to the next day when the daily cap is spent', async () => {
      const sender = {
        orgId: 'org_x',
        id: 'snd_daily',
        mps: 100,
        dailyCap: 5,
        capTimeZone: 'America/Los_Angeles',
      };
      const l = new SegmentLimiter(store.db);
      const now = Date.parse('2026-07-01T06:30:00Z');
      expect(await l.reserve(sender, 2, now)).toEqual({ ok: true });
      expect(await l.reserve(sender, 3, now + 1)).toEqual({ ok: true });
      expect(await l.reserve(sender, 1, now + 2)).toEqual({
        ok: false,
        deferUntil: Date.parse('2026-07-01T07:00:00Z'),
      });
      expect(await l.reserve(sender, 1, Date.parse('2026-07-01T07:00:01Z'))).toEqual({ ok: true });
    });
  });
}
