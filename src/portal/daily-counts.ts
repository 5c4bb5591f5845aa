/**
 * @module portal/daily-counts
 * Secure messages per UTC day, for the dashboard (stats/): how many texts were kept behind
 * the portal (the content guard's diversions and deliberate secure sends; the risk monitor
 * counts the same as `guard_diversions`) and how many of those the patient has opened.
 * Counts only.
 */
import { sql } from 'kysely';
import type { Db } from '../store/index.js';

const DAY_MS = 86_400_000;

export interface SecureDailyCount {
  /** Days since 1970-01-01 (UTC), of creation. */
  day: number;
  created: number;
  /** Of those created that day, how many have been opened in the portal. */
  opened: number;
}

export async function secureDailyCounts(
  db: Db,
  orgId: string,
  r: { from: number; to: number; program?: string | undefined },
): Promise<SecureDailyCount[]> {
  const day = sql<number>`created_at / ${sql.lit(DAY_MS)}`;
  let q = db
    .selectFrom('secure_messages')
    .select([
      day.as('day'),
      (eb) => eb.fn.countAll<number>().as('created'),
      sql<number>`sum(case when first_viewed_at is null then 0 else 1 end)`.as('opened'),
    ])
    .where('org_id', '=', orgId)
    .where('created_at', '>=', r.from)
    .where('created_at', '<', r.to)
    // A notice that never left (refused, canceled) was never a secure message sent.
    .where('status', 'not in', ['pending', 'canceled']);
  if (r.program !== undefined) q = q.where('program', '=', r.program);
  const rows = await q.groupBy(day).execute();
  return rows.map((x) => ({
    day: Number(x.day),
    created: Number(x.created),
    opened: Number(x.opened ?? 0),
  }));
}
