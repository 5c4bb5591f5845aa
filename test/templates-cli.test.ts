/**
 * `tidings template …` as an operator runs it, in-process (the CLI's own `main`), against the
 * same data directory as a running runtime.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestRuntime, type TestRuntime } from './helpers.js';
import { SYSTEM_ACTOR } from '../src/audit/index.js';
import { runCli } from './cli-runner.js';

describe('templates from the CLI', () => {
  let t: TestRuntime;
  let orgId: string;
  const saved = { ...process.env };

  beforeAll(async () => {
    t = await openTestRuntime();
    orgId = (await t.rt.orgs.create('CLI Clinic', SYSTEM_ACTOR)).orgId;
    Object.assign(process.env, {
      NODE_ENV: 'test',
      TIDINGS_DATA_DIR: t.dir,
      LOG_LEVEL: 'silent',
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

  it('creates, lists, shows, previews, updates and deletes a template', async () => {
    const created = await cli(
      'template',
      'create',
      '--org',
      orgId,
      '--name',
      'Cli reminder',
      '--body',
      'Hi {{firstName}}, see you on {{date}} at {{time}}.',
      '--json',
    );
    expect(created.code).toBe(0);
    const tpl = JSON.parse(created.out) as { id: string; slots: string[]; createdBy: string };
    expect(tpl.slots).toEqual(['firstName', 'date', 'time']);
    expect(tpl.createdBy).toBe('cli:operator');

    const list = await cli('template', 'list', '--org', orgId);
    expect(list.out).toContain(`${tpl.id}  Cli reminder  care  [firstName,date,time]`);

    const show = await cli('template', 'show', '--org', orgId, 'Cli reminder');
    expect(show.out).toContain('Hi {{firstName}}, see you on {{date}} at {{time}}.');

    const preview = await cli(
      'template',
      'preview',
      '--org',
      orgId,
      tpl.id,
      '--var',
      'firstName=Alex',
      '--var',
      'date=2026-12-08',
      '--var',
      'time=09:15',
      '--json',
    );
    expect(JSON.parse(preview.out)).toEqual({
      body: 'Hi Alex, see you on Tue, Dec 8 at 9:15 AM.',
      segments: 1,
      encoding: 'GSM-7',
    });

    const updated = await cli('template', 'update', '--org', orgId, tpl.id, '--program', 'billing');
    expect(updated.code).toBe(0);
    expect((await t.rt.templates.get(orgId, tpl.id)).program).toBe('billing');

    const deleted = await cli('template', 'delete', '--org', orgId, 'Cli reminder', '--json');
    expect(deleted.code, deleted.err).toBe(0);
    expect(JSON.parse(deleted.out)).toEqual({ deleted: 'Cli reminder' });
    const gone = await cli('template', 'show', '--org', orgId, tpl.id);
    expect(gone.code).toBe(1);
    expect(gone.err).toContain('template_not_found');
  });

  it('refuses a template the guard holds, with the code and no text', async () => {
    const r = await cli(
      'template',
      'create',
      '--org',
      orgId,
      '--name',
      'Leaky',
      '--body',
      'Hi {{firstName}}, your biopsy results are in.',
    );
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^tidings: template_contains_phi: /);
    expect(r.err).not.toMatch(/biopsy/i);
    expect(await t.rt.templates.list(orgId)).toEqual([]);
  });
});
