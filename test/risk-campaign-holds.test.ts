/**
 * Several critical alerts pausing one campaign, on SQLite and PostgreSQL: the campaign stays
 * paused while any open critical alert on it is open, and is started again with the last of
 * them; each resume says whether it started it or which alerts still hold it. Derived from
 * the database, so it holds across worker processes.
 */
import { describe, expect, it } from 'vitest';
import { announcePgSkip, DIALECTS, waitFor } from './helpers.js';
import { riskSuite } from './risk-suite.js';
import { SYSTEM_ACTOR } from '../src/audit/index.js';
import type { RiskAlertView } from '../src/risk/index.js';

announcePgSkip('risk campaign holds');
const ACTOR = { type: 'cli' as const, id: 'test' };
const phone = (i: number) => `+1617556${String(i).padStart(4, '0')}`;

describe.each(DIALECTS)('risk campaign holds on %s', (dialect) => {
  const suite = riskSuite(dialect);
  const otherProcess = () => suite.otherProcess();

  /**
   * A campaign of 260 recipients whose first batch (250 texts) has 15 opt-outs (6 %) and 80
   * failures (32 %): two critical alerts on the campaign, opt-out rate first. The first
   * pauses it, the second is raised while it is paused and holds it too.
   */
  async function twoAlertsOneCampaign(name: string, base: number) {
    const { orgId } = await suite.t.rt.orgs.create(name, SYSTEM_ACTOR);
    await suite.t.rt.templates.create(
      orgId,
      { name: 'flu', body: 'Flu shots this Saturday. Reply STOP to opt out.', program: 'care' },
      ACTOR,
    );
    const rows = Array.from({ length: 260 }, (_, i) => phone(base + i));
    const c = await suite.t.rt.campaigns.create(orgId, ACTOR, {
      name: 'Flu Saturday',
      template: 'flu',
      csv: ['phone', ...rows].join('\n'),
    });
    let raised: RiskAlertView[] = [];
    const paused = await suite.t.rt.campaigns.run(orgId, c.id, ACTOR, async () => {
      if (raised.length > 0) return;
      await waitFor(async () => {
        const r = await suite.t.rt.store.db
          .selectFrom('messages')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('org_id', '=', orgId)
          .where('status', '=', 'delivered')
          .executeTakeFirst();
        return Number(r?.n) >= 250;
      }, 30_000);
      for (let i = 0; i < 15; i++) {
        await suite.t.rt.consent.record(
          orgId,
          { phone: rows[i]!, program: 'all', kind: 'opt_out_all', source: 'sms_keyword' },
          ACTOR,
        );
      }
      // As a carrier's late receipts would: 80 of its texts failed after all.
      const failing = await suite.t.rt.store.db
        .selectFrom('messages')
        .select('id')
        .where('org_id', '=', orgId)
        .orderBy('id')
        .limit(80)
        .execute();
      await suite.t.rt.store.db
        .updateTable('messages')
        .set({ status: 'failed', failure_code: 'permanent', updated_at: Date.now() })
        .where('org_id', '=', orgId)
        .where(
          'id',
          'in',
          failing.map((m) => m.id),
        )
        .execute();
      raised = await suite.t.rt.risk.evaluate(orgId);
    });
    expect(paused.status).toBe('paused');
    const onCampaign = raised.filter((a) => a.scope.type === 'campaign');
    expect(onCampaign).toMatchObject([
      {
        signal: 'opt_out_rate',
        severity: 'critical',
        scope: { id: c.id },
        figures: { optOuts: 15, delivered: 250 },
        pausedCampaigns: [c.id],
      },
      {
        signal: 'delivery_failure_rate',
        severity: 'critical',
        scope: { id: c.id },
        figures: { failed: 80, attempted: 250 },
        pausedCampaigns: [c.id],
      },
    ]);
    const [optOuts, failures] = onCampaign as [RiskAlertView, RiskAlertView];
    return { orgId, campaignId: c.id, optOuts, failures };
  }

  const campaignStatus = async (orgId: string, id: string) =>
    (await suite.t.rt.campaigns.get(orgId, id)).status;

  it.each([
    ['the alert that paused it', 'optOuts'],
    ['the alert raised while it was paused', 'failures'],
  ] as const)(
    'keeps the campaign paused until the last alert on it is resumed (%s first)',
    async (_, firstKey) => {
      const base = firstKey === 'optOuts' ? 0 : 1000;
      const alerts = await twoAlertsOneCampaign(`Campaign Holds ${firstKey}`, base);
      const { orgId, campaignId } = alerts;
      const first = alerts[firstKey];
      const last = firstKey === 'optOuts' ? alerts.failures : alerts.optOuts;

      // Resuming one, in another process, leaves the campaign held by the other, and says so.
      const r1 = await otherProcess().resume(orgId, first.id, ACTOR);
      expect(r1).toMatchObject({
        id: first.id,
        status: 'resolved',
        resumedCampaigns: [],
        stillPausedCampaigns: [{ campaignId, heldBy: [last.id] }],
      });
      await new Promise((r) => setTimeout(r, 300));
      expect(await campaignStatus(orgId, campaignId)).toBe('paused');
      // Resuming it again starts nothing either.
      expect(await suite.t.rt.risk.resume(orgId, first.id, ACTOR)).toMatchObject({
        resumedCampaigns: [],
        stillPausedCampaigns: [{ campaignId, heldBy: [last.id] }],
      });
      expect(await campaignStatus(orgId, campaignId)).toBe('paused');

      // Resuming the last one starts it again, and it runs to the end.
      const r2 = await suite.t.rt.risk.resume(orgId, last.id, ACTOR);
      expect(r2).toMatchObject({
        id: last.id,
        resumedCampaigns: [campaignId],
        stillPausedCampaigns: [],
      });
      await waitFor(async () => (await campaignStatus(orgId, campaignId)) === 'completed', 30_000);

      // Audited: each resolution with its actor and counts; one restart.
      const events = async (action: string) =>
        (
          await suite.t.rt.store.db
            .selectFrom('audit_events')
            .select(['actor_type', 'actor_id', 'target_id', 'details'])
            .where('org_id', '=', orgId)
            .where('action', '=', action)
            .orderBy('seq')
            .execute()
        ).map((e) => ({
          actor: { type: e.actor_type, id: e.actor_id },
          target: e.target_id,
          details: JSON.parse(e.details) as Record<string, unknown>,
        }));
      expect(
        (await events('risk.alert_resolved')).map((e) => [
          e.actor,
          e.target,
          e.details.releasedCampaigns,
          e.details.stillPausedCampaigns,
        ]),
      ).toEqual([
        [ACTOR, first.id, 0, 1],
        [ACTOR, last.id, 1, 0],
      ]);
      expect(
        (await events('campaign.state_changed')).map((e) => [e.actor.type, e.details.status]),
      ).toEqual([
        ['cli', 'running'],
        ['system', 'paused'],
        ['cli', 'running'],
        ['cli', 'completed'],
      ]);
      expect((await suite.t.rt.audit.verify({ orgId })).ok).toBe(true);
    },
    120_000,
  );
});
