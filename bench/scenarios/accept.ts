/**
 * @module bench/scenarios/accept
 * The accept pipeline without HTTP: validate and normalise, encrypt the number and body,
 * blind-index the number, then commit message, queue entry and audit event durably (WAL,
 * synchronous=FULL) — many callers at once, so group commit batches them. Each call's
 * latency is from `accept()` being called to its promise settling after the commit.
 */
import type { Runtime } from '../../src/runtime/index.js';
import {
  acceptMany,
  BENCH_ACTOR,
  countMessages,
  cpuMsOf,
  note,
  openBenchRuntime,
  PeakRss,
  percentile,
  type ScenarioResult,
} from '../harness.js';

/** Accept transactions committed so far and the messages they held (group-commit metric). */
async function commitsOf(rt: Runtime): Promise<{ count: number; sum: number }> {
  const { values } = await rt.metrics.acceptBatch.get();
  const value = (suffix: string) =>
    values.find((v) => v.metricName === `tidings_accept_batch_size_${suffix}`)?.value ?? 0;
  return { count: value('count'), sum: value('sum') };
}

const round = (v: number) => Math.round(v * 10) / 10;

export interface AcceptSize {
  messages: number;
  warmup: number;
  concurrency: number;
}

export async function runAccept(size: AcceptSize): Promise<ScenarioResult> {
  // Quiet hours and frequency caps on, as installed: every message is planned against its
  // recipient's window and counted against a cap in its transaction.
  const b = await openBenchRuntime({
    TIDINGS_QUIET_HOURS: '08:00-21:00',
    TIDINGS_FREQUENCY_CAPS: 'on',
  });
  try {
    const { orgId } = await b.rt.orgs.create('Bench Clinic', BENCH_ACTOR);
    // The default care cap (1 a day) would refuse all but the first text to each of the 2,000
    // recipients; a cap of 1,000 does the same work per message and refuses none (the full run
    // sends each recipient 105).
    await b.rt.sendRules.setSettings(
      orgId,
      { caps: { programs: { care: { per24h: 1000, per7d: 1000 } } } },
      BENCH_ACTOR,
    );
    note(`accept: warm-up, ${size.warmup} messages`);
    await acceptMany(b.rt, orgId, size.warmup, size.concurrency);
    note(`accept: ${size.messages} messages, ${size.concurrency} in flight`);
    const warmupBatches = await commitsOf(b.rt);
    const latencies = new Float64Array(size.messages);
    const rss = new PeakRss().start();
    const cpu0 = cpuMsOf();
    const t0 = performance.now();
    await acceptMany(b.rt, orgId, size.messages, size.concurrency, {
      latencies,
      first: size.warmup,
    });
    const seconds = (performance.now() - t0) / 1000;
    const cpu1 = cpuMsOf();
    const rssMb = rss.stop();
    const batches = await commitsOf(b.rt);
    const stored = await countMessages(b.rt);
    if (stored !== size.warmup + size.messages) {
      throw new Error(`accept: ${stored} messages stored, expected ${size.warmup + size.messages}`);
    }
    return {
      scenario: 'accept',
      messages: size.messages,
      seconds,
      perSecond: size.messages / seconds,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      rssMb,
      extra: {
        concurrency: size.concurrency,
        commits: batches.count - warmupBatches.count,
        meanBatch: round((batches.sum - warmupBatches.sum) / (batches.count - warmupBatches.count)),
        // This process's CPU (every thread) per message: steadier than throughput on a shared
        // machine; 0 where /proc is not available.
        cpuUsPerMessage:
          cpu0 === undefined || cpu1 === undefined
            ? 0
            : Math.round(((cpu1 - cpu0) * 1000) / size.messages),
      },
    };
  } finally {
    await b.cleanup();
  }
}
