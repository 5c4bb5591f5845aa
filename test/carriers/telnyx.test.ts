/**
 * The Telnyx adapter through the carrier contract, against a local peer that speaks the
 * Messaging API v2; and the Ed25519 webhook verifier with its replay window.
 */
import { describe, expect, it } from 'vitest';
import { captureLogs, runCarrierContract } from './contract.js';
import { startTelnyxPeer, telnyxEvent } from './rest-peers.js';
import { TelnyxCarrier, verifyTelnyxSignature } from '../../src/carriers/telnyx/index.js';
import { CarrierError, type CarrierEvent } from '../../src/carriers/index.js';

const KEY = 'KEY0123-telnyx-secret-api-key';

runCarrierContract('telnyx', async () => {
  const peer = await startTelnyxPeer(KEY);
  const logs = captureLogs();
  const adapter = new TelnyxCarrier({
    apiKey: KEY,
    baseUrl: peer.url,
    webhookUrl: 'https://tidings.example/carriers/telnyx/snd_x',
    log: logs.logger,
  });
  return {
    adapter,
    secrets: [KEY],
    logLines: () => logs.lines,
    received: () => peer.messages,
    deliverReceipt: (id) => {
      adapter.acceptWebhook(
        JSON.parse(
          telnyxEvent('message.finalized', {
            id,
            to: [{ phone_number: '+16175550142', status: 'delivered' }],
          }),
        ),
      );
    },
    sendInbound: (from, to, body) => {
      adapter.acceptWebhook(
        JSON.parse(
          telnyxEvent('message.received', {
            id: 'in-1',
            from: { phone_number: from },
            to: [{ phone_number: to }],
            text: body,
          }),
        ),
      );
    },
    throttleNext: (n) => {
      peer.throttle = n;
    },
    refuseNextPermanently: () => {
      peer.refuse = true;
    },
    stop: async () => {
      await adapter.close();
      await peer.stop();
    },
  };
});

describe('telnyx adapter', () => {
  it('maps 429, 5xx, 40300, 40310 and a bad key to failure kinds', async () => {
    const peer = await startTelnyxPeer(KEY);
    const a = new TelnyxCarrier({ apiKey: KEY, baseUrl: peer.url });
    const bad = new TelnyxCarrier({ apiKey: 'wrong', baseUrl: peer.url });
    const sms = (to = '+16175550142') => ({
      messageId: 'm',
      orgId: 'o',
      senderId: 's',
      to,
      from: '+16175550199',
      body: 'Hi',
      segments: 1,
    });
    const kind = (p: Promise<unknown>) =>
      p.then(
        () => 'ok',
        (e: unknown) => (e instanceof CarrierError ? `${e.kind}:${e.carrierCode}` : 'other'),
      );
    try {
      peer.throttle = 1;
      expect(await kind(a.submit(sms()))).toBe('throttled:TELNYX_10011');
      peer.fail5xx = 1;
      expect(await kind(a.submit(sms()))).toBe('transient:TELNYX_10007');
      peer.optedOut.add('+16175550143');
      expect(await kind(a.submit(sms('+16175550143')))).toBe('opted_out:TELNYX_40300');
      peer.refuse = true;
      expect(await kind(a.submit(sms()))).toBe('invalid_recipient:TELNYX_40310');
      expect(await kind(bad.submit(sms()))).toBe('config:TELNYX_10009');
    } finally {
      await a.close();
      await bad.close();
      await peer.stop();
    }
  });

  it('turns finalized webhooks into receipts with the carrier code', () => {
    const a = new TelnyxCarrier({ apiKey: KEY });
    const seen: CarrierEvent[] = [];
    a.onEvent((e) => seen.push(e));
    a.acceptWebhook(
      JSON.parse(telnyxEvent('message.sent', { id: 'x1', to: [{ status: 'sent' }] })),
    );
    a.acceptWebhook(
      JSON.parse(
        telnyxEvent('message.finalized', {
          id: 'x1',
          to: [{ phone_number: '+16175550142', status: 'delivery_failed' }],
          errors: [{ code: '40008', title: 'Undeliverable' }],
        }),
      ),
    );
    expect(seen).toMatchObject([
      { type: 'receipt', carrierMessageId: 'x1', status: 'failed', errorCode: 'TELNYX_40008' },
    ]);
  });
});

describe('telnyx webhook signatures', () => {
  it('accepts a fresh signed body; refuses a changed body, a stale timestamp and no key', async () => {
    const peer = await startTelnyxPeer(KEY);
    await peer.stop();
    const body = telnyxEvent('message.sent', { id: 'x' });
    const h = peer.signWebhook(body);
    const args = {
      publicKey: peer.publicKeyBase64,
      rawBody: body,
      signature: h['telnyx-signature-ed25519'],
      timestamp: h['telnyx-timestamp'],
    };
    expect(verifyTelnyxSignature(args)).toBe('ok');
    expect(verifyTelnyxSignature({ ...args, rawBody: body.replace('"x"', '"y"') })).toBe(
      'bad_signature',
    );
    const old = peer.signWebhook(body, Math.floor(Date.now() / 1000) - 301);
    expect(
      verifyTelnyxSignature({
        ...args,
        signature: old['telnyx-signature-ed25519'],
        timestamp: old['telnyx-timestamp'],
      }),
    ).toBe('stale');
    expect(verifyTelnyxSignature({ ...args, publicKey: '' })).toBe('no_key');
    expect(verifyTelnyxSignature({ ...args, signature: undefined })).toBe('bad_signature');
  });
});
