/**
 * The store suite: one set of tests, run on SQLite always and on PostgreSQL when
 * TIDINGS_TEST_PG_URL is set (each run in a fresh schema, dropped afterwards).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { sql } from 'kysely';
import { announcePgSkip, DIALECTS, openTestRuntime, type TestRuntime } from './helpers.js';
import { appendAudit, verifyAudit, SYSTEM_ACTOR } from '../src/audit/index.js';
import { claimJobs, completeJobs, rescheduleJob } from '../src/dispatch/queue.js';
import { AppError } from '../src/errors/index.js';
import { ApiKeys, AUTH_CACHE_MS } from '../src/identity/api-keys.js';
import { LIST_SCAN_WINDOW } from '../src/messaging/index.js';

announcePgSkip('store suite');

const actor = { type: 'api_key' as const, id: 'key_test' };

describe.each(DIALECTS)('store on %s', (dialect) => {
  let t: TestRuntime;
  let orgId: string;

  beforeAll(async () => {
    t = await openTestRuntime({ dialect });
    orgId = (await t.rt.orgs.create('Store Test Clinic', SYSTEM_ACTOR)).orgId;
  });
  afterAll(async () => t?.cleanup());

  it('reports migrations as applied once', async () => {
    expect(await t.rt.store.migrate()).toEqual([]);
  });

  it('keeps org_id leading every tenant table key', async () => {
    const tables = [
      'org_keys',
      'api_keys',
      'senders',
      'messages',
      'dispatch_jobs',
      'idempotency_keys',
      'inbound_messages',
      'audit_events',
      'webhook_deliveries',
    ];
    for (const table of tables) {
      let first: string | undefined;
      if (dialect === 'sqlite') {
        const r = await sql<{
          name: string;
          pk: number;
        }>`select name, pk from pragma_table_info(${table})`.execute(t.rt.store.db);
        first = r.rows.find((c) => c.pk === 1)?.name;
      } else {
        const r = await sql<{ attname: string }>`
          select a.attname from pg_index i
          join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
          where i.indrelid = ${table}::regclass and i.indisprimary`.execute(t.rt.store.db);
        first = r.rows[0]?.attname;
      }
      expect(first, table).toBe('org_id');
    }
  });

  it('stores organisation keys only wrapped', async () => {
    const rows = await t.rt.store.db
      .selectFrom('org_keys')
      .selectAll()
      .where('org_id', '=', orgId)
      .execute();
    expect(rows.map((r) => r.purpose).sort()).toEqual(['data', 'index']);
    for (const r of rows) expect(Buffer.from(r.wrapped, 'base64').length).toBe(12 + 32 + 16);
  });

  it('accepts concurrent messages in shared transactions, each durable and audited', async () => {
    const before = await verifyAudit(t.rt.store.db, orgId);
    const results = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        t.rt.messaging.accept(orgId, actor, {
          to: `+1617555${String(1000 + i).padStart(4, '0')}`,
          body: `Reminder ${i}`,
          program: 'care',
        }),
      ),
    );
    expect(new Set(results.map((r) => r.message.id)).size).toBe(300);
    const jobs = await t.rt.store.db.selectFrom('dispatch_jobs').select('message_id').execute();
    expect(jobs.length).toBeGreaterThanOrEqual(300);
    const after = await verifyAudit(t.rt.store.db, orgId);
    expect(after.ok).toBe(true);
    expect(after.events - before.events).toBe(300);
  });

  it('finds every message to a recipient however old; other filters scan a bounded window', async () => {
    const org = (await t.rt.orgs.create('Window Clinic', SYSTEM_ACTOR)).orgId;
    const target = '+16175550177';
    const send = (to: string, body: string) =>
      t.rt.messaging.accept(org, actor, { to, body, program: 'care' });
    // Oldest: two to the target; then a window's worth to others; newest: one to the target.
    const oldest = [await send(target, 'first'), await send(target, 'second')];
    const others = LIST_SCAN_WINDOW + 100;
    for (let i = 0; i < others; i += 1000) {
      await Promise.all(
        Array.from({ length: Math.min(1000, others - i) }, (_, j) =>
          send(`+1617555${String(2000 + ((i + j) % 90)).padStart(4, '0')}`, 'other'),
        ),
      );
    }
    const newest = await send(target, 'third');

    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await t.rt.messaging.list(org, { to: target, limit: 10, cursor }, actor);
      for (const m of page.data) expect(m.to).toBe(target);
      seen.push(...page.data.map((m) => m.id));
      cursor = page.nextCursor ?? undefined;
      pages++;
    } while (cursor && pages < 10);
    expect(seen).toEqual([newest.message.id, oldest[1]!.message.id, oldest[0]!.message.id]);
    expect(pages).toBe(1); // through the recipient index, not the window

    // A status filter looks at the newest window only, and says where to go on.
    const queued = await t.rt.messaging.list(org, { status: 'queued', limit: 10 }, actor);
    expect(queued.data).toHaveLength(10);
    const old = await t.rt.messaging.list(
      org,
      { program: 'care', limit: 10, cursor: oldest[1]!.message.id },
      actor,
    );
    expect(old.data.map((m) => m.id)).toEqual([oldest[0]!.message.id]);

    // Unfiltered pages stay full.
    const all = await t.rt.messaging.list(org, { limit: 7 }, actor);
    expect(all.data).toHaveLength(7);
    expect(all.nextCursor).toBe(all.data[6]!.id);
    // Leave the queue as the next tests expect it.
    await t.rt.store.db.deleteFrom('dispatch_jobs').where('org_id', '=', org).execute();
  }, 60_000);

  it('makes one message for concurrent requests with one idempotency key', async () => {
    const req = {
      to: '+16175550150',
      body: 'Same request',
      program: 'care' as const,
      idempotencyKey: 'k-1',
    };
    const results = await Promise.all(
      Array.from({ length: 20 }, () => t.rt.messaging.accept(orgId, actor, req)),
    );
    expect(new Set(results.map((r) => r.message.id)).size).toBe(1);
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    const rows = await t.rt.store.db
      .selectFrom('messages')
      .select('id')
      .where('idempotency_key', '=', 'k-1')
      .execute();
    expect(rows).toHaveLength(1);
    await expect(
      t.rt.messaging.accept(orgId, actor, { ...req, body: 'Other' }),
    ).rejects.toMatchObject({
      code: 'idempotency_key_reused',
    });
  });

  it('leases claimed jobs, re-offers expired leases, and reschedules', async () => {
    const db = t.rt.store.db;
    const d = t.rt.store.dialect;
    const now = Date.now();
    const a = await t.rt.store.transaction((tx) => claimJobs(tx, d, 'A', 50, 1_000, now));
    expect(a.length).toBe(50);
    const b = await t.rt.store.transaction((tx) => claimJobs(tx, d, 'B', 1000, 1_000, now));
    const aIds = new Set(a.map((j) => j.messageId));
    expect(b.some((j) => aIds.has(j.messageId))).toBe(false);
    // After A's lease expires its jobs are offered again, with the attempt counted.
    const c = await t.rt.store.transaction((tx) => claimJobs(tx, d, 'C', 1000, 1_000, now + 1_001));
    expect(c.filter((j) => aIds.has(j.messageId)).length).toBe(50);
    expect(c.every((j) => j.attempts >= 2)).toBe(true);
    const [first, ...rest] = c;
    await t.rt.store.transaction(async (tx) => {
      await rescheduleJob(tx, 'C', first!, now + 60_000);
      // Only the lease holder may finish a job: B's attempt changes nothing.
      await completeJobs(tx, 'B', rest);
      await completeJobs(tx, 'C', rest);
    });
    const left = await db.selectFrom('dispatch_jobs').selectAll().execute();
    expect(left.map((j) => j.message_id)).toEqual([first!.messageId]);
    const none = await t.rt.store.transaction((tx) =>
      claimJobs(tx, d, 'D', 10, 1_000, now + 2_000),
    );
    expect(none).toEqual([]);
  });

  it('never hands one job to two concurrent claimers', async () => {
    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        t.rt.messaging.accept(orgId, actor, {
          to: `+1617555${3000 + i}`,
          body: 'x',
          program: 'billing',
        }),
      ),
    );
    const d = t.rt.store.dialect;
    const claims = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        t.rt.store.transaction((tx) => claimJobs(tx, d, `w${i}`, 40, 30_000)),
      ),
    );
    const ids = claims.flat().map((j) => j.messageId);
    expect(ids.length).toBeGreaterThan(0);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('extends one unbroken audit chain from concurrent transactions', async () => {
    await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        t.rt.store.transaction((tx) =>
          appendAudit(tx, t.rt.store.dialect, [
            {
              orgId,
              actor: SYSTEM_ACTOR,
              action: 'message.read',
              targetType: 'message',
              targetId: `m${i}`,
            },
          ]),
        ),
      ),
    );
    expect((await verifyAudit(t.rt.store.db, orgId)).ok).toBe(true);
  });

  it('names the first tampered or missing audit event', async () => {
    const { orgId: victim } = await t.rt.orgs.create('Tamper Target', SYSTEM_ACTOR);
    await t.rt.store.transaction((tx) =>
      appendAudit(
        tx,
        t.rt.store.dialect,
        Array.from({ length: 5 }, (_, i) => ({
          orgId: victim,
          actor: SYSTEM_ACTOR,
          action: 'message.read' as const,
          targetType: 'message',
          targetId: `m${i}`,
        })),
      ),
    );
    const ok = await verifyAudit(t.rt.store.db, victim);
    expect(ok.ok).toBe(true);
    const db = t.rt.store.db;
    await db
      .updateTable('audit_events')
      .set({ details: '{"count":999}' })
      .where('org_id', '=', victim)
      .where('seq', '=', 4)
      .execute();
    expect((await verifyAudit(db, victim)).firstBreak).toEqual({
      orgId: victim,
      seq: 4,
      reason: 'hash_mismatch',
    });
    await db.deleteFrom('audit_events').where('org_id', '=', victim).where('seq', '=', 2).execute();
    expect((await verifyAudit(db, victim)).firstBreak).toEqual({
      orgId: victim,
      seq: 2,
      reason: 'sequence_gap',
    });
  });

  it('authenticates API keys by hash and honours revocation at once', async () => {
    const k = await t.rt.apiKeys.create(orgId, { name: 'second' }, actor);
    expect(await t.rt.apiKeys.authenticate(k.apiKey)).toMatchObject({ orgId, keyId: k.id });
    const stored = await t.rt.store.db
      .selectFrom('api_keys')
      .select('hash')
      .where('id', '=', k.id)
      .executeTakeFirstOrThrow();
    expect(stored.hash).not.toContain(k.apiKey.slice(4));
    expect(await t.rt.apiKeys.revoke(orgId, k.id, actor)).toBe(true);
    expect(await t.rt.apiKeys.authenticate(k.apiKey)).toBeNull();
    expect(await t.rt.apiKeys.revoke(orgId, k.id, actor)).toBe(false);
    expect(await t.rt.apiKeys.authenticate('tid_nonsense')).toBeNull();
  });

  it('honours a revocation made by another process within the cache time', async () => {
    const k = await t.rt.apiKeys.create(orgId, { name: 'third' }, actor);
    expect(await t.rt.apiKeys.authenticate(k.apiKey)).toMatchObject({ orgId, keyId: k.id });
    // Another process (the CLI, a second server) revokes it: this one trusts its cache only
    // until AUTH_CACHE_MS has passed.
    expect(await new ApiKeys(t.rt.store).revoke(orgId, k.id, actor)).toBe(true);
    const now = Date.now();
    const clock = vi.spyOn(Date, 'now').mockReturnValue(now + AUTH_CACHE_MS + 1);
    try {
      expect(await t.rt.apiKeys.authenticate(k.apiKey)).toBeNull();
    } finally {
      clock.mockRestore();
    }
  });

  it('refuses bad input with coded errors and writes nothing', async () => {
    const count = async () =>
      Number(
        (
          await t.rt.store.db
            .selectFrom('messages')
            .select((eb) => eb.fn.countAll().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    const before = await count();
    const bad = [
      { to: 'nope', body: 'x', program: 'care' },
      { to: '+16175550123', body: '', program: 'care' },
      { to: '+16175550123', body: 'x'.repeat(1531), program: 'care' },
      { to: '+16175550123', body: 'x', program: 'spam' },
      { to: '+16175550123', body: 'x', program: 'care', sendAt: 'tomorrow' },
      { to: '+16175550123', body: 'x', program: 'care', from: '+19999999999' },
    ];
    for (const req of bad) {
      await expect(t.rt.messaging.accept(orgId, actor, req as never)).rejects.toBeInstanceOf(
        AppError,
      );
    }
    expect(await count()).toBe(before);
  });
});
