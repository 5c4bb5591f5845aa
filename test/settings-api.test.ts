/**
 * The endpoints the console's Settings page and sign-in extras added (issue 8), over HTTP on
 * SQLite and PostgreSQL: API keys created by an admin (the secret in the create answer only,
 * then just its prefix; revoking stops it at once), signing oneself out everywhere, reading
 * the webhook URL, and a user's own standing with the texting policy. Every change audited.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSync } from 'otplib';
import { announcePgSkip, DIALECTS, openTestRuntime, type TestRuntime } from './helpers.js';
import { errorCode, SessionClient } from './auth-client.js';
import { SYSTEM_ACTOR } from '../src/audit/index.js';

announcePgSkip('settings API');
const PASSWORD = 'correct horse battery staple 42';
const ACTOR = { type: 'cli' as const, id: 'test' };

interface KeyView {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  revokedAt: string | null;
}

describe.each(DIALECTS)('settings API on %s', (dialect) => {
  let t: TestRuntime;
  let base: string;
  let orgId: string;
  let admin: SessionClient;
  let adminId: string;

  async function signIn(email: string, totpSecret?: string): Promise<SessionClient> {
    const c = new SessionClient(base);
    expect((await c.login(email, PASSWORD)).status).toBe(200);
    if (totpSecret) {
      // The next step's code: the current one was spent enrolling (codes are not replayable).
      const code = generateSync({ secret: totpSecret, epoch: Math.floor(Date.now() / 1000) + 30 });
      expect((await c.call('POST', '/v1/auth/mfa/verify', { code })).status).toBe(204);
    }
    return c;
  }

  beforeAll(async () => {
    t = await openTestRuntime({ dialect, env: { TIDINGS_AUTH_RATE_LIMIT: '1000', PORT: '0' } });
    base = await t.rt.listen();
    orgId = (await t.rt.orgs.create('Settings Clinic', SYSTEM_ACTOR)).orgId;
    const r = await t.rt.users.create(orgId, 'admin@settings.example', 'admin', ACTOR);
    adminId = r.user.id;
    admin = new SessionClient(base);
    await admin.call('POST', '/v1/auth/setup', { token: r.setupToken, password: PASSWORD });
    expect((await admin.login('admin@settings.example', PASSWORD)).status).toBe(200);
    const start = await admin.call<{ secret: string }>('POST', '/v1/auth/mfa/totp');
    const code = generateSync({ secret: start.json.secret });
    expect((await admin.call('POST', '/v1/auth/mfa/totp/confirm', { code })).status).toBe(200);
  });
  afterAll(async () => t?.cleanup());

  it('creates an API key shown once, lists only its prefix, and revokes it at once', async () => {
    const created = await admin.call<{ key: KeyView; apiKey: string }>('POST', '/v1/api-keys', {
      name: 'EHR feed',
      scopes: ['messages:read', 'consent:read'],
    });
    expect(created.status).toBe(201);
    const { key, apiKey } = created.json;
    expect(apiKey).toMatch(/^tid_/);
    expect(key).toMatchObject({ name: 'EHR feed', scopes: ['messages:read', 'consent:read'] });
    expect(apiKey.startsWith(key.prefix)).toBe(true);
    expect(key.prefix.length).toBeLessThan(apiKey.length);

    const list = await admin.call<{ data: KeyView[] }>('GET', '/v1/api-keys');
    expect(list.status).toBe(200);
    expect(list.json.data.map((k) => k.id)).toContain(key.id);
    expect(JSON.stringify(list.json)).not.toContain(apiKey);

    // The key works, within its scopes only.
    const asKey = (path: string) =>
      fetch(base + path, { headers: { authorization: `Bearer ${apiKey}` } });
    expect((await asKey('/v1/messages')).status).toBe(200);
    expect((await asKey('/v1/api-keys')).status).toBe(403); // no key manages keys

    expect((await admin.call('DELETE', `/v1/api-keys/${key.id}`)).status).toBe(204);
    expect((await asKey('/v1/messages')).status).toBe(401);
    const again = await admin.call('DELETE', `/v1/api-keys/${key.id}`);
    expect(again.status).toBe(404);
    expect(errorCode(again)).toBe('not_found');
    const after = await admin.call<{ data: KeyView[] }>('GET', '/v1/api-keys');
    expect(after.json.data.find((k) => k.id === key.id)!.revokedAt).not.toBeNull();
  });

  it('refuses a key with no name, an unknown scope or a past expiry, creating nothing', async () => {
    const before = (await admin.call<{ data: KeyView[] }>('GET', '/v1/api-keys')).json.data;
    for (const body of [
      { name: '' },
      { name: 'x', scopes: ['everything'] },
      { name: 'x', expiresAt: '2001-01-01T00:00:00Z' },
    ]) {
      const res = await admin.call('POST', '/v1/api-keys', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(errorCode(res)).toBe('validation_failed');
    }
    const after = (await admin.call<{ data: KeyView[] }>('GET', '/v1/api-keys')).json.data;
    expect(after).toHaveLength(before.length);
  });

  it('signs a user out everywhere: every session of theirs ends, others keep theirs', async () => {
    const r = await t.rt.users.create(orgId, 'staff@settings.example', 'staff', ACTOR);
    const c1 = new SessionClient(base);
    await c1.call('POST', '/v1/auth/setup', { token: r.setupToken, password: PASSWORD });
    expect((await c1.login('staff@settings.example', PASSWORD)).status).toBe(200);
    const start = await c1.call<{ secret: string }>('POST', '/v1/auth/mfa/totp');
    const code = generateSync({ secret: start.json.secret });
    expect((await c1.call('POST', '/v1/auth/mfa/totp/confirm', { code })).status).toBe(200);
    const c2 = await signIn('staff@settings.example', start.json.secret);
    // Before the second factor, a session may not sign everyone out.
    const c3 = await signIn('staff@settings.example');
    expect(errorCode(await c3.call('POST', '/v1/auth/sessions/revoke-all'))).toBe('mfa_required');

    const res = await c1.call<{ revoked: number }>('POST', '/v1/auth/sessions/revoke-all');
    expect(res.status).toBe(200);
    expect(res.json.revoked).toBe(3);
    expect(c1.setCookie).toMatch(/tidings_session=;/);
    for (const c of [c1, c2, c3]) {
      expect((await c.call('GET', '/v1/auth/session')).status).toBe(401);
    }
    expect((await admin.call('GET', '/v1/auth/session')).status).toBe(200);
    const events = (await t.rt.audit.events(orgId, { limit: 200 }, ACTOR)).data;
    expect(
      events.some(
        (e) =>
          e.action === 'sessions.revoked' &&
          e.target.id === r.user.id &&
          e.actor.type === 'user' &&
          e.actor.id === r.user.id,
      ),
    ).toBe(true);
  });

  it('reads back the webhook URL; the secret only when first made', async () => {
    expect((await admin.call('GET', '/v1/webhook')).json).toEqual({ url: null });
    const set = await admin.call<{ url: string; secret: string | null }>('PUT', '/v1/webhook', {
      url: 'https://ehr.example/hooks/tidings',
    });
    expect(set.status).toBe(200);
    expect(set.json.secret).toMatch(/^whsec_/);
    const read = await admin.call('GET', '/v1/webhook');
    expect(read.json).toEqual({ url: 'https://ehr.example/hooks/tidings' });
    expect(JSON.stringify(read.json)).not.toContain(set.json.secret!);
    const changed = await admin.call<{ secret: string | null }>('PUT', '/v1/webhook', {
      url: 'https://ehr.example/hooks/v2',
    });
    expect(changed.json.secret).toBeNull();
  });

  it('tells each user whether the texting policy is due for them', async () => {
    expect(errorCode(await admin.call('GET', '/v1/policy'))).toBe('policy_not_set');
    expect((await admin.call('PUT', '/v1/policy', { text: 'Never text results.' })).status).toBe(
      200,
    );
    let p = await admin.call<{ version: number; mine: { due: boolean; dueAt: string | null } }>(
      'GET',
      '/v1/policy',
    );
    expect(p.json.mine).toEqual({ acknowledgedAt: null, dueAt: null, due: true });
    expect((await admin.call('POST', '/v1/policy/acknowledge', { version: 1 })).status).toBe(200);
    p = await admin.call('GET', '/v1/policy');
    expect(p.json.mine.due).toBe(false);
    expect(Date.parse(p.json.mine.dueAt!)).toBeGreaterThan(Date.now() + 360 * 86_400_000);
    // A changed text is due again.
    await admin.call('PUT', '/v1/policy', { text: 'Never text results or diagnoses.' });
    p = await admin.call('GET', '/v1/policy');
    expect(p.json).toMatchObject({ version: 2, mine: { due: true } });
    const standing = await t.rt.policyAcks.standing(orgId, adminId);
    expect(standing?.due).toBe(true);
  });

  it('audits key operations and keeps the chain intact', async () => {
    const actions = (await t.rt.audit.events(orgId, { limit: 500 }, ACTOR)).data.map(
      (e) => e.action,
    );
    expect(actions).toContain('apikey.created');
    expect(actions).toContain('apikey.revoked');
    expect(actions).toContain('org.webhook_set');
    expect((await t.rt.audit.verify({ orgId })).ok).toBe(true);
  });
});
