/**
 * @module messaging/daily-counts
 * Counts of the organisation's texts per UTC day and status, for the dashboard (stats/). Only
 * texts the organisation sent (`standard`; not STOP/HELP replies or portal codes); counts
 * only, never a number or a body.
 */
import { sql } from 'kysely';
import { encodeTime } from 'ulid';
import type { Db } from '../store/index.js';

export const DAY_MS = 86_400_000;

export interface DailyCountRange {
  /** Epoch ms, inclusive; a UTC midnight. */
  from: number;
  /** Epoch ms, exclusive; a UTC midnight. */
  to: number;
  senderId?: string | undefined;
  program?: string | undefined;
}

export interface DailyStatusCount {
  /** Days since 1970-01-01 (UTC). */
  day: number;
  status: string;
  count: number;
}

export interface SenderSeen {
  id: string;
  number: string;
}

/** Message ids are `msg_<ULID>`: their time prefix bounds the scan by primary key. */
function idBound(at: number): string {
  return `msg_${encodeTime(Math.max(0, at), 10).toLowerCase()}`;
}

export async function dailyStatusCounts(
  db: Db,
  orgId: string,
  r: DailyCountRange,
): Promise<DailyStatusCount[]> {
  const day = sql<number>`created_at / ${sql.lit(DAY_MS)}`;
  let q = db
    .selectFrom('messages')
    .select([day.as('day'), 'status', (eb) => eb.fn.countAll<number>().as('n')])
    .where('org_id', '=', orgId)
    .where('id', '>=', idBound(r.from - DAY_MS))
    .where('created_at', '>=', r.from)
    .where('created_at', '<', r.to)
    .where('kind', '=', 'standard');
  if (r.senderId !== undefined) q = q.where('sender_id', '=', r.senderId);
  if (r.program !== undefined) q = q.where('program', '=', r.program);
  const rows = await q.groupBy([day, 'status']).execute();
  return rows.map((x) => ({ day: Number(x.day), status: x.status, count: Number(x.n) }));
}

/** The senders (id and the clinic's own number) the organisation's texts went from. */
export async function sendersUsed(
  db: Db,
  orgId: string,
  r: DailyCountRange,
): Promise<SenderSeen[]> {
  const rows = await db
    .selectFrom('messages')
    .select(['sender_id', 'from_number'])
    .distinct()
    .where('org_id', '=', orgId)
    .where('id', '>=', idBound(r.from - DAY_MS))
    .where('created_at', '>=', r.from)
    .where('created_at', '<', r.to)
    .where('kind', '=', 'standard')
    .execute();
  const out = new Map<string, string>();
  for (const x of rows) if (!out.has(x.sender_id)) out.set(x.sender_id, x.from_number);
  return [...out].map(([id, number]) => ({ id, number })).sort((a, b) => a.id.localeCompare(b.id));
}
