/**
 * `tidings sender add` and `tidings sender list` as an operator runs them, in-process (the
 * CLI's own `main`) against a fresh database: carriers' settings are validated, credentials
 * are stored encrypted and never printed, and `--default` moves the default.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestRuntime, type TestRuntime } from '../helpers.js';
import { SYSTEM_ACTOR } from '../../src/audit/index.js';
import { runCli } from '../cli-runner.js';

describe('senders from the CLI', () => {
  let t: TestRuntime;
  let orgId: string;
  const saved = { ...process.env };

  beforeAll(async () => {
    t = await openTestRuntime();
    orgId = (await t.rt.orgs.create('Sender Clinic', SYSTEM_ACTOR)).orgId;
    Object.assign(process.env, { NODE_ENV: 'test', TIDINGS_DATA_DIR: t.dir, LOG_LEVEL: 'silent' });
  });
  afterAll(async () => {
    process.env = saved;
    await t?.cleanup();
  });

  async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
    const r = await runCli(...args);
    return { code: r.code, out: r.stdout, err: r.stderr };
  }

  it('adds Twilio, Telnyx and SMPP senders; never prints a credential', async () => {
    const tw = await cli(
      'sender',
      'add',
      '--org',
      orgId,
      '--number',
      '+16175550171',
      '--carrier',
      'twilio',
      '--account-sid',
      'AC123',
      '--auth-token',
      'tok-cli-secret',
      '--default',
    );
    expect(tw.code, tw.err).toBe(0);
    expect(tw.out).toContain('/carriers/twilio/');
    expect(tw.out).not.toContain('tok-cli-secret');
    const key = Buffer.alloc(32, 7).toString('base64');
    const tx = await cli(
      'sender',
      'add',
      '--org',
      orgId,
      '--number',
      '+16175550172',
      '--carrier',
      'telnyx',
      '--api-key',
      'KEY-cli-secret',
      '--public-key',
      key,
      '--preset',
      'att-class-t',
      '--json',
    );
    expect(tx.code, tx.err).toBe(0);
    expect(JSON.parse(tx.out)).toMatchObject({ carrier: 'telnyx', mps: 1 });
    const sm = await cli(
      'sender',
      'add',
      '--org',
      orgId,
      '--number',
      '+16175550173',
      '--carrier',
      'smpp',
      '--url',
      'ssmpp://clinic:pw123@smsc.example:3551',
      '--window',
      '20',
      '--daily-cap',
      '2000',
      '--cap-time-zone',
      'America/Los_Angeles',
    );
    expect(sm.code, sm.err).toBe(0);
    const list = await cli('sender', 'list', '--org', orgId, '--json');
    const senders = JSON.parse(list.out) as {
      number: string;
      isDefault: boolean;
      dailyCap: number | null;
    }[];
    expect(senders.find((s) => s.isDefault)?.number).toBe('+16175550171');
    expect(senders.find((s) => s.number === '+16175550173')?.dailyCap).toBe(2000);
    for (const secret of ['tok-cli-secret', 'KEY-cli-secret', 'pw123']) {
      expect(list.out).not.toContain(secret);
    }
    const rows = JSON.stringify(await t.rt.store.db.selectFrom('senders').selectAll().execute());
    const audit = JSON.stringify(
      await t.rt.store.db.selectFrom('audit_events').selectAll().execute(),
    );
    for (const secret of ['tok-cli-secret', 'KEY-cli-secret', 'pw123']) {
      expect(rows).not.toContain(secret);
      expect(audit).not.toContain(secret);
    }
  });

  it('refuses bad settings with a coded error and adds nothing', async () => {
    const before = (await t.rt.orgs.senders(orgId)).length;
    const bad = await cli(
      'sender',
      'add',
      '--org',
      orgId,
      '--number',
      '+16175550174',
      '--carrier',
      'smpp',
      '--url',
      'http://nope',
    );
    expect(bad.code).not.toBe(0);
    expect(bad.err).toContain('invalid_carrier_settings');
    const noToken = await cli(
      'sender',
      'add',
      '--org',
      orgId,
      '--number',
      '+16175550174',
      '--carrier',
      'twilio',
      '--account-sid',
      'AC1',
    );
    expect(noToken.err).toContain('invalid_carrier_settings');
    const taken = await cli(
      'sender',
      'add',
      '--org',
      orgId,
      '--number',
      '+16175550171',
      '--carrier',
      'simulator',
    );
    expect(taken.err).toContain('sender_number_taken');
    expect((await t.rt.orgs.senders(orgId)).length).toBe(before);
  });
});
