/**
 * What Tidings creates on disk is its own user's only, whatever the umask lets through: a new
 * data directory (0700), the SQLite database and its -wal/-shm files, the generated development
 * master key, backups written by `tidings backup --out` and databases restored by `tidings
 * restore` (0600). A directory that already exists keeps the mode the operator gave it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { cliSandbox, runCli, type CliRun } from './cli-runner.js';
import { SYSTEM_ACTOR } from '../src/audit/index.js';
import { loadConfig } from '../src/config/index.js';
import { Runtime } from '../src/runtime/index.js';

const modeOf = (f: string): number => fs.statSync(f).mode & 0o777;

function ok(r: CliRun): CliRun {
  expect(r.code, r.stderr).toBe(0);
  return r;
}

/** Opens a runtime on `dataDir`, makes one write, and checks the live files while open. */
async function openAndWrite(dataDir: string, env: Record<string, string> = {}): Promise<void> {
  const rt = await Runtime.open(
    loadConfig({ NODE_ENV: 'test', TIDINGS_DATA_DIR: dataDir, LOG_LEVEL: 'silent', ...env }),
    { log: pino({ level: 'silent' }), defaultMetrics: false },
  );
  try {
    await rt.orgs.create('Permissions Clinic', SYSTEM_ACTOR);
    const db = path.join(dataDir, 'tidings.db');
    expect(fs.existsSync(`${db}-wal`)).toBe(true);
    expect(modeOf(db)).toBe(0o600);
    expect(modeOf(`${db}-wal`)).toBe(0o600);
    expect(modeOf(`${db}-shm`)).toBe(0o600);
  } finally {
    await rt.close();
  }
}

describe('file permissions under umask 022', () => {
  const box = cliSandbox('tidings-perms-', () => ({
    TIDINGS_BACKUP_PASSPHRASE: 'correct horse battery staple',
  }));
  let umask: number;

  beforeAll(() => {
    umask = process.umask(0o022);
  });
  afterAll(() => {
    process.umask(umask);
  });

  it('creates the data directory, database, master key, backup and restore owner-only', async () => {
    // A data directory that does not exist yet, nor its parent.
    const data = path.join(box.dir, 'srv', 'data');
    await openAndWrite(data);
    expect(modeOf(path.join(box.dir, 'srv'))).toBe(0o700);
    expect(modeOf(data)).toBe(0o700);
    expect(modeOf(path.join(data, 'master.key'))).toBe(0o600);

    // The CLI, as an operator runs it.
    process.env.TIDINGS_DATA_DIR = data;
    const backups = path.join(box.dir, 'backups');
    fs.mkdirSync(backups);
    const file = path.join(backups, 'snap.tdb');
    ok(await runCli('backup', '--out', file));
    expect(modeOf(file)).toBe(0o600);
    expect(modeOf(backups)).toBe(0o755); // an existing directory is left as it was
    ok(await runCli('backup', 'verify', file));
    expect(fs.readdirSync(backups)).toEqual(['snap.tdb']);

    // Restore into a directory that does not exist yet, with the same master key.
    const restored = path.join(box.dir, 'restored', 'data');
    process.env.TIDINGS_DATA_DIR = restored;
    process.env.TIDINGS_MASTER_KEY_FILE = path.join(data, 'master.key');
    ok(await runCli('restore', '--in', file));
    expect(modeOf(path.join(box.dir, 'restored'))).toBe(0o700);
    expect(modeOf(restored)).toBe(0o700);
    expect(modeOf(path.join(restored, 'tidings.db'))).toBe(0o600);
    expect(fs.readdirSync(restored).filter((f) => !f.startsWith('tidings.db'))).toEqual([]);
    await openAndWrite(restored, { TIDINGS_MASTER_KEY_FILE: path.join(data, 'master.key') });
    delete process.env.TIDINGS_MASTER_KEY_FILE;
  }, 60_000);

  it('leaves the mode of a data directory that already exists', async () => {
    const data = path.join(box.dir, 'shared-data');
    fs.mkdirSync(data);
    fs.chmodSync(data, 0o750);
    await openAndWrite(data);
    expect(modeOf(data)).toBe(0o750);

    const restored = path.join(box.dir, 'shared-restore');
    fs.mkdirSync(restored);
    fs.chmodSync(restored, 0o750);
    const file = path.join(box.dir, 'shared.tdb');
    process.env.TIDINGS_DATA_DIR = data;
    ok(await runCli('backup', '--out', file));
    process.env.TIDINGS_DATA_DIR = restored;
    process.env.TIDINGS_MASTER_KEY_FILE = path.join(data, 'master.key');
    ok(await runCli('restore', '--in', file));
    delete process.env.TIDINGS_MASTER_KEY_FILE;
    expect(modeOf(restored)).toBe(0o750);
    expect(modeOf(path.join(restored, 'tidings.db'))).toBe(0o600);
  }, 60_000);
});
