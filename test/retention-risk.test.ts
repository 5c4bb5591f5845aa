/**
 * Retention and risk across parts, on SQLite and PostgreSQL: the sweeper destroys old bodies
 * and secure-message content while metadata, legal holds and the audit chain stay intact; a
 * critical risk alert pauses the sender in dispatch, or the campaign that caused it, until an
 * admin resumes it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { pino } from 'pino';
import { announcePgSkip, DIALECTS, openTestRuntime, waitFor, type TestRuntime } from './helpers.js';
import { SYSTEM_ACTOR } from '../src/audit/index.js';
import { Retention } from '../src/retention/index.js';
import { subjectIndexOf } from '../src/runtime/audit.js';
import { DESTROYED_CONTENT } from '../src/crypto/index.js';

announcePgSkip('retention and risk');
const DAY = 86_400_000;
const ACTOR = { type: 'cli' as const, id: 'test' };
const phone = (i: number) => `+1617555${String(1000 + i).padStart(4, '0')}`;

describe.each(DIALECTS)('retention and risk on %s', (dialect) => {
  let t: TestRuntime;
  let orgId: string;

  beforeAll(async () => {
    t = await openTestRuntime({
      dialect,
      runtime: {
        worker: { idlePollMs: 20, baseBackoffMs: 50, maxBackoffMs: 200, pausedRecheckMs: 300 },
      },
    });
    orgId = (await t.rt.orgs.create('Retention Clinic', SYSTEM_ACTOR)).orgId;
    t.rt.startWorkers();
  });
  afterAll(async () => t?.cleanup());

  function retentionAt(offsetMs: number): Retention {
    return new Retention(
      t.rt.store,
      t.rt.keyrings,
      subjectIndexOf(t.rt.keyrings, { regions: t.config.sendRegions }),
      pino({ level: 'silent' }),
      new Registry(),
      { now: () => Date.now() + offsetMs, batchSize: 2 },
    );
  }

  it('destroys bodies past the policy, keeps held patients and metadata, audits counts', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await t.rt.send(orgId, ACTOR, {
        to: phone(i),
        body: `Hello ${i}`,
        program: 'care',
      });
      ids.push(r.message.id);
    }
    await waitFor(async () => {
      const ms = await Promise.all(ids.map((id) => t.rt.messaging.get(orgId, id, ACTOR)));
      return ms.every((m) => m.status === 'delivered');
    });
    const hold = await t.rt.retention.placeHold(
      orgId,
      { scope: 'patient', phone: phone(0), reason: 'Matter 2026-17' },
      ACTOR,
    );
    expect((await t.rt.retention.holds(orgId)).map((h) => h.id)).toEqual([hold.id]);

    // Nothing is due today.
    const today = await t.rt.retention.run({ orgId, dryRun: true });
    expect(today[0]!.counts.outboundBodies).toBe(0);

    const later = retentionAt(91 * DAY);
    const dry = await later.run({ orgId, dryRun: true });
    expect(dry[0]!.counts.outboundBodies).toBe(4);
    const done = await later.run({ orgId });
    expect(done[0]!.counts.outboundBodies).toBe(4); // in batches of 2
    expect(done[0]!.patientsHeld).toBe(1);
    expect((await later.run({ orgId }))[0]!.counts.outboundBodies).toBe(0); // idempotent

    const held = await t.rt.messaging.get(orgId, ids[0]!, ACTOR);
    expect(held.body).toBe('Hello 0');
    const gone = await t.rt.messaging.get(orgId, ids[1]!, ACTOR);
    expect(gone.body).toBe('');
    expect(gone.status).toBe('delivered');
    expect(gone.segments).toBe(1);
    const raw = await t.rt.store.db
      .selectFrom('messages')
      .select('body_enc')
      .where('id', '=', ids[1]!)
      .executeTakeFirstOrThrow();
    expect(raw.body_enc).toBe(DESTROYED_CONTENT);

    // Lifting the hold lets the next sweep destroy the rest; an organisation hold stops all.
    await t.rt.retention.liftHold(orgId, hold.id, ACTOR);
    await expect(t.rt.retention.liftHold(orgId, hold.id, ACTOR)).rejects.toMatchObject({
      code: 'legal_hold_not_found',
    });
    const orgHold = await t.rt.retention.placeHold(
      orgId,
      { scope: 'organisation', reason: 'Litigation' },
      ACTOR,
    );
    expect((await later.run({ orgId }))[0]!.held).toBe(true);
    await t.rt.retention.liftHold(orgId, orgHold.id, ACTOR);
    expect((await later.run({ orgId }))[0]!.counts.outboundBodies).toBe(1);

    const events = await t.rt.audit.events(orgId, { limit: 200 }, ACTOR);
    const actions = events.data.map((e) => e.action);
    expect(actions).toContain('retention.swept');
    expect(actions).toContain('legal_hold.placed');
    expect(actions).toContain('legal_hold.lifted');
    const swept = events.data.find((e) => e.action === 'retention.swept')!;
    expect(Object.keys(swept.details).sort()).toEqual([
      'inboundBodies',
      'outboundBodies',
      'patientsHeld',
      'secureMessages',
    ]);
    expect((await t.rt.audit.verify({ orgId })).ok).toBe(true);
  });

  it('destroys secure-message content 7 days after creation when never viewed', async () => {
    const { secureMessage } = await t.rt.portal.createSecureMessage(orgId, ACTOR, {
      to: phone(50),
      body: 'Your biopsy result is ready',
      program: 'care',
      verify: 'code',
    });
    const early = await retentionAt(6 * DAY).run({ orgId, dryRun: true });
    expect(early[0]!.counts.secureMessages).toBe(0);
    const done = await retentionAt(8 * DAY).run({ orgId });
    expect(done[0]!.counts.secureMessages).toBe(1);
    const v = await t.rt.portal.getSecureMessage(orgId, secureMessage.id, ACTOR, {
      content: true,
    });
    expect(v.status).toBe('expired');
    expect(v.body).toBe('');
    expect((await t.rt.audit.verify({ orgId })).ok).toBe(true);
  });

  it('keeps the policy per organisation and audits changes', async () => {
    expect((await t.rt.retention.policy(orgId)).messageBodyDays).toBe(90);
    const p = await t.rt.retention.setPolicy(orgId, { messageBodyDays: 30 }, ACTOR);
    expect(p).toMatchObject({ messageBodyDays: 30, secureViewedDays: 30, auditYears: 6 });
    expect((await t.rt.retention.policy(orgId)).messageBodyDays).toBe(30);
  });

  it('pauses the sender on a critical opt-out rate until an admin resumes it', async () => {
    const o = await t.rt.orgs.create('Risk Clinic', SYSTEM_ACTOR);
    const ids: string[] = [];
    for (let i = 0; i < 60; i++) {
      ids.push(
        (await t.rt.send(o.orgId, ACTOR, { to: phone(100 + i), body: 'Hi', program: 'care' }))
          .message.id,
      );
    }
    await waitFor(async () => {
      const n = await t.rt.store.db
        .selectFrom('messages')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('org_id', '=', o.orgId)
        .where('status', '=', 'delivered')
        .executeTakeFirst();
      return Number(n?.n) === 60;
    }, 20_000);
    for (let i = 0; i < 5; i++) {
      await t.rt.consent.record(
        o.orgId,
        { phone: phone(100 + i), program: 'all', kind: 'opt_out_all', source: 'api' },
        ACTOR,
      );
    }
    const raised = await t.rt.risk.evaluate(o.orgId);
    const alert = raised.find((a) => a.signal === 'opt_out_rate')!;
    expect(alert.severity).toBe('critical');
    expect(alert.figures).toMatchObject({ optOuts: 5, delivered: 60 });
    expect(alert.explanation).toMatch(/5 recipients of this organisation opted out/);
    expect(alert.pausedSenders.length).toBe(1);
    expect(await t.rt.risk.evaluate(o.orgId)).toEqual([]); // not raised twice

    const held = await t.rt.send(o.orgId, ACTOR, {
      to: phone(190),
      body: 'Later',
      program: 'care',
    });
    await new Promise((r) => setTimeout(r, 500));
    expect((await t.rt.messaging.get(o.orgId, held.message.id, ACTOR)).status).toBe('queued');

    const resolved = await t.rt.risk.resume(o.orgId, alert.id, ACTOR);
    expect(resolved.status).toBe('resolved');
    expect(await t.rt.risk.pausedSenders(o.orgId)).toEqual([]);
    // Every worker sees the resume within its cache time; the held text then goes out.
    await waitFor(
      async () =>
        (await t.rt.messaging.get(o.orgId, held.message.id, ACTOR)).status === 'delivered',
      10_000,
    );
    await expect(t.rt.risk.resume(o.orgId, 'ral_missing', ACTOR)).rejects.toMatchObject({
      code: 'risk_alert_not_found',
    });
    const webhooks = await t.rt.store.db
      .selectFrom('webhook_deliveries')
      .select('event_type')
      .where('org_id', '=', o.orgId)
      .where('event_type', '=', 'risk.alert')
      .execute();
    expect(webhooks.length).toBe(0); // the organisation has no webhook
    const actions = (await t.rt.audit.events(o.orgId, { limit: 200 }, ACTOR)).data.map(
      (e) => e.action,
    );
    expect(actions).toEqual(
      expect.arrayContaining(['risk.alert_raised', 'risk.sender_paused', 'risk.sender_resumed']),
    );
    const metrics = await t.rt.metrics.registry.metrics();
    expect(metrics).toMatch(/tidings_risk_signal\{signal="opt_out_rate"\}/);
    expect(metrics).toMatch(/tidings_retention_destroyed_total/);
  }, 60_000);

  it('counts texts carriers filtered as spam or held back for caps, by their codes', async () => {
    const o = await t.rt.orgs.create('Filtered Clinic', SYSTEM_ACTOR);
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      ids.push(
        (await t.rt.send(o.orgId, ACTOR, { to: phone(300 + i), body: 'Hi', program: 'care' }))
          .message.id,
      );
    }
    await waitFor(async () => {
      const ms = await Promise.all(ids.map((id) => t.rt.messaging.get(o.orgId, id, ACTOR)));
      return ms.every((m) => m.status === 'delivered');
    });
    // As the Twilio and Telnyx adapters record them: a refusal's prefixed code in the
    // reason, a receipt's bare code, a throttle retried to the end.
    const outcome = (from: number, to: number, failure_code: string, failure_reason: string) =>
      t.rt.store.db
        .updateTable('messages')
        .set({ status: 'failed', failure_code, failure_reason })
        .where('org_id', '=', o.orgId)
        .where('id', 'in', ids.slice(from, to))
        .execute();
    await outcome(0, 3, 'permanent', 'TWILIO_30007');
    await outcome(3, 5, 'max_attempts', 'TELNYX_40002');
    await outcome(5, 26, 'max_attempts', 'TWILIO_30023');
    await outcome(26, 28, 'permanent', 'TWILIO_21602'); // not filtering
    const raised = await t.rt.risk.evaluate(o.orgId);
    expect(raised.find((a) => a.signal === 'carrier_filtering')).toMatchObject({
      severity: 'warning',
      figures: { count: 5 },
      pausedSenders: [],
    });
    expect(raised.find((a) => a.signal === 'carrier_cap_errors')).toMatchObject({
      figures: { count: 21 },
    });
    expect(await t.rt.metrics.registry.metrics()).toMatch(
      /tidings_risk_signal\{signal="carrier_filtering"\} [1-9]/,
    );
  });

  it('pauses the campaign that caused a critical opt-out rate, and resuming starts it again', async () => {
    const o = await t.rt.orgs.create('Campaign Risk Clinic', SYSTEM_ACTOR);
    await t.rt.templates.create(
      o.orgId,
      {
        name: 'flu',
        body: 'Flu shots this Saturday, 9 to 5. Reply STOP to opt out.',
        program: 'care',
      },
      ACTOR,
    );
    // Texts outside the campaign keep the organisation's own rate under the critical line.
    const other: string[] = [];
    for (let i = 0; i < 150; i++) {
      other.push(
        (await t.rt.send(o.orgId, ACTOR, { to: phone(1000 + i), body: 'Hi', program: 'care' }))
          .message.id,
      );
    }
    const rows = Array.from({ length: 260 }, (_, i) => phone(2000 + i));
    const c = await t.rt.campaigns.create(o.orgId, ACTOR, {
      name: 'Flu Saturday',
      template: 'flu',
      csv: ['phone', ...rows].join('\n'),
    });
    const delivered = async (n: number) =>
      waitFor(async () => {
        const r = await t.rt.store.db
          .selectFrom('messages')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('org_id', '=', o.orgId)
          .where('status', '=', 'delivered')
          .executeTakeFirst();
        return Number(r?.n) >= n;
      }, 30_000);

    let raised: Awaited<ReturnType<typeof t.rt.risk.evaluate>> = [];
    // After the first batch (250 texts) is out: 15 of its recipients opt out (6 %).
    const paused = await t.rt.campaigns.run(o.orgId, c.id, ACTOR, async (p) => {
      if (raised.length > 0) return;
      expect(p.pending).toBe(10);
      await delivered(400);
      for (let i = 0; i < 15; i++) {
        await t.rt.consent.record(
          o.orgId,
          { phone: rows[i]!, program: 'all', kind: 'opt_out_all', source: 'sms_keyword' },
          ACTOR,
        );
      }
      raised = await t.rt.risk.evaluate(o.orgId);
    });
    const alert = raised.find((a) => a.scope.type === 'campaign')!;
    expect(alert).toMatchObject({
      signal: 'opt_out_rate',
      severity: 'critical',
      scope: { type: 'campaign', id: c.id },
      figures: { optOuts: 15, delivered: 250 },
      pausedCampaigns: [c.id],
      pausedSenders: [],
    });
    expect(alert.explanation).toContain('the campaign is paused');
    // The organisation's rate (15 of 400, 3.75 %) is a warning: nothing else is paused.
    const org = raised.find((a) => a.scope.type === 'organisation' && a.signal === 'opt_out_rate');
    expect(org).toMatchObject({ severity: 'warning', pausedSenders: [] });
    expect(paused.status).toBe('paused');
    expect(paused.progress.pending).toBe(10);
    expect((await t.rt.risk.alerts(o.orgId, { status: 'open' })).map((a) => a.id)).toContain(
      alert.id,
    );

    await t.rt.risk.resume(o.orgId, alert.id, ACTOR);
    await waitFor(async () => (await t.rt.campaigns.get(o.orgId, c.id)).status === 'completed');
    expect((await t.rt.campaigns.get(o.orgId, c.id)).progress.pending).toBe(0);
    const changes = await t.rt.store.db
      .selectFrom('audit_events')
      .select(['actor_type', 'details'])
      .where('org_id', '=', o.orgId)
      .where('action', '=', 'campaign.state_changed')
      .orderBy('seq')
      .execute();
    const statusOf = (details: string) => (JSON.parse(details) as { status: string }).status;
    expect(changes.map((e) => [e.actor_type, statusOf(e.details)])).toEqual([
      ['cli', 'running'],
      ['system', 'paused'],
      ['cli', 'running'],
      ['cli', 'completed'],
    ]);
  }, 90_000);
});
