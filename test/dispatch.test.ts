import { afterEach, describe, expect, it } from 'vitest';
import { openTestRuntime, waitFor, type TestRuntime } from './helpers.js';
import { CarrierError } from '../src/carriers/index.js';
import { SYSTEM_ACTOR } from '../src/audit/index.js';

const actor = { type: 'api_key' as const, id: 'key_test' };

describe('dispatch worker', () => {
  let t: TestRuntime | undefined;
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
  });

  it('retries transient failures with backoff, then sends', async () => {
    const tries = new Map<string, number>();
    t = await openTestRuntime({
      runtime: {
        simulator: {
          failWith: (m) => {
            const n = (tries.get(m.messageId) ?? 0) + 1;
            tries.set(m.messageId, n);
            return n < 3 ? new CarrierError('transient', 'SIM_BUSY') : undefined;
          },
        },
      },
    });
    const { orgId } = await t.rt.orgs.create('Retry Clinic', SYSTEM_ACTOR);
    t.rt.startWorkers();
    const { message } = await t.rt.messaging.accept(orgId, actor, {
      to: '+16175550123',
      body: 'hi',
      program: 'care',
    });
    const done = await waitFor(async () => {
      const m = await t!.rt.messaging.get(orgId, message.id, actor);
      return m.status === 'delivered' ? m : undefined;
    });
    expect(done.attempts).toBe(3);
    expect(tries.get(message.id)).toBe(3);
  });

  it('fails permanent errors at once with the reason, and gives up after the attempt limit', async () => {
    t = await openTestRuntime({
      env: { TIDINGS_MAX_ATTEMPTS: '3' },
      runtime: {
        simulator: {
          failWith: (m) =>
            m.body === 'permanent'
              ? new CarrierError('invalid_recipient', 'SIM_UNKNOWN_SUBSCRIBER')
              : new CarrierError('transient', 'SIM_DOWN'),
        },
      },
    });
    const { orgId } = await t.rt.orgs.create('Fail Clinic', SYSTEM_ACTOR);
    t.rt.startWorkers();
    const perm = await t.rt.messaging.accept(orgId, actor, {
      to: '+16175550123',
      body: 'permanent',
      program: 'care',
    });
    const trans = await t.rt.messaging.accept(orgId, actor, {
      to: '+16175550124',
      body: 'transient',
      program: 'care',
    });
    const p = await waitFor(async () => {
      const m = await t!.rt.messaging.get(orgId, perm.message.id, actor);
      return m.status === 'failed' ? m : undefined;
    });
    expect(p).toMatchObject({
      attempts: 1,
      failureCode: 'invalid_recipient',
      failureReason: 'SIM_UNKNOWN_SUBSCRIBER',
    });
    const q = await waitFor(async () => {
      const m = await t!.rt.messaging.get(orgId, trans.message.id, actor);
      return m.status === 'failed' ? m : undefined;
    });
    expect(q).toMatchObject({
      attempts: 3,
      failureCode: 'max_attempts',
      failureReason: 'SIM_DOWN',
    });
    expect(await t.rt.store.db.selectFrom('dispatch_jobs').selectAll().execute()).toEqual([]);
  });

  it('paces each sender at its messages-per-second limit', async () => {
    t = await openTestRuntime({ env: { TIDINGS_DEFAULT_MPS: '20' } });
    const { orgId } = await t.rt.orgs.create('Paced Clinic', SYSTEM_ACTOR);
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        t!.rt.messaging.accept(orgId, actor, {
          to: `+1617555${1000 + i}`,
          body: `m${i}`,
          program: 'care',
        }),
      ),
    );
    const start = Date.now();
    t.rt.startWorkers();
    await waitFor(
      async () =>
        (await t!.rt.store.db.selectFrom('dispatch_jobs').selectAll().execute()).length === 0,
    );
    // The limit is counted per clock second (dispatch/segment-limit; its own test checks that
    // no second grants more): 50 at 20 a second need three seconds' budgets, so the last goes
    // at least one whole second after the first.
    expect(Date.now() - start).toBeGreaterThanOrEqual(1_000);
  });

  it('does not send a message canceled before dispatch, nor one scheduled later', async () => {
    t = await openTestRuntime();
    const { orgId } = await t.rt.orgs.create('Cancel Clinic', SYSTEM_ACTOR);
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const a = await t.rt.messaging.accept(orgId, actor, {
      to: '+16175550123',
      body: 'a',
      program: 'care',
      sendAt: later,
    });
    const b = await t.rt.messaging.accept(orgId, actor, {
      to: '+16175550124',
      body: 'b',
      program: 'care',
    });
    expect((await t.rt.messaging.cancel(orgId, b.message.id, actor)).status).toBe('canceled');
    t.rt.startWorkers();
    await new Promise((r) => setTimeout(r, 300));
    expect((await t.rt.messaging.get(orgId, a.message.id, actor)).status).toBe('queued');
    expect((await t.rt.messaging.get(orgId, b.message.id, actor)).status).toBe('canceled');
  });
});
