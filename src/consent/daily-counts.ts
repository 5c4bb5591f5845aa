/**
 * @module consent/daily-counts
 * Opt-outs recorded per UTC day, for the dashboard (stats/). An opt-out from every program
 * (`opt_out_all`, STOP) counts for whichever program is asked about. Counts only.
 */
import { sql } from 'kysely';
import type { Db } from '../store/index.js';

const DAY_MS = 86_400_000;

export interface OptOutDailyCount {
  /** Days since 1970-01-01 (UTC), of recording. */
  day: number;
  count: number;
}

export async function optOutDailyCounts(
  db: Db,
  orgId: string,
  r: { from: number; to: number; program?: string | undefined },
): Promise<OptOutDailyCount[]> {
  const day = sql<number>`recorded_at / ${sql.lit(DAY_MS)}`;
  let q = db
    .selectFrom('consent_events')
    .select([day.as('day'), (eb) => eb.fn.countAll<number>().as('n')])
    .where('org_id', '=', orgId)
    .where('recorded_at', '>=', r.from)
    .where('recorded_at', '<', r.to)
    .where('kind', 'in', ['opt_out', 'opt_out_all']);
  if (r.program !== undefined) q = q.where('program', 'in', [r.program, 'all']);
  const rows = await q.groupBy(day).execute();
  return rows.map((x) => ({ day: Number(x.day), count: Number(x.n) }));
}
