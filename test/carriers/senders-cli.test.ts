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
      'AC0123456789abcdef0123456789abcdef',
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
      'ssmpp://clinic:pw123@smsc.example:3551?mps=25',
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
      mps: number;
    }[];
    expect(senders.find((s) => s.isDefault)?.number).toBe('+16175550171');
    expect(senders.find((s) => s.number === '+16175550173')).toMatchObject({
      dailyCap: 2000,
      mps: 25, // the URL's mps= is the sender's rate
    });
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

  it('updates a daily cap, and removes it with "none"', async () => {
    const s = (await t.rt.orgs.senders(orgId)).find((x) => x.number === '+16175550173')!;
    const set = await cli(
      'sender',
      'update',
      '--org',
      orgId,
      '--id',
      s.id,
      '--daily-cap',
      '500',
      '--json',
    );
    expect(set.code, set.err).toBe(0);
    expect(JSON.parse(set.out)).toMatchObject({ dailyCap: 500 });
    const none = await cli(
      'sender',
      'update',
      '--org',
      orgId,
      '--id',
      s.id,
      '--daily-cap',
      'none',
      '--json',
    );
    expect(none.code, none.err).toBe(0);
    expect(JSON.parse(none.out)).toMatchObject({ dailyCap: null });
  });

  it('refuses bad settings with a coded error and adds nothing', async () => {
    const before = (await t.rt.orgs.senders(orgId)).length;
    const sid = ['--carrier', 'twilio', '--auth-token', 't'];
    const refusals: [string[], RegExp][] = [
      [['--carrier', 'smpp', '--url', 'http://nope'], /invalid_carrier_settings/],
      [['--carrier', 'twilio', '--account-sid', 'AC1'], /invalid_carrier_settings/],
      // A placeholder is not an account SID.
      [[...sid, '--account-sid', 'ACxxxxxxxx'], /invalid_carrier_settings: .*account SID/],
      // A setting of another carrier is refused, not ignored.
      [
        [...sid, '--account-sid', 'AC0123456789abcdef0123456789abcdef', '--url', 'smpp://a:b@h'],
        /invalid_carrier_settings: url is not a setting of a twilio sender/,
      ],
      // A misspelt URL setting, and two different rates.
      [
        ['--carrier', 'smpp', '--url', 'smpp://a:b@h?windw=5'],
        /invalid_carrier_settings: .*SMPP_URL_UNKNOWN_SETTING/,
      ],
      [
        ['--carrier', 'smpp', '--url', 'smpp://a:b@h?mps=5', '--mps', '6'],
        /invalid_carrier_settings: .*give the rate once/,
      ],
      // A value the option parser refuses reads like any other refusal, without the whole help.
      [['--carrier', 'smpp', '--window', '0'], /^tidings: usage_error: option '--window <n>'/],
    ];
    for (const [args, message] of refusals) {
      const r = await cli('sender', 'add', '--org', orgId, '--number', '+16175550174', ...args);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.err).toMatch(message);
      expect(r.err).not.toContain('Options:');
    }
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
