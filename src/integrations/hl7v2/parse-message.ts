/**
 * @module integrations/hl7v2/parse-message
 * Reads the fields Tidings uses from an SIU (scheduling) or ADT (patient) message, parsed by
 * node-hl7-client (which also undoes escape sequences such as \T\ and \F\). Field positions
 * follow HL7 v2.5.1 chapter 10 (SCH, AIS, AIL, AIP) and chapter 3 (MSH, PID).
 */
import { Message, type HL7Node } from 'node-hl7-client';
import { DateTime } from 'luxon';
import type { AppointmentStatus, PatientInput } from '../../reminders/index.js';

/** Trigger events handled (HL7 v2.5.1 tables 0003 and 0076). */
export const SIU_EVENTS = ['S12', 'S13', 'S14', 'S15', 'S17', 'S26'] as const;
export const ADT_EVENTS = ['A04', 'A08', 'A28', 'A31'] as const;

/** S12 new, S13 rescheduled, S14 modified: booked; S15 canceled, S17 deleted; S26 no-show. */
const SIU_STATUS: Record<(typeof SIU_EVENTS)[number], AppointmentStatus> = {
  S12: 'booked',
  S13: 'booked',
  S14: 'booked',
  S15: 'canceled',
  S17: 'canceled',
  S26: 'noshow',
};

export interface Header {
  controlId: string;
  messageType: string;
  event: string;
  sendingApp: string;
  sendingFacility: string;
  version: string;
}

export type ParsedHl7 =
  | { kind: 'siu'; header: Header; appointment: SiuAppointment }
  | { kind: 'adt'; header: Header; patient: PatientInput }
  | { kind: 'unsupported'; header: Header };

export interface SiuAppointment {
  externalId: string;
  placerId?: string | undefined;
  fillerId?: string | undefined;
  status: AppointmentStatus;
  start?: number | undefined;
  durationMinutes?: number | undefined;
  appointmentType?: string | undefined;
  location?: string | undefined;
  provider?: string | undefined;
  patient: PatientInput;
}

/** A message that cannot be used; `code` is from HL7 table 0357 (message error condition). */
export class Hl7Problem extends Error {
  constructor(
    readonly code: 100 | 101 | 102 | 200 | 201 | 207,
    message: string,
    readonly ack: 'AE' | 'AR' = 'AE',
  ) {
    super(message);
  }

  /** The message's header, when it could be read (the ACK echoes it). */
  header: Header | undefined;
}

/** The ERR text for an appointment start that is missing where one is needed. */
export const START_REQUIRED = 'SCH-11.4 or AIS-4 (appointment start) is required';

const str = (n: HL7Node) => n.toString().trim();

/** Component `i` (1-based) of one repetition of a field. */
function comp(rep: HL7Node, i: number): string {
  return rep
    .get(i - 1)
    .toString()
    .trim();
}

/** The repetitions of a field (`~`), none when it is absent. */
function reps(m: Message, path: string): HL7Node[] {
  if (!m.exists(path.split('.')[0]!)) return [];
  const field = m.get(path);
  const out: HL7Node[] = [];
  try {
    field.forEach((r) => out.push(r));
  } catch {
    // An absent field is an empty node, which has no repetitions to walk.
    return [];
  }
  return out.length > 0 ? out : [field];
}

/** An HL7 TS/DTM (YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ]); without an offset, in `zone`. */
export function parseHl7Time(value: string, zone: string): number | null {
  const m = /^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.\d{1,4})?([+-]\d{4})?$/.exec(
    value.trim(),
  );
  if (!m) return null;
  const [, y, mo = '01', d = '01', h = '00', mi = '00', s = '00', off] = m;
  const dt = DateTime.fromObject(
    { year: +y!, month: +mo, day: +d, hour: +h, minute: +mi, second: +s },
    { zone: off ? `UTC${off.slice(0, 3)}:${off.slice(3)}` : zone },
  );
  return dt.isValid ? dt.toMillis() : null;
}

function parseDate(value: string): string | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})/.exec(value);
  return m ? `${m[1]}-${m[2]}-${m[3]}` : undefined;
}

function header(m: Message): Header {
  return {
    controlId: str(m.get('MSH.10')),
    messageType: str(m.get('MSH.9.1')),
    event: str(m.get('MSH.9.2')),
    sendingApp: str(m.get('MSH.3.1')),
    sendingFacility: str(m.get('MSH.4.1')),
    version: str(m.get('MSH.12.1')) || '2.5.1',
  };
}

/** The patient from PID: MRN (PID-3 with type MR), name (PID-5), birth date (PID-7), mobile. */
function patientOf(m: Message): PatientInput {
  if (!m.exists('PID')) throw new Hl7Problem(100, 'PID segment missing');
  const ids = reps(m, 'PID.3');
  const mr = ids.find((r) => comp(r, 5) === 'MR') ?? ids[0];
  const names = reps(m, 'PID.5');
  const name = names.find((r) => comp(r, 7) === 'L' || comp(r, 7) === '') ?? names[0];
  // PID-13 home phone: a cell (equipment CP) first, else the first with a number.
  const phones = reps(m, 'PID.13').concat(reps(m, 'PID.14'));
  const numberOf = (r: HL7Node) => {
    const local = comp(r, 7);
    if (local)
      return `${comp(r, 5) ? `+${comp(r, 5).replace(/\D/g, '')}` : ''}${comp(r, 6)}${local}`;
    return comp(r, 12) || comp(r, 1);
  };
  const usable = phones.filter((r) => comp(r, 2) !== 'NET' && numberOf(r));
  const cell = usable.find((r) => comp(r, 3) === 'CP') ?? usable[0];
  return {
    mrn: mr ? comp(mr, 1) || undefined : undefined,
    family: name ? comp(name, 1) || undefined : undefined,
    given: name ? comp(name, 2) || undefined : undefined,
    dob: parseDate(str(m.get('PID.7'))),
    phone: cell ? numberOf(cell) : undefined,
  };
}

function appointmentOf(m: Message, event: (typeof SIU_EVENTS)[number], zone: string) {
  if (!m.exists('SCH')) throw new Hl7Problem(100, 'SCH segment missing');
  const placerId = str(m.get('SCH.1.1')) || undefined;
  const fillerId = str(m.get('SCH.2.1')) || undefined;
  const externalId = fillerId ?? placerId;
  if (!externalId) throw new Hl7Problem(101, 'SCH-1 or SCH-2 (appointment id) is required');
  // Start: SCH-11.4 (TQ start, v2.3–2.5), else the service's AIS-4.
  const startText = str(m.get('SCH.11.4')) || (m.exists('AIS') ? str(m.get('AIS.4')) : '');
  const start = startText ? parseHl7Time(startText, zone) : null;
  if (startText && start === null) throw new Hl7Problem(102, 'appointment start is not a date');
  // A new booking is nothing without its time (a change to a known one may leave it out).
  if (start === null && event === 'S12') throw new Hl7Problem(101, START_REQUIRED);
  const duration = Number(str(m.get('SCH.9')) || (m.exists('AIS') ? str(m.get('AIS.7')) : ''));
  const unit = str(m.get('SCH.10.1')).toLowerCase();
  const durationMinutes =
    Number.isFinite(duration) && duration > 0
      ? Math.round(
          unit.startsWith('h') ? duration * 60 : unit.startsWith('s') ? duration / 60 : duration,
        )
      : undefined;
  const appointmentType =
    str(m.get('SCH.8.1')) || (m.exists('AIS') ? str(m.get('AIS.3.1')) : '') || undefined;
  // AIL-3 (PL): the location description (PL-9), else the facility (PL-4), else the point of care.
  let location: string | undefined;
  if (m.exists('AIL')) {
    location = str(m.get('AIL.3.9')) || str(m.get('AIL.3.4')) || str(m.get('AIL.3.1')) || undefined;
  }
  let provider: string | undefined;
  if (m.exists('AIP')) {
    const family = str(m.get('AIP.3.2'));
    const prefix = str(m.get('AIP.3.6'));
    provider = family ? [prefix, family].filter(Boolean).join(' ') : undefined;
  }
  return {
    externalId,
    placerId,
    fillerId,
    status: SIU_STATUS[event],
    start: start ?? undefined,
    durationMinutes,
    appointmentType,
    location,
    provider,
  };
}

/** Parses one message; throws Hl7Problem for what cannot be used. */
export function parseHl7(text: string, zone: string): ParsedHl7 {
  let m: Message;
  try {
    m = new Message({ text: text.replace(/\n/g, '\r').replace(/\r+$/, '') });
  } catch {
    throw new Hl7Problem(100, 'not an HL7 v2 message', 'AR');
  }
  const h = header(m);
  if (!h.controlId) throw new Hl7Problem(101, 'MSH-10 (control id) is required', 'AR');
  try {
    return parseKnown(m, h, zone);
  } catch (e) {
    // Anything the parser library throws on odd input is a data error, not ours to crash on.
    const problem = e instanceof Hl7Problem ? e : new Hl7Problem(102, 'a field cannot be read');
    problem.header = h;
    throw problem;
  }
}

function parseKnown(m: Message, h: Header, zone: string): ParsedHl7 {
  if (h.messageType === 'SIU' && (SIU_EVENTS as readonly string[]).includes(h.event)) {
    const appointment = appointmentOf(m, h.event as (typeof SIU_EVENTS)[number], zone);
    const patient = m.exists('PID') ? patientOf(m) : {};
    return { kind: 'siu', header: h, appointment: { ...appointment, patient } };
  }
  if (h.messageType === 'ADT' && (ADT_EVENTS as readonly string[]).includes(h.event)) {
    const patient = patientOf(m);
    // Without an MRN or a number the contact could never be found again: nothing to update.
    if (!patient.mrn && !patient.phone) {
      throw new Hl7Problem(101, 'PID-3 (patient identifier) or PID-13/14 (phone) is required');
    }
    return { kind: 'adt', header: h, patient };
  }
  return { kind: 'unsupported', header: h };
}
