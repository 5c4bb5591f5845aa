/**
 * The Twilio adapter through the carrier contract, against a local peer that speaks the
 * Messages API; and its signature verifier against the official `twilio` package.
 */
import { describe, expect, it } from 'vitest';
import { captureLogs, runCarrierContract } from './contract.js';
import { officialTwilioSignature, startTwilioPeer } from './rest-peers.js';
import { TwilioCarrier, verifyTwilioSignature } from '../../src/carriers/twilio/index.js';
import { CarrierError } from '../../src/carriers/index.js';

const SID = 'AC0123456789abcdef0123456789abcdef';
const TOKEN = 'twilio-token-secret-42';

runCarrierContract('twilio', async () => {
  const peer = await startTwilioPeer(SID, TOKEN);
  const logs = captureLogs();
  const adapter = new TwilioCarrier({
    accountSid: SID,
    authToken: TOKEN,
    baseUrl: peer.url,
    statusCallbackUrl: 'https://tidings.example/carriers/twilio/snd_x/status',
    log: logs.logger,
  });
  return {
    adapter,
    secrets: [TOKEN],
    logLines: () => logs.lines,
    received: () => peer.messages,
    deliverReceipt: (id) => {
      adapter.acceptStatusCallback({ MessageSid: id, MessageStatus: 'delivered' });
    },
    sendInbound: (from, to, body) => {
      adapter.acceptInbound({ MessageSid: 'SMinbound1', From: from, To: to, Body: body });
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

describe('twilio adapter', () => {
  it('asks Twilio to keep no content and obfuscate numbers, with a status callback', async () => {
    const peer = await startTwilioPeer(SID, TOKEN);
    const cb = 'https://tidings.example/carriers/twilio/snd_1/status';
    const a = new TwilioCarrier({
      accountSid: SID,
      authToken: TOKEN,
      baseUrl: peer.url,
      statusCallbackUrl: cb,
    });
    try {
      await a.submit({
        messageId: 'm1',
        orgId: 'o',
        senderId: 's',
        to: '+16175550142',
        from: '+16175550199',
        body: 'Hi',
        segments: 1,
      });
      expect(peer.messages[0]?.fields).toMatchObject({
        ContentRetention: 'discard',
        AddressRetention: 'obfuscate',
        StatusCallback: cb,
      });
    } finally {
      await a.close();
      await peer.stop();
    }
  });

  it('maps 429, 5xx, 21610, 21211 and bad credentials to failure kinds', async () => {
    const peer = await startTwilioPeer(SID, TOKEN);
    const a = new TwilioCarrier({ accountSid: SID, authToken: TOKEN, baseUrl: peer.url });
    const bad = new TwilioCarrier({ accountSid: SID, authToken: 'wrong', baseUrl: peer.url });
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
      expect(await kind(a.submit(sms()))).toBe('throttled:TWILIO_20429');
      peer.fail5xx = 1;
      expect(await kind(a.submit(sms()))).toBe('transient:HTTP_503');
      peer.optedOut.add('+16175550143');
      expect(await kind(a.submit(sms('+16175550143')))).toBe('opted_out:TWILIO_21610');
      peer.refuse = true;
      expect(await kind(a.submit(sms()))).toBe('invalid_recipient:TWILIO_21211');
      expect(await kind(bad.submit(sms()))).toBe('config:TWILIO_20003');
      await peer.stop();
      expect(await kind(a.submit(sms()))).toBe('transient:TWILIO_NETWORK');
    } finally {
      await a.close();
      await bad.close();
      await peer.stop();
    }
  });
});

describe('X-Twilio-Signature verification', () => {
  const url = 'https://tidings.example/carriers/twilio/snd_1/status?x=1';
  const params = {
    MessageSid: 'SM1',
    MessageStatus: 'delivered',
    To: '+16175550142',
    Zeta: 'z',
    Alpha: 'a b&c',
  };

  it('accepts signatures made by the official twilio package', () => {
    const sig = officialTwilioSignature(TOKEN, url, params);
    expect(verifyTwilioSignature({ authToken: TOKEN, url, params, signature: sig })).toBe(true);
    // Twilio may sign with the default port written out; both forms verify.
    const withPort = 'https://tidings.example:443/carriers/twilio/snd_1/status?x=1';
    const sig2 = officialTwilioSignature(TOKEN, withPort, params);
    expect(verifyTwilioSignature({ authToken: TOKEN, url, params, signature: sig2 })).toBe(true);
  });

  it('refuses a wrong token, a changed parameter, another URL, and no signature', () => {
    const sig = officialTwilioSignature(TOKEN, url, params);
    expect(verifyTwilioSignature({ authToken: 'other', url, params, signature: sig })).toBe(false);
    expect(
      verifyTwilioSignature({
        authToken: TOKEN,
        url,
        params: { ...params, MessageStatus: 'failed' },
        signature: sig,
      }),
    ).toBe(false);
    expect(
      verifyTwilioSignature({
        authToken: TOKEN,
        url: url.replace('snd_1', 'snd_2'),
        params,
        signature: sig,
      }),
    ).toBe(false);
    expect(verifyTwilioSignature({ authToken: TOKEN, url, params, signature: undefined })).toBe(
      false,
    );
    expect(verifyTwilioSignature({ authToken: '', url, params, signature: sig })).toBe(false);
  });
});
