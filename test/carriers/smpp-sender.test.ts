/**
 * A sender configured with its own SMPP bind (`tidings sender add --carrier smpp --url …`):
 * the runtime builds its adapter from the encrypted settings, the message reaches the local
 * SMSC from the sender's number and its delivery receipt marks it delivered.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestRuntime, waitFor, type TestRuntime } from '../helpers.js';
import { SmscPeer } from './smsc-peer.js';
import { SYSTEM_ACTOR } from '../../src/audit/index.js';
import { addConfiguredSender } from '../../src/runtime/sender-carriers.js';

describe('a sender with its own SMPP bind', () => {
  let t: TestRuntime;
  let peer: SmscPeer;
  let orgId: string;

  beforeAll(async () => {
    peer = await new SmscPeer({ receipts: 'tlv' }).start();
    t = await openTestRuntime();
    orgId = (await t.rt.orgs.create('SMPP Clinic', SYSTEM_ACTOR)).orgId;
    await addConfiguredSender(
      t.rt.orgs,
      50,
      orgId,
      { number: '+16175550161', carrier: 'smpp', url: peer.url, window: 5, isDefault: true },
      { type: 'cli', id: 'smpp-sender-test' },
    );
    t.rt.startWorkers();
  });
  afterAll(async () => {
    await t?.cleanup();
    await peer?.stop();
  });

  it('stores the bind password encrypted and sends through the bind', async () => {
    const rows = await t.rt.store.db.selectFrom('senders').select('config_enc').execute();
    expect(JSON.stringify(rows)).not.toContain('secret');
    const id = (
      await t.rt.send(orgId, SYSTEM_ACTOR, {
        to: '+16175550162',
        body: 'Your appointment is confirmed. Reply STOP to opt out.',
        program: 'care',
      })
    ).message.id;
    await waitFor(
      async () => (await t.rt.messaging.get(orgId, id, SYSTEM_ACTOR)).status === 'delivered',
      15_000,
    );
    expect(peer.submits.at(-1)?.from.replace(/^\+/, '')).toBe('16175550161');
  }, 30_000);
});
