/**
 * Two dispatch workers, as separate processes, on one PostgreSQL database: claims use
 * `FOR UPDATE SKIP LOCKED` and leases, so every queued message is submitted exactly once
 * across both workers, and both share the work.
 *
 * The children reach the test's fresh schema through the connection URL
 * (`?options=-c search_path=<schema>`), since the server takes a schema only from that URL.
 * Needs the build (`npx tsc -p tsconfig.build.json`): it runs bin/tidings.js.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { announcePgSkip, CLI, freshPgSchema, PG_URL, tempDir, waitFor } from './helpers.js';
import { loadConfig } from '../src/config/index.js';
import { Runtime } from '../src/runtime/index.js';

announcePgSkip('two workers');

const run = promisify(execFile);

const MESSAGES = 3000;
/** Per worker process: a backlog of 3000 then takes at least ~1.5 s, so neither worker can
 * finish it alone before the other has started claiming. */
const MPS = 1000;

interface SimLine {
  messageId: string;
  to: string;
  from: string;
  body: string;
  at: string;
}

interface Worker {
  child: ChildProcess;
  output: string;
  simLog: string;
  exited: Promise<void>;
}

/** `url` with `search_path` set to `schema` for every connection made from it. */
function withSearchPath(url: string, schema: string): string {
  const u = new URL(url);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return u.toString();
}

function readSimLog(file: string): SimLine[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as SimLine);
}

describe.skipIf(!PG_URL)('two worker processes on PostgreSQL', () => {
  let dir: string;
  const masterKey = randomBytes(32).toString('base64');
  const workers: Worker[] = [];
  let schema: { schema: string; drop: () => Promise<void> };
  let databaseUrl: string;
  let rt: Runtime | undefined;

  /** The environment of a child: the parent's minus any Tidings or database settings. */
  function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) {
      if (k.startsWith('TIDINGS_') || k === 'DATABASE_URL' || k === 'PORT') continue;
      env[k] = v;
    }
    return {
      ...env,
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      DATABASE_URL: databaseUrl,
      TIDINGS_MASTER_KEY: masterKey,
      TIDINGS_DATA_DIR: dir,
      TIDINGS_SIM_LATENCY_MS: '20',
      // Sent at any hour, many texts per number: as in test/helpers.ts.
      TIDINGS_QUIET_HOURS: 'off',
      TIDINGS_FREQUENCY_CAPS: 'off',
      ...extra,
    };
  }

  function startWorker(label: string): Worker {
    const output = path.join(dir, `${label}.out`);
    const simLog = path.join(dir, `${label}.sim.log`);
    const fd = fs.openSync(output, 'a');
    const child = spawn(process.execPath, [CLI, 'serve', '--role', 'worker'], {
      env: childEnv({ TIDINGS_SIM_LOG: simLog }),
      stdio: ['ignore', fd, fd],
    });
    fs.closeSync(fd);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const w = { child, output, simLog, exited };
    workers.push(w);
    return w;
  }

  beforeAll(async () => {
    dir = tempDir('tidings-two-workers-');
    schema = await freshPgSchema(PG_URL!);
    databaseUrl = withSearchPath(PG_URL!, schema.schema);
  });

  afterAll(async () => {
    for (const w of workers) {
      if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
      await w.exited;
    }
    await rt?.close();
    await schema?.drop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('submits every message exactly once across two workers, and both do some of the work', async () => {
    const t0 = Date.now();
    // The organisation (and the migrations) through the CLI, on the schema the URL selects.
    const { stdout } = await run(
      process.execPath,
      [CLI, 'org', 'create', '--name', 'Two Worker Clinic', '--json'],
      { env: childEnv({ TIDINGS_DEFAULT_MPS: String(MPS) }) },
    );
    const { orgId } = JSON.parse(stdout) as { orgId: string; apiKey: string };

    // Both workers up and polling before there is any work.
    const a = startWorker('worker-a');
    const b = startWorker('worker-b');
    for (const w of [a, b]) {
      await waitFor(() => {
        if (w.child.exitCode !== null) {
          throw new Error(`worker exited early:\n${fs.readFileSync(w.output, 'utf8')}`);
        }
        return fs.readFileSync(w.output, 'utf8').includes('tidings worker running');
      }, 20_000);
    }

    // Accept the messages in this process (no worker here), on the same schema and key.
    const config = loadConfig({
      NODE_ENV: 'test',
      DATABASE_URL: PG_URL,
      TIDINGS_MASTER_KEY: masterKey,
      TIDINGS_DATA_DIR: dir,
      LOG_LEVEL: 'silent',
      TIDINGS_QUIET_HOURS: 'off',
      TIDINGS_FREQUENCY_CAPS: 'off',
    });
    rt = await Runtime.open(config, {
      log: pino({ level: 'silent' }),
      pgSchema: schema.schema,
      defaultMetrics: false,
    });
    const actor = { type: 'cli' as const, id: 'test' };
    const results = await Promise.all(
      Array.from({ length: MESSAGES }, (_, i) =>
        rt!.messaging.accept(orgId, actor, {
          to: `+16175550${100 + (i % 100)}`,
          body: `Two workers ${i}: your results are ready to discuss.`,
          program: 'care',
          idempotencyKey: `two-workers-${i}`,
        }),
      ),
    );
    const ids = new Set(results.map((r) => r.message.id));
    expect(ids.size).toBe(MESSAGES);
    const acceptedAt = Date.now();

    // Drained: no job left, nothing queued or sending.
    const db = rt.store.db;
    await waitFor(
      async () => {
        const jobs = await db
          .selectFrom('dispatch_jobs')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow();
        const open = await db
          .selectFrom('messages')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('status', 'in', ['queued', 'sending'])
          .executeTakeFirstOrThrow();
        return Number(jobs.n) === 0 && Number(open.n) === 0;
      },
      30_000,
      100,
    );
    const drainedAt = Date.now();

    const logA = readSimLog(a.simLog);
    const logB = readSimLog(b.simLog);
    const all = [...logA, ...logB].map((l) => l.messageId);
    const counts = new Map<string, number>();
    for (const id of all) counts.set(id, (counts.get(id) ?? 0) + 1);
    const twice = [...counts].filter(([, n]) => n > 1);
    console.log(
      `[two workers] ${MESSAGES} messages: worker A submitted ${logA.length}, worker B ${logB.length}; ` +
        `submitted more than once: ${twice.length}; accepted in ${acceptedAt - t0} ms, ` +
        `drained ${drainedAt - acceptedAt} ms later`,
    );
    // Exactly once across both workers: every accepted message, once, and nothing else.
    expect(twice).toEqual([]);
    expect(all.length).toBe(MESSAGES);
    expect(new Set(all)).toEqual(ids);
    // Both shared the work.
    expect(logA.length).toBeGreaterThan(0);
    expect(logB.length).toBeGreaterThan(0);

    const statuses = await db
      .selectFrom('messages')
      .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy('status')
      .execute();
    for (const s of statuses) expect(['sent', 'delivered']).toContain(s.status);

    // A graceful stop of both.
    for (const w of workers) w.child.kill('SIGTERM');
    for (const w of workers) {
      await w.exited;
      expect(w.child.exitCode).toBe(0);
    }
  }, 60_000);
});
