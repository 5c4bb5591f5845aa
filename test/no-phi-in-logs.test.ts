/**
 * No PHI in a log line or a metric. The whole pipeline runs with the logger at `trace` into a
 * capture stream — HTTP on a real socket, dispatch and webhook workers, refused requests,
 * carrier failures (including an adapter whose error text quotes the message), inbound texts
 * and failing webhook deliveries — and then no captured line may hold the message text or the
 * recipient's number in any format. The test also checks that logging did happen, and that
 * the failure paths logged, so it cannot pass by capturing nothing.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { announcePgSkip, DIALECTS, openTestRuntime, waitFor, type TestRuntime } from './helpers.js';
import { createLogger } from '../src/observability/index.js';
import { CarrierError, type OutboundSms } from '../src/carriers/index.js';

announcePgSkip('no PHI in logs');

const ACTOR = { type: 'cli' as const, id: 'test' };
/** A distinctive body; each variant below keeps the marker. */
const MARKER = 'Zanzibar-Okapi-9137';
// Allowed by the content guard, so it goes as SMS and walks every dispatch path.
const BODY = `${MARKER}: your visit is confirmed, call Dr Vantongeren`;
/** Held by the content guard: diverted into a secure message (its text must not be logged). */
const HELD = `${MARKER}: your biopsy results are positive, call Dr Vantongeren`;
const PHONE = '+16175550123';
const PHONE_FORMS = [
  PHONE,
  '6175550123',
  '16175550123',
  '617-555-0123',
  '(617) 555-0123',
  '617 555 0123',
  '617.555.0123',
  '+1 617 555 0123',
  '555-0123',
];
const REPLIER = '+16175550199';
const REPLIER_FORMS = [REPLIER, '6175550199', '617-555-0199', '(617) 555-0199', '555-0199'];
const SECRET_WORDS = [MARKER, 'Zanzibar', 'Okapi', 'biopsy', 'Vantongeren'];

/** Every way the test data could show up in text. */
function leaks(text: string): string[] {
  const found: string[] = [];
  for (const w of [...SECRET_WORDS, ...PHONE_FORMS, ...REPLIER_FORMS]) {
    if (text.toLowerCase().includes(w.toLowerCase())) found.push(w);
  }
  // The digits of either number, however they were split or formatted.
  const digits = text.replace(/\D/g, '');
  if (digits.includes('6175550123')) found.push('digits of the recipient');
  if (digits.includes('6175550199')) found.push('digits of the replier');
  // JSON-escaped or URL-encoded forms.
  for (const enc of [encodeURIComponent(PHONE), encodeURIComponent(MARKER), '%2B1617']) {
    if (text.includes(enc)) found.push(enc);
  }
  return found;
}

/** The simulator's failure rules, chosen by words in the body. */
const attempts = new Map<string, number>();
function failWith(msg: OutboundSms): CarrierError | undefined {
  const n = (attempts.get(msg.messageId) ?? 0) + 1;
  attempts.set(msg.messageId, n);
  if (msg.body.includes('[permanent]')) return new CarrierError('permanent', 'SIM_REJECTED');
  if (msg.body.includes('[invalid]')) return new CarrierError('invalid_recipient', 'SIM_UNKNOWN');
  if (msg.body.includes('[flaky]') && n === 1) return new CarrierError('transient', 'SIM_BUSY');
  if (msg.body.includes('[buggy]')) {
    // An adapter bug whose error text quotes the message: it must not reach the log.
    throw new TypeError(`cannot send "${msg.body}" to ${msg.to} from ${msg.from}`);
  }
  return undefined;
}

describe.each(DIALECTS)('no PHI in logs on %s', (dialect) => {
  const lines: string[] = [];
  const responses: { what: string; status: number; text: string }[] = [];
  let t: TestRuntime;
  let base: string;
  let org: Awaited<ReturnType<TestRuntime['rt']['orgs']['create']>>;
  let receiver: http.Server;
  let receiverHits = 0;
  let metricsText = '';

  async function call(
    what: string,
    method: string,
    path: string,
    opts: {
      json?: unknown;
      raw?: string;
      headers?: Record<string, string>;
      key?: string | null;
    } = {},
  ): Promise<{ status: number; text: string }> {
    const headers: Record<string, string> = {};
    if (opts.key !== null) headers.authorization = `Bearer ${opts.key ?? org.apiKey}`;
    if (opts.json !== undefined) headers['content-type'] = 'application/json';
    Object.assign(headers, opts.headers);
    const body = opts.json !== undefined ? JSON.stringify(opts.json) : opts.raw;
    const r = await fetch(base + path, {
      method,
      headers,
      ...(body !== undefined ? { body } : {}),
    });
    const res = { what, status: r.status, text: await r.text() };
    responses.push(res);
    return res;
  }

  beforeAll(async () => {
    receiver = http.createServer((req, res) => {
      receiverHits++;
      req.resume();
      req.on('end', () => res.writeHead(500).end(`no thanks ${PHONE}`));
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;

    const log = createLogger('trace', { write: (s: string) => void lines.push(s) });
    t = await openTestRuntime({
      dialect,
      env: { PORT: '0', LOG_LEVEL: 'trace', TIDINGS_MAX_ATTEMPTS: '3' },
      runtime: { log, simulator: { failWith } },
    });
    org = await t.rt.orgs.create('Lakeside Clinic', ACTOR);
    await t.rt.orgs.setWebhook(org.orgId, hook, ACTOR);
    base = await t.rt.listen();
    t.rt.startWorkers();

    // Accepted messages: delivered, retried then delivered, failed in three ways.
    const ids: string[] = [];
    for (const [to, body] of [
      [PHONE, BODY],
      ['(617) 555-0123', `${BODY} [flaky]`],
      ['617.555.0123', `${BODY} [permanent]`],
      ['617-555-0123', `${BODY} [invalid]`],
      ['+1 617 555 0123', `${BODY} [buggy]`],
    ] as const) {
      const r = await call('send', 'POST', '/v1/messages', {
        json: { to, body, program: 'care' },
      });
      expect(r.status, r.text).toBe(202);
      ids.push((JSON.parse(r.text) as { id: string }).id);
    }

    // Held content: diverted into a secure message, and a neutral notice goes instead.
    const held = await call('diverted', 'POST', '/v1/messages', {
      json: { to: PHONE, body: HELD, program: 'care' },
    });
    expect(held.status, held.text).toBe(202);
    expect((JSON.parse(held.text) as { guard: { action: string } }).guard.action).toBe('diverted');
    expect(held.text).not.toContain(MARKER);

    // Idempotency: a key that quotes the number, a replay, and a conflict.
    const idem = { 'idempotency-key': `order-${PHONE}-${MARKER}` };
    const later = new Date(Date.now() + 3_600_000).toISOString();
    for (let i = 0; i < 2; i++) {
      const r = await call('idempotent', 'POST', '/v1/messages', {
        json: { to: PHONE, body: `${BODY} once`, program: 'care', sendAt: later },
        headers: idem,
      });
      expect(r.status).toBe(202);
    }
    await call('keyed', 'POST', '/v1/messages', {
      json: { to: PHONE, body: `${BODY} once`, program: 'care' },
      headers: { 'idempotency-key': 'plain-key' },
    });
    const conflict = await call('conflict', 'POST', '/v1/messages', {
      json: { to: PHONE, body: `${BODY} changed`, program: 'care' },
      headers: { 'idempotency-key': 'plain-key' },
    });
    expect(conflict.status).toBe(409);

    // Refusals that carry the number or the text in the request.
    const refusals: [string, number, Parameters<typeof call>][] = [
      [
        'bad number',
        422,
        [
          'bad number',
          'POST',
          '/v1/messages',
          { json: { to: '617555012', body: BODY, program: 'care' } },
        ],
      ],
      [
        'letters',
        422,
        [
          'letters',
          'POST',
          '/v1/messages',
          { json: { to: `${PHONE}x`, body: BODY, program: 'care' } },
        ],
      ],
      [
        'toll free',
        422,
        [
          'toll free',
          'POST',
          '/v1/messages',
          { json: { to: '+18005550123', body: BODY, program: 'care' } },
        ],
      ],
      [
        'region',
        422,
        [
          'region',
          'POST',
          '/v1/messages',
          { json: { to: '+442075550123', body: BODY, program: 'care' } },
        ],
      ],
      [
        'too long',
        422,
        [
          'too long',
          'POST',
          '/v1/messages',
          { json: { to: PHONE, body: BODY.repeat(40), program: 'care' } },
        ],
      ],
      [
        'bad program',
        400,
        [
          'bad program',
          'POST',
          '/v1/messages',
          { json: { to: PHONE, body: BODY, program: PHONE } },
        ],
      ],
      [
        'overlong to',
        400,
        [
          'overlong to',
          'POST',
          '/v1/messages',
          { json: { to: `${PHONE} ${MARKER} ${PHONE}`, body: BODY, program: 'care' } },
        ],
      ],
      [
        'bad sendAt',
        400,
        [
          'bad sendAt',
          'POST',
          '/v1/messages',
          { json: { to: PHONE, body: BODY, program: 'care', sendAt: PHONE } },
        ],
      ],
      [
        'malformed json',
        400,
        [
          'malformed json',
          'POST',
          '/v1/messages',
          {
            raw: `{"to":"${PHONE}","body":"${BODY}`,
            headers: { 'content-type': 'application/json' },
          },
        ],
      ],
      [
        'bad json token',
        400,
        [
          'bad json token',
          'POST',
          '/v1/messages',
          {
            raw: `{"to": ${PHONE}, "body": ${MARKER}}`,
            headers: { 'content-type': 'application/json' },
          },
        ],
      ],
      [
        'form body',
        415,
        [
          'form body',
          'POST',
          '/v1/messages',
          {
            raw: `to=${PHONE}&body=${MARKER}`,
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
          },
        ],
      ],
      [
        'huge body',
        413,
        [
          'huge body',
          'POST',
          '/v1/messages',
          { json: { to: PHONE, body: BODY.repeat(2000), program: 'care' } },
        ],
      ],
      [
        'no key',
        401,
        [
          'no key',
          'POST',
          '/v1/messages',
          { key: null, json: { to: PHONE, body: BODY, program: 'care' } },
        ],
      ],
      ['phone as key', 401, ['phone as key', 'GET', '/v1/messages', { key: `tid_${PHONE}` }]],
      [
        'phone in path',
        404,
        ['phone in path', 'GET', `/v1/messages/${encodeURIComponent(PHONE)}`, {}],
      ],
      ['phone in cancel', 404, ['phone in cancel', 'POST', `/v1/messages/${PHONE}/cancel`, {}]],
      ['bad url', 400, ['bad url', 'GET', `/v1/messages/%E0%A4%A${PHONE}`, {}]],
      [
        'phone in route',
        404,
        ['phone in route', 'GET', `/v1/patients/6175550123?body=${MARKER}`, {}],
      ],
      [
        'phone in query',
        400,
        ['phone in query', 'GET', `/v1/messages?status=${MARKER}&cursor=6175550123`, {}],
      ],
      [
        'search bad',
        422,
        ['search bad', 'POST', '/v1/messages/search', { json: { to: `${MARKER}` } }],
      ],
      [
        'webhook bad',
        400,
        ['webhook bad', 'PUT', '/v1/webhook', { json: { url: `tel:${PHONE}` } }],
      ],
    ];
    for (const [what, status, args] of refusals) {
      const r = await call(...args);
      expect(r.status, `${what}: ${r.text}`).toBe(status);
    }
    // Reads that decrypt the number and the body.
    expect((await call('read', 'GET', `/v1/messages/${ids[0]}`)).status).toBe(200);
    expect((await call('list', 'GET', '/v1/messages?limit=100')).status).toBe(200);
    expect(
      (await call('search', 'POST', '/v1/messages/search', { json: { to: '617-555-0123' } }))
        .status,
    ).toBe(200);

    // Inbound texts: through messaging, through the carrier, and to a number nobody owns.
    const [sender] = await t.rt.orgs.senders(org.orgId);
    expect(
      await t.rt.messaging.receiveInbound({
        from: '617-555-0199',
        to: sender!.number,
        body: `${MARKER} reply`,
      }),
    ).not.toBeNull();
    t.rt.simulator.injectInbound(REPLIER, sender!.number, `STOP ${MARKER}`);
    t.rt.simulator.injectInbound(REPLIER, PHONE, `${MARKER} misrouted`);

    // Wait for the outcomes: every message final, inbound stored, webhooks tried and retried.
    await waitFor(async () => {
      const rows = await t.rt.store.db
        .selectFrom('messages')
        .select(['id', 'status'])
        .where('id', 'in', ids)
        .execute();
      return rows.every((r) => ['delivered', 'failed'].includes(r.status));
    }, 15_000);
    await waitFor(async () => {
      const n = await t.rt.store.db.selectFrom('inbound_messages').select('id').execute();
      return n.length >= 2;
    });
    await waitFor(async () => {
      const ds = await t.rt.store.db
        .selectFrom('webhook_deliveries')
        .select(['event_type', 'attempts'])
        .execute();
      return (
        ds.some((d) => d.event_type === 'message.inbound' && d.attempts >= 2) &&
        ds.some((d) => d.event_type === 'message.status' && d.attempts >= 2)
      );
    });
    metricsText = (await call('metrics', 'GET', '/metrics', { key: null })).text;
  });

  afterAll(async () => {
    await t?.cleanup();
    receiver.closeAllConnections();
    await new Promise<void>((r) => receiver.close(() => r()));
  });

  it('ran every path it meant to', async () => {
    const rows = await t.rt.store.db
      .selectFrom('messages')
      .select(['status', 'failure_code', 'attempts'])
      .where('org_id', '=', org.orgId)
      .execute();
    const outcomes = rows.map((r) => `${r.status}:${r.failure_code ?? ''}`).sort();
    expect(outcomes).toEqual(
      expect.arrayContaining([
        'delivered:',
        'delivered:SIM_BUSY',
        'failed:permanent',
        'failed:invalid_recipient',
        'failed:max_attempts',
      ]),
    );
    expect(receiverHits).toBeGreaterThanOrEqual(4);
  });

  it('logged enough to make the check meaningful', () => {
    const parsed = lines.map((l) => JSON.parse(l) as { level: number; msg?: string });
    expect(lines.length).toBeGreaterThanOrEqual(40);
    const msgs = new Set(parsed.map((p) => p.msg));
    for (const m of [
      'dispatch worker started',
      'request',
      'submit failed',
      'webhook not delivered',
      'inbound message for a number no organisation owns',
    ]) {
      expect(msgs, `expected a "${m}" log line`).toContain(m);
    }
    // Some of the lines are about failures (warn and above).
    expect(parsed.filter((p) => p.level >= 40).length).toBeGreaterThanOrEqual(5);
  });

  it('has a detector that would see the data in any of its forms', () => {
    for (const sample of [
      JSON.stringify({ to: PHONE }),
      JSON.stringify({ msg: `sending to (617) 555-0123` }),
      '{"n":"617","x":"555","y":"0123"}',
      `url /v1/x?to=${encodeURIComponent(PHONE)}`,
      JSON.stringify({ from: REPLIER }),
      JSON.stringify({ body: BODY }),
      JSON.stringify({ body: HELD }),
      JSON.stringify({ err: 'zanzibar-okapi' }),
    ]) {
      expect(leaks(sample), sample).not.toEqual([]);
    }
    expect(leaks(lines[0] ?? 'x')).toEqual([]);
  });

  it('never logs a body or a phone number', () => {
    const bad = lines
      .map((line, i) => ({ i, line, found: leaks(line) }))
      .filter((x) => x.found.length > 0);
    expect(bad, bad.map((b) => `${b.found.join(',')}: ${b.line}`).join('\n')).toEqual([]);
  });

  it('never needs the redaction safety net', () => {
    // Redaction is the second line of defence; the first is that no code logs such fields.
    const redacted = lines.filter((l) => l.includes('[redacted]'));
    expect(redacted, redacted.join('\n')).toEqual([]);
  });

  it('never puts a body or a phone number in metrics', () => {
    expect(metricsText).toContain('tidings_messages_accepted_total');
    expect(metricsText).toContain('tidings_messages_refused_total');
    expect(leaks(metricsText)).toEqual([]);
  });

  it('never echoes a body or a phone number in an error answer', () => {
    const errors = responses.filter((r) => r.status >= 400);
    expect(errors.length).toBeGreaterThanOrEqual(20);
    const bad = errors.filter((r) => leaks(r.text).length > 0);
    expect(bad, bad.map((b) => `${b.what}: ${b.text}`).join('\n')).toEqual([]);
  });
});
