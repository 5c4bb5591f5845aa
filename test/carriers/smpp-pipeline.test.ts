/**
 * End to end with TIDINGS_CARRIER=smpp: a runtime whose default sender uses the
 * TIDINGS_SMPP_URL bind, against a local SMSC. A message is accepted, submitted over SMPP,
 * receipted (`delivered`), and a STOP sent back by the SMSC as a mobile-originated
 * `deliver_sm` goes through the consent engine: the opt-out is recorded, the confirmation
 * reply leaves over the same bind, and the next send is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../../src/audit/index.js';
import { openTestRuntime, waitFor, type TestRuntime } from '../helpers.js';
import { SmscPeer } from './smsc-peer.js';

describe('TIDINGS_CARRIER=smpp end to end', () => {
  let peer: SmscPeer;
  let t: TestRuntime;
  let orgId: string;
  let senderNumber: string;
  const PATIENT = '+16175550142';

  beforeAll(async () => {
    peer = await new SmscPeer({
      systemId: 'lakeside',
      password: 'pw123',
      receipts: 'text',
    }).start();
    t = await openTestRuntime({
      env: { TIDINGS_CARRIER: 'smpp', TIDINGS_SMPP_URL: peer.url, TIDINGS_SMPP_WINDOW: '10' },
      runtime: { smpp: { reconnectInitialMs: 50, responseTimeoutMs: 2_000 } },
    });
    const org = await t.rt.orgs.create('Lakeside Clinic', SYSTEM_ACTOR);
    orgId = org.orgId;
    expect(org.sender.carrier).toBe('smpp');
    senderNumber = org.sender.number;
    t.rt.startWorkers();
  });
  afterAll(async () => {
    await t?.cleanup();
    await peer?.stop();
  });

  it('delivers and receipts a message over the SMPP bind', async () => {
    const { message } = await t.rt.send(orgId, SYSTEM_ACTOR, {
      to: PATIENT,
      body: 'Lakeside Clinic: your appointment is tomorrow at 10:30.',
      program: 'care',
    });
    const final = await waitFor(async () => {
      const m = await t.rt.messaging.get(orgId, message.id, SYSTEM_ACTOR);
      return m.status === 'delivered' ? m : null;
    });
    expect(final.status).toBe('delivered');
    const got = peer.messages().find((m) => m.body.includes('appointment is tomorrow'));
    expect(got).toMatchObject({ to: PATIENT.slice(1), from: senderNumber.slice(1) });
  });

  it('a submission unanswered when the bind dropped is resubmitted and audited as a possible duplicate', async () => {
    peer.holdAnswers = true;
    const before = peer.submits.length;
    const { message } = await t.rt.send(orgId, SYSTEM_ACTOR, {
      to: '+16175550143',
      body: 'Lakeside Clinic: the pharmacy closes at 6 today.',
      program: 'care',
    });
    await waitFor(() => (peer as unknown as { held: unknown[] }).held.length === 1);
    peer.dropAll();
    peer.discardHeld();
    await waitFor(async () => {
      const m = await t.rt.messaging.get(orgId, message.id, SYSTEM_ACTOR);
      return m.status === 'delivered';
    });
    expect(peer.submits.length).toBe(before + 1);
    const sent = await t.rt.store.db
      .selectFrom('audit_events')
      .select('details')
      .where('action', '=', 'message.sent')
      .where('target_id', '=', message.id)
      .executeTakeFirstOrThrow();
    expect(JSON.parse(sent.details)).toMatchObject({ carrier: 'smpp', possibleDuplicate: true });
  });

  it('records an inbound STOP through the consent engine and refuses the next send', async () => {
    peer.sendInbound(PATIENT, senderNumber, 'STOP');
    await waitFor(async () => {
      const v = await t.rt.consent.show(orgId, PATIENT);
      return v.programs.care.status === 'opted_out';
    });
    const v = await t.rt.consent.show(orgId, PATIENT);
    expect(v.history.at(-1)).toMatchObject({ kind: 'opt_out_all' });
    // The confirmation goes back over the same bind.
    await waitFor(() => peer.messages().some((m) => /unsubscribed/i.test(m.body)));
    await expect(
      t.rt.send(orgId, SYSTEM_ACTOR, { to: PATIENT, body: 'Another reminder.', program: 'care' }),
    ).rejects.toMatchObject({ code: 'recipient_opted_out' });
  });
});

describe('dispatch over SMPP with batches in flight', () => {
  it('claims the next batch while one is unanswered, and no more than batchesInFlight', async () => {
    const peer = await new SmscPeer({ receipts: 'none' }).start();
    const t = await openTestRuntime({
      env: { TIDINGS_CARRIER: 'smpp', TIDINGS_SMPP_URL: peer.url, TIDINGS_SMPP_WINDOW: '50' },
      runtime: { worker: { batchSize: 5, batchesInFlight: 2 } },
    });
    try {
      const { orgId } = await t.rt.orgs.create('Batch Clinic', SYSTEM_ACTOR);
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) {
        const { message } = await t.rt.send(orgId, SYSTEM_ACTOR, {
          to: `+1617555${String(150 + i).padStart(4, '0')}`,
          body: 'Lakeside Clinic: see you on Tuesday.',
          program: 'care',
        });
        ids.push(message.id);
      }
      peer.holdAnswers = true;
      const held = () => (peer as unknown as { held: unknown[] }).held.length;
      t.rt.startWorkers();
      // Two batches of 5 are submitted although the first is not answered yet.
      await waitFor(() => held() === 10);
      await new Promise((r) => setTimeout(r, 300));
      expect(held()).toBe(10);
      const leased = await t.rt.store.db
        .selectFrom('dispatch_jobs')
        .select('message_id')
        .where('lease_owner', 'is not', null)
        .execute();
      expect(leased).toHaveLength(10);
      peer.releaseHeld();
      await waitFor(async () => {
        const rows = await t.rt.store.db
          .selectFrom('messages')
          .select(['status', 'carrier_message_id'])
          .where('id', 'in', ids)
          .execute();
        return rows.every((r) => r.status === 'sent') ? rows : undefined;
      });
      // Each message kept the carrier id the SMSC gave it (one statement records a batch).
      const rows = await t.rt.store.db
        .selectFrom('messages')
        .select(['id', 'carrier_message_id'])
        .where('id', 'in', ids)
        .execute();
      const byCarrierId = new Map(peer.submits.map((s) => [s.messageId, s.to]));
      const toOf = new Map(
        ids.map((id, i) => [id, `1617555${String(150 + i).padStart(4, '0')}`] as const),
      );
      for (const r of rows) expect(byCarrierId.get(r.carrier_message_id!)).toBe(toOf.get(r.id));
    } finally {
      await t.cleanup();
      await peer.stop();
    }
  });
});
