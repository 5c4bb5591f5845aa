/**
 * @module audit/query
 * Reading the audit trail for auditors (45 CFR 164.312(b), examine activity) and for an
 * accounting of disclosures (164.528): filters by actor, action, target, patient (blind
 * index) and time, newest first, with cursor pagination. Filtered pages walk a bounded window
 * of the chain, as message lists do, because the random-valued columns are not indexed.
 */
import type { Selectable } from 'kysely';
import type { Db } from '../store/index.js';
import type { AuditEventsTable } from '../store/schema.js';

/** Events one filtered page examines, at most. */
export const AUDIT_SCAN_WINDOW = 20_000;

/**
 * How far an event's time may run behind the time of the event before it in its chain (the
 * wait for the chain's lock between taking the time and appending). Time bounds are widened
 * by this much when they are turned into sequence bounds, then applied exactly.
 */
export const CLOCK_SLACK_MS = 5 * 60_000;

export interface EventFilter {
  actorType?: string | undefined;
  actorId?: string | undefined;
  action?: string | undefined;
  targetType?: string | undefined;
  targetId?: string | undefined;
  subjectIndex?: string | undefined;
  /** Events at or after this time (epoch ms). */
  from?: number | undefined;
  /** Events before this time (epoch ms). */
  to?: number | undefined;
  /** `nextCursor` of the previous page. */
  cursor?: string | undefined;
  limit: number;
}

export interface AuditEventView {
  seq: number;
  time: string;
  actor: { type: string; id: string };
  action: string;
  target: { type: string; id: string };
  details: Record<string, unknown>;
  /** Blind index of the patient's number the event concerns, or null. */
  subjectIndex: string | null;
  prevHash: string;
  hash: string;
}

export interface EventPage {
  data: AuditEventView[];
  /** Pass as `cursor` for the next (older) page; null at the end. */
  nextCursor: string | null;
}

export function toEventView(r: Selectable<AuditEventsTable>): AuditEventView {
  let details: Record<string, unknown>;
  try {
    details = JSON.parse(r.details) as Record<string, unknown>;
  } catch {
    details = {};
  }
  return {
    seq: Number(r.seq),
    time: new Date(Number(r.at)).toISOString(),
    actor: { type: r.actor_type, id: r.actor_id },
    action: r.action,
    target: { type: r.target_type, id: r.target_id },
    details,
    subjectIndex: r.subject_index ?? null,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

/**
 * The sequence numbers that can hold events with `from <= at < to`: a superset, found through
 * the `(org_id, at)` index. Null when no event can match.
 */
export async function seqBoundsForTime(
  db: Db,
  orgId: string,
  from: number | undefined,
  to: number | undefined,
): Promise<{ lo: number; hi: number } | null> {
  let lo = 1;
  let hi = Number.MAX_SAFE_INTEGER;
  if (from !== undefined) {
    // Every event at or after `from` comes after the last event well before it.
    const before = await db
      .selectFrom('audit_events')
      .select('seq')
      .where('org_id', '=', orgId)
      .where('at', '<', from - CLOCK_SLACK_MS)
      .orderBy('at', 'desc')
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (before) lo = Number(before.seq) + 1;
  }
  if (to !== undefined) {
    // Every event before `to` comes before the first event well after it.
    const after = await db
      .selectFrom('audit_events')
      .select('seq')
      .where('org_id', '=', orgId)
      .where('at', '>=', to + CLOCK_SLACK_MS)
      .orderBy('at')
      .orderBy('seq')
      .limit(1)
      .executeTakeFirst();
    if (after) hi = Number(after.seq) - 1;
  }
  return lo <= hi ? { lo, hi } : null;
}

/** Parses a cursor (a sequence number); null when it is not one. */
export function parseCursor(cursor: string): number | null {
  if (!/^[1-9]\d{0,14}$/.test(cursor)) return null;
  return Number(cursor);
}

/** One page of events, newest first. `cursor` must already be validated. */
export async function listEvents(db: Db, orgId: string, f: EventFilter): Promise<EventPage> {
  const bounds = await seqBoundsForTime(db, orgId, f.from, f.to);
  if (!bounds) return { data: [], nextCursor: null };
  let hi = bounds.hi;
  if (f.cursor !== undefined) {
    const c = parseCursor(f.cursor);
    if (c === null) return { data: [], nextCursor: null };
    hi = Math.min(hi, c - 1);
  }
  const lo = bounds.lo;
  if (hi < lo) return { data: [], nextCursor: null };
  const filtered = Boolean(
    f.actorType ??
    f.actorId ??
    f.action ??
    f.targetType ??
    f.targetId ??
    f.subjectIndex ??
    f.from ??
    f.to,
  );
  const windowQuery = () =>
    db
      .selectFrom('audit_events')
      .where('org_id', '=', orgId)
      .where('seq', '>=', lo)
      .where('seq', '<=', hi)
      .orderBy('seq', 'desc');
  let q = db
    .selectFrom(
      windowQuery()
        .selectAll()
        .limit(filtered ? AUDIT_SCAN_WINDOW : f.limit + 1)
        .as('w'),
    )
    .selectAll()
    .orderBy('seq', 'desc')
    .limit(f.limit + 1);
  if (f.actorType) q = q.where('actor_type', '=', f.actorType);
  if (f.actorId) q = q.where('actor_id', '=', f.actorId);
  if (f.action) q = q.where('action', '=', f.action);
  if (f.targetType) q = q.where('target_type', '=', f.targetType);
  if (f.targetId) q = q.where('target_id', '=', f.targetId);
  if (f.subjectIndex) q = q.where('subject_index', '=', f.subjectIndex);
  if (f.from !== undefined) q = q.where('at', '>=', f.from);
  if (f.to !== undefined) q = q.where('at', '<', f.to);
  const rows = await q.execute();
  let nextCursor: string | null = null;
  if (rows.length > f.limit) nextCursor = String(rows[f.limit - 1]!.seq);
  else if (filtered) {
    // Fewer matches than asked for: more may lie below the window, if it was full.
    const last = await windowQuery()
      .select('seq')
      .offset(AUDIT_SCAN_WINDOW - 1)
      .limit(1)
      .executeTakeFirst();
    if (last && Number(last.seq) > lo) nextCursor = String(last.seq);
  }
  return { data: rows.slice(0, f.limit).map(toEventView), nextCursor };
}
