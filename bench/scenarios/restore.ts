/**
 * @module bench/scenarios/restore
 * Backup and restore at scale (issue 9; the proposed HIPAA Security Rule update asks for
 * restore within 72 hours): fills a fresh SQLite database with `messages` delivered messages
 * (encrypted bodies and numbers, as the pipeline stores them), then times `writeBackup`,
 * `verifyBackup`, `restoreBackup` into an empty directory, and opening the restored copy with
 * a full audit-chain verification. `seconds` is the restore alone; the rest are extra fields.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/index.js';
import { Runtime } from '../../src/runtime/index.js';
import { encrypt, blindIndex, rowAad } from '../../src/crypto/index.js';
import { newId } from '../../src/ids/index.js';
import type { Insertable } from 'kysely';
import { insertRows } from '../../src/store/index.js';
import type { MessagesTable } from '../../src/store/schema.js';
import { restoreBackup, verifyBackup, writeBackup } from '../../src/store/backup.js';
import { SYSTEM_ACTOR } from '../../src/audit/index.js';
import { note, type ScenarioResult } from '../harness.js';

export async function runRestore(opts: { messages: number }): Promise<ScenarioResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tidings-bench-restore-'));
  const master = randomBytes(32).toString('base64');
  const env = (dataDir: string) =>
    loadConfig({
      NODE_ENV: 'test',
      TIDINGS_DATA_DIR: dataDir,
      TIDINGS_MASTER_KEY: master,
      LOG_LEVEL: 'silent',
    });
  const log = pino({ level: 'silent' });
  try {
    const rt = await Runtime.open(env(path.join(dir, 'source')), { log, defaultMetrics: false });
    let orgId: string;
    try {
      orgId = (await rt.orgs.create('Bench Restore Clinic', SYSTEM_ACTOR)).orgId;
      const sender = (await rt.orgs.senders(orgId))[0]!;
      const keyring = await rt.keyrings.get(orgId);
      note(`restore: writing ${opts.messages} messages`);
      const chunk = 20_000;
      const now = Date.now();
      for (let done = 0; done < opts.messages; done += chunk) {
        const rows: Insertable<MessagesTable>[] = [];
        for (let i = done; i < Math.min(opts.messages, done + chunk); i++) {
          const id = newId('msg');
          const to = `+1617555${String(i % 10_000).padStart(4, '0')}`;
          rows.push({
            org_id: orgId,
            id,
            status: 'delivered',
            program: 'care',
            sender_id: sender.id,
            from_number: sender.number,
            to_enc: encrypt(keyring, rowAad(orgId, 'messages', id, 'to'), to),
            to_index: blindIndex(keyring, to),
            body_enc: encrypt(
              keyring,
              rowAad(orgId, 'messages', id, 'body'),
              `Reminder: your appointment at Lakeside Clinic is tomorrow at 9:30. Reply STOP to opt out. ${i}`,
            ),
            segments: 1,
            encoding: 'GSM-7',
            send_at: now,
            attempts: 1,
            carrier_message_id: `sim-${i}`,
            failure_code: null,
            failure_reason: null,
            idempotency_key: null,
            kind: 'standard',
            created_at: now,
            updated_at: now,
            sent_at: now,
            delivered_at: now,
            not_before: null,
            held_by: null,
          });
        }
        await rt.store.transaction((tx) => insertRows(tx, 'messages', rows));
      }
    } finally {
      await rt.close();
    }
    const dbBytes = fs.statSync(path.join(dir, 'source', 'tidings.db')).size;
    const secret = { kind: 'master' as const, keys: [] as { id: string; key: Buffer }[] };
    const { openMasterKeys } = await import('../../src/runtime/master-keys.js');
    secret.keys = [...openMasterKeys(env(path.join(dir, 'source')), log).reload()];

    const src = await Runtime.open(env(path.join(dir, 'source')), { log, defaultMetrics: false });
    const file = path.join(dir, 'snap.tdb');
    let t = performance.now();
    let backupSeconds: number;
    try {
      await writeBackup(src.store, file, secret);
      backupSeconds = (performance.now() - t) / 1000;
    } finally {
      await src.close();
    }
    note(`restore: backup ${backupSeconds.toFixed(1)} s`);
    t = performance.now();
    await verifyBackup(file, secret, dir);
    const verifySeconds = (performance.now() - t) / 1000;
    t = performance.now();
    const r = await restoreBackup(file, secret, {
      dialect: 'sqlite',
      dataDir: path.join(dir, 'restored'),
    });
    const restoreSeconds = (performance.now() - t) / 1000;
    t = performance.now();
    const back = await Runtime.open(env(path.join(dir, 'restored')), {
      log,
      defaultMetrics: false,
    });
    let ok: boolean;
    try {
      ok = (await back.audit.verify({})).ok;
    } finally {
      await back.close();
    }
    const openVerifySeconds = (performance.now() - t) / 1000;
    if (!ok || r.counts.messages !== opts.messages) throw new Error('restore did not match');
    return {
      scenario: 'restore',
      messages: opts.messages,
      seconds: restoreSeconds,
      perSecond: opts.messages / restoreSeconds,
      p50Ms: 0,
      p99Ms: 0,
      rssMb: process.memoryUsage().rss / 1e6,
      extra: {
        dbMb: Math.round(dbBytes / 1e6),
        backupMb: Math.round(fs.statSync(file).size / 1e6),
        backupSeconds: Number(backupSeconds.toFixed(2)),
        verifySeconds: Number(verifySeconds.toFixed(2)),
        openAndAuditVerifySeconds: Number(openVerifySeconds.toFixed(2)),
      },
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
