/**
 * The SMPP adapter against a local SMSC (test/carriers/smsc-peer.ts) over TCP and TLS on
 * 127.0.0.1: the carrier contract, then what SMPP adds — a disconnect with a full window,
 * a throttling peer, a peer that stops answering, keep-alive both ways, long messages,
 * encodings, receipts in both forms, split binds and bad credentials.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CarrierError, type CarrierEvent, type OutboundSms } from '../../src/carriers/index.js';
import {
  createSmppAdapter,
  type SmppCarrier,
  type SmppOptions,
} from '../../src/carriers/smpp/index.js';
import { countSegments } from '../../src/messaging/segments.js';
import { captureLogs, runCarrierContract } from './contract.js';
import { SmscPeer, type PeerOptions } from './smsc-peer.js';

const FAST = {
  reconnectInitialMs: 50,
  reconnectMaxMs: 200,
  responseTimeoutMs: 500,
  throttleInitialMs: 20,
  throttleMaxMs: 100,
};

runCarrierContract('smpp', async () => {
  const peer = await new SmscPeer({ systemId: 'clinic01', password: 'pw7Secr' }).start();
  const logs = captureLogs();
  const adapter = createSmppAdapter({ url: peer.url, log: logs.logger, ...FAST });
  return {
    adapter,
    secrets: ['clinic01', 'pw7Secr'],
    logLines: () => logs.lines,
    received: () => peer.messages(),
    deliverReceipt: (id) => peer.sendReceipt(id, 'DELIVRD', 'text'),
    sendInbound: (from, to, body) => peer.sendInbound(from, to, body),
    throttleNext: (n) => {
      peer.throttleNext = n;
    },
    refuseNextPermanently: () => {
      peer.refuseNextWith = 0x0b; // ESME_RINVDSTADR
    },
    dropConnections: () => peer.dropAll(),
    stop: async () => {
      await adapter.close();
      await peer.stop();
    },
  };
});

let n = 0;
function sms(body = 'Your appointment is tomorrow at 10:30.', to = '+16175550142'): OutboundSms {
  n += 1;
  return {
    messageId: `msg_${n}`,
    orgId: 'org_t',
    senderId: 'snd_t',
    to,
    from: '+16175550199',
    body,
    segments: countSegments(body).segments,
  };
}

async function until<T>(check: () => T | undefined | false | null, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('SMPP adapter', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function rig(peerOpts: PeerOptions = {}, opts: Partial<SmppOptions> = {}) {
    const peer = await new SmscPeer(peerOpts).start();
    const logs = captureLogs();
    const adapter: SmppCarrier = createSmppAdapter({
      url: peer.url,
      log: logs.logger,
      ...FAST,
      ...opts,
    });
    const events: CarrierEvent[] = [];
    adapter.onEvent((e) => events.push(e));
    cleanups.push(async () => {
      await adapter.close();
      await peer.stop();
    });
    return { peer, adapter, events, logs };
  }

  it('sends E.164 numbers as international digits and GSM-7 as data_coding 0x00', async () => {
    const { peer, adapter } = await rig();
    await adapter.submit(sms('Hello {Lakeside} ~ 10€'));
    const s = peer.submits[0]!;
    expect(s).toMatchObject({ to: '16175550142', from: '16175550199', destTon: 1, sourceTon: 1 });
    expect(s.dataCoding).toBe(0x00);
    expect(s.text).toBe('Hello {Lakeside} ~ 10€');
  });

  it('sends UCS-2 as data_coding 0x08', async () => {
    const { peer, adapter } = await rig();
    await adapter.submit(sms('Cita mañana 🙂 — 10:30'));
    expect(peer.submits[0]!.dataCoding).toBe(0x08);
    expect(peer.submits[0]!.text).toBe('Cita mañana 🙂 — 10:30');
  });

  it('splits long messages with a concatenation UDH, as many parts as the segment maths says', async () => {
    const { peer, adapter, events } = await rig({ receipts: 'tlv' });
    const long = 'Lakeside Clinic: please bring your insurance card and arrive early. '.repeat(6);
    const expected = countSegments(long).segments;
    expect(expected).toBeGreaterThan(1);
    const res = await adapter.submit(sms(long));
    expect(peer.submits).toHaveLength(expected);
    for (const s of peer.submits) expect(s.esmClass & 0x40).toBe(0x40);
    expect(peer.messages()[0]!.body).toBe(long);
    // One receipt per part at the peer, one combined receipt for the message.
    const receipt = await until(() =>
      events.find((e) => e.type === 'receipt' && e.carrierMessageId === res.carrierMessageId),
    );
    expect(receipt).toMatchObject({ status: 'delivered' });
    await new Promise((r) => setTimeout(r, 100));
    expect(events.filter((e) => e.type === 'receipt')).toHaveLength(1);
  });

  it('reads receipts from the TLVs and from the text form, failures with their state', async () => {
    const { peer, adapter, events } = await rig();
    const a = await adapter.submit(sms());
    const b = await adapter.submit(sms());
    const c = await adapter.submit(sms());
    peer.sendReceipt(a.carrierMessageId, 'DELIVRD', 'tlv');
    peer.sendReceipt(b.carrierMessageId, 'UNDELIV', 'text', '001');
    peer.sendReceipt(c.carrierMessageId, 'ENROUTE', 'text');
    peer.sendReceipt(c.carrierMessageId, 'EXPIRED', 'tlv');
    await until(() => events.length >= 3);
    expect(
      events.map((e) => e.type === 'receipt' && [e.carrierMessageId, e.status, e.errorCode]),
    ).toEqual([
      [a.carrierMessageId, 'delivered', undefined],
      [b.carrierMessageId, 'failed', 'UNDELIV:err=001'],
      [c.carrierMessageId, 'expired', 'EXPIRED'],
    ]);
  });

  it('joins the parts of a concatenated inbound message', async () => {
    const { peer, adapter, events } = await rig();
    adapter.start();
    await until(() => peer.sessions.size > 0 && peer.binds > 0);
    await new Promise((r) => setTimeout(r, 20));
    peer.sendInboundPart('+14155550177', '+16175550199', 'world', 7, 2, 2);
    peer.sendInboundPart('+14155550177', '+16175550199', 'Hello ', 7, 2, 1);
    const e = await until(() => events.find((x) => x.type === 'inbound'));
    expect(e).toMatchObject({ from: '+14155550177', to: '+16175550199', body: 'Hello world' });
  });

  it('keeps at most `window` submit_sm unanswered', async () => {
    const { peer, adapter } = await rig({}, { window: 3 });
    peer.holdAnswers = true;
    const all = Promise.all(Array.from({ length: 8 }, () => adapter.submit(sms())));
    await until(() => peer.submits.length === 0 && peerHeld(peer) === 3);
    await new Promise((r) => setTimeout(r, 100));
    expect(peerHeld(peer)).toBe(3);
    peer.releaseHeld();
    // The rest flow as answers come back.
    await until(() => {
      peer.releaseHeld();
      return peer.submits.length === 8;
    });
    await all;
  });

  it('resubmits a full window after a disconnect and records the possible duplicates', async () => {
    const { peer, adapter, logs } = await rig({}, { window: 5 });
    peer.holdAnswers = true;
    const pending = Array.from({ length: 5 }, () => adapter.submit(sms()));
    await until(() => peerHeld(peer) === 5);
    // The peer received all five but answers none before the connection dies.
    peer.dropAll();
    peer.discardHeld();
    const results = await Promise.all(pending);
    expect(results.every((r) => r.possibleDuplicate === true)).toBe(true);
    expect(adapter.stats().possibleDuplicates).toBe(5);
    expect(peer.submits.length).toBe(5); // resubmitted on the new session and answered there
    expect(logs.lines.some((l) => l.includes('possibly duplicated') && l.includes('msg_'))).toBe(
      true,
    );
  });

  it('slows down on ESME_RTHROTTLED and ESME_RMSGQFUL instead of failing', async () => {
    const { peer, adapter } = await rig();
    peer.throttleNext = 4;
    const results = await Promise.all(Array.from({ length: 3 }, () => adapter.submit(sms())));
    expect(results).toHaveLength(3);
    expect(adapter.stats().throttled).toBeGreaterThanOrEqual(4);
    peer.refuseNextWith = 0x14; // ESME_RMSGQFUL
    await expect(adapter.submit(sms())).resolves.toMatchObject({ carrierMessageId: /m\d+/ });
  });

  it('a peer that keeps throttling fails the submission retryably at its deadline', async () => {
    const { peer, adapter } = await rig({}, { submitDeadlineMs: 300 });
    peer.throttleNext = 1_000_000;
    const err = await adapter.submit(sms()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CarrierError);
    expect((err as CarrierError).kind).toBe('throttled');
    expect((err as CarrierError).retryable).toBe(true);
  });

  it('a peer that stops answering: the session is dropped, re-bound, and the message goes', async () => {
    const { peer, adapter } = await rig();
    adapter.start();
    await until(() => peer.binds === 1);
    peer.silent = true;
    const pending = adapter.submit(sms());
    await new Promise((r) => setTimeout(r, 700)); // longer than the response timeout
    expect(adapter.stats().reconnects).toBeGreaterThanOrEqual(1);
    peer.silent = false;
    const res = await pending;
    expect(res.possibleDuplicate).toBe(true);
    expect(peer.submits).toHaveLength(1);
  });

  it('a submission to a peer that never answers fails transiently at its deadline', async () => {
    const { peer, adapter } = await rig({}, { submitDeadlineMs: 400 });
    peer.silent = true;
    const err = await adapter.submit(sms()).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'transient' });
  });

  it('answers the peer’s enquire_link and sends its own when idle', async () => {
    const { peer, adapter } = await rig({}, { enquireLinkMs: 100 });
    adapter.start();
    await until(() => peer.binds === 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(await peer.enquireAll()).toBe(1);
    await until(() => peer.enquireLinks >= 1, 2_000);
  });

  it('maps permanent refusals through the status table', async () => {
    const { peer, adapter } = await rig({}, { optOutStatusCodes: [0x0401] });
    peer.refuseNextWith = 0x0b;
    await expect(adapter.submit(sms())).rejects.toMatchObject({
      kind: 'invalid_recipient',
      carrierCode: 'ESME_RINVDSTADR',
    });
    peer.refuseNextWith = 0x0401;
    await expect(adapter.submit(sms())).rejects.toMatchObject({ kind: 'opted_out' });
    peer.refuseNextWith = 0x08;
    await expect(adapter.submit(sms())).rejects.toMatchObject({
      kind: 'transient',
      retryable: true,
    });
  });

  it('wrong credentials fail waiting messages as a configuration error, never logged', async () => {
    const peer = await new SmscPeer({ systemId: 'clinic01', password: 'right' }).start();
    const logs = captureLogs();
    const adapter = createSmppAdapter({
      url: `smpp://clinic01:wrongpw@127.0.0.1:${peer.port}`,
      log: logs.logger,
      ...FAST,
    });
    cleanups.push(async () => {
      await adapter.close();
      await peer.stop();
    });
    await expect(adapter.submit(sms())).rejects.toMatchObject({
      kind: 'config',
      carrierCode: 'ESME_RINVPASWD',
    });
    expect(logs.lines.join('\n')).not.toContain('wrongpw');
    expect(logs.lines.join('\n')).not.toContain('clinic01');
  });

  it('binds a transmitter and a receiver with bind=split', async () => {
    const peer = await new SmscPeer({ receipts: 'text' }).start();
    const adapter = createSmppAdapter({ url: `${peer.url}?bind=split`, ...FAST });
    const events: CarrierEvent[] = [];
    adapter.onEvent((e) => events.push(e));
    cleanups.push(async () => {
      await adapter.close();
      await peer.stop();
    });
    adapter.start();
    await until(() => peer.binds === 2);
    const res = await adapter.submit(sms());
    await until(() =>
      events.find((e) => e.type === 'receipt' && e.carrierMessageId === res.carrierMessageId),
    );
  });

  it('speaks SMPP over TLS (ssmpp://)', async (ctx) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tidings-smpp-tls-'));
    try {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-days',
          '1',
          '-subj',
          '/CN=127.0.0.1',
          '-addext',
          'subjectAltName=IP:127.0.0.1',
          '-keyout',
          path.join(dir, 'key.pem'),
          '-out',
          path.join(dir, 'cert.pem'),
        ],
        { stdio: 'ignore' },
      );
    } catch {
      console.warn('[skipped] SMPP over TLS: openssl is not available to make a test certificate');
      fs.rmSync(dir, { recursive: true, force: true });
      ctx.skip();
      return;
    }
    const key = fs.readFileSync(path.join(dir, 'key.pem'), 'utf8');
    const cert = fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8');
    fs.rmSync(dir, { recursive: true, force: true });
    const peer = await new SmscPeer({ tls: { key, cert } }).start();
    const adapter = createSmppAdapter({ url: peer.url, tlsOptions: { ca: cert }, ...FAST });
    cleanups.push(async () => {
      await adapter.close();
      await peer.stop();
    });
    expect(peer.url.startsWith('ssmpp://')).toBe(true);
    await adapter.submit(sms('Over TLS'));
    expect(peer.messages()[0]!.body).toBe('Over TLS');
  });
});

function peerHeld(peer: SmscPeer): number {
  return (peer as unknown as { held: unknown[] }).held.length;
}
