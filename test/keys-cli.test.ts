/**
 * `tidings keys …` end to end through the CLI's own entry point (in this process, on a real
 * SQLite file and a generated development key file): status, rotate, retire, rotate-data and
 * shred, their refusals and exit codes, and that nothing printed holds key material. The
 * service behind each command is tested on both dialects in keys.test.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { cliSandbox, runCli, type CliRun as Run } from './cli-runner.js';
import { parseMasterKeyFile } from '../src/runtime/master-keys.js';

const tidings = runCli;

function json<T>(r: Run): T {
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
}

describe('tidings keys', () => {
  const box = cliSandbox('tidings-keys-cli-', (dir) => ({ TIDINGS_DATA_DIR: dir }));
  let keyFile: string;

  beforeAll(() => {
    keyFile = path.join(box.dir, 'master.key');
  });

  /** Every key in the development key file, as base64 and hex. */
  function keyMaterial(): string[] {
    return parseMasterKeyFile(fs.readFileSync(keyFile, 'utf8'), keyFile).flatMap((k) => [
      k.key.toString('base64'),
      k.key.toString('hex'),
    ]);
  }

  it('shows, rotates and retires master keys, and rotates and shreds data keys', async () => {
    const { orgId } = json<{ orgId: string }>(
      await tidings('org', 'create', '--name', 'CLI Key Clinic', '--json'),
    );

    const status0 = json<{
      source: { kind: string; location: string };
      masterKeys: { id: string; newest: boolean; dataKeys: number; indexKeys: number }[];
    }>(await tidings('keys', 'status', '--json'));
    expect(status0.source).toEqual({ kind: 'generated', location: keyFile });
    expect(status0.masterKeys).toHaveLength(1);
    expect(status0.masterKeys[0]).toMatchObject({ newest: true, dataKeys: 1, indexKeys: 1 });
    const oldMaster = status0.masterKeys[0]!.id;

    // Rotation: a new key is generated into the file and everything is re-wrapped with it.
    const rotated = await tidings('keys', 'rotate');
    expect(rotated.code, rotated.stderr).toBe(0);
    const newMaster = parseMasterKeyFile(fs.readFileSync(keyFile, 'utf8'), keyFile)[0]!.id;
    expect(rotated.stdout).toContain(`generated master key ${newMaster} into ${keyFile}`);
    expect(rotated.stdout).toContain(
      `re-wrapped 1 data key(s) and 1 index key(s) of 1 organisation(s) under master key ${newMaster}`,
    );
    expect(rotated.stdout).toContain(`tidings keys retire --id ${oldMaster}`);

    const human = await tidings('keys', 'status');
    expect(human.stdout).toContain(`master keys from ${keyFile}:`);
    expect(human.stdout).toMatch(
      new RegExp(`${newMaster}  data keys 1  index keys 1  \\(newest: wraps new keys\\)`),
    );
    expect(human.stdout).toMatch(
      new RegExp(`${oldMaster}  data keys 0  index keys 0  \\(older\\)`),
    );

    // Retiring: the newest is refused with its code; the unused old one goes from the file.
    const refused = await tidings('keys', 'retire', '--id', newMaster);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^tidings: master_key_active: /);
    expect(json(await tidings('keys', 'retire', '--id', oldMaster, '--json'))).toEqual({
      masterKeyId: oldMaster,
      alreadyRetired: false,
      removedFromFile: true,
    });
    expect(parseMasterKeyFile(fs.readFileSync(keyFile, 'utf8'), keyFile).map((k) => k.id)).toEqual([
      newMaster,
    ]);

    // A new data key is pending for a while; the old one stays active meanwhile.
    const { keyId: newData } = json<{ keyId: string; activatesAt: string }>(
      await tidings('keys', 'rotate-data', '--org', orgId, '--json'),
    );
    const orgStatus = json<{ dataKeys: { keyId: string; state: string }[] }>(
      await tidings('keys', 'status', '--org', orgId, '--json'),
    );
    const oldData = orgStatus.dataKeys[0]!.keyId;
    expect(orgStatus.dataKeys.map((k) => [k.keyId, k.state])).toEqual([
      [oldData, 'active'],
      [newData, 'pending'],
    ]);

    // Under the old key: a hold on a patient, and consent with evidence.
    const phone = '+16175550142';
    const { id: holdId } = json<{ id: string }>(
      await tidings(
        'retention',
        'hold',
        'place',
        '--org',
        orgId,
        '--scope',
        'patient',
        '--phone',
        phone,
        '--reason',
        'Subpoena 12',
        '--json',
      ),
    );
    const recorded = await tidings(
      'consent',
      'record',
      '--org',
      orgId,
      '--phone',
      phone,
      '--program',
      'surveys',
      '--kind',
      'opt_in',
      '--source',
      'paper',
      '--evidence',
      'intake form #88',
    );
    expect(recorded.code, recorded.stderr).toBe(0);

    const db = new Database(path.join(box.dir, 'tidings.db'));
    const keyCount = () =>
      (db.prepare('select count(*) as n from org_keys').get() as { n: number }).n;
    try {
      const unconfirmed = await tidings('keys', 'shred', '--org', orgId, '--key', oldData);
      expect(unconfirmed.code).toBe(2);
      expect(unconfirmed.stderr).toContain('add --yes');
      const active = await tidings('keys', 'shred', '--org', orgId, '--key', oldData, '--yes');
      expect(active.code).toBe(1);
      expect(active.stderr).toMatch(/^tidings: data_key_active: /);
      const missing = await tidings(
        'keys',
        'shred',
        '--org',
        'org_nope',
        '--key',
        oldData,
        '--yes',
      );
      expect(missing.stderr).toMatch(/^tidings: not_found: /);
      expect(keyCount()).toBe(3);

      // Once the new key has taken over (the keys' creation moved back past the delay), the
      // old one can go.
      db.prepare('update org_keys set created_at = created_at - 60000 where org_id = ?').run(orgId);
      expect(
        json(await tidings('keys', 'shred', '--org', orgId, '--key', oldData, '--yes', '--json')),
      ).toEqual({ orgId, keyId: oldData, alreadyShredded: false });
      expect(keyCount()).toBe(2);
    } finally {
      db.close();
    }
    const after = json<{
      dataKeys: { keyId: string; state: string }[];
      shredded: { keyId: string }[];
    }>(await tidings('keys', 'status', '--org', orgId, '--json'));
    expect(after.dataKeys.map((k) => [k.keyId, k.state])).toEqual([[newData, 'active']]);
    expect(after.shredded.map((k) => k.keyId)).toEqual([oldData]);

    // What the shredded key protected is marked, and nothing else fails.
    const holdList = await tidings('retention', 'hold', 'list', '--org', orgId);
    expect(holdList.code, holdList.stderr).toBe(0);
    expect(holdList.stdout).toContain(`${holdId}  patient`);
    expect(holdList.stdout).toContain('(reason destroyed: data key shredded)');
    expect(
      json<{ id: string; reason: string | null; destroyed: boolean }[]>(
        await tidings('retention', 'hold', 'list', '--org', orgId, '--json'),
      ).map((h) => [h.id, h.reason, h.destroyed]),
    ).toEqual([[holdId, null, true]]);
    const shown = await tidings('consent', 'show', '--org', orgId, phone);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/opt_in +surveys +paper +cli:\S+ +evidence destroyed/);
    expect(
      json<{ history: { kind: string; evidence: string | null; destroyed: boolean }[] }>(
        await tidings('consent', 'export', '--org', orgId, phone),
      ).history.map((e) => [e.kind, e.evidence, e.destroyed]),
    ).toEqual([['opt_in', null, true]]);
    const csv = await tidings('consent', 'export', '--org', orgId, phone, '--format', 'csv');
    expect(csv.code, csv.stderr).toBe(0);
    expect(csv.stdout.trim().split('\n')[1]).toMatch(
      /^"\+16175550142",cev_\w+,surveys,opt_in,paper,,.*,true$/,
    );
    const report = json<{ items: { id: string; state: string }[] }>(
      await tidings('compliance', 'report', '--org', orgId, '--json'),
    );
    expect(report.items.find((i) => i.id === 'retention')?.state).toContain('1 legal holds');
    const lift = await tidings('retention', 'hold', 'lift', '--org', orgId, '--id', holdId);
    expect(lift.code, lift.stderr).toBe(0);
    expect(lift.stdout).toContain(`legal hold ${holdId} lifted`);
    const all = `${holdList.stdout}${shown.stdout}${csv.stdout}`;
    expect(all).not.toContain('Subpoena 12');
    expect(all).not.toContain('intake form #88');

    const verify = await tidings('audit', 'verify', '--json');
    expect(verify.code, verify.stdout).toBe(0);
  });

  it('prints ids and counts, never key material', async () => {
    const outputs = [
      await tidings('keys', 'status', '--json'),
      await tidings('keys', 'status'),
      await tidings('keys', 'rotate', '--json'),
    ];
    const secrets = keyMaterial();
    expect(secrets.length).toBeGreaterThan(0);
    for (const r of outputs) {
      for (const s of secrets) {
        expect(r.stdout).not.toContain(s);
        expect(r.stderr).not.toContain(s);
      }
    }
  });

  it('stops with exit code 2 naming the variable when the key file is bad', async () => {
    const bad = path.join(box.dir, 'bad-keys');
    fs.writeFileSync(bad, 'c2VjcmV0LWJ1dC10b28tc2hvcnQ=\n', { mode: 0o600 });
    process.env.TIDINGS_MASTER_KEY_FILE = bad;
    try {
      const r = await tidings('keys', 'status');
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('TIDINGS_MASTER_KEY_FILE: line 1 is not a 32-byte base64 key');
      expect(r.stderr).not.toContain('c2VjcmV0');
    } finally {
      delete process.env.TIDINGS_MASTER_KEY_FILE;
    }
  });
});
