/**
 * The endpoints the console's Settings page and sign-in extras added (issue 8), over HTTP on
 * SQLite and PostgreSQL: API keys created by an admin (the secret in the create answer only,
 * then just its prefix; revoking stops it at once), signing oneself out everywhere, reading
 * the webhook URL, and a user's own standing with the texting policy. Every change audited.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateSync } from 'otplib';
import { Webhook } from 'standardwebhooks';
import { announcePgSkip, DIALECTS, openTestRuntime, waitFor, type TestRuntime } from './helpers.js';
import { errorCode, SessionClient } from './auth-client.js';
import { SYSTEM_ACTOR } from '../src/audit/index.js';
import { enqueueWebhooks } from '../src/webhooks/index.js';

announcePgSkip('settings API');
const PASSWORD = 'correct horse battery staple 42';
const ACTOR = { type: 'cli' as const, id: 'test' };

interface Hit {
  headers: Record<string, string>;
  body: string;
}

/** A webhook receiver on 127.0.0.1 that records every request and answers 200. */
async function startReceiver(): Promise<{ base: string; hits: Hit[]; stop: () => Promise<void> }> {
  const hits: Hit[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      hits.push({ headers, body: Buffer.concat(chunks).toString() });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

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
  let firstSecret = '';

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
    expect((await admin.call('GET', '/v1/webhook')).json).toEqual({
      url: null,
      previousSecretValidUntil: null,
    });
    const set = await admin.call<{ url: string; secret: string | null }>('PUT', '/v1/webhook', {
      url: 'https://ehr.example/hooks/tidings',
    });
    expect(set.status).toBe(200);
    expect(set.json.secret).toMatch(/^whsec_/);
    const read = await admin.call('GET', '/v1/webhook');
    expect(read.json).toEqual({
      url: 'https://ehr.example/hooks/tidings',
      previousSecretValidUntil: null,
    });
    expect(JSON.stringify(read.json)).not.toContain(set.json.secret!);
    firstSecret = set.json.secret!;
    const changed = await admin.call<{ secret: string | null }>('PUT', '/v1/webhook', {
      url: 'https://ehr.example/hooks/v2',
    });
    expect(changed.json.secret).toBeNull();
  });

  it('rotates the webhook secret: shown once, the old one signs beside it for 24 hours, or stops at once', async () => {
    const receiver = await startReceiver();
    try {
      expect(firstSecret).toMatch(/^whsec_/);
      const url = `${receiver.base}/hooks/settings`;
      expect((await admin.call('PUT', '/v1/webhook', { url })).status).toBe(200);
      t.rt.startWorkers();
      /** Puts one event in the outbox and returns the request the receiver got for it. */
      const deliver = async (): Promise<Hit> => {
        const n = receiver.hits.length;
        await enqueueWebhooks(t.rt.store.db, [
          { orgId, type: 'risk.alert', payload: { alertId: `alr_${n}` } },
        ]);
        return waitFor(() => receiver.hits[n]);
      };
      const verifies = (secret: string, hit: Hit): boolean => {
        try {
          new Webhook(secret).verify(hit.body, hit.headers);
          return true;
        } catch {
          return false;
        }
      };
      const signatures = (hit: Hit) => hit.headers['webhook-signature']!.split(' ');

      // Before: one signature, by the first secret.
      const before = await deliver();
      expect(signatures(before)).toHaveLength(1);
      expect(verifies(firstSecret, before)).toBe(true);

      // Rotate: the new secret is in this answer only; the old one signs too for 24 hours.
      const t0 = Date.now();
      const rotated = await admin.call<{ secret: string; previousSecretValidUntil: string }>(
        'POST',
        '/v1/webhook/rotate-secret',
        {},
      );
      expect(rotated.status).toBe(200);
      const second = rotated.json.secret;
      expect(second).toMatch(/^whsec_[A-Za-z0-9+/=]{40,}$/);
      expect(second).not.toBe(firstSecret);
      const until = Date.parse(rotated.json.previousSecretValidUntil);
      expect(until - t0).toBeGreaterThanOrEqual(24 * 3_600_000 - 1_000);
      expect(until - Date.now()).toBeLessThanOrEqual(24 * 3_600_000);
      const read = await admin.call<{ url: string; previousSecretValidUntil: string }>(
        'GET',
        '/v1/webhook',
      );
      expect(read.json).toEqual({
        url,
        previousSecretValidUntil: rotated.json.previousSecretValidUntil,
      });
      expect(JSON.stringify(read.json)).not.toContain(second);

      const during = await deliver();
      expect(signatures(during)).toHaveLength(2);
      expect(verifies(second, during)).toBe(true);
      expect(verifies(firstSecret, during)).toBe(true);
      // The signatures are each secret's own, not copies: a third secret verifies neither.
      expect(verifies(`whsec_${Buffer.alloc(32, 9).toString('base64')}`, during)).toBe(false);

      // Once the grace period is over, only the new secret signs.
      await t.rt.store.db
        .updateTable('organisations')
        .set({ webhook_prev_secret_until: Date.now() - 1 })
        .where('id', '=', orgId)
        .execute();
      const after = await deliver();
      expect(signatures(after)).toHaveLength(1);
      expect(verifies(second, after)).toBe(true);
      expect(verifies(firstSecret, after)).toBe(false);
      expect((await admin.call('GET', '/v1/webhook')).json).toEqual({
        url,
        previousSecretValidUntil: null,
      });

      // Two rotations in a row: only the last two secrets sign, never three.
      const third = (await admin.call<{ secret: string }>('POST', '/v1/webhook/rotate-secret', {}))
        .json.secret;
      const fourth = (await admin.call<{ secret: string }>('POST', '/v1/webhook/rotate-secret', {}))
        .json.secret;
      const twice = await deliver();
      expect(signatures(twice)).toHaveLength(2);
      expect(verifies(fourth, twice)).toBe(true);
      expect(verifies(third, twice)).toBe(true);
      expect(verifies(second, twice)).toBe(false);

      // keepPrevious: false (a leaked secret) stops the old one at once.
      const urgent = await admin.call<{ secret: string; previousSecretValidUntil: null }>(
        'POST',
        '/v1/webhook/rotate-secret',
        { keepPrevious: false },
      );
      expect(urgent.status).toBe(200);
      expect(urgent.json.previousSecretValidUntil).toBeNull();
      const fifth = urgent.json.secret;
      const now = await deliver();
      expect(signatures(now)).toHaveLength(1);
      expect(verifies(fifth, now)).toBe(true);
      for (const old of [firstSecret, second, third, fourth])
        expect(verifies(old, now)).toBe(false);

      // Bad input changes nothing; the secret stays out of the audit trail.
      const bad = await admin.call('POST', '/v1/webhook/rotate-secret', { keepPrevious: 'no' });
      expect(bad.status).toBe(400);
      expect(errorCode(bad)).toBe('validation_failed');
      expect(verifies(fifth, await deliver())).toBe(true);
      const events = (await t.rt.audit.events(orgId, { limit: 500 }, ACTOR)).data;
      const rotations = events.filter((e) => e.action === 'org.webhook_secret_rotated');
      expect(rotations).toHaveLength(4);
      for (const e of rotations) {
        expect(e.actor).toMatchObject({ type: 'user', id: adminId });
        expect(e.target).toMatchObject({ type: 'organisation', id: orgId });
      }
      const trail = JSON.stringify(events);
      for (const s of [firstSecret, second, third, fourth, fifth]) {
        expect(trail).not.toContain(s);
        expect(trail).not.toContain(s.slice(6, 30));
      }
    } finally {
      await receiver.stop();
    }
  });

  it('refuses a rotation without a webhook, and to a key without webhooks:write', async () => {
    const other = await t.rt.orgs.create('No Hook Practice', SYSTEM_ACTOR);
    const asKey = (key: string, body = '{}') =>
      fetch(`${base}/v1/webhook/rotate-secret`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body,
      });
    const none = await asKey(other.apiKey);
    expect(none.status).toBe(409);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe('webhook_not_set');
    // A key with webhooks:write may rotate (like setting the URL); with no body too.
    await t.rt.orgs.setWebhook(other.orgId, 'https://ehr.example/hooks/other', ACTOR);
    const noBody = await fetch(`${base}/v1/webhook/rotate-secret`, {
      method: 'POST',
      headers: { authorization: `Bearer ${other.apiKey}` },
    });
    expect(noBody.status).toBe(200);
    const made = ((await noBody.json()) as { secret: string }).secret;
    expect(made).toMatch(/^whsec_/);
    expect((await t.rt.orgs.webhookTarget(other.orgId))?.secret).toBe(made);
    const reader = await t.rt.apiKeys.create(
      other.orgId,
      { name: 'reader', scopes: ['messages:read'] },
      ACTOR,
    );
    const refused = await asKey(reader.apiKey);
    expect(refused.status).toBe(403);
    expect((await t.rt.orgs.webhookTarget(other.orgId))?.secret).toBe(made);
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
    expect(actions).toContain('org.webhook_secret_rotated');
    expect((await t.rt.audit.verify({ orgId })).ok).toBe(true);
  });
});
