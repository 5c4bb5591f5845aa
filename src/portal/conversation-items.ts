/**
 * @module portal/conversation-items
 * What the staff inbox (conversations) needs from the secure messages the portal owns: which
 * numbers have secure messages and portal replies lately, and one number's secure messages
 * with their replies — the content only when the caller may read it (the same rule as
 * `GET /v1/secure-messages/:id`: providers, and API keys that read messages). Each read walks
 * no more than a window of the newest secure messages.
 */
import type { Db } from '../store/index.js';
import { decrypt, rowAad, type Keyring } from '../crypto/index.js';
import type { Program } from '../messaging/index.js';
import type { SecureStatus } from './secure-messages.js';

/** Secure messages each read looks at, at most. */
export const SECURE_SCAN_WINDOW = 5000;

export interface SecureActivity {
  lastAt: number;
  /** When each portal reply in the window arrived (unread counts). */
  replyTimes: number[];
  /** The number, decrypted on demand. */
  phone: () => string;
}

export interface SecureThreadItem {
  id: string;
  status: SecureStatus;
  program: Program;
  createdAt: number;
  firstViewedAt: number | null;
  /** The neutral notice SMS that carries the link (its text is not shown in a thread). */
  noticeMessageId: string | null;
  /** Only with content. */
  body?: string;
  replies: { id: string; createdAt: number; body?: string }[];
}

function windowOf(db: Db, orgId: string, window: number) {
  return db
    .selectFrom('secure_messages')
    .selectAll()
    .where('org_id', '=', orgId)
    .orderBy('id', 'desc')
    .limit(window);
}

async function repliesOf(db: Db, orgId: string, ids: readonly string[]) {
  if (ids.length === 0) return [];
  return db
    .selectFrom('secure_message_replies')
    .select(['id', 'secure_message_id', 'body_enc', 'created_at'])
    .where('org_id', '=', orgId)
    .where('secure_message_id', 'in', ids)
    .orderBy('id')
    .execute();
}

/** Per number (blind index): its latest secure message or reply, within the window. */
export async function secureActivity(
  db: Db,
  keyring: Keyring,
  orgId: string,
  window = SECURE_SCAN_WINDOW,
): Promise<Map<string, SecureActivity>> {
  const rows = await db
    .selectFrom(windowOf(db, orgId, window).as('s'))
    .select(['id', 'to_index', 'to_enc', 'created_at'])
    .execute();
  const found = new Map<string, SecureActivity>();
  const indexOf = new Map<string, string>();
  for (const r of rows) {
    indexOf.set(r.id, r.to_index);
    const at = Number(r.created_at);
    const a = found.get(r.to_index);
    if (a) a.lastAt = Math.max(a.lastAt, at);
    else {
      found.set(r.to_index, {
        lastAt: at,
        replyTimes: [],
        phone: () => decrypt(keyring, rowAad(orgId, 'secure_messages', r.id, 'to'), r.to_enc),
      });
    }
  }
  for (const r of await repliesOf(db, orgId, [...indexOf.keys()])) {
    const a = found.get(indexOf.get(r.secure_message_id)!)!;
    const at = Number(r.created_at);
    a.lastAt = Math.max(a.lastAt, at);
    a.replyTimes.push(at);
  }
  return found;
}

/**
 * One number's secure messages, newest first, with their replies; bodies only `withContent`
 * (the caller decides who may read them, and audits).
 */
export async function secureThread(
  db: Db,
  keyring: Keyring,
  orgId: string,
  index: string,
  withContent: boolean,
  now: number,
  window = SECURE_SCAN_WINDOW,
): Promise<SecureThreadItem[]> {
  const rows = await db
    .selectFrom(windowOf(db, orgId, window).as('s'))
    .selectAll()
    .where('to_index', '=', index)
    .orderBy('id', 'desc')
    .execute();
  const replies = await repliesOf(
    db,
    orgId,
    rows.map((r) => r.id),
  );
  return rows.map((r) => {
    let status = r.status as SecureStatus;
    // As GET /v1/secure-messages shows it: past its time, a live link is expired.
    if ((status === 'active' || status === 'read') && now >= Number(r.expires_at)) {
      status = 'expired';
    }
    const item: SecureThreadItem = {
      id: r.id,
      status,
      program: r.program as Program,
      createdAt: Number(r.created_at),
      firstViewedAt: r.first_viewed_at === null ? null : Number(r.first_viewed_at),
      noticeMessageId: r.notice_message_id,
      replies: replies
        .filter((x) => x.secure_message_id === r.id)
        .map((x) => ({
          id: x.id,
          createdAt: Number(x.created_at),
          ...(withContent
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
    if (withContent) {
      item.body = decrypt(keyring, rowAad(orgId, 'secure_messages', r.id, 'body'), r.body_enc);
    }
    return item;
  });
}
