/**
 * Crash durability on SQLite, with the real server as a child process (docs/durability.md).
 *
 * Thousands of keyed requests are sent concurrently, the server is killed with SIGKILL part-way,
 * restarted on the same data directory, and the unanswered requests (plus a sample of answered
 * ones) are retried with the same Idempotency-Key. Then, from the simulator's submission logs
 * and the API:
 *   - every 202 names a message that survived the crash and was submitted to the carrier;
 *   - a retried key never makes a second message;
 *   - a message is submitted more than once only when the carrier accepted it in the batch that
 *     was in flight when the process died (at most one claimed batch).
 *
 * Needs the build (`npx tsc -p tsconfig.build.json`): it runs bin/tidings.js.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, tempDir, waitFor } from './helpers.js';
import { DEFAULT_WORKER_OPTIONS } from '../src/dispatch/worker.js';

const run = promisify(execFile);

/** Requests in the whole run; the server is killed once KILL_AFTER of them have had a 202. */
const TOTAL = 3000;
const KILL_AFTER = 1000;
const CONCURRENCY = 128;
/** Short lease so the restarted worker re-claims the dead worker's jobs quickly. */
const LEASE_MS = 2000;
/** Low enough that the worker falls behind and a batch of 200 takes ~0.7 s to submit, so the
 * kill usually lands inside one (a lost acknowledgement), yet 3000 messages drain in ~10 s. */
const MPS = 300;
/** The duplicate window: the batches a worker has out at once (docs/durability.md). */
const IN_FLIGHT = DEFAULT_WORKER_OPTIONS.batchSize * DEFAULT_WORKER_OPTIONS.batchesInFlight;

interface SimLine {
  messageId: string;
  to: string;
  from: string;
  body: string;
  at: string;
}

interface MessageView {
  id: string;
  status: string;
  to: string;
  attempts: number;
}

type Outcome =
  | { kind: 'accepted'; id: string; replayed: boolean }
  | { kind: 'no-response'; error: string }
  | { kind: 'refused'; status: number; text: string };

const dir = tempDir('tidings-durability-');
const children = new Set<ChildProcess>();

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The environment of a child: the parent's minus any Tidings or database settings. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('TIDINGS_') || k === 'DATABASE_URL' || k === 'PORT' || k === 'HOST') continue;
    env[k] = v;
  }
  return {
    ...env,
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    TIDINGS_DATA_DIR: dir,
    TIDINGS_SIM_LATENCY_MS: '20',
    // Sent at any hour, many texts per number: as in test/helpers.ts.
    TIDINGS_QUIET_HOURS: 'off',
    TIDINGS_FREQUENCY_CAPS: 'off',
    TIDINGS_DISPATCH_LEASE_MS: String(LEASE_MS),
    ...extra,
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

interface Server {
  child: ChildProcess;
  base: string;
  output: string;
  exited: Promise<void>;
}

/** Starts `tidings serve` on a fresh port and waits until /readyz answers. */
async function startServer(label: string, simLog: string): Promise<Server> {
  const port = await freePort();
  const output = path.join(dir, `${label}.out`);
  const fd = fs.openSync(output, 'a');
  const child = spawn(process.execPath, [CLI, 'serve'], {
    env: childEnv({ PORT: String(port), HOST: '127.0.0.1', TIDINGS_SIM_LOG: simLog }),
    stdio: ['ignore', fd, fd],
  });
  fs.closeSync(fd);
  children.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const base = `http://127.0.0.1:${port}`;
  await waitFor(async () => {
    if (child.exitCode !== null) {
      throw new Error(`${label} exited early:\n${fs.readFileSync(output, 'utf8')}`);
    }
    try {
      return (await fetch(`${base}/readyz`)).ok;
    } catch {
      return false;
    }
  }, 20_000);
  return { child, base, output, exited };
}

function readSimLog(file: string): SimLine[] {
  if (!fs.existsSync(file)) return [];
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const out: SimLine[] = [];
  for (const [i, line] of lines.entries()) {
    if (line === '') continue;
    try {
      out.push(JSON.parse(line) as SimLine);
    } catch {
      // Only the very last line may be torn by SIGKILL (it never is in practice: one write(2)).
      if (i !== lines.length - 1) throw new Error(`corrupt line ${i + 1} in ${file}: ${line}`);
    }
  }
  return out;
}

function countBy<T>(items: readonly T[]): Map<T, number> {
  const m = new Map<T, number>();
  for (const x of items) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
}

const keyOf = (i: number) => `durability-${i}`;
const bodyOf = (i: number) => `Reminder ${i}: your appointment is on Tuesday at 10:00.`;
/** Fictional 555-01xx numbers, valid under the US numbering plan. */
const toOf = (i: number) => `+16175550${100 + (i % 100)}`;

async function send(base: string, apiKey: string, i: number): Promise<Outcome> {
  let res: Response;
  try {
    res = await fetch(`${base}/v1/messages`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${apiKey}`,
        'content-type': 'application/json',
        'idempotency-key': keyOf(i),
      },
      body: JSON.stringify({ to: toOf(i), body: bodyOf(i), program: 'care' }),
      // Generous: a loaded CI machine can take seconds to answer the first requests.
      signal: AbortSignal.timeout(30_000),
    });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    return { kind: 'no-response', error: cause?.code ?? cause?.message ?? String(e) };
  }
  let text: string;
  try {
    text = await res.text();
  } catch (e) {
    // Headers arrived but the body did not: the answer was cut off, so it is no answer.
    return { kind: 'no-response', error: `body: ${String(e)}` };
  }
  if (res.status !== 202) return { kind: 'refused', status: res.status, text };
  return {
    kind: 'accepted',
    id: (JSON.parse(text) as MessageView).id,
    replayed: res.headers.get('idempotent-replayed') === 'true',
  };
}

/** Runs `fn` over `items` with at most `limit` in flight; stops taking items once `stop()`. */
async function pool<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
  stop: () => boolean = () => false,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length && !stop()) await fn(items[next++]!);
    }),
  );
}

/** Every message of the organisation through the API (paging by cursor). */
async function listAll(base: string, apiKey: string): Promise<MessageView[]> {
  const all: MessageView[] = [];
  let cursor: string | null = null;
  do {
    const url = `${base}/v1/messages?limit=100${cursor ? `&cursor=${cursor}` : ''}`;
    const res = await fetch(url, { headers: { authorization: `Bearer ${apiKey}` } });
    expect(res.status).toBe(200);
    const page = (await res.json()) as { data: MessageView[]; nextCursor: string | null };
    all.push(...page.data);
    cursor = page.nextCursor;
  } while (cursor);
  return all;
}

describe('durability across SIGKILL (SQLite, child process)', () => {
  it('keeps every 202, never duplicates a keyed request, and re-sends only the batches in flight', async () => {
    const t0 = Date.now();
    const { stdout } = await run(
      process.execPath,
      [CLI, 'org', 'create', '--name', 'Crash Clinic', '--json'],
      {
        env: childEnv({ TIDINGS_DEFAULT_MPS: String(MPS) }),
      },
    );
    const { apiKey } = JSON.parse(stdout) as { orgId: string; apiKey: string };

    // ---- Phase 1: load, then SIGKILL part-way. ----------------------------------------------
    const simLog1 = path.join(dir, 'sim-1.log');
    const first = await startServer('server-1', simLog1);
    const phase1 = new Map<number, Outcome>();
    let accepted = 0;
    let killed = false;
    let killedAt = 0;
    const indices = Array.from({ length: TOTAL }, (_, i) => i);
    await pool(
      indices,
      CONCURRENCY,
      async (i) => {
        const o = await send(first.base, apiKey, i);
        phase1.set(i, o);
        if (o.kind === 'accepted' && ++accepted >= KILL_AFTER && !killed) {
          killed = first.child.kill('SIGKILL');
          killedAt = Date.now();
        }
      },
      () => killed,
    );
    await first.exited;
    expect(first.child.signalCode).toBe('SIGKILL');

    const refused1 = [...phase1.values()].filter((o) => o.kind === 'refused');
    expect(refused1, 'only 202 or no answer before the crash').toEqual([]);
    const ok1 = new Map<number, string>();
    const noAnswer: number[] = [];
    for (const [i, o] of phase1) {
      if (o.kind === 'accepted') {
        expect(o.replayed).toBe(false);
        ok1.set(i, o.id);
      } else noAnswer.push(i);
    }
    const neverSent = indices.filter((i) => !phase1.has(i));
    const sim1 = readSimLog(simLog1);
    console.log(
      `[durability] phase 1: ${ok1.size} accepted, ${noAnswer.length} unanswered, ` +
        `${neverSent.length} not sent; carrier saw ${sim1.length} submissions; ` +
        `killed ${killedAt - t0} ms after start`,
    );
    expect(ok1.size).toBeGreaterThanOrEqual(KILL_AFTER);
    expect(noAnswer.length + neverSent.length).toBeGreaterThan(0);

    // ---- Phase 2: restart on the same data, retry. --------------------------------------------
    const simLog2 = path.join(dir, 'sim-2.log');
    const second = await startServer('server-2', simLog2);

    // Answered before the crash: the same key must replay the original message.
    const sample = [...ok1.keys()].filter((_, n) => n % 5 === 0);
    const idOf = new Map<number, string>(ok1);
    let unansweredButCommitted = 0;
    const retry = [...sample, ...noAnswer, ...neverSent];
    const phase2 = new Map<number, Outcome>();
    await pool(retry, CONCURRENCY, async (i) => {
      phase2.set(i, await send(second.base, apiKey, i));
    });
    for (const i of retry) {
      const o = phase2.get(i)!;
      expect(o, `retry of ${keyOf(i)}`).toMatchObject({ kind: 'accepted' });
      if (o.kind !== 'accepted') continue;
      if (ok1.has(i)) {
        expect(o.replayed, `${keyOf(i)} had a 202: must replay`).toBe(true);
        expect(o.id, `${keyOf(i)} had a 202: same message`).toBe(ok1.get(i));
      } else {
        if (neverSent.includes(i)) expect(o.replayed).toBe(false);
        if (o.replayed) unansweredButCommitted++;
        idOf.set(i, o.id);
      }
    }
    // A second retry of everything that was unanswered is now a replay of the same message.
    await pool(noAnswer, CONCURRENCY, async (i) => {
      const o = await send(second.base, apiKey, i);
      expect(o).toEqual({ kind: 'accepted', id: idOf.get(i), replayed: true });
    });
    console.log(
      `[durability] phase 2: ${sample.length} replays of answered keys, ${noAnswer.length} ` +
        `unanswered retried (${unansweredButCommitted} had been committed before the crash), ` +
        `${neverSent.length} sent fresh`,
    );

    // ---- Drain: no job left in the durable queue, nothing queued or sending. -------------------
    const db = new Database(path.join(dir, 'tidings.db'), { readonly: true, fileMustExist: true });
    try {
      await waitFor(
        () => {
          const jobs = db.prepare('select count(*) as n from dispatch_jobs').get() as { n: number };
          const open = db
            .prepare(`select count(*) as n from messages where status in ('queued', 'sending')`)
            .get() as { n: number };
          return jobs.n === 0 && open.n === 0;
        },
        30_000,
        100,
      );
      const keys = db.prepare('select count(*) as n from idempotency_keys').get() as { n: number };
      expect(keys.n).toBe(TOTAL);
    } finally {
      db.close();
    }
    const drainedAt = Date.now();

    // ---- What the API says. --------------------------------------------------------------------
    const messages = await listAll(second.base, apiKey);
    const acceptedKeys = new Set(idOf.keys());
    expect(acceptedKeys.size).toBe(TOTAL);
    // One message per key that ever got a 202, and exactly the ids those 202s named.
    expect(messages.length).toBe(acceptedKeys.size);
    expect(new Set(messages.map((m) => m.id))).toEqual(new Set(idOf.values()));
    for (const [i, id] of idOf) {
      const m = messages.find((x) => x.id === id)!;
      expect(m.to).toBe(toOf(i));
    }
    const statuses = countBy(messages.map((m) => m.status));
    expect([...statuses.keys()].every((s) => s === 'sent' || s === 'delivered')).toBe(true);

    // ---- What the carrier saw. -----------------------------------------------------------------
    const sim1Final = readSimLog(simLog1);
    const sim2 = readSimLog(simLog2);
    expect(sim1Final.length).toBe(sim1.length);
    const indexOfId = new Map([...idOf].map(([i, id]) => [id, i]));
    for (const line of [...sim1Final, ...sim2]) {
      const i = indexOfId.get(line.messageId);
      expect(i, `carrier got unknown message ${line.messageId}`).toBeDefined();
      expect(line.body).toBe(bodyOf(i!));
      expect(line.to).toBe(toOf(i!));
    }
    // Within one process life a message is submitted once.
    const per1 = countBy(sim1Final.map((l) => l.messageId));
    const per2 = countBy(sim2.map((l) => l.messageId));
    expect([...per1.values()].every((n) => n === 1)).toBe(true);
    expect([...per2.values()].every((n) => n === 1)).toBe(true);
    // Every message that got a 202 (before or after the crash) reached the carrier.
    const missing = [...idOf.values()].filter((id) => !per1.has(id) && !per2.has(id));
    expect(missing).toEqual([]);
    // Across the crash: submitted again only if it was in a batch in flight when the process
    // died. Those batches' submissions are the tail of the first log: the worker claims a new
    // batch only after the older in-flight one's results are all committed.
    const duplicates = [...per1.keys()].filter((id) => per2.has(id));
    const tail = new Set(sim1Final.slice(-IN_FLIGHT).map((l) => l.messageId));
    console.log(
      `[durability] carrier submissions: ${sim1Final.length} before the crash, ${sim2.length} after; ` +
        `duplicates across the crash: ${duplicates.length} (bound: the batches in flight = ${IN_FLIGHT}); ` +
        `claimed twice: ${messages.filter((m) => m.attempts > 1).length}; ` +
        `statuses ${JSON.stringify(Object.fromEntries(statuses))}; ` +
        `drained ${drainedAt - t0} ms after start`,
    );
    expect(duplicates.length).toBeLessThanOrEqual(IN_FLIGHT);
    expect(duplicates.filter((id) => !tail.has(id))).toEqual([]);
    // The queue agrees: a job is claimed again only when the dead worker's claim was never
    // completed, so only messages of the batches in flight were claimed twice, duplicates
    // among them.
    const reclaimed = new Set(messages.filter((m) => m.attempts > 1).map((m) => m.id));
    expect(reclaimed.size).toBeLessThanOrEqual(IN_FLIGHT);
    expect(messages.every((m) => m.attempts <= 2)).toBe(true);
    expect(duplicates.filter((id) => !reclaimed.has(id))).toEqual([]);

    second.child.kill('SIGTERM');
    await second.exited;
    expect(second.child.exitCode).toBe(0);
  }, 90_000);
});
