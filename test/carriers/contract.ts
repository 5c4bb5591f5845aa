/**
 * The carrier contract: the behaviour every adapter in src/carriers must show, run against a
 * local peer that speaks the carrier's real protocol over a real socket (STYLE.md §4).
 *
 * How to use it, from `test/carriers/<carrier>.test.ts`:
 *
 * ```ts
 * import { runCarrierContract } from './contract.js';
 * runCarrierContract('twilio', async () => {
 *   const peer = await startMyPeer();              // listens on 127.0.0.1, port 0
 *   const logs = captureLogs();                    // every line the adapter logs
 *   const adapter = createMyAdapter({ baseUrl: peer.url, token: 'tok-secret', log: logs.logger });
 *   return {
 *     adapter,
 *     secrets: ['tok-secret'],                     // must never appear in a log line
 *     logLines: () => logs.lines,
 *     received: () => peer.messages(),             // what reached the peer: { to, from, body }
 *     deliverReceipt: (id) => peer.receipt(id),    // make the peer report delivery (omit if automatic)
 *     sendInbound: (from, to, body) => peer.mo(from, to, body),
 *     throttleNext: (n) => { peer.throttle = n; },  // next n submissions answered "slow down"
 *     refuseNextPermanently: () => { peer.refuse = true; }, // next one refused for good
 *     dropConnections: () => peer.dropAll(),       // optional: connection-oriented transports
 *     stop: async () => { await adapter.close(); await peer.stop(); },
 *   };
 * });
 * ```
 *
 * `captureLogs()` below gives a pino logger whose lines are kept. The suite checks: submit
 * reaches the peer with the right numbers and text; a delivery receipt comes back as an event
 * for the id submit returned; an inbound message comes back as an event; throttling ends in
 * success or a retryable `throttled` error, never a permanent failure; a permanent refusal is
 * a non-retryable CarrierError; after dropped connections the adapter still submits; and no
 * log line holds a secret, a phone number or a message body.
 */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CarrierError,
  type CarrierAdapter,
  type CarrierEvent,
  type OutboundSms,
} from '../../src/carriers/index.js';

export interface ContractRig {
  adapter: CarrierAdapter;
  /** Credentials the adapter was given; none may appear in a log line. */
  secrets: string[];
  /** Every line the adapter has logged so far. */
  logLines(): string[];
  /** What the peer received so far, in order (concatenated parts joined). */
  received(): { to: string; from: string; body: string }[];
  /** Makes the peer report delivery of `carrierMessageId`; omit when the peer does it itself. */
  deliverReceipt?(carrierMessageId: string): Promise<void> | void;
  /** Makes the peer deliver a mobile-originated message. */
  sendInbound(from: string, to: string, body: string): Promise<void> | void;
  /** The next `n` submissions are answered with the carrier's "slow down". */
  throttleNext(n: number): void;
  /** The next submission is refused permanently. */
  refuseNextPermanently(): void;
  /** Drops every open connection (connection-oriented transports only). */
  dropConnections?(): Promise<void> | void;
  stop(): Promise<void>;
}

/** A pino logger at debug level whose JSON lines are kept in `lines`. */
export function captureLogs(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

/** Fictitious NANP 555-01XX numbers: never a real person's. */
const TO = '+16175550142';
const FROM = '+16175550199';
const INBOUND_FROM = '+14155550177';
const BODY = 'Contract check: Lakeside Clinic reminder 7391';

let seq = 0;
function sms(body = BODY, to = TO): OutboundSms {
  seq += 1;
  return {
    messageId: `msg_contract_${seq}`,
    orgId: 'org_contract',
    senderId: 'snd_contract',
    to,
    from: FROM,
    body,
    segments: 1,
  };
}

async function eventually<T>(check: () => T | undefined | false, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`not seen within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Defines the contract suite for one adapter; `start` builds a fresh peer and adapter. */
export function runCarrierContract(name: string, start: () => Promise<ContractRig>): void {
  describe(`carrier contract: ${name}`, () => {
    let rig: ContractRig;
    const events: CarrierEvent[] = [];

    beforeAll(async () => {
      rig = await start();
      rig.adapter.onEvent((e) => events.push(e));
      rig.adapter.start?.();
    });
    afterAll(async () => {
      await rig.stop();
    });

    it('submits: the peer gets the numbers and the text, submit returns the carrier id', async () => {
      const before = rig.received().length;
      const res = await rig.adapter.submit(sms());
      expect(res.carrierMessageId).toMatch(/\S/);
      const got = await eventually(() => rig.received()[before]);
      expect(got.body).toBe(BODY);
      expect(got.to.replace(/^\+/, '')).toBe(TO.slice(1));
      expect(got.from.replace(/^\+/, '')).toBe(FROM.slice(1));
    });

    it('reports a delivery receipt for the id submit returned', async () => {
      const { carrierMessageId } = await rig.adapter.submit(sms());
      await rig.deliverReceipt?.(carrierMessageId);
      const receipt = await eventually(() =>
        events.find((e) => e.type === 'receipt' && e.carrierMessageId === carrierMessageId),
      );
      expect(receipt).toMatchObject({ type: 'receipt', status: 'delivered' });
    });

    it('reports an inbound message', async () => {
      await rig.sendInbound(INBOUND_FROM, FROM, 'STOP');
      const inbound = await eventually(() => events.find((e) => e.type === 'inbound'));
      expect(inbound).toMatchObject({
        type: 'inbound',
        from: INBOUND_FROM,
        to: FROM,
        body: 'STOP',
      });
    });

    it('throttling slows down or fails retryably, never permanently', async () => {
      rig.throttleNext(2);
      try {
        const res = await rig.adapter.submit(sms());
        expect(res.carrierMessageId).toMatch(/\S/);
      } catch (e) {
        expect(e).toBeInstanceOf(CarrierError);
        expect((e as CarrierError).kind).toBe('throttled');
        expect((e as CarrierError).retryable).toBe(true);
      } finally {
        rig.throttleNext(0);
      }
    });

    it('a permanent refusal is a non-retryable CarrierError', async () => {
      rig.refuseNextPermanently();
      const err = await rig.adapter.submit(sms()).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(CarrierError);
      expect((err as CarrierError).retryable).toBe(false);
    });

    it('submits again after its connections were dropped', async () => {
      if (!rig.dropConnections) return;
      await rig.dropConnections();
      const before = rig.received().length;
      const res = await rig.adapter.submit(sms('After the drop 5521'));
      expect(res.carrierMessageId).toMatch(/\S/);
      await eventually(() => rig.received().length > before);
    });

    it('logs no secret, phone number or message body', () => {
      const lines = rig.logLines();
      const forbidden = [
        ...rig.secrets,
        TO.slice(1),
        FROM.slice(1),
        INBOUND_FROM.slice(1),
        TO.slice(-7),
        FROM.slice(-7),
        'Lakeside Clinic reminder',
        'After the drop',
      ];
      for (const line of lines) {
        for (const f of forbidden) expect(line, `log line holds "${f}"`).not.toContain(f);
      }
    });
  });
}
