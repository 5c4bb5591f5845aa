/**
 * The staff inbox API (issue 8), on both dialects: conversations come from texts both ways,
 * secure messages and portal replies; they are addressed by an opaque id; unread counts fall
 * when read; assignment takes a user of the organisation; secure content is in the thread
 * for a provider only (staff see that it exists); a STOP reply shows in the thread with the
 * consent it changed; every read is audited with the number's blind index.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { announcePgSkip, DIALECTS, openTestRuntime, waitFor, type TestRuntime } from './helpers.js';
import { SYSTEM_ACTOR } from '../src/audit/index.js';
import { csrfFor } from '../src/portal/tokens.js';
import type { Role } from '../src/identity/access.js';
import { Conversations, type ConversationSummary } from '../src/conversations/index.js';
import { blindIndex } from '../src/crypto/index.js';

announcePgSkip('conversations API');

const PHONE = '+16175550177';
const OTHER = '+16175550178';
const SECRET = 'Your A1C was 9.1, please increase your metformin';
const REPLY = 'Thank you, I will take 1000 mg from tomorrow';

interface Res {
  status: number;
  json: Record<string, unknown>;
}

interface Item {
  type: string;
  id: string;
  body?: string;
  kind?: string;
}

describe.each(DIALECTS)('conversations API (%s)', (dialect) => {
  let t: TestRuntime;
  let base: string;
  let orgId: string;
  let senderNumber: string;
  const people = new Map<Role, { id: string; headers: Record<string, string> }>();

  const call = async (who: Role, method: string, path: string, body?: unknown): Promise<Res> => {
    const res = await fetch(base + path, {
      method,
      headers: {
        ...people.get(who)!.headers,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, json: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
  };
  const list = async (who: Role = 'staff', query = '') => {
    const r = await call(who, 'GET', `/v1/conversations${query}`);
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    return r.json.data as {
      id: string;
      phoneMasked: string;
      unread: number;
      assignee: { id: string; email: string } | null;
    }[];
  };

  beforeAll(async () => {
    t = await openTestRuntime({ dialect, env: { PORT: '0', HOST: '127.0.0.1' } });
    orgId = (await t.rt.orgs.create('Inbox Clinic', SYSTEM_ACTOR)).orgId;
    senderNumber = (await t.rt.orgs.senders(orgId))[0]!.number;
    for (const role of ['admin', 'provider', 'staff', 'auditor'] as const) {
      const { user } = await t.rt.users.create(orgId, `${role}@inbox.example`, role, SYSTEM_ACTOR);
      // Stand-in for a verified TOTP code (the flow itself is tested in auth.test.ts).
      await t.rt.store.db
        .updateTable('users')
        .set({ mfa_enrolled_at: Date.now() })
        .where('id', '=', user.id)
        .execute();
      const u = (await t.rt.users.get(orgId, user.id))!;
      const s = await t.rt.sessions.create(u, null);
      await t.rt.sessions.markMfaVerified(orgId, s.session.id);
      people.set(role, {
        id: user.id,
        headers: { cookie: `tidings_session=${s.token}`, 'x-csrf-token': s.csrfToken },
      });
    }
    base = await t.rt.listen();

    // A text out, a reply in; a secure message with a portal reply; another number.
    await t.rt.send(orgId, SYSTEM_ACTOR, {
      to: PHONE,
      body: 'See you on Tuesday at 10:00.',
      program: 'care',
    });
    await t.rt.messaging.receiveInbound({
      from: PHONE,
      to: senderNumber,
      body: 'Can I come on Friday instead?',
    });
    const sec = await t.rt.portal.createSecureMessage(orgId, SYSTEM_ACTOR, {
      to: PHONE,
      body: SECRET,
      program: 'care',
      verify: 'dob',
      dob: '1980-03-27',
    });
    const notice = await t.rt.messaging.get(orgId, sec.notice.id, SYSTEM_ACTOR);
    const token = new URL(/https?:\/\/\S+/.exec(notice.body!)![0]).pathname.split('/')[2]!;
    const v = await t.rt.portal.verify(token, { month: '03', day: '27', year: '1980' });
    expect(v.kind).toBe('verified');
    const session = (v as { sessionToken: string }).sessionToken;
    const r = await t.rt.portal.reply(token, session, csrfFor(session), REPLY);
    expect(r.kind).toBe('replied');
    await t.rt.send(orgId, SYSTEM_ACTOR, {
      to: OTHER,
      body: 'Your visit is at 9.',
      program: 'care',
    });
  });
  afterAll(async () => t?.cleanup());

  it('has nothing to backfill for an organisation created with its conversations', async () => {
    const mark = await t.rt.store.db
      .selectFrom('conversation_backfills')
      .select('org_id')
      .where('org_id', '=', orgId)
      .executeTakeFirst();
    expect(mark?.org_id).toBe(orgId);
  });

  it('lists one conversation per number, newest first, masked, with unread counts', async () => {
    const data = await list();
    expect(data).toHaveLength(2);
    expect(data[0]!.phoneMasked).toBe('•••• 0178');
    const mine = data.find((c) => c.phoneMasked.endsWith('0177'))!;
    expect(mine.id).toMatch(/^cnv_/);
    // The SMS reply and the portal reply.
    expect(mine.unread).toBe(2);
    expect(mine.assignee).toBeNull();
    expect(JSON.stringify(data)).not.toContain('5550177');
    expect(JSON.stringify(data)).not.toContain('Friday');
    // The same ids on the next call; admins see the list, auditors do not.
    expect((await list('admin')).map((c) => c.id).sort()).toEqual(data.map((c) => c.id).sort());
    expect((await call('auditor', 'GET', '/v1/conversations')).status).toBe(403);
  });

  it('shows a provider the secure content and a staff member only that it exists', async () => {
    const id = (await list()).find((c) => c.phoneMasked.endsWith('0177'))!.id;
    const asProvider = await call('provider', 'GET', `/v1/conversations/${id}`);
    expect(asProvider.status).toBe(200);
    expect(asProvider.json.phone).toBe(PHONE);
    expect(asProvider.json.secureContent).toBe(true);
    const pItems = asProvider.json.items as Item[];
    // Oldest first (the secure message and its notice are stored together).
    expect(pItems.map((i) => i.type).slice(0, 2)).toEqual(['outbound', 'inbound']);
    expect(
      pItems
        .map((i) => i.type)
        .slice(2)
        .sort(),
    ).toEqual(['outbound', 'secure', 'secure_reply']);
    expect(pItems.at(-1)!.type).toBe('secure_reply');
    expect(pItems.find((i) => i.type === 'secure')!.body).toBe(SECRET);
    expect(pItems.find((i) => i.type === 'secure_reply')!.body).toBe(REPLY);
    expect(pItems.find((i) => i.type === 'inbound')!.body).toBe('Can I come on Friday instead?');
    // The notice carries the portal link: its text is never in a thread.
    const notice = pItems.find((i) => i.kind === 'secure_notice')!;
    expect(notice.body).toBeUndefined();

    const asStaff = await call('staff', 'GET', `/v1/conversations/${id}`);
    expect(asStaff.status).toBe(200);
    expect(asStaff.json.secureContent).toBe(false);
    const sItems = asStaff.json.items as Item[];
    expect(sItems.map((i) => i.type)).toEqual(pItems.map((i) => i.type));
    expect(sItems.find((i) => i.type === 'secure')!.body).toBeUndefined();
    expect(sItems.find((i) => i.type === 'secure_reply')!.body).toBeUndefined();
    const raw = JSON.stringify(asStaff.json);
    expect(raw).not.toContain('A1C');
    expect(raw).not.toContain('1000 mg');
    expect(raw).not.toMatch(/\/s\/[A-Za-z0-9_-]{10,}/);
    expect(sItems.find((i) => i.type === 'inbound')!.body).toBe('Can I come on Friday instead?');

    // Admins may not read bodies; an unknown id is a 404 in the envelope.
    expect((await call('admin', 'GET', `/v1/conversations/${id}`)).status).toBe(403);
    const missing = await call('staff', 'GET', '/v1/conversations/cnv_nope');
    expect(missing.status).toBe(404);
    expect((missing.json.error as { code: string }).code).toBe('not_found');

    // Audited as reads of this number's messages (and the provider's of the secure message).
    const events = await t.rt.store.db
      .selectFrom('audit_events')
      .select(['action', 'actor_id', 'subject_index', 'details'])
      .where('org_id', '=', orgId)
      .where('target_id', 'in', [id, pItems.find((i) => i.type === 'secure')!.id])
      .execute();
    const reads = events.filter((e) => e.action === 'conversation.read');
    expect(reads.map((e) => e.actor_id).sort()).toEqual(
      [people.get('provider')!.id, people.get('staff')!.id].sort(),
    );
    expect(reads.every((e) => e.subject_index !== null)).toBe(true);
    expect(
      events.some(
        (e) => e.action === 'secure_message.read' && e.actor_id === people.get('provider')!.id,
      ),
    ).toBe(true);
    expect(JSON.stringify(events)).not.toContain('5550177');
  });

  it('marks read: the unread count drops, and rises again with a new reply', async () => {
    const id = (await list()).find((c) => c.phoneMasked.endsWith('0177'))!.id;
    const r = await call('staff', 'POST', `/v1/conversations/${id}/read`);
    expect(r.status).toBe(200);
    expect((await list()).find((c) => c.id === id)!.unread).toBe(0);
    await new Promise((res) => setTimeout(res, 5));
    await t.rt.messaging.receiveInbound({ from: PHONE, to: senderNumber, body: 'Friday 3pm?' });
    expect((await list()).find((c) => c.id === id)!.unread).toBe(1);
    expect((await call('auditor', 'POST', `/v1/conversations/${id}/read`)).status).toBe(403);
    expect((await call('staff', 'POST', '/v1/conversations/cnv_nope/read')).status).toBe(404);
  });

  it('assigns to a user of the organisation, filters by assignee, and unassigns', async () => {
    const id = (await list()).find((c) => c.phoneMasked.endsWith('0177'))!.id;
    const staffId = people.get('staff')!.id;
    const r = await call('staff', 'POST', `/v1/conversations/${id}/assign`, { userId: staffId });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(r.json.assignee).toEqual({ id: staffId, email: 'staff@inbox.example' });
    expect((await list()).find((c) => c.id === id)!.assignee?.id).toBe(staffId);
    expect((await list('staff', '?assigned=me')).map((c) => c.id)).toEqual([id]);
    if (dialect === 'sqlite') {
      // The list's query for "me" walks the index of assigned conversations (0028), not
      // every conversation by activity.
      const plan = await sql<{ detail: string }>`explain query plan
        select * from conversations where org_id = ${orgId} and last_activity_at > 0
        and assignee_id = ${staffId} order by last_activity_at desc, id desc limit 51`.execute(
        t.rt.store.db,
      );
      expect(plan.rows.map((r) => r.detail).join(' | ')).toContain('conversations_assignee');
    }
    expect((await list('provider', '?assigned=me')).map((c) => c.id)).toEqual([]);
    expect((await list('staff', '?assigned=none')).map((c) => c.id)).not.toContain(id);

    // Someone else's user, or no such user: refused, nothing changed.
    const otherOrg = (await t.rt.orgs.create('Other Clinic', SYSTEM_ACTOR)).orgId;
    const stranger = await t.rt.users.create(otherOrg, 'x@other.example', 'staff', SYSTEM_ACTOR);
    const bad = await call('staff', 'POST', `/v1/conversations/${id}/assign`, {
      userId: stranger.user.id,
    });
    expect(bad.status).toBe(404);
    expect((bad.json.error as { code: string }).code).toBe('user_not_found');
    const invalid = await call('staff', 'POST', `/v1/conversations/${id}/assign`, { userId: 7 });
    expect(invalid.status).toBe(400);
    expect((await list()).find((c) => c.id === id)!.assignee?.id).toBe(staffId);

    const un = await call('admin', 'POST', `/v1/conversations/${id}/assign`, { userId: null });
    expect(un.status).toBe(200);
    expect((await list()).find((c) => c.id === id)!.assignee).toBeNull();
    const actions = await t.rt.store.db
      .selectFrom('audit_events')
      .select('action')
      .where('org_id', '=', orgId)
      .where('action', '=', 'conversation.assigned')
      .execute();
    expect(actions).toHaveLength(2);
  });

  it('shows a STOP reply in the thread with the consent it changed', async () => {
    const id = (await list()).find((c) => c.phoneMasked.endsWith('0178'))!.id;
    const before = await call('staff', 'GET', `/v1/conversations/${id}`);
    expect((before.json.consent as Record<string, string>).care).toBe('none');
    await t.rt.messaging.receiveInbound({ from: OTHER, to: senderNumber, body: 'STOP' });
    const after = await call('staff', 'GET', `/v1/conversations/${id}`);
    const items = after.json.items as Item[];
    expect(items.some((i) => i.type === 'inbound' && i.body === 'STOP')).toBe(true);
    // The keyword engine's confirmation is in the thread too.
    expect(items.some((i) => i.kind === 'consent_reply')).toBe(true);
    expect(after.json.consent).toEqual({
      care: 'opted_out',
      billing: 'opted_out',
      surveys: 'opted_out',
      marketing: 'opted_out',
    });
  });

  it('is in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${base}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    expect(doc.paths['/v1/conversations']).toHaveProperty('get');
    expect(doc.paths['/v1/conversations/{id}']).toHaveProperty('get');
    expect(doc.paths['/v1/conversations/{id}/read']).toHaveProperty('post');
    expect(doc.paths['/v1/conversations/{id}/assign']).toHaveProperty('post');
  });

  it('answers with no-store', async () => {
    const res = await fetch(`${base}/v1/conversations`, { headers: people.get('staff')!.headers });
    expect(res.headers.get('cache-control')).toBe('no-store');
  });
});

/**
 * At scale: a patient's whole history however old — behind more than 5,000 newer texts to
 * other patients — pages back to its first text, a page at a time by cursor; the list pages
 * through every conversation by last activity; and an organisation's rows rebuilt from its
 * history (the backfill of migration 0027) come out the same.
 */
describe.each(DIALECTS)('conversations at scale (%s)', (dialect) => {
  let t: TestRuntime;
  let base: string;
  let orgId: string;
  let senderNumber: string;
  let headers: Record<string, string>;
  const OLD = '+16175550166';
  const OTHERS = 300;
  const PER_OTHER = 17;

  const get = async (path: string) => {
    const res = await fetch(base + path, { headers });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };
  interface Summary {
    id: string;
    phoneMasked: string;
    lastActivityAt: string;
    unread: number;
  }
  const listAll = async (limit: number) => {
    const all: Summary[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = `?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const r = await get(`/v1/conversations${q}`);
      expect(r.status, JSON.stringify(r.json)).toBe(200);
      all.push(...(r.json.data as Summary[]));
      cursor = r.json.nextCursor as string | null;
      pages++;
    } while (cursor !== null && pages < 100);
    return { all, pages };
  };

  beforeAll(async () => {
    t = await openTestRuntime({ dialect, env: { PORT: '0', HOST: '127.0.0.1' } });
    orgId = (await t.rt.orgs.create('Busy Clinic', SYSTEM_ACTOR)).orgId;
    senderNumber = (await t.rt.orgs.senders(orgId))[0]!.number;
    const { user } = await t.rt.users.create(orgId, 'desk@busy.example', 'staff', SYSTEM_ACTOR);
    await t.rt.store.db
      .updateTable('users')
      .set({ mfa_enrolled_at: Date.now() })
      .where('id', '=', user.id)
      .execute();
    const s = await t.rt.sessions.create((await t.rt.users.get(orgId, user.id))!, null);
    await t.rt.sessions.markMfaVerified(orgId, s.session.id);
    headers = { cookie: `tidings_session=${s.token}`, 'x-csrf-token': s.csrfToken };
    base = await t.rt.listen();

    // The old thread: texts out and replies in, and a secure message (with its notice).
    for (let i = 0; i < 40; i++) {
      await t.rt.send(orgId, SYSTEM_ACTOR, { to: OLD, body: `Old note ${i}`, program: 'care' });
      if (i % 4 === 0) {
        await t.rt.messaging.receiveInbound({ from: OLD, to: senderNumber, body: `Reply ${i}` });
      }
    }
    await t.rt.portal.createSecureMessage(orgId, SYSTEM_ACTOR, {
      to: OLD,
      body: 'Your results are in',
      program: 'care',
      verify: 'dob',
      dob: '1970-01-02',
    });
    // Then more than 5,000 newer texts to other patients, in batches as the API takes them.
    const sends: Promise<unknown>[] = [];
    for (let k = 0; k < PER_OTHER; k++) {
      for (let n = 0; n < OTHERS; n++) {
        sends.push(
          t.rt.send(orgId, SYSTEM_ACTOR, {
            to: `+1617200${String(1000 + n).padStart(4, '0')}`,
            body: `Reminder ${k}`,
            program: 'care',
          }),
        );
      }
      await Promise.all(sends.splice(0));
    }
  }, 240_000);
  afterAll(async () => t?.cleanup());

  it('pages through every conversation by last activity, the old one last', async () => {
    const { all, pages } = await listAll(50);
    expect(pages).toBe(Math.ceil((OTHERS + 1) / 50));
    expect(all).toHaveLength(OTHERS + 1);
    expect(new Set(all.map((c) => c.id)).size).toBe(OTHERS + 1);
    const times = all.map((c) => Date.parse(c.lastActivityAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    const old = all.at(-1)!;
    expect(old.phoneMasked).toBe('•••• 0166');
    expect(old.unread).toBe(10);
    // A cursor that is not one the API gave out is refused in the envelope.
    const bad = await get('/v1/conversations?cursor=12.msg_nope');
    expect(bad.status).toBe(400);
    expect((bad.json.error as { code: string }).code).toBe('validation_failed');
  });

  it('shows the old thread whole, newest page first, with Show older back to its start', async () => {
    const { all } = await listAll(200);
    const id = all.find((c) => c.phoneMasked.endsWith('0166'))!.id;
    const pages: Item[][] = [];
    let before: string | null = null;
    do {
      const q: string = `?limit=25${before ? `&before=${encodeURIComponent(before)}` : ''}`;
      const r = await get(`/v1/conversations/${id}${q}`);
      expect(r.status, JSON.stringify(r.json)).toBe(200);
      const items = r.json.items as (Item & { at: string })[];
      expect(items.length).toBeLessThanOrEqual(25);
      pages.push(items);
      before = r.json.olderCursor as string | null;
      expect(before ?? '').not.toContain('5550166');
    } while (before !== null && pages.length < 20);
    // 40 texts out + the secure notice, 10 replies in, the secure message: 52 in all.
    expect(pages).toHaveLength(3);
    expect(pages[0]).toHaveLength(25);
    const whole = pages.reverse().flat() as (Item & { at: string })[];
    expect(whole).toHaveLength(52);
    expect(new Set(whole.map((i) => i.id)).size).toBe(52);
    const at = whole.map((i) => Date.parse(i.at));
    expect(at).toEqual([...at].sort((a, b) => a - b));
    expect(whole[0]!.body).toBe('Old note 0');
    expect(whole.filter((i) => i.type === 'inbound').map((i) => i.body)).toEqual(
      Array.from({ length: 10 }, (_, i) => `Reply ${i * 4}`),
    );
    expect(whole.filter((i) => i.type === 'secure')).toHaveLength(1);
    expect(whole.filter((i) => i.kind === 'secure_notice')).toHaveLength(1);
    // A staff member never sees the secure content.
    expect(JSON.stringify(whole)).not.toContain('results are in');
    // A malformed cursor is refused.
    const bad = await get(`/v1/conversations/${id}?before=${encodeURIComponent('x.y')}`);
    expect(bad.status).toBe(400);
  });

  it('rebuilds the rows from the history once (the backfill of migration 0027)', async () => {
    const before = (await listAll(200)).all;
    await t.rt.store.db.deleteFrom('conversations').where('org_id', '=', orgId).execute();
    await t.rt.store.db.deleteFrom('conversation_backfills').where('org_id', '=', orgId).execute();
    // A process that has not yet folded this organisation's history (a fresh start).
    const fresh = new Conversations(t.rt.store, t.rt.keyrings, {
      user: (o, u) => t.rt.users.get(o, u),
      consentOf: () => Promise.reject(new Error('not needed')),
    });
    const { data } = await fresh.list(orgId, SYSTEM_ACTOR, { limit: 200 });
    expect(data).toHaveLength(200);
    const rebuilt: ConversationSummary[] = [...data];
    let cursor: string | undefined;
    let next = (await fresh.list(orgId, SYSTEM_ACTOR, { limit: 200 })).nextCursor;
    while (next !== null) {
      cursor = next;
      const page = await fresh.list(orgId, SYSTEM_ACTOR, { limit: 200, cursor });
      rebuilt.push(...page.data);
      next = page.nextCursor;
    }
    expect(rebuilt).toHaveLength(OTHERS + 1);
    expect(rebuilt.map((c) => [c.phoneMasked, c.lastActivityAt, c.unread])).toEqual(
      before.map((c) => [c.phoneMasked, c.lastActivityAt, c.unread]),
    );
    const marks = await t.rt.store.db
      .selectFrom('conversation_backfills')
      .select('org_id')
      .where('org_id', '=', orgId)
      .execute();
    expect(marks).toHaveLength(1);
  });

  it('moves known conversations on without the upsert, and recreates one that went missing', async () => {
    const to = '+16172001000'; // one of the others: this process has stored its conversation
    const index = blindIndex(await t.rt.keyrings.get(orgId), to);
    const rowOf = () =>
      t.rt.store.db
        .selectFrom('conversations')
        .select(['id', 'phone_enc', 'last_activity_at'])
        .where('org_id', '=', orgId)
        .where('phone_index', '=', index)
        .executeTakeFirst();
    const before = await rowOf();
    expect(before).toBeDefined();
    await new Promise((r) => setTimeout(r, 5));
    const sent = await t.rt.send(orgId, SYSTEM_ACTOR, { to, body: 'One more', program: 'care' });
    const after = await rowOf();
    // The same row, moved on to the new text, its encrypted number untouched.
    expect(after!.id).toBe(before!.id);
    expect(after!.phone_enc).toBe(before!.phone_enc);
    expect(Number(after!.last_activity_at)).toBe(Date.parse(sent.message.createdAt));
    // Gone behind this process's back (a restore, another process): the next text makes it again.
    await t.rt.store.db.deleteFrom('conversations').where('id', '=', before!.id).execute();
    await t.rt.send(orgId, SYSTEM_ACTOR, { to, body: 'And another', program: 'care' });
    const again = await rowOf();
    expect(again).toBeDefined();
    expect(again!.id).not.toBe(before!.id);
  });

  it('folds the history in in the background (as startWorkers does), before any list', async () => {
    await t.rt.store.db.deleteFrom('conversations').where('org_id', '=', orgId).execute();
    await t.rt.store.db.deleteFrom('conversation_backfills').where('org_id', '=', orgId).execute();
    const fresh = new Conversations(t.rt.store, t.rt.keyrings, {
      user: (o, u) => t.rt.users.get(o, u),
      consentOf: () => Promise.reject(new Error('not needed')),
    });
    const errors: unknown[] = [];
    fresh.startBackfill(
      () => Promise.resolve([orgId]),
      (e) => errors.push(e),
    );
    await waitFor(async () =>
      (await t.rt.store.db
        .selectFrom('conversation_backfills')
        .select('org_id')
        .where('org_id', '=', orgId)
        .executeTakeFirst())
        ? true
        : undefined,
    );
    await fresh.stopBackfill();
    expect(errors).toEqual([]);
    const rows = await t.rt.store.db
      .selectFrom('conversations')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('org_id', '=', orgId)
      .executeTakeFirstOrThrow();
    expect(Number(rows.n)).toBe(OTHERS + 1);
  });
});
