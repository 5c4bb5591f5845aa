/**
 * @module cli/backup
 * `tidings backup --out FILE`, `tidings backup verify FILE` and `tidings restore --in FILE`
 * (docs/backup.md). Prints file names, sizes, checksums and row counts, never data.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { pino } from 'pino';
import type { CommandDeps } from './deps.js';
import { loadConfig, type Config } from '../config/index.js';
import { AppError } from '../errors/index.js';
import { openMasterKeys } from '../runtime/master-keys.js';
import { appendAudit } from '../audit/index.js';
import { newId } from '../ids/index.js';
import {
  restoreBackup,
  verifyBackup,
  writeBackup,
  type BackupSecret,
  type BackupSummary,
} from '../store/backup.js';
import type { Runtime } from '../runtime/index.js';

/** The passphrase when set, else the configured master keys; never a generated development key. */
export function backupSecret(config: Config): BackupSecret {
  if (config.backupPassphrase) return { kind: 'passphrase', passphrase: config.backupPassphrase };
  if (!config.masterKey && !config.masterKeyFile) throw new AppError('backup_key_missing');
  return { kind: 'master', keys: openMasterKeys(config, pino({ level: 'silent' })).reload() };
}

/** Notes a backup written or verified (installation-wide; read by the compliance report). */
export async function recordBackup(
  rt: Runtime,
  kind: 'created' | 'verified' | 'restored',
  s: BackupSummary,
  actor: CommandDeps['actor'],
): Promise<void> {
  const now = Date.now();
  const orgs = await rt.orgs.list();
  await rt.store.transaction(async (tx) => {
    await tx
      .insertInto('backup_records')
      .values({ id: newId('bak'), kind, sha256: s.sha256, at: now })
      .execute();
    if (kind === 'verified') return;
    await appendAudit(
      tx,
      rt.store.dialect,
      orgs.map((o) => ({
        orgId: o.id,
        actor,
        action: kind === 'created' ? ('backup.created' as const) : ('backup.restored' as const),
        targetType: 'backup',
        targetId: s.sha256.slice(0, 16),
        details: { bytes: s.bytes, messages: s.header.counts.messages ?? 0 },
      })),
      now,
    );
  });
}

function countsLine(counts: Record<string, number>): string {
  const pick = ['organisations', 'messages', 'audit_events', 'consent_events'];
  return pick.map((t) => `${t} ${counts[t] ?? 0}`).join(', ');
}

export function addBackupCommands(cli: Command, d: CommandDeps): void {
  const backup = cli
    .command('backup')
    .description('write an encrypted, checksummed snapshot while the server runs (docs/backup.md)')
    .option('--out <file>', 'the backup file to write (must not exist; created mode 0600)')
    .option('--json', 'print JSON')
    .action((o: { out?: string; json?: boolean }) => {
      if (!o.out) throw d.usage('give --out FILE (or use: tidings backup verify FILE)');
      const out = path.resolve(o.out);
      return d.withRuntime(async (rt) => {
        const s = await writeBackup(rt.store, out, backupSecret(rt.config));
        await recordBackup(rt, 'created', s, d.actor);
        d.print(
          Boolean(o.json),
          s,
          `backup ${s.file}\n${s.bytes} bytes, sha256 ${s.sha256}\n${countsLine(s.header.counts)}`,
        );
      });
    });

  backup
    .command('verify <file>')
    .description('check a backup: checksum, decryption, integrity and row counts')
    .option('--json', 'print JSON')
    .action(async (file: string, o: { json?: boolean }) => {
      // `--json` after `verify` may be taken by `backup` itself (it has the option too).
      const json = Boolean(o.json) || Boolean(backup.opts<{ json?: boolean }>().json);
      const config = loadConfig();
      const s = await verifyBackup(
        path.resolve(file),
        backupSecret(config),
        path.dirname(path.resolve(file)),
      );
      // Note the verification in this installation's store, when there is one here.
      if (config.databaseUrl || fs.existsSync(path.join(config.dataDir, 'tidings.db'))) {
        await d.withRuntime((rt) => recordBackup(rt, 'verified', s, d.actor));
      }
      d.print(
        json,
        { ok: true, ...s },
        `backup ok: ${s.header.dialect} snapshot of ${s.header.createdAt}\nsha256 ${s.sha256}\n${countsLine(s.header.counts)}`,
      );
    });

  cli
    .command('restore')
    .description('restore a backup into an empty data directory or database (refuses otherwise)')
    .requiredOption('--in <file>', 'the backup file')
    .option('--json', 'print JSON')
    .action(async (o: { in: string; json?: boolean }) => {
      const config = loadConfig();
      const r = await restoreBackup(
        path.resolve(o.in),
        backupSecret(config),
        config.databaseUrl
          ? { dialect: 'postgres', databaseUrl: config.databaseUrl }
          : { dialect: 'sqlite', dataDir: config.dataDir },
      );
      // Open what was restored: migrations bring it up to date, the audit chain must verify.
      const verified = await d.withRuntime(async (rt) => {
        const v = await rt.audit.verify({});
        await recordBackup(rt, 'restored', r, d.actor);
        return v.ok;
      });
      d.print(
        Boolean(o.json),
        { ...r, auditVerified: verified },
        `restored ${r.header.dialect} snapshot of ${r.header.createdAt}\n${countsLine(r.counts)}\naudit chain ${verified ? 'verified' : 'FAILS verification: run tidings audit verify'}`,
      );
    });
}
