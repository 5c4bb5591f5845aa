/**
 * HL7 v2 feeds beyond one clinic's SIU (issue 7), over real MLLP frames from a third-party
 * client (node-hl7-client): one listener serving several organisations by sending facility
 * (MSH-4), ADT^A04/A08 creating and updating a patient's demographics, and the staff task a
 * reschedule reply leaves, listed and closed over the API. On SQLite and PostgreSQL.
 */
import net from 'node:net';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Message, type InboundResponse } from 'node-hl7-client';
import { DateTime } from 'luxon';
import { pino } from 'pino';
import { announcePgSkip, DIALECTS, openTestRuntime, type TestRuntime } from './helpers.js';
import { Hl7Listener } from '../src/integrations/hl7v2/index.js';
import { loadConfig, ConfigError } from '../src/config/index.js';
import type { Actor } from '../src/audit/index.js';
import { runCli } from './cli-runner.js';

announcePgSkip('HL7 feeds');

const ACTOR: Actor = { type: 'cli', id: 'test' };

function hl7Start(days: number): string {
  return DateTime.utc()
    .plus({ days })
    .set({ hour: 15, minute: 0, second: 0, millisecond: 0 })
    .toFormat('yyyyLLddHHmmss');
}

function siu(facility: string, control: string, fillerId: string, pid: string): string {
  const ts = hl7Start(5);
  return [
    `MSH|^~\\&|EPIC|${facility}^1.2.3^ISO|TIDINGS|TIDINGS|20261207120000||SIU^S12^SIU_S12|${control}|P|2.5.1`,
    `SCH|P${fillerId}^EPIC|${fillerId}^EPIC|||||CHECKUP^Checkup^LOCAL|ROUTINE|20|min|^^20^${ts}^^|||||||||||Booked`,
    pid,
    `AIS|1|A|CHECKUP^Checkup^LOCAL|${ts}|0|min|20|min`,
  ].join('\r');
}

function adt(event: 'A04' | 'A08', control: string, pid: string): string {
  return [
    `MSH|^~\\&|EPIC|NORTH|TIDINGS|TIDINGS|20261207120000||ADT^${event}^ADT_A01|${control}|P|2.5.1`,
    `EVN|${event}|20261207120000`,
    pid,
    'PV1|1|O',
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

describe('HL7_MLLP_FACILITIES', () => {
  const org = (c: string) => `org_${c.repeat(26)}`;
  const base = { NODE_ENV: 'test', TIDINGS_DATA_DIR: '/tmp/tidings-config-test' };

  it('maps sending facilities to organisations, with HL7_MLLP_ORG as the fallback', () => {
    const c = loadConfig({
      ...base,
      HL7_MLLP_PORT: '2575',
      HL7_MLLP_FACILITIES: `NORTH=${org('a')},SOUTH=${org('b')}`,
    });
    expect(c.hl7).toEqual({
      port: 2575,
      orgId: undefined,
      facilities: { NORTH: org('a'), SOUTH: org('b') },
    });
    const both = loadConfig({
      ...base,
      HL7_MLLP_PORT: '2575',
      HL7_MLLP_ORG: org('c'),
      HL7_MLLP_FACILITIES: `NORTH=${org('a')}`,
    });
    expect(both.hl7?.orgId).toBe(org('c'));
  });

  it('refuses a malformed mapping, or a port with no organisation', () => {
    for (const env of [
      { HL7_MLLP_PORT: '2575', HL7_MLLP_FACILITIES: 'NORTH=acme' },
      { HL7_MLLP_PORT: '2575', HL7_MLLP_FACILITIES: `NORTH=${org('a')},` },
      { HL7_MLLP_PORT: '2575' },
      { HL7_MLLP_FACILITIES: `NORTH=${org('a')}` },
    ]) {
      expect(() => loadConfig({ ...base, ...env }), JSON.stringify(env)).toThrow(ConfigError);
    }
  });
});

describe.each(DIALECTS)('HL7 v2 feeds on %s', (dialect) => {
  let t: TestRuntime;
  let port: number;
  let north: string;
  let south: string;
  let fallback: string;
  let strict: Hl7Listener | undefined;

  beforeAll(async () => {
    t = await openTestRuntime({ dialect, env: { PORT: '0' } });
    north = (await t.rt.orgs.create('North Clinic', ACTOR)).orgId;
    south = (await t.rt.orgs.create('South Clinic', ACTOR)).orgId;
    fallback = (await t.rt.orgs.create('Main Clinic', ACTOR)).orgId;
    // As `tidings serve` starts it with HL7_MLLP_PORT, HL7_MLLP_ORG and HL7_MLLP_FACILITIES.
    port = await t.rt.startHl7Listener(fallback, 0, { NORTH: north, SOUTH: south });
  });

  afterAll(async () => {
    await strict?.stopHl7Listener();
    await t?.cleanup();
  });

  it('routes each message to its sending facility’s organisation, others to the fallback', async () => {
    const pid = (mrn: string, phone: string) =>
      `PID|1||${mrn}^^^X^MR||Doe^Jo||19900101|F|||||^PRN^CP^^1^617^${phone}`;
    for (const [facility, control, filler] of [
      ['NORTH', 'F-1', 'N100'],
      ['SOUTH', 'F-2', 'S100'],
      ['ELSEWHERE', 'F-3', 'E100'],
    ] as const) {
      const ack = await send(port, siu(facility, control, filler, pid(filler, '5550140')));
      expect(ack.get('MSA.1').toString(), facility).toBe('AA');
    }
    expect(await t.rt.reminders.exists(north, 'N100')).toBe(true);
    expect(await t.rt.reminders.exists(south, 'S100')).toBe(true);
    expect(await t.rt.reminders.exists(fallback, 'E100')).toBe(true);
    expect(await t.rt.reminders.exists(fallback, 'N100')).toBe(false);
    expect(await t.rt.reminders.exists(north, 'S100')).toBe(false);
    // Control ids are per organisation: the same id from another facility is not a duplicate.
    const again = await send(port, siu('SOUTH', 'F-1', 'S101', pid('S101', '5550141')));
    expect(again.get('MSA.1').toString()).toBe('AA');
    expect(await t.rt.reminders.exists(south, 'S101')).toBe(true);
  });

  it('rejects (AR) a facility no organisation is configured for when there is no fallback', async () => {
    strict = new Hl7Listener(t.rt.store, t.rt.reminders, pino({ level: 'silent' }), {
      orgId: undefined,
      facilities: { NORTH: north },
      host: '127.0.0.1',
      port: 0,
    });
    const strictPort = await strict.startHl7Listener();
    const pid = 'PID|1||Z9^^^X^MR||Doe^Al||19900101|M|||||^PRN^CP^^1^617^5550150';
    const ack = await send(strictPort, siu('WEST', 'W-1', 'W100', pid));
    expect(ack.get('MSA.1').toString()).toBe('AR');
    expect(ack.get('MSA.2').toString()).toBe('W-1');
    expect(ack.get('ERR.3.1').toString()).toBe('103');
    expect(ack.get('ERR.8').toString()).toContain('MSH-4');
    for (const o of [north, south, fallback]) {
      expect(await t.rt.reminders.exists(o, 'W100')).toBe(false);
    }
    // The listener goes on: a known facility is still accepted.
    const ok = await send(strictPort, siu('NORTH', 'W-2', 'N200', pid));
    expect(ok.get('MSA.1').toString()).toBe('AA');
    expect(await t.rt.reminders.exists(north, 'N200')).toBe(true);
  });

  it('ADT^A04 registers a patient and ADT^A08 updates the demographics', async () => {
    const a04 = adt(
      'A04',
      'ADT-1',
      'PID|1||MRN-5150^^^NORTH^MR||Rivera^Ana^^^^^L||19750302|F|||||^PRN^CP^^1^617^5550160',
    );
    expect((await send(port, a04)).get('MSA.1').toString()).toBe('AA');
    // An appointment for that MRN with no number of its own: the contact's is used.
    const noPhone = 'PID|1||MRN-5150^^^NORTH^MR';
    expect((await send(port, siu('NORTH', 'ADT-2', 'N300', noPhone))).get('MSA.1').toString()).toBe(
      'AA',
    );
    const first = await t.rt.reminders.get(north, 'N300', ACTOR);
    expect(await t.rt.reminders.recipientsFor(north, { location: undefined })).toContainEqual({
      phone: '+16175550160',
      firstName: 'Ana',
    });

    // A08: new name (escape sequence in it), new mobile, corrected birth date.
    const a08 = adt(
      'A08',
      'ADT-3',
      'PID|1||MRN-5150^^^NORTH^MR||Rivera\\T\\Lopez^Anabel^^^^^L||19750320|F|||||^PRN^PH^^1^617^5550100~^PRN^CP^^1^617^5550161',
    );
    expect((await send(port, a08)).get('MSA.1').toString()).toBe('AA');
    const recipients = await t.rt.reminders.recipientsFor(north, {});
    expect(recipients).toContainEqual({ phone: '+16175550161', firstName: 'Anabel' });
    expect(recipients.some((r) => r.phone === '+16175550160')).toBe(false);
    // Same contact (matched by MRN), not a second one.
    const after = await t.rt.reminders.get(north, 'N300', ACTOR);
    expect(after.appointment.contactId).toBe(first.appointment.contactId);
    // The reminders queued to the old number were canceled and queued again to the new one.
    const queued = after.reminders.filter((r) => r.status === 'scheduled');
    expect(queued).toHaveLength(first.reminders.length);
    for (const r of queued) {
      expect((await t.rt.messaging.get(north, r.messageId!, ACTOR)).to).toBe('+16175550161');
    }
    const old = await t.rt.messaging.statuses(
      north,
      first.reminders.map((r) => r.messageId!),
    );
    expect([...old.values()].every((v) => v === 'canceled')).toBe(true);
    // A repeat of the same demographics changes nothing.
    expect((await send(port, a08.replace('ADT-3', 'ADT-4'))).get('MSA.1').toString()).toBe('AA');
    const same = await t.rt.reminders.get(north, 'N300', ACTOR);
    expect(same.reminders.filter((r) => r.status === 'scheduled').map((r) => r.id)).toEqual(
      queued.map((r) => r.id),
    );
    const contacts = await t.rt.store.db
      .selectFrom('reminder_contacts')
      .select(['id', 'dob_enc', 'name_enc'])
      .where('org_id', '=', north)
      .where('id', '=', after.appointment.contactId)
      .execute();
    expect(contacts).toHaveLength(1);
    // Encrypted at rest: nothing of the new name or birth date in clear.
    expect(JSON.stringify(contacts)).not.toMatch(/Anabel|Lopez|1975/);
  });

  it('ADT without an MRN whose only number cannot be texted gets AE and stores nothing', async () => {
    const before = await t.rt.store.db
      .selectFrom('reminder_contacts')
      .select('id')
      .where('org_id', '=', north)
      .execute();
    const ack = await send(
      port,
      adt('A04', 'ADT-9', 'PID|1||||Doe^Jo||19800101|F|||||^PRN^CP^^1^555^0'),
    );
    expect(ack.get('MSA.1').toString()).toBe('AE');
    expect(ack.get('ERR.3.1').toString()).toBe('102');
    const after = await t.rt.store.db
      .selectFrom('reminder_contacts')
      .select('id')
      .where('org_id', '=', north)
      .execute();
    expect(after).toHaveLength(before.length);
  });

  it('a reschedule reply leaves a task staff list and close over the API', async () => {
    const pid = 'PID|1||MRN-7000^^^SOUTH^MR||Kim^Lee||19880808|M|||||^PRN^CP^^1^617^5550170';
    expect((await send(port, siu('SOUTH', 'T-1', 'S700', pid))).get('MSA.1').toString()).toBe('AA');
    const to = (await t.rt.orgs.senders(south))[0]!.number;
    await t.rt.messaging.receiveInbound({ from: '+16175550170', to, body: 'R' });

    const base = await t.rt.listen();
    const key = (
      await t.rt.apiKeys.create(
        south,
        { name: 'desk', scopes: ['appointments:read', 'appointments:write'] },
        ACTOR,
      )
    ).apiKey;
    const readOnly = (
      await t.rt.apiKeys.create(south, { name: 'ro', scopes: ['appointments:read'] }, ACTOR)
    ).apiKey;
    const call = (k: string, method: string, path: string) =>
      fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${k}` } });

    const list = await call(key, 'GET', '/v1/tasks');
    expect(list.status).toBe(200);
    const { data } = (await list.json()) as {
      data: { id: string; externalId: string; kind: string; status: string }[];
    };
    expect(data).toHaveLength(1);
    expect(data[0]).toMatchObject({
      externalId: 'S700',
      kind: 'reschedule_request',
      status: 'open',
    });
    const id = data[0]!.id;
    // No PHI in a task: ids only.
    expect(JSON.stringify(data)).not.toMatch(/5550170|Kim|MRN/);

    // Another organisation's key sees none of them and cannot close them.
    const other = (
      await t.rt.apiKeys.create(north, { name: 'n', scopes: ['appointments:write'] }, ACTOR)
    ).apiKey;
    expect(((await (await call(other, 'GET', '/v1/tasks')).json()) as { data: [] }).data).toEqual(
      [],
    );
    const foreign = await call(other, 'POST', `/v1/tasks/${id}/done`);
    expect(foreign.status).toBe(404);
    expect(((await foreign.json()) as { error: { code: string } }).error.code).toBe(
      'task_not_found',
    );
    expect((await call(readOnly, 'POST', `/v1/tasks/${id}/done`)).status).toBe(403);

    const done = await call(key, 'POST', `/v1/tasks/${id}/done`);
    expect(done.status).toBe(200);
    expect(await done.json()).toEqual({ id, status: 'done' });
    // Closing it again changes nothing.
    expect((await call(key, 'POST', `/v1/tasks/${id}/done`)).status).toBe(200);
    expect(((await (await call(key, 'GET', '/v1/tasks')).json()) as { data: [] }).data).toEqual([]);

    const audit = await t.rt.store.db
      .selectFrom('audit_events')
      .select(['action', 'target_id'])
      .where('org_id', '=', south)
      .where('action', 'in', ['appointment.tasks_listed', 'appointment.task_done'])
      .execute();
    expect(audit.filter((a) => a.action === 'appointment.task_done')).toEqual([
      { action: 'appointment.task_done', target_id: id },
    ]);
    expect(audit.filter((a) => a.action === 'appointment.tasks_listed')).toHaveLength(2);
  });
});

describe('tidings hl7 listen --facilities', () => {
  let t: TestRuntime;
  const saved = { ...process.env };

  beforeAll(async () => {
    t = await openTestRuntime();
    Object.assign(process.env, { NODE_ENV: 'test', TIDINGS_DATA_DIR: t.dir, LOG_LEVEL: 'silent' });
  });
  afterAll(async () => {
    process.env = saved;
    await t?.cleanup();
  });

  it('serves several organisations by sending facility, and refuses a bad mapping', async () => {
    const north = (await t.rt.orgs.create('CLI North', ACTOR)).orgId;
    const south = (await t.rt.orgs.create('CLI South', ACTOR)).orgId;
    const free = net.createServer().listen(0, '127.0.0.1');
    await once(free, 'listening');
    const port = (free.address() as net.AddressInfo).port;
    await new Promise((r) => free.close(r));

    const run = runCli(
      'hl7',
      'listen',
      '--facilities',
      `NORTH=${north},SOUTH=${south}`,
      '--port',
      String(port),
    );
    const pid = 'PID|1||C1^^^X^MR||Doe^Jo||19900101|F|||||^PRN^CP^^1^617^5550170';
    let ack: Message | undefined;
    for (let i = 0; i < 100 && !ack; i++) {
      ack = await send(port, siu('SOUTH', 'C-1', 'S300', pid)).catch(async () => {
        await new Promise((r) => setTimeout(r, 100));
        return undefined;
      });
    }
    expect(ack?.get('MSA.1').toString()).toBe('AA');
    const west = await send(port, siu('WEST', 'C-2', 'W300', pid));
    expect(west.get('MSA.1').toString()).toBe('AR'); // no --org fallback
    process.emit('SIGINT');
    const r = await run;
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`listening for HL7 v2 (MLLP) on 127.0.0.1:${port}`);
    expect(await t.rt.reminders.exists(south, 'S300')).toBe(true);
    expect(await t.rt.reminders.exists(north, 'S300')).toBe(false);

    const bad = await runCli('hl7', 'listen', '--facilities', 'NORTH', '--port', String(port));
    expect(bad.code).toBe(1); // commander's own exit code for an invalid option value
    expect(bad.stderr).toContain('FACILITY=org_');
    const none = await runCli('hl7', 'listen', '--port', String(port));
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('--org, --facilities');
  }, 30_000);
});
