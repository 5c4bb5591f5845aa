/**
 * Managing senders after they are added, on SQLite and PostgreSQL: a pool of senders with a
 * sticky sender per recipient (every text to one patient from one number, spread across the
 * pool, and only the departing sender's recipients move when the pool changes), changing a
 * sender's limits and roles, and removing one — over the API (admins only) and the CLI.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { announcePgSkip, DIALECTS, openTestRuntime, type TestRuntime } from '../helpers.js';
import { errorCode, signedInUser, type SessionClient } from '../auth-client.js';
import { runCli } from '../cli-runner.js';
import { SYSTEM_ACTOR } from '../../src/audit/index.js';

announcePgSkip('sender pools');
const ACTOR = { type: 'cli' as const, id: 'test' };
const patient = (i: number) => `+1617555${String(2000 + i).padStart(4, '0')}`;

interface SenderView {
  id: string;
  number: string;
  mps: number;
  dailyCap: number | null;
  default: boolean;
  secondary: boolean;
  pool: boolean;
}

describe.each(DIALECTS)('sender pools and sender changes on %s', (dialect) => {
  let t: TestRuntime;
  let base: string;
  let orgId: string;
  let admin: SessionClient;
  let staff: SessionClient;

  beforeAll(async () => {
    t = await openTestRuntime({ dialect });
    orgId = (await t.rt.orgs.create('Pool Clinic', SYSTEM_ACTOR)).orgId;
    base = await t.rt.listen();
    admin = (await signedInUser(t.rt, base, orgId, 'admin@pool.example', 'admin')).client;
    staff = (await signedInUser(t.rt, base, orgId, 'staff@pool.example', 'staff')).client;
  });
  afterAll(async () => t?.cleanup());

  async function fromOf(to: string): Promise<string> {
    const r = await t.rt.send(orgId, ACTOR, {
      to,
      body: 'Your visit is tomorrow.',
      program: 'care',
    });
    return r.message.from;
  }

  it('sends from the pool, always from one number per recipient, spread over the pool', async () => {
    const pool: SenderView[] = [];
    for (const n of ['+16175550301', '+16175550302', '+16175550303']) {
      const r = await admin.call<SenderView>('POST', '/v1/senders', {
        number: n,
        carrier: 'simulator',
        pool: true,
      });
      expect(r.status).toBe(201);
      expect(r.json.pool).toBe(true);
      pool.push(r.json);
    }
    const numbers = pool.map((s) => s.number);
    const first = new Map<string, string>();
    for (let i = 0; i < 60; i++) first.set(patient(i), await fromOf(patient(i)));
    // Sticky: the same number again, for every recipient.
    for (let i = 0; i < 60; i += 7) expect(await fromOf(patient(i))).toBe(first.get(patient(i)));
    // Spread: each pool sender carries a fair share; the default is not used.
    const counts = numbers.map((n) => [...first.values()].filter((f) => f === n).length);
    expect(counts.every((c) => c >= 8)).toBe(true);
    expect(counts.reduce((a, b) => a + b)).toBe(60);
    // A text that names its sender still goes from it.
    const named = await t.rt.send(orgId, ACTOR, {
      to: patient(0),
      from: numbers[2],
      body: 'Hi',
      program: 'care',
    });
    expect(named.message.from).toBe(numbers[2]);

    // One sender leaves the pool: only its recipients move.
    const leaving = pool[0]!;
    const left = await admin.call<SenderView>('PATCH', `/v1/senders/${leaving.id}`, {
      pool: false,
    });
    expect(left.status).toBe(200);
    expect(left.json.pool).toBe(false);
    for (let i = 0; i < 60; i++) {
      const now = await fromOf(patient(i));
      if (first.get(patient(i)) === leaving.number) expect(now).not.toBe(leaving.number);
      else expect(now).toBe(first.get(patient(i)));
    }
  });

  it('changes limits and roles, audited; refuses bad values and non-admins', async () => {
    const list = await admin.call<{ senders: SenderView[] }>('GET', '/v1/senders');
    const s = list.json.senders.find((x) => x.number === '+16175550302')!;
    const r = await admin.call<SenderView>('PATCH', `/v1/senders/${s.id}`, {
      mps: 7,
      dailyCap: 2000,
      capTimeZone: 'America/Los_Angeles',
      default: true,
      secondary: true,
    });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ mps: 7, dailyCap: 2000, default: true, secondary: true });
    const after = (await admin.call<{ senders: SenderView[] }>('GET', '/v1/senders')).json.senders;
    expect(after.filter((x) => x.default).map((x) => x.id)).toEqual([s.id]);
    expect(after.filter((x) => x.secondary).map((x) => x.id)).toEqual([s.id]);

    const bad = await admin.call('PATCH', `/v1/senders/${s.id}`, { capTimeZone: 'Mars/Olympus' });
    expect(bad.status).toBe(400);
    expect(errorCode(bad)).toBe('validation_failed');
    expect((await admin.call('GET', '/v1/senders')).json).toEqual({ senders: after });
    expect(errorCode(await admin.call('PATCH', '/v1/senders/snd_nope', { mps: 2 }))).toBe(
      'not_found',
    );
    const empty = await admin.call('PATCH', `/v1/senders/${s.id}`, {});
    expect(empty.status).toBe(400);
    expect(errorCode(empty)).toBe('validation_failed');
    expect((await staff.call('PATCH', `/v1/senders/${s.id}`, { mps: 2 })).status).toBe(403);
    const audit = await t.rt.store.db
      .selectFrom('audit_events')
      .select('details')
      .where('org_id', '=', orgId)
      .where('action', '=', 'sender.updated')
      .where('target_id', '=', s.id)
      .execute();
    expect(audit.map((a) => JSON.parse(a.details) as Record<string, unknown>)).toContainEqual({
      mps: 7,
      dailyCap: 2000,
      capTimeZone: 'America/Los_Angeles',
      default: true,
      secondary: true,
    });
  });

  it('removes a sender once nothing waits on it; never the default', async () => {
    const senders = (await admin.call<{ senders: SenderView[] }>('GET', '/v1/senders')).json
      .senders;
    const def = senders.find((x) => x.default)!;
    expect(errorCode(await admin.call('DELETE', `/v1/senders/${def.id}`))).toBe(
      'sender_is_default',
    );
    const other = senders.find((x) => x.number === '+16175550303')!;
    // The pool's texts to it are still queued (workers are not running here).
    const busy = await admin.call('DELETE', `/v1/senders/${other.id}`);
    expect(busy.status).toBe(409);
    expect(errorCode(busy)).toBe('sender_in_use');
    await t.rt.store.db
      .updateTable('messages')
      .set({ status: 'delivered' })
      .where('org_id', '=', orgId)
      .where('sender_id', '=', other.id)
      .execute();
    expect((await staff.call('DELETE', `/v1/senders/${other.id}`)).status).toBe(403);
    expect((await admin.call('DELETE', `/v1/senders/${other.id}`)).status).toBe(204);
    const left = (await admin.call<{ senders: SenderView[] }>('GET', '/v1/senders')).json.senders;
    expect(left.map((x) => x.id)).not.toContain(other.id);
    // Its past messages keep their number.
    const past = await t.rt.store.db
      .selectFrom('messages')
      .select('from_number')
      .where('org_id', '=', orgId)
      .where('sender_id', '=', other.id)
      .execute();
    expect(past.length).toBeGreaterThan(0);
    expect(past.every((m) => m.from_number === other.number)).toBe(true);
    expect(errorCode(await admin.call('DELETE', `/v1/senders/${other.id}`))).toBe('not_found');
  });
});

describe('tidings sender update | remove', () => {
  let t: TestRuntime;
  let orgId: string;
  const saved = { ...process.env };

  beforeAll(async () => {
    t = await openTestRuntime();
    orgId = (await t.rt.orgs.create('CLI Pool Clinic', SYSTEM_ACTOR)).orgId;
    Object.assign(process.env, { NODE_ENV: 'test', TIDINGS_DATA_DIR: t.dir, LOG_LEVEL: 'silent' });
  });
  afterAll(async () => {
    process.env = saved;
    await t?.cleanup();
  });

  it('adds to the pool, updates and removes a sender', async () => {
    const add = await runCli(
      'sender',
      'add',
      '--org',
      orgId,
      '--number',
      '+16175550311',
      '--carrier',
      'simulator',
      '--pool',
      '--json',
    );
    expect(add.code, add.stderr).toBe(0);
    const id = (JSON.parse(add.stdout) as { id: string; inPool: boolean }).id;
    expect(JSON.parse(add.stdout)).toMatchObject({ inPool: true });

    const up = await runCli(
      'sender',
      'update',
      '--org',
      orgId,
      '--id',
      id,
      '--mps',
      '3',
      '--daily-cap',
      '500',
      '--no-pool',
    );
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toContain(`${id}  +16175550311  simulator  3/s  cap 500/day`);
    expect(up.stdout).not.toContain('pool');
    const none = await runCli(
      'sender',
      'update',
      '--org',
      orgId,
      '--id',
      id,
      '--daily-cap',
      'none',
    );
    expect(none.stdout).not.toContain('cap');

    const list = await runCli('sender', 'list', '--org', orgId);
    expect(list.stdout).toContain(id);
    const rm = await runCli('sender', 'remove', '--org', orgId, '--id', id);
    expect(rm.code, rm.stderr).toBe(0);
    expect(rm.stdout).toContain(`removed ${id}`);
    expect((await runCli('sender', 'list', '--org', orgId)).stdout).not.toContain(id);
    const again = await runCli('sender', 'remove', '--org', orgId, '--id', id);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('not_found');
  });
});
