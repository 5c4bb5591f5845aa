/**
 * Frequency caps in the send path, end to end: the FCC healthcare-exemption defaults for
 * `care` (1 a day, 3 a week, ≤ 160 characters, reply-STOP instructions) refused with a code
 * or deferred by organisation setting, caps counted from the messages themselves (canceled
 * ones do not count), and the check again at dispatch. Quiet hours are off here (the helper's
 * default); the clock is faked (Date only) to move across days.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { DIALECTS, announcePgSkip, openTestRuntime, waitFor, type TestRuntime } from './helpers.js';
import { SYSTEM_ACTOR, verifyAudit } from '../src/audit/index.js';
import { AppError } from '../src/errors/index.js';

announcePgSkip('frequency caps');

const actor = { type: 'api_key' as const, id: 'key_test' };
const admin = { type: 'user' as const, id: 'usr_admin' };
const REMINDER = 'Lakeside Clinic: your visit is on Tuesday at 10:30. Reply STOP to opt out.';
const H = 3600_000;
const MINUTE = 60_000;
const T0 = Date.parse('2026-06-01T15:00:00Z');

function at(ms: number): void {
  vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
  vi.setSystemTime(new Date(ms));
}

afterEach(() => {
  vi.useRealTimers();
});

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'accepted';
  } catch (e) {
    if (e instanceof AppError) return e.code;
    throw e;
  }
}

describe.each(DIALECTS)('frequency caps on %s', (dialect) => {
  let t: TestRuntime;
  let orgId: string;
  const send = (to: string, body = REMINDER, extra: { sendAt?: string } = {}) =>
    t.rt.messaging.accept(orgId, actor, { to, body, program: 'care', ...extra });
  const count = async () =>
    Number(
      (
        await t.rt.store.db
          .selectFrom('messages')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('org_id', '=', orgId)
          .executeTakeFirstOrThrow()
      ).n,
    );

  beforeAll(async () => {
    t = await openTestRuntime({ dialect, env: { TIDINGS_FREQUENCY_CAPS: 'on' } });
    orgId = (await t.rt.orgs.create('Capped Clinic', SYSTEM_ACTOR)).orgId;
  });
  afterAll(async () => t?.cleanup());

  it('allows one care text a day per recipient and refuses the second with a code', async () => {
    at(T0);
    await send('+1 617 555 0100');
    const before = await count();
    expect(await refusal(send('+1 617 555 0100'))).toBe('frequency_cap_exceeded');
    expect(await count()).toBe(before); // nothing queued
    // Another recipient, or another program, is not affected.
    await send('+1 617 555 0101');
    await t.rt.messaging.accept(orgId, actor, {
      to: '+1 617 555 0100',
      body: 'Lakeside Clinic: your statement is ready.',
      program: 'billing',
    });
    // 24 hours later the next one fits (a text counts until the end of its minute).
    at(T0 + 24 * H + MINUTE);
    await send('+1 617 555 0100');
  });

  it('allows three a week', async () => {
    const to = '+1 617 555 0102';
    for (const day of [0, 1, 2]) {
      at(T0 + day * 25 * H);
      await send(to);
    }
    at(T0 + 3 * 25 * H);
    expect(await refusal(send(to))).toBe('frequency_cap_exceeded');
    // Once the first is a week old, there is room again.
    at(T0 + 7 * 24 * H + MINUTE);
    await send(to);
  });

  it('counts texts scheduled ahead, and not the ones canceled', async () => {
    const to = '+1 617 555 0103';
    at(T0);
    const later = await send(to, REMINDER, { sendAt: new Date(T0 + 10 * H).toISOString() });
    expect(await refusal(send(to))).toBe('frequency_cap_exceeded');
    await t.rt.messaging.cancel(orgId, later.message.id, actor);
    await send(to);
  });

  it('holds care texts without express consent to the exemption: ≤ 160 characters, reply STOP', async () => {
    at(T0);
    expect(await refusal(send('+1 617 555 0104', 'Lakeside Clinic: see you Tuesday.'))).toBe(
      'exemption_conditions_unmet',
    );
    expect(await refusal(send('+1 617 555 0104', `${'x'.repeat(150)} Reply STOP`))).toBe(
      'exemption_conditions_unmet',
    );
    await send('+1 617 555 0104', `${'x'.repeat(149)} Reply STOP`);
  });

  it('defers instead of refusing when the organisation says so', async () => {
    await t.rt.sendRules.setSettings(orgId, { caps: { mode: 'defer' } }, admin);
    const to = '+1 617 555 0105';
    at(T0);
    const first = await send(to);
    const second = await send(to);
    expect(second.message).toMatchObject({ status: 'queued', heldBy: 'frequency_cap' });
    // A day after the first (counted to the end of its minute).
    const gap = Date.parse(second.message.sendAt) - Date.parse(first.message.sendAt);
    expect(gap).toBeGreaterThanOrEqual(24 * H);
    expect(gap).toBeLessThan(24 * H + MINUTE);
    expect(second.message.notBefore).toBe(second.message.sendAt);
    const job = await t.rt.store.db
      .selectFrom('dispatch_jobs')
      .select('due_at')
      .where('org_id', '=', orgId)
      .where('message_id', '=', second.message.id)
      .executeTakeFirstOrThrow();
    expect(Number(job.due_at)).toBe(Date.parse(second.message.sendAt));
    // A third waits for the next free day after that.
    const third = await send(to);
    expect(Date.parse(third.message.sendAt)).toBe(Date.parse(second.message.sendAt) + 24 * H);
    await t.rt.sendRules.setSettings(orgId, {}, admin);
  });

  it('lets an organisation set its own caps, or none', async () => {
    await t.rt.sendRules.setSettings(
      orgId,
      { caps: { programs: { care: null, billing: { per24h: 2 } } } },
      admin,
    );
    at(T0);
    const to = '+1 617 555 0106';
    await send(to, 'No limits here.');
    await send(to, 'No limits here.');
    const bill = () =>
      t.rt.messaging.accept(orgId, actor, { to, body: 'Statement ready.', program: 'billing' });
    await bill();
    await bill();
    expect(await refusal(bill())).toBe('frequency_cap_exceeded');
    await expect(
      t.rt.sendRules.setSettings(orgId, { caps: { programs: { care: { per24h: 0 } } } }, admin),
    ).rejects.toMatchObject({ code: 'validation_failed' });
    await t.rt.sendRules.setSettings(orgId, {}, admin);
  });

  it('keeps a short history per recipient, dropping entries older than the longest window', async () => {
    const to = '+1 617 555 0107';
    at(T0);
    await send(to);
    at(T0 + 2 * 24 * H);
    await send(to);
    at(T0 + 9 * 24 * H);
    const last = await send(to);
    const { to_index } = await t.rt.store.db
      .selectFrom('messages')
      .select('to_index')
      .where('org_id', '=', orgId)
      .where('id', '=', last.message.id)
      .executeTakeFirstOrThrow();
    const row = await t.rt.store.db
      .selectFrom('send_log')
      .select(['to_index', 'entries'])
      .where('org_id', '=', orgId)
      .where('to_index', '=', to_index.slice(0, 16))
      .where('program', '=', 'care')
      .executeTakeFirstOrThrow();
    // The first text (9 days old) is gone; the second (7 days old) and the third remain.
    expect(row.entries.split(' ')).toHaveLength(2);
    expect(row.entries).not.toContain(last.message.id); // no ids or numbers, only short keys
    expect(row.to_index).toHaveLength(16);
  });

  it('keeps the audit chain intact', async () => {
    expect((await verifyAudit(t.rt.store.db, orgId)).ok).toBe(true);
  });
});

describe('frequency caps at dispatch', () => {
  it('cancels (refuse) or reschedules (defer) a message a late send pushed over the cap', async () => {
    const t = await openTestRuntime({ env: { TIDINGS_FREQUENCY_CAPS: 'on' } });
    try {
      const refusing = (await t.rt.orgs.create('Refusing Clinic', SYSTEM_ACTOR)).orgId;
      const deferring = (await t.rt.orgs.create('Deferring Clinic', SYSTEM_ACTOR)).orgId;
      await t.rt.sendRules.setSettings(deferring, { caps: { mode: 'defer' } }, admin);
      at(T0);
      const ids: Record<string, { a: string; b: string }> = {};
      for (const orgId of [refusing, deferring]) {
        // A goes now, B 25 hours later: both fit at acceptance.
        const a = await t.rt.messaging.accept(orgId, actor, {
          to: '+1 617 555 0200',
          body: REMINDER,
          program: 'care',
        });
        const b = await t.rt.messaging.accept(orgId, actor, {
          to: '+1 617 555 0200',
          body: REMINDER,
          program: 'care',
          sendAt: new Date(T0 + 25 * H).toISOString(),
        });
        ids[orgId] = { a: a.message.id, b: b.message.id };
        // A was in fact sent 20 hours late (held, retried): B now comes 5 hours after it.
        await t.rt.store.db
          .updateTable('messages')
          .set({ status: 'sent', sent_at: T0 + 20 * H })
          .where('org_id', '=', orgId)
          .where('id', '=', a.message.id)
          .execute();
        await t.rt.store.db
          .deleteFrom('dispatch_jobs')
          .where('org_id', '=', orgId)
          .where('message_id', '=', a.message.id)
          .execute();
      }
      at(T0 + 25 * H + 60_000);
      t.rt.startWorkers();
      const canceled = await waitFor(async () => {
        const m = await t.rt.messaging.get(refusing, ids[refusing]!.b, actor);
        return m.status === 'canceled' ? m : undefined;
      });
      expect(canceled.failureCode).toBe('frequency_cap_exceeded');
      const held = await waitFor(async () => {
        const m = await t.rt.messaging.get(deferring, ids[deferring]!.b, actor);
        return m.heldBy === 'frequency_cap' ? m : undefined;
      });
      expect(held).toMatchObject({
        status: 'queued',
        sendAt: new Date(T0 + 44 * H).toISOString(),
        attempts: 0,
      });
      // The log now counts it when it will go.
      const rows = await t.rt.store.db
        .selectFrom('send_log')
        .select('entries')
        .where('org_id', '=', deferring)
        .execute();
      expect(rows.map((r) => r.entries).join(' ')).toContain(`:${(T0 + 44 * H).toString(36)}`);
      expect((await verifyAudit(t.rt.store.db, refusing)).ok).toBe(true);
      expect((await verifyAudit(t.rt.store.db, deferring)).ok).toBe(true);
    } finally {
      await t.cleanup();
    }
  });
});
