/**
 * Backups while messages flow, restored elsewhere: the copy is consistent (row counts equal
 * the snapshot's), the audit chain verifies, and the data opens with the same master key.
 * Damaged files, wrong keys and non-empty targets are refused. SQLite and PostgreSQL.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import {
  announcePgSkip,
  DIALECTS,
  freshPgSchema,
  openTestRuntime,
  PG_URL,
  tempDir,
} from './helpers.js';
import { SYSTEM_ACTOR } from '../src/audit/index.js';
import { loadConfig } from '../src/config/index.js';
import { Runtime } from '../src/runtime/index.js';
import { restoreBackup, verifyBackup, writeBackup } from '../src/store/backup.js';
import { backupSecret } from '../src/cli/backup.js';

announcePgSkip('backup and restore');
const ACTOR = { type: 'cli' as const, id: 'test' };
const MASTER = randomBytes(32).toString('base64');

describe.each(DIALECTS)('backup and restore on %s', (dialect) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('backs up while messages flow; the restore verifies and matches the snapshot', async () => {
    const t = await openTestRuntime({ dialect, env: { TIDINGS_MASTER_KEY: MASTER } });
    cleanups.push(() => t.cleanup());
    const orgId = (await t.rt.orgs.create('Backup Clinic', SYSTEM_ACTOR)).orgId;
    t.rt.startWorkers();
    let sending = true;
    let sent = 0;
    const flow = (async () => {
      while (sending) {
        await t.rt.send(orgId, ACTOR, {
          to: `+1617555${String(2000 + (sent % 500)).padStart(4, '0')}`,
          body: `Reminder ${sent}`,
          program: 'care',
        });
        sent++;
      }
    })();
    while (sent < 50) await new Promise((r) => setTimeout(r, 10));
    const dir = tempDir('tidings-backup-');
    cleanups.push(() => Promise.resolve(fs.rmSync(dir, { recursive: true, force: true })));
    const file = path.join(dir, 'snap.tdb');
    const secret = backupSecret(t.config);
    const s = await writeBackup(t.rt.store, file, secret);
    const atBackup = sent;
    while (sent < atBackup + 20) await new Promise((r) => setTimeout(r, 10));
    sending = false;
    await flow;

    expect(s.header.counts.messages).toBeGreaterThanOrEqual(50);
    expect(s.header.counts.messages).toBeLessThanOrEqual(atBackup + 1);
    expect(fs.readFileSync(file).includes(Buffer.from('Reminder'))).toBe(false);
    const v = await verifyBackup(file, secret, dir);
    expect(v.sha256).toBe(s.sha256);

    // Restore elsewhere.
    const target = tempDir('tidings-restore-');
    cleanups.push(() => Promise.resolve(fs.rmSync(target, { recursive: true, force: true })));
    const env: Record<string, string> = {
      NODE_ENV: 'test',
      TIDINGS_DATA_DIR: target,
      TIDINGS_MASTER_KEY: MASTER,
      LOG_LEVEL: 'silent',
    };
    let pgSchema: string | undefined;
    if (dialect === 'postgres') {
      const fresh = await freshPgSchema(PG_URL!);
      cleanups.push(fresh.drop);
      pgSchema = fresh.schema;
      env.DATABASE_URL = PG_URL!;
    }
    const r = await restoreBackup(
      file,
      secret,
      dialect === 'postgres'
        ? { dialect, databaseUrl: PG_URL!, pgSchema: pgSchema! }
        : { dialect, dataDir: target },
    );
    expect(r.counts.messages).toBe(s.header.counts.messages);
    expect(r.counts.audit_events).toBe(s.header.counts.audit_events);

    const rt2 = await Runtime.open(loadConfig(env), {
      log: pino({ level: 'silent' }),
      defaultMetrics: false,
      ...(pgSchema ? { pgSchema } : {}),
    });
    try {
      expect((await rt2.audit.verify({})).ok).toBe(true);
      const n = await rt2.store.db
        .selectFrom('messages')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      expect(Number(n.n)).toBe(s.header.counts.messages);
      const page = await rt2.messaging.list(orgId, { limit: 1 }, ACTOR);
      const m = await rt2.messaging.get(orgId, page.data[0]!.id, ACTOR);
      expect(m.body).toMatch(/^Reminder \d+$/);
    } finally {
      await rt2.close();
    }

    // A second restore into the same target is refused.
    await expect(
      restoreBackup(
        file,
        secret,
        dialect === 'postgres'
          ? { dialect, databaseUrl: PG_URL!, pgSchema: pgSchema! }
          : { dialect, dataDir: target },
      ),
    ).rejects.toMatchObject({ code: 'restore_target_not_empty' });
  }, 60_000);

  it('refuses a damaged file and the wrong key', async () => {
    const t = await openTestRuntime({
      dialect,
      env: { TIDINGS_BACKUP_PASSPHRASE: 'correct horse battery staple' },
    });
    cleanups.push(() => t.cleanup());
    await t.rt.orgs.create('Small Clinic', SYSTEM_ACTOR);
    const dir = tempDir('tidings-backup-');
    cleanups.push(() => Promise.resolve(fs.rmSync(dir, { recursive: true, force: true })));
    const file = path.join(dir, 'a.tdb');
    const secret = backupSecret(t.config);
    expect(secret.kind).toBe('passphrase');
    await writeBackup(t.rt.store, file, secret);
    await expect(
      verifyBackup(file, { kind: 'passphrase', passphrase: 'wrong passphrase here!' }, dir),
    ).rejects.toMatchObject({ code: 'backup_invalid' });
    const bytes = fs.readFileSync(file);
    const at = bytes.length - 100;
    bytes.writeUInt8(bytes.readUInt8(at) ^ 0xff, at);
    fs.writeFileSync(path.join(dir, 'b.tdb'), bytes);
    await expect(verifyBackup(path.join(dir, 'b.tdb'), secret, dir)).rejects.toMatchObject({
      code: 'backup_invalid',
    });
    await expect(writeBackup(t.rt.store, file, secret)).rejects.toMatchObject({
      code: 'validation_failed',
    });
  }, 60_000);
});
