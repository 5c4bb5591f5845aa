/**
 * Secure messages and the patient portal across the parts: the API creates the message and
 * its neutral notice goes through the send pipeline to the simulator; the portal (a real
 * server on 127.0.0.1) verifies the patient, shows the content, takes a reply, locks after
 * five failures, and shows one neutral page for every link that does not work. SQLite always;
 * PostgreSQL when TIDINGS_TEST_PG_URL is set.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { announcePgSkip, DIALECTS, openTestRuntime, waitFor, type TestRuntime } from './helpers.js';
import { SYSTEM_ACTOR } from '../src/audit/index.js';
import { MAX_FAILED_VERIFICATIONS, SESSION_TTL_MS } from '../src/portal/index.js';

announcePgSkip('secure messages and portal');

const STAFF = { type: 'cli' as const, id: 'portal-test' };
const SECRET = 'Your A1C was 9.1, please increase your metformin';

/** A browser stand-in: keeps cookies, never follows redirects. */
class Client {
  readonly jar = new Map<string, string>();
  constructor(private readonly base: string) {}
  async req(p: string, init: { method?: string; form?: Record<string, string> } = {}) {
    const headers: Record<string, string> = {};
    if (this.jar.size) {
      headers.cookie = [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
    }
    let body: string | undefined;
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    }
    const res = await fetch(this.base + p, {
      method: init.method ?? (init.form ? 'POST' : 'GET'),
      headers,
      body,
      redirect: 'manual',
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair!.indexOf('=');
      this.jar.set(pair!.slice(0, i), pair!.slice(i + 1));
    }
    return { status: res.status, headers: res.headers, text: await res.text() };
  }
}

function csrfOf(html: string): string {
  const m = /name="csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error('no form token on the page');
  return m[1]!;
}

for (const dialect of DIALECTS) {
  describe(`secure messages and portal (${dialect})`, () => {
    let t: TestRuntime;
    let base: string;
    let orgId: string;
    let apiKey: string;
    let readKey: string;
    let simLog: string;
    let clock = 0;
    const logLines: string[] = [];
    let n = 0;
    const phone = () => `+1617555${String(2000 + n++).padStart(4, '0')}`;

    const api = async (method: string, p: string, body?: unknown, key = apiKey) => {
      const res = await fetch(base + p, {
        method,
        headers: {
          authorization: `Bearer ${key}`,
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        body: body ? JSON.stringify(body) : undefined,
      });
      return { status: res.status, json: (await res.json()) as Record<string, unknown> };
    };

    /** The texts the simulator "sent" to a number. */
    const sentTo = (to: string): string[] =>
      fs.existsSync(simLog)
        ? fs
            .readFileSync(simLog, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as { to: string; body: string })
            .filter((l) => l.to === to)
            .map((l) => l.body)
        : [];

    /** Sends a secure message and returns its id and the link's path from the texted notice. */
    const send = async (extra: Record<string, unknown> = {}) => {
      const to = phone();
      const res = await api('POST', '/v1/secure-messages', {
        to,
        body: SECRET,
        program: 'care',
        verify: 'dob',
        dob: '1980-03-27',
        ...extra,
      });
      expect(res.status, JSON.stringify(res.json)).toBe(201);
      const notice = await waitFor(() => sentTo(to)[0]);
      const m = /View it securely: (\S+) Reply STOP to opt out\.$/.exec(notice);
      expect(m).not.toBeNull();
      return { id: res.json.id as string, link: new URL(m![1]!).pathname, notice, to };
    };

    const verifyDob = async (c: Client, link: string, month: string, day: string, year: string) => {
      const page = await c.req(link);
      return c.req(`${link}/verify`, {
        form: { csrf: csrfOf(page.text), month, day, year },
      });
    };

    beforeAll(async () => {
      simLog = path.join(fs.mkdtempSync(path.join((await import('node:os')).tmpdir(), 'p-')), 's');
      const sink = new Writable({
        write(chunk: Buffer, _enc, done) {
          logLines.push(chunk.toString());
          done();
        },
      });
      t = await openTestRuntime({
        dialect,
        env: {
          PORT: '0',
          TIDINGS_SIM_LOG: simLog,
          PUBLIC_URL: 'https://clinic.example',
          TIDINGS_PORTAL_RATE_LIMIT: '10000',
        },
        runtime: {
          log: pino({ level: 'debug' }, sink),
          portal: { now: () => Date.now() + clock },
        },
      });
      const o = await t.rt.orgs.create('Lakeside Clinic', SYSTEM_ACTOR);
      orgId = o.orgId;
      apiKey = (await t.rt.apiKeys.create(orgId, { name: 's', scopes: ['secure:send'] }, STAFF))
        .apiKey;
      readKey = (await t.rt.apiKeys.create(orgId, { name: 'r', scopes: ['messages:read'] }, STAFF))
        .apiKey;
      await t.rt.orgs.setWebhook(orgId, 'http://127.0.0.1:9/hook', STAFF);
      base = await t.rt.listen();
      t.rt.startWorkers();
    });
    afterAll(async () => t?.cleanup());

    it('texts only a neutral notice and keeps the content encrypted', async () => {
      const { id, notice, link } = await send();
      expect(notice).toMatch(
        /^You have a new message from Lakeside Clinic\. View it securely: https:\/\/clinic\.example\/s\/[A-Za-z0-9_-]{24} Reply STOP to opt out\.$/,
      );
      expect(notice).not.toContain('A1C');
      const token = link.split('/')[2]!;
      const row = await t.rt.store.db
        .selectFrom('secure_messages')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
      const stored = JSON.stringify(row);
      expect(stored).not.toContain(token);
      expect(stored).not.toContain('A1C');
      expect(stored).not.toContain('1980-03-27'); // (a random key id may hold "1980")
      expect(row.status).toBe('active');
      expect(row.notice_message_id).toMatch(/^msg_/);
      // Status for everyone allowed; content only for callers that may read PHI.
      const status = await api('GET', `/v1/secure-messages/${id}`);
      expect(status.json.status).toBe('active');
      expect(status.json.body).toBeUndefined();
      const full = await api('GET', `/v1/secure-messages/${id}`, undefined, readKey);
      expect(full.json.body).toBe(SECRET);
    });

    it('answers a repeated request with the same Idempotency-Key with the first message', async () => {
      const to = phone();
      const body = { to, body: SECRET, program: 'care', verify: 'code' };
      const post = (b: unknown) =>
        fetch(`${base}/v1/secure-messages`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${apiKey}`,
            'content-type': 'application/json',
            'idempotency-key': `k-${to}`,
          },
          body: JSON.stringify(b),
        });
      const first = await post(body);
      const again = await post(body);
      expect([first.status, again.status]).toEqual([201, 201]);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      const [a, b] = [
        (await first.json()) as { id: string },
        (await again.json()) as { id: string },
      ];
      expect(b.id).toBe(a.id);
      const other = await post({ ...body, body: 'Something else' });
      expect(other.status).toBe(409);
      await waitFor(() => sentTo(to).length >= 1);
      await new Promise((r) => setTimeout(r, 200));
      expect(sentTo(to).length).toBe(1);
    });

    it('refuses bad input with a coded error and stores nothing', async () => {
      const before = await t.rt.store.db
        .selectFrom('secure_messages')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      const cases: [Record<string, unknown>, number, string][] = [
        [{ verify: 'dob', dob: undefined }, 400, 'date_of_birth_required'],
        [{ verify: 'dob', dob: '1980-02-30' }, 400, 'date_of_birth_required'],
        [{ verify: 'dob', dob: '2999-01-01' }, 400, 'date_of_birth_required'],
        [{ to: '12' }, 422, 'invalid_phone_number'],
        [{ expiresInHours: 0 }, 400, 'validation_failed'],
        [{ verify: 'code', dob: '1980-01-01' }, 400, 'validation_failed'],
        [{ verify: 'fingerprint' }, 400, 'validation_failed'],
      ];
      for (const [change, status, code] of cases) {
        const res = await api('POST', '/v1/secure-messages', {
          to: phone(),
          body: SECRET,
          program: 'care',
          verify: 'dob',
          dob: '1980-03-27',
          ...change,
        });
        expect(
          [res.status, (res.json.error as { code: string }).code],
          JSON.stringify(change),
        ).toEqual([status, code]);
      }
      const after = await t.rt.store.db
        .selectFrom('secure_messages')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      expect(Number(after.n)).toBe(Number(before.n));
    });

    it('cancels the secure message when the notice is refused (opted out)', async () => {
      const to = phone();
      await t.rt.consent.record(
        orgId,
        { phone: to, program: 'all', kind: 'opt_out_all', source: 'phone_call' },
        STAFF,
      );
      const canceled = async () =>
        (
          await t.rt.store.db
            .selectFrom('secure_messages')
            .select(['id'])
            .where('status', '=', 'canceled')
            .execute()
        ).map((r) => r.id);
      const before = await canceled();
      const res = await api('POST', '/v1/secure-messages', {
        to,
        body: SECRET,
        program: 'care',
        verify: 'code',
      });
      expect(res.status).toBe(422);
      expect((res.json.error as { code: string }).code).toBe('recipient_opted_out');
      const added = (await canceled()).filter((id) => !before.includes(id));
      expect(added.length).toBe(1);
      const audit = await t.rt.store.db
        .selectFrom('audit_events')
        .select(['action', 'details'])
        .where('target_id', '=', added[0]!)
        .execute();
      expect(audit.map((a) => a.action)).toEqual([
        'secure_message.created',
        'secure_message.notice_refused',
      ]);
      expect(audit[1]!.details).toContain('recipient_opted_out');
      expect(sentTo(to)).toEqual([]);
    });

    it('verifies by date of birth, shows the message, marks it read, takes a reply', async () => {
      const { id, link } = await send();
      const c = new Client(base);
      const page = await c.req(link);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect(page.headers.get('cache-control')).toBe('no-store');
      expect(page.headers.get('referrer-policy')).toBe('no-referrer');
      expect(page.headers.get('x-robots-tag')).toMatch(/noindex/);
      expect(page.headers.get('content-security-policy')).toMatch(/script-src 'none'/);
      expect(page.text).toContain('<meta name="robots" content="noindex, nofollow">');
      expect(page.text).toContain('<html lang="en">');
      expect(page.text).not.toContain('<script');
      expect(page.text).not.toContain('A1C');

      // No form token: refused, nothing counted.
      const forged = await c.req(`${link}/verify`, {
        form: { csrf: 'x', month: '3', day: '27', year: '1980' },
      });
      expect(forged.status).toBe(403);

      const wrong = await verifyDob(c, link, '3', '28', '1980');
      expect(wrong.status).toBe(422);
      expect(wrong.text).toContain(`${MAX_FAILED_VERIFICATIONS - 1} tries left`);
      const malformed = await verifyDob(c, link, 'March', '', '80');
      expect(malformed.status).toBe(400);

      const ok = await verifyDob(c, link, '03', '27', '1980');
      expect(ok.status).toBe(303);
      expect(ok.headers.get('location')).toBe(link);
      const setCookie = ok.headers.getSetCookie().find((s) => s.startsWith('tidings_portal='))!;
      expect(setCookie).toMatch(new RegExp(`Path=${link}`));
      expect(setCookie).toMatch(/HttpOnly/);
      expect(setCookie).toMatch(/SameSite=Strict/);
      expect(setCookie).toMatch(/Secure/);

      // The notice has been sent (the simulator logged it); wait for its status to settle.
      const noticeId = (await api('GET', `/v1/secure-messages/${id}`)).json
        .noticeMessageId as string;
      await waitFor(async () => {
        const m = await t.rt.messaging.loadForDispatch(orgId, noticeId);
        return m?.status === 'delivered';
      });

      const shown = await c.req(link);
      expect(shown.status).toBe(200);
      expect(shown.text).toContain(SECRET);
      const view = await api('GET', `/v1/secure-messages/${id}`);
      expect(view.json.status).toBe('read');
      expect(view.json.firstViewedAt).not.toBeNull();
      expect((await t.rt.messaging.loadForDispatch(orgId, noticeId))?.status).toBe('read');
      await c.req(link); // a second view: audited, no second read event
      const events = await t.rt.store.db
        .selectFrom('webhook_deliveries')
        .select(['event_type', 'payload'])
        .where('org_id', '=', orgId)
        .where('event_type', '=', 'secure_message.read')
        .execute();
      expect(events.filter((e) => e.payload.includes(id)).length).toBe(1);

      const noToken = await c.req(`${link}/reply`, { form: { csrf: 'nope', reply: 'hi' } });
      expect(noToken.status).toBe(403);
      const replied = await c.req(`${link}/reply`, {
        form: { csrf: csrfOf(shown.text), reply: 'Thank you, will do.' },
      });
      expect(replied.status).toBe(303);
      expect((await c.req(`${link}?replied=1`)).text).toContain('Your reply was sent.');
      const replies = await api('GET', `/v1/secure-messages/${id}/replies`, undefined, readKey);
      expect(replies.json.data).toEqual([expect.objectContaining({ body: 'Thank you, will do.' })]);
      const stored = await t.rt.store.db
        .selectFrom('secure_message_replies')
        .selectAll()
        .where('secure_message_id', '=', id)
        .execute();
      expect(JSON.stringify(stored)).not.toContain('Thank you');

      const actions = (
        await t.rt.store.db
          .selectFrom('audit_events')
          .select(['action'])
          .where('org_id', '=', orgId)
          .where('target_id', '=', id)
          .orderBy('seq')
          .execute()
      ).map((a) => a.action);
      expect(actions).toEqual(
        expect.arrayContaining([
          'secure_message.created',
          'secure_message.verify_failed',
          'secure_message.verified',
          'secure_message.viewed',
          'secure_message.replied',
          'secure_message.replies_read',
        ]),
      );
      expect(actions.filter((a) => a === 'secure_message.viewed').length).toBeGreaterThanOrEqual(3);
      expect((await t.rt.audit.verify({ orgId })).ok).toBe(true);
    });

    it('texts a one-time code and verifies with it', async () => {
      const { link, to } = await send({ verify: 'code', dob: undefined });
      const c = new Client(base);
      const page = await c.req(link);
      expect(page.text).toContain('Text me a code');
      const sent = await c.req(`${link}/code`, { form: { csrf: csrfOf(page.text) } });
      expect(sent.status).toBe(200);
      expect(sent.text).toContain('We texted you a code');
      const codeText = await waitFor(() => sentTo(to).find((b) => /code is \d{6}/.test(b)));
      expect(codeText).toMatch(/^Your Lakeside Clinic code is \d{6}\. It expires in 10 minutes\./);
      const code = /(\d{6})/.exec(codeText)![1]!;
      // A second request within the minute is throttled.
      const again = await c.req(`${link}/code`, { form: { csrf: csrfOf(sent.text) } });
      expect(again.status).toBe(429);
      const wrongCode = code === '000000' ? '111111' : '000000';
      const bad = await c.req(`${link}/verify`, {
        form: { csrf: csrfOf(sent.text), code: wrongCode },
      });
      expect(bad.status).toBe(422);
      const ok = await c.req(`${link}/verify`, { form: { csrf: csrfOf(sent.text), code } });
      expect(ok.status).toBe(303);
      expect((await c.req(link)).text).toContain(SECRET);
      // The code works once.
      const c2 = new Client(base);
      const p2 = await c2.req(link);
      const reuse = await c2.req(`${link}/verify`, { form: { csrf: csrfOf(p2.text), code } });
      expect(reuse.status).toBe(422);
    });

    it('diverts a text with PHI sent to /v1/messages: only the notice goes, the portal shows it', async () => {
      const to = phone();
      const sendKey = (
        await t.rt.apiKeys.create(orgId, { name: 'm', scopes: ['messages:send'] }, STAFF)
      ).apiKey;
      const res = await api('POST', '/v1/messages', { to, body: SECRET, program: 'care' }, sendKey);
      expect(res.status, JSON.stringify(res.json)).toBe(202);
      const notice = await waitFor(() => sentTo(to)[0]);
      expect(notice).toMatch(/^You have a new message from Lakeside Clinic\. View it securely: /);
      const link = new URL(/View it securely: (\S+) Reply STOP to opt out\.$/.exec(notice)![1]!)
        .pathname;
      const c = new Client(base);
      const page = await c.req(link);
      await c.req(`${link}/code`, { form: { csrf: csrfOf(page.text) } });
      const codeText = await waitFor(() => sentTo(to).find((b) => /code is \d{6}/.test(b)));
      const code = /(\d{6})/.exec(codeText)![1]!;
      expect(
        (await c.req(`${link}/verify`, { form: { csrf: csrfOf(page.text), code } })).status,
      ).toBe(303);
      expect((await c.req(link)).text).toContain(SECRET);
      expect(sentTo(to).every((b) => !b.includes('A1C') && !b.includes('metformin'))).toBe(true);
    });

    it('lets a code expire after 10 minutes and burns it after 3 wrong guesses', async () => {
      const { id, link, to } = await send({ verify: 'code', dob: undefined });
      const c = new Client(base);
      const codes = () => sentTo(to).filter((b) => /code is \d{6}/.test(b));
      const codeOf = (b: string) => /(\d{6})/.exec(b)![1]!;
      let page = await c.req(link);
      await c.req(`${link}/code`, { form: { csrf: csrfOf(page.text) } });
      const first = codeOf(await waitFor(() => codes()[0]));
      try {
        clock = 11 * 60_000;
        const late = await c.req(`${link}/verify`, {
          form: { csrf: csrfOf(page.text), code: first },
        });
        expect(late.status).toBe(422);
        page = await c.req(link);
        await c.req(`${link}/code`, { form: { csrf: csrfOf(page.text) } });
        const second = codeOf(await waitFor(() => codes()[1]));
        const wrong = second === '000000' ? '111111' : '000000';
        for (let i = 0; i < 3; i++) {
          await c.req(`${link}/verify`, { form: { csrf: csrfOf(page.text), code: wrong } });
        }
        // Burned: the right code fails now, and that fifth failure locks the link.
        const burned = await c.req(`${link}/verify`, {
          form: { csrf: csrfOf(page.text), code: second },
        });
        expect(burned.status).toBe(404);
        expect((await api('GET', `/v1/secure-messages/${id}`)).json.status).toBe('locked');
      } finally {
        clock = 0;
      }
    });

    it('locks after five failures, alerts staff, and then looks like any dead link', async () => {
      const { id, link } = await send();
      const c = new Client(base);
      let last = { status: 0, text: '' };
      for (let i = 0; i < MAX_FAILED_VERIFICATIONS; i++) {
        last = await verifyDob(c, link, '1', '1', '1990');
      }
      const unknown = await new Client(base).req('/s/AAAAAAAAAAAAAAAAAAAAAAAA');
      expect(last.status).toBe(404);
      expect(last.text).toBe(unknown.text);
      expect(unknown.status).toBe(404);
      // The right answer no longer helps.
      const late = await new Client(base).req(link);
      expect(late.status).toBe(404);
      expect(late.text).toBe(unknown.text);
      const view = await api('GET', `/v1/secure-messages/${id}`);
      expect(view.json.status).toBe('locked');
      expect(view.json.lockedAt).not.toBeNull();
      const locked = await t.rt.store.db
        .selectFrom('webhook_deliveries')
        .select(['payload'])
        .where('event_type', '=', 'secure_message.locked')
        .execute();
      expect(locked.some((e) => e.payload.includes(id))).toBe(true);
      const malformedToken = await new Client(base).req('/s/not-a-token');
      expect([malformedToken.status, malformedToken.text]).toEqual([404, unknown.text]);
    });

    it('revokes: the link dies at once, and a second revoke is refused', async () => {
      const { id, link } = await send();
      const c = new Client(base);
      expect((await verifyDob(c, link, '3', '27', '1980')).status).toBe(303);
      const r = await api('POST', `/v1/secure-messages/${id}/revoke`, {});
      expect(r.status).toBe(200);
      expect(r.json.status).toBe('revoked');
      expect((await c.req(link)).status).toBe(404);
      const again = await api('POST', `/v1/secure-messages/${id}/revoke`, {});
      expect([again.status, (again.json.error as { code: string }).code]).toEqual([
        409,
        'secure_message_closed',
      ]);
      const missing = await api('POST', '/v1/secure-messages/sec_nope/revoke', {});
      expect(missing.status).toBe(404);
    });

    it('expires links, and content set to expire after its first view', async () => {
      const plain = await send({ expiresInHours: 1 });
      const once = await send({ expireAfterView: true });
      const c = new Client(base);
      expect((await verifyDob(c, once.link, '3', '27', '1980')).status).toBe(303);
      expect((await c.req(once.link)).text).toContain(SECRET);
      // Within the session it stays readable; after it, it is gone.
      clock = SESSION_TTL_MS + 1000;
      try {
        expect((await c.req(once.link)).status).toBe(404);
        const fresh = new Client(base);
        expect((await fresh.req(once.link)).status).toBe(404);
        expect((await api('GET', `/v1/secure-messages/${once.id}`)).json.status).toBe('expired');
        clock = 3600_000 + 1000;
        expect((await new Client(base).req(plain.link)).status).toBe(404);
        expect((await api('GET', `/v1/secure-messages/${plain.id}`)).json.status).toBe('expired');
      } finally {
        clock = 0;
      }
    });

    it('logs the route pattern, never the link token', () => {
      const all = logLines.join('');
      expect(all).toContain('/s/:token');
      expect(all).not.toMatch(/\/s\/[A-Za-z0-9_-]{24}/);
      expect(all).not.toContain('A1C');
    });
  });
}

describe('portal rate limit', () => {
  let t: TestRuntime;
  afterAll(async () => t?.cleanup());

  it('limits requests per client address, with an HTML page', async () => {
    t = await openTestRuntime({ env: { PORT: '0', TIDINGS_PORTAL_RATE_LIMIT: '3' } });
    const base = await t.rt.listen();
    const statuses: number[] = [];
    let last = '';
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${base}/s/AAAAAAAAAAAAAAAAAAAAAAAA`);
      statuses.push(res.status);
      last = await res.text();
    }
    expect(statuses).toEqual([404, 404, 404, 429]);
    expect(last).toContain('Too many tries');
    // The API is another context: its own limits, unaffected.
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });
});
