/**
 * Patients over HTTP, on SQLite and PostgreSQL: search by name or number answers masked
 * details only (and the query is not kept in the audit trail), one patient's masked details,
 * the reveal (full details, one audit event per reveal naming the user and the fields but no
 * detail itself; not for auditors), consent and opt-ins by the patient's id, the accounting of
 * disclosures (admin and auditor), and the earliest send time under quiet hours for senders.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSync } from 'otplib';
import { DateTime } from 'luxon';
import { announcePgSkip, DIALECTS, openTestRuntime, type TestRuntime } from './helpers.js';
import { errorCode, SessionClient } from './auth-client.js';
import { SYSTEM_ACTOR } from '../src/audit/index.js';

announcePgSkip('patients API');
const PASSWORD = 'correct horse battery staple 42';
const ACTOR = { type: 'cli' as const, id: 'test' };
const ANA = '+16175550142';
const BOB = '+16175550199';

interface Summary {
  id: string;
  name: string | null;
  phone: string | null;
}

describe.each(DIALECTS)('patients API on %s', (dialect) => {
  let t: TestRuntime;
  let base: string;
  let orgId: string;
  let anaId: string;
  let noPhoneId: string;
  const people = new Map<string, { c: SessionClient; id: string }>();

  async function person(role: string): Promise<void> {
    const email = `${role}@patients.example`;
    const r = await t.rt.users.create(orgId, email, role, ACTOR);
    const c = new SessionClient(base);
    expect(
      (await c.call('POST', '/v1/auth/setup', { token: r.setupToken, password: PASSWORD })).status,
    ).toBe(200);
    expect((await c.login(email, PASSWORD)).status).toBe(200);
    const start = await c.call<{ secret: string }>('POST', '/v1/auth/mfa/totp');
    const code = generateSync({ secret: start.json.secret });
    expect((await c.call('POST', '/v1/auth/mfa/totp/confirm', { code })).status).toBe(200);
    people.set(role, { c, id: r.user.id });
  }
  const as = (role: string) => people.get(role)!.c;

  async function auditOf(action: string) {
    return t.rt.store.db
      .selectFrom('audit_events')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('action', '=', action)
      .orderBy('seq')
      .execute();
  }

  beforeAll(async () => {
    t = await openTestRuntime({
      dialect,
      env: { TIDINGS_AUTH_RATE_LIMIT: '1000', PORT: '0', TIDINGS_QUIET_HOURS: '08:00-21:00' },
    });
    base = await t.rt.listen();
    orgId = (await t.rt.orgs.create('Patients Clinic', SYSTEM_ACTOR)).orgId;
    anaId = (await t.rt.reminders.upsertContact(
      orgId,
      { given: 'Ana', family: 'López', phone: ANA, dob: '1980-04-02', mrn: 'MRN-1' },
      ACTOR,
    ))!;
    await t.rt.reminders.upsertContact(
      orgId,
      { given: 'Bob', family: 'Anders', phone: BOB, mrn: 'MRN-2' },
      ACTOR,
    );
    noPhoneId = (await t.rt.reminders.upsertContact(
      orgId,
      { given: 'Cleo', family: 'Nophone', mrn: 'MRN-3' },
      ACTOR,
    ))!;
    for (const role of ['admin', 'provider', 'staff', 'auditor']) await person(role);
  });
  afterAll(async () => t?.cleanup());

  it('finds patients by name words or number, masked, and keeps no query in the audit', async () => {
    const byName = await as('staff').call<{ data: Summary[] }>('POST', '/v1/contacts/search', {
      query: 'lop an',
    });
    expect(byName.status).toBe(200);
    expect(byName.json.data).toEqual([{ id: anaId, name: 'A•• L••••', phone: '•••• 0142' }]);
    expect(JSON.stringify(byName.json)).not.toContain('5550142');
    expect(byName.headers.get('cache-control')).toBe('no-store');

    // "an" begins Ana and Anders; accents are folded ("lopez" finds López).
    const both = await as('auditor').call<{ data: Summary[] }>('POST', '/v1/contacts/search', {
      query: 'an',
    });
    expect(both.json.data.map((c) => c.phone).sort()).toEqual(['•••• 0142', '•••• 0199']);
    const folded = await as('staff').call<{ data: Summary[] }>('POST', '/v1/contacts/search', {
      query: 'lopez',
    });
    expect(folded.json.data.map((c) => c.id)).toEqual([anaId]);

    const full = await as('provider').call<{ data: Summary[] }>('POST', '/v1/contacts/search', {
      query: '(617) 555-0142',
    });
    expect(full.json.data.map((c) => c.id)).toEqual([anaId]);
    const tail = await as('provider').call<{ data: Summary[] }>('POST', '/v1/contacts/search', {
      query: '0199',
    });
    expect(tail.json.data.map((c) => c.name)).toEqual(['B•• A•••••']);
    const none = await as('staff').call<{ data: Summary[] }>('POST', '/v1/contacts/search', {
      query: 'zed',
    });
    expect(none.json.data).toEqual([]);

    expect(errorCode(await as('staff').call('POST', '/v1/contacts/search', { query: '12' }))).toBe(
      'validation_failed',
    );
    expect(errorCode(await as('staff').call('POST', '/v1/contacts/search', { query: 'a' }))).toBe(
      'validation_failed',
    );

    const events = await auditOf('contact.searched');
    expect(events.length).toBeGreaterThanOrEqual(6);
    const text = JSON.stringify(events.map((e) => [e.details, e.target_id, e.actor_id]));
    for (const secret of ['lop', 'López', '0142', '555', 'Ana']) expect(text).not.toContain(secret);
    expect(JSON.parse(events[0]!.details)).toEqual({ by: 'name', results: 1 });
  });

  it('shows one patient masked, and 404s an unknown id', async () => {
    const r = await as('auditor').call('GET', `/v1/contacts/${anaId}`);
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({
      id: anaId,
      name: 'A•• L••••',
      phone: '•••• 0142',
      dob: '••••-••-••',
    });
    expect(JSON.stringify(r.json)).not.toMatch(/1980|5550142|Ana/);
    const read = await auditOf('contact.read');
    expect(read.at(-1)).toMatchObject({ actor_id: people.get('auditor')!.id, target_id: anaId });
    expect(read.at(-1)!.subject_index).toBeTruthy();
    expect(errorCode(await as('staff').call('GET', '/v1/contacts/rcn_nope'))).toBe('not_found');
  });

  it('reveals full details to admin, provider and staff, one audit event each; never to auditors', async () => {
    const before = (await auditOf('contact.revealed')).length;
    const r = await as('staff').call('POST', `/v1/contacts/${anaId}/reveal`, {});
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ id: anaId, name: 'Ana López', phone: ANA, dob: '1980-04-02' });
    const onlyPhone = await as('provider').call('POST', `/v1/contacts/${anaId}/reveal`, {
      fields: ['phone'],
      purpose: 'compose',
    });
    expect(onlyPhone.json).toEqual({ id: anaId, name: null, phone: ANA, dob: null });

    const events = await auditOf('contact.revealed');
    expect(events.length).toBe(before + 2);
    const [a, b] = events.slice(-2);
    expect(a).toMatchObject({ actor_type: 'user', actor_id: people.get('staff')!.id });
    expect(JSON.parse(a!.details)).toEqual({ fields: 'name,phone,dob', purpose: 'view' });
    expect(JSON.parse(b!.details)).toEqual({ fields: 'phone', purpose: 'compose' });
    expect(JSON.stringify(events.map((e) => [e.details, e.target_id]))).not.toMatch(
      /1980|5550142|Ana|López/,
    );

    const auditor = await as('auditor').call('POST', `/v1/contacts/${anaId}/reveal`, {});
    expect(auditor.status).toBe(403);
    expect((await auditOf('contact.revealed')).length).toBe(before + 2);
    expect(
      errorCode(await as('staff').call('POST', `/v1/contacts/${anaId}/reveal`, { fields: ['x'] })),
    ).toBe('validation_failed');
  });

  it('shows consent by the patient’s id with the number masked, and records an opt-in', async () => {
    const empty = await as('auditor').call<{ phone: string; history: unknown[] }>(
      'GET',
      `/v1/contacts/${anaId}/consent`,
    );
    expect(empty.status).toBe(200);
    expect(empty.json.phone).toBe('•••• 0142');

    const rec = await as('staff').call('POST', `/v1/contacts/${anaId}/consents`, {
      program: 'surveys',
      source: 'paper',
      evidence: 'Signed intake form, box 3',
    });
    expect(rec.status).toBe(201);
    const after = await as('provider').call<{
      programs: Record<string, { status: string }>;
      history: { program: string; kind: string; source: string; evidence: string | null }[];
    }>('GET', `/v1/contacts/${anaId}/consent`);
    expect(after.json.programs.surveys!.status).toBe('opted_in');
    expect(after.json.history.at(-1)).toMatchObject({
      program: 'surveys',
      kind: 'opt_in',
      source: 'paper',
      evidence: 'Signed intake form, box 3',
    });
    // The same ledger as the number's own lookup.
    const byNumber = await as('staff').call<{ history: unknown[] }>('POST', '/v1/consents/lookup', {
      phone: ANA,
    });
    expect(byNumber.json.history).toHaveLength(after.json.history.length);

    expect(
      (
        await as('auditor').call('POST', `/v1/contacts/${anaId}/consents`, {
          program: 'care',
          source: 'paper',
        })
      ).status,
    ).toBe(403);
    expect(
      errorCode(
        await as('staff').call('POST', `/v1/contacts/${anaId}/consents`, {
          program: 'care',
          source: 'telepathy',
        }),
      ),
    ).toBe('validation_failed');
    expect(errorCode(await as('staff').call('GET', `/v1/contacts/${noPhoneId}/consent`))).toBe(
      'not_found',
    );
  });

  it('lists the patient’s disclosures, including reveals, for admins and auditors only', async () => {
    const r = await as('auditor').call<{
      data: { action: string; actor: { id: string } }[];
    }>('GET', `/v1/contacts/${anaId}/disclosures?limit=100`);
    expect(r.status).toBe(200);
    const actions = r.json.data.map((e) => e.action);
    expect(actions).toContain('contact.revealed');
    expect(actions).toContain('consent.recorded');
    expect(r.json.data.find((e) => e.action === 'contact.revealed')?.actor.id).toBeDefined();
    expect((await as('admin').call('GET', `/v1/contacts/${anaId}/disclosures`)).status).toBe(200);
    expect((await as('staff').call('GET', `/v1/contacts/${anaId}/disclosures`)).status).toBe(403);
    expect((await auditOf('audit.disclosures_read')).length).toBeGreaterThanOrEqual(2);
  });

  it('documents the routes in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${base}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    expect(doc.paths['/v1/contacts/search']).toHaveProperty('post');
    expect(doc.paths['/v1/contacts/{id}']).toHaveProperty('get');
    expect(doc.paths['/v1/contacts/{id}/reveal']).toHaveProperty('post');
    expect(doc.paths['/v1/contacts/{id}/consent']).toHaveProperty('get');
    expect(doc.paths['/v1/contacts/{id}/consents']).toHaveProperty('post');
    expect(doc.paths['/v1/contacts/{id}/disclosures']).toHaveProperty('get');
    expect(doc.paths['/v1/messages/earliest-send']).toHaveProperty('post');
  });

  it('tells senders the earliest send time and the window in the recipient’s zone', async () => {
    // A week ahead, 03:00Z is 22:00 or 23:00 the evening before in Boston: held until 08:00.
    const day = new Date(Date.now() + 7 * 86_400_000).toISOString().slice(0, 10);
    const at = `${day}T03:00:00.000Z`;
    const local = DateTime.fromISO(at, { zone: 'America/New_York' });
    const opens = local.plus({ days: local.hour >= 21 ? 1 : 0 }).set({ hour: 8, minute: 0 });
    const late = await as('staff').call('POST', '/v1/messages/earliest-send', {
      to: ANA,
      program: 'care',
      at,
    });
    expect(late.status).toBe(200);
    expect(late.json).toMatchObject({
      requested: at,
      earliest: opens.toUTC().toISO(),
      heldBy: 'quiet_hours',
      quietHours: 'on',
      zones: [
        {
          zone: 'America/New_York',
          window: '08:00-21:00',
          localTime: opens.toFormat('yyyy-MM-dd 08:00'),
        },
      ],
    });
    const noon = await as('provider').call('POST', '/v1/messages/earliest-send', {
      to: ANA,
      program: 'care',
      at: `${day}T17:00:00.000Z`,
    });
    expect(noon.json).toMatchObject({ earliest: `${day}T17:00:00.000Z`, heldBy: null });

    // What acceptance does agrees: a text asked for then is held to the same instant.
    const sent = await as('staff').call<{ sendAt: string; heldBy: string | null }>(
      'POST',
      '/v1/messages',
      { to: ANA, program: 'surveys', body: 'Quick survey about your visit?', sendAt: at },
    );
    expect(sent.status).toBe(202);
    expect(sent.json).toMatchObject({ sendAt: opens.toUTC().toISO(), heldBy: 'quiet_hours' });

    await t.rt.sendRules.setQuietHours(orgId, { window: null, exemptPrograms: ['care'] }, ACTOR);
    const exempt = await as('staff').call('POST', '/v1/messages/earliest-send', {
      to: ANA,
      program: 'care',
      at,
    });
    expect(exempt.json).toMatchObject({ quietHours: 'exempt', heldBy: null });

    expect(
      errorCode(
        await as('staff').call('POST', '/v1/messages/earliest-send', {
          to: 'nope',
          program: 'care',
        }),
      ),
    ).toBe('invalid_phone_number');
    expect(
      errorCode(
        await as('staff').call('POST', '/v1/messages/earliest-send', {
          to: ANA,
          program: 'care',
          at: 'tomorrow',
        }),
      ),
    ).toBe('validation_failed');
    expect(
      (await as('admin').call('POST', '/v1/messages/earliest-send', { to: ANA, program: 'care' }))
        .status,
    ).toBe(403);
  });
});
