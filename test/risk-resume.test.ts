/**
 * Resuming a risk alert, on SQLite and PostgreSQL: once an admin has resolved an alert, the
 * evidence they reviewed does not raise it again (nor pause the sender again) for the rest of
 * the signal's window, in this process or any other; a new burst after the resume does.
 */
import { describe, expect, it } from 'vitest';
import { announcePgSkip, DIALECTS, waitFor } from './helpers.js';
import { riskSuite } from './risk-suite.js';
import { SYSTEM_ACTOR } from '../src/audit/index.js';

announcePgSkip('risk alert resumption');
const ACTOR = { type: 'cli' as const, id: 'test' };
const phone = (i: number) => `+1617555${String(3000 + i).padStart(4, '0')}`;
/** Lets the clock move past the resolution, so what follows is strictly after it. */
const tick = () => new Promise((r) => setTimeout(r, 5));

describe.each(DIALECTS)('risk alert resumption on %s', (dialect) => {
  const suite = riskSuite(dialect);
  const otherProcess = () => suite.otherProcess();

  const optOut = (orgId: string, i: number) =>
    suite.t.rt.consent.record(
      orgId,
      { phone: phone(i), program: 'all', kind: 'opt_out_all', source: 'sms_keyword' },
      ACTOR,
    );

  it('does not raise a resumed opt-out alert again for the same opt-outs, but does for new ones', async () => {
    const { orgId } = await suite.t.rt.orgs.create('Resume Clinic', SYSTEM_ACTOR);
    const delivered = async (n: number) =>
      waitFor(async () => {
        const r = await suite.t.rt.store.db
          .selectFrom('messages')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('org_id', '=', orgId)
          .where('status', '=', 'delivered')
          .executeTakeFirst();
        return Number(r?.n) >= n;
      }, 20_000);
    for (let i = 0; i < 50; i++) {
      await suite.t.rt.send(orgId, ACTOR, { to: phone(i), body: 'Hi', program: 'care' });
    }
    await delivered(50);

    // 3 of 50 delivered (6 %): critical, the sender is paused.
    for (let i = 0; i < 3; i++) await optOut(orgId, i);
    const first = (await suite.t.rt.risk.evaluate(orgId)).find((a) => a.signal === 'opt_out_rate')!;
    expect(first).toMatchObject({ severity: 'critical', figures: { optOuts: 3, delivered: 50 } });
    expect(first.pausedSenders.length).toBe(1);
    const senderId = first.pausedSenders[0]!;
    expect(await suite.t.rt.risk.pausedSenders(orgId)).toEqual([senderId]);

    // The admin reviews and resumes: evaluating again, here or in another process, raises
    // nothing for the opt-outs already reviewed, and the sender stays resumed.
    await suite.t.rt.risk.resume(orgId, first.id, ACTOR);
    expect(await suite.t.rt.risk.pausedSenders(orgId)).toEqual([]);
    expect(await suite.t.rt.risk.evaluate(orgId)).toEqual([]);
    expect(await otherProcess().evaluate(orgId)).toEqual([]);
    expect(await suite.t.rt.risk.pausedSenders(orgId)).toEqual([]);
    expect(await otherProcess().isSenderPaused(orgId, senderId)).toBe(false);
    expect((await suite.t.rt.risk.alerts(orgId, { status: 'open' })).length).toBe(0);
    const after = await suite.t.rt.send(orgId, ACTOR, {
      to: phone(60),
      body: 'Hi',
      program: 'care',
    });
    await waitFor(
      async () =>
        (await suite.t.rt.messaging.get(orgId, after.message.id, ACTOR)).status === 'delivered',
      10_000,
    );

    // A new burst after the resume (3 more of 51 delivered) is a new alert and a new pause.
    await tick();
    for (let i = 3; i < 6; i++) await optOut(orgId, i);
    const second = (await otherProcess().evaluate(orgId)).find((a) => a.signal === 'opt_out_rate')!;
    expect(second).toMatchObject({
      severity: 'critical',
      scope: { type: 'organisation', id: orgId },
      figures: { optOuts: 3, delivered: 51 },
      pausedSenders: [senderId],
    });
    expect(second.id).not.toBe(first.id);
    expect(second.explanation).toMatch(/3 recipients of this organisation opted out since/);
    expect(await suite.t.rt.risk.pausedSenders(orgId)).toEqual([senderId]);
    expect(await suite.t.rt.risk.evaluate(orgId)).toEqual([]); // open: not raised twice

    const actions = (await suite.t.rt.audit.events(orgId, { limit: 200 }, ACTOR)).data
      .map((e) => e.action)
      .filter((a) => a.startsWith('risk.'))
      .reverse();
    expect(actions).toEqual([
      'risk.alert_raised',
      'risk.sender_paused',
      'risk.sender_resumed',
      'risk.alert_resolved',
      'risk.alert_raised',
      'risk.sender_paused',
    ]);
    expect((await suite.t.rt.audit.verify({ orgId })).ok).toBe(true);
  }, 60_000);

  it('counts only failures after the resolution in a sender failure rate', async () => {
    const { orgId } = await suite.t.rt.orgs.create('Failing Clinic', SYSTEM_ACTOR);
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) {
      ids.push(
        (await suite.t.rt.send(orgId, ACTOR, { to: phone(100 + i), body: 'Hi', program: 'care' }))
          .message.id,
      );
    }
    await waitFor(async () => {
      const ms = await Promise.all(ids.map((id) => suite.t.rt.messaging.get(orgId, id, ACTOR)));
      return ms.every((m) => m.status === 'delivered');
    }, 20_000);
    // As a carrier's receipts record them: the text failed, at that moment.
    const fail = (from: number, to: number) =>
      suite.t.rt.store.db
        .updateTable('messages')
        .set({ status: 'failed', failure_code: 'permanent', updated_at: Date.now() })
        .where('org_id', '=', orgId)
        .where('id', 'in', ids.slice(from, to))
        .execute();

    await fail(0, 20); // 40 %: critical
    const first = (await suite.t.rt.risk.evaluate(orgId)).find(
      (a) => a.signal === 'delivery_failure_rate',
    )!;
    expect(first).toMatchObject({
      severity: 'critical',
      scope: { type: 'sender' },
      figures: { failed: 20, attempted: 50 },
    });
    const senderId = first.scope.id;
    expect(first.pausedSenders).toEqual([senderId]);
    await suite.t.rt.risk.resume(orgId, first.id, ACTOR);
    expect(await otherProcess().evaluate(orgId)).toEqual([]);
    expect(await suite.t.rt.risk.pausedSenders(orgId)).toEqual([]);

    await tick();
    await fail(20, 30); // 10 more of 50 since the resume (20 %): a warning, nothing paused
    const second = (await suite.t.rt.risk.evaluate(orgId)).find(
      (a) => a.signal === 'delivery_failure_rate',
    )!;
    expect(second).toMatchObject({
      severity: 'warning',
      scope: { type: 'sender', id: senderId },
      figures: { failed: 10, attempted: 50 },
      pausedSenders: [],
    });
    expect(second.figures.since).toBe(
      Date.parse((await suite.t.rt.risk.alerts(orgId))[1]!.resolvedAt!),
    );
    expect(await suite.t.rt.risk.pausedSenders(orgId)).toEqual([]);
  }, 60_000);

  it('counts events after the resolution for count signals too', async () => {
    const { orgId } = await suite.t.rt.orgs.create('Break Glass Clinic', SYSTEM_ACTOR);
    const grant = () => suite.grantBreakGlass(orgId);
    await grant();
    const first = (await suite.t.rt.risk.evaluate(orgId)).find(
      (a) => a.signal === 'break_glass_use',
    )!;
    expect(first).toMatchObject({ severity: 'warning', figures: { count: 1 } });
    await suite.t.rt.risk.resume(orgId, first.id, ACTOR);
    expect(await otherProcess().evaluate(orgId)).toEqual([]);

    await tick();
    await grant();
    const second = (await suite.t.rt.risk.evaluate(orgId)).find(
      (a) => a.signal === 'break_glass_use',
    )!;
    expect(second).toMatchObject({ severity: 'warning', figures: { count: 1 } });
    expect(second.id).not.toBe(first.id);
  });
});
