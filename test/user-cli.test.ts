/**
 * `tidings user …` and `tidings apikey create --scopes/--expires` as an operator runs them:
 * the built CLI in a child process, against the same data directory as a running runtime.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, openTestRuntime, type TestRuntime } from './helpers.js';
import { SYSTEM_ACTOR } from '../src/audit/index.js';

const run = promisify(execFile);

describe('user administration from the CLI', () => {
  let t: TestRuntime;
  let orgId: string;
  let env: NodeJS.ProcessEnv;

  async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const r = await run(process.execPath, [CLI, ...args], { env });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (e) {
      const x = e as { code: number; stdout: string; stderr: string };
      return { code: x.code, stdout: x.stdout, stderr: x.stderr };
    }
  }

  beforeAll(async () => {
    t = await openTestRuntime();
    orgId = (await t.rt.orgs.create('CLI Clinic', SYSTEM_ACTOR)).orgId;
    env = {
      PATH: process.env.PATH,
      NODE_ENV: 'test',
      TIDINGS_DATA_DIR: t.dir,
      PUBLIC_URL: 'https://tidings.clinic.example',
      LOG_LEVEL: 'silent',
    };
  });
  afterAll(async () => t?.cleanup());

  it('creates a user and prints a one-time set-up link', async () => {
    const r = await cli(
      'user',
      'create',
      '--org',
      orgId,
      '--email',
      'Desk@Clinic.example',
      '--role',
      'staff',
      '--json',
    );
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as {
      user: { id: string; email: string; role: string };
      setupLink: string;
    };
    expect(out.user).toMatchObject({ email: 'desk@clinic.example', role: 'staff' });
    expect(out.setupLink).toMatch(
      /^https:\/\/tidings\.clinic\.example\/console\/setup#token=[\w-]{43}$/,
    );
    const token = out.setupLink.split('#token=')[1]!;
    const u = await t.rt.users.completeSetup(token, 'a quiet harbour at dawn');
    expect(u.passwordSet).toBe(true);

    const human = await cli(
      'user',
      'create',
      '--org',
      orgId,
      '--email',
      'aud@clinic.example',
      '--role',
      'auditor',
    );
    expect(human.stdout).toContain('set-up link (one use, 72 hours):');

    const list = await cli('user', 'list', '--org', orgId, '--json');
    expect((JSON.parse(list.stdout) as unknown[]).length).toBe(2);

    const role = await cli(
      'user',
      'set-role',
      '--org',
      orgId,
      '--id',
      out.user.id,
      '--role',
      'provider',
    );
    expect(role.code).toBe(0);
    expect((await t.rt.users.get(orgId, out.user.id))?.role).toBe('provider');
  });

  it('refuses bad input with a coded error and changes nothing', async () => {
    const before = (await t.rt.users.list(orgId)).length;
    const badRole = await cli(
      'user',
      'create',
      '--org',
      orgId,
      '--email',
      'x@clinic.example',
      '--role',
      'root',
    );
    expect(badRole.code).not.toBe(0);
    expect(badRole.stderr).toContain('validation_failed');
    const dup = await cli(
      'user',
      'create',
      '--org',
      orgId,
      '--email',
      'desk@clinic.example',
      '--role',
      'staff',
    );
    expect(dup.stderr).toContain('email_taken');
    const missing = await cli('user', 'revoke-sessions', '--org', orgId, '--id', 'usr_missing');
    expect(missing.stderr).toContain('user_not_found');
    expect((await t.rt.users.list(orgId)).length).toBe(before);
  });

  it('revokes sessions, disables, and resets a second factor', async () => {
    const u = (await t.rt.users.list(orgId)).find((x) => x.email === 'desk@clinic.example')!;
    const s = await t.rt.sessions.create(u, null);
    const r = await cli('user', 'revoke-sessions', '--org', orgId, '--id', u.id);
    expect(r.stdout).toContain('1 session(s) ended');
    expect(await t.rt.sessions.authenticate(s.token)).toBeNull();
    expect((await cli('user', 'disable', '--org', orgId, '--id', u.id)).code).toBe(0);
    expect((await t.rt.users.get(orgId, u.id))?.disabled).toBe(true);
    expect((await cli('user', 'enable', '--org', orgId, '--id', u.id)).code).toBe(0);
    expect((await cli('user', 'reset-mfa', '--org', orgId, '--id', u.id)).code).toBe(0);
    const link = await cli('user', 'setup-link', '--org', orgId, '--id', u.id);
    expect(link.stdout).toMatch(/#token=/);
  });

  it('creates API keys with scopes and an expiry', async () => {
    const r = await cli(
      'apikey',
      'create',
      '--org',
      orgId,
      '--name',
      'reports',
      '--scopes',
      'messages:read,audit:read',
      '--expires',
      '2099-01-01T00:00:00Z',
      '--json',
    );
    expect(r.code).toBe(0);
    const { apiKey } = JSON.parse(r.stdout) as { apiKey: string };
    expect(await t.rt.apiKeys.authenticate(apiKey)).toMatchObject({
      scopes: ['messages:read', 'audit:read'],
    });
    const bad = await cli('apikey', 'create', '--org', orgId, '--scopes', 'messages:read,root');
    expect(bad.stderr).toContain('validation_failed');
    const past = await cli('apikey', 'create', '--org', orgId, '--expires', '2001-01-01T00:00:00Z');
    expect(past.stderr).toContain('validation_failed');
    const listed = await cli('apikey', 'list', '--org', orgId);
    expect(listed.stdout).toContain('[messages:read,audit:read]');
    expect(listed.stdout).toContain('expires 2099-01-01T00:00:00.000Z');
    // Who made each key and when it was last used, as the README says.
    expect(listed.stdout).toMatch(/by cli:\S+ +last used (never|\d{4}-)/);
  });
});
