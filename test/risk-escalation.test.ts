/**
 * Escalating a risk alert, on SQLite and PostgreSQL: while a warning is open on a signal and
 * scope, figures that reach the critical threshold raise a critical alert that supersedes the
 * warning (closed in the same transaction, audited) and pauses what caused it; an equal or
 * lower severity stays deduplicated.
 */
import { describe, expect, it } from 'vitest';
import { announcePgSkip, DIALECTS, waitFor } from './helpers.js';
import { riskSuite } from './risk-suite.js';
import { SYSTEM_ACTOR } from '../src/audit/index.js';
import type { RiskAlertView } from '../src/risk/index.js';

announcePgSkip('risk alert escalation');
const ACTOR = { type: 'cli' as const, id: 'test' };
const phone = (i: number) => `+1617555${String(5000 + i).padStart(4, '0')}`;

describe.each(DIALECTS)('risk alert escalation on %s', (dialect) => {
  const suite = riskSuite(dialect);
  const otherProcess = () => suite.otherProcess();

  /** Sends `n` texts in program `care` and waits until they are delivered. */
  const deliver = async (orgId: string, from: number, n: number) => {
    const ids: string[] = [];
    for (let i = from; i < from + n; i++) {
      ids.push(
        (await suite.t.rt.send(orgId, ACTOR, { to: phone(i), body: 'Hi', program: 'care' })).message
          .id,
      );
    }
    await waitFor(async () => {
      const ms = await Promise.all(ids.map((id) => suite.t.rt.messaging.get(orgId, id, ACTOR)));
      return ms.every((m) => m.status === 'delivered');
    }, 20_000);
    return ids;
  };

  const riskActions = async (orgId: string) =>
    (await suite.t.rt.audit.events(orgId, { limit: 200 }, ACTOR)).data
      .filter((e) => e.action.startsWith('risk.'))
      .reverse();

  it('raises a critical opt-out alert over an open warning, closes the warning and pauses', async () => {
    const { orgId } = await suite.t.rt.orgs.create('Escalation Clinic', SYSTEM_ACTOR);
    await deliver(orgId, 0, 50);
    await suite.t.rt.orgs.setWebhook(orgId, 'http://127.0.0.1:9/hook', ACTOR);
    const optOut = (i: number) =>
      suite.t.rt.consent.record(
        orgId,
        { phone: phone(i), program: 'all', kind: 'opt_out_all', source: 'sms_keyword' },
        ACTOR,
      );

    // 2 of 50 delivered (4 %): a warning, nothing paused.
    for (let i = 0; i < 2; i++) await optOut(i);
    const warning = (await suite.t.rt.risk.evaluate(orgId)).find(
      (a) => a.signal === 'opt_out_rate',
    )!;
    expect(warning).toMatchObject({
      severity: 'warning',
      scope: { type: 'organisation', id: orgId },
      pausedSenders: [],
      status: 'open',
    });
    expect(await suite.t.rt.risk.pausedSenders(orgId)).toEqual([]);
    expect(await suite.t.rt.risk.evaluate(orgId)).toEqual([]); // same severity: deduplicated

    // 3 of 50 (6 %): critical, in another process. The warning no longer blocks it.
    await optOut(2);
    const critical = (await otherProcess().evaluate(orgId)).find(
      (a) => a.signal === 'opt_out_rate',
    )!;
    expect(critical).toMatchObject({
      severity: 'critical',
      scope: { type: 'organisation', id: orgId },
      figures: { optOuts: 3, delivered: 50 },
      status: 'open',
    });
    expect(critical.id).not.toBe(warning.id);
    expect(critical.explanation).toContain(`Escalated from the warning ${warning.id}`);
    expect(critical.pausedSenders.length).toBe(1);
    const senderId = critical.pausedSenders[0]!;
    expect(await suite.t.rt.risk.pausedSenders(orgId)).toEqual([senderId]);
    expect(await otherProcess().isSenderPaused(orgId, senderId)).toBe(true);

    // The warning is closed as superseded: not open, not an admin's review.
    const open = await suite.t.rt.risk.alerts(orgId, { status: 'open' });
    expect(open.filter((a) => a.signal === 'opt_out_rate').map((a) => a.id)).toEqual([critical.id]);
    const closed = (await suite.t.rt.risk.alerts(orgId, { status: 'resolved' })).find(
      (a) => a.id === warning.id,
    );
    expect(closed).toMatchObject({
      status: 'resolved',
      supersededBy: critical.id,
      resolvedBy: `alert:${critical.id}`,
    });
    expect(closed!.resolvedAt).toBe(critical.createdAt);

    // Equal severity again, in either process: deduplicated while the critical is open.
    expect(await suite.t.rt.risk.evaluate(orgId)).toEqual([]);
    expect(await otherProcess().evaluate(orgId)).toEqual([]);

    // Audited: the critical alert names the warning it supersedes, the warning's closing is
    // its own event (by the system, naming the critical alert); one pause.
    const audits = await riskActions(orgId);
    expect(audits.map((e) => e.action)).toEqual([
      'risk.alert_raised',
      'risk.alert_raised',
      'risk.alert_superseded',
      'risk.sender_paused',
    ]);
    expect(audits[1]).toMatchObject({
      target: { type: 'risk_alert', id: critical.id },
      details: { severity: 'critical', supersedes: warning.id },
    });
    expect(audits[2]).toMatchObject({
      actor: { type: 'system' },
      target: { type: 'risk_alert', id: warning.id },
      details: {
        supersededBy: critical.id,
        signal: 'opt_out_rate',
        severity: 'warning',
        scope: 'organisation',
      },
    });
    expect(audits[2]!.time).toBe(critical.createdAt);
    expect((await suite.t.rt.audit.verify({ orgId })).ok).toBe(true);

    // Sent to the webhook as a new risk.alert naming what it supersedes.
    const hooks = await suite.t.rt.store.db
      .selectFrom('webhook_deliveries')
      .select(['payload', 'id'])
      .where('org_id', '=', orgId)
      .where('event_type', '=', 'risk.alert')
      .orderBy('id')
      .execute();
    const payloads = hooks.map((h) => JSON.parse(h.payload) as Record<string, unknown>);
    expect(payloads.map((p) => p.id)).toEqual([warning.id, critical.id]);
    expect(payloads[1]).toMatchObject({ severity: 'critical', supersedes: [warning.id] });

    // Resuming the critical alert resumes the sender; the superseded warning was never a
    // review, so the window restarts at this resolution.
    const resumed = await suite.t.rt.risk.resume(orgId, critical.id, ACTOR);
    expect(resumed).toMatchObject({ resumedSenders: [senderId], stillPaused: [] });
    expect(await suite.t.rt.risk.pausedSenders(orgId)).toEqual([]);
    expect(await otherProcess().evaluate(orgId)).toEqual([]);
    // Only the critical alert was resolved by an admin; the warning has one closing event.
    const closing = (await riskActions(orgId)).filter(
      (e) => e.action === 'risk.alert_resolved' || e.action === 'risk.alert_superseded',
    );
    expect(closing.map((e) => [e.action, e.target.id, e.actor])).toEqual([
      ['risk.alert_superseded', warning.id, { type: 'system', id: 'tidings' }],
      ['risk.alert_resolved', critical.id, ACTOR],
    ]);
    expect((await suite.t.rt.audit.verify({ orgId })).ok).toBe(true);
  }, 60_000);

  it('escalates a sender failure warning to critical, and a lower severity stays deduplicated', async () => {
    const { orgId } = await suite.t.rt.orgs.create('Escalating Failures Clinic', SYSTEM_ACTOR);
    const ids = await deliver(orgId, 100, 50);
    const setStatus = (from: number, to: number, status: 'failed' | 'delivered') =>
      suite.t.rt.store.db
        .updateTable('messages')
        .set({
          status,
          failure_code: status === 'failed' ? 'permanent' : null,
          updated_at: Date.now(),
        })
        .where('org_id', '=', orgId)
        .where('id', 'in', ids.slice(from, to))
        .execute();
    const failureAlerts = (raised: RiskAlertView[]) =>
      raised.filter((a) => a.signal === 'delivery_failure_rate');

    await setStatus(0, 10, 'failed'); // 20 %: a warning
    const [warning] = failureAlerts(await suite.t.rt.risk.evaluate(orgId));
    expect(warning).toMatchObject({ severity: 'warning', scope: { type: 'sender' } });
    const senderId = warning!.scope.id;

    await setStatus(10, 20, 'failed'); // 40 %: critical, the sender is paused
    const [critical] = failureAlerts(await suite.t.rt.risk.evaluate(orgId));
    expect(critical).toMatchObject({
      severity: 'critical',
      scope: { type: 'sender', id: senderId },
      figures: { failed: 20, attempted: 50 },
      pausedSenders: [senderId],
    });
    expect(await suite.t.rt.risk.pausedSenders(orgId)).toEqual([senderId]);

    // Back down to a warning (16 %): the open critical alert deduplicates it, and the
    // sender stays paused.
    await setStatus(0, 12, 'delivered');
    expect(failureAlerts(await suite.t.rt.risk.evaluate(orgId))).toEqual([]);
    expect(failureAlerts(await otherProcess().evaluate(orgId))).toEqual([]);
    expect((await suite.t.rt.risk.alerts(orgId, { status: 'open' })).map((a) => a.id)).toEqual([
      critical!.id,
    ]);
    expect(await suite.t.rt.risk.pausedSenders(orgId)).toEqual([senderId]);
  }, 60_000);
});
