/**
 * @module portal/conversation-items
 * What the staff inbox (conversations) needs from the secure messages the portal owns: one
 * number's secure messages and portal replies, a page at a time, newest first, through the
 * recipient index of migration 0027 (`secure_messages_to`) — the content only when the caller
 * may read it (the same rule as `GET /v1/secure-messages/:id`: providers, and API keys that
 * read messages); which texts are the notices of secure messages; how many replies a number
 * sent since a time (unread); and a walk of the whole history by primary key, once per
 * organisation, to fold what came before 0027 into the conversation rows.
 */
import type { Db } from '../store/index.js';
import { decrypt, rowAad, type Keyring } from '../crypto/index.js';
import { idFloorAt, type HistoryItem, type Program } from '../messaging/index.js';
import type { SecureStatus } from './secure-messages.js';

export interface SecureThreadItem {
  id: string;
  status: SecureStatus;
  program: Program;
  createdAt: number;
  firstViewedAt: number | null;
  /** Only with content. */
  body?: string;
}

export interface SecureReplyItem {
  id: string;
  secureMessageId: string;
  createdAt: number;
  /** Only with content. */
  body?: string;
}

export interface SecurePageRequest {
  /** Only secure messages with an id below this (the previous page's oldest). */
  beforeSecure?: string | undefined;
  /** Only replies with an id below this. */
  beforeReply?: string | undefined;
  /** At most this many of each, newest first. */
  limit: number;
  withContent: boolean;
  now: number;
}

/**
 * One number's secure messages and its portal replies, newest first by id, at most `limit`
 * of each; bodies only `withContent` (the caller decides who may read them, and audits).
 */
export async function securePage(
  db: Db,
  keyring: Keyring,
  orgId: string,
  index: string,
  req: SecurePageRequest,
): Promise<{ secure: SecureThreadItem[]; replies: SecureReplyItem[] }> {
  let sq = db
    .selectFrom('secure_messages')
    .selectAll()
    .where('org_id', '=', orgId)
    .where('to_index', '=', index);
  if (req.beforeSecure !== undefined) sq = sq.where('id', '<', req.beforeSecure);
  const rows = await sq.orderBy('id', 'desc').limit(req.limit).execute();
  let rq = db
    .selectFrom('secure_message_replies as r')
    .innerJoin('secure_messages as s', (j) =>
      j.onRef('s.org_id', '=', 'r.org_id').onRef('s.id', '=', 'r.secure_message_id'),
    )
    .select(['r.id', 'r.secure_message_id', 'r.body_enc', 'r.created_at'])
    .where('s.org_id', '=', orgId)
    .where('s.to_index', '=', index);
  if (req.beforeReply !== undefined) rq = rq.where('r.id', '<', req.beforeReply);
  const replies = await rq.orderBy('r.id', 'desc').limit(req.limit).execute();
  return {
    secure: rows.map((r) => {
      let status = r.status as SecureStatus;
      // As GET /v1/secure-messages shows it: past its time, a live link is expired.
      if ((status === 'active' || status === 'read') && req.now >= Number(r.expires_at)) {
        status = 'expired';
      }
      return {
        id: r.id,
        status,
        program: r.program as Program,
        createdAt: Number(r.created_at),
        firstViewedAt: r.first_viewed_at === null ? null : Number(r.first_viewed_at),
        ...(req.withContent
          ? { body: decrypt(keyring, rowAad(orgId, 'secure_messages', r.id, 'body'), r.body_enc) }
          : {}),
      };
    }),
    replies: replies.map((x) => ({
      id: x.id,
      secureMessageId: x.secure_message_id,
      createdAt: Number(x.created_at),
      ...(req.withContent
        ? {
            body: decrypt(
              keyring,
              rowAad(orgId, 'secure_message_replies', x.id, 'body'),
              x.body_enc,
            ),
          }
        : {}),
    })),
  };
}

/** Which of these texts are notices of secure messages (their text carries the link). */
export async function noticeIdsAmong(
  db: Db,
  orgId: string,
  messageIds: readonly string[],
): Promise<Set<string>> {
  if (messageIds.length === 0) return new Set();
  const rows = await db
    .selectFrom('secure_messages')
    .select('notice_message_id')
    .where('org_id', '=', orgId)
    .where('notice_message_id', 'in', messageIds)
    .execute();
  return new Set(rows.flatMap((r) => (r.notice_message_id ? [r.notice_message_id] : [])));
}

/** How many portal replies the number sent after `since` (ms). */
export async function replyCountSince(
  db: Db,
  orgId: string,
  index: string,
  since: number,
): Promise<number> {
  const r = await db
    .selectFrom('secure_message_replies as r')
    .innerJoin('secure_messages as s', (j) =>
      j.onRef('s.org_id', '=', 'r.org_id').onRef('s.id', '=', 'r.secure_message_id'),
    )
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('s.org_id', '=', orgId)
    .where('s.to_index', '=', index)
    .where('r.id', '>=', idFloorAt('srp', since))
    .where('r.created_at', '>', since)
    .executeTakeFirst();
  return Number(r?.n ?? 0);
}

/**
 * A page of the organisation's secure messages or portal replies, oldest first after `after`
 * (an id), by primary key (the once-per-organisation backfill of conversation rows).
 */
export async function secureHistoryPage(
  db: Db,
  keyring: Keyring,
  orgId: string,
  kind: 'secure' | 'reply',
  after: string | null,
  size: number,
): Promise<HistoryItem[]> {
  if (kind === 'secure') {
    let q = db
      .selectFrom('secure_messages')
      .select(['id', 'to_index', 'to_enc', 'created_at'])
      .where('org_id', '=', orgId);
    if (after !== null) q = q.where('id', '>', after);
    const rows = await q.orderBy('id').limit(size).execute();
    return rows.map((r) => ({
      id: r.id,
      index: r.to_index,
      at: Number(r.created_at),
      inbound: false,
      phone: () => decrypt(keyring, rowAad(orgId, 'secure_messages', r.id, 'to'), r.to_enc),
    }));
  }
  let q = db
    .selectFrom('secure_message_replies as r')
    .innerJoin('secure_messages as s', (j) =>
      j.onRef('s.org_id', '=', 'r.org_id').onRef('s.id', '=', 'r.secure_message_id'),
    )
    .select(['r.id', 's.id as secure_id', 's.to_index', 's.to_enc', 'r.created_at'])
    .where('r.org_id', '=', orgId);
  if (after !== null) q = q.where('r.id', '>', after);
  const rows = await q.orderBy('r.id').limit(size).execute();
  return rows.map((r) => ({
    id: r.id,
    index: r.to_index,
    at: Number(r.created_at),
    inbound: true,
    phone: () => decrypt(keyring, rowAad(orgId, 'secure_messages', r.secure_id, 'to'), r.to_enc),
  }));
}
