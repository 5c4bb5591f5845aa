import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Hl7Problem, parseHl7, parseHl7Time } from './parse-message.js';
import { buildAck } from './ack.js';

const SIU = [
  'MSH|^~\\&|EPIC|LAKESIDE|TIDINGS|LAKESIDE|20261207120000||SIU^S12^SIU_S12|C1|P|2.5.1',
  'SCH|P77^EPIC|F77^EPIC|||||CHECKUP^Checkup|ROUTINE|45|min|^^45^202612101430^^',
  'PID|1||999^^^H^SS~M42^^^H^MR||Smith\\T\\Jones^Ann||19700102|F|||||^PRN^PH^^1^617^5550100~^ORN^CP^^1^617^5550123',
  'AIL|1||RM1^^^Main Clinic',
  'AIP|1||55^Lee^Ken^^^Dr.',
].join('\r');

/** What parsing `text` throws, if anything. */
function problemOf(text: string): unknown {
  try {
    parseHl7(text, 'UTC');
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('parseHl7', () => {
  it('reads an SIU^S12: ids, start, type, location, provider, patient', () => {
    const p = parseHl7(SIU, 'America/New_York');
    expect(p.kind).toBe('siu');
    if (p.kind !== 'siu') return;
    expect(p.header).toMatchObject({ controlId: 'C1', messageType: 'SIU', event: 'S12' });
    expect(p.appointment).toMatchObject({
      externalId: 'F77',
      placerId: 'P77',
      status: 'booked',
      start: Date.parse('2026-12-10T14:30:00-05:00'),
      durationMinutes: 45,
      appointmentType: 'ROUTINE',
      location: 'Main Clinic',
      provider: 'Dr. Lee',
    });
    expect(p.appointment.patient).toEqual({
      mrn: 'M42',
      family: 'Smith&Jones',
      given: 'Ann',
      dob: '1970-01-02',
      phone: '+16175550123',
    });
  });

  it('maps S15 to canceled and S26 to no-show', () => {
    const s15 = parseHl7(SIU.replace('SIU^S12', 'SIU^S15'), 'UTC');
    expect(s15.kind === 'siu' && s15.appointment.status).toBe('canceled');
    const s26 = parseHl7(SIU.replace('SIU^S12', 'SIU^S26'), 'UTC');
    expect(s26.kind === 'siu' && s26.appointment.status).toBe('noshow');
  });

  it('reads ADT patients and reports other types as unsupported', () => {
    const adt = parseHl7(SIU.replace('SIU^S12^SIU_S12', 'ADT^A08'), 'UTC');
    expect(adt.kind).toBe('adt');
    expect(parseHl7(SIU.replace('SIU^S12', 'ORU^R01'), 'UTC').kind).toBe('unsupported');
  });

  it('refuses what it cannot use with an HL7 error code', () => {
    expect(() => parseHl7('hello', 'UTC')).toThrow(Hl7Problem);
    const noSch = SIU.split('\r')
      .filter((s) => !s.startsWith('SCH'))
      .join('\r');
    expect(() => parseHl7(noSch, 'UTC')).toThrow(/SCH/);
  });

  it('needs a start for a new booking (101), not for a change to one', () => {
    const noStart = SIU.replace('^^45^202612101430^^', '^^45^^^');
    const problem = problemOf(noStart);
    expect(problem).toBeInstanceOf(Hl7Problem);
    expect(problem).toMatchObject({ code: 101, ack: 'AE', header: { controlId: 'C1' } });
    expect((problem as Error).message).toMatch(/SCH-11\.4 or AIS-4/);
    const s14 = parseHl7(noStart.replace('SIU^S12', 'SIU^S14'), 'UTC');
    expect(s14.kind === 'siu' && s14.appointment.start).toBe(undefined);
    // An unreadable start is a data type error.
    expect(() => parseHl7(SIU.replace('202612101430', 'tomorrow'), 'UTC')).toThrow(
      expect.objectContaining({ code: 102 }),
    );
  });

  it('needs an MRN or a number to update a patient from ADT (101)', () => {
    const adt = [
      'MSH|^~\\&|EPIC|LAKESIDE|TIDINGS|LAKESIDE|20261207120000||ADT^A08|C2|P|2.5.1',
      'PID|1||||Smith^Ann||19700102|F',
    ].join('\r');
    const problem = problemOf(adt);
    expect(problem).toMatchObject({ code: 101, ack: 'AE', header: { controlId: 'C2' } });
    expect((problem as Error).message).toMatch(/PID-3/);
    const withMrn = parseHl7(adt.replace('PID|1||', 'PID|1||M42^^^H^MR'), 'UTC');
    expect(withMrn.kind === 'adt' && withMrn.patient.mrn).toBe('M42');
  });

  it('never throws anything but Hl7Problem', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (tail) => {
        try {
          parseHl7(`MSH|^~\\&|A|B|C|D|2026||SIU^S12|X|P|2.5.1\r${tail}`, 'UTC');
        } catch (e) {
          expect(e).toBeInstanceOf(Hl7Problem);
        }
      }),
    );
  });
});

describe('parseHl7Time', () => {
  it('reads offsets and local times', () => {
    expect(parseHl7Time('20261210143000+0100', 'UTC')).toBe(Date.parse('2026-12-10T13:30:00Z'));
    expect(parseHl7Time('202612101430', 'UTC')).toBe(Date.parse('2026-12-10T14:30:00Z'));
    expect(parseHl7Time('2026121', 'UTC')).toBe(null);
  });
});

describe('buildAck', () => {
  it('echoes the control id and escapes our text', () => {
    const ack = buildAck(
      { controlId: 'C|1', event: 'S12' },
      'AE',
      'A1',
      { code: 101, text: 'x^y' },
      0,
    );
    expect(ack.split('\r')[1]).toBe('MSA|AE|C\\F\\1');
    expect(ack).toContain('ERR|||101^Required field missing^HL70357|E||||x\\S\\y');
  });
});
