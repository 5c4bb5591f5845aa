/**
 * The integrators' HTTP API over a real socket: sending, validation, authentication, tenant
 * isolation, listing and search, cancel, idempotency, the operations endpoints, and a
 * property test that no input makes the server answer 5xx or leave the error envelope.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { sql } from 'kysely';
import { announcePgSkip, DIALECTS, openTestRuntime, waitFor, type TestRuntime } from './helpers.js';
import { ERRORS } from '../src/errors/index.js';

announcePgSkip('HTTP API');

const ACTOR = { type: 'cli' as const, id: 'test' };
const PHONE = '+16175550123';

interface Res {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

interface ErrorEnvelope {
  error: { code: string; message: string };
}

interface Message {
  id: string;
  status: string;
  to: string;
  from: string;
  program: string;
  segments: number;
  encoding: string;
  sendAt: string;
  createdAt: string;
  body?: string;
}

interface Page {
  data: Message[];
  nextCursor: string | null;
}

/** Every error code any response in this file carried. */
const seenCodes = new Set<string>();

/** Checks the error envelope of a 4xx/5xx answer and records its code. */
function checkEnvelope(res: Res): string {
  expect(res.headers.get('content-type') ?? '').toMatch(/^application\/json/);
  const body = res.json as ErrorEnvelope;
  expect(typeof body?.error?.code, `not the error envelope: ${res.text}`).toBe('string');
  expect(typeof body.error.message).toBe('string');
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message']);
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error.message.length).toBeGreaterThan(0);
  seenCodes.add(body.error.code);
  expect(ERRORS, `unknown error code ${body.error.code}`).toHaveProperty(body.error.code);
  expect(ERRORS[body.error.code as keyof typeof ERRORS].status).toBe(res.status);
  return body.error.code;
}

function client(base: string) {
  async function call(
    method: string,
    path: string,
    opts: {
      key?: string | null;
      json?: unknown;
      raw?: string;
      headers?: Record<string, string>;
      redirect?: 'follow' | 'manual' | 'error';
    } = {},
  ): Promise<Res> {
    const headers: Record<string, string> = {};
    if (opts.key) headers.authorization = `Bearer ${opts.key}`;
    let body: string | undefined;
    if (opts.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.json);
    } else if (opts.raw !== undefined) {
      body = opts.raw;
    }
    Object.assign(headers, opts.headers);
    const r = await fetch(base + path, {
      method,
      headers,
      ...(body !== undefined ? { body } : {}),
      redirect: opts.redirect ?? 'follow',
    });
    const text = await r.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const res = { status: r.status, headers: r.headers, text, json };
    if (res.status >= 400 && path !== '/readyz') checkEnvelope(res);
    return res;
  }

  /** Asserts an error answer with `status` and `code`. */
  async function expectError(
    status: number,
    code: string,
    method: string,
    path: string,
    opts: Parameters<typeof call>[2] = {},
  ): Promise<Res> {
    const res = await call(method, path, opts);
    expect({
      status: res.status,
      code: (res.json as ErrorEnvelope | undefined)?.error?.code,
    }).toEqual({ status, code });
    return res;
  }
  return { call, expectError };
}

/** Property-test runs; raise with TIDINGS_FC_RUNS for a longer search. */
const RUNS = Number(process.env.TIDINGS_FC_RUNS ?? 300);

const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString();

describe.each(DIALECTS)('HTTP API on %s', (dialect) => {
  let t: TestRuntime;
  let http: ReturnType<typeof client>;
  let base: string;
  let orgA: { orgId: string; apiKey: string; apiKeyId: string; sender: { number: string } };
  let orgB: typeof orgA;

  async function messageRows(orgId: string): Promise<number> {
    const r = await t.rt.store.db
      .selectFrom('messages')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('org_id', '=', orgId)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  async function send(key: string, body: Record<string, unknown>, headers = {}): Promise<Message> {
    const res = await http.call('POST', '/v1/messages', { key, json: body, headers });
    expect(res.status, res.text).toBe(202);
    return res.json as Message;
  }

  beforeAll(async () => {
    t = await openTestRuntime({ dialect, env: { PORT: '0' } });
    orgA = await t.rt.orgs.create('Lakeside Clinic', ACTOR);
    orgB = await t.rt.orgs.create('Hillside Pharmacy', ACTOR);
    base = await t.rt.listen();
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(base).not.toMatch(/:0$/);
    http = client(base);
    t.rt.startWorkers();
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  describe('POST /v1/messages', () => {
    it('accepts a message with 202 and describes it', async () => {
      const res = await http.call('POST', '/v1/messages', {
        key: orgA.apiKey,
        json: { to: PHONE, body: 'Your appointment is on Tuesday at 10:00.', program: 'care' },
      });
      expect(res.status).toBe(202);
      expect(res.headers.get('idempotent-replayed')).toBeNull();
      const m = res.json as Message;
      expect(m).toMatchObject({
        status: 'queued',
        to: PHONE,
        from: orgA.sender.number,
        program: 'care',
        segments: 1,
        encoding: 'GSM-7',
      });
      expect(m.id).toMatch(/^msg_[0-9a-z]{26}$/);
      expect(m.from).toMatch(/^\+1\d{10}$/);
      // The answer to a send never echoes the body.
      expect(m.body).toBeUndefined();
      const stored = await http.call('GET', `/v1/messages/${m.id}`, { key: orgA.apiKey });
      expect(stored.status).toBe(200);
      expect(stored.json).toMatchObject({
        id: m.id,
        body: 'Your appointment is on Tuesday at 10:00.',
      });
    });

    it('counts segments and encoding', async () => {
      const ucs = await send(orgA.apiKey, {
        to: PHONE,
        body: 'See you soon 😊',
        program: 'care',
        sendAt: inAnHour(),
      });
      expect(ucs).toMatchObject({ encoding: 'UCS-2', segments: 1 });
      const long = await send(orgA.apiKey, {
        to: PHONE,
        body: 'a'.repeat(161),
        program: 'care',
        sendAt: inAnHour(),
      });
      expect(long).toMatchObject({ encoding: 'GSM-7', segments: 2 });
      // Exactly ten segments is still accepted.
      const ten = await send(orgA.apiKey, {
        to: PHONE,
        body: 'a'.repeat(153 * 10),
        program: 'care',
        sendAt: inAnHour(),
      });
      expect(ten.segments).toBe(10);
    });

    it.each([
      '(617) 555-0123',
      '617-555-0123',
      '617.555.0123',
      '6175550123',
      '1 617 555 0123',
      '+1 (617) 555-0123',
      '  +16175550123  ',
    ])('normalises %j to E.164', async (to) => {
      const m = await send(orgA.apiKey, { to, body: 'Hello', program: 'care', sendAt: inAnHour() });
      expect(m.to).toBe(PHONE);
    });

    it('accepts a Canadian number (default regions are US and CA)', async () => {
      const m = await send(orgA.apiKey, {
        to: '(416) 555-0123',
        body: 'Hello',
        program: 'care',
        sendAt: inAnHour(),
      });
      expect(m.to).toBe('+14165550123');
    });

    it.each([
      ['123', 'invalid_phone_number'],
      ['+1617555012', 'invalid_phone_number'],
      ['abc', 'invalid_phone_number'],
      ['617-555-CALL', 'invalid_phone_number'],
      ['+', 'invalid_phone_number'],
      ['   ', 'invalid_phone_number'],
      ['+442071234567', 'unsupported_region'],
      ['+447400123456', 'unsupported_region'],
      ['+33612345678', 'unsupported_region'],
      ['+18005551234', 'not_mobile_number'],
      ['+19005551234', 'not_mobile_number'],
    ])('refuses %j with 422 %s and stores nothing', async (to, code) => {
      const before = await messageRows(orgA.orgId);
      await http.expectError(422, code, 'POST', '/v1/messages', {
        key: orgA.apiKey,
        json: { to, body: 'Hello', program: 'care' },
      });
      expect(await messageRows(orgA.orgId)).toBe(before);
    });

    it('refuses a body over ten segments with 422 body_too_long', async () => {
      await http.expectError(422, 'body_too_long', 'POST', '/v1/messages', {
        key: orgA.apiKey,
        json: { to: PHONE, body: 'a'.repeat(153 * 10 + 1), program: 'care' },
      });
      await http.expectError(422, 'body_too_long', 'POST', '/v1/messages', {
        key: orgA.apiKey,
        json: { to: PHONE, body: 'é€😊'.repeat(200), program: 'care' },
      });
    });

    it('refuses an unknown sender with 422 unknown_sender', async () => {
      await http.expectError(422, 'unknown_sender', 'POST', '/v1/messages', {
        key: orgA.apiKey,
        json: { to: PHONE, body: 'Hello', program: 'care', from: orgB.sender.number },
      });
    });

    it.each([
      ['an empty object', {}],
      ['no to', { body: 'Hello', program: 'care' }],
      ['no body', { to: PHONE, program: 'care' }],
      ['no program', { to: PHONE, body: 'Hello' }],
      ['an empty to', { to: '', body: 'Hello', program: 'care' }],
      ['an empty body', { to: PHONE, body: '', program: 'care' }],
      ['an unknown program', { to: PHONE, body: 'Hello', program: 'spam' }],
      ['a numeric to', { to: 6175550123, body: 'Hello', program: 'care' }],
      ['a null body', { to: PHONE, body: null, program: 'care' }],
      ['an overlong to', { to: '1'.repeat(33), body: 'Hello', program: 'care' }],
      ['an overlong body', { to: PHONE, body: 'a'.repeat(5001), program: 'care' }],
      ['a bad sendAt', { to: PHONE, body: 'Hello', program: 'care', sendAt: 'tomorrow' }],
      [
        'a far sendAt',
        { to: PHONE, body: 'Hello', program: 'care', sendAt: '2999-01-01T00:00:00Z' },
      ],
      ['an array', [{ to: PHONE, body: 'Hello', program: 'care' }]],
      ['a string', 'hello'],
      ['null', null],
    ])('refuses %s with 400 validation_failed', async (_what, json) => {
      const before = await messageRows(orgA.orgId);
      const res = await http.expectError(400, 'validation_failed', 'POST', '/v1/messages', {
        key: orgA.apiKey,
        json,
      });
      // The message names the problem but never quotes the value.
      expect(res.text).not.toContain('6175550123');
      expect(await messageRows(orgA.orgId)).toBe(before);
    });

    it('refuses malformed JSON with 400 invalid_json', async () => {
      for (const raw of ['{"to":', '{to: 1}', 'not json', '{"a":1}}', '']) {
        await http.expectError(400, 'invalid_json', 'POST', '/v1/messages', {
          key: orgA.apiKey,
          raw,
          headers: { 'content-type': 'application/json' },
        });
      }
    });

    it('refuses other content types with 415 unsupported_media_type', async () => {
      const body = JSON.stringify({ to: PHONE, body: 'Hello', program: 'care' });
      for (const type of [
        'application/x-www-form-urlencoded',
        'application/xml',
        'multipart/form-data; boundary=x',
        'application/jsonx',
      ]) {
        await http.expectError(415, 'unsupported_media_type', 'POST', '/v1/messages', {
          key: orgA.apiKey,
          raw: body,
          headers: { 'content-type': type },
        });
      }
    });

    // Fastify parses text/plain by default, so a JSON document sent as text/plain (what fetch
    // sends for a string body without a content type) reaches validation and gets 400
    // validation_failed instead of 415: src/http/index.ts must remove the text/plain parser.
    it('refuses text/plain with 415 unsupported_media_type', async () => {
      const body = JSON.stringify({ to: PHONE, body: 'Hello', program: 'care' });
      for (const type of ['text/plain', 'text/plain; charset=utf-8']) {
        await http.expectError(415, 'unsupported_media_type', 'POST', '/v1/messages', {
          key: orgA.apiKey,
          raw: body,
          headers: { 'content-type': type },
        });
      }
    });

    it('refuses a body over 64 KiB with 413 payload_too_large', async () => {
      await http.expectError(413, 'payload_too_large', 'POST', '/v1/messages', {
        key: orgA.apiKey,
        json: { to: PHONE, body: 'a'.repeat(70_000), program: 'care' },
      });
    });
  });

  describe('authentication', () => {
    const ok = { to: PHONE, body: 'Hello', program: 'care' };

    it.each([
      ['no Authorization header', {}],
      ['an empty bearer', { authorization: 'Bearer ' }],
      ['a malformed key', { authorization: 'Bearer not-a-key' }],
      ['an unknown key', { authorization: `Bearer tid_${'x'.repeat(32)}` }],
      ['an overlong key', { authorization: `Bearer tid_${'x'.repeat(200)}` }],
      ['Basic auth', { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }],
    ])('refuses %s with 401', async (_what, headers) => {
      await http.expectError(401, 'unauthenticated', 'POST', '/v1/messages', { json: ok, headers });
      await http.expectError(401, 'unauthenticated', 'GET', '/v1/messages', { headers });
    });

    it('accepts a lower-case bearer scheme', async () => {
      const res = await http.call('GET', '/v1/messages?limit=1', {
        headers: { authorization: `bearer ${orgA.apiKey}` },
      });
      expect(res.status).toBe(200);
    });

    it('refuses a key once it is revoked', async () => {
      const k = await t.rt.apiKeys.create(orgA.orgId, { name: 'short-lived' }, ACTOR);
      expect((await http.call('GET', '/v1/messages?limit=1', { key: k.apiKey })).status).toBe(200);
      expect(await t.rt.apiKeys.revoke(orgA.orgId, k.id, ACTOR)).toBe(true);
      await http.expectError(401, 'unauthenticated', 'GET', '/v1/messages', { key: k.apiKey });
      const before = await messageRows(orgA.orgId);
      await http.expectError(401, 'unauthenticated', 'POST', '/v1/messages', {
        key: k.apiKey,
        json: ok,
      });
      expect(await messageRows(orgA.orgId)).toBe(before);
      // The organisation's other key still works.
      expect((await http.call('GET', '/v1/messages?limit=1', { key: orgA.apiKey })).status).toBe(
        200,
      );
    });

    it('checks the key before the body', async () => {
      await http.expectError(401, 'unauthenticated', 'POST', '/v1/messages', {
        raw: '{not json',
        headers: { 'content-type': 'application/json' },
      });
    });
  });

  describe('tenant isolation', () => {
    it("hides another organisation's message", async () => {
      const theirs = await send(orgB.apiKey, {
        to: PHONE,
        body: 'Hillside only',
        program: 'care',
        sendAt: inAnHour(),
      });
      expect(
        (await http.call('GET', `/v1/messages/${theirs.id}`, { key: orgB.apiKey })).status,
      ).toBe(200);
      await http.expectError(404, 'message_not_found', 'GET', `/v1/messages/${theirs.id}`, {
        key: orgA.apiKey,
      });
      await http.expectError(404, 'message_not_found', 'POST', `/v1/messages/${theirs.id}/cancel`, {
        key: orgA.apiKey,
      });
      const listed = await http.call('GET', '/v1/messages?limit=100', { key: orgA.apiKey });
      expect((listed.json as Page).data.map((m) => m.id)).not.toContain(theirs.id);
      const searched = await http.call('POST', '/v1/messages/search', {
        key: orgA.apiKey,
        json: { to: PHONE, limit: 100 },
      });
      expect((searched.json as Page).data.map((m) => m.id)).not.toContain(theirs.id);
      // Still queued: the failed cancel by the other organisation changed nothing.
      const still = await http.call('GET', `/v1/messages/${theirs.id}`, { key: orgB.apiKey });
      expect((still.json as Message).status).toBe('queued');
    });

    it('answers 404 message_not_found for an unknown id', async () => {
      await http.expectError(404, 'message_not_found', 'GET', '/v1/messages/msg_nope', {
        key: orgA.apiKey,
      });
    });
  });

  describe('listing and search', () => {
    let org: typeof orgA;
    let made: Message[];

    beforeAll(async () => {
      org = await t.rt.orgs.create('Listing Labs', ACTOR);
      made = [];
      // Scheduled an hour ahead so their status stays queued while the workers run.
      for (let i = 0; i < 7; i++) {
        made.push(
          await send(org.apiKey, {
            to: i % 2 === 0 ? PHONE : '+16175550188',
            body: `Message ${i}`,
            program: i < 4 ? 'care' : 'billing',
            sendAt: inAnHour(),
          }),
        );
      }
      // One that goes out now and is delivered: a survey, to a patient who opted in.
      await t.rt.consent.record(
        org.orgId,
        { phone: PHONE, program: 'surveys', kind: 'opt_in', source: 'web_form' },
        ACTOR,
      );
      const now = await send(org.apiKey, { to: PHONE, body: 'Now', program: 'surveys' });
      made.push(now);
      await waitFor(async () => {
        const r = await http.call('GET', `/v1/messages/${now.id}`, { key: org.apiKey });
        return (r.json as Message).status === 'delivered';
      });
    });

    async function walk(path: (cursor: string | null) => Promise<Res>): Promise<Message[]> {
      const all: Message[] = [];
      let cursor: string | null = null;
      for (let pages = 0; ; pages++) {
        expect(pages).toBeLessThan(50);
        const res = await path(cursor);
        expect(res.status, res.text).toBe(200);
        const page = res.json as Page;
        expect(page.data.length).toBeLessThanOrEqual(2);
        all.push(...page.data);
        if (page.nextCursor === null) break;
        expect(page.data.length).toBe(2);
        cursor = page.nextCursor;
      }
      return all;
    }

    it('walks every page with limit 2, newest first, without duplicates', async () => {
      const all = await walk((cursor) =>
        http.call('GET', `/v1/messages?limit=2${cursor ? `&cursor=${cursor}` : ''}`, {
          key: org.apiKey,
        }),
      );
      const ids = all.map((m) => m.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids).toEqual(made.map((m) => m.id).reverse());
      for (let i = 1; i < all.length; i++) {
        expect(all[i]!.createdAt <= all[i - 1]!.createdAt).toBe(true);
      }
      // Lists never carry bodies.
      for (const m of all) expect(m.body).toBeUndefined();
    });

    it('filters by status and program', async () => {
      const queued = await walk((cursor) =>
        http.call('GET', `/v1/messages?limit=2&status=queued${cursor ? `&cursor=${cursor}` : ''}`, {
          key: org.apiKey,
        }),
      );
      expect(queued.map((m) => m.id)).toEqual(
        made
          .slice(0, 7)
          .map((m) => m.id)
          .reverse(),
      );
      const delivered = await http.call('GET', '/v1/messages?status=delivered', {
        key: org.apiKey,
      });
      expect((delivered.json as Page).data.map((m) => m.id)).toEqual([made[7]!.id]);
      const billing = await walk((cursor) =>
        http.call(
          'GET',
          `/v1/messages?limit=2&program=billing${cursor ? `&cursor=${cursor}` : ''}`,
          { key: org.apiKey },
        ),
      );
      expect(billing.map((m) => m.id)).toEqual(
        made
          .slice(4, 7)
          .map((m) => m.id)
          .reverse(),
      );
      expect(billing.every((m) => m.program === 'billing')).toBe(true);
      const both = await http.call('GET', '/v1/messages?program=care&status=delivered', {
        key: org.apiKey,
      });
      expect((both.json as Page).data).toEqual([]);
    });

    it('refuses bad list parameters with 400', async () => {
      for (const q of ['limit=0', 'limit=101', 'limit=abc', 'status=lost', 'program=spam']) {
        await http.expectError(400, 'validation_failed', 'GET', `/v1/messages?${q}`, {
          key: org.apiKey,
        });
      }
    });

    it('searches by recipient in any format', async () => {
      const expected = made
        .filter((_, i) => i % 2 === 0 || i === 7)
        .map((m) => m.id)
        .reverse();
      for (const to of [PHONE, '(617) 555-0123']) {
        const all = await walk(async (cursor) =>
          http.call('POST', '/v1/messages/search', {
            key: org.apiKey,
            json: { to, limit: 2, ...(cursor ? { cursor } : {}) },
          }),
        );
        expect(all.map((m) => m.id)).toEqual(expected);
        expect(all.every((m) => m.to === PHONE)).toBe(true);
      }
      const other = await http.call('POST', '/v1/messages/search', {
        key: org.apiKey,
        json: { to: '+16175550188', program: 'billing' },
      });
      expect((other.json as Page).data.map((m) => m.id)).toEqual([made[5]!.id]);
      const nobody = await http.call('POST', '/v1/messages/search', {
        key: org.apiKey,
        json: { to: '+16175550177' },
      });
      expect(nobody.json).toEqual({ data: [], nextCursor: null });
      await http.expectError(422, 'invalid_phone_number', 'POST', '/v1/messages/search', {
        key: org.apiKey,
        json: { to: 'abc' },
      });
    });
  });

  describe('cancel', () => {
    it('cancels a scheduled message, once', async () => {
      const m = await send(orgA.apiKey, {
        to: PHONE,
        body: 'Later',
        program: 'care',
        sendAt: inAnHour(),
      });
      const res = await http.call('POST', `/v1/messages/${m.id}/cancel`, { key: orgA.apiKey });
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({ id: m.id, status: 'canceled', to: PHONE });
      await http.expectError(409, 'message_not_cancelable', 'POST', `/v1/messages/${m.id}/cancel`, {
        key: orgA.apiKey,
      });
      const read = await http.call('GET', `/v1/messages/${m.id}`, { key: orgA.apiKey });
      expect((read.json as Message).status).toBe('canceled');
    });

    it('refuses to cancel a message that was sent', async () => {
      const m = await send(orgA.apiKey, { to: PHONE, body: 'Now', program: 'care' });
      await waitFor(async () => {
        const r = await http.call('GET', `/v1/messages/${m.id}`, { key: orgA.apiKey });
        return ['sent', 'delivered'].includes((r.json as Message).status);
      });
      await http.expectError(409, 'message_not_cancelable', 'POST', `/v1/messages/${m.id}/cancel`, {
        key: orgA.apiKey,
      });
      const r = await http.call('GET', `/v1/messages/${m.id}`, { key: orgA.apiKey });
      expect(['sent', 'delivered']).toContain((r.json as Message).status);
    });
  });

  describe('routes', () => {
    it('answers 404 route_not_found for unknown routes', async () => {
      await http.expectError(404, 'route_not_found', 'GET', '/nope');
      await http.expectError(404, 'route_not_found', 'GET', '/v1/nope', { key: orgA.apiKey });
      await http.expectError(404, 'route_not_found', 'DELETE', '/v1/messages', {
        key: orgA.apiKey,
      });
      await http.expectError(404, 'route_not_found', 'POST', '/v2/messages', {
        key: orgA.apiKey,
        json: {},
      });
    });

    // Fastify answers a path with broken percent-encoding itself (FST_ERR_BAD_URL), outside
    // the error handler: its own body, quoting the URL — which may hold a phone number.
    it('answers a malformed URL with the envelope, without quoting it', async () => {
      for (const path of [`/v1/messages/%E0%A4%A${PHONE}`, '/v1/messages/%ZZ']) {
        const res = await http.call('GET', path, { key: orgA.apiKey });
        expect(res.status).toBe(400);
        expect(res.json).toEqual({
          error: { code: 'validation_failed', message: expect.any(String) as string },
        });
        expect(res.text).not.toContain('6175550123');
        expect(res.text).not.toContain('%ZZ');
      }
    });

    // Requests the HTTP parser rejects are answered by Fastify's default clientErrorHandler
    // with `{"error":"Bad Request","message":"Client Error","statusCode":400}`.
    it('answers a request the HTTP parser refuses with the envelope', async () => {
      const { port } = new URL(base);
      for (const head of [
        'Content-Length: abc',
        'Transfer-Encoding: chunked\r\nContent-Length: 2',
        `X-Big: ${'a'.repeat(20_000)}`,
      ]) {
        const answer = await new Promise<string>((resolve, reject) => {
          const socket = net.connect(Number(port), '127.0.0.1', () => {
            socket.end(
              `POST /v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${orgA.apiKey}\r\n` +
                `Content-Type: application/json\r\n${head}\r\nConnection: close\r\n\r\n{}`,
            );
          });
          let out = '';
          socket.on('data', (d: Buffer) => (out += d.toString()));
          socket.on('close', () => resolve(out));
          socket.on('error', reject);
        });
        const [status, ...rest] = answer.split('\r\n');
        expect(status, head.slice(0, 40)).toMatch(/^HTTP\/1\.1 4\d\d /);
        const body = rest.slice(rest.indexOf('') + 1).join('\r\n');
        const json = JSON.parse(body) as ErrorEnvelope;
        expect(Object.keys(json), body).toEqual(['error']);
        expect(ERRORS).toHaveProperty(json.error.code);
      }
    });
  });

  describe('idempotency', () => {
    const req = { to: PHONE, body: 'Idempotent hello', program: 'care' };

    async function rowsWithKey(orgId: string, key: string): Promise<number> {
      const r = await t.rt.store.db
        .selectFrom('messages')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('org_id', '=', orgId)
        .where('idempotency_key', '=', key)
        .executeTakeFirstOrThrow();
      return Number(r.n);
    }

    it('replays the same request with the same key', async () => {
      const key = `idem-${Date.now()}-a`;
      const first = await http.call('POST', '/v1/messages', {
        key: orgA.apiKey,
        json: req,
        headers: { 'idempotency-key': key },
      });
      expect(first.status).toBe(202);
      expect(first.headers.get('idempotent-replayed')).toBeNull();
      const second = await http.call('POST', '/v1/messages', {
        key: orgA.apiKey,
        json: req,
        headers: { 'idempotency-key': key },
      });
      expect(second.status).toBe(202);
      expect(second.headers.get('idempotent-replayed')).toBe('true');
      expect((second.json as Message).id).toBe((first.json as Message).id);
      // The same number written differently is the same request.
      const third = await http.call('POST', '/v1/messages', {
        key: orgA.apiKey,
        json: { ...req, to: '(617) 555-0123' },
        headers: { 'idempotency-key': key },
      });
      expect((third.json as Message).id).toBe((first.json as Message).id);
      expect(await rowsWithKey(orgA.orgId, key)).toBe(1);
    });

    it('refuses the same key with a different request with 409', async () => {
      const key = `idem-${Date.now()}-b`;
      const first = await send(orgA.apiKey, req, { 'idempotency-key': key });
      for (const other of [
        { ...req, body: 'Something else' },
        { ...req, to: '+16175550188' },
        { ...req, program: 'billing' },
        { ...req, sendAt: inAnHour() },
      ]) {
        await http.expectError(409, 'idempotency_key_reused', 'POST', '/v1/messages', {
          key: orgA.apiKey,
          json: other,
          headers: { 'idempotency-key': key },
        });
      }
      expect(await rowsWithKey(orgA.orgId, key)).toBe(1);
      const read = await http.call('GET', `/v1/messages/${first.id}`, { key: orgA.apiKey });
      expect((read.json as Message).body).toBe(req.body);
    });

    it('scopes keys to the organisation', async () => {
      const key = `idem-${Date.now()}-c`;
      const a = await send(orgA.apiKey, req, { 'idempotency-key': key });
      const b = await send(orgB.apiKey, { ...req, body: 'Other org' }, { 'idempotency-key': key });
      expect(b.id).not.toBe(a.id);
      expect(await rowsWithKey(orgA.orgId, key)).toBe(1);
      expect(await rowsWithKey(orgB.orgId, key)).toBe(1);
    });

    it('refuses an overlong key with 400', async () => {
      await http.expectError(400, 'validation_failed', 'POST', '/v1/messages', {
        key: orgA.apiKey,
        json: req,
        headers: { 'idempotency-key': 'k'.repeat(256) },
      });
    });

    it('gives 20 concurrent requests with one key one message', async () => {
      const key = `idem-${Date.now()}-d`;
      const results = await Promise.all(
        Array.from({ length: 20 }, () =>
          http.call('POST', '/v1/messages', {
            key: orgA.apiKey,
            json: req,
            headers: { 'idempotency-key': key },
          }),
        ),
      );
      for (const r of results) expect(r.status, r.text).toBe(202);
      const ids = new Set(results.map((r) => (r.json as Message).id));
      expect(ids.size).toBe(1);
      expect(results.filter((r) => r.headers.get('idempotent-replayed') === null)).toHaveLength(1);
      expect(await rowsWithKey(orgA.orgId, key)).toBe(1);
      const jobsAndMessages = await sql<{ n: number }>`
        select count(*) as n from messages where org_id = ${orgA.orgId} and id = ${[...ids][0]!}
      `.execute(t.rt.store.db);
      expect(Number(jobsAndMessages.rows[0]!.n)).toBe(1);
    });

    it('gives 20 concurrent conflicting requests with one key one message', async () => {
      const key = `idem-${Date.now()}-e`;
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          http.call('POST', '/v1/messages', {
            key: orgA.apiKey,
            json: { ...req, body: `Variant ${i % 2}` },
            headers: { 'idempotency-key': key },
          }),
        ),
      );
      const accepted = results.filter((r) => r.status === 202);
      const refused = results.filter((r) => r.status !== 202);
      for (const r of refused) {
        expect((r.json as ErrorEnvelope).error.code).toBe('idempotency_key_reused');
      }
      expect(new Set(accepted.map((r) => (r.json as Message).id)).size).toBe(1);
      expect(accepted.length).toBeGreaterThanOrEqual(1);
      expect(await rowsWithKey(orgA.orgId, key)).toBe(1);
    });
  });

  describe('operations endpoints', () => {
    it('serves health and readiness', async () => {
      const h = await http.call('GET', '/healthz');
      expect(h.status).toBe(200);
      expect(h.json).toEqual({ status: 'ok' });
      const r = await http.call('GET', '/readyz');
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ status: 'ready' });
    });

    it('serves Prometheus metrics', async () => {
      const m = await http.call('GET', '/metrics');
      expect(m.status).toBe(200);
      expect(m.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(m.text).toContain('# TYPE tidings_messages_accepted_total counter');
      expect(m.text).toMatch(/tidings_messages_accepted_total\{program="care"\} [1-9]/);
      expect(m.text).toMatch(/tidings_messages_refused_total\{code="invalid_phone_number"\} [1-9]/);
      expect(m.text).toContain('tidings_http_request_duration_seconds');
    });

    it('serves an OpenAPI 3 document', async () => {
      const o = await http.call('GET', '/openapi.json');
      expect(o.status).toBe(200);
      const doc = o.json as { openapi: string; paths: Record<string, Record<string, unknown>> };
      expect(doc.openapi).toMatch(/^3\./);
      expect(doc.paths['/v1/messages']).toHaveProperty('post');
      expect(doc.paths['/v1/messages']).toHaveProperty('get');
      expect(Object.keys(doc.paths)).toEqual(
        expect.arrayContaining([
          '/v1/messages/search',
          '/v1/messages/{id}',
          '/v1/messages/{id}/cancel',
        ]),
      );
      // Operations endpoints are not part of the integrators' document.
      expect(doc.paths['/healthz']).toBeUndefined();
    });

    it('serves the docs page', async () => {
      const d = await http.call('GET', '/docs');
      expect(d.status).toBe(200);
      expect(d.headers.get('content-type')).toMatch(/^text\/html/);
      expect(d.text).toMatch(/<html/i);
    });
  });

  describe('property: no input makes the server fail', () => {
    const programs = ['care', 'billing', 'surveys', 'marketing', 'spam', ''];
    const printable = fc.string({ unit: 'binary-ascii', maxLength: 80 }).map((s) =>
      // fetch refuses header values with control characters; keep what it can send.
      s.replace(/[^\x20-\x7e]/g, '').trim(),
    );
    const headerName = fc.stringMatching(/^x-[a-z0-9-]{1,20}$/);

    const headers = fc.record(
      {
        authorization: fc.oneof(
          fc.constant('__valid__'),
          printable,
          printable.map((s) => `Bearer ${s}`),
          printable.map((s) => `Bearer tid_${s}`),
        ),
        'content-type': fc.oneof(
          fc.constant('application/json'),
          fc.constant('application/json; charset=utf-8'),
          fc.constant('text/plain'),
          fc.constant('application/x-www-form-urlencoded'),
          fc.constant('multipart/form-data; boundary=x'),
          printable,
        ),
        'idempotency-key': printable,
        extra: fc.dictionary(headerName, printable, { maxKeys: 3 }),
      },
      { requiredKeys: ['authorization'] },
    );

    const bodies = fc.oneof(
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc
        .record(
          {
            to: fc.oneof(fc.string({ maxLength: 40 }), fc.constant(PHONE), fc.jsonValue()),
            body: fc.oneof(fc.string({ unit: 'grapheme', maxLength: 400 }), fc.jsonValue()),
            program: fc.oneof(fc.constantFrom(...programs), fc.jsonValue()),
            from: fc.oneof(fc.string({ maxLength: 70 }), fc.jsonValue()),
            sendAt: fc.oneof(
              fc.string({ maxLength: 45 }),
              fc
                .date({
                  noInvalidDate: true,
                  min: new Date('2000-01-01T00:00:00Z'),
                  max: new Date('2100-01-01T00:00:00Z'),
                })
                .map((d) => d.toISOString()),
            ),
            limit: fc.oneof(fc.integer(), fc.string()),
            cursor: fc.string({ maxLength: 70 }),
            status: fc.string({ maxLength: 10 }),
          },
          { requiredKeys: [] },
        )
        .map((v) => JSON.stringify(v)),
    );

    const targets = fc.oneof(
      fc.constant({ method: 'POST', path: '/v1/messages' }),
      fc.constant({ method: 'POST', path: '/v1/messages/search' }),
      fc
        .string({ maxLength: 80 })
        .map((id) => ({ method: 'POST', path: `/v1/messages/${encodeURIComponent(id)}/cancel` })),
      fc
        .string({ maxLength: 80 })
        .map((id) => ({ method: 'GET', path: `/v1/messages/${encodeURIComponent(id)}` })),
      fc
        .dictionary(
          fc.constantFrom('limit', 'cursor', 'status', 'program', 'to', 'x'),
          fc.string({ maxLength: 70 }),
        )
        .map((q) => ({ method: 'GET', path: `/v1/messages?${new URLSearchParams(q).toString()}` })),
    );

    async function check(
      target: { method: string; path: string },
      h: {
        authorization: string;
        'content-type'?: string;
        'idempotency-key'?: string;
        extra?: Record<string, string>;
      },
      body: string,
    ): Promise<void> {
      const sent: Record<string, string> = { ...h.extra };
      sent.authorization =
        h.authorization === '__valid__' ? `Bearer ${orgB.apiKey}` : h.authorization;
      if (h['content-type'] !== undefined) sent['content-type'] = h['content-type'];
      if (h['idempotency-key'] !== undefined) sent['idempotency-key'] = h['idempotency-key'];
      const hasBody = target.method !== 'GET';
      const r = await fetch(base + target.path, {
        method: target.method,
        headers: sent,
        ...(hasBody ? { body } : {}),
      });
      const text = await r.text();
      expect(r.status, `${target.method} ${target.path} → ${r.status} ${text}`).toBeLessThan(500);
      if (r.status >= 400) {
        let json: unknown;
        expect(() => (json = JSON.parse(text) as unknown), text).not.toThrow();
        checkEnvelope({ status: r.status, headers: r.headers, text, json });
      } else {
        expect([200, 202]).toContain(r.status);
      }
    }

    it('never answers 5xx and always uses the error envelope', async () => {
      await fc.assert(
        fc.asyncProperty(targets, headers, bodies, async (target, h, body) => {
          await check(target, h, body);
        }),
        { numRuns: RUNS },
      );
    });

    it('never answers 5xx to a valid key with random message fields', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.record({
            to: fc.oneof(fc.string({ maxLength: 32 }), fc.stringMatching(/^\+?[0-9 ()+.-]{1,20}$/)),
            body: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 300 }),
            program: fc.constantFrom(...programs),
          }),
          fc.option(
            printable.filter((s) => s.length > 0),
            { nil: undefined },
          ),
          async (json, key) => {
            await check(
              { method: 'POST', path: '/v1/messages' },
              {
                authorization: '__valid__',
                'content-type': 'application/json',
                ...(key !== undefined ? { 'idempotency-key': key } : {}),
              },
              JSON.stringify({ ...json, sendAt: inAnHour() }),
            );
          },
        ),
        { numRuns: Math.ceil((RUNS * 2) / 3) },
      );
    });
  });

  describe('regions', () => {
    it('refuses a UK landline as not_mobile_number when GB is a send region', async () => {
      const uk = await openTestRuntime({
        dialect,
        env: { PORT: '0', TIDINGS_SEND_REGIONS: 'US,CA,GB' },
      });
      try {
        const org = await uk.rt.orgs.create('London Clinic', ACTOR);
        const c = client(await uk.rt.listen());
        await c.expectError(422, 'not_mobile_number', 'POST', '/v1/messages', {
          key: org.apiKey,
          json: { to: '+442071234567', body: 'Hello', program: 'care' },
        });
        const res = await c.call('POST', '/v1/messages', {
          key: org.apiKey,
          json: { to: '+44 7400 123456', body: 'Hello', program: 'care' },
        });
        expect(res.status).toBe(202);
        expect((res.json as Message).to).toBe('+447400123456');
        await c.expectError(422, 'unsupported_region', 'POST', '/v1/messages', {
          key: org.apiKey,
          json: { to: '+33612345678', body: 'Hello', program: 'care' },
        });
      } finally {
        await uk.cleanup();
      }
    });
  });

  it('saw only catalogued error codes', () => {
    expect(seenCodes.size).toBeGreaterThan(8);
    for (const code of seenCodes) expect(ERRORS).toHaveProperty(code);
  });
});
