/**
 * @module bench/scenarios/http-accept
 * `POST /v1/messages` end to end over HTTP. The server is the real `tidings serve --role api`
 * in a child process (its own event loop and CPU, as in production); autocannon drives it from
 * this process with many keep-alive connections. Latency is autocannon's, per request, from
 * write to complete response. `rssMb` is the server process's peak. Afterwards every 202 is
 * checked against the rows the server stored.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import autocannon, { type Result } from 'autocannon';
import {
  BENCH_ACTOR,
  benchEnv,
  countMessages,
  cpuMsOf,
  makeDataDir,
  note,
  openBenchRuntime,
  PeakRss,
  removeDataDir,
  type ScenarioResult,
} from '../harness.js';
import { sendRequest } from '../workload.js';

export interface HttpAcceptSize {
  connections: number;
  /** Seconds of load before measuring (JIT, SQLite page cache, connection set-up). */
  warmupSeconds: number;
  seconds: number;
}

/** The `tidings` command, found upwards from this file (bench/ or dist/bench/). */
function cliPath(): string {
  for (let dir = import.meta.dirname; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'bin', 'tidings.js');
    if (fs.existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) throw new Error('bin/tidings.js not found');
  }
}

interface Server {
  child: ChildProcess;
  address: string;
  /** Resolves when the process has exited. */
  exited: Promise<void>;
}

/** Starts `tidings serve --role api` on a free port; resolves with its address. */
function startServer(dataDir: string): Promise<Server> {
  const env = {
    PATH: process.env.PATH ?? '',
    ...benchEnv(dataDir, { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' }),
  };
  // BENCH_CPU_PROF=DIR writes a CPU profile of the server into DIR when it stops.
  const profile = process.env.BENCH_CPU_PROF
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`]
    : [];
  const child = spawn(process.execPath, [...profile, cliPath(), 'serve', '--role', 'api'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr = (stderr + d).slice(-4000);
  });
  return new Promise((resolve, reject) => {
    let pending = '';
    let listening = false;
    const onEarlyExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${code}) before listening: ${stderr}`));
    };
    const timer = setTimeout(() => {
      child.off('exit', onEarlyExit);
      child.kill('SIGKILL');
      reject(new Error('the server did not start within 30 s'));
    }, 30_000);
    child.once('exit', onEarlyExit);
    // The server logs JSON lines to stdout; keep reading them so its writes never block.
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      if (listening) return;
      pending += d;
      let nl: number;
      while (!listening && (nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        let entry: { msg?: unknown; address?: unknown };
        try {
          entry = JSON.parse(line) as typeof entry;
        } catch {
          continue;
        }
        if (entry.msg === 'tidings listening' && typeof entry.address === 'string') {
          listening = true;
          clearTimeout(timer);
          child.off('exit', onEarlyExit);
          resolve({ child, address: entry.address, exited });
        }
      }
    });
  });
}

/** Accept transactions the server has committed and the messages they held, from /metrics. */
async function commitsOf(url: string): Promise<{ count: number; sum: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (suffix: string) =>
    Number(new RegExp(`^tidings_accept_batch_size_${suffix} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { count: value('count'), sum: value('sum') };
}

async function stopServer(server: Server): Promise<void> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return;
  server.child.kill('SIGTERM');
  const timer = setTimeout(() => server.child.kill('SIGKILL'), 15_000);
  await server.exited;
  clearTimeout(timer);
}

function load(url: string, apiKey: string, connections: number, seconds: number): Promise<Result> {
  let i = 0;
  return autocannon({
    url: `${url}/v1/messages`,
    connections,
    pipelining: 1,
    duration: seconds,
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    requests: [
      {
        setupRequest: (req) => ({ ...req, body: JSON.stringify(sendRequest(i++)) }),
      },
    ],
  });
}

export async function runHttpAccept(size: HttpAcceptSize): Promise<ScenarioResult> {
  const dir = makeDataDir();
  try {
    const setup = await openBenchRuntime({}, {}, dir);
    let apiKey: string;
    try {
      ({ apiKey } = await setup.rt.orgs.create('Bench Clinic', BENCH_ACTOR));
    } finally {
      await setup.rt.close();
    }

    const server = await startServer(dir);
    let warm: Result;
    let run: Result;
    let rssMb: number;
    let before: { count: number; sum: number };
    let after: { count: number; sum: number };
    let cpuMs: number | undefined;
    try {
      note(`http-accept: server pid ${server.child.pid} at ${server.address}`);
      note(`http-accept: warm-up, ${size.warmupSeconds} s`);
      warm = await load(server.address, apiKey, size.connections, size.warmupSeconds);
      note(`http-accept: ${size.seconds} s, ${size.connections} connections`);
      before = await commitsOf(server.address);
      const rss = new PeakRss(server.child.pid, 250).start();
      const cpuBefore = cpuMsOf(server.child.pid);
      run = await load(server.address, apiKey, size.connections, size.seconds);
      const cpuAfter = cpuMsOf(server.child.pid);
      rssMb = rss.stop();
      if (cpuBefore !== undefined && cpuAfter !== undefined) cpuMs = cpuAfter - cpuBefore;
      after = await commitsOf(server.address);
    } finally {
      await stopServer(server);
    }

    // Every 202 must be a stored message (the server answers only after the commit). There
    // may be up to one request per connection more rows than 202s counted: autocannon stops
    // counting at the end of each run while requests are still in flight.
    const check = await openBenchRuntime({}, {}, dir);
    let stored: number;
    try {
      stored = await countMessages(check.rt);
    } finally {
      await check.rt.close();
    }
    const ok = warm['2xx'] + run['2xx'];
    const lostAccepts = Math.max(0, ok - stored);
    if (lostAccepts > 0) note(`http-accept: ${ok} requests answered 2xx but ${stored} rows stored`);

    for (const [phase, r] of [
      ['warm-up', warm],
      ['run', run],
    ] as const) {
      if (r.non2xx + r.errors > 0) {
        note(
          `http-accept ${phase}: ${r.non2xx} non-2xx, ${r.errors} errors (${r.timeouts} timeouts); status codes ${JSON.stringify(r.statusCodeStats)}`,
        );
      }
    }
    return {
      scenario: 'http-accept',
      messages: run['2xx'],
      seconds: run.duration,
      perSecond: run['2xx'] / run.duration,
      p50Ms: run.latency.p50,
      p99Ms: run.latency.p99,
      rssMb,
      extra: {
        connections: size.connections,
        commits: after.count - before.count,
        meanBatch: Math.round(((after.sum - before.sum) / (after.count - before.count)) * 10) / 10,
        non2xx: run.non2xx,
        errors: run.errors,
        lostAccepts,
        // The server's CPU time per request answered, in µs: what one request costs it.
        ...(cpuMs === undefined
          ? {}
          : { serverCpuUsPerRequest: Math.round((cpuMs * 1000) / Math.max(1, run['2xx'])) }),
      },
    };
  } finally {
    removeDataDir(dir);
  }
}
