/**
 * @module conversations
 * The staff inbox (issue 8): one conversation per patient number, addressed by an opaque id
 * (`cnv_…`) so a number never goes in a URL. The texts themselves stay where they live —
 * outbound and inbound SMS in messaging, secure messages and portal replies in the portal —
 * and are read through those modules' surfaces; this module owns only the `conversations`
 * table: the id, the assignee, when the conversation was last read (inbound texts and portal
 * replies after that count as unread) and when it last saw activity. The read state is shared
 * by the organisation's staff: a front desk works one inbox.
 *
 * A conversation comes into being with the first text either way: messaging and the portal
 * call `touch` inside the transaction that commits a batch of accepted texts, an inbound text
 * or a portal reply (a few statements per batch), which keeps `last_activity_at` current. The list
 * pages through the conversation rows by that time; a thread pages through one number's
 * history through the recipient indexes (migration 0027), newest first, however old. History
 * from before 0027 is folded into the rows once per organisation (`backfill`): in the
 * background when the background work starts, or by the first list if that comes first. An
 * organisation created since has no such history and is marked done when it is created.
 *
 * Secure-message content is shown only to callers that may read it (the rule of
 * `GET /v1/secure-messages/:id`); everyone else sees that a secure message or reply exists.
 * Every list and thread read is audited, a thread with the number's blind index (164.312(b)).
 */
import { sql } from 'kysely';
import { groupBy, type Db, type Store } from '../store/index.js';
import { appendAudit, type Actor, type AuditEntry } from '../audit/index.js';
import { decrypt, encrypt, rowAad, type Keyring } from '../crypto/index.js';
import { AppError } from '../errors/index.js';
import { newId } from '../ids/index.js';
import type { KeyringService } from '../orgs/index.js';
import {
  inboundCountSince,
  textHistoryPage,
  textPage,
  type MessageKind,
  type MessageStatus,
  type Program,
} from '../messaging/index.js';
import {
  noticeIdsAmong,
  replyCountSince,
  secureHistoryPage,
  securePage,
  type SecureStatus,
} from '../portal/index.js';
import type { SecureContentAccess, UserView } from '../identity/index.js';

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
  /** One page of the history, oldest first (the newest page unless `before` was given). */
  items: ThreadItem[];
  /** `before` for the page of older items, or null when this page reaches the beginning. */
  olderCursor: string | null;
}

export interface ListOptions {
  limit: number;
  /** `me`: assigned to the caller; `none`: unassigned; absent: all. */
  assigned?: 'me' | 'none' | undefined;
  /** `nextCursor` of the previous page. */
  cursor?: string | undefined;
}

export interface ThreadOptions {
  /** `olderCursor` of the previous page; absent: the newest page. */
  before?: string | undefined;
  /** Items per page. */
  limit: number;
}

/** Something a number did or was sent, as messaging and the portal report it. */
export interface ActivityEvent {
  orgId: string;
  /** The number's blind index. */
  index: string;
  /** The number (E.164), or a way to get it: a conversation seen first stores it encrypted. */
  phone: string | (() => string);
  at: number;
  /** An inbound text or portal reply (counts as unread until the conversation is read). */
  inbound: boolean;
  /** The organisation's keyring, fetched before the transaction (never fetched inside it). */
  keyring: Keyring;
}

/** The list cursor: last activity (ms) and id of the previous page's last row. */
export const LIST_CURSOR = /^(\d{1,16})\.(cnv_[0-9A-Za-z]{1,40})$/;
/** The thread cursor: per source the oldest id shown so far, `-` where none was shown yet. */
export const THREAD_CURSOR =
  /^(?:[a-z]{1,8}_[0-9A-Za-z]{1,40}|-)(?:\.(?:[a-z]{1,8}_[0-9A-Za-z]{1,40}|-)){3}$/;

/**
 * How many conversations `touch` remembers as existing before it starts again from none. A
 * key is an organisation id and a blind index, never a number.
 */
const KNOWN_CONVERSATIONS = 100_000;
/** At most this many UPDATEs for known conversations in one `touch`; more go to the upsert. */
const MOVE_ON_STATEMENTS = 16;

/** History rows per page when an organisation's history is folded into its rows. */
const BACKFILL_PAGE = 2000;

interface Row {
  org_id: string;
  id: string;
  phone_index: string;
  phone_enc: string;
  assignee_id: string | null;
  last_read_at: number;
  created_at: number;
  updated_at: number;
  last_activity_at: number;
  last_inbound_at: number | null;
}

type Sourced = ThreadItem & { ms: number; source: 0 | 1 | 2 | 3 };

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(Number(ms)).toISOString();
}

function mask(phone: string): string {
  return `•••• ${phone.slice(-4)}`;
}

function badCursor(): AppError {
  return new AppError('validation_failed', 'The cursor is not one this API gave out.');
}

export class Conversations {
  private readonly now: () => number;
  /** Organisations whose history before migration 0027 is in their rows (this process). */
  private readonly backfilled = new Set<string>();
  /** Conversations (org and blind index) this process has seen stored (see `touch`). */
  private readonly known = new Set<string>();
  private readonly backfilling = new Map<string, Promise<boolean>>();
  private backfillRun: Promise<void> | undefined;
  private stopping = false;

  constructor(
    private readonly store: Store,
    private readonly keyrings: KeyringService,
    private readonly opts: ConversationsOptions,
  ) {
    this.now = opts.now ?? Date.now;
  }

  /**
   * Records activity inside the caller's transaction, moving each conversation's last
   * activity (and last inbound) forward, never back. A conversation this process knows
   * exists gets one UPDATE for the whole batch (outbound activity only), without encrypting
   * its number again; the others, and any the UPDATE did not find (erased meanwhile, or
   * remembered from a transaction that rolled back), one upsert that creates the
   * conversation of a number seen for the first time. Rows are written in key order, so
   * two batches touching the same numbers lock them in the same order.
   */
  async touch(tx: Db, events: readonly ActivityEvent[]): Promise<void> {
    if (events.length === 0) return;
    const merged = new Map<
      string,
      { e: ActivityEvent; lastAt: number; lastInboundAt: number | null }
    >();
    for (const e of events) {
      const key = `${e.orgId}\u0000${e.index}`;
      const m = merged.get(key);
      const inboundAt = e.inbound ? e.at : null;
      if (!m) merged.set(key, { e, lastAt: e.at, lastInboundAt: inboundAt });
      else {
        m.lastAt = Math.max(m.lastAt, e.at);
        if (inboundAt !== null) m.lastInboundAt = Math.max(m.lastInboundAt ?? 0, inboundAt);
      }
    }
    const keys = [...merged.keys()].sort();
    const known = keys.filter((k) => this.known.has(k) && merged.get(k)!.lastInboundAt === null);
    const knownSet = new Set(known);
    const fresh = keys.filter((k) => !knownSet.has(k));
    const greatest = this.store.dialect === 'postgres' ? sql.raw('GREATEST') : sql.raw('MAX');
    if (known.length > 0 && !(await this.moveOn(tx, known, merged, greatest))) {
      // Some were not there after all: the upsert below creates or moves them all.
      for (const k of known) this.known.delete(k);
      fresh.push(...known);
      fresh.sort();
    }
    if (fresh.length === 0) return;
    const now = this.now();
    const values = [];
    for (const key of fresh) {
      const { e, lastAt, lastInboundAt } = merged.get(key)!;
      const keyring = e.keyring;
      const id = newId('cnv');
      const phone = typeof e.phone === 'string' ? e.phone : e.phone();
      values.push({
        org_id: e.orgId,
        id,
        phone_index: e.index,
        phone_enc: encrypt(keyring, rowAad(e.orgId, 'conversations', id, 'phone'), phone),
        assignee_id: null,
        last_read_at: 0,
        created_at: now,
        updated_at: now,
        last_activity_at: lastAt,
        last_inbound_at: lastInboundAt,
      });
    }
    await tx
      .insertInto('conversations')
      .values(values)
      .onConflict((oc) =>
        oc.columns(['org_id', 'phone_index']).doUpdateSet({
          last_activity_at: sql<number>`${greatest}(conversations.last_activity_at, excluded.last_activity_at)`,
          last_inbound_at: sql<number | null>`CASE
            WHEN excluded.last_inbound_at IS NULL THEN conversations.last_inbound_at
            WHEN conversations.last_inbound_at IS NULL THEN excluded.last_inbound_at
            ELSE ${greatest}(conversations.last_inbound_at, excluded.last_inbound_at) END`,
        }),
      )
      .execute();
    if (this.known.size + fresh.length > KNOWN_CONVERSATIONS) this.known.clear();
    for (const k of fresh) this.known.add(k);
  }

  /**
   * Moves the last activity of conversations known to exist forward: one UPDATE per
   * organisation and time, as an accept batch's texts share a few milliseconds. False when
   * one of them was not found, or when the times are too many for that (a walk of old
   * history): the upsert does those.
   */
  private async moveOn(
    tx: Db,
    keys: readonly string[],
    merged: ReadonlyMap<string, { e: ActivityEvent; lastAt: number }>,
    greatest: ReturnType<typeof sql.raw>,
  ): Promise<boolean> {
    const rows = keys.map((k) => merged.get(k)!);
    const groups = groupBy(rows, (r) => `${r.e.orgId}\u0000${r.lastAt}`);
    if (groups.size > MOVE_ON_STATEMENTS) return false;
    if (this.store.dialect === 'postgres' && groups.size > 1) {
      // Several statements would lock the rows in time order: lock them in key order first,
      // as the upsert does, so two transactions never wait on each other's rows.
      for (const [orgId, list] of groupBy(rows, (r) => r.e.orgId)) {
        await tx
          .selectFrom('conversations')
          .select('id')
          .where('org_id', '=', orgId)
          .where(
            'phone_index',
            'in',
            list.map((r) => r.e.index),
          )
          .orderBy('phone_index')
          .forUpdate()
          .execute();
      }
    }
    let found = 0;
    for (const list of groups.values()) {
      const { e, lastAt } = list[0]!;
      const res = await tx
        .updateTable('conversations')
        .set({ last_activity_at: sql<number>`${greatest}(last_activity_at, ${lastAt})` })
        .where('org_id', '=', e.orgId)
        .where(
          'phone_index',
          'in',
          list.map((r) => r.e.index),
        )
        .executeTakeFirst();
      found += Number(res.numUpdatedRows);
    }
    return found === keys.length;
  }

  /**
   * Folds the organisation's history into its conversation rows, once: texts both ways, secure
   * messages and portal replies stored before the rows kept their own activity (migration
   * 0027). Walks each table by primary key a page at a time; safe to run alongside live
   * traffic and in several processes (activity only moves forward).
   */
  async backfill(orgId: string): Promise<void> {
    if (this.backfilled.has(orgId)) return;
    let running = this.backfilling.get(orgId);
    if (!running) {
      running = this.runBackfill(orgId).finally(() => this.backfilling.delete(orgId));
      this.backfilling.set(orgId, running);
    }
    if (await running) this.backfilled.add(orgId);
  }

  /**
   * Backfills every organisation (`orgIds`), one after another, in the background: started
   * with the background work (`startWorkers`), so the inbox's first list normally finds it
   * done instead of doing it while a person waits. A failure is reported to `onError`; the
   * list then tries again.
   */
  startBackfill(orgIds: () => Promise<string[]>, onError: (e: unknown) => void): void {
    if (this.backfillRun) return;
    this.stopping = false;
    this.backfillRun = (async () => {
      for (const orgId of await orgIds()) {
        if (this.stopping) return;
        await this.backfill(orgId);
      }
    })().catch(onError);
  }

  /** Stops the background backfill between pages (what it folded in stays). */
  async stopBackfill(): Promise<void> {
    this.stopping = true;
    await this.backfillRun;
    this.backfillRun = undefined;
  }

  /** True once the organisation's history is folded in (false: stopped part way). */
  private async runBackfill(orgId: string): Promise<boolean> {
    const db = this.store.db;
    const done = await db
      .selectFrom('conversation_backfills')
      .select('org_id')
      .where('org_id', '=', orgId)
      .executeTakeFirst();
    if (done) return true;
    const keyring = await this.keyrings.get(orgId);
    const walks = [
      (after: string | null) =>
        textHistoryPage(db, keyring, orgId, 'outbound', after, BACKFILL_PAGE),
      (after: string | null) =>
        textHistoryPage(db, keyring, orgId, 'inbound', after, BACKFILL_PAGE),
      (after: string | null) =>
        secureHistoryPage(db, keyring, orgId, 'secure', after, BACKFILL_PAGE),
      (after: string | null) =>
        secureHistoryPage(db, keyring, orgId, 'reply', after, BACKFILL_PAGE),
    ];
    for (const walk of walks) {
      let after: string | null = null;
      for (;;) {
        const page = await walk(after);
        if (page.length === 0) break;
        await this.store.transaction((tx) =>
          this.touch(
            tx,
            page.map((r) => ({
              orgId,
              index: r.index,
              phone: r.phone,
              at: r.at,
              inbound: r.inbound,
              keyring,
            })),
          ),
        );
        after = page.at(-1)!.id;
        if (page.length < BACKFILL_PAGE) break;
        // Shutting down: not marked done, so the next start walks again (rows only move on).
        if (this.stopping) return false;
      }
    }
    await this.markBackfilled(db, orgId, this.now());
    return true;
  }

  /**
   * Records, in `db` (the caller's transaction), that the organisation's history is in its
   * conversation rows: once the backfill has walked it, or when the organisation is created
   * (its rows are kept from its first text).
   */
  async markBackfilled(db: Db, orgId: string, now: number): Promise<void> {
    await db
      .insertInto('conversation_backfills')
      .values({ org_id: orgId, done_at: now })
      .onConflict((oc) => oc.column('org_id').doNothing())
      .execute();
  }

  /** Conversations by last activity, newest first, a page at a time, without bodies. Audited. */
  async list(
    orgId: string,
    actor: Actor,
    opts: ListOptions,
  ): Promise<{ data: ConversationSummary[]; nextCursor: string | null }> {
    await this.backfill(orgId);
    let q = this.store.db
      .selectFrom('conversations')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('last_activity_at', '>', 0);
    if (opts.assigned === 'me') q = q.where('assignee_id', '=', actor.id);
    if (opts.assigned === 'none') q = q.where('assignee_id', 'is', null);
    if (opts.cursor !== undefined) {
      const m = LIST_CURSOR.exec(opts.cursor);
      if (!m) throw badCursor();
      const at = Number(m[1]);
      const id = m[2]!;
      q = q.where((eb) =>
        eb.or([
          eb('last_activity_at', '<', at),
          eb.and([eb('last_activity_at', '=', at), eb('id', '<', id)]),
        ]),
      );
    }
    const rows = await q
      .orderBy('last_activity_at', 'desc')
      .orderBy('id', 'desc')
      .limit(opts.limit + 1)
      .execute();
    const page = rows.slice(0, opts.limit);
    const last = page.at(-1);
    const nextCursor =
      rows.length > opts.limit && last ? `${Number(last.last_activity_at)}.${last.id}` : null;
    const assignees = new Map<string, Assignee | null>();
    const data: ConversationSummary[] = [];
    for (const r of page) data.push(await this.summary(r, assignees));
    await this.store.transaction((tx) =>
      appendAudit(tx, this.store.dialect, [
        {
          orgId,
          actor,
          action: 'conversation.listed',
          targetType: 'conversation',
          targetId: '*',
          details: { count: data.length, page: opts.cursor === undefined ? 'first' : 'next' },
        },
      ]),
    );
    return { data, nextCursor };
  }

  /**
   * One page of a conversation's history, newest first across texts both ways (bodies),
   * secure messages and portal replies (content only `withSecureContent`), returned oldest
   * first, with the cursor of the page before it. Reads only this number's rows, through the
   * recipient indexes. Audited as a read of the number's messages, and each secure message
   * whose content (or a reply to it) is shown as a read of it.
   */
  async thread(
    orgId: string,
    id: string,
    actor: Actor,
    access: SecureContentAccess,
    opts: ThreadOptions = { limit: 50 },
  ): Promise<ConversationThread> {
    const withSecureContent = access.content;
    const breakGlass: Record<string, string> = access.breakGlassGrantId
      ? { breakGlass: access.breakGlassGrantId }
      : {};
    let bounds: (string | undefined)[] = [undefined, undefined, undefined, undefined];
    if (opts.before !== undefined) {
      if (!THREAD_CURSOR.test(opts.before)) throw badCursor();
      bounds = opts.before.split('.').map((b) => (b === '-' ? undefined : b));
    }
    const row = await this.row(orgId, id);
    const keyring = await this.keyrings.get(orgId);
    const phone = decrypt(keyring, rowAad(orgId, 'conversations', id, 'phone'), row.phone_enc);
    const now = this.now();
    const fetch = opts.limit + 1;
    const texts = await textPage(this.store.db, keyring, orgId, row.phone_index, {
      beforeOutbound: bounds[0],
      beforeInbound: bounds[1],
      limit: fetch,
    });
    const secure = await securePage(this.store.db, keyring, orgId, row.phone_index, {
      beforeSecure: bounds[2],
      beforeReply: bounds[3],
      limit: fetch,
      withContent: withSecureContent,
      now,
    });
    const sources: Sourced[][] = [
      texts.outbound.map((m) => ({
        type: 'outbound' as const,
        source: 0 as const,
        id: m.id,
        ms: m.createdAt,
        at: iso(m.createdAt)!,
        status: m.status,
        program: m.program,
        kind: m.kind,
        deliveredAt: iso(m.deliveredAt),
        failureReason: m.failureReason,
        ...(m.body === null ? {} : { body: m.body }),
      })),
      texts.inbound.map((m) => ({
        type: 'inbound' as const,
        source: 1 as const,
        id: m.id,
        ms: m.receivedAt,
        at: iso(m.receivedAt)!,
        body: m.body,
      })),
      secure.secure.map((s) => ({
        type: 'secure' as const,
        source: 2 as const,
        id: s.id,
        ms: s.createdAt,
        at: iso(s.createdAt)!,
        status: s.status,
        program: s.program,
        firstViewedAt: iso(s.firstViewedAt),
        ...(s.body === undefined ? {} : { body: s.body }),
      })),
      secure.replies.map((r) => ({
        type: 'secure_reply' as const,
        source: 3 as const,
        id: r.id,
        ms: r.createdAt,
        at: iso(r.createdAt)!,
        secureMessageId: r.secureMessageId,
        ...(r.body === undefined ? {} : { body: r.body }),
      })),
    ];
    // Merge the four newest-first lists, taking a prefix of each, so a source's cursor (the
    // oldest id taken from it) leaves out exactly what was shown.
    const heads = [0, 0, 0, 0];
    const taken: Sourced[] = [];
    while (taken.length < opts.limit) {
      let best = -1;
      for (let s = 0; s < 4; s++) {
        const c = sources[s]![heads[s]!];
        if (!c) continue;
        const b = best < 0 ? undefined : sources[best]![heads[best]!]!;
        if (!b || c.ms > b.ms || (c.ms === b.ms && c.id > b.id)) best = s;
      }
      if (best < 0) break;
      taken.push(sources[best]![heads[best]!]!);
      heads[best]! += 1;
    }
    const more = sources.some((list, s) => list.length > heads[s]!);
    const olderCursor = more
      ? sources
          .map((list, s) => (heads[s]! > 0 ? list[heads[s]! - 1]!.id : (bounds[s] ?? '-')))
          .join('.')
      : null;
    const notices = await noticeIdsAmong(
      this.store.db,
      orgId,
      taken.filter((i) => i.type === 'outbound').map((i) => i.id),
    );
    const items: ThreadItem[] = taken.reverse().map(({ ms: _ms, source: _s, ...item }) => {
      if (item.type === 'outbound' && notices.has(item.id)) {
        // The notice carries the portal link: its text is never in a thread.
        const notice = { ...item, kind: 'secure_notice' as const };
        delete notice.body;
        return notice;
      }
      return item;
    });
    const count = (type: ThreadItem['type']) => items.filter((i) => i.type === type).length;
    const secureRead = new Set<string>();
    if (withSecureContent) {
      for (const i of items) {
        if (i.type === 'secure') secureRead.add(i.id);
        if (i.type === 'secure_reply') secureRead.add(i.secureMessageId);
      }
    }
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
            outbound: count('outbound'),
            inbound: count('inbound'),
            secure: count('secure'),
            replies: count('secure_reply'),
            withSecureContent,
            ...breakGlass,
            page: opts.before === undefined ? 'newest' : 'older',
          },
          subjectIndex: row.phone_index,
        },
        ...[...secureRead].map((sid) => ({
          orgId,
          actor,
          action: 'secure_message.read' as const,
          targetType: 'secure_message',
          targetId: sid,
          details: { withBody: true, via: 'conversation', ...breakGlass },
          subjectIndex: row.phone_index,
        })),
      ]),
    );
    return {
      ...(await this.summary(row, new Map(), phone)),
      phone,
      secureContent: withSecureContent,
      consent,
      items,
      olderCursor,
    };
  }

  /** Marks everything received so far read (for the whole organisation's inbox). */
  async markRead(
    orgId: string,
    id: string,
    actor: Actor,
  ): Promise<{ id: string; lastReadAt: string }> {
    const now = this.now();
    await this.change(
      orgId,
      id,
      { last_read_at: now, updated_at: now },
      {
        orgId,
        actor,
        action: 'conversation.marked_read',
        targetType: 'conversation',
        targetId: id,
      },
    );
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
    await this.change(
      orgId,
      id,
      { assignee_id: userId, updated_at: this.now() },
      {
        orgId,
        actor,
        action: 'conversation.assigned',
        targetType: 'conversation',
        targetId: id,
        details: { assignee: userId },
      },
    );
    return { id, assignee };
  }

  // ---------------------------------------------------------------------------------------

  /** Changes one conversation row and audits it in one transaction; 404 if there is none. */
  private async change(
    orgId: string,
    id: string,
    set: { last_read_at?: number; assignee_id?: string | null; updated_at: number },
    audit: AuditEntry,
  ): Promise<void> {
    await this.store.transaction(async (tx) => {
      const r = await tx
        .updateTable('conversations')
        .set(set)
        .where('org_id', '=', orgId)
        .where('id', '=', id)
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) === 0) throw new AppError('not_found', 'No such conversation.');
      await appendAudit(tx, this.store.dialect, [audit]);
    });
  }

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

  /** A row as the list shows it; unread counts read only this number's newer rows. */
  private async summary(
    r: Row,
    assignees: Map<string, Assignee | null>,
    knownPhone?: string,
  ): Promise<ConversationSummary> {
    const phone =
      knownPhone ??
      decrypt(
        await this.keyrings.get(r.org_id),
        rowAad(r.org_id, 'conversations', r.id, 'phone'),
        r.phone_enc,
      );
    const readAt = Number(r.last_read_at);
    const lastInbound = r.last_inbound_at === null ? null : Number(r.last_inbound_at);
    let unread = 0;
    if (lastInbound !== null && lastInbound > readAt) {
      unread =
        (await inboundCountSince(this.store.db, r.org_id, r.phone_index, readAt)) +
        (await replyCountSince(this.store.db, r.org_id, r.phone_index, readAt));
    }
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
      lastActivityAt: iso(Number(r.last_activity_at) || Number(r.created_at))!,
      lastInboundAt: iso(lastInbound),
      unread,
      assignee,
      lastReadAt: readAt > 0 ? iso(readAt) : null,
    };
  }
}
