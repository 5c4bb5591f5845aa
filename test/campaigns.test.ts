/**
 * Campaigns (issue 7): one template to 10,000 recipients from CSV through the send pipeline,
 * with progress, pause and resume, and a final report in which opted-out recipients are
 * suppressed by consent. 10,000 on SQLite; a smaller list on PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { announcePgSkip, DIALECTS, openTestRuntime, type TestRuntime } from './helpers.js';
import type { Actor } from '../src/audit/index.js';
import type { CampaignProgress } from '../src/campaigns/index.js';

announcePgSkip('campaigns');

const ACTOR: Actor = { type: 'cli', id: 'test' };

const NAMES = ['Ann', 'Ben', 'Cara', 'Dev', 'Eli', 'Fay', 'Gus'];

function csv(n: number): string {
  const lines = ['phone,firstName,date'];
  for (let i = 0; i < n; i++) {
    lines.push(
      `+1617${String(2000000 + i).padStart(7, '0')},${NAMES[i % NAMES.length]},2026-12-15`,
    );
  }
  lines.push('not-a-number,Bad,2026-12-15');
  return lines.join('\n');
}

describe.each(DIALECTS)('campaigns on %s', (dialect) => {
  const n = dialect === 'sqlite' ? 10_000 : 400;
  let t: TestRuntime;
  let orgId: string;

  beforeAll(async () => {
    t = await openTestRuntime({ dialect });
    orgId = (await t.rt.orgs.create('Flu Clinic', ACTOR)).orgId;
    await t.rt.templates.create(
      orgId,
      {
        name: 'flu-day',
        body: 'Hi {{firstName}}, our walk-in day is {{date}}, 9 to 5. Reply STOP to opt out.',
        program: 'care',
      },
      ACTOR,
    );
    // Two recipients have opted out: suppressed by consent, not sent.
    for (const i of [5, 7]) {
      await t.rt.consent.record(
        orgId,
        {
          phone: `+1617${String(2000000 + i).padStart(7, '0')}`,
          program: 'all',
          kind: 'opt_out_all',
          source: 'staff',
          evidence: 'test',
        },
        ACTOR,
      );
    }
  });

  afterAll(async () => {
    await t?.cleanup();
  });

  it(`sends one template to ${n} recipients with progress, pause, resume and a report`, async () => {
    const c = await t.rt.campaigns.create(orgId, ACTOR, {
      name: 'Flu clinic days',
      template: 'flu-day',
      csv: csv(n),
    });
    expect(c.total).toBe(n + 1);
    expect(c.status).toBe('ready');
    expect(c.progress.failed).toBe(1); // the unusable number

    // Pause after the first batch.
    const seen: CampaignProgress[] = [];
    const first = await t.rt.campaigns.run(orgId, c.id, ACTOR, (p) => {
      seen.push(p);
      if (seen.length === 1) return t.rt.campaigns.pause(orgId, c.id, ACTOR);
    });
    expect(first.status).toBe('paused');
    expect(first.progress.pending).toBeGreaterThan(0);
    await expect(t.rt.campaigns.pause(orgId, c.id, ACTOR)).rejects.toMatchObject({
      code: 'campaign_state_conflict',
    });

    const done = await t.rt.campaigns.run(orgId, c.id, ACTOR, (p) => {
      seen.push(p);
    });
    expect(done.status).toBe('completed');
    expect(done.finishedAt).not.toBeNull();
    const p = done.progress;
    expect(p.pending).toBe(0);
    expect(p.suppressedByConsent).toBe(2);
    expect(p.queued).toBe(n - 2);
    expect(p.failed).toBe(1);
    expect(p.divertedByGuard).toBe(0);
    // Progress only grows.
    for (let i = 1; i < seen.length; i++) {
      expect(seen[i]!.pending).toBeLessThanOrEqual(seen[i - 1]!.pending);
    }
    await expect(t.rt.campaigns.run(orgId, c.id, ACTOR)).rejects.toMatchObject({
      code: 'campaign_state_conflict',
    });
  }, 900_000);
});
