/**
 * Carrier-side deletion by the retention sweeper, on SQLite and PostgreSQL, against the local
 * Twilio peer: once bodies are destroyed here, each Twilio copy is asked to be deleted
 * (`DELETE …/Messages/{sid}.json`) once; a failed ask never blocks the local destruction and
 * is asked again on the next sweep; Telnyx, which has no per-message delete, is recorded as
 * unsupported and never asked; every batch of answers is audited with counts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { pino } from 'pino';
import { announcePgSkip, DIALECTS, openTestRuntime, waitFor, type TestRuntime } from './helpers.js';
import { startTelnyxPeer, startTwilioPeer, type TwilioPeer } from './carriers/rest-peers.js';
import { SYSTEM_ACTOR } from '../src/audit/index.js';
import { Retention } from '../src/retention/index.js';
import { subjectIndexOf } from '../src/runtime/audit.js';
import { addConfiguredSender } from '../src/runtime/sender-carriers.js';
import { TwilioCarrier } from '../src/carriers/twilio/index.js';
import { CarrierError } from '../src/carriers/index.js';
import { DESTROYED_CONTENT } from '../src/crypto/index.js';

announcePgSkip('carrier-side deletion');
const DAY = 86_400_000;
const SID = 'AC00000000000000000000000000000077';
const TOKEN = 'retention-twilio-token';
const TELNYX_KEY = 'retention-telnyx-key';
const ACTOR = { type: 'cli' as const, id: 'test' };
const phone = (i: number) => `+1617555${String(2000 + i).padStart(4, '0')}`;

describe('TwilioCarrier.deleteCopy', () => {
  it('deletes, treats an unknown message as gone, and refuses with a kind', async () => {
    const peer = await startTwilioPeer(SID, TOKEN);
    try {
      const c = new TwilioCarrier({ accountSid: SID, authToken: TOKEN, baseUrl: peer.url });
      const { carrierMessageId } = await c.submit({
        messageId: 'msg_1',
        orgId: 'org_1',
        senderId: 'snd_1',
        to: phone(1),
        from: '+16175550199',
        body: 'hi',
        segments: 1,
      });
      await c.deleteCopy(carrierMessageId);
      expect(peer.messages).toHaveLength(0);
      await c.deleteCopy(carrierMessageId); // 404: already gone
      peer.failDeletes = 1;
      const e = await c.deleteCopy('SMx').catch((x: unknown) => x);
      expect(e).toBeInstanceOf(CarrierError);
      expect((e as CarrierError).retryable).toBe(true);
      const wrong = new TwilioCarrier({ accountSid: SID, authToken: 'bad', baseUrl: peer.url });
      const denied = await wrong.deleteCopy('SMx').catch((x: unknown) => x);
      expect((denied as CarrierError).retryable).toBe(false);
      expect(peer.deletes).toEqual([carrierMessageId, carrierMessageId, 'SMx']);
    } finally {
      await peer.stop();
    }
  });
});

describe.each(DIALECTS)('carrier-side deletion on %s', (dialect) => {
  let t: TestRuntime;
  let orgId: string;
  let twilio: TwilioPeer;
  let telnyx: Awaited<ReturnType<typeof startTelnyxPeer>>;
  const TELNYX_NUMBER = '+16175550202';

  beforeAll(async () => {
    twilio = await startTwilioPeer(SID, TOKEN);
    telnyx = await startTelnyxPeer(TELNYX_KEY);
    t = await openTestRuntime({ dialect, env: { PORT: '0' } });
    orgId = (await t.rt.orgs.create('Deletion Clinic', SYSTEM_ACTOR)).orgId;
    const add = (input: Parameters<typeof addConfiguredSender>[3]) =>
      addConfiguredSender(t.rt.orgs, 50, orgId, input, ACTOR);
    await add({
      number: '+16175550201',
      carrier: 'twilio',
      accountSid: SID,
      authToken: TOKEN,
      baseUrl: twilio.url,
      isDefault: true,
    });
    await add({
      number: TELNYX_NUMBER,
      carrier: 'telnyx',
      apiKey: TELNYX_KEY,
      publicKey: telnyx.publicKeyBase64,
      baseUrl: telnyx.url,
    });
    t.rt.startWorkers();
  });
  afterAll(async () => {
    await t?.cleanup();
    await twilio?.stop();
    await telnyx?.stop();
  });

  function retentionLater(): Retention {
    return new Retention(
      t.rt.store,
      t.rt.keyrings,
      subjectIndexOf(t.rt.keyrings, { regions: t.config.sendRegions }),
      pino({ level: 'silent' }),
      new Registry(),
      {
        now: () => Date.now() + 100 * DAY,
        batchSize: 2,
        carrierFor: async (o, senderId) => {
          const s = (await t.rt.orgs.senders(o)).find((x) => x.id === senderId);
          return s ? t.rt.senderCarriers.forSender(s) : null;
        },
      },
    );
  }

  it('asks Twilio once per destroyed message, retries failures next sweep, skips Telnyx', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push(
        (await t.rt.send(orgId, ACTOR, { to: phone(i), body: `Hi ${i}`, program: 'care' })).message
          .id,
      );
    }
    ids.push(
      (
        await t.rt.send(orgId, ACTOR, {
          to: phone(9),
          body: 'Hi telnyx',
          program: 'care',
          from: TELNYX_NUMBER,
        })
      ).message.id,
    );
    await waitFor(async () => {
      const ms = await Promise.all(ids.map((id) => t.rt.messaging.get(orgId, id, ACTOR)));
      return ms.every((m) => m.status === 'sent' || m.status === 'delivered');
    });
    const sids = twilio.messages.map((m) => m.id);
    expect(sids).toHaveLength(3);

    const dry = await retentionLater().run({ orgId, dryRun: true });
    expect(dry[0]!.carrierDeletions).toBeUndefined();
    expect(twilio.deletes).toEqual([]);

    twilio.failDeletes = 1;
    const first = await retentionLater().run({ orgId });
    expect(first[0]!.counts.outboundBodies).toBe(4);
    expect(first[0]!.carrierDeletions).toEqual({
      deleted: 2,
      retrying: 1,
      failed: 0,
      unsupported: 1,
    });
    // The local destruction did not wait for the carrier.
    const rows = await t.rt.store.db
      .selectFrom('messages')
      .select('body_enc')
      .where('org_id', '=', orgId)
      .execute();
    expect(rows.every((r) => r.body_enc === DESTROYED_CONTENT)).toBe(true);
    expect(new Set(twilio.deletes)).toEqual(new Set(sids));

    const second = await retentionLater().run({ orgId });
    expect(second[0]!.carrierDeletions).toEqual({
      deleted: 1,
      retrying: 0,
      failed: 0,
      unsupported: 0,
    });
    expect(twilio.deletes).toHaveLength(4);
    expect(twilio.messages).toHaveLength(0);

    const third = await retentionLater().run({ orgId });
    expect(third[0]!.carrierDeletions).toEqual({
      deleted: 0,
      retrying: 0,
      failed: 0,
      unsupported: 0,
    });
    expect(twilio.deletes).toHaveLength(4);

    const events = (await t.rt.audit.events(orgId, { limit: 200 }, ACTOR)).data.filter(
      (e) => e.action === 'retention.carrier_deleted',
    );
    expect(events.length).toBeGreaterThanOrEqual(2);
    expect(Object.keys(events[0]!.details).sort()).toEqual([
      'deleted',
      'failed',
      'retrying',
      'unsupported',
    ]);
    for (const sid of sids) expect(JSON.stringify(events)).not.toContain(sid);
    expect((await t.rt.audit.verify({ orgId })).ok).toBe(true);
  });
});
