/**
 * @module store
 * Database access for every other part: one Kysely instance over SQLite (better-sqlite3, the
 * embedded default) or PostgreSQL (`pg`, for scale-out), portable migrations, and a write
 * transaction that behaves the same on both. Modules own their tables and reach them only
 * through this handle; nothing here knows about messaging.
 */
import fs from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import type { Database } from './schema.js';
import { migrationProvider } from './migrations.js';

export type { Database } from './schema.js';
export type Dialect = 'sqlite' | 'postgres';
export type Db = Kysely<Database>;

// PostgreSQL returns int8 (bigint) as strings; our bigints are epoch milliseconds and counts,
// well inside Number's exact range.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export interface StoreOptions {
  /** `postgres://…` for PostgreSQL; unset for SQLite in `dataDir`. */
  databaseUrl?: string | undefined;
  /** Directory holding `tidings.db` when on SQLite. */
  dataDir: string;
  /** PostgreSQL schema to use (tests use a fresh one per run). */
  pgSchema?: string;
  /** PostgreSQL pool size. */
  poolSize?: number;
}

export class Store {
  private constructor(
    readonly db: Db,
    readonly dialect: Dialect,
    /** Where the data lives, for messages and backups; never contains credentials. */
    readonly location: string,
  ) {}

  static open(opts: StoreOptions): Store {
    if (opts.databaseUrl) {
      const pool = new pg.Pool({
        connectionString: opts.databaseUrl,
        max: opts.poolSize ?? 10,
        ...(opts.pgSchema ? { options: `-c search_path=${opts.pgSchema}` } : {}),
      });
      const url = new URL(opts.databaseUrl);
      return new Store(
        new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }),
        'postgres',
        `postgres://${url.host}${url.pathname}`,
      );
    }
    fs.mkdirSync(opts.dataDir, { recursive: true });
    const file = path.join(opts.dataDir, 'tidings.db');
    const database = new SQLite(file);
    database.pragma('journal_mode = WAL');
    // FULL: a commit is on disk before it returns, so a 202 survives power loss, not only kill -9.
    database.pragma('synchronous = FULL');
    database.pragma('foreign_keys = ON');
    database.pragma('busy_timeout = 10000');
    return new Store(
      new Kysely<Database>({ dialect: new SqliteDialect({ database }) }),
      'sqlite',
      file,
    );
  }

  /** Applies every pending migration; returns the names applied. */
  async migrate(): Promise<string[]> {
    // On PostgreSQL, keep Kysely's bookkeeping tables in our own schema: without this it
    // finds another schema's tables in the same database and skips creating its own.
    const schema =
      this.dialect === 'postgres'
        ? (await sql<{ s: string }>`select current_schema() as s`.execute(this.db)).rows[0]?.s
        : undefined;
    const migrator = new Migrator({
      db: this.db,
      provider: migrationProvider,
      ...(schema ? { migrationTableSchema: schema } : {}),
    });
    const { error, results } = await migrator.migrateToLatest();
    if (error)
      throw error instanceof Error ? error : new Error('migration failed', { cause: error });
    return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
  }

  /**
   * Runs `fn` in one write transaction. On SQLite it is `BEGIN IMMEDIATE`, taking the write
   * lock up front so two processes never deadlock upgrading a read lock; on PostgreSQL it is
   * an ordinary transaction (row locks are taken where the caller asks for them).
   */
  async transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    if (this.dialect === 'postgres') return this.db.transaction().execute(fn);
    return this.db.connection().execute(async (conn) => {
      await sql`begin immediate`.execute(conn);
      try {
        const result = await fn(conn);
        await sql`commit`.execute(conn);
        return result;
      } catch (e) {
        await sql`rollback`.execute(conn);
        throw e;
      }
    });
  }

  /** True when the database answers a trivial query. */
  async ping(): Promise<boolean> {
    try {
      await sql`select 1`.execute(this.db);
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}
