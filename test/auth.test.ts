/**
 * People and sessions end to end over real HTTP: set-up links, the password policy, sign-in,
 * TOTP enrolment and verification, recovery codes, CSRF, idle and absolute logoff, lockout,
 * rate limits, revoking every session, API-key scopes and expiry, and emergency access.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSync } from 'otplib';
import { announcePgSkip, DIALECTS, openTestRuntime, type TestRuntime } from './helpers.js';
import { errorCode, SessionClient } from './auth-client.js';
import { verifyAudit, SYSTEM_ACTOR } from '../src/audit/index.js';
import { SESSION_ABSOLUTE_MS } from '../src/identity/sessions.js';

announcePgSkip('sign-in and sessions');

const PASSWORD = 'a quiet harbour at dawn';
const ADMIN_ACTOR = { type: 'cli' as const, id: 'test' };

/** A TOTP code for a time step after the given one (never a replay). */
function totp(secret: string, offsetSteps = 0): string {
  return generateSync({ secret, epoch: Math.floor(Date.now() / 1000) + offsetSteps * 30 });
}

for (const dialect of DIALECTS) {
  describe(`sign-in and sessions on ${dialect}`, () => {
    let t: TestRuntime;
    let base: string;
    let orgId: string;

    /** Creates a user and sets the password through the set-up link. */
    async function person(email: string, role: string): Promise<string> {
      const r = await t.rt.users.create(orgId, email, role, ADMIN_ACTOR);
      const c = new SessionClient(base);
      const res = await c.call('POST', '/v1/auth/setup', {
        token: r.setupToken,
        password: PASSWORD,
      });
      expect(res.status).toBe(200);
      return r.user.id;
    }

    /** Signs in and enrols TOTP; returns the client (second factor verified) and secret. */
    async function enrolled(email: string): Promise<{ c: SessionClient; secret: string }> {
      const c = new SessionClient(base);
      expect((await c.login(email, PASSWORD)).status).toBe(200);
      const start = await c.call<{ secret: string }>('POST', '/v1/auth/mfa/totp');
      const secret = start.json.secret;
      const conf = await c.call('POST', '/v1/auth/mfa/totp/confirm', { code: totp(secret) });
      expect(conf.status).toBe(200);
      return { c, secret };
    }

    beforeAll(async () => {
      t = await openTestRuntime({ dialect, env: { TIDINGS_AUTH_RATE_LIMIT: '1000' } });
      base = await t.rt.listen();
      orgId = (await t.rt.orgs.create('Auth Clinic', SYSTEM_ACTOR)).orgId;
    });
    afterAll(async () => t?.cleanup());

    it('sets a password once through the set-up link, under the password policy', async () => {
      const r = await t.rt.users.create(orgId, 'Nurse.Joy@Clinic.example', 'staff', ADMIN_ACTOR);
      expect(r.user.email).toBe('nurse.joy@clinic.example');
      expect(r.user.passwordSet).toBe(false);
      const c = new SessionClient(base);
      for (const weak of ['short', 'password1234567', 'nurse.joy@clinic.example']) {
        const res = await c.call('POST', '/v1/auth/setup', { token: r.setupToken, password: weak });
        expect(res.status).toBe(422);
        expect(errorCode(res)).toBe('weak_password');
      }
      const ok = await c.call('POST', '/v1/auth/setup', {
        token: r.setupToken,
        password: PASSWORD,
      });
      expect(ok.status).toBe(200);
      const again = await c.call('POST', '/v1/auth/setup', {
        token: r.setupToken,
        password: PASSWORD,
      });
      expect(errorCode(again)).toBe('invalid_setup_token');
      const stored = await t.rt.store.db
        .selectFrom('users')
        .select(['password_hash', 'setup_token_hash'])
        .where('id', '=', r.user.id)
        .executeTakeFirstOrThrow();
      expect(stored.password_hash).toMatch(/^\$argon2id\$/);
      expect(stored.setup_token_hash).toBeNull();
      await expect(
        t.rt.users.create(orgId, 'nurse.joy@clinic.example', 'admin', ADMIN_ACTOR),
      ).rejects.toMatchObject({ code: 'email_taken' });
      await expect(
        t.rt.users.create(orgId, 'x@y.example', 'root', ADMIN_ACTOR),
      ).rejects.toMatchObject({
        code: 'validation_failed',
      });
    });

    it('signs in with a strict, HttpOnly cookie and needs a second factor before anything else', async () => {
      await person('provider@clinic.example', 'provider');
      const c = new SessionClient(base);
      const wrong = await c.login('provider@clinic.example', 'not the password at all');
      expect(wrong.status).toBe(401);
      expect(errorCode(wrong)).toBe('invalid_credentials');
      const unknown = await c.login('nobody@clinic.example', PASSWORD);
      expect(errorCode(unknown)).toBe('invalid_credentials');

      const res = await c.login('provider@clinic.example', PASSWORD);
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({ next: 'enrol_mfa', user: { role: 'provider' } });
      expect(c.setCookie).toMatch(/^tidings_session=[\w-]{40,};/);
      expect(c.setCookie).toMatch(/HttpOnly/);
      expect(c.setCookie).toMatch(/SameSite=Strict/);
      expect(c.setCookie).not.toMatch(/Secure/); // plain HTTP here; Secure when served over TLS

      expect((await c.call('GET', '/v1/auth/session')).status).toBe(200);
      const blocked = await c.call('GET', '/v1/messages');
      expect(blocked.status).toBe(403);
      expect(errorCode(blocked)).toBe('mfa_required');
    });

    it('enrols TOTP with an otpauth URI and single-use recovery codes', async () => {
      await person('dr.lee@clinic.example', 'provider');
      const c = new SessionClient(base);
      await c.login('dr.lee@clinic.example', PASSWORD);
      const start = await c.call<{ secret: string; otpauthUri: string }>(
        'POST',
        '/v1/auth/mfa/totp',
      );
      expect(start.status).toBe(200);
      expect(start.json.otpauthUri).toMatch(
        /^otpauth:\/\/totp\/Tidings:dr\.lee%40clinic\.example\?/,
      );
      const bad = await c.call('POST', '/v1/auth/mfa/totp/confirm', { code: '000000' });
      expect(errorCode(bad)).toBe('invalid_mfa_code');
      const code = totp(start.json.secret);
      const conf = await c.call<{ recoveryCodes: string[] }>('POST', '/v1/auth/mfa/totp/confirm', {
        code,
      });
      expect(conf.status).toBe(200);
      expect(conf.json.recoveryCodes).toHaveLength(10);
      expect(new Set(conf.json.recoveryCodes).size).toBe(10);
      expect((await c.call('GET', '/v1/messages')).status).toBe(200);

      // A new session must verify again; the code already used is refused (no replay).
      const d = new SessionClient(base);
      const again = await d.login('dr.lee@clinic.example', PASSWORD);
      expect(again.json).toMatchObject({ next: 'verify_mfa' });
      expect(errorCode(await d.call('POST', '/v1/auth/mfa/verify', { code }))).toBe(
        'invalid_mfa_code',
      );
      const recovery = conf.json.recoveryCodes[0]!;
      expect(
        (await d.call('POST', '/v1/auth/mfa/verify', { recoveryCode: recovery.toUpperCase() }))
          .status,
      ).toBe(204);
      expect((await d.call('GET', '/v1/messages')).status).toBe(200);
      const e = new SessionClient(base);
      await e.login('dr.lee@clinic.example', PASSWORD);
      expect(
        errorCode(await e.call('POST', '/v1/auth/mfa/verify', { recoveryCode: recovery })),
      ).toBe('invalid_mfa_code');
      expect(
        (await e.call('POST', '/v1/auth/mfa/verify', { code: totp(start.json.secret, 1) })).status,
      ).toBe(204);
      // The secret is stored encrypted, the recovery codes only hashed.
      const row = await t.rt.store.db
        .selectFrom('users')
        .select('totp_secret_enc')
        .where('email', '=', 'dr.lee@clinic.example')
        .executeTakeFirstOrThrow();
      expect(row.totp_secret_enc).toMatch(/^v1:/);
      expect(row.totp_secret_enc).not.toContain(start.json.secret);
      const codes = await t.rt.store.db.selectFrom('recovery_codes').select('code_hash').execute();
      for (const r of codes) expect(conf.json.recoveryCodes).not.toContain(r.code_hash);
    });

    it('refuses a change made with the cookie but without the CSRF token', async () => {
      await person('csrf@clinic.example', 'staff');
      const { c } = await enrolled('csrf@clinic.example');
      const body = { to: '+16175550123', body: 'Your appointment is tomorrow', program: 'care' };
      const res = await c.call('POST', '/v1/messages', body, { csrf: false });
      expect(res.status).toBe(403);
      expect(errorCode(res)).toBe('csrf_failed');
      const wrong = new SessionClient(base);
      wrong.cookie = c.cookie;
      wrong.csrf = 'not-the-token';
      expect(errorCode(await wrong.call('POST', '/v1/messages', body))).toBe('csrf_failed');
      expect((await c.call('POST', '/v1/messages', body)).status).toBe(202);
      // Reads need no token.
      expect((await c.call('GET', '/v1/messages', undefined, { csrf: false })).status).toBe(200);
    });

    it('logs off after the idle time and after 12 hours in any case', async () => {
      await person('idle@clinic.example', 'staff');
      const u = (await t.rt.users.list(orgId)).find((x) => x.email === 'idle@clinic.example')!;
      const now = Date.now();
      const s = await t.rt.sessions.create(u, null, now);
      expect(s.session.idleTimeoutMinutes).toBe(15);
      // Activity within the idle time keeps it alive …
      expect(await t.rt.sessions.authenticate(s.token, now + 14 * 60_000)).not.toBeNull();
      expect(await t.rt.sessions.authenticate(s.token, now + 28 * 60_000)).not.toBeNull();
      // … 15 idle minutes end it.
      expect(await t.rt.sessions.authenticate(s.token, now + 44 * 60_000)).toBeNull();
      expect(await t.rt.sessions.authenticate(s.token, now + 45 * 60_000)).toBeNull();

      // Absolute lifetime, however active.
      const s2 = await t.rt.sessions.create(u, null, now);
      let at = now;
      while (at < now + SESSION_ABSOLUTE_MS - 10 * 60_000) {
        at += 10 * 60_000;
        expect(await t.rt.sessions.authenticate(s2.token, at)).not.toBeNull();
      }
      expect(await t.rt.sessions.authenticate(s2.token, now + SESSION_ABSOLUTE_MS)).toBeNull();

      const expired = await t.rt.store.db
        .selectFrom('audit_events')
        .select('target_id')
        .where('org_id', '=', orgId)
        .where('action', '=', 'session.expired')
        .execute();
      expect(expired.map((e) => e.target_id)).toEqual(
        expect.arrayContaining([s.session.id, s2.session.id]),
      );
    });

    it('applies the organisation idle setting an admin changes', async () => {
      await person('admin@clinic.example', 'admin');
      const { c } = await enrolled('admin@clinic.example');
      const bad = await c.call('PATCH', '/v1/settings', { sessionIdleMinutes: 0 });
      expect(bad.status).toBe(400);
      const ok = await c.call('PATCH', '/v1/settings', { sessionIdleMinutes: 5 });
      expect(ok.json).toEqual({ sessionIdleMinutes: 5 });
      const u = (await t.rt.users.list(orgId)).find((x) => x.email === 'idle@clinic.example')!;
      const now = Date.now();
      const s = await t.rt.sessions.create(u, null, now);
      expect(s.session.idleTimeoutMinutes).toBe(5);
      expect(await t.rt.sessions.authenticate(s.token, now + 5 * 60_000)).toBeNull();
      await c.call('PATCH', '/v1/settings', { sessionIdleMinutes: 15 });
    });

    it('locks an account for a growing delay after repeated failures', async () => {
      await person('locked@clinic.example', 'staff');
      const c = new SessionClient(base);
      for (let i = 0; i < 5; i++) {
        expect(errorCode(await c.login('locked@clinic.example', `wrong password ${i}!`))).toBe(
          'invalid_credentials',
        );
      }
      const locked = await c.login('locked@clinic.example', PASSWORD);
      expect(locked.status).toBe(429);
      expect(errorCode(locked)).toBe('account_locked');
      const row = await t.rt.store.db
        .selectFrom('users')
        .select(['failed_logins', 'locked_until'])
        .where('email', '=', 'locked@clinic.example')
        .executeTakeFirstOrThrow();
      expect(row.failed_logins).toBe(5);
      expect(Number(row.locked_until) - Date.now()).toBeGreaterThan(20_000);
      // After the delay the right password works and clears the count.
      const later = Number(row.locked_until) + 1;
      const u = await t.rt.users.checkPassword('locked@clinic.example', PASSWORD, orgId, later);
      expect(u.email).toBe('locked@clinic.example');
      const failures = await t.rt.store.db
        .selectFrom('audit_events')
        .select('action')
        .where('org_id', '=', orgId)
        .where('action', 'in', ['login.failed', 'login.locked_out'])
        .execute();
      expect(failures.filter((f) => f.action === 'login.failed').length).toBeGreaterThanOrEqual(5);
      expect(failures.some((f) => f.action === 'login.locked_out')).toBe(true);
    });

    it('lets an admin end all sessions of a user at once', async () => {
      const id = await person('lost.phone@clinic.example', 'provider');
      const { c: first } = await enrolled('lost.phone@clinic.example');
      const second = new SessionClient(base);
      await second.login('lost.phone@clinic.example', PASSWORD);
      const { c: admin } = await signedIn('admin@clinic.example');
      const res = await admin.call<{ revoked: number }>('POST', `/v1/users/${id}/sessions/revoke`);
      expect(res.status).toBe(200);
      expect(res.json.revoked).toBe(2);
      expect((await first.call('GET', '/v1/messages')).status).toBe(401);
      expect((await second.call('GET', '/v1/auth/session')).status).toBe(401);
      // Staff may not do it.
      await person('front.desk@clinic.example', 'staff');
      const { c: staff } = await enrolled('front.desk@clinic.example');
      const denied = await staff.call('POST', `/v1/users/${id}/sessions/revoke`);
      expect(denied.status).toBe(403);
    });

    /**
     * Signs in a user who has already enrolled and marks the session's second factor as
     * verified directly (the TOTP path itself is tested above; reusing one code would be a
     * replay).
     */
    async function signedIn(email: string): Promise<{ c: SessionClient }> {
      const c = new SessionClient(base);
      const res = await c.login(email, PASSWORD);
      expect(res.json).toMatchObject({ next: 'verify_mfa' });
      const session = (res.json as { session: { id: string } }).session;
      await t.rt.sessions.markMfaVerified(orgId, session.id);
      return { c };
    }

    it('grants emergency access at once, audits it and tells the admins, without the reason', async () => {
      await person('bg.staff@clinic.example', 'staff');
      const { c } = await enrolled('bg.staff@clinic.example');
      const short = await c.call('POST', '/v1/break-glass', { reason: 'urgent' });
      expect(short.status).toBe(400);
      expect(errorCode(short)).toBe('validation_failed');
      const reason = 'Patient in ED, covering provider unreachable';
      const res = await c.call<{ id: string; expiresAt: string }>('POST', '/v1/break-glass', {
        reason,
        minutes: 20,
      });
      expect(res.status).toBe(201);
      expect(Date.parse(res.json.expiresAt) - Date.now()).toBeGreaterThan(19 * 60_000);
      const u = (await t.rt.users.list(orgId)).find((x) => x.email === 'bg.staff@clinic.example')!;
      expect(await t.rt.breakGlass.active(orgId, u.id)).toMatchObject({ id: res.json.id });

      const hook = await t.rt.store.db
        .selectFrom('webhook_deliveries')
        .select(['event_type', 'payload'])
        .where('org_id', '=', orgId)
        .where('event_type', '=', 'security.break_glass')
        .executeTakeFirstOrThrow();
      expect(JSON.parse(hook.payload)).toMatchObject({ grantId: res.json.id, userId: u.id });
      expect(hook.payload).not.toContain('ED');
      const audit = await t.rt.store.db
        .selectFrom('audit_events')
        .select('details')
        .where('action', '=', 'breakglass.granted')
        .where('target_id', '=', res.json.id)
        .executeTakeFirstOrThrow();
      expect(String(audit.details)).not.toContain('unreachable');

      const { c: admin } = await signedIn('admin@clinic.example');
      const list = await admin.call<{ data: { id: string; reason: string }[] }>(
        'GET',
        '/v1/break-glass',
      );
      expect(list.json.data.find((g) => g.id === res.json.id)?.reason).toBe(reason);
      // Providers already may read secure content: no break-glass for them.
      const { c: provider } = await signedIn('dr.lee@clinic.example');
      expect((await provider.call('POST', '/v1/break-glass', { reason })).status).toBe(403);
    });

    it('opens secure content to a live grant only, naming the grant in the audit of each read', async () => {
      const userId = await person('bg.front@clinic.example', 'staff');
      const { c } = await enrolled('bg.front@clinic.example');
      const BODY = 'Your biopsy results are ready to discuss with Dr Lee';
      const sec = await t.rt.portal.createSecureMessage(orgId, SYSTEM_ACTOR, {
        to: '+16175550188',
        body: BODY,
        program: 'care',
        verify: 'dob',
        dob: '1980-03-27',
      });
      const id = sec.secureMessage.id;
      const read = async () =>
        (await c.call<{ body?: string }>('GET', `/v1/secure-messages/${id}`)).json.body;
      const replies = async () => (await c.call('GET', `/v1/secure-messages/${id}/replies`)).status;
      const list = await c.call<{ data: { id: string; lastActivityAt: string }[] }>(
        'GET',
        '/v1/conversations',
      );
      const conversationId = list.json.data[0]!.id;
      const thread = async () =>
        (
          await c.call<{ secureContent: boolean; items: { type: string; body?: string }[] }>(
            'GET',
            `/v1/conversations/${conversationId}`,
          )
        ).json;
      expect(await read()).toBeUndefined();
      expect(await replies()).toBe(403);
      expect((await thread()).secureContent).toBe(false);

      const grant = await c.call<{ id: string }>('POST', '/v1/break-glass', {
        reason: 'Covering for Dr Lee; the patient called about the results',
        minutes: 5,
      });
      expect(grant.status).toBe(201);
      expect(await read()).toBe(BODY);
      expect(await replies()).toBe(200);
      const open = await thread();
      expect(open.secureContent).toBe(true);
      expect(open.items.find((i) => i.type === 'secure')?.body).toBe(BODY);
      const reads = await t.rt.store.db
        .selectFrom('audit_events')
        .select(['action', 'details'])
        .where('org_id', '=', orgId)
        .where('actor_id', '=', userId)
        .where('action', 'in', [
          'secure_message.read',
          'secure_message.replies_read',
          'conversation.read',
        ])
        .execute();
      const named = reads.filter(
        (r) => (JSON.parse(r.details) as { breakGlass?: string }).breakGlass === grant.json.id,
      );
      // The message read, the replies read, the thread read and the secure message in it.
      expect(named.map((r) => r.action).sort()).toEqual([
        'conversation.read',
        'secure_message.read',
        'secure_message.read',
        'secure_message.replies_read',
      ]);

      // Another staff member cannot end it; its holder can, and the content closes at once.
      await person('bg.other@clinic.example', 'staff');
      const { c: other } = await enrolled('bg.other@clinic.example');
      const foreign = await other.call('POST', `/v1/break-glass/${grant.json.id}/end`);
      expect(foreign.status).toBe(404);
      expect((await c.call('POST', `/v1/break-glass/${grant.json.id}/end`)).status).toBe(204);
      expect(await read()).toBeUndefined();
      expect(await replies()).toBe(403);
      expect((await thread()).secureContent).toBe(false);
      expect((await c.call('POST', `/v1/break-glass/${grant.json.id}/end`)).status).toBe(404);
    });

    it('limits an API key to its scopes and refuses it after it expires', async () => {
      const readOnly = await t.rt.apiKeys.create(
        orgId,
        { name: 'reports', scopes: ['messages:read'] },
        ADMIN_ACTOR,
      );
      const c = new SessionClient(base);
      expect(
        (await c.call('GET', '/v1/messages', undefined, { bearer: readOnly.apiKey })).status,
      ).toBe(200);
      const send = await c.call(
        'POST',
        '/v1/messages',
        { to: '+16175550123', body: 'Hello', program: 'care' },
        { bearer: readOnly.apiKey },
      );
      expect(send.status).toBe(403);
      expect(errorCode(send)).toBe('forbidden');
      // Keys reach no person-only route.
      expect(
        (await c.call('GET', '/v1/users', undefined, { bearer: readOnly.apiKey })).status,
      ).toBe(403);
      const soon = Date.now() + 300;
      const brief = await t.rt.apiKeys.create(
        orgId,
        { name: 'brief', expiresAt: soon },
        ADMIN_ACTOR,
      );
      expect(
        (await c.call('GET', '/v1/messages', undefined, { bearer: brief.apiKey })).status,
      ).toBe(200);
      await new Promise((r) => setTimeout(r, 400));
      expect(
        (await c.call('GET', '/v1/messages', undefined, { bearer: brief.apiKey })).status,
      ).toBe(401);
      await expect(
        t.rt.apiKeys.create(orgId, { name: 'bad', scopes: ['everything' as never] }, ADMIN_ACTOR),
      ).rejects.toMatchObject({ code: 'validation_failed' });
      const listed = await t.rt.apiKeys.list(orgId);
      expect(listed.find((k) => k.id === readOnly.id)).toMatchObject({
        scopes: ['messages:read'],
        createdBy: 'cli:test',
      });
    });

    it('signs out and keeps the audit chain whole', async () => {
      const { c } = await signedIn('dr.lee@clinic.example');
      expect((await c.call('POST', '/v1/auth/logout')).status).toBe(204);
      expect((await c.call('GET', '/v1/auth/session')).status).toBe(401);
      const v = await verifyAudit(t.rt.store.db, orgId);
      expect(v.ok).toBe(true);
      const actions = await t.rt.store.db
        .selectFrom('audit_events')
        .select('action')
        .distinct()
        .where('org_id', '=', orgId)
        .execute();
      expect(actions.map((a) => a.action)).toEqual(
        expect.arrayContaining([
          'user.created',
          'user.password_set',
          'login.succeeded',
          'login.failed',
          'mfa.enrolled',
          'mfa.verified',
          'mfa.failed',
          'logout',
          'sessions.revoked',
          'org.settings_changed',
          'breakglass.granted',
        ]),
      );
    });
  });
}

describe('sign-in rate limit', () => {
  let t: TestRuntime;
  beforeAll(async () => {
    t = await openTestRuntime({ env: { TIDINGS_AUTH_RATE_LIMIT: '3' } });
  });
  afterAll(async () => t?.cleanup());

  it('answers 429 rate_limited past the per-address limit', async () => {
    const c = new SessionClient(await t.rt.listen());
    const codes: (string | undefined)[] = [];
    for (let i = 0; i < 5; i++)
      codes.push(errorCode(await c.login('a@b.example', 'whatever12345')));
    expect(codes).toEqual([
      'invalid_credentials',
      'invalid_credentials',
      'invalid_credentials',
      'rate_limited',
      'rate_limited',
    ]);
  });
});
