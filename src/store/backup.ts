/**
 * @module store/backup
 * Backups and restore (45 CFR 164.308(a)(7)(ii)(A) data backup plan, (B) disaster recovery).
 * `writeBackup` takes a consistent snapshot while the server keeps running — on SQLite
 * `VACUUM INTO` from a separate read connection (one read transaction, so writers carry on and
 * the copy never restarts, unlike the page-by-page backup API under constant writes); on
 * PostgreSQL every table exported in one REPEATABLE READ, READ ONLY transaction — compresses
 * it, encrypts it with AES-256-GCM and checksums it.
 *
 * File layout: `TIDINGS-BACKUP/1\n`, one line of header JSON (dialect, time, key derivation,
 * salt, IV, row counts per table — no data), the ciphertext of the gzipped snapshot, the
 * 16-byte GCM tag, and the SHA-256 of everything before it (32 bytes). The key is derived
 * from `TIDINGS_BACKUP_PASSPHRASE` (scrypt) or from the newest master key (HKDF-SHA256),
 * whose id the header names. The snapshot holds the organisations' data keys wrapped by the
 * master key as always, so a restore also needs that master key configured.
 *
 * Everything written here — the backup, its temporary files, the decrypted snapshot checked by
 * `verifyBackup`, the restored database and a data directory it creates — is created
 * owner-only (0600 files, 0700 directory), like the live database.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import readline from 'node:readline';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  hkdfSync,
  randomBytes,
  scryptSync,
} from 'node:crypto';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { AppError } from '../errors/index.js';
import { Store, insertRows, type Database } from './index.js';
import { PRIVATE_FILE_MODE, createPrivateFile, mkdirPrivate } from './sqlite.js';

const MAGIC = 'TIDINGS-BACKUP/1\n';
const TAG_BYTES = 16;
const SHA_BYTES = 32;
const SCRYPT = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

export interface BackupHeader {
  format: 1;
  dialect: 'sqlite' | 'postgres';
  createdAt: string;
  kdf: 'scrypt' | 'hkdf-master-key';
  masterKeyId: string | null;
  salt: string;
  iv: string;
  /** Rows per table at the moment of the snapshot. */
  counts: Record<string, number>;
}

/** Where backup keys come from: a passphrase, or the configured master keys (newest first). */
export type BackupSecret =
  | { kind: 'passphrase'; passphrase: string }
  | { kind: 'master'; keys: readonly { id: string; key: Buffer }[] };

export interface BackupSummary {
  file: string;
  sha256: string;
  bytes: number;
  header: BackupHeader;
}

function deriveKey(
  secret: BackupSecret,
  header: Pick<BackupHeader, 'kdf' | 'salt' | 'masterKeyId'>,
): Buffer {
  const salt = Buffer.from(header.salt, 'base64');
  if (header.kdf === 'scrypt') {
    if (secret.kind !== 'passphrase') {
      throw new AppError(
        'backup_key_missing',
        'This backup was encrypted with TIDINGS_BACKUP_PASSPHRASE: set it.',
      );
    }
    return scryptSync(secret.passphrase, salt, 32, SCRYPT);
  }
  if (secret.kind !== 'master') {
    throw new AppError(
      'backup_invalid',
      'This backup was encrypted with a master key, not a passphrase.',
    );
  }
  const m = secret.keys.find((k) => k.id === header.masterKeyId);
  if (!m) {
    throw new AppError(
      'backup_key_missing',
      `The master key ${header.masterKeyId ?? ''} that encrypted this backup is not configured.`,
    );
  }
  return Buffer.from(hkdfSync('sha256', m.key, salt, 'tidings-backup-v1', 32));
}

/** Tables to copy, parents before children (foreign keys), Kysely's bookkeeping excluded. */
function orderTables(names: readonly string[]): string[] {
  const first = ['organisations', 'users', 'messages'];
  const rest = names.filter((n) => !first.includes(n) && !n.startsWith('kysely_')).sort();
  return [...first.filter((n) => names.includes(n)), ...rest];
}

async function pgTables(db: Store['db']): Promise<string[]> {
  const r = await sql<{ name: string }>`select table_name as name from information_schema.tables
    where table_schema = current_schema() and table_type = 'BASE TABLE'`.execute(db);
  return orderTables(r.rows.map((x) => x.name));
}

function sqliteTables(conn: SQLite.Database): string[] {
  const rows = conn
    .prepare(`select name from sqlite_master where type = 'table' and name not like 'sqlite_%'`)
    .all() as { name: string }[];
  return orderTables(rows.map((r) => r.name)).concat(
    rows.map((r) => r.name).filter((n) => n.startsWith('kysely_')),
  );
}

function sqliteCounts(file: string): Record<string, number> {
  const conn = new SQLite(file, { readonly: true });
  try {
    const counts: Record<string, number> = {};
    for (const t of sqliteTables(conn)) {
      counts[t] = (conn.prepare(`select count(*) as n from "${t}"`).get() as { n: number }).n;
    }
    return counts;
  } finally {
    conn.close();
  }
}

/** Writes an encrypted, checksummed snapshot of the store to `out` (which must not exist). */
export async function writeBackup(
  store: Store,
  out: string,
  secret: BackupSecret,
  now = Date.now(),
): Promise<BackupSummary> {
  if (fs.existsSync(out)) {
    throw new AppError('validation_failed', 'The output file exists; give a new file name.');
  }
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const base = {
    format: 1 as const,
    dialect: store.dialect,
    createdAt: new Date(now).toISOString(),
    kdf: secret.kind === 'passphrase' ? ('scrypt' as const) : ('hkdf-master-key' as const),
    masterKeyId: secret.kind === 'master' ? (secret.keys[0]?.id ?? null) : null,
    salt: salt.toString('base64'),
    iv: iv.toString('base64'),
  };
  const key = deriveKey(secret, base);
  const partial = `${out}.partial`;
  let source: Readable;
  let counts: Record<string, number>;
  let cleanup = () => {};
  if (store.dialect === 'sqlite') {
    const snap = `${out}.snapshot`;
    fs.rmSync(snap, { force: true });
    // VACUUM INTO fills an empty file as it finds it: created first, so it is owner-only.
    createPrivateFile(snap);
    cleanup = () => fs.rmSync(snap, { force: true });
    try {
      const conn = new SQLite(store.location, { readonly: true });
      try {
        conn.pragma('busy_timeout = 10000');
        conn.prepare('vacuum into ?').run(snap);
      } finally {
        conn.close();
      }
      counts = sqliteCounts(snap);
    } catch (e) {
      cleanup();
      throw e;
    }
    source = fs.createReadStream(snap);
  } else {
    const snapshot = await exportPg(store);
    counts = snapshot.counts;
    source = Readable.from(snapshot.lines());
  }
  try {
    const header: BackupHeader = { ...base, counts };
    fs.writeFileSync(partial, MAGIC + JSON.stringify(header) + '\n', {
      flag: 'wx',
      mode: PRIVATE_FILE_MODE,
    });
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    await pipeline(
      source,
      zlib.createGzip({ level: 6 }),
      cipher,
      fs.createWriteStream(partial, { flags: 'a' }),
    );
    fs.appendFileSync(partial, cipher.getAuthTag());
    const sha = await hashFile(partial, fs.statSync(partial).size);
    fs.appendFileSync(partial, sha);
    const fd = fs.openSync(partial, 'r');
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(partial, out);
    return { file: out, sha256: sha.toString('hex'), bytes: fs.statSync(out).size, header };
  } catch (e) {
    fs.rmSync(partial, { force: true });
    throw e;
  } finally {
    cleanup();
  }
}

/**
 * Every table of the PostgreSQL schema in one REPEATABLE READ, READ ONLY transaction (one
 * snapshot), as JSON lines `["table", row]`. Rows are read in primary-key pages.
 */
async function exportPg(
  store: Store,
): Promise<{ counts: Record<string, number>; lines: () => Generator<string> }> {
  // Held in memory between the snapshot and the file: bounded by the database's size, so a
  // large PostgreSQL installation uses the pg_dump procedure in docs/backup.md instead.
  const tables = await pgTables(store.db);
  const rowsOf: Record<string, unknown[]> = {};
  const counts: Record<string, number> = {};
  await store.db
    .transaction()
    .setIsolationLevel('repeatable read')
    .execute(async (tx) => {
      await sql`set transaction read only`.execute(tx);
      for (const t of tables) {
        const r = await sql<Record<string, unknown>>`select * from ${sql.table(t)}`.execute(tx);
        rowsOf[t] = r.rows;
        counts[t] = r.rows.length;
      }
    });
  return {
    counts,
    lines: function* () {
      for (const t of tables) {
        for (const row of rowsOf[t]!) yield JSON.stringify([t, row]) + '\n';
        rowsOf[t] = [];
      }
    },
  };
}

async function hashFile(file: string, end: number): Promise<Buffer> {
  const h = createHash('sha256');
  if (end > 0) await pipeline(fs.createReadStream(file, { end: end - 1 }), h);
  return h.digest();
}

interface Opened {
  header: BackupHeader;
  sha256: string;
  /** The decrypted, decompressed snapshot. */
  plain: () => Readable;
}

function readHeader(file: string): { header: BackupHeader; offset: number } {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(64 * 1024);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    const text = buf.subarray(0, n).toString('latin1');
    if (!text.startsWith(MAGIC)) throw new AppError('backup_invalid');
    const end = text.indexOf('\n', MAGIC.length);
    if (end < 0) throw new AppError('backup_invalid');
    const header = JSON.parse(text.slice(MAGIC.length, end)) as BackupHeader;
    if (header.format !== 1) throw new AppError('backup_invalid');
    return { header, offset: end + 1 };
  } catch (e) {
    if (e instanceof AppError) throw e;
    throw new AppError('backup_invalid');
  } finally {
    fs.closeSync(fd);
  }
}

/** Checks the checksum and opens the file for decryption (authenticated by the GCM tag). */
async function openBackup(file: string, secret: BackupSecret): Promise<Opened> {
  if (!fs.existsSync(file)) throw new AppError('backup_invalid', 'The backup file does not exist.');
  const size = fs.statSync(file).size;
  const { header, offset } = readHeader(file);
  if (size < offset + TAG_BYTES + SHA_BYTES) throw new AppError('backup_invalid');
  const want = Buffer.alloc(SHA_BYTES);
  const tag = Buffer.alloc(TAG_BYTES);
  const fd = fs.openSync(file, 'r');
  fs.readSync(fd, want, 0, SHA_BYTES, size - SHA_BYTES);
  fs.readSync(fd, tag, 0, TAG_BYTES, size - SHA_BYTES - TAG_BYTES);
  fs.closeSync(fd);
  const got = await hashFile(file, size - SHA_BYTES);
  if (!got.equals(want))
    throw new AppError(
      'backup_invalid',
      'The backup’s checksum does not match: the file is damaged.',
    );
  const key = deriveKey(secret, header);
  return {
    header,
    sha256: got.toString('hex'),
    plain: () => {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(header.iv, 'base64'));
      decipher.setAuthTag(tag);
      const cipherText = fs.createReadStream(file, {
        start: offset,
        end: size - SHA_BYTES - TAG_BYTES - 1,
      });
      const gunzip = zlib.createGunzip();
      cipherText.on('error', (e) => gunzip.destroy(e));
      decipher.on('error', () => gunzip.destroy(new AppError('backup_invalid')));
      return cipherText.pipe(decipher).pipe(gunzip);
    },
  };
}

/**
 * Decrypts the snapshot to `dest` (SQLite; a new file, created mode 0600) and checks it, or
 * counts its rows (PostgreSQL).
 */
async function unpack(o: Opened, sqliteDest: string | undefined): Promise<Record<string, number>> {
  try {
    if (o.header.dialect === 'sqlite') {
      await pipeline(
        o.plain(),
        fs.createWriteStream(sqliteDest!, { flags: 'wx', mode: PRIVATE_FILE_MODE }),
      );
      const conn = new SQLite(sqliteDest, { readonly: true });
      try {
        const ok = conn.pragma('integrity_check', { simple: true });
        if (ok !== 'ok')
          throw new AppError('backup_invalid', 'The restored database fails its integrity check.');
      } finally {
        conn.close();
      }
      return sqliteCounts(sqliteDest!);
    }
    const counts: Record<string, number> = {};
    await forEachPgRow(o, (t) => {
      counts[t] = (counts[t] ?? 0) + 1;
      return Promise.resolve();
    });
    return counts;
  } catch (e) {
    if (e instanceof AppError) throw e;
    throw new AppError('backup_invalid');
  }
}

async function forEachPgRow(
  o: Opened,
  fn: (table: string, row: Record<string, unknown>) => Promise<void>,
): Promise<void> {
  const rl = readline.createInterface({ input: o.plain(), crlfDelay: Infinity });
  for await (const line of rl) {
    if (!line) continue;
    const [t, row] = JSON.parse(line) as [string, Record<string, unknown>];
    await fn(t, row);
  }
}

function sameCounts(a: Record<string, number>, b: Record<string, number>): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((k) => (a[k] ?? 0) === (b[k] ?? 0));
}

/**
 * Verifies a backup end to end: checksum, decryption (GCM tag), decompression, the snapshot's
 * own integrity (SQLite `integrity_check`) and its row counts against the header.
 */
export async function verifyBackup(
  file: string,
  secret: BackupSecret,
  tmpDir: string,
): Promise<BackupSummary> {
  const o = await openBackup(file, secret);
  const tmp = path.join(tmpDir, `.verify-${randomBytes(6).toString('hex')}.db`);
  try {
    const counts = await unpack(o, o.header.dialect === 'sqlite' ? tmp : undefined);
    if (!sameCounts(counts, o.header.counts)) {
      throw new AppError('backup_invalid', 'The backup’s row counts do not match its header.');
    }
  } finally {
    for (const f of [tmp, `${tmp}-wal`, `${tmp}-shm`]) fs.rmSync(f, { force: true });
  }
  return { file, sha256: o.sha256, bytes: fs.statSync(file).size, header: o.header };
}

export type RestoreTarget =
  | { dialect: 'sqlite'; dataDir: string }
  | { dialect: 'postgres'; databaseUrl: string; pgSchema?: string };

/**
 * Restores a backup into an empty data directory (SQLite) or an empty database schema
 * (PostgreSQL); refuses anything that already holds Tidings data.
 */
export async function restoreBackup(
  file: string,
  secret: BackupSecret,
  target: RestoreTarget,
): Promise<BackupSummary & { counts: Record<string, number> }> {
  const o = await openBackup(file, secret);
  if (o.header.dialect !== target.dialect) {
    throw new AppError(
      'validation_failed',
      `This is a ${o.header.dialect} backup; restore it into ${o.header.dialect}.`,
    );
  }
  if (target.dialect === 'sqlite') {
    const db = path.join(target.dataDir, 'tidings.db');
    if ([db, `${db}-wal`].some((f) => fs.existsSync(f)))
      throw new AppError('restore_target_not_empty');
    mkdirPrivate(target.dataDir);
    const tmp = `${db}.restoring`;
    fs.rmSync(tmp, { force: true }); // left by an interrupted restore
    try {
      const counts = await unpack(o, tmp);
      if (!sameCounts(counts, o.header.counts)) throw new AppError('backup_invalid');
      const fd = fs.openSync(tmp, 'r');
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      fs.renameSync(tmp, db);
      return { file, sha256: o.sha256, bytes: fs.statSync(file).size, header: o.header, counts };
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }
  const store = Store.open({
    databaseUrl: target.databaseUrl,
    dataDir: '.',
    ...(target.pgSchema ? { pgSchema: target.pgSchema } : {}),
  });
  try {
    for (const t of await pgTables(store.db)) {
      const any = await sql`select 1 from ${sql.table(t)} limit 1`.execute(store.db);
      if (any.rows.length > 0) throw new AppError('restore_target_not_empty');
    }
    await store.migrate();
    const counts: Record<string, number> = {};
    await store.db.transaction().execute(async (tx) => {
      let table = '';
      let batch: Record<string, unknown>[] = [];
      const flush = async () => {
        if (batch.length === 0) return;
        await insertRows(tx, table as keyof Database, batch as never[]);
        batch = [];
      };
      await forEachPgRow(o, async (t, row) => {
        if (t !== table) {
          await flush();
          table = t;
        }
        if (t.startsWith('kysely_')) return;
        batch.push(row);
        counts[t] = (counts[t] ?? 0) + 1;
        if (batch.length >= 1000) await flush();
      });
      await flush();
    });
    return { file, sha256: o.sha256, bytes: fs.statSync(file).size, header: o.header, counts };
  } finally {
    await store.close();
  }
}
