/**
 * The retention, legal-hold, risk and compliance API over HTTP (SQLite): policy read and
 * change (refusing audit retention under six years), holds placed and lifted with the number
 * only in the body, alerts listed and resumed, and the posture report.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestRuntime, type TestRuntime } from './helpers.js';
import { SYSTEM_ACTOR } from '../src/audit/index.js';

describe('retention, risk and compliance API', () => {
  let t: TestRuntime;
  let base: string;
  let headers: Record<string, string>;

  beforeAll(async () => {
    t = await openTestRuntime();
    const orgId = (await t.rt.orgs.create('API Clinic', SYSTEM_ACTOR)).orgId;
    const key = await t.rt.apiKeys.create(
      orgId,
      { name: 'ops', scopes: ['retention:write', 'risk:read', 'audit:read'] },
      SYSTEM_ACTOR,
    );
    headers = { authorization: `Bearer ${key.apiKey}`, 'content-type': 'application/json' };
    base = await t.rt.listen();
  });
  afterAll(async () => t?.cleanup());

  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(base + path, {
      method,
      headers: body === undefined ? { authorization: headers.authorization! } : headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it('reads and changes the retention policy', async () => {
    expect((await call('GET', '/v1/retention/policy')).body).toMatchObject({
      secureViewedDays: 30,
      secureUnviewedDays: 7,
      messageBodyDays: 90,
      auditYears: 6,
    });
    const r = await call('PUT', '/v1/retention/policy', { messageBodyDays: 45 });
    expect(r).toMatchObject({ status: 200, body: { messageBodyDays: 45, secureViewedDays: 30 } });
    const bad = await call('PUT', '/v1/retention/policy', { auditYears: 3 });
    expect(bad.status).toBe(400);
    expect((bad.body.error as { code: string }).code).toBe('validation_failed');
  });

  it('places, lists and lifts legal holds', async () => {
    const placed = await call('POST', '/v1/legal-holds', {
      scope: 'patient',
      phone: '+16175554000',
      reason: 'Subpoena 12',
    });
    expect(placed.status).toBe(201);
    expect(JSON.stringify(placed.body)).not.toContain('6175554000');
    const id = placed.body.id as string;
    const list = await call('GET', '/v1/legal-holds');
    expect((list.body.data as { id: string }[]).map((h) => h.id)).toEqual([id]);
    const lifted = await call('DELETE', `/v1/legal-holds/${id}`);
    expect(lifted.status).toBe(200);
    expect(lifted.body.liftedAt).not.toBeNull();
    expect((await call('DELETE', `/v1/legal-holds/${id}`)).status).toBe(404);
    const noPhone = await call('POST', '/v1/legal-holds', { scope: 'patient', reason: 'x' });
    expect(noPhone.status).toBe(400);
  });

  it('lists risk alerts and serves the compliance report', async () => {
    expect((await call('GET', '/v1/risk/alerts')).body).toEqual({ data: [] });
    const report = await call('GET', '/v1/compliance/report');
    expect(report.status).toBe(200);
    const items = report.body.items as { id: string; status: string }[];
    expect(items.map((i) => i.id)).toEqual(
      expect.arrayContaining(['mfa', 'transmission_security', 'contingency_backup', 'retention']),
    );
    expect(report.body.overall).toBe('failing');
    // A new organisation not yet swept is not overdue for a sweep.
    const retention = (report.body.items as { id: string; status: string; state: string }[]).find(
      (i) => i.id === 'retention',
    );
    expect(retention).toMatchObject({ status: 'ok' });
    expect(retention!.state).toContain('last sweep not yet');
  });
});
