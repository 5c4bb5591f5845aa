/**
 * Carrier failover: when the primary sender's carrier (Twilio peer answering 503) keeps
 * failing, the circuit breaker opens and messages go through the organisation's secondary
 * sender (Telnyx peer); when Twilio answers again they go back. Both moves are audited.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestRuntime, waitFor, type TestRuntime } from '../helpers.js';
import { startTelnyxPeer, startTwilioPeer, type RestPeer } from './rest-peers.js';
import { SYSTEM_ACTOR } from '../../src/audit/index.js';
import { addConfiguredSender } from '../../src/runtime/sender-carriers.js';

const SID = 'AC00000000000000000000000000000077';
const ADMIN = { type: 'cli' as const, id: 'failover-test' };

describe('carrier failover', () => {
  let t: TestRuntime;
  let orgId: string;
  let twilio: RestPeer;
  let telnyx: RestPeer;

  beforeAll(async () => {
    twilio = await startTwilioPeer(SID, 'tok');
    telnyx = await startTelnyxPeer('key');
    t = await openTestRuntime({
      runtime: {
        worker: {
          idlePollMs: 20,
          baseBackoffMs: 20,
          maxBackoffMs: 40,
          breakerThreshold: 3,
          breakerOpenMs: 500,
        },
      },
    });
    orgId = (await t.rt.orgs.create('Failover Clinic', SYSTEM_ACTOR)).orgId;
    await addConfiguredSender(
      t.rt.orgs,
      50,
      orgId,
      {
        number: '+16175550131',
        carrier: 'twilio',
        accountSid: SID,
        authToken: 'tok',
        baseUrl: twilio.url,
        isDefault: true,
      },
      ADMIN,
    );
    await addConfiguredSender(
      t.rt.orgs,
      50,
      orgId,
      {
        number: '+16175550132',
        carrier: 'telnyx',
        apiKey: 'key',
        publicKey: (telnyx as Awaited<ReturnType<typeof startTelnyxPeer>>).publicKeyBase64,
        baseUrl: telnyx.url,
        isSecondary: true,
      },
      ADMIN,
    );
    t.rt.startWorkers();
  });
  afterAll(async () => {
    await t?.cleanup();
    await twilio?.stop();
    await telnyx?.stop();
  });

  const send = async (n: number) =>
    (
      await t.rt.send(orgId, ADMIN, {
        to: `+161755501${40 + n}`,
        body: 'Your appointment is confirmed. Reply STOP to opt out.',
        program: 'care',
      })
    ).message.id;
  const status = async (id: string) => (await t.rt.messaging.get(orgId, id, SYSTEM_ACTOR)).status;
  const actions = async () =>
    (
      await t.rt.store.db
        .selectFrom('audit_events')
        .select('action')
        .where('org_id', '=', orgId)
        .execute()
    ).map((r) => r.action);

  it('moves to the secondary sender while the primary fails, and back when it recovers', async () => {
    twilio.fail5xx = 1_000;
    const first = await send(1);
    await waitFor(async () => (await status(first)) === 'sent', 15_000);
    expect(telnyx.messages.map((m) => m.from)).toContain('+16175550132');
    expect(await actions()).toContain('carrier.failover');

    twilio.fail5xx = 0;
    await new Promise((r) => setTimeout(r, 600));
    const later = await send(2);
    await waitFor(async () => (await status(later)) === 'sent', 15_000);
    await waitFor(async () => (await actions()).includes('carrier.recovered'), 15_000);
    expect(twilio.messages.length).toBeGreaterThan(0);
  }, 40_000);
});
