/**
 * The key lifecycle on a real database (both dialects): versioned master keys (wrap with the
 * newest, unwrap with the one a row names), `keys rotate` re-wrapping every organisation's
 * keys while the server keeps serving, retiring a master key only when nothing uses it,
 * per-organisation data-key rotation, and crypto-shredding. Another process (the CLI) is a
 * second KeyringService with its own key source and cache over the same database.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import {
  announcePgSkip,
  DIALECTS,
  openTestRuntime,
  tempDir,
  waitFor,
  type TestRuntime,
} from './helpers.js';
import {
  blindIndex,
  decrypt,
  generateKey,
  masterKey,
  rowAad,
  type Keyring,
} from '../src/crypto/index.js';
import { KeyringService, staticMasterKeys } from '../src/orgs/index.js';
import {
  formatMasterKeyFile,
  openMasterKeys,
  parseMasterKeyFile,
} from '../src/runtime/master-keys.js';
import { verifyAudit } from '../src/audit/index.js';
import { AppError } from '../src/errors/index.js';
import { complianceReport } from '../src/compliance/index.js';

announcePgSkip('key lifecycle');

const ACTOR = { type: 'cli' as const, id: 'test' };
const PHONE = '+16175550123';
const BODY = 'Your appointment is on Tuesday at 10:00.';
const silent = pino({ level: 'silent' });
/** Short cache and activation times, so tests see a new data key take over quickly. */
const FAST = { cacheMs: 50, activationDelayMs: 300 };

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function open(
  dialect: (typeof DIALECTS)[number],
  env: Record<string, string> = {},
  keyrings: Partial<typeof FAST> = {},
): Promise<TestRuntime> {
  const t = await openTestRuntime({ dialect, env: { PORT: '0', ...env }, runtime: { keyrings } });
  cleanups.push(() => t.cleanup());
  return t;
}

/** An operator's key file holding `keys`, newest first. */
function operatorKeyFile(...keys: ReturnType<typeof masterKey>[]): string {
  const dir = tempDir('tidings-keys-');
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'master-keys');
  fs.writeFileSync(file, formatMasterKeyFile(keys), { mode: 0o600 });
  return file;
}

async function keyRows(t: TestRuntime, orgId?: string) {
  let q = t.rt.store.db.selectFrom('org_keys').selectAll().orderBy('org_id').orderBy('key_id');
  if (orgId) q = q.where('org_id', '=', orgId);
  return q.execute();
}

async function auditEvents(t: TestRuntime, action?: string) {
  let q = t.rt.store.db.selectFrom('audit_events').selectAll().orderBy('org_id').orderBy('seq');
  if (action) q = q.where('action', '=', action);
  return q.execute();
}

async function messageRow(t: TestRuntime, orgId: string, id: string) {
  return t.rt.store.db
    .selectFrom('messages')
    .selectAll()
    .where('org_id', '=', orgId)
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
}

function bodyOf(keyring: Keyring, row: { org_id: string; id: string; body_enc: string }): string {
  return decrypt(keyring, rowAad(row.org_id, 'messages', row.id, 'body'), row.body_enc);
}

async function api(base: string, key: string, method: string, url: string, json?: unknown) {
  const res = await fetch(`${base}${url}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(json === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe.each(DIALECTS)('master keys on %s', (dialect) => {
  it('wraps with the newest master key, unwraps with the one each row names, and picks up a key added to the key file without a restart', async () => {
    const k1 = masterKey(generateKey());
    const file = operatorKeyFile(k1);
    const t = await open(dialect, { TIDINGS_MASTER_KEY_FILE: file });
    const a = await t.rt.orgs.create('Old Key Clinic', ACTOR);
    const sent = await t.rt.messaging.accept(a.orgId, ACTOR, {
      to: PHONE,
      body: BODY,
      program: 'care',
    });

    // The operator puts a new key first; the running server wraps with it from now on.
    const k2 = masterKey(generateKey());
    fs.writeFileSync(file, formatMasterKeyFile([k2, k1]));
    const b = await t.rt.orgs.create('New Key Clinic', ACTOR);
    expect((await keyRows(t, a.orgId)).map((r) => r.master_key_id)).toEqual([k1.id, k1.id]);
    expect((await keyRows(t, b.orgId)).map((r) => r.master_key_id)).toEqual([k2.id, k2.id]);

    // A process that has seen neither organisation unwraps each with the key its rows name.
    const fresh = new KeyringService(t.rt.store, openMasterKeys(t.config, silent));
    const row = await messageRow(t, a.orgId, sent.message.id);
    expect(bodyOf(await fresh.get(a.orgId), row)).toBe(BODY);
    expect((await fresh.get(b.orgId)).dataKeys.size).toBe(1);
    expect(await fresh.status()).toEqual([
      {
        id: k2.id,
        configured: true,
        newest: true,
        dataKeys: 1,
        indexKeys: 1,
        otherKeys: 0,
        retiredAt: null,
      },
      {
        id: k1.id,
        configured: true,
        newest: false,
        dataKeys: 1,
        indexKeys: 1,
        otherKeys: 0,
        retiredAt: null,
      },
    ]);

    // Without the master key a row names, reading is a coded error, not a crash.
    const stale = new KeyringService(t.rt.store, staticMasterKeys('TIDINGS_MASTER_KEY', k1));
    await expect(stale.get(b.orgId)).rejects.toMatchObject({ code: 'master_key_missing' });
    const missing = (await stale.status()).find((m) => m.id === k2.id);
    expect(missing).toMatchObject({ configured: false, dataKeys: 1, indexKeys: 1 });
  });

  it('rotates online: re-wraps every key under a new master key while the server serves, changing no key, audited with counts', async () => {
    const t = await open(dialect); // the generated development key file
    const base = await t.rt.listen();
    const a = await t.rt.orgs.create('Rotation Clinic', ACTOR);
    const b = await t.rt.orgs.create('Second Clinic', ACTOR);
    const sent = await api(base, a.apiKey, 'POST', '/v1/messages', {
      to: PHONE,
      body: BODY,
      program: 'care',
    });
    expect(sent.status).toBe(202);
    const messageId = sent.json.id as string;
    const before = await keyRows(t);
    const oldId = before[0]!.master_key_id;
    expect(new Set(before.map((r) => r.master_key_id))).toEqual(new Set([oldId]));
    const keyringBefore = await t.rt.keyrings.get(a.orgId);
    const indexBefore = blindIndex(keyringBefore, PHONE);

    // `tidings keys rotate` runs in another process: its own key source and cache.
    const cli = new KeyringService(t.rt.store, openMasterKeys(t.config, silent));
    const r = await cli.rotateMaster({ type: 'cli', id: 'operator' });
    expect(r).toMatchObject({
      generated: true,
      organisations: 2,
      dataKeys: 2,
      indexKeys: 2,
      remaining: 0,
    });
    expect(r.masterKeyId).not.toBe(oldId);
    const file = path.join(t.dir, 'master.key');
    const fileKeys = parseMasterKeyFile(fs.readFileSync(file, 'utf8'), file);
    expect(fileKeys.map((k) => k.id)).toEqual([r.masterKeyId, oldId]);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);

    // Same keys, same ids and dates; every wrapping is new and names the new master key.
    const after = await keyRows(t);
    expect(after.map((x) => [x.org_id, x.key_id, x.purpose, Number(x.created_at)])).toEqual(
      before.map((x) => [x.org_id, x.key_id, x.purpose, Number(x.created_at)]),
    );
    after.forEach((x, i) => {
      expect(x.master_key_id).toBe(r.masterKeyId);
      expect(x.wrapped).not.toBe(before[i]!.wrapped);
    });
    const fresh = new KeyringService(t.rt.store, openMasterKeys(t.config, silent));
    const keyringAfter = await fresh.get(a.orgId);
    expect(keyringAfter.indexKey.equals(keyringBefore.indexKey)).toBe(true);
    expect(blindIndex(keyringAfter, PHONE)).toBe(indexBefore);
    expect(keyringAfter.activeKeyId).toBe(keyringBefore.activeKeyId);
    for (const [kid, key] of keyringBefore.dataKeys) {
      expect(keyringAfter.dataKeys.get(kid)?.equals(key)).toBe(true);
    }
    expect(bodyOf(keyringAfter, await messageRow(t, a.orgId, messageId))).toBe(BODY);

    // The server never stopped: it reads, finds by number, accepts, and creates an
    // organisation whose keys it wraps with the new master key.
    const read = await api(base, a.apiKey, 'GET', `/v1/messages/${messageId}`);
    expect(read).toMatchObject({ status: 200, json: { body: BODY } });
    const found = await api(base, a.apiKey, 'POST', '/v1/messages/search', { to: PHONE });
    expect(found.status).toBe(200);
    expect((found.json.data as { id: string }[]).map((m) => m.id)).toContain(messageId);
    expect(
      (
        await api(base, b.apiKey, 'POST', '/v1/messages', {
          to: PHONE,
          body: 'Hi',
          program: 'care',
        })
      ).status,
    ).toBe(202);
    const c = await t.rt.orgs.create('After Rotation', ACTOR);
    expect((await keyRows(t, c.orgId)).map((x) => x.master_key_id)).toEqual([
      r.masterKeyId,
      r.masterKeyId,
    ]);

    // One event per organisation re-wrapped, with counts; never key material.
    const events = await auditEvents(t, 'keys.rotated');
    expect(events.map((e) => e.org_id).sort()).toEqual([a.orgId, b.orgId].sort());
    for (const e of events) {
      expect(e.actor_type).toBe('cli');
      expect(JSON.parse(e.details)).toEqual({
        dataKeys: 1,
        indexKeys: 1,
        masterKeyId: r.masterKeyId,
        previousMasterKeyIds: oldId,
      });
    }
    const secrets = [
      ...fileKeys.map((k) => k.key),
      ...keyringBefore.dataKeys.values(),
      keyringBefore.indexKey,
    ].flatMap((k) => [k.toString('base64'), k.toString('hex')]);
    const allEvents = JSON.stringify(await auditEvents(t));
    for (const s of secrets) expect(allEvents).not.toContain(s);
    expect((await verifyAudit(t.rt.store.db)).ok).toBe(true);

    // The old key is no longer used by anything: it can be retired, and leaves the file.
    expect((await cli.status()).find((m) => m.id === oldId)).toMatchObject({
      dataKeys: 0,
      indexKeys: 0,
    });
    expect(await cli.retireMaster(oldId, ACTOR)).toEqual({
      masterKeyId: oldId,
      alreadyRetired: false,
      removedFromFile: true,
    });
    expect(parseMasterKeyFile(fs.readFileSync(file, 'utf8'), file).map((k) => k.id)).toEqual([
      r.masterKeyId,
    ]);
    // The server still reads everything after the old key is gone from the file.
    expect((await api(base, a.apiKey, 'GET', `/v1/messages/${messageId}`)).status).toBe(200);
  });

  it('retires a master key only when nothing uses it (audit signing keys included), and a retired key never wraps again', async () => {
    const k1 = masterKey(generateKey());
    const file = operatorKeyFile(k1);
    const t = await open(dialect, { TIDINGS_MASTER_KEY_FILE: file });
    const a = await t.rt.orgs.create('Retiring Clinic', ACTOR);
    await t.rt.audit.signingKeys.publicKey(a.orgId); // an audit signing key, wrapped by k1
    const signingMaster = async () =>
      (await t.rt.store.db.selectFrom('audit_signing_keys').select('master_key_id').execute()).map(
        (r) => r.master_key_id,
      );
    expect(await signingMaster()).toEqual([k1.id]);
    const k2 = masterKey(generateKey());
    fs.writeFileSync(file, formatMasterKeyFile([k2, k1]));
    const svc = t.rt.keyrings;
    const eventsBefore = (await auditEvents(t)).length;

    // Refusals are coded and change nothing.
    for (const [id, code] of [
      [k1.id, 'master_key_in_use'],
      [k2.id, 'master_key_active'],
      ['0123456789abcdef', 'not_found'],
    ] as const) {
      const e: unknown = await svc.retireMaster(id, ACTOR).catch((x: unknown) => x);
      expect(e, id).toBeInstanceOf(AppError);
      expect((e as AppError).code, id).toBe(code);
    }
    expect((await auditEvents(t)).length).toBe(eventsBefore);
    expect(await t.rt.store.db.selectFrom('master_key_retirements').selectAll().execute()).toEqual(
      [],
    );

    // A rotation that knows only the organisations' keys leaves the signing key under k1,
    // and that alone keeps k1 from being retired.
    const fileBefore = fs.readFileSync(file, 'utf8');
    const orgKeysOnly = new KeyringService(t.rt.store, openMasterKeys(t.config, silent));
    expect(await orgKeysOnly.rotateMaster(ACTOR)).toEqual({
      masterKeyId: k2.id,
      generated: false,
      organisations: 1,
      dataKeys: 1,
      indexKeys: 1,
      otherKeys: 0,
      remaining: 0,
    });
    expect((await svc.status()).find((m) => m.id === k1.id)).toMatchObject({
      dataKeys: 0,
      indexKeys: 0,
      otherKeys: 1,
    });
    await expect(svc.retireMaster(k1.id, ACTOR)).rejects.toMatchObject({
      code: 'master_key_in_use',
      message: `Master key ${k1.id} still wraps 1 key(s): run tidings keys rotate first.`,
    });

    // The runtime's rotation re-wraps the audit signing keys too. The operator supplied the
    // new key, so it generates none and writes no file.
    expect(await svc.rotateMaster(ACTOR)).toEqual({
      masterKeyId: k2.id,
      generated: false,
      organisations: 0,
      dataKeys: 0,
      indexKeys: 0,
      otherKeys: 1,
      remaining: 0,
    });
    expect(await signingMaster()).toEqual([k2.id]);
    expect((await t.rt.audit.signingKeys.trusted(a.orgId)).size).toBe(1);
    expect(await svc.rotateMaster(ACTOR)).toMatchObject({ dataKeys: 0, otherKeys: 0 });
    expect(await svc.retireMaster(k1.id, ACTOR)).toEqual({
      masterKeyId: k1.id,
      alreadyRetired: false,
      removedFromFile: false,
    });
    expect(fs.readFileSync(file, 'utf8')).toBe(fileBefore);
    expect(await svc.retireMaster(k1.id, ACTOR)).toMatchObject({ alreadyRetired: true });
    const retired = await auditEvents(t, 'keys.master_retired');
    expect(retired.map((e) => [e.org_id, e.target_id])).toEqual([[a.orgId, k1.id]]);
    const status = await svc.status();
    expect(status.find((m) => m.id === k1.id)).toMatchObject({ dataKeys: 0, indexKeys: 0 });
    expect(status.find((m) => m.id === k1.id)?.retiredAt).toMatch(/^\d{4}-/);

    // A server still configured with only the retired key cannot wrap anything with it.
    const stale = new KeyringService(t.rt.store, staticMasterKeys('TIDINGS_MASTER_KEY', k1));
    await expect(stale.rotateData(a.orgId, ACTOR)).rejects.toMatchObject({
      code: 'master_key_retired',
    });
    expect((await keyRows(t, a.orgId)).length).toBe(2);
  });
});

describe.each(DIALECTS)('data keys on %s', (dialect) => {
  it('rotate-data gives a new key that takes over after the delay; older ciphertexts stay readable and the index key never changes', async () => {
    const t = await open(dialect, {}, FAST);
    const org = await t.rt.orgs.create('Data Key Clinic', ACTOR);
    const first = await t.rt.messaging.accept(org.orgId, ACTOR, {
      to: PHONE,
      body: BODY,
      program: 'care',
    });
    const k0 = (await t.rt.keyrings.get(org.orgId)).activeKeyId;
    const index0 = (await t.rt.keyrings.get(org.orgId)).indexKey;

    const r = await t.rt.keyrings.rotateData(org.orgId, ACTOR);
    expect(r.keyId).toMatch(/^dk_[0-9a-f]{16}$/);
    expect(r.keyId).not.toBe(k0);
    // Pending until every process has had time to load it.
    const pending = await t.rt.keyrings.orgStatus(org.orgId);
    expect(pending.dataKeys.map((k) => [k.keyId, k.state])).toEqual([
      [k0, 'active'],
      [r.keyId, 'pending'],
    ]);
    await waitFor(async () => (await t.rt.keyrings.get(org.orgId)).activeKeyId === r.keyId);
    const second = await t.rt.messaging.accept(org.orgId, ACTOR, {
      to: PHONE,
      body: 'Your results are ready.',
      program: 'care',
    });
    const row1 = await messageRow(t, org.orgId, first.message.id);
    const row2 = await messageRow(t, org.orgId, second.message.id);
    expect(row1.body_enc.split(':')[1]).toBe(k0);
    expect(row2.body_enc.split(':')[1]).toBe(r.keyId);
    expect((await t.rt.messaging.get(org.orgId, first.message.id, ACTOR)).body).toBe(BODY);
    expect(row1.to_index).toBe(row2.to_index);
    expect((await t.rt.keyrings.get(org.orgId)).indexKey.equals(index0)).toBe(true);

    const events = await auditEvents(t, 'keys.data_rotated');
    expect(events.map((e) => [e.org_id, e.target_id])).toEqual([[org.orgId, r.keyId]]);
    await expect(t.rt.keyrings.rotateData('org_missing', ACTOR)).rejects.toMatchObject({
      code: 'not_found',
    });
  });

  it('crypto-shredding makes what a key encrypted unreadable (a coded error, not a 500) while data under other keys still reads', async () => {
    const t = await open(dialect, {}, FAST);
    const base = await t.rt.listen();
    const org = await t.rt.orgs.create('Shred Clinic', ACTOR);
    const other = await t.rt.orgs.create('Bystander Clinic', ACTOR);
    const doomed = await t.rt.messaging.accept(org.orgId, ACTOR, {
      to: PHONE,
      body: BODY,
      program: 'care',
    });
    const bystander = await t.rt.messaging.accept(other.orgId, ACTOR, {
      to: PHONE,
      body: BODY,
      program: 'care',
    });
    const oldKey = (await t.rt.keyrings.get(org.orgId)).activeKeyId;
    const svc = t.rt.keyrings;

    // The active key cannot be shredded: rotate, and let the new key take over, first.
    await expect(svc.shredDataKey(org.orgId, oldKey, ACTOR)).rejects.toMatchObject({
      code: 'data_key_active',
    });
    const { keyId: newKey } = await svc.rotateData(org.orgId, ACTOR);
    await expect(svc.shredDataKey(org.orgId, oldKey, ACTOR)).rejects.toMatchObject({
      code: 'data_key_active',
    });
    await expect(svc.shredDataKey(org.orgId, newKey, ACTOR)).rejects.toMatchObject({
      code: 'data_key_active',
    });
    await waitFor(async () => (await svc.get(org.orgId)).activeKeyId === newKey);
    const kept = await t.rt.messaging.accept(org.orgId, ACTOR, {
      to: PHONE,
      body: 'Your results are ready.',
      program: 'care',
    });
    const indexKey = (await svc.orgStatus(org.orgId)).indexKey.keyId;
    const rowsBefore = await keyRows(t);
    const eventsBefore = (await auditEvents(t)).length;
    for (const [orgId, kid, code] of [
      [org.orgId, indexKey, 'validation_failed'],
      [org.orgId, 'dk_0000000000000000', 'not_found'],
      [other.orgId, oldKey, 'not_found'],
      ['org_missing', oldKey, 'not_found'],
      [org.orgId, newKey, 'data_key_active'],
    ] as const) {
      await expect(svc.shredDataKey(orgId, kid, ACTOR), kid).rejects.toMatchObject({ code });
    }
    expect(await keyRows(t)).toEqual(rowsBefore);
    expect((await auditEvents(t)).length).toBe(eventsBefore);

    // Another process has the old key cached.
    const elsewhere = new KeyringService(t.rt.store, openMasterKeys(t.config, silent), FAST);
    expect((await elsewhere.get(org.orgId)).dataKeys.has(oldKey)).toBe(true);

    expect(await svc.shredDataKey(org.orgId, oldKey, ACTOR)).toEqual({
      orgId: org.orgId,
      keyId: oldKey,
      alreadyShredded: false,
    });
    expect((await keyRows(t, org.orgId)).map((r) => r.key_id)).not.toContain(oldKey);
    expect((await svc.get(org.orgId)).dataKeys.has(oldKey)).toBe(false);

    // Reading the message encrypted under it: a clear coded error, in-process and over HTTP.
    const err: unknown = await t.rt.messaging
      .get(org.orgId, doomed.message.id, ACTOR)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('data_key_destroyed');
    const viaHttp = await api(base, org.apiKey, 'GET', `/v1/messages/${doomed.message.id}`);
    expect(viaHttp).toEqual({
      status: 410,
      json: {
        error: {
          code: 'data_key_destroyed',
          message:
            'The data was encrypted under a key that has been destroyed, so it can no longer be read.',
        },
      },
    });
    // The raw ciphertext is still in the database and names the key, but nobody can open it.
    const row = await messageRow(t, org.orgId, doomed.message.id);
    expect(row.body_enc.split(':')[1]).toBe(oldKey);
    const fresh = new KeyringService(t.rt.store, openMasterKeys(t.config, silent));
    await expect(fresh.get(org.orgId).then((k) => bodyOf(k, row))).rejects.toMatchObject({
      code: 'data_key_destroyed',
    });

    // Everything under other keys still reads: the newer key here, and other organisations.
    const ok = await api(base, org.apiKey, 'GET', `/v1/messages/${kept.message.id}`);
    expect(ok).toMatchObject({ status: 200, json: { body: 'Your results are ready.' } });
    expect((await t.rt.messaging.get(other.orgId, bystander.message.id, ACTOR)).body).toBe(BODY);

    // The other process forgets the key within its cache time.
    await waitFor(async () => !(await elsewhere.get(org.orgId)).dataKeys.has(oldKey));
    await expect(elsewhere.get(org.orgId).then((k) => bodyOf(k, row))).rejects.toMatchObject({
      code: 'data_key_destroyed',
    });

    // Audited; shredding again changes nothing.
    const shredded = await auditEvents(t, 'keys.shredded');
    expect(shredded.map((e) => [e.org_id, e.target_id])).toEqual([[org.orgId, oldKey]]);
    expect(await svc.shredDataKey(org.orgId, oldKey, ACTOR)).toMatchObject({
      alreadyShredded: true,
    });
    expect((await auditEvents(t, 'keys.shredded')).length).toBe(1);
    expect((await svc.orgStatus(org.orgId)).shredded.map((s) => s.keyId)).toEqual([oldKey]);

    // A queued message under the shredded key fails at once when dispatched; others are sent.
    t.rt.startWorkers();
    const failed = await waitFor(async () => {
      const r = await messageRow(t, org.orgId, doomed.message.id);
      return r.status === 'failed' ? r : null;
    });
    expect(failed.failure_code).toBe('data_key_destroyed');
    expect(failed.attempts).toBeLessThanOrEqual(1);
    await waitFor(async () => (await messageRow(t, org.orgId, kept.message.id)).sent_at !== null);
    expect((await verifyAudit(t.rt.store.db)).ok).toBe(true);
  });

  it('after a shred, legal holds list and lift, the consent ledger shows and exports, and the compliance report runs, with what the key protected marked destroyed', async () => {
    const t = await open(dialect, {}, FAST);
    const base = await t.rt.listen();
    const org = await t.rt.orgs.create('Ledger Shred Clinic', ACTOR);
    const { apiKey } = await t.rt.apiKeys.create(
      org.orgId,
      { name: 'auditor', scopes: ['retention:write', 'audit:read', 'consent:read'] },
      ACTOR,
    );
    const svc = t.rt.keyrings;

    // Under the old key: a hold on the patient and consent with evidence (and one without).
    const oldHold = await t.rt.retention.placeHold(
      org.orgId,
      { scope: 'patient', phone: PHONE, reason: 'Subpoena 12' },
      ACTOR,
    );
    await t.rt.consent.record(
      org.orgId,
      {
        phone: PHONE,
        program: 'surveys',
        kind: 'opt_in',
        source: 'paper',
        evidence: 'intake form #88',
      },
      ACTOR,
    );
    await t.rt.consent.record(
      org.orgId,
      { phone: PHONE, program: 'billing', kind: 'opt_out', source: 'phone_call' },
      ACTOR,
    );
    const oldKey = (await svc.get(org.orgId)).activeKeyId;

    // Under the new key: another hold and another event, which stay readable.
    const { keyId: newKey } = await svc.rotateData(org.orgId, ACTOR);
    await waitFor(async () => (await svc.get(org.orgId)).activeKeyId === newKey);
    const newHold = await t.rt.retention.placeHold(
      org.orgId,
      { scope: 'organisation', reason: 'Matter 2026-17' },
      ACTOR,
    );
    await t.rt.consent.record(
      org.orgId,
      { phone: PHONE, program: 'care', kind: 'opt_in', source: 'staff', evidence: 'call note 7' },
      ACTOR,
    );
    await svc.shredDataKey(org.orgId, oldKey, ACTOR);

    // Holds: listed, the unreadable reason null and marked; the readable one as before.
    const holds = await t.rt.retention.holds(org.orgId);
    expect(holds.map((h) => [h.id, h.reason, h.destroyed])).toEqual([
      [newHold.id, 'Matter 2026-17', false],
      [oldHold.id, null, true],
    ]);
    expect(holds[1]).toMatchObject({ scope: 'patient', subjectIndex: oldHold.subjectIndex });
    const listed = await api(base, apiKey, 'GET', '/v1/legal-holds');
    expect(listed.status).toBe(200);
    expect(listed.json.data).toEqual(holds);

    // The compliance report decrypts nothing: it runs, in-process and over HTTP.
    const report = await complianceReport(t.rt, org.orgId, ACTOR);
    expect(report.items.find((i) => i.id === 'retention')?.state).toContain('2 legal holds');
    const viaHttp = await api(base, apiKey, 'GET', '/v1/compliance/report');
    expect(viaHttp.status).toBe(200);
    expect(viaHttp.json.items).toEqual(
      expect.arrayContaining([expect.objectContaining({ id: 'retention' })]),
    );

    // The consent ledger: every event with its plain fields; only the evidence is gone.
    const v = await t.rt.consent.show(org.orgId, PHONE);
    expect(
      v.history.map((e) => [e.kind, e.program, e.source, e.evidence, e.destroyed, e.actor]),
    ).toEqual([
      ['opt_in', 'surveys', 'paper', null, true, 'cli:test'],
      ['opt_out', 'billing', 'phone_call', null, false, 'cli:test'],
      ['opt_in', 'care', 'staff', 'call note 7', false, 'cli:test'],
    ]);
    expect(v.history.every((e) => e.occurredAt && e.recordedAt)).toBe(true);
    expect(v.programs).toMatchObject({
      surveys: { status: 'opted_in', canSend: true },
      billing: { status: 'opted_out', canSend: false },
    });
    const lookup = await api(base, apiKey, 'POST', '/v1/consents/lookup', { phone: PHONE });
    expect(lookup.status).toBe(200);
    expect(lookup.json).toEqual(JSON.parse(JSON.stringify(v)));
    const csv = await t.rt.consent.exportCsv(org.orgId, PHONE);
    const lines = csv.trim().split('\n');
    expect(lines[0]).toBe(
      'phone,event_id,program,kind,source,evidence,actor,occurred_at,recorded_at,destroyed',
    );
    expect(
      lines.slice(1).map((l) => l.split(',').slice(2, 6).concat(l.split(',').at(-1)!)),
    ).toEqual([
      ['surveys', 'opt_in', 'paper', '', 'true'],
      ['billing', 'opt_out', 'phone_call', '', 'false'],
      ['care', 'opt_in', 'staff', 'call note 7', 'false'],
    ]);
    const csvHttp = await fetch(`${base}/v1/consents/lookup`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ phone: PHONE, format: 'csv' }),
    });
    expect(csvHttp.status).toBe(200);
    expect(await csvHttp.text()).toBe(csv);

    // Lifting works by id alone, over HTTP and in-process.
    const lifted = await api(base, apiKey, 'DELETE', `/v1/legal-holds/${oldHold.id}`);
    expect(lifted.status).toBe(200);
    expect(lifted.json).toMatchObject({ id: oldHold.id, reason: null, destroyed: true });
    expect(lifted.json.liftedAt).not.toBeNull();
    expect(await t.rt.retention.liftHold(org.orgId, newHold.id, ACTOR)).toMatchObject({
      reason: 'Matter 2026-17',
      destroyed: false,
    });
    expect(await t.rt.retention.holds(org.orgId)).toEqual([]);
    expect((await auditEvents(t, 'legal_hold.lifted')).map((e) => e.target_id).sort()).toEqual(
      [oldHold.id, newHold.id].sort(),
    );

    // Nothing the shredded key protected came back, anywhere.
    for (const out of [
      JSON.stringify(await t.rt.retention.holds(org.orgId, true)),
      JSON.stringify(v),
      csv,
      JSON.stringify(report),
    ]) {
      expect(out).not.toContain('Subpoena 12');
      expect(out).not.toContain('intake form #88');
    }
    const evidenceRow = await t.rt.store.db
      .selectFrom('consent_events')
      .select(['id', 'evidence_enc'])
      .where('org_id', '=', org.orgId)
      .where('program', '=', 'surveys')
      .executeTakeFirstOrThrow();
    expect(evidenceRow.evidence_enc!.split(':')[1]).toBe(oldKey);
    await expect(
      svc
        .get(org.orgId)
        .then((k) =>
          decrypt(
            k,
            rowAad(org.orgId, 'consent_events', evidenceRow.id, 'evidence'),
            evidenceRow.evidence_enc!,
          ),
        ),
    ).rejects.toMatchObject({ code: 'data_key_destroyed' });
    expect((await verifyAudit(t.rt.store.db)).ok).toBe(true);
  });
});
