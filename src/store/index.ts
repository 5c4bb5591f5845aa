/**
 * @module store
 * Database access for every other part: one Kysely instance over SQLite (better-sqlite3, the
 * embedded default) or PostgreSQL (`pg`, for scale-out), portable migrations, and a write
 * transaction that behaves the same on both. Modules own their tables and reach them only
 * through this handle; nothing here knows about messaging.
 */
import path from 'node:path';
import pg from 'pg';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql, type Insertable } from 'kysely';
import type { Database } from './schema.js';
import { migrationProvider } from './migrations.js';
import { mkdirPrivate, openSqlite, type SqliteHandle } from './sqlite.js';

export type { Database } from './schema.js';
export type Dialect = 'sqlite' | 'postgres';
export type Db = Kysely<Database>;

// PostgreSQL returns int8 (bigint) as strings; our bigints are epoch milliseconds and counts,
// well inside Number's exact range.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export interface StoreOptions {
  /** `postgres://…` for PostgreSQL; unset for SQLite in `dataDir`. */
  databaseUrl?: string | undefined;
  /** Directory holding `tidings.db` when on SQLite; created owner-only (0700) if missing. */
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
    private readonly sqlite?: SqliteHandle,
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
    mkdirPrivate(opts.dataDir);
    const file = path.join(opts.dataDir, 'tidings.db');
    const sqlite = openSqlite(file);
    return new Store(
      new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite.database }) }),
      'sqlite',
      file,
      sqlite,
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
    await this.sqlite?.close();
  }
}

/** `items` grouped by `key`: groups in the order first seen, items in their input order. */
export function groupBy<T, K>(items: Iterable<T>, key: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = groups.get(k);
    if (list) list.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

/**
 * The ids of `items` grouped by organisation, in chunks of at most `chunk` (the one IN list
 * of a statement, well inside both databases' limits on bound parameters).
 */
export function idsByOrg<T extends { orgId: string }>(
  items: readonly T[],
  id: (item: T) => string,
  chunk = 500,
): [orgId: string, ids: string[]][] {
  const out: [string, string[]][] = [];
  for (const [orgId, list] of groupBy(items, (i) => i.orgId)) {
    const ids = list.map(id);
    for (let i = 0; i < ids.length; i += chunk) out.push([orgId, ids.slice(i, i + chunk)]);
  }
  return out;
}

/**
 * Inserts `rows` with multi-row statements of at most `chunk` rows, so a large batch stays
 * well inside both databases' limits on bound parameters (SQLite 32,766; PostgreSQL 65,535).
 */
export async function insertRows<T extends keyof Database>(
  db: Db,
  table: T,
  rows: readonly Insertable<Database[T]>[],
  chunk = 500,
): Promise<void> {
  for (let i = 0; i < rows.length; i += chunk) {
    await db
      .insertInto(table)
      .values(rows.slice(i, i + chunk))
      .execute();
  }
}
