/**
 * Shared test harness: real runtimes on a fresh SQLite file in a temporary directory, or on
 * a fresh PostgreSQL schema when `TIDINGS_TEST_PG_URL` is set. Nothing is mocked.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { pino } from 'pino';
import { loadConfig, type Config } from '../src/config/index.js';
import { Runtime, type RuntimeOptions } from '../src/runtime/index.js';

export const PG_URL = process.env.TIDINGS_TEST_PG_URL || undefined;

/** Says, once per file, that PostgreSQL tests are skipped and why. */
export function announcePgSkip(what: string): void {
  if (!PG_URL) {
    console.warn(`[skipped] ${what} on PostgreSQL: TIDINGS_TEST_PG_URL is not set`);
  }
}

export function tempDir(prefix = 'tidings-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A fresh schema in the test PostgreSQL database; `drop` removes it and everything in it. */
export async function freshPgSchema(
  url: string,
): Promise<{ schema: string; drop: () => Promise<void> }> {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`create schema ${schema}`);
  await client.end();
  return {
    schema,
    drop: async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.query(`drop schema if exists ${schema} cascade`);
      await c.end();
    },
  };
}

export type Dialect = 'sqlite' | 'postgres';

/** The dialects to run a dual-dialect suite on: SQLite always, PostgreSQL when configured. */
export const DIALECTS: Dialect[] = PG_URL ? ['sqlite', 'postgres'] : ['sqlite'];

export interface TestRuntime {
  rt: Runtime;
  config: Config;
  dir: string;
  /** Closes the runtime, drops the PostgreSQL schema, removes the directory. */
  cleanup: () => Promise<void>;
}

export interface TestRuntimeOptions {
  dialect?: Dialect;
  env?: Record<string, string>;
  runtime?: RuntimeOptions;
}

/** Opens a runtime on a fresh database (workers not started, HTTP not listening). */
export async function openTestRuntime(opts: TestRuntimeOptions = {}): Promise<TestRuntime> {
  const dir = tempDir();
  const dialect = opts.dialect ?? 'sqlite';
  let pgSchema: { schema: string; drop: () => Promise<void> } | undefined;
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    TIDINGS_DATA_DIR: dir,
    LOG_LEVEL: 'silent',
    TIDINGS_SIM_LATENCY_MS: '20',
    // Servers in tests listen on loopback, each on a port of its own (files run in parallel).
    HOST: '127.0.0.1',
    PORT: '0',
    // Tests send at whatever hour they run, and many texts to one number: quiet hours and
    // frequency caps are off unless a test opts in (test/quiet-hours.test.ts, caps.test.ts).
    TIDINGS_QUIET_HOURS: 'off',
    TIDINGS_FREQUENCY_CAPS: 'off',
    ...opts.env,
  };
  if (dialect === 'postgres') {
    if (!PG_URL) throw new Error('TIDINGS_TEST_PG_URL is not set');
    pgSchema = await freshPgSchema(PG_URL);
    env.DATABASE_URL = PG_URL;
  }
  const config = loadConfig(env);
  const removeAll = async () => {
    await pgSchema?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  let rt: Runtime;
  try {
    rt = await Runtime.open(config, {
      log: opts.runtime?.log ?? pino({ level: 'silent' }),
      defaultMetrics: false,
      worker: { idlePollMs: 20, baseBackoffMs: 50, maxBackoffMs: 200 },
      webhooks: { idlePollMs: 20, baseBackoffMs: 50, maxBackoffMs: 200 },
      ...(pgSchema ? { pgSchema: pgSchema.schema } : {}),
      ...opts.runtime,
    });
  } catch (e) {
    await removeAll();
    throw e;
  }
  return {
    rt,
    config,
    dir,
    cleanup: async () => {
      await rt.close();
      await removeAll();
    },
  };
}

/** Polls `check` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(
  check: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs = 10_000,
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Absolute path of the built CLI, for tests that start Tidings as a child process. */
export const CLI = path.resolve(import.meta.dirname, '..', 'bin', 'tidings.js');
