/**
 * Resolving a risk alert is audited every time, on SQLite and PostgreSQL (45 CFR 164.312(b)):
 * also an alert that paused nothing, with the actor and counts only, in the same transaction
 * as the resolution; resuming it again records nothing more.
 */
import { describe, expect, it } from 'vitest';
import { announcePgSkip, DIALECTS } from './helpers.js';
import { riskSuite } from './risk-suite.js';
import { SYSTEM_ACTOR } from '../src/audit/index.js';

announcePgSkip('risk alert audit');
const ACTOR = { type: 'cli' as const, id: 'test' };

describe.each(DIALECTS)('risk alert audit on %s', (dialect) => {
  const suite = riskSuite(dialect);

  it('audits resolving a warning that paused nothing, once', async () => {
    const { orgId } = await suite.t.rt.orgs.create('Audited Resolve Clinic', SYSTEM_ACTOR);
    await suite.grantBreakGlass(orgId);
    const warning = (await suite.t.rt.risk.evaluate(orgId)).find(
      (a) => a.signal === 'break_glass_use',
    )!;
    expect(warning).toMatchObject({ severity: 'warning', pausedSenders: [], pausedCampaigns: [] });

    const resolved = await suite.t.rt.risk.resume(orgId, warning.id, ACTOR);
    expect(resolved).toMatchObject({
      status: 'resolved',
      resolvedBy: 'cli:test',
      resumedSenders: [],
      stillPaused: [],
      resumedCampaigns: [],
      stillPausedCampaigns: [],
    });
    // Another process resuming it again resolves nothing, and audits nothing.
    await suite.otherProcess().resume(orgId, warning.id, ACTOR);

    const events = (await suite.t.rt.audit.events(orgId, { limit: 100 }, ACTOR)).data.filter(
      (e) => e.action === 'risk.alert_resolved',
    );
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      actor: ACTOR,
      target: { type: 'risk_alert', id: warning.id },
      time: resolved.resolvedAt,
      details: {
        signal: 'break_glass_use',
        severity: 'warning',
        scope: 'organisation',
        resumedSenders: 0,
        stillPausedSenders: 0,
        releasedCampaigns: 0,
        stillPausedCampaigns: 0,
      },
    });
    // Ids and counts only.
    for (const v of Object.values(events[0]!.details)) {
      expect(['string', 'number']).toContain(typeof v);
    }
    expect((await suite.t.rt.audit.verify({ orgId })).ok).toBe(true);
  });
});
