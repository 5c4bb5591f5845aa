/**
 * Appointment reminders from FHIR R4, end to end over HTTP (issue 7): a transaction Bundle
 * (Patient + Appointment) plans three reminders, a PUT with status cancelled cancels them, a
 * `C` reply confirms, sent texts read back as Communications, and every error is an
 * OperationOutcome. On SQLite and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { announcePgSkip, DIALECTS, openTestRuntime, type TestRuntime } from './helpers.js';
import type { Actor } from '../src/audit/index.js';

announcePgSkip('FHIR reminders');

const ACTOR: Actor = { type: 'cli', id: 'test' };
const PHONE = '+16175550123';

function bundle(id: string, start: string, status = 'booked') {
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      {
        fullUrl: 'urn:uuid:9a3f2c1e-0000-4000-8000-000000000001',
        resource: {
          resourceType: 'Patient',
          identifier: [
            {
              type: {
                coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }],
              },
              value: 'MRN-7731',
            },
          ],
          name: [{ use: 'official', family: 'Nguyen', given: ['Lan'] }],
          telecom: [{ system: 'phone', value: '(617) 555-0123', use: 'mobile' }],
          birthDate: '1975-03-02',
        },
        request: { method: 'POST', url: 'Patient' },
      },
      {
        fullUrl: `urn:uuid:appt-${id}`,
        resource: {
          resourceType: 'Appointment',
          status,
          appointmentType: { coding: [{ code: 'FOLLOWUP' }] },
          start,
          minutesDuration: 20,
          participant: [
            {
              actor: { reference: 'urn:uuid:9a3f2c1e-0000-4000-8000-000000000001' },
              status: 'accepted',
            },
            { actor: { reference: 'Location/1', display: 'Lakeside Main' }, status: 'accepted' },
          ],
        },
        request: { method: 'PUT', url: `Appointment/${id}` },
      },
    ],
  };
}

describe.each(DIALECTS)('FHIR reminders on %s', (dialect) => {
  let t: TestRuntime;
  let base: string;
  let orgId: string;
  let key: string;
  let readOnly: string;

  const call = (method: string, path: string, body?: unknown, k = key) =>
    fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${k}`,
        ...(body !== undefined ? { 'content-type': 'application/fhir+json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });

  beforeAll(async () => {
    t = await openTestRuntime({ dialect });
    orgId = (await t.rt.orgs.create('Harbor Health', ACTOR)).orgId;
    key = (
      await t.rt.apiKeys.create(
        orgId,
        { name: 'ehr', scopes: ['appointments:write', 'appointments:read', 'messages:read'] },
        ACTOR,
      )
    ).apiKey;
    readOnly = (await t.rt.apiKeys.create(orgId, { name: 'ro', scopes: ['messages:send'] }, ACTOR))
      .apiKey;
    base = await t.rt.listen();
  });

  afterAll(async () => {
    await t?.cleanup();
  });

  it('a transaction Bundle plans three reminders; a PUT cancelled cancels them', async () => {
    const start = new Date(Date.now() + 5 * 24 * 3600_000).toISOString();
    const res = await call('POST', '/fhir', bundle('visit-1', start));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/fhir+json');
    const out = (await res.json()) as {
      type: string;
      entry: { response: { status: string; location?: string } }[];
    };
    expect(out.type).toBe('transaction-response');
    expect(out.entry[1]!.response).toEqual({
      status: '201 Created',
      location: 'Appointment/visit-1',
    });

    const got = await t.rt.reminders.get(orgId, 'fhir:visit-1', ACTOR);
    expect(got.reminders.map((r) => [r.offsetMinutes, r.status])).toEqual([
      [4320, 'scheduled'],
      [1440, 'scheduled'],
      [120, 'scheduled'],
    ]);

    // Over /v1 too.
    const v1 = await call('GET', `/v1/appointments/${got.appointment.id}`);
    expect(v1.status).toBe(200);
    expect(((await v1.json()) as { reminders: unknown[] }).reminders).toHaveLength(3);

    // Communications for the patient.
    const comms = await call(
      'GET',
      `/fhir/Communication?patient=Patient/${got.appointment.contactId}`,
    );
    expect(comms.status).toBe(200);
    const cb = (await comms.json()) as {
      total: number;
      entry: { resource: { status: string; payload: { contentString: string }[] } }[];
    };
    expect(cb.total).toBe(3);
    expect(cb.entry[0]!.resource.payload[0]!.contentString).toContain('Reply C to confirm');

    const cancel = bundle('visit-1', start, 'cancelled').entry[1]!.resource;
    const put = await call('PUT', '/fhir/Appointment/visit-1', cancel);
    expect(put.status).toBe(200);
    expect(((await put.json()) as { status: string }).status).toBe('cancelled');
    const after = await t.rt.reminders.get(orgId, 'fhir:visit-1', ACTOR);
    expect(after.reminders.map((r) => r.status)).toEqual(['canceled', 'canceled', 'canceled']);
  });

  it('the same appointment arriving several times at once still gets one set of reminders', async () => {
    const start = new Date(Date.now() + 6 * 24 * 3600_000).toISOString();
    const b = bundle('visit-race', start);
    // The bundle creates it with its patient; then ten copies of one move race (an engine
    // resending): each would cancel the old reminders and plan the new ones.
    expect((await call('POST', '/fhir', b)).status).toBe(200);
    const moved = new Date(Date.parse(start) + 3600_000).toISOString();
    const one = bundle('visit-race', moved).entry[1]!.resource;
    const res = await Promise.all(
      Array.from({ length: 10 }, () => call('PUT', '/fhir/Appointment/visit-race', one)),
    );
    expect(res.map((r) => r.status)).toEqual(Array(10).fill(200));
    const got = await t.rt.reminders.get(orgId, 'fhir:visit-race', ACTOR);
    const live = got.reminders.filter((r) => r.status === 'scheduled');
    expect(live.map((r) => [r.offsetMinutes, r.sendAt])).toEqual(
      [4320, 1440, 120].map((m) => [m, new Date(Date.parse(moved) - m * 60_000).toISOString()]),
    );
    expect(got.reminders.filter((r) => r.status === 'canceled')).toHaveLength(3);
    // Across processes, the database refuses a second scheduled copy of one plan.
    const row = await t.rt.store.db
      .selectFrom('reminders')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('appointment_id', '=', got.appointment.id)
      .where('status', '=', 'scheduled')
      .executeTakeFirstOrThrow();
    await expect(
      t.rt.store.db
        .insertInto('reminders')
        .values({ ...row, id: `${row.id}x` })
        .execute(),
    ).rejects.toThrow(/unique/i);
  });

  it('a C reply confirms the appointment', async () => {
    const start = new Date(Date.now() + 3 * 24 * 3600_000).toISOString();
    expect((await call('POST', '/fhir', bundle('visit-2', start))).status).toBe(200);
    const to = (await t.rt.orgs.senders(orgId))[0]!.number;
    await t.rt.messaging.receiveInbound({ from: PHONE, to, body: 'C' });
    const got = await t.rt.reminders.get(orgId, 'fhir:visit-2', ACTOR);
    expect(got.appointment.status).toBe('confirmed');
  });

  it('answers errors with an OperationOutcome', async () => {
    const bad = await call('POST', '/fhir/Appointment', {
      resourceType: 'Appointment',
      status: 'nope',
    });
    expect(bad.status).toBe(400);
    const oo = (await bad.json()) as { resourceType: string; issue: { code: string }[] };
    expect(oo.resourceType).toBe('OperationOutcome');
    expect(oo.issue[0]!.code).toBe('invalid');

    const noKey = await fetch(`${base}/fhir/Appointment`, { method: 'POST' });
    expect(noKey.status).toBe(401);
    expect(((await noKey.json()) as { resourceType: string }).resourceType).toBe(
      'OperationOutcome',
    );

    const wrongScope = await call('POST', '/fhir', bundle('x', new Date().toISOString()), readOnly);
    expect(wrongScope.status).toBe(403);

    const proposal = await call('PUT', '/fhir/Appointment/p1', {
      resourceType: 'Appointment',
      status: 'proposed',
      participant: [{ actor: { reference: 'Patient/1' } }],
    });
    expect(proposal.status).toBe(422);
  });

  it('documents the FHIR and appointment routes in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${base}/openapi.json`)).json()) as {
      paths: Record<string, unknown>;
    };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/fhir/Appointment', '/fhir', '/v1/appointments', '/v1/campaigns']),
    );
  });
});
