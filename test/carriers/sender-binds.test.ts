/**
 * Carrier connections follow the senders table, however it changes: a worker opens the bind
 * of an SMPP sender another process added (the CLI) and closes that of one another process
 * removed, within a sweep (runtime/sender-carriers). And a server configured for a real
 * carrier never pretends to deliver: a sender left on the simulator fails its texts, with a
 * log line that names ids and the code, never the number or the text.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { SYSTEM_ACTOR } from '../../src/audit/index.js';
import { addConfiguredSender } from '../../src/runtime/sender-carriers.js';
import { openTestRuntime, waitFor, type TestRuntime } from '../helpers.js';
import { SmscPeer } from './smsc-peer.js';

describe('carrier connections follow the senders table', () => {
  let peer: SmscPeer;
  let t: TestRuntime;
  let orgId: string;
  const logLines: string[] = [];
  const PATIENT = '+16175550144';
  const BODY = 'Lakeside Clinic: your flu shot is due.';

  beforeAll(async () => {
    peer = await new SmscPeer({ receipts: 'none' }).start();
    t = await openTestRuntime({
      env: { TIDINGS_CARRIER: 'smpp', TIDINGS_SMPP_URL: peer.url },
      runtime: {
        smpp: { reconnectInitialMs: 50 },
        log: pino({ level: 'info' }, { write: (l: string) => void logLines.push(l) }),
      },
    });
    orgId = (await t.rt.orgs.create('Lakeside Clinic', SYSTEM_ACTOR)).orgId;
    t.rt.startWorkers();
    await waitFor(() => peer.sessions.size === 1); // the installation's bind
  });
  afterAll(async () => {
    await t?.cleanup();
    await peer?.stop();
  });

  it('fails a text from a sender left on the simulator instead of reporting it delivered', async () => {
    await addConfiguredSender(
      t.rt.orgs,
      50,
      orgId,
      { number: '+16175550199', carrier: 'simulator' },
      SYSTEM_ACTOR,
    );
    const { message } = await t.rt.send(orgId, SYSTEM_ACTOR, {
      to: PATIENT,
      body: BODY,
      program: 'care',
      from: '+16175550199',
    });
    const row = await waitFor(() =>
      t.rt.store.db
        .selectFrom('messages')
        .select(['status', 'failure_code', 'failure_reason'])
        .where('id', '=', message.id)
        .where('status', '=', 'failed')
        .executeTakeFirst(),
    );
    expect(row).toEqual({
      status: 'failed',
      failure_code: 'config',
      failure_reason: 'SIMULATOR_OFF',
    });
    const line = logLines.find((l) => l.includes('carrier did not take a submission'));
    expect(JSON.parse(line!)).toMatchObject({
      messageId: message.id,
      carrier: 'simulator',
      failure: 'config',
      code: 'SIMULATOR_OFF',
    });
    const all = logLines.join('');
    expect(all).not.toContain(PATIENT.slice(2));
    expect(all).not.toContain('flu shot');
  });

  it('binds a sender added elsewhere, and unbinds it once removed elsewhere', async () => {
    // Another process (the CLI) adds and removes through orgs: this runtime is not told.
    const { sender } = await addConfiguredSender(
      t.rt.orgs,
      50,
      orgId,
      { number: '+16175550198', carrier: 'smpp', url: peer.url },
      SYSTEM_ACTOR,
    );
    await waitFor(() => peer.sessions.size === 2, 15_000);
    await t.rt.orgs.removeSender(orgId, sender.id, SYSTEM_ACTOR);
    await waitFor(() => peer.sessions.size === 1, 15_000);
  }, 40_000);
});
