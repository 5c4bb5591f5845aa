/**
 * Polling an EHR's FHIR R4 server for Appointments (issue 7). The EHR is a local peer on
 * 127.0.0.1 that speaks FHIR search: searchset Bundles with a `next` link, Patients read by
 * reference, a bearer token checked on every request. On SQLite and PostgreSQL.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DateTime } from 'luxon';
import { pino } from 'pino';
import { announcePgSkip, DIALECTS, openTestRuntime, waitFor, type TestRuntime } from './helpers.js';
import { FhirPoller } from '../src/integrations/fhir/index.js';
import { ConfigError, loadConfig } from '../src/config/index.js';
import type { Actor } from '../src/audit/index.js';

announcePgSkip('FHIR polling');

const ACTOR: Actor = { type: 'cli', id: 'test' };
const TOKEN = 'ehr-token-7f3a';

interface Seen {
  path: string;
  query: URLSearchParams;
  auth: string | undefined;
}

/** A FHIR server with two pages of Appointments and two Patients. */
function ehrPeer() {
  const seen: Seen[] = [];
  const start = (days: number) =>
    DateTime.utc().plus({ days }).set({ hour: 16, minute: 0, second: 0, millisecond: 0 }).toISO();
  const appt = (id: string, patient: string, status: string, updated: string) => ({
    resourceType: 'Appointment',
    id,
    meta: { lastUpdated: updated },
    status,
    start: start(5),
    minutesDuration: 20,
    participant: [
      { actor: { reference: `Patient/${patient}` }, status: 'accepted' },
      { actor: { reference: 'Location/l1', display: 'Harbor Clinic' }, status: 'accepted' },
    ],
  });
  const appointments: Record<string, unknown>[][] = [
    [
      appt('ap-1', 'p1', 'booked', '2026-12-07T10:00:00Z'),
      appt('ap-2', 'p2', 'proposed', '2026-12-07T10:05:00Z'),
    ],
    [appt('ap-3', 'p2', 'booked', '2026-12-07T11:30:00Z')],
  ];
  const patients: Record<string, unknown> = {
    p1: {
      resourceType: 'Patient',
      id: 'p1',
      name: [{ family: 'Okafor', given: ['Ada'] }],
      telecom: [{ system: 'phone', use: 'mobile', value: '+16175550181' }],
      birthDate: '1970-04-04',
    },
    p2: {
      resourceType: 'Patient',
      id: 'p2',
      name: [{ family: 'Berg', given: ['Nils'] }],
      telecom: [{ system: 'sms', value: '+16175550182' }],
    },
  };
  let base = '';
  /** A `next` link to hand out instead of the real one (another origin). */
  const override: { next?: string } = {};
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', base);
    seen.push({ path: url.pathname, query: url.searchParams, auth: req.headers.authorization });
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/fhir+json' });
      res.end(JSON.stringify(body));
    };
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return send(401, {});
    if (url.pathname === '/fhir/Appointment') {
      const page = Number(url.searchParams.get('_page') ?? '1');
      const entries = appointments[page - 1] ?? [];
      const next = new URL(url);
      next.searchParams.set('_page', String(page + 1));
      return send(200, {
        resourceType: 'Bundle',
        type: 'searchset',
        link: [
          { relation: 'self', url: url.href },
          ...(override.next
            ? [{ relation: 'next', url: override.next }]
            : page < appointments.length
              ? [{ relation: 'next', url: next.href }]
              : []),
        ],
        entry: entries.map((r) => ({ resource: r, search: { mode: 'match' } })),
      });
    }
    const m = /^\/fhir\/Patient\/([\w-]+)$/.exec(url.pathname);
    if (m && patients[m[1]!]) return send(200, patients[m[1]!]);
    return send(404, { resourceType: 'OperationOutcome', issue: [] });
  });
  const setBase = (b: string) => {
    base = b;
  };
  return { server, seen, appointments, setBase, override };
}

describe('FHIR polling configuration', () => {
  const base = { NODE_ENV: 'test', TIDINGS_DATA_DIR: '/tmp/tidings-config-test' };
  const org = `org_${'a'.repeat(26)}`;

  it('reads the base URL, token, organisation and interval', () => {
    const c = loadConfig({
      ...base,
      FHIR_BASE_URL: 'https://ehr.example.org/fhir/R4',
      FHIR_BEARER_TOKEN: 'x',
      FHIR_POLL_ORG: org,
      FHIR_POLL_SECONDS: '60',
    });
    expect(c.fhirPoll).toEqual({
      baseUrl: 'https://ehr.example.org/fhir/R4',
      bearerToken: 'x',
      orgId: org,
      intervalMs: 60_000,
    });
    expect(loadConfig(base).fhirPoll).toBeUndefined();
  });

  it('refuses a base URL without an organisation, or a token without a URL', () => {
    expect(() => loadConfig({ ...base, FHIR_BASE_URL: 'https://ehr.example.org' })).toThrow(
      ConfigError,
    );
    expect(() => loadConfig({ ...base, FHIR_BEARER_TOKEN: 'x' })).toThrow(ConfigError);
    expect(() =>
      loadConfig({ ...base, FHIR_BASE_URL: 'ftp://ehr.example.org', FHIR_POLL_ORG: org }),
    ).toThrow(ConfigError);
  });
});

describe.each(DIALECTS)('FHIR polling on %s', (dialect) => {
  let t: TestRuntime;
  let orgId: string;
  let peer: ReturnType<typeof ehrPeer>;
  let poller: FhirPoller;
  const logLines: string[] = [];

  beforeAll(async () => {
    t = await openTestRuntime({ dialect });
    orgId = (await t.rt.orgs.create('Harbor Clinic', ACTOR)).orgId;
    peer = ehrPeer();
    await new Promise<void>((r) => peer.server.listen(0, '127.0.0.1', r));
    const port = (peer.server.address() as AddressInfo).port;
    peer.setBase(`http://127.0.0.1:${port}/fhir/`);
    const log = pino({ level: 'debug' }, { write: (l: string) => void logLines.push(l) });
    poller = new FhirPoller(t.rt.store, t.rt.reminders, log, {
      baseUrl: `http://127.0.0.1:${port}/fhir`,
      bearerToken: TOKEN,
      orgId,
      intervalMs: 60_000,
    });
  });

  afterAll(async () => {
    await poller?.stopFhirPoller();
    await new Promise((r) => peer?.server.close(r));
    await t?.cleanup();
  });

  it('pages through next links, reads each Patient, and plans reminders', async () => {
    const now = Date.now();
    const r = await poller.pollOnce(now);
    expect(r).toEqual({ pages: 2, upserted: 2, skipped: 1 });

    const searches = peer.seen.filter((s) => s.path === '/fhir/Appointment');
    expect(searches).toHaveLength(2);
    expect(searches[0]!.query.get('date')).toBe(`ge${new Date(now).toISOString()}`);
    expect(searches[0]!.query.has('_lastUpdated')).toBe(false);
    expect(peer.seen.every((s) => s.auth === `Bearer ${TOKEN}`)).toBe(true);
    // Each Patient read once, even when two Appointments name it.
    expect(peer.seen.filter((s) => s.path.startsWith('/fhir/Patient/')).map((s) => s.path)).toEqual(
      ['/fhir/Patient/p1', '/fhir/Patient/p2'],
    );

    const one = await t.rt.reminders.get(orgId, 'fhir:ap-1', ACTOR);
    expect(one.appointment).toMatchObject({
      source: 'fhir',
      status: 'booked',
      location: 'Harbor Clinic',
    });
    expect(one.reminders.map((x) => x.offsetMinutes)).toEqual([4320, 1440, 120]);
    const msg = await t.rt.messaging.get(orgId, one.reminders[0]!.messageId!, ACTOR);
    expect(msg.to).toBe('+16175550181');
    const three = await t.rt.reminders.get(orgId, 'fhir:ap-3', ACTOR);
    expect((await t.rt.messaging.get(orgId, three.reminders[0]!.messageId!, ACTOR)).to).toBe(
      '+16175550182',
    );
    // A proposal gets no reminders, and is not stored.
    expect(await t.rt.reminders.exists(orgId, 'fhir:ap-2')).toBe(false);
  });

  it('asks next time only for what changed since the newest lastUpdated it saw', async () => {
    peer.seen.length = 0;
    // ap-1 canceled in the EHR.
    peer.appointments.splice(0, peer.appointments.length, [
      {
        ...peer.appointments[0]![0]!,
        status: 'cancelled',
        meta: { lastUpdated: '2026-12-07T12:00:00Z' },
      },
    ]);
    const r = await poller.pollOnce();
    expect(r).toEqual({ pages: 1, upserted: 1, skipped: 0 });
    expect(peer.seen[0]!.query.get('_lastUpdated')).toBe('gt2026-12-07T11:30:00Z');
    const one = await t.rt.reminders.get(orgId, 'fhir:ap-1', ACTOR);
    expect(one.appointment.status).toBe('canceled');
    expect(one.reminders.every((x) => x.status === 'canceled')).toBe(true);

    peer.seen.length = 0;
    await poller.pollOnce();
    expect(peer.seen[0]!.query.get('_lastUpdated')).toBe('gt2026-12-07T12:00:00Z');

    // After a restart, a new poller carries on from the stored position.
    const restarted = new FhirPoller(t.rt.store, t.rt.reminders, pino({ level: 'silent' }), {
      ...poller.opts,
      baseUrl: `${poller.opts.baseUrl}/`,
    });
    peer.seen.length = 0;
    await restarted.pollOnce();
    expect(peer.seen[0]!.query.get('_lastUpdated')).toBe('gt2026-12-07T12:00:00Z');
  });

  it('does not follow a next link to another origin (the token stays with the EHR)', async () => {
    const other = http.createServer((_req, res) => res.end('{}'));
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    let reached = false;
    other.on('request', () => (reached = true));
    try {
      // Same address, another port: another origin.
      const port = (other.address() as AddressInfo).port;
      peer.override.next = `http://127.0.0.1:${port}/fhir/Appointment?_page=2`;
      const r = await poller.pollOnce();
      expect(r.pages).toBe(1);
      expect(reached).toBe(false);
    } finally {
      delete peer.override.next;
      await new Promise((r) => other.close(r));
    }
  });

  it('logs ids and counts, never the patient or the token', () => {
    expect(logLines.some((l) => l.includes('fhir poll done'))).toBe(true);
    for (const secret of [TOKEN, '5550181', 'Okafor', 'Ada', '1970-04-04', 'Berg']) {
      expect(logLines.filter((l) => l.includes(secret))).toEqual([]);
    }
  });
});

describe('FHIR polling in the worker', () => {
  it('starts with the workers when FHIR_BASE_URL is set, and stops with them', async () => {
    const peer = ehrPeer();
    await new Promise<void>((r) => peer.server.listen(0, '127.0.0.1', r));
    const port = (peer.server.address() as AddressInfo).port;
    peer.setBase(`http://127.0.0.1:${port}/fhir/`);
    peer.appointments.splice(0, peer.appointments.length, []);
    const t = await openTestRuntime({
      env: {
        FHIR_BASE_URL: `http://127.0.0.1:${port}/fhir`,
        FHIR_BEARER_TOKEN: TOKEN,
        FHIR_POLL_ORG: `org_${'0'.repeat(26)}`,
      },
    });
    try {
      t.rt.startWorkers();
      await waitFor(() => peer.seen.some((s) => s.path === '/fhir/Appointment'));
      expect(peer.seen[0]!.auth).toBe(`Bearer ${TOKEN}`);
    } finally {
      await t.cleanup();
      await new Promise((r) => peer.server.close(r));
    }
  });
});
