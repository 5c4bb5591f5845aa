/**
 * @module bench/harness
 * What every scenario shares: a fresh Tidings runtime on a temporary SQLite database (the
 * code a clinic runs, through Runtime.open), a driver that keeps many accepts in flight,
 * latency percentiles, peak-RSS sampling, and the one JSON line each scenario prints.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { loadConfig, type Config } from '../src/config/index.js';
import { Runtime, type RuntimeOptions } from '../src/runtime/index.js';
import type { Actor } from '../src/audit/index.js';
import { sendRequest } from './workload.js';

export const BENCH_ACTOR: Actor = { type: 'cli', id: 'bench' };
/** The actor an API key would be; the accept scenario calls the pipeline as the API does. */
export const API_ACTOR: Actor = { type: 'api_key', id: 'key_bench' };

/** One scenario's figures: the fields every line has, plus scenario-specific ones. */
export interface ScenarioResult {
  scenario: string;
  messages: number;
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  rssMb: number;
  extra?: Record<string, number | string>;
}

/** The line `npm run bench` prints for a scenario. */
export function resultLine(r: ScenarioResult): string {
  const round = (v: number, places: number) => Number(v.toFixed(places));
  return JSON.stringify({
    scenario: r.scenario,
    messages: r.messages,
    seconds: round(r.seconds, 3),
    perSecond: Math.round(r.perSecond),
    p50Ms: round(r.p50Ms, 2),
    p99Ms: round(r.p99Ms, 2),
    rssMb: Math.round(r.rssMb),
    ...r.extra,
  });
}

/** Progress for the person watching; stdout carries only the result lines. */
export function note(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

/** Nearest-rank percentile (`p` in 0–100) of unsorted samples; 0 for no samples. */
export function percentile(samples: ArrayLike<number>, p: number): number {
  if (samples.length === 0) return 0;
  const sorted = Float64Array.from(samples).sort();
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? 0;
}

/** Resident set size of a process in MB: /proc on Linux, `ps` elsewhere; undefined if gone. */
export function rssMbOf(pid: number): number | undefined {
  if (pid === process.pid) return process.memoryUsage.rss() / 2 ** 20;
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    if (kb) return Number(kb) / 1024;
  } catch {
    // Not Linux, or the process has exited: try ps.
  }
  try {
    const kb = execFileSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' }).trim();
    return kb ? Number(kb) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Samples a process's RSS on an interval and keeps the peak. */
export class PeakRss {
  private peak = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pid: number = process.pid,
    private readonly everyMs = 100,
  ) {}

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.everyMs);
    this.timer.unref();
    return this;
  }

  /** Stops sampling; returns the peak in MB. */
  stop(): number {
    this.sample();
    if (this.timer) clearInterval(this.timer);
    return this.peak;
  }

  private sample(): void {
    const mb = rssMbOf(this.pid);
    if (mb !== undefined && mb > this.peak) this.peak = mb;
  }
}

/**
 * CPU time (user + system, ms) a process has used so far, from /proc (Linux); undefined
 * elsewhere. Per-request CPU is steadier than throughput on a shared or noisy machine.
 */
export function cpuMsOf(pid: number = process.pid): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and
    // 13th, in clock ticks (100 a second on Linux).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return undefined;
  }
}

/** The environment of a benchmark runtime: SQLite in `dataDir`, silent logs. */
export function benchEnv(
  dataDir: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    NODE_ENV: 'test',
    TIDINGS_DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    // Quiet hours would hold a backlog until the recipients' morning (a dispatch run at night
    // could never drain), and the workload sends each recipient 11 care texts: both are off
    // unless a scenario opts in, as `accept` does.
    TIDINGS_QUIET_HOURS: 'off',
    TIDINGS_FREQUENCY_CAPS: 'off',
    ...extra,
  };
}

export interface BenchRuntime {
  rt: Runtime;
  config: Config;
  dir: string;
  /** Closes the runtime and removes its data directory. */
  cleanup: () => Promise<void>;
}

export function makeDataDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'tidings-bench-'));
}

export function removeDataDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Opens a runtime on a fresh database in a new temporary directory. Nothing is started. */
export async function openBenchRuntime(
  env: Record<string, string> = {},
  opts: RuntimeOptions = {},
  dir = makeDataDir(),
): Promise<BenchRuntime> {
  const config = loadConfig(benchEnv(dir, env));
  let rt: Runtime;
  try {
    rt = await Runtime.open(config, {
      log: pino({ level: 'silent' }),
      defaultMetrics: false,
      ...opts,
    });
  } catch (e) {
    removeDataDir(dir);
    throw e;
  }
  return {
    rt,
    config,
    dir,
    cleanup: async () => {
      try {
        await rt.close();
      } finally {
        removeDataDir(dir);
      }
    },
  };
}

/**
 * Accepts `count` messages with `concurrency` calls in flight, as many API requests would.
 * Records each call's latency (ms) into `latencies` when given; `first` offsets the workload.
 */
export async function acceptMany(
  rt: Runtime,
  orgId: string,
  count: number,
  concurrency: number,
  opts: { latencies?: Float64Array; first?: number; afterEach?: () => void } = {},
): Promise<void> {
  const first = opts.first ?? 0;
  let next = 0;
  const lane = async () => {
    for (;;) {
      const i = next++;
      if (i >= count) return;
      const start = performance.now();
      await rt.messaging.accept(orgId, API_ACTOR, sendRequest(first + i));
      if (opts.latencies) opts.latencies[i] = performance.now() - start;
      opts.afterEach?.();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
}

/** Messages stored in the runtime's database, optionally with one of `statuses`. */
export async function countMessages(rt: Runtime, statuses?: readonly string[]): Promise<number> {
  let q = rt.store.db.selectFrom('messages').select((eb) => eb.fn.countAll<number>().as('n'));
  if (statuses) q = q.where('status', 'in', statuses);
  const r = await q.executeTakeFirstOrThrow();
  return Number(r.n);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
