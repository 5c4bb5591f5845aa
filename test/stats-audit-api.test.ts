/**
 * The dashboard's figures and the auditor's console endpoints over HTTP, on each dialect:
 * `GET /v1/stats` counts real texts per day by status (delivered, failed, queued), opt-outs,
 * texts kept behind the portal, per sender and program, with no number in the answer;
 * `POST /v1/audit/verify` says the chain is intact, is itself audited, and names the first
 * bad sequence number once a row is tampered with; `GET /v1/audit/export` downloads a sealed
 * JSON Lines or CSV file (audited) and refuses to seal a broken chain.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, openTestRuntime, waitFor, type TestRuntime } from './helpers.js';
import { SYSTEM_ACTOR } from '../src/audit/index.js';
import { CarrierError } from '../src/carriers/types.js';

const OK = ['+16175550111', '+16175550112', '+16175550113'];
const FAILS = '+16175550199';
const PHI = 'Your A1C was 9.1, please increase your metformin';

interface Stats {
  from: string;
  to: string;
  days: { date: string; total: number; byStatus: Record<string, number>; optOuts: number }[];
  totals: {
    messages: number;
    byStatus: Record<string, number>;
    deliveryRate: number | null;
    failureRate: number | null;
    optOuts: number;
    optOutRate: number | null;
    guardDiversions: number;
    portalOpened: number;
    portalOpenRate: number | null;
    openRiskAlerts: { total: number };
  };
  senders: { id: string; number: string }[];
}

describe.each(DIALECTS)('dashboard stats, audit verify and export (%s)', (dialect) => {
  let t: TestRuntime;
  let base: string;
  let orgId: string;
  let auth: string;

  const get = async (path: string) => {
    const res = await fetch(base + path, { headers: { authorization: auth } });
    return { status: res.status, headers: res.headers, text: await res.text() };
  };
  const call = async <T>(method: string, path: string) => {
    const res = await fetch(base + path, { method, headers: { authorization: auth } });
    return { status: res.status, body: (await res.json()) as T };
  };

  beforeAll(async () => {
    t = await openTestRuntime({
      dialect,
      runtime: {
        simulator: {
          failWith: (m) => (m.to === FAILS ? new CarrierError('permanent', '30005') : undefined),
        },
      },
    });
    orgId = (await t.rt.orgs.create('Stats Clinic', SYSTEM_ACTOR)).orgId;
    const key = await t.rt.apiKeys.create(
      orgId,
      { name: 'dash', scopes: ['messages:read', 'audit:read'] },
      SYSTEM_ACTOR,
    );
    auth = `Bearer ${key.apiKey}`;
    base = await t.rt.listen();
    const ids: string[] = [];
    for (const to of OK) {
      const r = await t.rt.messaging.accept(orgId, SYSTEM_ACTOR, {
        to,
        body: 'See you on Tuesday at 10:00.',
        program: 'care',
      });
      ids.push(r.message.id);
    }
    const failing = await t.rt.messaging.accept(orgId, SYSTEM_ACTOR, {
      to: FAILS,
      body: 'Your bill is ready.',
      program: 'billing',
    });
    ids.push(failing.message.id);
    // Held by the content guard: kept behind the portal; the SMS is the neutral notice.
    const diverted = await t.rt.messaging.accept(orgId, SYSTEM_ACTOR, {
      to: OK[0]!,
      body: PHI,
      program: 'care',
    });
    expect(diverted.guard).toMatchObject({ verdict: 'secure', action: 'diverted' });
    ids.push(diverted.message.id);
    // Scheduled for next week: still queued.
    await t.rt.messaging.accept(orgId, SYSTEM_ACTOR, {
      to: OK[1]!,
      body: 'Your visit is next week.',
      program: 'care',
      sendAt: new Date(Date.now() + 7 * 86_400_000).toISOString(),
    });
    await t.rt.consent.record(
      orgId,
      { phone: OK[2]!, program: 'billing', kind: 'opt_out', source: 'staff', evidence: 'Asked' },
      SYSTEM_ACTOR,
    );
    t.rt.startWorkers();
    await waitFor(async () => {
      const s = await t.rt.messaging.statuses(orgId, ids);
      return ids.every((id) => ['delivered', 'failed'].includes(s.get(id) ?? ''));
    }, 20_000);
  }, 60_000);
  afterAll(async () => t?.cleanup());

  it('counts texts per day by status, opt-outs and diversions, with no number', async () => {
    const r = await get('/v1/stats');
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toBe('no-store');
    const s = JSON.parse(r.text) as Stats;
    expect(s.days).toHaveLength(14);
    const today = new Date().toISOString().slice(0, 10);
    expect(s.to).toBe(today);
    const day = s.days.at(-1)!;
    expect(day.date).toBe(today);
    expect(day.byStatus).toMatchObject({ delivered: 4, failed: 1, queued: 1 });
    expect(day.total).toBe(6);
    expect(day.optOuts).toBe(1);
    expect(s.totals).toMatchObject({
      messages: 6,
      deliveryRate: 4 / 5,
      failureRate: 1 / 5,
      optOuts: 1,
      optOutRate: 1 / 4,
      guardDiversions: 1,
      portalOpened: 0,
      portalOpenRate: 0,
      openRiskAlerts: { total: 0 },
    });
    expect(s.days.slice(0, -1).every((d) => d.total === 0)).toBe(true);
    expect(s.senders).toHaveLength(1);
    for (const n of [...OK, FAILS]) expect(r.text).not.toContain(n.slice(2));
    expect(r.text).not.toContain('A1C');
  });

  it('filters by program and sender, and by dates', async () => {
    const billing = (await call<Stats>('GET', '/v1/stats?program=billing')).body;
    expect(billing.totals.messages).toBe(1);
    expect(billing.totals.byStatus.failed).toBe(1);
    expect(billing.totals.optOuts).toBe(1);
    expect(billing.totals.guardDiversions).toBe(0);
    const care = (await call<Stats>('GET', '/v1/stats?program=care')).body;
    expect(care.totals.messages).toBe(5);
    expect(care.totals.optOuts).toBe(0);
    expect(care.totals.guardDiversions).toBe(1);
    const all = (await call<Stats>('GET', '/v1/stats')).body;
    const sender = all.senders[0]!.id;
    const mine = (await call<Stats>('GET', `/v1/stats?sender=${sender}`)).body;
    expect(mine.totals.messages).toBe(6);
    expect((await call<Stats>('GET', '/v1/stats?sender=snd_nobody')).body.totals.messages).toBe(0);
    const past = (await call<Stats>('GET', '/v1/stats?from=2026-01-01&to=2026-01-31')).body;
    expect(past.days).toHaveLength(31);
    expect(past.totals.messages).toBe(0);
    expect(past.totals.deliveryRate).toBeNull();
    for (const bad of [
      '/v1/stats?from=2026-02-30',
      '/v1/stats?from=2026-03-02&to=2026-03-01',
      '/v1/stats?from=2026-01-01&to=2026-06-30',
      '/v1/stats?program=secret',
    ]) {
      const res = await call<{ error: { code: string } }>('GET', bad);
      expect(res.status, bad).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
    }
  });

  it('exports the trail as a sealed, audited download', async () => {
    const jsonl = await get('/v1/audit/export');
    expect(jsonl.status).toBe(200);
    expect(jsonl.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    expect(jsonl.headers.get('content-disposition')).toMatch(
      /^attachment; filename="tidings-audit-org_[a-z0-9]+-\d{4}-\d{2}-\d{2}\.jsonl"$/,
    );
    const records = jsonl.text
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { record: string }).record);
    expect(records[0]).toBe('header');
    expect(records.at(-1)).toBe('seal');
    expect(records.filter((r) => r === 'event').length).toBeGreaterThan(5);
    for (const n of OK) expect(jsonl.text).not.toContain(n.slice(2));

    const today = new Date().toISOString().slice(0, 10);
    const csv = await get(`/v1/audit/export?format=csv&from=${today}&to=${today}`);
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(csv.headers.get('content-disposition')).toMatch(/\.csv"$/);
    expect(csv.text.split('\r\n')[0]).toMatch(/^record,org_id,seq/);
    expect(csv.text).toMatch(/\r\nseal,/);
    const none = await get('/v1/audit/export?from=2020-01-01&to=2020-01-02');
    expect(none.status).toBe(200);
    expect(none.text).not.toMatch(/"record":"event"/);
    expect((await get('/v1/audit/export?from=yesterday')).status).toBe(400);
    expect((await get('/v1/audit/export?format=xml')).status).toBe(400);

    const exported = await t.rt.store.db
      .selectFrom('audit_events')
      .select('details')
      .where('org_id', '=', orgId)
      .where('action', '=', 'audit.exported')
      .execute();
    expect(exported.length).toBe(3);
  });

  it('verifies the chain, audits the check, and names the first tampered event', async () => {
    const ok = await call<{ ok: boolean; events: number; firstBreak: unknown }>(
      'POST',
      '/v1/audit/verify',
    );
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ ok: true, firstBreak: null });
    expect(ok.body.events).toBeGreaterThan(5);
    const recorded = await t.rt.store.db
      .selectFrom('audit_events')
      .select(['details'])
      .where('org_id', '=', orgId)
      .where('action', '=', 'audit.verified')
      .execute();
    expect(recorded).toHaveLength(1);
    expect(JSON.parse(recorded[0]!.details)).toMatchObject({ ok: true });

    await t.rt.store.db
      .updateTable('audit_events')
      .set({ target_id: 'msg_tampered' })
      .where('org_id', '=', orgId)
      .where('seq', '=', 3)
      .execute();
    const broken = await call<{ ok: boolean; firstBreak: { seq: number; reason: string } }>(
      'POST',
      '/v1/audit/verify',
    );
    expect(broken.status).toBe(200);
    expect(broken.body.ok).toBe(false);
    expect(broken.body.firstBreak).toMatchObject({ seq: 3, reason: 'hash_mismatch' });
    const refused = await call<{ error: { code: string } }>('GET', '/v1/audit/export');
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('audit_chain_broken');
  });
});
