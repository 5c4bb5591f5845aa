/**
 * @module store/sqlite
 * The embedded database: one better-sqlite3 connection tuned for a durable, write-heavy
 * queue. Two things keep the event loop free for requests:
 *
 * - prepared statements are cached by SQL text, so a hot query is parsed once, not per call;
 * - WAL checkpoints (copying committed pages back into the main file, with their own fsync)
 *   run on a separate connection in a worker thread every second instead of inside whichever
 *   commit happened to cross the WAL size threshold. The main connection still checkpoints
 *   by itself if the WAL ever grows past 64 MiB, so a stalled worker cannot let it grow
 *   without bound.
 *
 * Files Tidings creates for the database are the service user's only (see `PRIVATE_FILE_MODE`).
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import SQLite from 'better-sqlite3';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

const STATEMENT_CACHE_SIZE = 256;
const CHECKPOINT_EVERY_MS = 1000;
/** Pages (4 KiB) the WAL may reach before the main connection checkpoints by itself. */
const FALLBACK_AUTOCHECKPOINT_PAGES = 16384;

// Runs in the worker thread: plain CommonJS, no access to this module's imports.
const CHECKPOINTER = `
const { parentPort, workerData } = require('node:worker_threads');
const SQLite = require(workerData.driver);
const db = new SQLite(workerData.file);
db.pragma('busy_timeout = 1000');
const timer = setInterval(() => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch { /* busy: try again next tick */ }
}, workerData.everyMs);
parentPort.on('message', () => { clearInterval(timer); db.close(); parentPort.close(); });
`;

/**
 * Modes for what Tidings creates that holds the installation's data or describes it: the data
 * directory, databases, backups and their temporary files — owner only, like the master key
 * file and `tidings audit export --out`. The mode is given when the file or directory is
 * created (so there is no moment when another user can open it) and the umask can only narrow
 * it; a file or directory that already exists keeps the mode it has, which may be an
 * operator's deliberate choice.
 */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** Creates `dir` (and any missing parents) with mode 0700; an existing one is left as it is. */
export function mkdirPrivate(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
}

/** Creates `file` empty with mode 0600; false, changing nothing, when it already exists. */
export function createPrivateFile(file: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, 'wx', PRIVATE_FILE_MODE);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  fs.closeSync(fd);
  return true;
}

export interface SqliteHandle {
  /** What Kysely's SqliteDialect drives: the connection behind a statement cache. */
  database: SqliteDatabase;
  /** Stops the checkpointer and closes the connection. */
  close(): Promise<void>;
}

/**
 * Opens (creating it if need be) the database `file`. A new file is created with mode 0600
 * before SQLite opens it: SQLite then gives its `-wal` and `-shm` files the main file's mode,
 * so they are owner-only too (an existing database's mode, and so its WAL's, is kept).
 */
export function openSqlite(file: string): SqliteHandle {
  createPrivateFile(file);
  const conn = new SQLite(file);
  conn.pragma('journal_mode = WAL');
  // FULL: a commit is on disk before it returns, so a 202 survives power loss, not only kill -9.
  conn.pragma('synchronous = FULL');
  conn.pragma('foreign_keys = ON');
  conn.pragma('busy_timeout = 10000');
  conn.pragma(`wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT_PAGES}`);

  // Statements are never iterated (no streaming queries), so one cached statement per SQL
  // text is never busy when it is reused.
  const cache = new Map<string, SqliteStatement>();
  const prepare = (text: string): SqliteStatement => {
    let stmt = cache.get(text);
    if (stmt) {
      cache.delete(text); // re-insert: the Map's order is the recency order
    } else {
      stmt = conn.prepare(text);
      if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value!);
    }
    cache.set(text, stmt);
    return stmt;
  };

  const checkpointer = new Worker(CHECKPOINTER, {
    eval: true,
    workerData: {
      driver: createRequire(import.meta.url).resolve('better-sqlite3'),
      file,
      everyMs: CHECKPOINT_EVERY_MS,
    },
  });
  checkpointer.unref();
  const stopped = new Promise<void>((resolve) => checkpointer.once('exit', () => resolve()));

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      checkpointer.ref(); // an unref'd worker's exit would not keep this await alive
      checkpointer.postMessage('stop');
      await stopped;
      cache.clear();
      conn.close();
    })());
  return { database: { prepare, close: () => void close() }, close };
}
