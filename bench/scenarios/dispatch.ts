/**
 * @module bench/scenarios/dispatch
 * The dispatch worker against the in-process simulator carrier, two ways:
 *
 * - `dispatch`: a backlog of messages is accepted first (not timed), then the worker is
 *   started and timed until the queue is empty — every message claimed, decrypted,
 *   re-checked, submitted and recorded `sent` with its audit event. Latency per message is
 *   from its submission to the carrier (seen through the simulator's per-submission hook)
 *   to the `sent_at` stamped in the transaction that records it.
 * - `dispatch-latency`: the worker runs while messages are accepted at a steady rate well
 *   under capacity, each followed by the nudge the HTTP route gives; latency per message is
 *   accept to sent, from the `created_at` and `sent_at` columns.
 *
 * Senders are allowed 10,000 messages/s (the default of 50/s would measure the rate limit,
 * not the worker); the simulator answers at once and sends its delivery receipt 50 ms later,
 * so receipts are applied during the run as they would be in production.
 */
import type { Runtime } from '../../src/runtime/index.js';
import { countJobs } from '../../src/dispatch/index.js';
import {
  acceptMany,
  BENCH_ACTOR,
  countMessages,
  note,
  openBenchRuntime,
  PeakRss,
  percentile,
  sleep,
  type ScenarioResult,
} from '../harness.js';

const DISPATCH_ENV = { TIDINGS_DEFAULT_MPS: '10000', TIDINGS_SIM_LATENCY_MS: '50' };
const DONE = ['sent', 'delivered'] as const;

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not done within ${timeoutMs / 1000} s`);
    await sleep(20);
  }
}

async function sentTimes(
  rt: Runtime,
): Promise<{ id: string; createdAt: number; sentAt: number }[]> {
  const rows = await rt.store.db
    .selectFrom('messages')
    .select(['id', 'created_at', 'sent_at'])
    .where('status', 'in', DONE)
    .execute();
  return rows.map((r) => ({
    id: r.id,
    createdAt: Number(r.created_at),
    sentAt: Number(r.sent_at),
  }));
}

export interface DispatchSize {
  messages: number;
}

export async function runDispatch(size: DispatchSize): Promise<ScenarioResult> {
  const submittedAt = new Map<string, number>();
  const b = await openBenchRuntime(DISPATCH_ENV, {
    simulator: {
      // Observes each submission; never fails one.
      failWith: (msg) => {
        submittedAt.set(msg.messageId, Date.now());
        return undefined;
      },
    },
  });
  try {
    const { orgId } = await b.rt.orgs.create('Bench Clinic', BENCH_ACTOR);
    note(`dispatch: accepting a backlog of ${size.messages} messages (not timed)`);
    await acceptMany(b.rt, orgId, size.messages, 1000);
    note('dispatch: starting the worker');
    const rss = new PeakRss().start();
    const t0 = performance.now();
    b.rt.startWorkers();
    await waitUntil(async () => (await countJobs(b.rt.store.db)) === 0, 600_000);
    const seconds = (performance.now() - t0) / 1000;
    const rssMb = rss.stop();

    const sent = await sentTimes(b.rt);
    if (sent.length !== size.messages) {
      throw new Error(`dispatch: ${sent.length} of ${size.messages} messages sent`);
    }
    const latencies = sent.map((m) => m.sentAt - (submittedAt.get(m.id) ?? m.sentAt));
    return {
      scenario: 'dispatch',
      messages: size.messages,
      seconds,
      perSecond: size.messages / seconds,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      rssMb,
      extra: { latency: 'submit-to-sent' },
    };
  } finally {
    await b.cleanup();
  }
}

export interface DispatchLatencySize {
  /** Messages accepted per second. */
  rate: number;
  seconds: number;
}

export async function runDispatchLatency(size: DispatchLatencySize): Promise<ScenarioResult> {
  const b = await openBenchRuntime(DISPATCH_ENV);
  try {
    const { orgId } = await b.rt.orgs.create('Bench Clinic', BENCH_ACTOR);
    const total = Math.round(size.rate * size.seconds);
    note(`dispatch-latency: ${size.rate} messages/s for ${size.seconds} s, worker running`);
    b.rt.startWorkers();
    const rss = new PeakRss().start();
    const t0 = performance.now();
    const accepts: Promise<void>[] = [];
    let issued = 0;
    while (issued < total) {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * size.rate));
      if (due > issued) {
        accepts.push(
          acceptMany(b.rt, orgId, due - issued, due - issued, {
            first: issued,
            afterEach: () => b.rt.worker.nudge(),
          }),
        );
        issued = due;
      }
      await sleep(5);
    }
    await Promise.all(accepts);
    await waitUntil(async () => (await countMessages(b.rt, DONE)) === total, 120_000);
    const seconds = (performance.now() - t0) / 1000;
    const rssMb = rss.stop();

    const sent = await sentTimes(b.rt);
    const latencies = sent.map((m) => m.sentAt - m.createdAt);
    return {
      scenario: 'dispatch-latency',
      messages: total,
      seconds,
      perSecond: total / seconds,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      rssMb,
      extra: { offeredPerSecond: size.rate, latency: 'accept-to-sent' },
    };
  } finally {
    await b.cleanup();
  }
}
