/**
 * @module messaging/redact-bodies
 * Destroys the bodies of old outbound and inbound messages for the retention sweeper
 * (retention/): the body is overwritten with `DESTROYED_CONTENT` while the metadata — who,
 * when, status, segments — stays. This is the one place outside `Messaging` that writes the
 * message tables, so messaging keeps owning them. Idempotent: a destroyed body is never
 * matched again. Bounded: at most `limit` rows a call, so the sweeper commits in batches and
 * resumes where it left off after a crash.
 */
import { encodeTime } from 'ulid';
import type { Db } from '../store/index.js';
import { DESTROYED_CONTENT } from '../crypto/index.js';

/** States after which a message's body is no longer needed to send it. */
export const FINAL_MESSAGE_STATUSES = [
  'sent',
  'delivered',
  'read',
  'failed',
  'expired',
  'canceled',
] as const;

export interface RedactBodiesRequest {
  orgId: string;
  /** Messages created (or received) before this time lose their bodies. */
  before: number;
  /** Blind indexes of patients under legal hold: their messages are kept. */
  keepIndexes: readonly string[];
  limit: number;
  /** Count everything that would be destroyed (no limit), change nothing. */
  dryRun?: boolean;
}

/** A carrier's copy of a message whose body was destroyed: what to ask the carrier to delete. */
export interface CarrierCopy {
  kind: 'out' | 'in';
  messageId: string;
  senderId: string;
  carrierMessageId: string;
}

export interface RedactBodiesResult {
  outbound: number;
  inbound: number;
  /** The destroyed messages a carrier holds a copy of (empty on a dry run). */
  carrierCopies: CarrierCopy[];
}

/** The smallest id of a resource created at `at` (ids are `<prefix>_<ULID>`, time first). */
export function idFloorAt(prefix: string, at: number): string {
  return `${prefix}_${encodeTime(Math.max(0, at), 10).toLowerCase()}`;
}

/**
 * Overwrites up to `limit` outbound bodies older than `before` in `tx`; returns how many.
 * Ids sort by creation time, so the primary key bounds the scan.
 */
export async function redactBodiesBefore(
  tx: Db,
  req: RedactBodiesRequest,
): Promise<RedactBodiesResult> {
  const keep = req.keepIndexes;
  const outQ = tx
    .selectFrom('messages')
    .where('org_id', '=', req.orgId)
    .where('id', '<', idFloorAt('msg', req.before))
    .where('body_enc', '<>', DESTROYED_CONTENT)
    .where('status', 'in', FINAL_MESSAGE_STATUSES)
    .$if(keep.length > 0, (q) => q.where('to_index', 'not in', keep));
  const inQ = tx
    .selectFrom('inbound_messages')
    .where('org_id', '=', req.orgId)
    .where('id', '<', idFloorAt('in', req.before))
    .where('body_enc', '<>', DESTROYED_CONTENT)
    .$if(keep.length > 0, (q) => q.where('from_index', 'not in', keep));
  if (req.dryRun) {
    // Everything that is due, not one batch: nothing changes between batches of a dry run.
    const [o, i] = await Promise.all([
      outQ.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst(),
      inQ.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst(),
    ]);
    return { outbound: Number(o?.n ?? 0), inbound: Number(i?.n ?? 0), carrierCopies: [] };
  }
  const cols = ['id', 'sender_id', 'carrier_message_id'] as const;
  const outRows = await outQ.select(cols).limit(req.limit).execute();
  const inRows = await inQ.select(cols).limit(req.limit).execute();
  const out = outRows.map((r) => r.id);
  const inbound = inRows.map((r) => r.id);
  const copies = (kind: 'out' | 'in', rows: typeof outRows): CarrierCopy[] =>
    rows.flatMap((r) =>
      r.carrier_message_id
        ? [{ kind, messageId: r.id, senderId: r.sender_id, carrierMessageId: r.carrier_message_id }]
        : [],
    );
  if (out.length > 0) {
    await tx
      .updateTable('messages')
      .set({ body_enc: DESTROYED_CONTENT })
      .where('org_id', '=', req.orgId)
      .where('id', 'in', out)
      .execute();
  }
  if (inbound.length > 0) {
    await tx
      .updateTable('inbound_messages')
      .set({ body_enc: DESTROYED_CONTENT })
      .where('org_id', '=', req.orgId)
      .where('id', 'in', inbound)
      .execute();
  }
  return {
    outbound: out.length,
    inbound: inbound.length,
    carrierCopies: [...copies('out', outRows), ...copies('in', inRows)],
  };
}
