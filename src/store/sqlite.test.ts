import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqlite, type SqliteHandle } from './sqlite.js';

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
});
