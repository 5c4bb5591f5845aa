/**
 * The API behind the console's Templates, Appointments and Campaigns pages (issue 8): a CSV
 * list checked before a campaign is created (bad numbers, empty and invalid slot values,
 * numbers without consent — counted, rows named by number only, with a preview; nothing
 * stored, the check audited), the campaign list, an appointment's reminder preview (what
 * will be sent when, audited as a read), and the content check for template writers. On
 * SQLite and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { announcePgSkip, DIALECTS, openTestRuntime, type TestRuntime } from './helpers.js';
import { SYSTEM_ACTOR, type Actor } from '../src/audit/index.js';
import type { Role } from '../src/identity/access.js';

announcePgSkip('console campaigns API');

const ACTOR: Actor = { type: 'cli', id: 'test' };
const OPTED_OUT = '+16175550104';

const LIST = [
  'phone,firstName,date',
  '+16175550101,Ann,2026-12-15',
  'not-a-number,Bad,2026-12-15',
  '+16175550103,,2026-12-15',
  `${OPTED_OUT},Dev,2026-12-15`,
  '+16175550105,Eli,15/12/2026',
  '+16175550106,Fay,2026-12-16',
].join('\n');

interface ListCheck {
  total: number;
  valid: number;
  invalid: number;
  suppressedByConsent: number;
  missingColumns: string[];
  program: string | null;
  problems: { row: number; code: string; slot: string | null }[];
  preview: { row: number; body: string; segments: number; encoding: string } | null;
}

describe.each(DIALECTS)('console campaigns, appointments and templates API on %s', (dialect) => {
  let t: TestRuntime;
  let base: string;
  let orgId: string;
  let sendKey: string;
  let readKey: string;
  let appointmentId: string;

  beforeAll(async () => {
    t = await openTestRuntime({ dialect });
    orgId = (await t.rt.orgs.create('Walk-in Clinic', SYSTEM_ACTOR)).orgId;
    base = await t.rt.listen();
    await t.rt.templates.create(
      orgId,
      { name: 'flu-day', body: 'Hi {{firstName}}, our walk-in day is {{date}}, 9 to 5.' },
      ACTOR,
    );
    await t.rt.consent.record(
      orgId,
      { phone: OPTED_OUT, program: 'all', kind: 'opt_out_all', source: 'staff', evidence: 'call' },
      ACTOR,
    );
    sendKey = (await t.rt.apiKeys.create(orgId, { name: 'send', scopes: ['messages:send'] }, ACTOR))
      .apiKey;
    readKey = (
      await t.rt.apiKeys.create(orgId, { name: 'appts', scopes: ['appointments:read'] }, ACTOR)
    ).apiKey;
    const booked = await t.rt.reminders.upsertAppointment(orgId, SYSTEM_ACTOR, {
      externalId: 'APPT-77',
      source: 'api',
      status: 'booked',
      start: Date.now() + 4 * 24 * 3600_000,
      location: 'Lakeside Main',
      appointmentType: 'FOLLOWUP',
      patient: { mrn: 'M-77', phone: '+16175550177', given: 'Lan' },
    });
    appointmentId = booked!.appointment.id;
  });
  afterAll(async () => t?.cleanup());

  async function call<T>(
    method: string,
    path: string,
    auth: Record<string, string>,
    body?: unknown,
  ): Promise<{ status: number; json: T; text: string; headers: Headers }> {
    const res = await fetch(base + path, {
      method,
      headers: { ...auth, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return {
      status: res.status,
      json: (text ? JSON.parse(text) : null) as T,
      text,
      headers: res.headers,
    };
  }
  const bearer = (k: string) => ({ authorization: `Bearer ${k}` });

  /** A signed-in person with a verified second factor (as the console would be). */
  async function person(role: Role): Promise<Record<string, string>> {
    const { user } = await t.rt.users.create(
      orgId,
      `${role}-${Math.random()}@x.example`,
      role,
      ACTOR,
    );
    await t.rt.store.db
      .updateTable('users')
      .set({ mfa_enrolled_at: Date.now() })
      .where('id', '=', user.id)
      .execute();
    const u = (await t.rt.users.get(orgId, user.id))!;
    const s = await t.rt.sessions.create(u, null);
    await t.rt.sessions.markMfaVerified(orgId, s.session.id);
    return { cookie: `tidings_session=${s.token}`, 'x-csrf-token': s.csrfToken };
  }

  async function auditOf(action: string) {
    return t.rt.store.db
      .selectFrom('audit_events')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('action', '=', action)
      .orderBy('seq')
      .execute();
  }

  it('checks a list before a campaign: every kind of bad row counted, named by row only', async () => {
    const before = await t.rt.campaigns.list(orgId);
    const r = await call<ListCheck>('POST', '/v1/campaigns/validate', bearer(sendKey), {
      template: 'flu-day',
      csv: LIST,
    });
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(r.json).toMatchObject({
      total: 6,
      valid: 2,
      invalid: 3,
      suppressedByConsent: 1,
      missingColumns: [],
      program: 'care',
    });
    expect(r.json.problems).toEqual([
      { row: 2, code: 'invalid_phone_number', slot: null },
      { row: 3, code: 'missing_value', slot: 'firstName' },
      { row: 4, code: 'recipient_opted_out', slot: null },
      { row: 5, code: 'template_variable_invalid', slot: null },
    ]);
    expect(r.json.preview).toMatchObject({ row: 1, segments: 1, encoding: 'GSM-7' });
    expect(r.json.preview!.body).toMatch(/^Hi Ann, our walk-in day is /);
    // No number is repeated back; nothing is stored.
    expect(r.text).not.toContain('555010');
    expect(await t.rt.campaigns.list(orgId)).toHaveLength(before.length);
    const audited = await auditOf('campaign.list_checked');
    expect(audited).toHaveLength(1);
    expect(JSON.parse(audited[0]!.details)).toMatchObject({
      total: 6,
      valid: 2,
      invalid: 3,
      suppressed: 1,
    });
    expect(audited[0]!.details).not.toContain('555010');
  });

  it('names the template columns a list lacks, and refuses a list without a phone column', async () => {
    const missing = await call<ListCheck>('POST', '/v1/campaigns/validate', bearer(sendKey), {
      template: 'flu-day',
      csv: 'phone,firstName\n+16175550101,Ann',
    });
    expect(missing.status).toBe(200);
    expect(missing.json).toMatchObject({ total: 1, valid: 0, missingColumns: ['date'] });
    expect(missing.json.preview).toBeNull();

    const noPhone = await call<{ error: { code: string } }>(
      'POST',
      '/v1/campaigns/validate',
      bearer(sendKey),
      { template: 'flu-day', csv: 'number,firstName,date\n+16175550101,Ann,2026-12-15' },
    );
    expect(noPhone.status).toBe(400);
    expect(noPhone.json.error.code).toBe('validation_failed');

    const noTemplate = await call<{ error: { code: string } }>(
      'POST',
      '/v1/campaigns/validate',
      bearer(sendKey),
      { template: 'nope', csv: LIST },
    );
    expect(noTemplate.status).toBe(404);
    expect(noTemplate.json.error.code).toBe('template_not_found');
  });

  it('lists campaigns newest first with their progress; providers read, only senders check', async () => {
    for (const name of ['First wave', 'Second wave']) {
      const c = await call('POST', '/v1/campaigns', bearer(sendKey), {
        name,
        template: 'flu-day',
        csv: LIST,
      });
      expect(c.status).toBe(201);
    }
    const provider = await person('provider');
    const list = await call<{
      data: { name: string; total: number; progress: { failed: number } }[];
    }>('GET', '/v1/campaigns', provider);
    expect(list.status).toBe(200);
    expect(list.json.data.map((c) => c.name).slice(0, 2)).toEqual(['Second wave', 'First wave']);
    expect(list.json.data[0]).toMatchObject({ total: 6 });
    const limited = await call<{ data: unknown[] }>('GET', '/v1/campaigns?limit=1', provider);
    expect(limited.json.data).toHaveLength(1);

    const refused = await call<{ error: { code: string } }>(
      'POST',
      '/v1/campaigns/validate',
      provider,
      { template: 'flu-day', csv: LIST },
    );
    expect(refused.status).toBe(403);
    const staff = await person('staff');
    expect(
      (await call('POST', '/v1/campaigns/validate', staff, { template: 'flu-day', csv: LIST }))
        .status,
    ).toBe(200);
  });

  it("previews an appointment's reminders — what will be sent when — audited as a read", async () => {
    const r = await call<{
      appointment: { id: string; externalId: string };
      reminders: { sendAt: string; status: string }[];
      plan: { offsetMinutes: number; sendAt: string; body: string }[];
      skipped: unknown[];
    }>('GET', `/v1/appointments/${appointmentId}/preview`, bearer(readKey));
    expect(r.status).toBe(200);
    expect(r.json.appointment.externalId).toBe('APPT-77');
    expect(r.json.reminders.length).toBe(3);
    expect(r.json.reminders.every((x) => x.status === 'scheduled')).toBe(true);
    expect(r.json.plan.map((p) => p.sendAt)).toEqual(r.json.reminders.map((x) => x.sendAt));
    expect(r.json.plan[0]!.body).toContain('Reply C to confirm');
    expect(r.json.plan[0]!.body).not.toContain('FOLLOWUP'); // never the visit type
    const reads = await auditOf('appointment.read');
    expect(reads.at(-1)).toMatchObject({ target_id: appointmentId });
    expect(JSON.parse(reads.at(-1)!.details)).toEqual({ preview: true });

    // By feed id too; an unknown one is a 404 in the envelope.
    expect((await call('GET', '/v1/appointments/APPT-77/preview', bearer(readKey))).status).toBe(
      200,
    );
    const missing = await call<{ error: { code: string } }>(
      'GET',
      '/v1/appointments/apt_nope/preview',
      bearer(readKey),
    );
    expect(missing.status).toBe(404);
    expect(missing.json.error.code).toBe('appointment_not_found');
    const auditor = await person('auditor');
    expect((await call('GET', `/v1/appointments/${appointmentId}/preview`, auditor)).status).toBe(
      403,
    );
  });

  it('lets a template writer (admin) use the live content check; an auditor may not', async () => {
    const admin = await person('admin');
    const r = await call<{ verdict: string; findings: { category: string }[] }>(
      'POST',
      '/v1/guard/check',
      admin,
      { text: 'Hi {{firstName}}, your chemotherapy is on {{date}}.' },
    );
    expect(r.status).toBe(200);
    expect(r.json.verdict).toBe('secure');
    const auditor = await person('auditor');
    expect((await call('POST', '/v1/guard/check', auditor, { text: 'Hello' })).status).toBe(403);
  });
});
