/**
 * @module conversations
 * The staff inbox (issue 8): one conversation per patient number, addressed by an opaque id
 * (`cnv_…`) so a number never goes in a URL. The texts themselves stay where they live —
 * outbound and inbound SMS in messaging, secure messages and portal replies in the portal —
 * and are read through those modules' surfaces; this module owns only the `conversations`
 * table: the id, the assignee and when the conversation was last read (inbound texts and
 * portal replies after that count as unread). The read state is shared by the
 * organisation's staff: a front desk works one inbox.
 *
 * A conversation comes into being the first time the list sees activity for its number.
 * Secure-message content is shown only to callers that may read it (the rule of
 * `GET /v1/secure-messages/:id`); everyone else sees that a secure message or reply exists.
 * Every list and thread read is audited with the number's blind index (164.312(b)).
 */
import type { Store } from '../store/index.js';
import { appendAudit, type Actor } from '../audit/index.js';
import { decrypt, encrypt, rowAad } from '../crypto/index.js';
import { AppError } from '../errors/index.js';
import { newId } from '../ids/index.js';
import type { KeyringService } from '../orgs/index.js';
import {
  textActivity,
  textThread,
  type MessageKind,
  type MessageStatus,
  type Program,
} from '../messaging/index.js';
import { secureActivity, secureThread, type SecureStatus } from '../portal/index.js';
import type { UserView } from '../identity/index.js';

export type ConsentState = 'opted_in' | 'opted_out' | 'pending' | 'none';

export interface ConversationsOptions {
  /** A user of the organisation (assignees). */
  user: (orgId: string, id: string) => Promise<UserView | null>;
  /** The number's consent per program (the consent ledger). */
  consentOf: (orgId: string, phone: string) => Promise<Record<Program, ConsentState>>;
  now?: () => number;
}

export interface Assignee {
  id: string;
  email: string;
}

export interface ConversationSummary {
  id: string;
  /** The last four digits only: the list is a front-desk overview. */
  phoneMasked: string;
  lastActivityAt: string;
  lastInboundAt: string | null;
  /** Inbound texts and portal replies since the conversation was last read. */
  unread: number;
  assignee: Assignee | null;
  lastReadAt: string | null;
}

export type ThreadItem =
  | {
      type: 'outbound';
      id: string;
      at: string;
      status: MessageStatus;
      program: Program;
      kind: MessageKind | 'secure_notice';
      deliveredAt: string | null;
      failureReason: string | null;
      /** Absent for a one-time code and for a secure message's notice (it carries the link). */
      body?: string;
    }
  | { type: 'inbound'; id: string; at: string; body: string }
  | {
      type: 'secure';
      id: string;
      at: string;
      status: SecureStatus;
      program: Program;
      firstViewedAt: string | null;
      /** Only for callers that may read secure content. */
      body?: string;
    }
  | {
      type: 'secure_reply';
      id: string;
      at: string;
      secureMessageId: string;
      /** Only for callers that may read secure content. */
      body?: string;
    };

export interface ConversationThread extends ConversationSummary {
  /** The full number (the thread is an audited read; replies go to it). */
  phone: string;
  /** Whether secure content is included (false: secure items carry no body). */
  secureContent: boolean;
  consent: Record<Program, ConsentState>;
  /** Oldest first. */
  items: ThreadItem[];
}

export interface ListOptions {
  limit: number;
  /** `me`: assigned to the caller; `none`: unassigned; absent: all. */
  assigned?: 'me' | 'none' | undefined;
}

interface Row {
  org_id: string;
  id: string;
  phone_index: string;
  phone_enc: string;
  assignee_id: string | null;
  last_read_at: number;
  created_at: number;
  updated_at: number;
}

interface Activity {
  lastAt: number;
  lastInboundAt: number | null;
  /** Inbound texts and portal replies: when each arrived. */
  incoming: number[];
  phone: () => string;
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

function mask(phone: string): string {
  return `•••• ${phone.slice(-4)}`;
}

export class Conversations {
  private readonly now: () => number;

  constructor(
    private readonly store: Store,
    private readonly keyrings: KeyringService,
    private readonly opts: ConversationsOptions,
  ) {
    this.now = opts.now ?? Date.now;
  }

  /** Conversations with recent activity, newest first, without bodies. Audited. */
  async list(
    orgId: string,
    actor: Actor,
    opts: ListOptions,
  ): Promise<{ data: ConversationSummary[] }> {
    const activity = await this.activity(orgId);
    const rows = await this.ensureRows(orgId, activity);
    const assignees = new Map<string, Assignee | null>();
    let picked = [...rows.values()].filter((r) => activity.has(r.phone_index));
    if (opts.assigned === 'me') picked = picked.filter((r) => r.assignee_id === actor.id);
    if (opts.assigned === 'none') picked = picked.filter((r) => r.assignee_id === null);
    picked.sort(
      (a, b) =>
        activity.get(b.phone_index)!.lastAt - activity.get(a.phone_index)!.lastAt ||
        (a.id < b.id ? 1 : -1),
    );
    const page = picked.slice(0, opts.limit);
    const data: ConversationSummary[] = [];
    for (const r of page) {
      data.push(await this.summary(r, activity.get(r.phone_index)!, assignees));
    }
    await this.store.transaction((tx) =>
      appendAudit(tx, this.store.dialect, [
        {
          orgId,
          actor,
          action: 'conversation.listed',
          targetType: 'conversation',
          targetId: '*',
          details: { count: data.length },
        },
      ]),
    );
    return { data };
  }

  /**
   * One conversation with its texts both ways (bodies) and its secure messages and portal
   * replies (content only `withSecureContent`). Audited as a read of the number's messages,
   * and each secure message whose content is shown as a read of it.
   */
  async thread(
    orgId: string,
    id: string,
    actor: Actor,
    withSecureContent: boolean,
  ): Promise<ConversationThread> {
    const row = await this.row(orgId, id);
    const keyring = await this.keyrings.get(orgId);
    const phone = decrypt(keyring, rowAad(orgId, 'conversations', id, 'phone'), row.phone_enc);
    const now = this.now();
    const texts = await textThread(this.store.db, keyring, orgId, row.phone_index);
    const secure = await secureThread(
      this.store.db,
      keyring,
      orgId,
      row.phone_index,
      withSecureContent,
      now,
    );
    const notices = new Set(secure.flatMap((s) => (s.noticeMessageId ? [s.noticeMessageId] : [])));
    const items: (ThreadItem & { ms: number })[] = [];
    for (const m of texts.outbound) {
      const notice = notices.has(m.id);
      items.push({
        type: 'outbound',
        id: m.id,
        ms: m.createdAt,
        at: iso(m.createdAt)!,
        status: m.status,
        program: m.program,
        kind: notice ? 'secure_notice' : m.kind,
        deliveredAt: iso(m.deliveredAt),
        failureReason: m.failureReason,
        ...(m.body === null || notice ? {} : { body: m.body }),
      });
    }
    for (const m of texts.inbound) {
      items.push({
        type: 'inbound',
        id: m.id,
        ms: m.receivedAt,
        at: iso(m.receivedAt)!,
        body: m.body,
      });
    }
    for (const s of secure) {
      items.push({
        type: 'secure',
        id: s.id,
        ms: s.createdAt,
        at: iso(s.createdAt)!,
        status: s.status,
        program: s.program,
        firstViewedAt: iso(s.firstViewedAt),
        ...(s.body === undefined ? {} : { body: s.body }),
      });
      for (const r of s.replies) {
        items.push({
          type: 'secure_reply',
          id: r.id,
          ms: r.createdAt,
          at: iso(r.createdAt)!,
          secureMessageId: s.id,
          ...(r.body === undefined ? {} : { body: r.body }),
        });
      }
    }
    items.sort((a, b) => a.ms - b.ms || (a.id < b.id ? -1 : 1));
    const incoming = items.filter((i) => i.type === 'inbound' || i.type === 'secure_reply');
    const activity: Activity = {
      lastAt: items.at(-1)?.ms ?? Number(row.created_at),
      lastInboundAt: incoming.at(-1)?.ms ?? null,
      incoming: incoming.map((i) => i.ms),
      phone: () => phone,
    };
    const consent = await this.opts.consentOf(orgId, phone);
    await this.store.transaction((tx) =>
      appendAudit(tx, this.store.dialect, [
        {
          orgId,
          actor,
          action: 'conversation.read',
          targetType: 'conversation',
          targetId: id,
          details: {
            outbound: texts.outbound.length,
            inbound: texts.inbound.length,
            secure: secure.length,
            withSecureContent,
          },
          subjectIndex: row.phone_index,
        },
        ...(withSecureContent
          ? secure.map((s) => ({
              orgId,
              actor,
              action: 'secure_message.read' as const,
              targetType: 'secure_message',
              targetId: s.id,
              details: { withBody: true, via: 'conversation' },
              subjectIndex: row.phone_index,
            }))
          : []),
      ]),
    );
    return {
      ...(await this.summary(row, activity, new Map())),
      phone,
      secureContent: withSecureContent,
      consent,
      items: items.map(({ ms: _ms, ...item }) => item),
    };
  }

  /** Marks everything received so far read (for the whole organisation's inbox). */
  async markRead(
    orgId: string,
    id: string,
    actor: Actor,
  ): Promise<{ id: string; lastReadAt: string }> {
    const now = this.now();
    await this.store.transaction(async (tx) => {
      const r = await tx
        .updateTable('conversations')
        .set({ last_read_at: now, updated_at: now })
        .where('org_id', '=', orgId)
        .where('id', '=', id)
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) === 0) throw new AppError('not_found', 'No such conversation.');
      await appendAudit(tx, this.store.dialect, [
        {
          orgId,
          actor,
          action: 'conversation.marked_read',
          targetType: 'conversation',
          targetId: id,
        },
      ]);
    });
    return { id, lastReadAt: iso(now)! };
  }

  /** Assigns the conversation to a user of the organisation, or (null) unassigns it. */
  async assign(
    orgId: string,
    id: string,
    userId: string | null,
    actor: Actor,
  ): Promise<{ id: string; assignee: Assignee | null }> {
    let assignee: Assignee | null = null;
    if (userId !== null) {
      const u = await this.opts.user(orgId, userId);
      if (!u || u.disabled) throw new AppError('user_not_found');
      assignee = { id: u.id, email: u.email };
    }
    const now = this.now();
    await this.store.transaction(async (tx) => {
      const r = await tx
        .updateTable('conversations')
        .set({ assignee_id: userId, updated_at: now })
        .where('org_id', '=', orgId)
        .where('id', '=', id)
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) === 0) throw new AppError('not_found', 'No such conversation.');
      await appendAudit(tx, this.store.dialect, [
        {
          orgId,
          actor,
          action: 'conversation.assigned',
          targetType: 'conversation',
          targetId: id,
          details: { assignee: userId },
        },
      ]);
    });
    return { id, assignee };
  }

  // ---------------------------------------------------------------------------------------

  private async row(orgId: string, id: string): Promise<Row> {
    const r = await this.store.db
      .selectFrom('conversations')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('id', '=', id)
      .executeTakeFirst();
    if (!r) throw new AppError('not_found', 'No such conversation.');
    return r;
  }

  /** Recent texts, secure messages and portal replies, per number (blind index). */
  private async activity(orgId: string): Promise<Map<string, Activity>> {
    const keyring = await this.keyrings.get(orgId);
    const texts = await textActivity(this.store.db, keyring, orgId);
    const secure = await secureActivity(this.store.db, keyring, orgId);
    const found = new Map<string, Activity>();
    for (const [index, t] of texts) {
      found.set(index, {
        lastAt: Math.max(t.lastOutboundAt ?? 0, t.lastInboundAt ?? 0),
        lastInboundAt: t.lastInboundAt,
        incoming: [...t.inboundTimes],
        phone: t.phone,
      });
    }
    for (const [index, s] of secure) {
      const a = found.get(index);
      const lastReply = s.replyTimes.length > 0 ? Math.max(...s.replyTimes) : null;
      if (!a) {
        found.set(index, {
          lastAt: s.lastAt,
          lastInboundAt: lastReply,
          incoming: [...s.replyTimes],
          phone: s.phone,
        });
        continue;
      }
      a.lastAt = Math.max(a.lastAt, s.lastAt);
      if (lastReply !== null) a.lastInboundAt = Math.max(a.lastInboundAt ?? 0, lastReply);
      a.incoming.push(...s.replyTimes);
    }
    return found;
  }

  /** The conversation rows of `activity`'s numbers, created for numbers seen the first time. */
  private async ensureRows(
    orgId: string,
    activity: Map<string, Activity>,
  ): Promise<Map<string, Row>> {
    const existing = await this.store.db
      .selectFrom('conversations')
      .selectAll()
      .where('org_id', '=', orgId)
      .execute();
    const rows = new Map(existing.map((r) => [r.phone_index, r]));
    const missing = [...activity.keys()].filter((i) => !rows.has(i));
    if (missing.length === 0) return rows;
    const keyring = await this.keyrings.get(orgId);
    const now = this.now();
    for (const index of missing) {
      const id = newId('cnv');
      await this.store.db
        .insertInto('conversations')
        .values({
          org_id: orgId,
          id,
          phone_index: index,
          phone_enc: encrypt(
            keyring,
            rowAad(orgId, 'conversations', id, 'phone'),
            activity.get(index)!.phone(),
          ),
          assignee_id: null,
          last_read_at: 0,
          created_at: now,
          updated_at: now,
        })
        .onConflict((oc) => oc.columns(['org_id', 'phone_index']).doNothing())
        .execute();
    }
    // Another process may have created some at the same time: read back what is stored.
    const after = await this.store.db
      .selectFrom('conversations')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('phone_index', 'in', missing)
      .execute();
    for (const r of after) rows.set(r.phone_index, r);
    return rows;
  }

  private async summary(
    r: Row,
    a: Activity,
    assignees: Map<string, Assignee | null>,
  ): Promise<ConversationSummary> {
    const keyring = await this.keyrings.get(r.org_id);
    const phone = decrypt(keyring, rowAad(r.org_id, 'conversations', r.id, 'phone'), r.phone_enc);
    const readAt = Number(r.last_read_at);
    let assignee: Assignee | null = null;
    if (r.assignee_id !== null) {
      if (!assignees.has(r.assignee_id)) {
        const u = await this.opts.user(r.org_id, r.assignee_id);
        assignees.set(r.assignee_id, u ? { id: u.id, email: u.email } : null);
      }
      assignee = assignees.get(r.assignee_id) ?? null;
    }
    return {
      id: r.id,
      phoneMasked: mask(phone),
      lastActivityAt: iso(a.lastAt)!,
      lastInboundAt: iso(a.lastInboundAt),
      unread: a.incoming.filter((t) => t > readAt).length,
      assignee,
      lastReadAt: readAt > 0 ? iso(readAt) : null,
    };
  }
}
