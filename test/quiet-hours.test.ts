/**
 * Quiet hours in the send path, end to end on a real runtime: acceptance moves a message sent
 * outside the recipient's window to the next opening (never drops it), dispatch checks again
 * before it submits, organisations narrow the window and exempt programs (audited), the
 * settings API and CLI, and `TIDINGS_QUIET_HOURS=off`. The clock is faked (Date only), so
 * every test runs at the local hour it names.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { openTestRuntime, waitFor, type TestRuntime } from './helpers.js';
import { SessionClient, errorCode } from './auth-client.js';
import { SYSTEM_ACTOR, verifyAudit } from '../src/audit/index.js';
import { AppError } from '../src/errors/index.js';
import { ConfigError, loadConfig } from '../src/config/index.js';
import { buildCli } from '../src/cli/main.js';
import type { Role } from '../src/identity/access.js';

const actor = { type: 'api_key' as const, id: 'key_test' };
const REMINDER =
  'Lakeside Clinic: reminder of your visit on Tuesday at 10:30. Reply STOP to opt out.';

function at(iso: string): void {
  vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
  vi.setSystemTime(new Date(iso));
}

async function auditOf(t: TestRuntime, orgId: string, action: string) {
  return t.rt.store.db
    .selectFrom('audit_events')
    .select(['details', 'target_id'])
    .where('org_id', '=', orgId)
    .where('action', '=', action)
    .orderBy('seq')
    .execute();
}

async function jobOf(t: TestRuntime, orgId: string, id: string) {
  return t.rt.store.db
    .selectFrom('dispatch_jobs')
    .selectAll()
    .where('org_id', '=', orgId)
    .where('message_id', '=', id)
    .executeTakeFirst();
}

afterEach(() => {
  vi.useRealTimers();
});

describe('quiet hours at acceptance', () => {
  let t: TestRuntime;
  let orgId: string;

  beforeAll(async () => {
    t = await openTestRuntime({ env: { TIDINGS_QUIET_HOURS: '08:00-21:00' } });
    orgId = (await t.rt.orgs.create('Lakeside Clinic', SYSTEM_ACTOR)).orgId;
  });
  afterAll(async () => t?.cleanup());

  it('queues a message accepted at 22:30 local to 08:00 the next day, and never drops it', async () => {
    at('2026-06-10T02:30:00Z'); // 22:30 EDT on 9 June, for a New York number
    const { message } = await t.rt.messaging.accept(orgId, actor, {
      to: '+1 212 555 0100',
      body: REMINDER,
      program: 'care',
    });
    expect(message).toMatchObject({
      status: 'queued',
      sendAt: '2026-06-10T12:00:00.000Z',
      notBefore: '2026-06-10T12:00:00.000Z',
      heldBy: 'quiet_hours',
    });
    const job = await jobOf(t, orgId, message.id);
    expect(Number(job!.due_at)).toBe(Date.parse('2026-06-10T12:00:00Z'));
    const accepted = await auditOf(t, orgId, 'message.accepted');
    expect(JSON.parse(accepted.at(-1)!.details)).toMatchObject({
      heldBy: 'quiet_hours',
      notBefore: Date.parse('2026-06-10T12:00:00Z'),
    });
    // The stored message says the same on a later read.
    const read = await t.rt.messaging.get(orgId, message.id, actor);
    expect(read).toMatchObject({ heldBy: 'quiet_hours', sendAt: message.sendAt });
  });

  it('does not hold a message inside the window', async () => {
    at('2026-06-10T14:00:00Z'); // 10:00 EDT
    const { message } = await t.rt.messaging.accept(orgId, actor, {
      to: '+1 212 555 0101',
      body: REMINDER,
      program: 'care',
    });
    expect(message.heldBy).toBeNull();
    expect(message.notBefore).toBeNull();
    expect(Date.parse(message.sendAt)).toBeLessThan(Date.parse('2026-06-10T14:01:00Z'));
  });

  it('Texas on a Sunday morning waits for noon; Florida after 20:00 waits for 08:00', async () => {
    at('2026-05-10T15:00:00Z'); // Sunday 10:00 CDT
    const tx = await t.rt.messaging.accept(orgId, actor, {
      to: '(512) 555-0100',
      body: REMINDER,
      program: 'care',
    });
    expect(tx.message.sendAt).toBe('2026-05-10T17:00:00.000Z');
    at('2026-06-11T00:30:00Z'); // Wednesday 20:30 EDT
    const fl = await t.rt.messaging.accept(orgId, actor, {
      to: '305-555-0100',
      body: REMINDER,
      program: 'care',
    });
    expect(fl.message.sendAt).toBe('2026-06-11T12:00:00.000Z');
    // The same minute is fine for New York, which only closes at 21:00.
    const ny = await t.rt.messaging.accept(orgId, actor, {
      to: '+1 212 555 0102',
      body: REMINDER,
      program: 'care',
    });
    expect(ny.message.heldBy).toBeNull();
  });

  it('waits until a multi-zone area code is open in all its zones', async () => {
    at('2026-06-10T14:30:00Z'); // 08:30 MDT in Boise, 07:30 PDT in northern Idaho
    const { message } = await t.rt.messaging.accept(orgId, actor, {
      to: '+1 208 555 0100',
      body: REMINDER,
      program: 'care',
    });
    expect(message.sendAt).toBe('2026-06-10T15:00:00.000Z'); // 08:00 PDT
  });

  it('keeps a scheduled time inside the window and moves one outside it', async () => {
    at('2026-06-10T02:30:00Z');
    const inside = await t.rt.messaging.accept(orgId, actor, {
      to: '+1 212 555 0103',
      body: REMINDER,
      program: 'care',
      sendAt: '2026-06-10T16:00:00Z',
    });
    expect(inside.message).toMatchObject({ sendAt: '2026-06-10T16:00:00.000Z', heldBy: null });
    const outside = await t.rt.messaging.accept(orgId, actor, {
      to: '+1 212 555 0104',
      body: REMINDER,
      program: 'care',
      sendAt: '2026-06-11T03:00:00Z', // 23:00 EDT
    });
    expect(outside.message).toMatchObject({
      sendAt: '2026-06-11T12:00:00.000Z',
      heldBy: 'quiet_hours',
    });
  });

  it('lets an organisation exempt a program and narrow its window, and audits both', async () => {
    const admin = { type: 'user' as const, id: 'usr_admin' };
    await t.rt.sendRules.setSettings(
      orgId,
      { quietHours: { window: '09:00-20:00', exemptPrograms: ['care'] } },
      admin,
    );
    const changed = await auditOf(t, orgId, 'org.settings_changed');
    expect(JSON.parse(changed.at(-1)!.details)).toMatchObject({
      setting: 'messaging',
      quietHoursWindow: '09:00-20:00',
      quietHoursExempt: 'care',
    });
    at('2026-06-10T02:30:00Z');
    const care = await t.rt.messaging.accept(orgId, actor, {
      to: '+1 212 555 0105',
      body: REMINDER,
      program: 'care',
    });
    expect(care.message.heldBy).toBeNull();
    const billing = await t.rt.messaging.accept(orgId, actor, {
      to: '+1 212 555 0105',
      body: 'Lakeside Clinic: your statement is ready in the portal.',
      program: 'billing',
    });
    expect(billing.message.sendAt).toBe('2026-06-10T13:00:00.000Z'); // 09:00 EDT
    await t.rt.sendRules.setSettings(orgId, {}, admin);
  });

  it('refuses to exempt marketing or to widen the installation window', async () => {
    await expect(
      t.rt.sendRules.setSettings(orgId, { quietHours: { exemptPrograms: ['marketing'] } }, actor),
    ).rejects.toMatchObject({ code: 'validation_failed' });
    await expect(
      t.rt.sendRules.setSettings(orgId, { quietHours: { window: '07:00-21:00' } }, actor),
    ).rejects.toThrow(AppError);
    await expect(
      t.rt.sendRules.setSettings(orgId, { quietHours: { window: '21:00-08:00' } }, actor),
    ).rejects.toMatchObject({ code: 'validation_failed' });
  });

  it('never holds a reply to STOP, HELP or START', async () => {
    at('2026-06-10T07:00:00Z'); // 03:00 EDT
    const plan = await t.rt.sendRules.plan({
      orgId,
      to: '+12125550106',
      program: 'care',
      sendAt: Date.now(),
      exempt: 'consent_reply',
    });
    expect(plan).toMatchObject({ heldBy: null, caps: null });
    expect(plan.sendAt).toBe(Date.now());
    expect(
      await t.rt.sendRules.checkAtDispatch({
        orgId,
        messageId: 'msg_x',
        to: '+12125550106',
        toIndex: 'x',
        program: 'care',
        kind: 'consent_reply',
      }),
    ).toBeNull();
    expect(
      await t.rt.sendRules.checkAtDispatch({
        orgId,
        messageId: 'msg_x',
        to: '+12125550106',
        toIndex: 'x',
        program: 'care',
        kind: 'standard',
      }),
    ).toEqual({ deferTo: Date.parse('2026-06-10T12:00:00Z'), heldBy: 'quiet_hours' });
  });

  it('keeps the audit chain intact', async () => {
    expect((await verifyAudit(t.rt.store.db, orgId)).ok).toBe(true);
  });
});

describe('quiet hours at dispatch', () => {
  let t: TestRuntime;
  let orgId: string;
  const submitted: string[] = [];

  beforeAll(async () => {
    t = await openTestRuntime({
      env: { TIDINGS_QUIET_HOURS: '08:00-21:00' },
      runtime: {
        simulator: {
          failWith: (m) => {
            submitted.push(m.messageId);
            return undefined;
          },
        },
      },
    });
    orgId = (await t.rt.orgs.create('Harbor Clinic', SYSTEM_ACTOR)).orgId;
  });
  afterAll(async () => t?.cleanup());

  it('checks again before submitting: a message claimed after 21:00 waits for 08:00', async () => {
    at('2026-06-10T00:59:00Z'); // 20:59 EDT: accepted, due at once
    const { message } = await t.rt.messaging.accept(orgId, actor, {
      to: '+1 212 555 0110',
      body: REMINDER,
      program: 'care',
    });
    expect(message.heldBy).toBeNull();
    // The worker only gets to it at 22:30 (it was down, or the queue was long).
    at('2026-06-10T02:30:00Z');
    t.rt.startWorkers();
    const held = await waitFor(async () => {
      const m = await t.rt.messaging.get(orgId, message.id, actor);
      return m.heldBy === 'quiet_hours' ? m : undefined;
    });
    expect(held).toMatchObject({
      status: 'queued',
      sendAt: '2026-06-10T12:00:00.000Z',
      notBefore: '2026-06-10T12:00:00.000Z',
      attempts: 0,
      sentAt: null,
    });
    const job = await jobOf(t, orgId, message.id);
    expect(job).toMatchObject({ attempts: 0, lease_owner: null });
    expect(Number(job!.due_at)).toBe(Date.parse('2026-06-10T12:00:00Z'));
    const rescheduled = await auditOf(t, orgId, 'message.rescheduled');
    expect(rescheduled).toHaveLength(1);
    expect(JSON.parse(rescheduled[0]!.details)).toMatchObject({ heldBy: 'quiet_hours' });
    expect(submitted).toEqual([]);

    // At 08:00 it goes.
    at('2026-06-10T12:00:05Z');
    t.rt.worker.nudge();
    const sent = await waitFor(async () => {
      const m = await t.rt.messaging.get(orgId, message.id, actor);
      return m.sentAt ? m : undefined;
    });
    expect(Date.parse(sent.sentAt!)).toBeGreaterThanOrEqual(Date.parse('2026-06-10T12:00:00Z'));
    expect(sent.attempts).toBe(1);
    expect(submitted).toEqual([message.id]);
    expect((await verifyAudit(t.rt.store.db, orgId)).ok).toBe(true);
  });
});

describe('TIDINGS_QUIET_HOURS', () => {
  it('defaults to 08:00-21:00, accepts a window or off, and names itself when wrong', () => {
    expect(loadConfig({}).quietHours).toEqual({ start: 480, end: 1260 });
    expect(loadConfig({ TIDINGS_QUIET_HOURS: '09:00-20:00' }).quietHours).toEqual({
      start: 540,
      end: 1200,
    });
    expect(loadConfig({ TIDINGS_QUIET_HOURS: 'off' }).quietHours).toBe('off');
    for (const bad of ['21:00-08:00', '8-21', 'never']) {
      expect(() => loadConfig({ TIDINGS_QUIET_HOURS: bad })).toThrow(ConfigError);
      expect(() => loadConfig({ TIDINGS_QUIET_HOURS: bad })).toThrow(/TIDINGS_QUIET_HOURS/);
    }
  });

  it('off: a message goes at any hour', async () => {
    const t = await openTestRuntime({ env: { TIDINGS_QUIET_HOURS: 'off' } });
    try {
      const { orgId } = await t.rt.orgs.create('Night Clinic', SYSTEM_ACTOR);
      at('2026-06-10T07:00:00Z'); // 03:00 EDT
      const { message } = await t.rt.messaging.accept(orgId, actor, {
        to: '+1 212 555 0120',
        body: REMINDER,
        program: 'care',
      });
      expect(message.heldBy).toBeNull();
      expect(Date.parse(message.sendAt)).toBeLessThan(Date.parse('2026-06-10T07:01:00Z'));
      expect((await t.rt.sendRules.view(orgId)).quietHours).toMatchObject({
        enabled: false,
        effectiveWindow: 'off',
      });
    } finally {
      await t.cleanup();
    }
  });
});

describe('settings API and CLI', () => {
  let t: TestRuntime;
  let orgId: string;
  let base: string;

  async function as(role: Role): Promise<SessionClient> {
    const r = await t.rt.users.create(orgId, `${role}@lakeside.example`, role, SYSTEM_ACTOR);
    const s = await t.rt.sessions.create(r.user, null);
    await t.rt.store.db
      .updateTable('users')
      .set({ mfa_enrolled_at: Date.now() })
      .where('id', '=', r.user.id)
      .execute();
    await t.rt.sessions.markMfaVerified(orgId, s.session.id);
    const c = new SessionClient(base);
    c.cookie = `tidings_session=${s.token}`;
    c.csrf = s.csrfToken;
    return c;
  }

  beforeAll(async () => {
    t = await openTestRuntime({ env: { PORT: '0', TIDINGS_QUIET_HOURS: '08:00-21:00' } });
    orgId = (await t.rt.orgs.create('Settings Clinic', SYSTEM_ACTOR)).orgId;
    base = await t.rt.listen();
  });
  afterAll(async () => t?.cleanup());

  it('lets an admin set the window and exemptions, an auditor read them, and no one else', async () => {
    const admin = await as('admin');
    const put = await admin.call('PUT', '/v1/settings/messaging', {
      quietHours: { window: '09:00-19:00', exemptPrograms: ['care'] },
      caps: { mode: 'defer' },
    });
    expect(put.status).toBe(200);
    expect(put.json).toMatchObject({
      quietHours: {
        installationWindow: '08:00-21:00',
        window: '09:00-19:00',
        effectiveWindow: '09:00-19:00',
        exemptPrograms: ['care'],
      },
      caps: { enabled: false, mode: 'defer', programs: { care: { per24h: 1, per7d: 3 } } },
    });
    const auditor = await as('auditor');
    const got = await auditor.call('GET', '/v1/settings/messaging');
    expect(got.status).toBe(200);
    expect(got.json).toMatchObject({ quietHours: { window: '09:00-19:00' } });
    const rules = (got.json as { quietHours: { stateRules: { state: string; sunday: string }[] } })
      .quietHours.stateRules;
    expect(rules.find((r) => r.state === 'TX')?.sunday).toBe('12:00-21:00');
    expect((await auditor.call('PUT', '/v1/settings/messaging', {})).status).toBe(403);
    const staff = await as('staff');
    expect((await staff.call('GET', '/v1/settings/messaging')).status).toBe(403);
    const wider = await admin.call('PUT', '/v1/settings/messaging', {
      quietHours: { window: '07:00-22:00' },
    });
    expect(wider.status).toBe(400);
    expect(errorCode(wider)).toBe('validation_failed');
  });

  it('sets quiet hours from the CLI', async () => {
    const saved = { ...process.env };
    const out: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
      out.push(String(s));
      return true;
    });
    try {
      Object.assign(process.env, {
        NODE_ENV: 'test',
        TIDINGS_DATA_DIR: t.dir,
        LOG_LEVEL: 'silent',
        TIDINGS_QUIET_HOURS: '08:00-21:00',
      });
      await buildCli().parseAsync([
        'node',
        'tidings',
        'org',
        'set-quiet-hours',
        '--org',
        orgId,
        '--window',
        '08:30-20:00',
        '--exempt',
        'care,billing',
        '--json',
      ]);
    } finally {
      write.mockRestore();
      process.env = saved;
    }
    expect(JSON.parse(out.join(''))).toMatchObject({
      window: '08:30-20:00',
      exemptPrograms: ['care', 'billing'],
    });
    const changed = await auditOf(t, orgId, 'org.settings_changed');
    expect(JSON.parse(changed.at(-1)!.details)).toMatchObject({ quietHoursExempt: 'care,billing' });
  });
});
