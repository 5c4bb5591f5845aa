/**
 * The audit trail you can prove (45 CFR 164.312(b) audit controls, 164.312(c)(1) integrity),
 * on both dialects: signed checkpoints (every N events, after M minutes, on demand, from the
 * worker's timer), one signing key per organisation, verification that detects rows
 * modified, deleted, inserted, reordered or cut off in the database and in exported files
 * (JSON Lines and CSV, verified offline with the public key), audited exports, the auditor
 * API with its filters and cursor, and the accounting of disclosures for one patient — all
 * without a phone number or a body anywhere in what is stored, printed or returned.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { pino } from 'pino';
import {
  announcePgSkip,
  DIALECTS,
  openTestRuntime,
  PG_URL,
  waitFor,
  type TestRuntime,
} from './helpers.js';
import { runCli, type CliRun as Run } from './cli-runner.js';
import { Runtime } from '../src/runtime/index.js';
import { appendAudit, hashEvent, SYSTEM_ACTOR, type Actor } from '../src/audit/index.js';
import { checkpointMessage } from '../src/audit/verify.js';
import { signingKeyId, verifyMessage } from '../src/audit/signing.js';
import { blindIndex } from '../src/crypto/index.js';
import { csvRecord, parseCsvLine } from '../src/audit/csv.js';

announcePgSkip('audit');

const ACTOR: Actor = { type: 'cli', id: 'test' };
const PHONE_A = '+16175550123';
const PHONE_A_NATIONAL = '(617) 555-0123';
const PHONE_B = '+16175550188';
const DIGITS_A = '6175550123';
const DIGITS_B = '6175550188';
// Allowed by the content guard (held text becomes a secure message: test/guard-pipeline).
const BODY = 'Your appointment at Lakeside is confirmed';
const N = 5;

const CLI_VARS = [
  'NODE_ENV',
  'TIDINGS_DATA_DIR',
  'LOG_LEVEL',
  'DATABASE_URL',
  'PGOPTIONS',
  'TIDINGS_MASTER_KEY',
  'TIDINGS_MASTER_KEY_FILE',
  'TIDINGS_AUDIT_CHECKPOINT_EVENTS',
];

/** Runs the CLI's own entry point in this process with `env`, capturing its output. */
async function tidings(env: Record<string, string>, ...args: string[]): Promise<Run> {
  const saved = Object.fromEntries(CLI_VARS.map((v) => [v, process.env[v]]));
  for (const v of CLI_VARS) delete process.env[v];
  Object.assign(process.env, env);
  try {
    return await runCli(...args);
  } finally {
    for (const v of CLI_VARS) {
      if (saved[v] === undefined) delete process.env[v];
      else process.env[v] = saved[v];
    }
  }
}

interface Res {
  status: number;
  json: unknown;
  text: string;
}

interface EventView {
  seq: number;
  time: string;
  actor: { type: string; id: string };
  action: string;
  target: { type: string; id: string };
  details: Record<string, unknown>;
  subjectIndex: string | null;
  prevHash: string;
  hash: string;
}

interface Page {
  data: EventView[];
  nextCursor: string | null;
}

describe.each(DIALECTS)('audit on %s', (dialect) => {
  let t: TestRuntime;
  let base: string;
  let env: Record<string, string>;

  async function api(
    method: string,
    url: string,
    key: string | null,
    body?: unknown,
  ): Promise<Res> {
    const headers: Record<string, string> = {};
    if (key) headers.authorization = `Bearer ${key}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const r = await fetch(base + url, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await r.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: r.status, json, text };
  }

  async function head(orgId: string): Promise<number> {
    const h = await t.rt.store.db
      .selectFrom('audit_heads')
      .select('seq')
      .where('org_id', '=', orgId)
      .executeTakeFirst();
    return Number(h?.seq ?? 0);
  }

  async function lastEvent(orgId: string) {
    return t.rt.store.db
      .selectFrom('audit_events')
      .selectAll()
      .where('org_id', '=', orgId)
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirstOrThrow();
  }

  async function appendN(orgId: string, n: number, at?: number): Promise<void> {
    await t.rt.store.transaction((tx) =>
      appendAudit(
        tx,
        t.rt.store.dialect,
        Array.from({ length: n }, (_, i) => ({
          orgId,
          actor: SYSTEM_ACTOR,
          action: 'message.read' as const,
          targetType: 'message',
          targetId: `m${i}`,
          details: { i },
        })),
        at,
      ),
    );
  }

  /** A new organisation with `events` audit events in all, signed through its head. */
  async function signedOrg(name: string, events = 12): Promise<string> {
    const { orgId } = await t.rt.orgs.create(name, ACTOR);
    // Making the signing key first appends its own event.
    await t.rt.audit.publicKey(orgId);
    await appendN(orgId, events - (await head(orgId)));
    const [run] = await t.rt.audit.checkpoint(orgId);
    expect(run?.signed).toEqual([5, 10, events]);
    expect((await t.rt.audit.verify({ orgId })).ok).toBe(true);
    return orgId;
  }

  async function auditorKey(orgId: string): Promise<string> {
    return (await t.rt.apiKeys.create(orgId, { name: 'auditor', scopes: ['audit:read'] }, ACTOR))
      .apiKey;
  }

  beforeAll(async () => {
    t = await openTestRuntime({
      dialect,
      env: { PORT: '0', TIDINGS_AUDIT_CHECKPOINT_EVENTS: String(N) },
    });
    base = await t.rt.listen();
    env = {
      NODE_ENV: 'test',
      TIDINGS_DATA_DIR: t.dir,
      LOG_LEVEL: 'silent',
      TIDINGS_AUDIT_CHECKPOINT_EVENTS: String(N),
    };
    if (dialect === 'postgres') {
      const s = await sql<{ s: string }>`select current_schema() as s`.execute(t.rt.store.db);
      env.DATABASE_URL = PG_URL!;
      env.PGOPTIONS = `-c search_path=${s.rows[0]!.s}`;
    }
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  describe('signed checkpoints', () => {
    it('signs every N events, and the head once an event has waited M minutes', async () => {
      const { orgId } = await t.rt.orgs.create('Checkpoint Clinic', ACTOR);
      await appendN(orgId, 9);
      const first = (await t.rt.audit.runCheckpoints()).find((r) => r.orgId === orgId);
      // The run made the organisation's key (one more event) before reading the head.
      const h = await head(orgId);
      expect(h).toBeGreaterThanOrEqual(10);
      const multiples = Array.from({ length: Math.floor(h / N) }, (_, i) => (i + 1) * N);
      expect(first?.signed).toEqual(multiples);
      // Nothing is due until an unsigned event is old enough.
      expect((await t.rt.audit.runCheckpoints()).find((r) => r.orgId === orgId)).toBeUndefined();
      await appendN(orgId, 1);
      expect((await t.rt.audit.runCheckpoints()).find((r) => r.orgId === orgId)).toBeUndefined();
      const later = Date.now() + 10 * 60_000 + 1;
      const timed = (await t.rt.audit.runCheckpoints(later)).find((r) => r.orgId === orgId);
      expect(timed?.signed).toEqual([await head(orgId)]);

      // Each checkpoint is (org, seq, head hash, time, key id, signature) and verifies with
      // the public key the organisation hands out.
      const pem = (await t.rt.audit.publicKey(orgId)).publicKey;
      const pub = createPublicKey(pem);
      const cps = await t.rt.store.db
        .selectFrom('audit_checkpoints')
        .selectAll()
        .where('org_id', '=', orgId)
        .orderBy('seq')
        .execute();
      expect(cps.map((c) => Number(c.seq))).toEqual([...multiples, await head(orgId)]);
      for (const c of cps) {
        const ev = await t.rt.store.db
          .selectFrom('audit_events')
          .select('hash')
          .where('org_id', '=', orgId)
          .where('seq', '=', c.seq)
          .executeTakeFirstOrThrow();
        expect(c.head_hash).toBe(ev.hash);
        expect(c.key_id).toBe(signingKeyId(pub));
        const msg = checkpointMessage({
          orgId,
          seq: Number(c.seq),
          at: Number(c.at),
          headHash: c.head_hash,
          keyId: c.key_id,
        });
        expect(verifyMessage(pub, msg, c.signature)).toBe(true);
      }
      expect(await t.rt.audit.verify({ orgId })).toMatchObject({
        ok: true,
        checkpoints: cps.length,
      });
    });

    it('signs on demand: tidings audit checkpoint', async () => {
      const { orgId } = await t.rt.orgs.create('On Demand Clinic', ACTOR);
      const r = await tidings(env, 'audit', 'checkpoint', '--org', orgId);
      expect(r.code, r.stderr).toBe(0);
      const h = await head(orgId);
      expect(r.stdout).toContain(`${orgId}: signed through sequence ${h}`);
      const again = await tidings(env, 'audit', 'checkpoint', '--org', orgId, '--json');
      expect(JSON.parse(again.stdout)).toEqual([]);
      const missing = await tidings(env, 'audit', 'checkpoint', '--org', 'org_nope');
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain('not_found');
    });

    it('runs in the worker role on an unref’d timer', async () => {
      const w = await openTestRuntime({
        dialect,
        env: { TIDINGS_AUDIT_CHECKPOINT_EVENTS: '3' },
        runtime: { auditCheckIntervalMs: 25 },
      });
      try {
        const { orgId } = await w.rt.orgs.create('Worker Clinic', ACTOR);
        w.rt.startWorkers();
        const timer = (w.rt.audit as unknown as { checkpointer: { timer?: NodeJS.Timeout } })
          .checkpointer.timer;
        expect(timer?.hasRef()).toBe(false);
        const rows = await waitFor(async () => {
          const r = await w.rt.store.db
            .selectFrom('audit_checkpoints')
            .select('seq')
            .where('org_id', '=', orgId)
            .execute();
          return r.length > 0 ? r : undefined;
        });
        expect(Number(rows[0]!.seq) % 3).toBe(0);
      } finally {
        await w.cleanup();
      }
    });

    it('makes one signing key per organisation, once, wrapped by the master key, and audits it', async () => {
      const { orgId } = await t.rt.orgs.create('Key Clinic', ACTOR);
      const schema =
        dialect === 'postgres'
          ? (await sql<{ s: string }>`select current_schema() as s`.execute(t.rt.store.db)).rows[0]!
              .s
          : undefined;
      const other = await Runtime.open(t.config, {
        log: pino({ level: 'silent' }),
        defaultMetrics: false,
        ...(schema ? { pgSchema: schema } : {}),
      });
      try {
        // Two processes need the first key at once on PostgreSQL. (Two SQLite connections in
        // one thread would block each other; separate processes serialise on the file lock.)
        const [a, b] =
          dialect === 'postgres'
            ? await Promise.all([t.rt.audit.publicKey(orgId), other.audit.publicKey(orgId)])
            : [await t.rt.audit.publicKey(orgId), await other.audit.publicKey(orgId)];
        expect(a.keyId).toBe(b.keyId);
        expect(a.publicKey).toMatch(/^-----BEGIN PUBLIC KEY-----/);
      } finally {
        await other.close();
      }
      const rows = await t.rt.store.db
        .selectFrom('audit_signing_keys')
        .selectAll()
        .where('org_id', '=', orgId)
        .execute();
      expect(rows).toHaveLength(1);
      expect(rows[0]!.private_key_wrapped).not.toMatch(/PRIVATE KEY/);
      expect(Buffer.from(rows[0]!.private_key_wrapped, 'base64').length).toBe(12 + 48 + 16);
      const made = await t.rt.store.db
        .selectFrom('audit_events')
        .select('target_id')
        .where('org_id', '=', orgId)
        .where('action', '=', 'audit.signing_key_created')
        .execute();
      expect(made.map((m) => m.target_id)).toEqual([rows[0]!.key_id]);

      // The CLI and the API hand out the same key.
      const cli = await tidings(env, 'audit', 'public-key', '--org', orgId);
      expect(cli.code, cli.stderr).toBe(0);
      expect(cli.stdout.trim()).toBe(rows[0]!.public_key.trim());
      const res = await api('GET', '/v1/audit/public-key', await auditorKey(orgId));
      expect(res.status, res.text).toBe(200);
      expect(res.json).toMatchObject({ orgId, keyId: rows[0]!.key_id, algorithm: 'Ed25519' });
      expect((res.json as { publicKey: string }).publicKey.trim()).toBe(cli.stdout.trim());
    });
  });

  describe('verification detects tampering in the database', () => {
    it('yet passes a chain that grows while it is being verified', async () => {
      const { orgId } = await t.rt.orgs.create('Busy Clinic', ACTOR);
      await appendN(orgId, 2500);
      await t.rt.audit.checkpoint(orgId);
      let writing = true;
      const writer = (async () => {
        while (writing) {
          await appendN(orgId, 3);
          await t.rt.audit.checkpoint(orgId);
        }
      })();
      try {
        for (let i = 0; i < 5; i++) {
          const r = await t.rt.audit.verify({ orgId });
          expect(r.firstBreak).toBeUndefined();
          expect(r.events).toBeGreaterThanOrEqual(2500);
        }
      } finally {
        writing = false;
        await writer;
      }
    });

    const db = () => t.rt.store.db;

    async function rehashFrom(orgId: string, seq: number): Promise<void> {
      // What an attacker without the signing key can do: recompute every hash after a change.
      const rows = await db()
        .selectFrom('audit_events')
        .selectAll()
        .where('org_id', '=', orgId)
        .where('seq', '>=', seq)
        .orderBy('seq')
        .execute();
      let prev = (
        await db()
          .selectFrom('audit_events')
          .select('hash')
          .where('org_id', '=', orgId)
          .where('seq', '=', seq - 1)
          .executeTakeFirstOrThrow()
      ).hash;
      for (const r of rows) {
        const hash = hashEvent({ ...r, seq: Number(r.seq), at: Number(r.at), prev_hash: prev });
        await db()
          .updateTable('audit_events')
          .set({ prev_hash: prev, hash })
          .where('org_id', '=', orgId)
          .where('seq', '=', r.seq)
          .execute();
        prev = hash;
      }
      await db()
        .updateTable('audit_heads')
        .set({ hash: prev })
        .where('org_id', '=', orgId)
        .execute();
    }

    async function breakOf(orgId: string, opts: { fromSeq?: number } = {}) {
      const r = await t.rt.audit.verify({ orgId, ...opts });
      expect(r.ok).toBe(false);
      return r.firstBreak;
    }

    it('a modified row', async () => {
      const orgId = await signedOrg('Modified Clinic');
      await db()
        .updateTable('audit_events')
        .set({ details: '{"i":99}' })
        .where('org_id', '=', orgId)
        .where('seq', '=', 7)
        .execute();
      expect(await breakOf(orgId)).toEqual({ orgId, seq: 7, reason: 'hash_mismatch' });
      // --from skips what lies before it.
      expect((await t.rt.audit.verify({ orgId, fromSeq: 8 })).ok).toBe(true);
      expect(await breakOf(orgId, { fromSeq: 6 })).toMatchObject({ seq: 7 });
      // The CLI exits non-zero naming the sequence number.
      const r = await tidings(env, 'audit', 'verify', '--org', orgId);
      expect(r.code).toBe(1);
      expect(r.stdout).toContain(`BROKEN at sequence 7 of ${orgId} (hash_mismatch)`);
      const from = await tidings(env, 'audit', 'verify', '--org', orgId, '--from', '8', '--json');
      expect(from.code, from.stdout).toBe(0);
      expect(JSON.parse(from.stdout)).toMatchObject({ ok: true });
    });

    it('a modified row whose chain was re-hashed: the signed checkpoint disagrees', async () => {
      const orgId = await signedOrg('Rehashed Clinic');
      await db()
        .updateTable('audit_events')
        .set({ action: 'message.listed' })
        .where('org_id', '=', orgId)
        .where('seq', '=', 7)
        .execute();
      await rehashFrom(orgId, 7);
      expect(await breakOf(orgId)).toEqual({
        orgId,
        seq: 10,
        reason: 'checkpoint_mismatch',
        sinceSeq: 6,
      });
    });

    it('a modified subject (added, changed or removed) breaks the hash', async () => {
      const orgId = await signedOrg('Subject Clinic');
      await db()
        .updateTable('audit_events')
        .set({ subject_index: 'f'.repeat(64) })
        .where('org_id', '=', orgId)
        .where('seq', '=', 8)
        .execute();
      expect(await breakOf(orgId)).toEqual({ orgId, seq: 8, reason: 'hash_mismatch' });
    });

    it('a deleted row', async () => {
      const orgId = await signedOrg('Deleted Clinic');
      await db()
        .deleteFrom('audit_events')
        .where('org_id', '=', orgId)
        .where('seq', '=', 4)
        .execute();
      expect(await breakOf(orgId)).toEqual({ orgId, seq: 4, reason: 'sequence_gap' });
    });

    it('an inserted row (in the middle, or after the head)', async () => {
      const orgId = await signedOrg('Inserted Clinic');
      // Make room at 6 and insert a well-formed event there, as a forger would.
      await db()
        .updateTable('audit_events')
        .set({ seq: sql<number>`-seq - 1` })
        .where('org_id', '=', orgId)
        .where('seq', '>=', 6)
        .execute();
      await db()
        .updateTable('audit_events')
        .set({ seq: sql<number>`-seq` })
        .where('org_id', '=', orgId)
        .where('seq', '<', 0)
        .execute();
      const five = await db()
        .selectFrom('audit_events')
        .selectAll()
        .where('org_id', '=', orgId)
        .where('seq', '=', 5)
        .executeTakeFirstOrThrow();
      const forged = { ...five, seq: 6, target_id: 'forged', prev_hash: five.hash };
      await db()
        .insertInto('audit_events')
        .values({ ...forged, hash: hashEvent(forged) })
        .execute();
      await db().updateTable('audit_heads').set({ seq: 13 }).where('org_id', '=', orgId).execute();
      expect(await breakOf(orgId)).toEqual({ orgId, seq: 7, reason: 'prev_hash_mismatch' });

      const other = await signedOrg('Appended Clinic');
      const last = await lastEvent(other);
      const extra = { ...last, seq: Number(last.seq) + 1, prev_hash: last.hash };
      await db()
        .insertInto('audit_events')
        .values({ ...extra, hash: hashEvent(extra) })
        .execute();
      expect(await breakOf(other)).toEqual({ orgId: other, seq: 13, reason: 'head_mismatch' });
      const r = await tidings(env, 'audit', 'verify', '--org', other);
      expect(r.code).toBe(1);
      expect(r.stdout).toContain('BROKEN at sequence 13');
    });

    it('reordered rows', async () => {
      const orgId = await signedOrg('Reordered Clinic');
      const swap = async (from: number, to: number) =>
        db()
          .updateTable('audit_events')
          .set({ seq: to })
          .where('org_id', '=', orgId)
          .where('seq', '=', from)
          .execute();
      await swap(3, -1);
      await swap(8, 3);
      await swap(-1, 8);
      expect(await breakOf(orgId)).toEqual({ orgId, seq: 3, reason: 'prev_hash_mismatch' });
    });

    it('a chain cut short after a signed checkpoint, even with its head rewound', async () => {
      const orgId = await signedOrg('Truncated Clinic');
      await db()
        .deleteFrom('audit_events')
        .where('org_id', '=', orgId)
        .where('seq', '>', 8)
        .execute();
      const eight = await lastEvent(orgId);
      await db()
        .updateTable('audit_heads')
        .set({ seq: 8, hash: eight.hash })
        .where('org_id', '=', orgId)
        .execute();
      expect(await breakOf(orgId)).toEqual({ orgId, seq: 9, reason: 'truncated' });
      const r = await tidings(env, 'audit', 'verify', '--org', orgId, '--from', '20');
      expect(r.code).toBe(1);
      expect(r.stdout).toContain(`BROKEN at sequence 9 of ${orgId} (truncated)`);
      // And no new checkpoint is signed over it.
      const [run] = await t.rt.audit.checkpoint(orgId);
      expect(run).toMatchObject({ signed: [], failure: { seq: 9, reason: 'truncated' } });
    });

    it('a forged checkpoint signature, or one made with a key the master key does not open', async () => {
      const orgId = await signedOrg('Forged Clinic');
      const cp = await db()
        .selectFrom('audit_checkpoints')
        .selectAll()
        .where('org_id', '=', orgId)
        .where('seq', '=', 10)
        .executeTakeFirstOrThrow();
      const bytes = Buffer.from(cp.signature, 'base64');
      bytes[0] = bytes[0]! ^ 1;
      await db()
        .updateTable('audit_checkpoints')
        .set({ signature: bytes.toString('base64') })
        .where('org_id', '=', orgId)
        .where('seq', '=', 10)
        .execute();
      expect(await breakOf(orgId)).toEqual({
        orgId,
        seq: 10,
        reason: 'checkpoint_signature_invalid',
      });

      // A forger's own key pair, its public half written into the key table: not trusted.
      const pair = generateKeyPairSync('ed25519');
      const kid = signingKeyId(pair.publicKey);
      await db()
        .insertInto('audit_signing_keys')
        .values({
          org_id: orgId,
          key_id: kid,
          algorithm: 'Ed25519',
          public_key: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
          private_key_wrapped: Buffer.alloc(76).toString('base64'),
          master_key_id: 'forged',
          created_at: Date.now(),
          retired_at: null,
        })
        .execute();
      const msg = checkpointMessage({
        orgId,
        seq: 10,
        at: Number(cp.at),
        headHash: cp.head_hash,
        keyId: kid,
      });
      await db()
        .updateTable('audit_checkpoints')
        .set({
          key_id: kid,
          signature: sign(null, Buffer.from(JSON.stringify(msg)), pair.privateKey).toString(
            'base64',
          ),
        })
        .where('org_id', '=', orgId)
        .where('seq', '=', 10)
        .execute();
      expect(await breakOf(orgId)).toEqual({ orgId, seq: 10, reason: 'checkpoint_key_unknown' });
    });

    it('checks signatures with a pinned public key when given one', async () => {
      const orgId = await signedOrg('Pinned Clinic');
      const dir = fs.mkdtempSync(path.join(t.dir, 'pin-'));
      const good = path.join(dir, 'good.pem');
      const bad = path.join(dir, 'bad.pem');
      fs.writeFileSync(good, (await t.rt.audit.publicKey(orgId)).publicKey);
      fs.writeFileSync(
        bad,
        generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }),
      );
      const ok = await tidings(env, 'audit', 'verify', '--org', orgId, '--public-key', good);
      expect(ok.code, ok.stdout + ok.stderr).toBe(0);
      expect(ok.stdout).toContain('3 signed checkpoint(s) verified');
      const wrong = await tidings(env, 'audit', 'verify', '--org', orgId, '--public-key', bad);
      expect(wrong.code).toBe(1);
      expect(wrong.stdout).toContain('(checkpoint_key_unknown)');
      const rsa = path.join(dir, 'rsa.pem');
      fs.writeFileSync(
        rsa,
        generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({
          type: 'spki',
          format: 'pem',
        }),
      );
      const notEd = await tidings(env, 'audit', 'verify', '--org', orgId, '--public-key', rsa);
      expect(notEd.code).toBe(1);
      expect(notEd.stderr).toContain('invalid_public_key');
    });

    it('still verifies chains written before events had subjects', async () => {
      // Events without a subject keep the original encoding: the organisation's first events
      // (and every event of older installations) verify unchanged, next to events with one.
      const { orgId } = await t.rt.orgs.create('Legacy Clinic', ACTOR);
      await t.rt.messaging.accept(orgId, ACTOR, { to: PHONE_A, body: BODY, program: 'care' });
      const rows = await db()
        .selectFrom('audit_events')
        .select(['subject_index'])
        .where('org_id', '=', orgId)
        .execute();
      expect(rows.some((r) => r.subject_index === null)).toBe(true);
      expect(rows.some((r) => r.subject_index !== null)).toBe(true);
      expect((await t.rt.audit.verify({ orgId })).ok).toBe(true);
    });
  });

  describe('exports', () => {
    let orgId: string;
    let dir: string;
    let pem: string;

    beforeAll(async () => {
      orgId = await signedOrg('Export Clinic');
      // Events about a patient, so the export carries blind indexes.
      await t.rt.messaging.accept(orgId, ACTOR, { to: PHONE_A, body: BODY, program: 'care' });
      await t.rt.messaging.receiveInbound({
        from: PHONE_B,
        to: (await t.rt.orgs.senders(orgId))[0]!.number,
        body: BODY,
      });
      dir = fs.mkdtempSync(path.join(t.dir, 'export-'));
      pem = path.join(dir, 'org.pem');
      const r = await tidings(env, 'audit', 'public-key', '--org', orgId);
      fs.writeFileSync(pem, r.stdout);
    });

    async function exportTo(format: 'jsonl' | 'csv', ...extra: string[]): Promise<string> {
      const file = path.join(dir, `audit-${Math.random().toString(36).slice(2)}.${format}`);
      // An existing, world-readable file is made owner-only when the export is written into it.
      if (format === 'csv') fs.writeFileSync(file, '', { mode: 0o644 });
      const r = await tidings(
        env,
        'audit',
        'export',
        '--org',
        orgId,
        '--format',
        format,
        '--out',
        file,
        ...extra,
      );
      expect(r.code, r.stderr).toBe(0);
      expect((fs.statSync(file).mode & 0o777).toString(8)).toBe('600');
      return file;
    }

    async function verifyFile(file: string, key = pem): Promise<Run> {
      return tidings(env, 'audit', 'verify', '--file', file, '--public-key', key, '--json');
    }

    /** Writes `lines` (the export's records) to a new file in the same format. */
    function rewrite(file: string, edit: (lines: string[]) => string[]): string {
      const csv = file.endsWith('.csv');
      const text = fs.readFileSync(file, 'utf8');
      const nl = csv ? '\r\n' : '\n';
      const lines = text.split(nl).filter((l) => l.length > 0);
      const out = `${file}.tampered`;
      fs.writeFileSync(out, `${edit(lines).join(nl)}${nl}`);
      return out;
    }

    function eventLineIndex(lines: string[], seq: number): number {
      const i = lines.findIndex((l) =>
        l.startsWith('{')
          ? (JSON.parse(l) as { record: string; seq: number }).record === 'event' &&
            (JSON.parse(l) as { seq: number }).seq === seq
          : l.startsWith(`event,${orgId},${seq},`),
      );
      expect(i, `event ${seq}`).toBeGreaterThan(0);
      return i;
    }

    async function expectBreak(file: string, seq: number, reason: string): Promise<void> {
      const r = await verifyFile(file);
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect((JSON.parse(r.stdout) as { firstBreak: unknown }).firstBreak).toMatchObject({
        orgId,
        seq,
        reason,
      });
    }

    it('is audited, holds no PHI, and verifies offline with the public key', async () => {
      const before = await head(orgId);
      const file = await exportTo('jsonl');
      const ev = await lastEvent(orgId);
      expect(Number(ev.seq)).toBe(before + 1);
      expect(ev.action).toBe('audit.exported');
      expect(ev.actor_type).toBe('cli');
      expect(JSON.parse(ev.details)).toEqual({
        events: before,
        checkpoints: 3,
        firstSeq: 1,
        lastSeq: before,
        format: 'jsonl',
      });
      const text = fs.readFileSync(file, 'utf8');
      expect(text).not.toContain(BODY);
      expect(text.replace(/\D/g, '')).not.toContain(DIGITS_A);
      expect(text.replace(/\D/g, '')).not.toContain(DIGITS_B);
      expect(text).toContain('"record":"seal"');
      const r = await verifyFile(file);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({
        ok: true,
        orgId,
        events: before,
        checkpoints: 3,
        firstSeq: 1,
        lastSeq: before,
        sealed: true,
        format: 'jsonl',
      });
      // Without the public key there is nothing to trust the file against.
      const usage = await tidings(env, 'audit', 'verify', '--file', file);
      expect(usage.code).toBe(2);
    });

    it('exports a range by sequence number or by time, each verifiable on its own', async () => {
      const part = await exportTo('csv', '--from', '4', '--to', '11');
      const r = await verifyFile(part);
      expect(r.code, r.stdout).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ firstSeq: 4, lastSeq: 11, checkpoints: 2 });

      const { orgId: timed } = await t.rt.orgs.create('Timed Clinic', ACTOR);
      const t0 = Date.parse('2024-03-01T00:00:00Z');
      await appendN(timed, 3, t0);
      await appendN(timed, 4, t0 + 3_600_000);
      await appendN(timed, 2, t0 + 7_200_000);
      const h0 = await head(timed);
      const file = path.join(dir, 'timed.jsonl');
      const out = await tidings(
        env,
        'audit',
        'export',
        '--org',
        timed,
        '--from',
        '2024-03-01T00:30:00Z',
        '--to',
        '2024-03-01T01:30:00Z',
        '--out',
        file,
      );
      expect(out.code, out.stderr).toBe(0);
      const events = fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l.includes('"record":"event"'))
        .map((l) => JSON.parse(l) as { seq: number; at: number });
      expect(events.map((e) => e.at)).toEqual(Array(4).fill(t0 + 3_600_000));
      expect(events.map((e) => e.seq)).toEqual([h0 - 5, h0 - 4, h0 - 3, h0 - 2]);
      fs.writeFileSync(path.join(dir, 'timed.pem'), (await t.rt.audit.publicKey(timed)).publicKey);
      const v = await verifyFile(file, path.join(dir, 'timed.pem'));
      expect(v.code, v.stdout).toBe(0);

      const bad = await tidings(env, 'audit', 'export', '--org', timed, '--from', 'yesterday');
      expect(bad.code).not.toBe(0);
      const backwards = await tidings(
        env,
        'audit',
        'export',
        '--org',
        timed,
        '--from',
        '9',
        '--to',
        '3',
      );
      expect(backwards.code).toBe(1);
      expect(backwards.stderr).toContain('validation_failed');
    });

    for (const format of ['jsonl', 'csv'] as const) {
      describe(`detects tampering in a ${format} export`, () => {
        let file: string;
        let last: number;
        beforeAll(async () => {
          file = await exportTo(format);
          const r = await verifyFile(file);
          expect(r.code, r.stdout).toBe(0);
          last = (JSON.parse(r.stdout) as { lastSeq: number }).lastSeq;
        });

        it('a modified record', async () => {
          await expectBreak(
            rewrite(file, (ls) => {
              const i = eventLineIndex(ls, 7);
              ls[i] = ls[i]!.replace('message.read', 'message.listed');
              return ls;
            }),
            7,
            'hash_mismatch',
          );
        });

        it('a modified readable time', async () => {
          await expectBreak(
            rewrite(file, (ls) => {
              const i = eventLineIndex(ls, 6);
              ls[i] = ls[i]!.replace(
                /(\d{4})-(\d\d)-(\d\d)T/,
                (_m, y: string, mo: string, d: string) => `${Number(y) - 1}-${mo}-${d}T`,
              );
              return ls;
            }),
            6,
            'time_mismatch',
          );
        });

        it('a deleted record', async () => {
          await expectBreak(
            rewrite(file, (ls) => ls.filter((_, i) => i !== eventLineIndex(ls, 4))),
            4,
            'sequence_gap',
          );
        });

        it('an inserted record', async () => {
          await expectBreak(
            rewrite(file, (ls) => {
              const i = eventLineIndex(ls, 8);
              return [...ls.slice(0, i + 1), ls[i]!, ...ls.slice(i + 1)];
            }),
            9,
            'sequence_gap',
          );
        });

        it('reordered records', async () => {
          await expectBreak(
            rewrite(file, (ls) => {
              const a = eventLineIndex(ls, 3);
              const b = eventLineIndex(ls, 9);
              [ls[a], ls[b]] = [ls[b]!, ls[a]!];
              return ls;
            }),
            3,
            'sequence_gap',
          );
        });

        it('records cut off before a signed checkpoint', async () => {
          await expectBreak(
            rewrite(file, (ls) => ls.slice(0, eventLineIndex(ls, 9))),
            9,
            'truncated',
          );
        });

        it('records cut off after the last checkpoint (the seal disagrees)', async () => {
          await expectBreak(
            rewrite(file, (ls) => [...ls.slice(0, eventLineIndex(ls, last)), ls[ls.length - 1]!]),
            last,
            'seal_mismatch',
          );
        });

        it('a missing seal', async () => {
          await expectBreak(
            rewrite(file, (ls) => ls.slice(0, -1)),
            last + 1,
            'seal_missing',
          );
        });

        it('a last record re-hashed after the last checkpoint (the seal disagrees)', async () => {
          await expectBreak(
            rewrite(file, (ls) => {
              const i = eventLineIndex(ls, last);
              if (format === 'jsonl') {
                const e = JSON.parse(ls[i]!) as Record<string, string | number | null>;
                e.targetId = 'forged';
                e.hash = hashEvent({
                  org_id: String(e.orgId),
                  seq: Number(e.seq),
                  at: Number(e.at),
                  actor_type: String(e.actorType),
                  actor_id: String(e.actorId),
                  action: String(e.action),
                  target_type: String(e.targetType),
                  target_id: 'forged',
                  details: String(e.details),
                  prev_hash: String(e.prevHash),
                  subject_index: e.subjectIndex === null ? null : String(e.subjectIndex),
                });
                ls[i] = JSON.stringify(e);
              } else {
                const f = parseCsvLine(ls[i]!)!;
                // record,org_id,seq,at,time,actor_type,actor_id,action,target_type,target_id,
                // details,subject_index,prev_hash,hash,…
                f[9] = 'forged';
                f[13] = hashEvent({
                  org_id: f[1]!,
                  seq: Number(f[2]),
                  at: Number(f[3]),
                  actor_type: f[5]!,
                  actor_id: f[6]!,
                  action: f[7]!,
                  target_type: f[8]!,
                  target_id: f[9],
                  details: f[10]!,
                  subject_index: f[11] === '' ? null : f[11],
                  prev_hash: f[12]!,
                });
                ls[i] = csvRecord(f).trimEnd();
              }
              return ls;
            }),
            last,
            'seal_mismatch',
          );
        });

        it('a different public key', async () => {
          const other = path.join(dir, 'other.pem');
          fs.writeFileSync(
            other,
            generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }),
          );
          const r = await verifyFile(file, other);
          expect(r.code).toBe(1);
          expect(
            (JSON.parse(r.stdout) as { firstBreak: { reason: string } }).firstBreak.reason,
          ).toBe('checkpoint_key_unknown');
        });
      });
    }

    it('refuses a file that is not an export', async () => {
      const junk = path.join(dir, 'junk.txt');
      fs.writeFileSync(junk, 'hello\n');
      const r = await verifyFile(junk);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('audit_file_unreadable');
      const gone = await verifyFile(path.join(dir, 'missing.jsonl'));
      expect(gone.stderr).toContain('audit_file_unreadable');
    });
  });

  describe('auditor API', () => {
    let orgId: string;
    let auditor: string;
    let apiKey: string;

    beforeAll(async () => {
      const org = await t.rt.orgs.create('API Audit Clinic', ACTOR);
      orgId = org.orgId;
      apiKey = org.apiKey;
      auditor = await auditorKey(orgId);
    });

    it('refuses callers without audit:read', async () => {
      const before = await head(orgId);
      expect((await api('GET', '/v1/audit-events', null)).status).toBe(401);
      const r = await api('GET', '/v1/audit-events', apiKey);
      expect(r.status).toBe(403);
      expect((r.json as { error: { code: string } }).error.code).toBe('forbidden');
      expect((await api('POST', '/v1/audit/disclosures', apiKey, { phone: PHONE_A })).status).toBe(
        403,
      );
      expect((await api('GET', '/v1/audit/public-key', apiKey)).status).toBe(403);
      expect(await head(orgId)).toBe(before);
    });

    it("names user and API-key actors (email, key name), and leaves an unknown one's id alone", async () => {
      // An organisation of its own: the tests below count this one's events.
      const own = (await t.rt.orgs.create('Named Audit Clinic', ACTOR)).orgId;
      const key = await auditorKey(own);
      const u = await t.rt.users.create(own, 'Audit.Reader@Clinic.example', 'staff', ACTOR);
      await t.rt.store.transaction((tx) =>
        appendAudit(tx, t.rt.store.dialect, [
          {
            orgId: own,
            actor: { type: 'user', id: u.user.id },
            action: 'message.read',
            targetType: 'message',
            targetId: 'msg_named',
          },
          {
            orgId: own,
            actor: { type: 'user', id: 'usr_gone' },
            action: 'message.read',
            targetType: 'message',
            targetId: 'msg_named',
          },
        ]),
      );
      // The first read is itself audited with the auditor's key as the actor.
      await api('GET', '/v1/audit-events?limit=1', key);
      const r = await api('GET', '/v1/audit-events?limit=10', key);
      const events = (r.json as Page).data as unknown as {
        actor: { type: string; id: string; name?: string };
      }[];
      const actorOf = (type: string, id?: string) =>
        events.find((e) => e.actor.type === type && (id === undefined || e.actor.id === id))?.actor;
      expect(actorOf('user', u.user.id)).toEqual({
        type: 'user',
        id: u.user.id,
        name: u.user.email,
      });
      expect(actorOf('user', 'usr_gone')).toEqual({ type: 'user', id: 'usr_gone' });
      expect(actorOf('api_key')?.name).toBe('auditor');
    });

    it('lists events newest first with filters and a cursor, and audits each read', async () => {
      // Times stay in append order, as real appends are: the seven share one millisecond.
      await new Promise((r) => setTimeout(r, 5));
      const t0 = Date.now();
      await t.rt.store.transaction((tx) =>
        appendAudit(
          tx,
          t.rt.store.dialect,
          Array.from({ length: 7 }, (_, i) => ({
            orgId,
            actor: { type: 'user' as const, id: i % 2 ? 'usr_a' : 'usr_b' },
            action: 'message.read' as const,
            targetType: 'message',
            targetId: `msg_${i}`,
          })),
          t0,
        ),
      );
      await new Promise((r) => setTimeout(r, 5));
      const iso = (ms: number) => new Date(ms).toISOString();
      const all = await api('GET', '/v1/audit-events?limit=200', auditor);
      expect(all.status, all.text).toBe(200);
      const page = all.json as Page;
      const seqs = page.data.map((e) => e.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => b - a));
      expect(page.nextCursor).toBeNull();

      const reads = (await api('GET', '/v1/audit-events?action=message.read', auditor))
        .json as Page;
      expect(reads.data).toHaveLength(7);
      const byA = (await api('GET', '/v1/audit-events?actorType=user&actorId=usr_a', auditor))
        .json as Page;
      expect(byA.data.map((e) => e.target.id)).toEqual(['msg_5', 'msg_3', 'msg_1']);
      const one = (await api('GET', '/v1/audit-events?targetType=message&targetId=msg_4', auditor))
        .json as Page;
      expect(one.data).toHaveLength(1);
      expect(one.data[0]).toMatchObject({
        action: 'message.read',
        actor: { type: 'user', id: 'usr_b' },
      });
      const inRange = (
        await api('GET', `/v1/audit-events?from=${iso(t0)}&to=${iso(t0 + 1)}`, auditor)
      ).json as Page;
      expect(inRange.data.map((e) => e.target.id)).toEqual(
        [6, 5, 4, 3, 2, 1, 0].map((i) => `msg_${i}`),
      );
      const none = (
        await api('GET', `/v1/audit-events?from=${iso(t0 + 1)}&to=${iso(t0 + 2)}`, auditor)
      ).json as Page;
      expect(none.data).toHaveLength(0);

      // Pages of 2 with a filter: every match once, in order.
      const seen: number[] = [];
      let cursor: string | null = null;
      let lastCount = 0;
      do {
        const url: string = `/v1/audit-events?action=message.read&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
        const p = (await api('GET', url, auditor)).json as Page;
        seen.push(...p.data.map((e) => e.seq));
        lastCount = p.data.length;
        cursor = p.nextCursor;
      } while (cursor);
      expect(seen).toEqual(reads.data.map((e) => e.seq));

      // Each read was audited, with counts only.
      const ev = await lastEvent(orgId);
      expect(ev.action).toBe('audit.read');
      expect(ev.actor_type).toBe('api_key');
      expect(JSON.parse(ev.details)).toEqual({ count: lastCount });
      expect((await t.rt.audit.verify({ orgId })).ok).toBe(true);
    });

    it('refuses bad input with a code and records nothing', async () => {
      const before = await head(orgId);
      for (const url of [
        '/v1/audit-events?cursor=abc',
        '/v1/audit-events?from=yesterday',
        '/v1/audit-events?from=2026-02-02T00:00:00Z&to=2026-02-01T00:00:00Z',
        '/v1/audit-events?limit=0',
        '/v1/audit-events?action=DROP%20TABLE',
      ]) {
        const r = await api('GET', url, auditor);
        expect(r.status, url).toBe(400);
        expect((r.json as { error: { code: string } }).error.code).toBe('validation_failed');
      }
      const bad = await api('POST', '/v1/audit/disclosures', auditor, { phone: 'call me' });
      expect(bad.status).toBe(422);
      expect((bad.json as { error: { code: string } }).error.code).toBe('invalid_phone_number');
      expect(bad.text).not.toContain('call me');
      expect(await head(orgId)).toBe(before);
    });
  });

  describe('accounting of disclosures', () => {
    it('lists who sent, viewed or received what concerning one number, and audits the query', async () => {
      const org = await t.rt.orgs.create('Disclosure Clinic', ACTOR);
      const { orgId } = org;
      const staff: Actor = { type: 'api_key', id: org.apiKeyId };
      const m1 = await t.rt.messaging.accept(orgId, staff, {
        to: PHONE_A,
        body: BODY,
        program: 'care',
      });
      await t.rt.messaging.accept(orgId, staff, { to: PHONE_B, body: BODY, program: 'care' });
      const later = new Date(Date.now() + 3_600_000).toISOString();
      const m2 = await t.rt.messaging.accept(orgId, staff, {
        to: PHONE_A_NATIONAL,
        body: BODY,
        program: 'care',
        sendAt: later,
      });
      await t.rt.messaging.get(orgId, m1.message.id, { type: 'user', id: 'usr_nurse' });
      await t.rt.messaging.cancel(orgId, m2.message.id, staff);
      await t.rt.messaging.list(orgId, { to: PHONE_A, limit: 10 }, { type: 'user', id: 'usr_x' });
      await t.rt.messaging.receiveInbound({
        from: PHONE_A,
        to: (await t.rt.orgs.senders(orgId))[0]!.number,
        body: BODY,
      });

      const expected = [
        ['inbound.received', 'patient'],
        ['message.listed', 'user:usr_x'],
        ['message.canceled', `api_key:${org.apiKeyId}`],
        ['message.read', 'user:usr_nurse'],
        ['message.accepted', `api_key:${org.apiKeyId}`],
        ['message.accepted', `api_key:${org.apiKeyId}`],
      ];
      const r = await tidings(env, 'audit', 'patient', '--org', orgId, PHONE_A, '--json');
      expect(r.code, r.stderr).toBe(0);
      const got = JSON.parse(r.stdout) as { data: EventView[]; complete: boolean };
      expect(got.complete).toBe(true);
      expect(
        got.data.map((e) => [
          e.action,
          e.actor.type === 'patient' ? 'patient' : `${e.actor.type}:${e.actor.id}`,
        ]),
      ).toEqual(expected);
      expect(got.data.map((e) => e.target.id)).toContain(m1.message.id);
      const idx = blindIndex(await t.rt.keyrings.get(orgId), PHONE_A);
      expect(new Set(got.data.map((e) => e.subjectIndex))).toEqual(new Set([idx]));

      // The query itself is audited, naming the patient by blind index only.
      const ev = await lastEvent(orgId);
      expect(ev).toMatchObject({
        action: 'audit.disclosures_read',
        actor_type: 'cli',
        subject_index: idx,
        target_type: 'patient',
      });
      expect(JSON.parse(ev.details)).toEqual({ count: 6 });

      // A national format names the same patient; the first query is now part of the record.
      const human = await tidings(env, 'audit', 'patient', '--org', orgId, PHONE_A_NATIONAL);
      expect(human.code, human.stderr).toBe(0);
      expect(human.stdout).toContain('7 event(s)');
      expect(human.stdout).toContain('message.read  by user:usr_nurse');
      expect(human.stdout).toContain('audit.disclosures_read  by cli:operator');

      // The API gives the same, and its own query shows up too.
      const key = await auditorKey(orgId);
      const res = await api('POST', '/v1/audit/disclosures', key, { phone: PHONE_A, limit: 200 });
      expect(res.status, res.text).toBe(200);
      const page = res.json as Page;
      expect(page.data.map((e) => e.action)).toEqual([
        'audit.disclosures_read',
        'audit.disclosures_read',
        ...expected.map((x) => x[0]),
      ]);
      expect(page.nextCursor).toBeNull();
      for (const text of [r.stdout, human.stdout, res.text]) {
        expect(text).not.toContain(BODY);
        expect(text.replace(/\D/g, '')).not.toContain(DIGITS_A);
      }
      const paged = (await api('POST', '/v1/audit/disclosures', key, { phone: PHONE_A, limit: 2 }))
        .json as Page;
      expect(paged.data).toHaveLength(2);
      expect(paged.nextCursor).not.toBeNull();
      const b = (await api('POST', '/v1/audit/disclosures', key, { phone: PHONE_B })).json as Page;
      expect(b.data.map((e) => e.action)).toEqual(['message.accepted']);
      expect((await t.rt.audit.verify({ orgId })).ok).toBe(true);
    });
  });
});
