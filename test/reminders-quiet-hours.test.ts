/**
 * Reminders and quiet hours with the real send rules (issue 7): a reminder that would fall in
 * the recipient's quiet hours moves earlier, to the evening before, and the pipeline keeps
 * that time (it is inside the window).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DateTime } from 'luxon';
import { openTestRuntime, type TestRuntime } from './helpers.js';
import type { Actor } from '../src/audit/index.js';

const ACTOR: Actor = { type: 'cli', id: 'test' };

describe('reminders in quiet hours', () => {
  let t: TestRuntime;
  let orgId: string;

  beforeAll(async () => {
    t = await openTestRuntime({ env: { TIDINGS_QUIET_HOURS: '08:00-21:00' } });
    orgId = (await t.rt.orgs.create('Bay Clinic', ACTOR)).orgId;
  });
  afterAll(async () => t?.cleanup());

  it('moves a 07:00 reminder to the evening before, not to after the appointment', async () => {
    // 09:00 in Boston (a 617 number), five days ahead: 2 h before is 07:00, in quiet hours.
    const start = DateTime.now()
      .setZone('America/New_York')
      .plus({ days: 5 })
      .set({ hour: 9, minute: 0, second: 0, millisecond: 0 });
    const r = await t.rt.reminders.upsertAppointment(orgId, ACTOR, {
      externalId: 'Q1',
      source: 'api',
      status: 'booked',
      start: start.toMillis(),
      patient: { mrn: 'Q-1', phone: '+16175550123', given: 'Ann' },
    });
    const two = r!.reminders.find((x) => x.offsetMinutes === 120)!;
    const local = DateTime.fromISO(two.sendAt).setZone('America/New_York');
    expect(local.toISODate()).toBe(start.minus({ days: 1 }).toISODate());
    expect(local.hour).toBeLessThan(21);
    expect(local.hour).toBeGreaterThanOrEqual(20);
    const msg = await t.rt.messaging.get(orgId, two.messageId!, ACTOR);
    expect(msg.sendAt).toBe(two.sendAt);
    expect(msg.heldBy).toBeNull();
    const preview = await t.rt.reminders.preview(orgId, 'Q1');
    expect(preview.plan.find((p) => p.offsetMinutes === 120)?.moved).toBe('earlier');
  });
});
