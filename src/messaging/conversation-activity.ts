/**
 * @module messaging/conversation-activity
 * What the staff inbox (conversations) needs from the texts messaging owns: who the
 * organisation has been texting with lately and when, and the texts of one number's thread.
 * Like `Messaging.list`, each read walks no more than a window of the newest rows of each
 * table, newest first, by primary key: there is no index by recipient (see migration 0001).
 */
import type { Db } from '../store/index.js';
import { decrypt, rowAad, type Keyring } from '../crypto/index.js';
import type { MessageKind, MessageStatus, Program } from './index.js';

/** Outbound and inbound rows each read looks at, at most (per table). */
export const CONVERSATION_SCAN_WINDOW = 5000;

/**
 * Kinds whose text staff must never read in a thread: a one-time portal code (with the
 * notice's link it would open the patient's secure message).
 */
const WITHHELD_KINDS: readonly string[] = ['verification_code'] satisfies MessageKind[];

export interface TextActivity {
  lastOutboundAt: number | null;
  lastInboundAt: number | null;
  /** When each inbound text in the window arrived (unread counts). */
  inboundTimes: number[];
  /** The number, decrypted on demand (only a new conversation needs it). */
  phone: () => string;
}

/** Per number (blind index): the latest texts each way within the window. */
export async function textActivity(
  db: Db,
  keyring: Keyring,
  orgId: string,
  window = CONVERSATION_SCAN_WINDOW,
): Promise<Map<string, TextActivity>> {
  const out = await db
    .selectFrom('messages')
    .select(['id', 'to_index', 'to_enc', 'created_at'])
    .where('org_id', '=', orgId)
    .orderBy('id', 'desc')
    .limit(window)
    .execute();
  const inbound = await db
    .selectFrom('inbound_messages')
    .select(['id', 'from_index', 'from_enc', 'received_at'])
    .where('org_id', '=', orgId)
    .orderBy('id', 'desc')
    .limit(window)
    .execute();
  const found = new Map<string, TextActivity>();
  for (const r of out) {
    const at = Number(r.created_at);
    const a = found.get(r.to_index);
    if (a) a.lastOutboundAt = Math.max(a.lastOutboundAt ?? 0, at);
    else {
      found.set(r.to_index, {
        lastOutboundAt: at,
        lastInboundAt: null,
        inboundTimes: [],
        phone: () => decrypt(keyring, rowAad(orgId, 'messages', r.id, 'to'), r.to_enc),
      });
    }
  }
  for (const r of inbound) {
    const at = Number(r.received_at);
    let a = found.get(r.from_index);
    if (!a) {
      a = {
        lastOutboundAt: null,
        lastInboundAt: null,
        inboundTimes: [],
        phone: () => decrypt(keyring, rowAad(orgId, 'inbound_messages', r.id, 'from'), r.from_enc),
      };
      found.set(r.from_index, a);
    }
    a.lastInboundAt = Math.max(a.lastInboundAt ?? 0, at);
    a.inboundTimes.push(at);
  }
  return found;
}

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

/** One number's texts both ways within the window, with their bodies (the caller audits). */
export async function textThread(
  db: Db,
  keyring: Keyring,
  orgId: string,
  index: string,
  window = CONVERSATION_SCAN_WINDOW,
): Promise<{ outbound: ThreadOutbound[]; inbound: ThreadInbound[] }> {
  const outWindow = db
    .selectFrom('messages')
    .selectAll()
    .where('org_id', '=', orgId)
    .orderBy('id', 'desc')
    .limit(window);
  const out = await db
    .selectFrom(outWindow.as('m'))
    .selectAll()
    .where('to_index', '=', index)
    .orderBy('id', 'desc')
    .execute();
  const inWindow = db
    .selectFrom('inbound_messages')
    .selectAll()
    .where('org_id', '=', orgId)
    .orderBy('id', 'desc')
    .limit(window);
  const inbound = await db
    .selectFrom(inWindow.as('i'))
    .selectAll()
    .where('from_index', '=', index)
    .orderBy('id', 'desc')
    .execute();
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
