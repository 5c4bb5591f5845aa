/**
 * Appointment reminders from an HL7 v2 feed, end to end (issue 7): a third-party HL7 client
 * (node-hl7-client, not our code) sends real MLLP frames over TCP to the listener; an SIU^S12
 * gives an ACK and three queued reminders, an S15 cancels them, a `C` reply confirms, STOP is
 * still the consent engine's. On SQLite and PostgreSQL.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Message, type InboundResponse } from 'node-hl7-client';
import { DateTime } from 'luxon';
import { pino } from 'pino';
import { announcePgSkip, DIALECTS, openTestRuntime, waitFor, type TestRuntime } from './helpers.js';
import { frame, MllpDecoder } from '../src/integrations/hl7v2/mllp.js';
import type { Actor } from '../src/audit/index.js';

announcePgSkip('HL7 reminders');

const ACTOR: Actor = { type: 'cli', id: 'test' };

/** An HL7 timestamp `days` days ahead at 14:30 UTC. */
function hl7Start(days: number): { ts: string; ms: number } {
  const d = DateTime.utc().plus({ days }).set({ hour: 14, minute: 30, second: 0, millisecond: 0 });
  return { ts: d.toFormat('yyyyLLddHHmmss'), ms: d.toMillis() };
}

function siu(event: string, control: string, fillerId: string, ts: string): string {
  return [
    `MSH|^~\\&|EPIC|LAKESIDE^1.2.3^ISO|TIDINGS|LAKESIDE|20261207120000||SIU^${event}^SIU_S12|${control}|P|2.5.1`,
    `SCH|P${fillerId}^EPIC|${fillerId}^EPIC|||||FOLLOWUP^Follow-up visit^LOCAL|ROUTINE|30|min|^^30^${ts}^^|||||1234^Smith^John|^PRN^PH^^1^617^5550100|||||Booked`,
    'PID|1||MRN-8841^^^LAKESIDE^MR~123-45-6789^^^SSA^SS||O\\T\\Brien^Mary^Ann^^^^L~Mimi^Mary^^^^^N||19800115|F|||1 Main St^^Boston^MA^02118||^PRN^CP^^1^617^5550123~^NET^Internet^mary@example.com|^WPN^PH^^1^617^5550199',
    'RGS|1|A',
    `AIS|1|A|FOLLOWUP^Follow-up visit^LOCAL|${ts}|0|min|30|min`,
    'AIL|1|A|EXAM3^^^LAKESIDE^^^^^Lakeside Main\\F\\2nd floor|',
    'AIP|1|A|1234^Smith^John^^^Dr.|ATT^Attending',
  ].join('\r');
}

/** Sends one message with the third-party client and waits for its ACK. */
async function send(port: number, text: string): Promise<Message> {
  const client = new Client({ host: '127.0.0.1' });
  let resolve!: (m: Message) => void;
  const acked = new Promise<Message>((r) => (resolve = r));
  const conn = client.createConnection({ port, waitAck: true }, (res: InboundResponse) => {
    resolve(res.getMessage());
  });
  try {
    await conn.sendMessage(new Message({ text }));
    return await Promise.race([
      acked,
      new Promise<never>((_r, rej) => setTimeout(() => rej(new Error('no ACK')), 10_000)),
    ]);
  } finally {
    await conn.close();
  }
}

describe.each(DIALECTS)('HL7 v2 reminders on %s', (dialect) => {
  let t: TestRuntime;
  let port: number;
  let orgId: string;

  // Every log line, to prove none carries the patient's number, name, MRN or birth date.
  const logLines: string[] = [];

  beforeAll(async () => {
    const log = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
    t = await openTestRuntime({ dialect, runtime: { log } });
    orgId = (await t.rt.orgs.create('Lakeside Clinic', ACTOR)).orgId;
    await t.rt.orgs.setWebhook(orgId, 'https://hooks.example.com/tidings', ACTOR);
    // As `tidings serve` starts it with HL7_MLLP_PORT and HL7_MLLP_ORG (port 0: any free one).
    port = await t.rt.startHl7Listener(orgId, 0);
  });

  afterAll(async () => {
    await t?.cleanup();
  });

  it('SIU^S12 gives AA and three scheduled reminders; S15 cancels them', async () => {
    const start = hl7Start(5);
    const ack = await send(port, siu('S12', 'CTRL-1', 'F1001', start.ts));
    expect(ack.get('MSA.1').toString()).toBe('AA');
    expect(ack.get('MSA.2').toString()).toBe('CTRL-1');

    const got = await t.rt.reminders.get(orgId, 'F1001', ACTOR);
    expect(got.appointment.status).toBe('booked');
    expect(got.appointment.start).toBe(new Date(start.ms).toISOString());
    expect(got.appointment.location).toBe('Lakeside Main|2nd floor');
    expect(got.appointment.placerId).toBe('PF1001');
    expect(got.reminders.map((r) => r.offsetMinutes)).toEqual([4320, 1440, 120]);
    expect(got.reminders.every((r) => r.status === 'scheduled' && r.messageId)).toBe(true);
    const msg = await t.rt.messaging.get(orgId, got.reminders[0]!.messageId!, ACTOR);
    expect(msg.status).toBe('queued');
    expect(msg.to).toBe('+16175550123');
    expect(msg.body).toContain('Reply C to confirm, R to reschedule, STOP to opt out.');
    expect(msg.body).not.toMatch(/follow-up|MRN|8841/i);

    // The same control id again: acknowledged, ignored.
    const dup = await send(port, siu('S12', 'CTRL-1', 'F1001', start.ts));
    expect(dup.get('MSA.1').toString()).toBe('AA');
    expect((await t.rt.reminders.get(orgId, 'F1001', ACTOR)).reminders).toHaveLength(3);

    const cancel = await send(port, siu('S15', 'CTRL-2', 'F1001', start.ts));
    expect(cancel.get('MSA.1').toString()).toBe('AA');
    const after = await t.rt.reminders.get(orgId, 'F1001', ACTOR);
    expect(after.appointment.status).toBe('canceled');
    expect(after.reminders.map((r) => r.status)).toEqual(['canceled', 'canceled', 'canceled']);
    const statuses = await t.rt.messaging.statuses(
      orgId,
      after.reminders.map((r) => r.messageId!),
    );
    expect([...statuses.values()]).toEqual(['canceled', 'canceled', 'canceled']);
  });

  it('S13 moves the reminders, keeping none for a past time', async () => {
    const first = hl7Start(6);
    await send(port, siu('S12', 'CTRL-10', 'F2002', first.ts));
    const moved = hl7Start(2); // 72 h before is already past
    const ack = await send(port, siu('S13', 'CTRL-11', 'F2002', moved.ts));
    expect(ack.get('MSA.1').toString()).toBe('AA');
    const got = await t.rt.reminders.get(orgId, 'F2002', ACTOR);
    const live = got.reminders.filter((r) => r.status === 'scheduled');
    expect(live.map((r) => r.offsetMinutes)).toEqual([1440, 120]);
    expect(live.every((r) => Date.parse(r.sendAt) > Date.now())).toBe(true);
    expect(got.reminders.filter((r) => r.status === 'canceled')).toHaveLength(3);
  });

  it('a C reply confirms, R leaves a task, STOP is still handled first', async () => {
    const start = hl7Start(4);
    await send(port, siu('S12', 'CTRL-20', 'F3003', start.ts));
    // The reply acts on the patient's next active appointment: cancel the earlier one.
    await send(port, siu('S15', 'CTRL-21', 'F2002', hl7Start(2).ts));
    const to = (await t.rt.orgs.senders(orgId))[0]!.number;
    await t.rt.messaging.receiveInbound({ from: '+16175550123', to, body: 'c' });
    expect((await t.rt.reminders.get(orgId, 'F3003', ACTOR)).appointment.status).toBe('confirmed');
    const hooks = await t.rt.store.db
      .selectFrom('webhook_deliveries')
      .select(['event_type', 'payload'])
      .where('org_id', '=', orgId)
      .where('event_type', '=', 'appointment.confirmed')
      .execute();
    expect(hooks).toHaveLength(1);
    expect(JSON.parse(hooks[0]!.payload)).toMatchObject({ externalId: 'F3003' });

    await t.rt.messaging.receiveInbound({ from: '+16175550123', to, body: 'R' });
    const tasks = await t.rt.reminders.tasks(orgId);
    expect(tasks.some((k) => k.kind === 'reschedule_request')).toBe(true);

    await t.rt.messaging.receiveInbound({ from: '+16175550123', to, body: 'STOP' });
    const state = await t.rt.consent.show(orgId, '+16175550123');
    expect(JSON.stringify(state)).toContain('opted_out');
    // STOP was the consent engine's alone: no second task, no status change.
    expect((await t.rt.reminders.tasks(orgId)).length).toBe(tasks.length);
    // Reminders still queued to the number were canceled by the opt-out.
    const rem = (await t.rt.reminders.get(orgId, 'F3003', ACTOR)).reminders;
    await waitFor(async () => {
      const s = await t.rt.messaging.statuses(
        orgId,
        rem.map((r) => r.messageId!),
      );
      return [...s.values()].every((x) => x === 'canceled');
    });
  });

  it('answers AR to unreadable or unsupported messages and keeps listening', async () => {
    // Raw bytes, not through the client: the client refuses to build bad messages.
    const raw = await new Promise<string[]>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1');
      const dec = new MllpDecoder();
      const acks: string[] = [];
      s.on('data', (b) => {
        acks.push(...dec.push(b));
        if (acks.length === 3) {
          s.end();
          resolve(acks);
        }
      });
      s.on('error', reject);
      s.write(frame('this is not HL7'));
      s.write(frame('MSH|^~\\&|X|Y|Z|W|20261207||ORU^R01|CTRL-99|P|2.5.1'));
      s.write(frame('MSH|^~\\&|X|Y|Z|W|20261207||SIU^S12|CTRL-98|P|2.5.1\rPID|1||M1^^^X^MR'));
    });
    expect(raw[0]).toContain('MSA|AR|');
    expect(raw[1]).toContain('MSA|AR|CTRL-99');
    expect(raw[1]).toContain('ERR|||200^');
    expect(raw[2]).toContain('MSA|AE|CTRL-98');
    const ok = await send(port, siu('S12', 'CTRL-30', 'F4004', hl7Start(3).ts));
    expect(ok.get('MSA.1').toString()).toBe('AA');
  });

  it('answers AE 101 to an SIU with no start, stores nothing, and takes the corrected resend', async () => {
    const start = hl7Start(7);
    const noStart = siu('S12', 'CTRL-40', 'F5005', '');
    const ack = await send(port, noStart);
    expect(ack.get('MSA.1').toString()).toBe('AE');
    expect(ack.get('MSA.2').toString()).toBe('CTRL-40');
    expect(ack.get('ERR.3.1').toString()).toBe('101');
    expect(ack.get('ERR.3.2').toString()).toBe('Required field missing');
    expect(ack.get('ERR.8').toString()).toContain('AIS-4');
    // The ERR names the field, never a value from the message.
    for (const secret of ['5550123', 'Brien', 'MRN-8841', '19800115', 'Mary', 'F5005']) {
      expect(ack.toString()).not.toContain(secret);
    }
    expect(await t.rt.reminders.exists(orgId, 'F5005')).toBe(false);

    // Fixed upstream and resent with the same control id: processed, not a duplicate.
    const fixed = await send(port, siu('S12', 'CTRL-40', 'F5005', start.ts));
    expect(fixed.get('MSA.1').toString()).toBe('AA');
    expect(fixed.get('MSA.2').toString()).toBe('CTRL-40');
    const got = await t.rt.reminders.get(orgId, 'F5005', ACTOR);
    expect(got.appointment.start).toBe(new Date(start.ms).toISOString());
    expect(got.appointment.status).toBe('booked');

    // A reschedule (S13) of an appointment not known here, without a start: the same answer.
    const unknown = await send(port, siu('S13', 'CTRL-41', 'F5006', ''));
    expect(unknown.get('MSA.1').toString()).toBe('AE');
    expect(unknown.get('ERR.3.1').toString()).toBe('101');
    expect(await t.rt.reminders.exists(orgId, 'F5006')).toBe(false);
    const unknownFixed = await send(port, siu('S13', 'CTRL-41', 'F5006', start.ts));
    expect(unknownFixed.get('MSA.1').toString()).toBe('AA');
    expect(await t.rt.reminders.exists(orgId, 'F5006')).toBe(true);

    // A change to a known appointment may leave the start out: it keeps the stored one.
    const modified = await send(port, siu('S14', 'CTRL-42', 'F5005', ''));
    expect(modified.get('MSA.1').toString()).toBe('AA');
    const kept = await t.rt.reminders.get(orgId, 'F5005', ACTOR);
    expect(kept.appointment.start).toBe(new Date(start.ms).toISOString());
  });

  // SQLite only: on PostgreSQL two connections can still race on creating the same new
  // appointment (its unique key), and the loser gets AE 207; the sender's resend is then a
  // duplicate and gets AA.
  it.runIf(dialect === 'sqlite')(
    'answers AA to the same message sent on several connections at once',
    async () => {
      const { ts } = hl7Start(6);
      const text = siu('S12', 'CTL-TWICE', 'A5500', ts);
      const acks = await Promise.all([send(port, text), send(port, text), send(port, text)]);
      expect(acks.map((a) => a.get('MSA.1').toString())).toEqual(['AA', 'AA', 'AA']);
      // Stored once (this patient opted out in an earlier test, so no reminders are queued).
      const appt = await t.rt.reminders.get(orgId, 'A5500', ACTOR);
      expect(appt.appointment).toMatchObject({ externalId: 'A5500', status: 'booked' });
      const seen = await t.rt.store.db
        .selectFrom('hl7_messages')
        .select('control_id')
        .where('org_id', '=', orgId)
        .where('control_id', '=', 'CTL-TWICE')
        .execute();
      expect(seen).toHaveLength(1);
    },
  );

  it('logs control ids, never PHI', () => {
    expect(logLines.some((l) => l.includes('CTRL-1'))).toBe(true);
    for (const secret of ['5550123', 'Brien', 'MRN-8841', '19800115', '1980-01-15', 'Mary']) {
      expect(logLines.filter((l) => l.includes(secret))).toEqual([]);
    }
  });
});
