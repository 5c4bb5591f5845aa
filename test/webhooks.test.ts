/**
 * Outbound webhooks end to end: a real receiver on 127.0.0.1 gets `message.status` and
 * `message.inbound` events signed per Standard Webhooks; a failed attempt is retried and
 * recorded; an inbound text injected by the CLI in another process reaches the receiver; the
 * stored outbox never holds a body or a phone number.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { Webhook } from 'standardwebhooks';
import {
  announcePgSkip,
  CLI,
  DIALECTS,
  PG_URL,
  openTestRuntime,
  waitFor,
  type TestRuntime,
} from './helpers.js';

announcePgSkip('webhooks');

const run = promisify(execFile);
const ACTOR = { type: 'cli' as const, id: 'test' };
const PATIENT = '+16175550123';
const REPLIER = '+16175550199';
const BODY = 'Your lab visit is confirmed for Friday 08:30 (ref Quetzal-4471).';
const REPLY = 'Yes I will be there - Quetzal-4471 reply';

interface Hit {
  path: string;
  headers: Record<string, string>;
  body: string;
  answered: number;
}

interface Event {
  type: string;
  timestamp: string;
  data: Record<string, unknown>;
}

interface Delivery {
  id: string;
  type: string;
  status: string;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  deliveredAt: string | null;
}

/** A webhook receiver: records every request; `/flaky/…` paths fail each event's first try. */
class Receiver {
  readonly hits: Hit[] = [];
  private readonly tries = new Map<string, number>();
  private server!: http.Server;
  base = '';

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) {
          if (typeof v === 'string') headers[k] = v;
        }
        const id = headers['webhook-id'] ?? '';
        const n = (this.tries.get(id) ?? 0) + 1;
        this.tries.set(id, n);
        const answered = req.url?.startsWith('/flaky/') && n === 1 ? 500 : 200;
        this.hits.push({
          path: req.url ?? '',
          headers,
          body: Buffer.concat(chunks).toString(),
          answered,
        });
        res
          .writeHead(answered, { 'content-type': 'text/plain' })
          .end(answered === 200 ? 'ok' : 'no');
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Requests to `path` that were answered 2xx, parsed. */
  events(path: string): { hit: Hit; event: Event }[] {
    return this.hits
      .filter((h) => h.path === path && h.answered === 200)
      .map((hit) => ({ hit, event: JSON.parse(hit.body) as Event }));
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

describe.each(DIALECTS)('webhooks on %s', (dialect) => {
  let t: TestRuntime;
  let base: string;
  const receiver = new Receiver();

  async function api<T>(method: string, path: string, key: string, json?: unknown): Promise<T> {
    const res = await fetch(base + path, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(json !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path} → ${res.status} ${text}`);
    return JSON.parse(text) as T;
  }

  async function deliveries(key: string): Promise<Delivery[]> {
    return (await api<{ data: Delivery[] }>('GET', '/v1/webhook/deliveries', key)).data;
  }

  function verify(secret: string, hit: Hit): unknown {
    return new Webhook(secret).verify(hit.body, hit.headers);
  }

  beforeAll(async () => {
    await receiver.start();
    t = await openTestRuntime({ dialect, env: { PORT: '0' } });
    base = await t.rt.listen();
    t.rt.startWorkers();
  });
  afterAll(async () => {
    await t?.cleanup();
    await receiver.stop();
  });

  it('signs and delivers message.status events: sent, then delivered', async () => {
    const org = await t.rt.orgs.create('Lakeside Clinic', ACTOR);
    const path = `/hooks/${org.orgId}`;
    const set = await t.rt.orgs.setWebhook(org.orgId, receiver.base + path, ACTOR);
    expect(set.url).toBe(receiver.base + path);
    expect(set.secret).toMatch(/^whsec_[A-Za-z0-9+/=]{40,}$/);
    const secret = set.secret!;
    // The secret is shown once: setting the URL again keeps it and does not return it.
    expect((await t.rt.orgs.setWebhook(org.orgId, receiver.base + path, ACTOR)).secret).toBeNull();

    const msg = await api<{ id: string }>('POST', '/v1/messages', org.apiKey, {
      to: PATIENT,
      body: BODY,
      program: 'care',
    });
    const got = await waitFor(() => {
      const es = receiver.events(path).filter((e) => e.event.data.messageId === msg.id);
      return es.length >= 2 ? es : undefined;
    });
    await new Promise((r) => setTimeout(r, 200)); // nothing more should arrive
    const all = receiver.events(path).filter((e) => e.event.data.messageId === msg.id);
    expect(all).toHaveLength(2);

    for (const { hit, event } of got) {
      expect(verify(secret, hit)).toEqual(event);
      expect(hit.headers['content-type']).toBe('application/json');
      expect(hit.headers['webhook-id']).toMatch(/^wh_[0-9a-z]{26}$/);
      expect(Number(hit.headers['webhook-timestamp'])).toBeCloseTo(Date.now() / 1000, -2);
      expect(hit.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/=]+$/);
      expect(event.type).toBe('message.status');
      expect(Object.keys(event.data).sort()).toEqual(['at', 'messageId', 'status']);
      // A status event carries ids and statuses, never the number or the text.
      expect(hit.body).not.toContain('6175550123');
      expect(hit.body).not.toContain('Quetzal');
      // Another secret, or a changed body, does not verify.
      expect(() => verify(`whsec_${Buffer.alloc(32, 7).toString('base64')}`, hit)).toThrow();
      expect(() =>
        verify(secret, { ...hit, body: hit.body.replace('message.status', 'message.statux') }),
      ).toThrow();
    }
    expect(new Set(got.map((g) => g.hit.headers['webhook-id'])).size).toBe(2);
    const byStatus: Record<string, Event> = Object.fromEntries(
      got.map((g) => [String(g.event.data.status), g.event]),
    );
    expect(Object.keys(byStatus).sort()).toEqual(['delivered', 'sent']);
    // Concurrent deliveries may arrive in either order; the events say which came first.
    expect(String(byStatus.sent!.data.at) <= String(byStatus.delivered!.data.at)).toBe(true);
    expect(String(byStatus.sent!.timestamp) <= String(byStatus.delivered!.timestamp)).toBe(true);

    const recorded = await waitFor(async () => {
      const ds = await deliveries(org.apiKey);
      return ds.length === 2 && ds.every((d) => d.status === 'delivered') ? ds : undefined;
    });
    for (const d of recorded) {
      expect(d).toMatchObject({ type: 'message.status', attempts: 1, lastStatusCode: 200 });
      expect(d.deliveredAt).not.toBeNull();
    }
  });

  it('retries a delivery the receiver refused, and records it', async () => {
    const org = await t.rt.orgs.create('Flaky Family Practice', ACTOR);
    const path = `/flaky/${org.orgId}`;
    const { secret } = await t.rt.orgs.setWebhook(org.orgId, receiver.base + path, ACTOR);
    const msg = await api<{ id: string }>('POST', '/v1/messages', org.apiKey, {
      to: PATIENT,
      body: BODY,
      program: 'care',
    });
    const recorded = await waitFor(async () => {
      const ds = await deliveries(org.apiKey);
      return ds.length === 2 && ds.every((d) => d.status === 'delivered') ? ds : undefined;
    });
    for (const d of recorded) {
      expect(d.attempts).toBeGreaterThan(1);
      expect(d.lastStatusCode).toBe(200);
      expect(d.lastError).toBeNull();
      // The receiver saw the same event (same webhook-id) refused once, then accepted.
      const tries = receiver.hits.filter(
        (h) => h.path === path && h.headers['webhook-id'] === d.id,
      );
      expect(tries.map((h) => h.answered)).toEqual([500, 200]);
      for (const h of tries) expect(verify(secret!, h)).toMatchObject({ type: 'message.status' });
      // The body is the same on each attempt, so a receiver can de-duplicate by webhook-id.
      expect(tries[0]!.body).toBe(tries[1]!.body);
    }
    const statuses = receiver
      .events(path)
      .filter((e) => e.event.data.messageId === msg.id)
      .map((e) => e.event.data.status)
      .sort();
    expect(statuses).toEqual(['delivered', 'sent']);
  });

  it('delivers an inbound text injected by the CLI in another process', async () => {
    expect(
      fs.existsSync(CLI.replace(/bin[/\\]tidings\.js$/, 'dist/src/cli/main.js')),
      'build first: npx tsc -p tsconfig.build.json',
    ).toBe(true);
    const org = await t.rt.orgs.create('Riverside Labs', ACTOR);
    const path = `/hooks/${org.orgId}`;
    // This one is set through the API.
    const { secret } = await api<{ url: string; secret: string }>(
      'PUT',
      '/v1/webhook',
      org.apiKey,
      {
        url: receiver.base + path,
      },
    );
    expect(secret).toMatch(/^whsec_/);
    const [sender] = await t.rt.orgs.senders(org.orgId);
    expect(sender).toBeDefined();

    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'test',
      TIDINGS_DATA_DIR: t.dir,
      LOG_LEVEL: 'warn',
    };
    if (dialect === 'postgres') {
      const schema = await sql<{ s: string }>`select current_schema() as s`.execute(t.rt.store.db);
      env.DATABASE_URL = PG_URL!;
      env.PGOPTIONS = `-c search_path=${schema.rows[0]!.s}`;
    }
    const out = await run(
      process.execPath,
      [CLI, 'sim', 'inbound', '--from', REPLIER, '--to', sender!.number, '--text', REPLY],
      { env, timeout: 20_000 },
    );
    const inboundId = /received (in_[0-9a-z]{26})/.exec(out.stdout)?.[1];
    expect(inboundId, out.stdout + out.stderr).toBeDefined();
    // The CLI's own output names the id only.
    expect(out.stdout + out.stderr).not.toContain('Quetzal');
    expect((out.stdout + out.stderr).replace(/\D/g, '')).not.toContain('6175550199');

    const [got] = await waitFor(() => {
      const es = receiver.events(path).filter((e) => e.event.type === 'message.inbound');
      return es.length > 0 ? es : undefined;
    });
    expect(verify(secret, got!.hit)).toEqual(got!.event);
    expect(got!.event.data).toMatchObject({
      id: inboundId,
      from: REPLIER,
      to: sender!.number,
      body: REPLY,
    });
    expect(Date.parse(String(got!.event.data.receivedAt))).not.toBeNaN();
    const ds = await waitFor(async () => {
      const list = await deliveries(org.apiKey);
      return list.length === 1 && list[0]!.status === 'delivered' ? list : undefined;
    });
    expect(ds[0]).toMatchObject({ type: 'message.inbound', attempts: 1, lastStatusCode: 200 });
  });

  it('refuses an invalid webhook URL through the API', async () => {
    const org = await t.rt.orgs.create('Bad URL Clinic', ACTOR);
    for (const url of ['not a url', 'ftp://example.test/hook', 'javascript:alert(1)']) {
      const res = await fetch(`${base}/v1/webhook`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${org.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ url }),
      });
      expect(res.status, url).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
        'validation_failed',
      );
    }
    expect((await t.rt.orgs.get(org.orgId))?.webhookUrl).toBeNull();
  });

  it('never stores a body or a phone number in the outbox', async () => {
    const rows = await t.rt.store.db.selectFrom('webhook_deliveries').selectAll().execute();
    expect(rows.length).toBeGreaterThanOrEqual(5);
    expect(rows.some((r) => r.event_type === 'message.inbound')).toBe(true);
    for (const r of rows) {
      const text = JSON.stringify(r);
      for (const needle of ['6175550123', '6175550199', '555-01', 'Quetzal', REPLY, BODY]) {
        expect(text, `${r.id} holds ${needle}`).not.toContain(needle);
      }
      // Digits of the numbers, whatever the formatting.
      expect(text.replace(/\D/g, '')).not.toMatch(/6175550(123|199)/);
      const payload = JSON.parse(r.payload) as Record<string, unknown>;
      if (r.event_type === 'message.inbound') {
        expect(Object.keys(payload)).toEqual(['inboundId']);
      } else {
        expect(Object.keys(payload).sort()).toEqual(['at', 'messageId', 'status']);
      }
    }
  });
});
