/**
 * The texting-policy acknowledgement over HTTP, on SQLite and PostgreSQL: an admin sets the
 * policy, each signed-in user reads and acknowledges it, a changed text or a year's lapse
 * makes them overdue again, admins see who is overdue, and the compliance report follows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSync } from 'otplib';
import { announcePgSkip, DIALECTS, openTestRuntime, type TestRuntime } from './helpers.js';
import { errorCode, SessionClient } from './auth-client.js';
import { SYSTEM_ACTOR } from '../src/audit/index.js';
import { complianceReport } from '../src/compliance/index.js';
import { PolicyAcks, POLICY_ACK_VALID_MS } from '../src/identity/index.js';

announcePgSkip('policy acknowledgement');
const PASSWORD = 'correct horse battery staple 42';
const ACTOR = { type: 'cli' as const, id: 'test' };

describe.each(DIALECTS)('texting-policy acknowledgement on %s', (dialect) => {
  let t: TestRuntime;
  let base: string;
  let orgId: string;
  let admin: SessionClient;
  let staff: SessionClient;
  let staffId: string;
  let adminId: string;

  async function person(email: string, role: string): Promise<{ c: SessionClient; id: string }> {
    const r = await t.rt.users.create(orgId, email, role, ACTOR);
    const c = new SessionClient(base);
    expect(
      (await c.call('POST', '/v1/auth/setup', { token: r.setupToken, password: PASSWORD })).status,
    ).toBe(200);
    expect((await c.login(email, PASSWORD)).status).toBe(200);
    return { c, id: r.user.id };
  }

  beforeAll(async () => {
    t = await openTestRuntime({ dialect, env: { TIDINGS_AUTH_RATE_LIMIT: '1000', PORT: '0' } });
    base = await t.rt.listen();
    orgId = (await t.rt.orgs.create('Policy Clinic', SYSTEM_ACTOR)).orgId;
    const a = await person('admin@policy.example', 'admin');
    admin = a.c;
    adminId = a.id;
    const start = await admin.call<{ secret: string }>('POST', '/v1/auth/mfa/totp');
    const code = generateSync({ secret: start.json.secret });
    expect((await admin.call('POST', '/v1/auth/mfa/totp/confirm', { code })).status).toBe(200);
    // The staff member has not enrolled a second factor yet: reading and acknowledging the
    // policy comes before first use.
    const s = await person('staff@policy.example', 'staff');
    staff = s.c;
    staffId = s.id;
  });
  afterAll(async () => t?.cleanup());

  const workforce = async () =>
    (await complianceReport(t.rt, orgId, ACTOR)).items.find((i) => i.id === 'workforce_policy')!;

  it('reports attention while no policy is set', async () => {
    expect(errorCode(await staff.call('GET', '/v1/policy'))).toBe('policy_not_set');
    expect(errorCode(await staff.call('POST', '/v1/policy/acknowledge', {}))).toBe(
      'policy_not_set',
    );
    const w = await workforce();
    expect(w.status).toBe('attention');
    expect(w.state).toBe('no texting policy set');
  });

  it('lets only admins set the policy; everyone signed in reads and acknowledges it', async () => {
    expect((await staff.call('PUT', '/v1/policy', { text: 'x' })).status).toBe(403);
    const set = await admin.call('PUT', '/v1/policy', { text: 'Never text diagnoses.' });
    expect(set).toMatchObject({ status: 200, json: { version: 1, text: 'Never text diagnoses.' } });
    // The same text again is not a new version.
    expect(
      (await admin.call('PUT', '/v1/policy', { text: 'Never text diagnoses.' })).json,
    ).toMatchObject({ version: 1 });
    expect((await staff.call('GET', '/v1/policy')).json).toMatchObject({ version: 1 });

    let list = await admin.call<{ overdue: number; data: { userId: string; overdue: boolean }[] }>(
      'GET',
      '/v1/policy/acknowledgements',
    );
    expect(list.json.overdue).toBe(2);
    expect((await staff.call('GET', '/v1/policy/acknowledgements')).status).toBe(403);

    const ack = await staff.call('POST', '/v1/policy/acknowledge', { version: 1 });
    expect(ack).toMatchObject({ status: 200, json: { version: 1 } });
    list = await admin.call('GET', '/v1/policy/acknowledgements');
    expect(list.json.overdue).toBe(1);
    expect(list.json.data.find((u) => u.userId === staffId)!.overdue).toBe(false);
    expect(list.json.data[0]!.userId).toBe(adminId); // overdue first
    const w = await workforce();
    expect(w.status).toBe('attention');
    expect(w.state).toContain('1 user overdue');

    expect((await admin.call('POST', '/v1/policy/acknowledge', {})).status).toBe(200);
    expect((await workforce()).status).toBe('ok');
  });

  it('asks again when the text changes, and refuses an acknowledgement of the old text', async () => {
    const v2 = await admin.call('PUT', '/v1/policy', { text: 'Never text diagnoses or results.' });
    expect(v2.json).toMatchObject({ version: 2 });
    expect(errorCode(await staff.call('POST', '/v1/policy/acknowledge', { version: 1 }))).toBe(
      'policy_version_mismatch',
    );
    const w = await workforce();
    expect(w.state).toContain('2 users overdue');
    expect((await staff.call('POST', '/v1/policy/acknowledge', { version: 2 })).status).toBe(200);
    expect((await admin.call('POST', '/v1/policy/acknowledge', { version: 2 })).status).toBe(200);
    expect((await workforce()).status).toBe('ok');
  });

  it('asks again a year after the last acknowledgement; disabled users do not count', async () => {
    const later = new PolicyAcks(
      t.rt.store,
      (o) => t.rt.users.list(o),
      () => Date.now() + POLICY_ACK_VALID_MS + 1000,
    );
    expect((await later.statuses(orgId)).users.every((u) => u.overdue)).toBe(true);
    await t.rt.users.update(orgId, staffId, { disabled: true }, ACTOR);
    expect((await t.rt.policyAcks.statuses(orgId)).users.map((u) => u.userId)).toEqual([adminId]);
  });

  it('refuses API keys and audits changes and acknowledgements', async () => {
    const key = await t.rt.apiKeys.create(orgId, { name: 'k', scopes: ['audit:read'] }, ACTOR);
    const res = await fetch(`${base}/v1/policy`, {
      headers: { authorization: `Bearer ${key.apiKey}` },
    });
    expect(res.status).toBe(403);
    const actions = (await t.rt.audit.events(orgId, { limit: 200 }, ACTOR)).data.map(
      (e) => e.action,
    );
    expect(actions.filter((a) => a === 'policy.changed')).toHaveLength(2);
    expect(actions.filter((a) => a === 'policy.acknowledged')).toHaveLength(4);
    expect((await t.rt.audit.verify({ orgId })).ok).toBe(true);
  });
});
