/**
 * What Compose reads from `GET /v1/auth/session` (issue 8), over HTTP on SQLite and
 * PostgreSQL: the organisation's name, its content-guard policy (so a provider or staff
 * member, who may not read `/v1/settings/guard`, sees whether held text is diverted, refused
 * or may be overridden), the neutral notice exactly as the portal words it (checked against
 * the notice a diverted send really stores), and the senders without their carrier settings.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { announcePgSkip, DIALECTS, openTestRuntime, type TestRuntime } from './helpers.js';
import { SessionClient, signedInUser } from './auth-client.js';
import { SYSTEM_ACTOR } from '../src/audit/index.js';
import { addConfiguredSender } from '../src/runtime/sender-carriers.js';

announcePgSkip('compose session API');

const HELD = 'Your A1C was 9.1, please increase your metformin';

interface SessionAnswer {
  user: { role: string };
  organisation: {
    id: string;
    name: string;
    guardPolicy: string;
    notice: string;
    senders: Record<string, unknown>[];
  };
}

describe.each(DIALECTS)('compose session API on %s', (dialect) => {
  let t: TestRuntime;
  let base: string;
  let n = 0;

  beforeAll(async () => {
    t = await openTestRuntime({
      dialect,
      env: { PUBLIC_URL: 'https://clinic.example', TIDINGS_AUTH_RATE_LIMIT: '1000', PORT: '0' },
    });
    base = await t.rt.listen();
  });
  afterAll(async () => t?.cleanup());

  /** An organisation named `name`, with a signed-in user of `role` and an API key. */
  async function org(name: string, role: 'provider' | 'staff' | 'auditor' | 'admin') {
    const o = await t.rt.orgs.create(name, SYSTEM_ACTOR);
    const { client } = await signedInUser(t.rt, base, o.orgId, `u${n++}@clinic.example`, role);
    const session = async () => {
      const res = await client.call<SessionAnswer>('GET', '/v1/auth/session');
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      return res.json.organisation;
    };
    return { orgId: o.orgId, apiKey: o.apiKey, session };
  }

  /** The SMS a diverted send really stores, with its link token elided as the preview does. */
  async function storedNotice(orgId: string, apiKey: string): Promise<string> {
    const res = await new SessionClient(base).call<{ id: string; guard: { action: string } }>(
      'POST',
      '/v1/messages',
      { to: `+1617555${String(4000 + n++)}`, body: HELD, program: 'care' },
      { bearer: apiKey },
    );
    expect(res.status).toBe(202);
    expect(res.json.guard.action).toBe('diverted');
    const sms = await t.rt.messaging.get(orgId, res.json.id, SYSTEM_ACTOR);
    return (sms?.body ?? '').replace(/\/s\/[A-Za-z0-9_-]{24} /, '/s/… ');
  }

  it('names the organisation, and previews the notice exactly as a diverted send words it', async () => {
    const o = await org('Lakeside Clinic', 'provider');
    const seen = await o.session();
    expect(seen.id).toBe(o.orgId);
    expect(seen.name).toBe('Lakeside Clinic');
    expect(seen.notice).toBe(
      'You have a new message from Lakeside Clinic. View it securely: https://clinic.example/s/… Reply STOP to opt out.',
    );
    expect(await storedNotice(o.orgId, o.apiKey)).toBe(seen.notice);
  });

  it('says "your care team" where the portal would: a revealing or too long name', async () => {
    for (const name of ['Valley Oncology', `Lakeside ${'Community '.repeat(8)}Clinic`]) {
      const o = await org(name, 'staff');
      const seen = await o.session();
      expect(seen.name).toBe(name);
      expect(seen.notice).toMatch(/^You have a new message from your care team\. /);
      expect(await storedNotice(o.orgId, o.apiKey)).toBe(seen.notice);
    }
  });

  it('tells every role the guard policy as it changes', async () => {
    const o = await org('Policy Clinic', 'staff');
    expect((await o.session()).guardPolicy).toBe('divert');
    const { client: admin } = await signedInUser(
      t.rt,
      base,
      o.orgId,
      `admin${n++}@clinic.example`,
      'admin',
    );
    for (const action of ['reject', 'override', 'divert']) {
      expect((await admin.call('PUT', '/v1/settings/guard', { action })).status).toBe(200);
      expect((await o.session()).guardPolicy).toBe(action);
      const adminView = (await admin.call<SessionAnswer>('GET', '/v1/auth/session')).json;
      expect(adminView.organisation.guardPolicy).toBe(action);
    }
  });

  it('lists the senders with default and pool, never carrier settings', async () => {
    const o = await org('Sender Clinic', 'provider');
    const before = await o.session();
    expect(before.senders).toHaveLength(1);
    expect(before.senders[0]).toMatchObject({ default: true, pool: false });
    const added = await addConfiguredSender(
      t.rt.orgs,
      50,
      o.orgId,
      { number: '+16175550177', carrier: 'simulator', inPool: true },
      SYSTEM_ACTOR,
    );
    // The sender list is cached for a few seconds; a fresh read sees the new one.
    let senders = before.senders;
    for (let i = 0; i < 60 && senders.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 200));
      senders = (await o.session()).senders;
    }
    expect(senders).toContainEqual({
      id: added.sender.id,
      number: '+16175550177',
      default: false,
      pool: true,
    });
    for (const s of senders)
      expect(Object.keys(s).sort()).toEqual(['default', 'id', 'number', 'pool']);
  });

  it('still answers 401 without a session', async () => {
    const res = await new SessionClient(base).call('GET', '/v1/auth/session');
    expect(res.status).toBe(401);
  });
});
