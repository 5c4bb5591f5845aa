/**
 * @module messaging/conversation-activity
 * What the staff inbox (conversations) needs from the texts messaging owns: one number's
 * texts both ways, a page at a time, newest first, through the indexes by recipient of
 * migration 0027 (`messages_to`, `inbound_messages_from`), so a thread reads only that
 * number's rows however old they are; how many texts a number sent since a time (unread); and
 * a walk of the whole history by primary key, once per organisation, to fold texts from before
 * 0027 into the conversation rows.
 */
import type { Db } from '../store/index.js';
import { decrypt, rowAad, type Keyring } from '../crypto/index.js';
import { idFloorAt } from './redact-bodies.js';
import type { MessageKind, MessageStatus, Program } from './index.js';

/**
 * Kinds whose text staff must never read in a thread: a one-time portal code (with the
 * notice's link it would open the patient's secure message).
 */
const WITHHELD_KINDS: readonly string[] = ['verification_code'] satisfies MessageKind[];

export interface ThreadOutbound {
  id: string;
  status: MessageStatus;
  program: Program;
  kind: MessageKind;
  createdAt: number;
  sentAt: number | null;
  deliveredAt: number | null;
  failureReason: string | null;
  /** Null where the text is withheld (a one-time portal code). */
  body: string | null;
}

export interface ThreadInbound {
  id: string;
  receivedAt: number;
  body: string;
}

export interface TextPageRequest {
  /** Only outbound texts with an id below this (the previous page's oldest). */
  beforeOutbound?: string | undefined;
  /** Only inbound texts with an id below this. */
  beforeInbound?: string | undefined;
  /** At most this many of each, newest first. */
  limit: number;
}

/**
 * One number's texts both ways, newest first by id (ids are time-ordered), at most `limit`
 * of each, with their bodies (the caller audits). Each walks the recipient index only.
 */
export async function textPage(
  db: Db,
  keyring: Keyring,
  orgId: string,
  index: string,
  req: TextPageRequest,
): Promise<{ outbound: ThreadOutbound[]; inbound: ThreadInbound[] }> {
  let outQ = db
    .selectFrom('messages')
    .selectAll()
    .where('org_id', '=', orgId)
    .where('to_index', '=', index);
  if (req.beforeOutbound !== undefined) outQ = outQ.where('id', '<', req.beforeOutbound);
  const out = await outQ.orderBy('id', 'desc').limit(req.limit).execute();
  let inQ = db
    .selectFrom('inbound_messages')
    .selectAll()
    .where('org_id', '=', orgId)
    .where('from_index', '=', index);
  if (req.beforeInbound !== undefined) inQ = inQ.where('id', '<', req.beforeInbound);
  const inbound = await inQ.orderBy('id', 'desc').limit(req.limit).execute();
  const num = (v: number | null) => (v === null ? null : Number(v));
  return {
    outbound: out.map((r) => ({
      id: r.id,
      status: r.status as MessageStatus,
      program: r.program as Program,
      kind: r.kind as MessageKind,
      createdAt: Number(r.created_at),
      sentAt: num(r.sent_at),
      deliveredAt: num(r.delivered_at),
      failureReason: r.failure_reason,
      body: WITHHELD_KINDS.includes(r.kind)
        ? null
        : decrypt(keyring, rowAad(orgId, 'messages', r.id, 'body'), r.body_enc),
    })),
    inbound: inbound.map((r) => ({
      id: r.id,
      receivedAt: Number(r.received_at),
      body: decrypt(keyring, rowAad(orgId, 'inbound_messages', r.id, 'body'), r.body_enc),
    })),
  };
}

/** How many texts the number sent after `since` (ms): the recipient index from that time on. */
export async function inboundCountSince(
  db: Db,
  orgId: string,
  index: string,
  since: number,
): Promise<number> {
  const r = await db
    .selectFrom('inbound_messages')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('org_id', '=', orgId)
    .where('from_index', '=', index)
    // Ids begin with their creation time: the index range starts at `since`.
    .where('id', '>=', idFloorAt('in', since))
    .where('received_at', '>', since)
    .executeTakeFirst();
  return Number(r?.n ?? 0);
}

/**
 * What the history walk of the conversation backfill meets: a text, or (from the portal) a
 * secure message or reply; its number's blind index, and when.
 */
export interface HistoryItem {
  id: string;
  index: string;
  at: number;
  /** From the patient (a text or a portal reply), or to them. */
  inbound: boolean;
  /** The number, decrypted on demand. */
  phone: () => string;
}

/**
 * A page of the organisation's texts one way, oldest first after `after` (an id), by primary
 * key: the once-per-organisation backfill of conversation rows walks it to the end.
 */
export async function textHistoryPage(
  db: Db,
  keyring: Keyring,
  orgId: string,
  direction: 'outbound' | 'inbound',
  after: string | null,
  size: number,
): Promise<HistoryItem[]> {
  if (direction === 'outbound') {
    let q = db
      .selectFrom('messages')
      .select(['id', 'to_index', 'to_enc', 'created_at'])
      .where('org_id', '=', orgId);
    if (after !== null) q = q.where('id', '>', after);
    const rows = await q.orderBy('id').limit(size).execute();
    return rows.map((r) => ({
      id: r.id,
      index: r.to_index,
      at: Number(r.created_at),
      inbound: false,
      phone: () => decrypt(keyring, rowAad(orgId, 'messages', r.id, 'to'), r.to_enc),
    }));
  }
  let q = db
    .selectFrom('inbound_messages')
    .select(['id', 'from_index', 'from_enc', 'received_at'])
    .where('org_id', '=', orgId);
  if (after !== null) q = q.where('id', '>', after);
  const rows = await q.orderBy('id').limit(size).execute();
  return rows.map((r) => ({
    id: r.id,
    index: r.from_index,
    at: Number(r.received_at),
    inbound: true,
    phone: () => decrypt(keyring, rowAad(orgId, 'inbound_messages', r.id, 'from'), r.from_enc),
  }));
}
