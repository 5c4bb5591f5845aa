/**
 * `tidings reminders …` and `tidings campaign …` as an operator runs them, in-process (the
 * CLI's own `main`), against the same data directory as a running runtime.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestRuntime, type TestRuntime } from './helpers.js';
import { SYSTEM_ACTOR } from '../src/audit/index.js';
import { runCli } from './cli-runner.js';

describe('reminders and campaigns from the CLI', () => {
  let t: TestRuntime;
  let orgId: string;
  const saved = { ...process.env };

  beforeAll(async () => {
    t = await openTestRuntime();
    orgId = (await t.rt.orgs.create('CLI Clinic', SYSTEM_ACTOR)).orgId;
    await t.rt.reminders.upsertAppointment(orgId, SYSTEM_ACTOR, {
      externalId: 'CLI-1',
      source: 'api',
      status: 'booked',
      start: Date.now() + 4 * 24 * 3600_000,
      patient: { mrn: 'C-1', phone: '+16175550123', given: 'Ann' },
    });
    Object.assign(process.env, {
      NODE_ENV: 'test',
      TIDINGS_DATA_DIR: t.dir,
      LOG_LEVEL: 'silent',
      TIDINGS_QUIET_HOURS: 'off',
    });
  });
  afterAll(async () => {
    process.env = saved;
    await t?.cleanup();
  });

  async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
    const r = await runCli(...args);
    return { code: r.code, out: r.stdout, err: r.stderr };
  }

  it('lists scheduled reminders and previews an appointment', async () => {
    const list = await cli('reminders', 'list', '--org', orgId);
    expect(list.code).toBe(0);
    expect(list.out.trim().split('\n')).toHaveLength(3);
    expect(list.out).toContain('scheduled');
    expect(list.out).toContain('CLI-1');
    expect(list.out).not.toContain('5550123');
    const json = JSON.parse((await cli('reminders', 'list', '--org', orgId, '--json')).out) as {
      sendAt: string;
      status: string;
    }[];
    expect(json.map((r) => r.status)).toEqual(['scheduled', 'scheduled', 'scheduled']);

    const preview = await cli('reminders', 'preview', '--org', orgId, 'CLI-1');
    expect(preview.code).toBe(0);
    expect(preview.out).toContain('Reply C to confirm, R to reschedule, STOP to opt out.');
    // This process runs with the default frequency caps: a patient who never opted in still
    // gets every reminder, because the built-in text meets the healthcare exemption.
    const plan = JSON.parse(
      (await cli('reminders', 'preview', '--org', orgId, 'CLI-1', '--json')).out,
    ) as { plan: { body: string }[]; skipped: unknown[] };
    expect(plan.skipped).toEqual([]);
    expect(plan.plan).toHaveLength(3);
    for (const p of plan.plan) expect([...p.body].length).toBeLessThanOrEqual(160);
  });

  it('creates and runs a campaign with a progress bar and a report', async () => {
    await t.rt.templates.create(
      orgId,
      { name: 'moved', body: 'Hi {{firstName}}, our office has moved. Reply STOP to opt out.' },
      SYSTEM_ACTOR,
    );
    const file = path.join(t.dir, 'list.csv');
    fs.writeFileSync(file, 'phone,firstName\n+16175550101,Ann\n+16175550102,Ben\n');
    const created = await cli(
      'campaign',
      'create',
      '--org',
      orgId,
      '--name',
      'Office move',
      '--template',
      'moved',
      '--csv',
      file,
      '--json',
    );
    expect(created.code).toBe(0);
    const { id } = JSON.parse(created.out) as { id: string };
    const run = await cli('campaign', 'run', '--org', orgId, id);
    expect(run.code).toBe(0);
    expect(run.err).toContain('2/2');
    expect(run.out).toContain('completed');
    expect(run.out).toMatch(/queued\s+2/);
  });

  it('creates a campaign from a saved filter over appointments (an office move)', async () => {
    for (const [id, phone, location] of [
      ['MV-1', '+16175550111', 'Old Street'],
      ['MV-2', '+16175550112', 'Old Street'],
      ['MV-3', '+16175550113', 'Elsewhere'],
    ] as const) {
      await t.rt.reminders.upsertAppointment(orgId, SYSTEM_ACTOR, {
        externalId: id,
        source: 'api',
        status: 'booked',
        start: Date.now() + 10 * 24 * 3600_000,
        location,
        patient: { mrn: id, phone, given: 'Kim' },
      });
    }
    const created = await cli(
      'campaign',
      'create',
      '--org',
      orgId,
      '--name',
      'Old Street move',
      '--template',
      'moved',
      '--filter',
      '{"location":"Old Street"}',
      '--json',
    );
    expect(created.code).toBe(0);
    const c = JSON.parse(created.out) as { id: string; total: number };
    expect(c.total).toBe(2);
    const row = await t.rt.store.db
      .selectFrom('campaigns')
      .select('filter')
      .where('id', '=', c.id)
      .executeTakeFirstOrThrow();
    expect(JSON.parse(row.filter!)).toEqual({ location: 'Old Street' });
    expect((await cli('campaign', 'run', '--org', orgId, c.id)).out).toMatch(/queued\s+2/);
  });
});
