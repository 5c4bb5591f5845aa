/**
 * @module bench/scenarios/smpp
 * The SMPP path against a local SMSC (test/carriers/smsc-peer.ts, the `smpp` package's
 * server side) on 127.0.0.1, in this process, at a send window of 10 and of 50:
 *
 * - `smpp-raw`: a bare client of the same `smpp` package — bind_transceiver, keep `window`
 *   submit_sm outstanding, answer each delivery receipt — with no pipeline at all. Timed from
 *   the first submit_sm to the last submit_sm_resp. Latency: submit_sm to its response.
 * - `dispatch-smpp`: Tidings with TIDINGS_CARRIER=smpp. A backlog is accepted first (not
 *   timed), then the worker is started and timed until the queue is empty: every message
 *   claimed, decrypted, re-checked, submitted over the bind and recorded `sent` with its audit
 *   event, while the peer sends one delivery receipt per message that the worker applies.
 *   Latency: the peer reading the submit_sm to the `sent_at` committed for it.
 *
 * - `smpp-adapter`: the adapter alone (src/carriers/smpp), 200 submissions in flight as a
 *   worker batch has, no database: shows how much of the gap is the adapter and how much
 *   the pipeline.
 *
 * All send the same one-segment GSM-7 text, so one message is one submit_sm on both sides;
 * `ratio` (docs/performance.md) is dispatch-smpp / smpp-raw at the same window.
 */
import * as smpp from 'smpp';
import { countJobs } from '../../src/dispatch/index.js';
import type { Runtime } from '../../src/runtime/index.js';
import { SmscPeer } from '../../test/carriers/smsc-peer.js';
import { createSmppAdapter } from '../../src/carriers/smpp/index.js';
import {
  API_ACTOR,
  BENCH_ACTOR,
  countMessages,
  cpuMsOf,
  note,
  openBenchRuntime,
  PeakRss,
  percentile,
  sleep,
  type ScenarioResult,
} from '../harness.js';
import { sendRequest } from '../workload.js';

const BODY =
  'Lakeside Clinic: your appointment is on Tuesday at 10:30. Reply C to confirm or R to reschedule.';

/**
 * The peer sends each receipt this long after accepting the submit_sm (as the `dispatch`
 * scenario's simulator does): a handset's receipt never comes back within a millisecond.
 */
const RECEIPT_DELAY_MS = 50;

/**
 * CPU ms (user + system, this process: peer included) per message since `cpu0`. Steadier than
 * throughput on a shared machine; 0 where /proc is not available.
 */
function cpuPer(cpu0: number | undefined, messages: number): number {
  const cpu1 = cpuMsOf();
  if (cpu0 === undefined || cpu1 === undefined) return 0;
  return Number(((cpu1 - cpu0) / messages).toFixed(3));
}

export interface SmppSize {
  messages: number;
  windows: number[];
}

async function rawOnce(messages: number, window: number): Promise<ScenarioResult> {
  const peer = await new SmscPeer({ receipts: 'text', receiptDelayMs: RECEIPT_DELAY_MS }).start();
  const session = smpp.connect({ host: '127.0.0.1', port: peer.port });
  try {
    await new Promise<void>((resolve, reject) => {
      session.on('error', reject);
      session.on('connect', () => {
        session.send(
          new smpp.PDU('bind_transceiver', { system_id: 'tidings', password: 'secret' }),
          (resp: smpp.PDU) =>
            resp.command_status === 0 ? resolve() : reject(new Error('bind refused')),
        );
      });
    });
    let receipts = 0;
    session.on('deliver_sm', (pdu: smpp.PDU) => {
      receipts += 1;
      session.send(pdu.response());
    });
    const latencies = new Float64Array(messages);
    const rss = new PeakRss().start();
    const cpu0 = cpuMsOf();
    const t0 = performance.now();
    await new Promise<void>((resolve, reject) => {
      let sent = 0;
      let done = 0;
      const sendOne = () => {
        const i = sent++;
        const start = performance.now();
        session.send(
          new smpp.PDU('submit_sm', {
            source_addr_ton: 1,
            source_addr_npi: 1,
            source_addr: '16175550199',
            dest_addr_ton: 1,
            dest_addr_npi: 1,
            destination_addr: `1617555${String(i % 10_000).padStart(4, '0')}`,
            registered_delivery: 1,
            data_coding: 0,
            short_message: BODY,
          }),
          (resp: smpp.PDU) => {
            latencies[i] = performance.now() - start;
            if (resp.command_status !== 0) reject(new Error(`status ${resp.command_status}`));
            done += 1;
            if (done === messages) resolve();
            else if (sent < messages) sendOne();
          },
        );
      };
      for (let k = 0; k < Math.min(window, messages); k++) sendOne();
    });
    const seconds = (performance.now() - t0) / 1000;
    const cpuMsPerMessage = cpuPer(cpu0, messages);
    const rssMb = rss.stop();
    const deadline = Date.now() + 30_000;
    while (receipts < messages && Date.now() < deadline) await sleep(10);
    return {
      scenario: 'smpp-raw',
      messages,
      seconds,
      perSecond: messages / seconds,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      rssMb,
      extra: { window, receipts, cpuMsPerMessage, latency: 'submit_sm-to-resp' },
    };
  } finally {
    session.destroy();
    await peer.stop();
  }
}

async function acceptBacklog(rt: Runtime, orgId: string, count: number): Promise<void> {
  let next = 0;
  const lane = async () => {
    for (;;) {
      const i = next++;
      if (i >= count) return;
      await rt.messaging.accept(orgId, API_ACTOR, { ...sendRequest(i), body: BODY });
    }
  };
  await Promise.all(Array.from({ length: Math.min(1000, count) }, lane));
}

async function dispatchOnce(messages: number, window: number): Promise<ScenarioResult> {
  const peer = await new SmscPeer({ receipts: 'text', receiptDelayMs: RECEIPT_DELAY_MS }).start();
  const b = await openBenchRuntime({
    TIDINGS_DEFAULT_MPS: '10000',
    TIDINGS_CARRIER: 'smpp',
    TIDINGS_SMPP_URL: peer.url,
    TIDINGS_SMPP_WINDOW: String(window),
  });
  try {
    const { orgId } = await b.rt.orgs.create('Bench Clinic', BENCH_ACTOR);
    note(`dispatch-smpp: window ${window}, accepting a backlog of ${messages} (not timed)`);
    await acceptBacklog(b.rt, orgId, messages);
    const rss = new PeakRss().start();
    const cpu0 = cpuMsOf();
    const t0 = performance.now();
    b.rt.startWorkers();
    const deadline = Date.now() + 600_000;
    while ((await countJobs(b.rt.store.db)) > 0) {
      if (Date.now() > deadline) throw new Error('dispatch-smpp: not done within 600 s');
      await sleep(20);
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpuMsPerMessage = cpuPer(cpu0, messages);
    const rssMb = rss.stop();
    // Receipts keep arriving after the last submission is recorded: wait for them, untimed.
    const receiptDeadline = Date.now() + 60_000;
    while ((await countMessages(b.rt, ['delivered'])) < messages && Date.now() < receiptDeadline) {
      await sleep(50);
    }
    const delivered = await countMessages(b.rt, ['delivered']);
    const peerAt = new Map(peer.submits.map((s) => [s.messageId, s.at]));
    const rows = await b.rt.store.db
      .selectFrom('messages')
      .select(['carrier_message_id', 'sent_at'])
      .execute();
    const latencies = rows
      .filter((r) => r.carrier_message_id !== null && r.sent_at !== null)
      .map((r) => Number(r.sent_at) - (peerAt.get(r.carrier_message_id!) ?? Number(r.sent_at)));
    const stats = b.rt.smpp?.stats();
    return {
      scenario: 'dispatch-smpp',
      messages,
      seconds,
      perSecond: messages / seconds,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      rssMb,
      extra: {
        window,
        delivered,
        submitSm: peer.submits.length,
        possibleDuplicates: stats?.possibleDuplicates ?? 0,
        cpuMsPerMessage,
        latency: 'peer-read-to-sent',
      },
    };
  } finally {
    await b.cleanup();
    await peer.stop();
  }
}

export async function runSmppRaw(size: SmppSize): Promise<ScenarioResult[]> {
  const out: ScenarioResult[] = [];
  for (const w of size.windows) {
    note(`smpp-raw: window ${w}, ${size.messages} submit_sm`);
    out.push(await rawOnce(size.messages, w));
  }
  return out;
}

export async function runDispatchSmpp(size: SmppSize): Promise<ScenarioResult[]> {
  const out: ScenarioResult[] = [];
  for (const w of size.windows) out.push(await dispatchOnce(size.messages, w));
  return out;
}

export async function runSmppAdapter(size: SmppSize): Promise<ScenarioResult[]> {
  const out: ScenarioResult[] = [];
  for (const window of size.windows) {
    note(`smpp-adapter: window ${window}, ${size.messages} submissions`);
    const peer = await new SmscPeer({ receipts: 'text', receiptDelayMs: RECEIPT_DELAY_MS }).start();
    const adapter = createSmppAdapter({ url: peer.url, window });
    let receipts = 0;
    adapter.onEvent(() => (receipts += 1));
    try {
      const latencies = new Float64Array(size.messages);
      const rss = new PeakRss().start();
      const cpu0 = cpuMsOf();
      const t0 = performance.now();
      let next = 0;
      const lane = async () => {
        for (;;) {
          const i = next++;
          if (i >= size.messages) return;
          const start = performance.now();
          await adapter.submit({
            messageId: `msg_${i}`,
            orgId: 'org_bench',
            senderId: 'snd_bench',
            to: `+1617555${String(i % 10_000).padStart(4, '0')}`,
            from: '+16175550199',
            body: BODY,
            segments: 1,
          });
          latencies[i] = performance.now() - start;
        }
      };
      await Promise.all(Array.from({ length: 200 }, lane));
      const seconds = (performance.now() - t0) / 1000;
      const cpuMsPerMessage = cpuPer(cpu0, size.messages);
      const rssMb = rss.stop();
      const deadline = Date.now() + 30_000;
      while (receipts < size.messages && Date.now() < deadline) await sleep(10);
      out.push({
        scenario: 'smpp-adapter',
        messages: size.messages,
        seconds,
        perSecond: size.messages / seconds,
        p50Ms: percentile(latencies, 50),
        p99Ms: percentile(latencies, 99),
        rssMb,
        extra: { window, receipts, cpuMsPerMessage, latency: 'submit-to-accepted' },
      });
    } finally {
      await adapter.close();
      await peer.stop();
    }
  }
  return out;
}
