/**
 * Several critical alerts pausing one sender, on SQLite and PostgreSQL: the sender stays
 * paused while any open critical alert that paused it is open, and is resumed with the last
 * of them; each resume says what it resumed and which alerts still hold the rest. Derived
 * from the database, so it holds across worker processes.
 */
import { describe, expect, it } from 'vitest';
import { announcePgSkip, DIALECTS, waitFor } from './helpers.js';
import { riskSuite } from './risk-suite.js';
import { SYSTEM_ACTOR } from '../src/audit/index.js';
import type { RiskAlertView } from '../src/risk/index.js';

announcePgSkip('risk pause holds');
const ACTOR = { type: 'cli' as const, id: 'test' };
const phone = (i: number) => `+1617555${String(7000 + i).padStart(4, '0')}`;

describe.each(DIALECTS)('risk pause holds on %s', (dialect) => {
  const suite = riskSuite(dialect);
  const otherProcess = () => suite.otherProcess();

  /**
   * An organisation that texted 50 recipients in `care` and one in `billing`, 3 of whom
   * opted out of everything: the organisation (3 of 51) and the program `care` (3 of 50)
   * are both critical, and both pause the one sender.
   */
  async function twoAlertsOneSender(name: string, base: number) {
    const { orgId } = await suite.t.rt.orgs.create(name, SYSTEM_ACTOR);
    const ids: string[] = [];
    for (let i = 0; i < 51; i++) {
      const program = i === 50 ? 'billing' : 'care';
      ids.push(
        (await suite.t.rt.send(orgId, ACTOR, { to: phone(base + i), body: 'Hi', program })).message
          .id,
      );
    }
    await waitFor(async () => {
      const ms = await Promise.all(ids.map((id) => suite.t.rt.messaging.get(orgId, id, ACTOR)));
      return ms.every((m) => m.status === 'delivered');
    }, 20_000);
    for (let i = 0; i < 3; i++) {
      await suite.t.rt.consent.record(
        orgId,
        { phone: phone(base + i), program: 'all', kind: 'opt_out_all', source: 'sms_keyword' },
        ACTOR,
      );
    }
    const raised = (await suite.t.rt.risk.evaluate(orgId)).filter(
      (a) => a.signal === 'opt_out_rate',
    );
    const org = raised.find((a) => a.scope.type === 'organisation')!;
    const program = raised.find((a) => a.scope.type === 'program')!;
    expect(org).toMatchObject({ severity: 'critical', figures: { optOuts: 3, delivered: 51 } });
    expect(program).toMatchObject({
      severity: 'critical',
      scope: { id: 'care' },
      figures: { optOuts: 3, delivered: 50 },
    });
    expect(org.pausedSenders.length).toBe(1);
    const senderId = org.pausedSenders[0]!;
    expect(program.pausedSenders).toEqual([senderId]);
    expect(await suite.t.rt.risk.pausedSenders(orgId)).toEqual([senderId]);
    return { orgId, org, program, senderId };
  }

  const senderAudits = async (orgId: string) =>
    (await suite.t.rt.audit.events(orgId, { limit: 200 }, ACTOR)).data
      .filter((e) => e.action === 'risk.sender_paused' || e.action === 'risk.sender_resumed')
      .reverse()
      .map((e) => [e.action, e.details.alert]);

  it('keeps the sender paused until the last alert that paused it is resumed (first alert first)', async () => {
    const { orgId, org, program, senderId } = await twoAlertsOneSender('Two Alerts Clinic', 0);

    // Resuming the organisation's alert (which recorded the pause) leaves the sender held by
    // the program's alert, and says so.
    const first = await suite.t.rt.risk.resume(orgId, org.id, ACTOR);
    expect(await suite.t.rt.risk.pausedSenders(orgId)).toEqual([senderId]);
    expect(await otherProcess().isSenderPaused(orgId, senderId)).toBe(true);
    expect(first).toMatchObject({
      id: org.id,
      status: 'resolved',
      resumedSenders: [],
      stillPaused: [{ senderId, heldBy: [program.id] }],
    });

    // A text from it stays queued.
    const held = await suite.t.rt.send(orgId, ACTOR, {
      to: phone(90),
      body: 'Later',
      program: 'care',
    });
    await new Promise((r) => setTimeout(r, 500));
    expect((await suite.t.rt.messaging.get(orgId, held.message.id, ACTOR)).status).toBe('queued');

    // Resuming the last one, in another process, resumes it.
    const last = await otherProcess().resume(orgId, program.id, ACTOR);
    expect(last).toMatchObject({ resumedSenders: [senderId], stillPaused: [] });
    expect(await suite.t.rt.risk.pausedSenders(orgId)).toEqual([]);
    await waitFor(
      async () =>
        (await suite.t.rt.messaging.get(orgId, held.message.id, ACTOR)).status === 'delivered',
      10_000,
    );
    expect((await suite.t.rt.risk.alerts(orgId, { status: 'open' })).length).toBe(0);

    // Resuming again resumes nothing and holds nothing.
    expect(await suite.t.rt.risk.resume(orgId, org.id, ACTOR)).toMatchObject({
      resumedSenders: [],
      stillPaused: [],
    });

    expect(await senderAudits(orgId)).toEqual([
      ['risk.sender_paused', org.id],
      ['risk.sender_paused', program.id],
      ['risk.sender_resumed', program.id],
    ]);
    // Each resolution is audited with its actor and what it let go (counts); not the repeat.
    const resolved = (await suite.t.rt.audit.events(orgId, { limit: 200 }, ACTOR)).data
      .filter((e) => e.action === 'risk.alert_resolved')
      .reverse()
      .map((e) => [e.target.id, e.actor, e.details.resumedSenders, e.details.stillPausedSenders]);
    expect(resolved).toEqual([
      [org.id, ACTOR, 0, 1],
      [program.id, ACTOR, 1, 0],
    ]);
    expect((await suite.t.rt.audit.verify({ orgId })).ok).toBe(true);
  }, 60_000);

  it('says which alert still holds the sender when the other one is resumed first', async () => {
    const { orgId, org, program, senderId } = await twoAlertsOneSender('Other Order Clinic', 100);

    const first = await otherProcess().resume(orgId, program.id, ACTOR);
    expect(first).toMatchObject({
      resumedSenders: [],
      stillPaused: [{ senderId, heldBy: [org.id] }],
    });
    expect(await otherProcess().isSenderPaused(orgId, senderId)).toBe(true);

    const last = await suite.t.rt.risk.resume(orgId, org.id, ACTOR);
    expect(last).toMatchObject({ resumedSenders: [senderId], stillPaused: [] });
    expect(await suite.t.rt.risk.pausedSenders(orgId)).toEqual([]);
    expect(await otherProcess().isSenderPaused(orgId, senderId)).toBe(false);
  }, 60_000);

  it('a sender resumed by hand is released from every open alert; a later pause is held only by later alerts', async () => {
    const { orgId, org, program, senderId } = await twoAlertsOneSender('By Hand Clinic', 200);

    expect(await suite.t.rt.risk.resumeSender(orgId, senderId, ACTOR)).toBe(1);
    expect(await suite.t.rt.risk.pausedSenders(orgId)).toEqual([]);
    // Both alerts stay open; resolving one neither resumes nor pauses anything.
    const r = await suite.t.rt.risk.resume(orgId, org.id, ACTOR);
    expect(r).toMatchObject({ resumedSenders: [], stillPaused: [] });
    expect(await suite.t.rt.risk.pausedSenders(orgId)).toEqual([]);
    const open: RiskAlertView[] = await suite.t.rt.risk.alerts(orgId, { status: 'open' });
    expect(open.map((a) => a.id)).toEqual([program.id]);

    // A new burst pauses the sender again: the program's alert, still open, paused it before
    // the admin resumed it by hand, so only the new alert holds it.
    await new Promise((res) => setTimeout(res, 5));
    for (let i = 3; i < 6; i++) {
      await suite.t.rt.consent.record(
        orgId,
        { phone: phone(200 + i), program: 'all', kind: 'opt_out_all', source: 'sms_keyword' },
        ACTOR,
      );
    }
    const again = (await otherProcess().evaluate(orgId)).filter((a) => a.signal === 'opt_out_rate');
    expect(again).toMatchObject([
      { severity: 'critical', scope: { type: 'organisation' }, pausedSenders: [senderId] },
    ]);
    expect(await suite.t.rt.risk.pausedSenders(orgId)).toEqual([senderId]);
    expect(await suite.t.rt.risk.resume(orgId, again[0]!.id, ACTOR)).toMatchObject({
      resumedSenders: [senderId],
      stillPaused: [],
    });
    expect(await suite.t.rt.risk.pausedSenders(orgId)).toEqual([]);
  }, 60_000);
});
