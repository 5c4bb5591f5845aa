import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPrivateFile, mkdirPrivate, openSqlite, type SqliteHandle } from './sqlite.js';

let dir: string;
let handle: SqliteHandle | undefined;

afterEach(async () => {
  await handle?.close();
  handle = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

function open(): { handle: SqliteHandle; file: string } {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tidings-sqlite-'));
  const file = path.join(dir, 'test.db');
  handle = openSqlite(file);
  return { handle, file };
}

describe('embedded SQLite connection', () => {
  it('reuses one prepared statement per SQL text', () => {
    const { handle: h } = open();
    const a = h.database.prepare('select 1 as one');
    const b = h.database.prepare('select 1 as one');
    expect(a).toBe(b);
    expect(a.all([])).toEqual([{ one: 1 }]);
  });

  it('checkpoints the write-ahead log from the worker thread', async () => {
    const { handle: h, file } = open();
    h.database.prepare('create table t (v text)').run([]);
    const insert = h.database.prepare('insert into t (v) values (?)');
    for (let i = 0; i < 2000; i++) insert.run(['x'.repeat(500)]);
    // About 260 pages, far below the main connection's fallback threshold: only the worker
    // thread copies them back (it may already have begun while the rows went in).
    const [auto] = h.database.prepare('pragma wal_autocheckpoint').all([]) as {
      wal_autocheckpoint: number;
    }[];
    expect(auto!.wal_autocheckpoint).toBeGreaterThan(1000);
    // The worker thread may be slow to start on a loaded machine.
    const deadline = Date.now() + 20_000;
    // 2,000 rows of 500 bytes: the main file holds them all once checkpointed.
    while (fs.statSync(file).size <= 1_000_000 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(fs.statSync(file).size).toBeGreaterThan(1_000_000);
  });

  it('closes cleanly, stopping the checkpointer', async () => {
    const { handle: h } = open();
    await h.close();
    await h.close(); // idempotent
    expect(() => h.database.prepare('select 2')).toThrow();
    handle = undefined;
  });

  describe('file modes under umask 022', () => {
    let umask: number;
    beforeEach(() => {
      umask = process.umask(0o022);
    });
    afterEach(() => {
      process.umask(umask);
    });
    const modeOf = (f: string) => fs.statSync(f).mode & 0o777;

    it('creates a new database and its -wal and -shm files owner-only (0600)', () => {
      const { handle: h, file } = open();
      h.database.prepare('create table t (v text)').run([]);
      h.database.prepare('insert into t (v) values (?)').run(['x']);
      expect(fs.existsSync(`${file}-wal`)).toBe(true);
      expect(modeOf(file)).toBe(0o600);
      expect(modeOf(`${file}-wal`)).toBe(0o600);
      expect(modeOf(`${file}-shm`)).toBe(0o600);
    });

    it('keeps the mode of a database that already exists (its WAL follows it)', () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tidings-sqlite-'));
      const file = path.join(dir, 'test.db');
      fs.writeFileSync(file, '', { mode: 0o640 });
      fs.chmodSync(file, 0o640);
      handle = openSqlite(file);
      handle.database.prepare('create table t (v text)').run([]);
      expect(modeOf(file)).toBe(0o640);
      expect(modeOf(`${file}-wal`)).toBe(0o640);
    });

    it('creates directories 0700 and files 0600, leaving existing ones alone', () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tidings-sqlite-'));
      const nested = path.join(dir, 'a', 'b');
      mkdirPrivate(nested);
      expect(modeOf(path.join(dir, 'a'))).toBe(0o700);
      expect(modeOf(nested)).toBe(0o700);
      const shared = path.join(dir, 'shared');
      fs.mkdirSync(shared);
      fs.chmodSync(shared, 0o750);
      mkdirPrivate(shared);
      expect(modeOf(shared)).toBe(0o750);

      const file = path.join(dir, 'f');
      expect(createPrivateFile(file)).toBe(true);
      expect(modeOf(file)).toBe(0o600);
      fs.writeFileSync(file, 'kept');
      fs.chmodSync(file, 0o644);
      expect(createPrivateFile(file)).toBe(false);
      expect(modeOf(file)).toBe(0o644);
      expect(fs.readFileSync(file, 'utf8')).toBe('kept');
    });
  });
});
