import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { scan } from '../content-guard/index.js';
import { countSegments } from '../messaging/index.js';
import {
  formatDate,
  formatLink,
  formatSlot,
  formatTime,
  MAX_CLINIC_NAME,
  MAX_FIRST_NAME,
  MAX_LINK,
  MAX_LOCATION,
  MAX_PROVIDER_NAME,
  SLOT_LONGEST,
  SLOT_SAMPLES,
  SLOT_TYPES,
  type SlotContext,
  type SlotType,
} from './slots.js';

const ctx: SlotContext = { scan, phone: { regions: ['US', 'CA'] } };

function ok(type: SlotType, value: unknown): string {
  const r = formatSlot(type, value, ctx);
  if (!r.ok) throw new Error(`${type} refused: ${r.problem}`);
  return r.text;
}
function problem(type: SlotType, value: unknown): string | null {
  const r = formatSlot(type, value, ctx);
  return r.ok ? null : r.problem;
}

describe('firstName', () => {
  it.each(['Alex', 'José María', "O'Brien", 'O’Brien', 'Mary-Jane', 'Zoë', 'Łukasz', 'Allegra'])(
    'accepts %s',
    (v) => expect(ok('firstName', v)).toBe(v),
  );
  it('trims and composes accents (NFC)', () => {
    expect(ok('firstName', '  Zoe\u0308 ')).toBe('Zoë');
  });
  it.each([
    '',
    ' ',
    'Alex2',
    'R2D2',
    'Alex!',
    '-Alex',
    'Alex-',
    'Alex  Lee',
    "Alex'",
    'a'.repeat(MAX_FIRST_NAME + 1),
    'Alex\nLee',
    'Dr. Lee',
  ])('refuses %j by form', (v) => expect(problem('firstName', v)).toBe('format'));
  it.each(['Diabetes', 'HIV', 'Cancer', 'Methadone', 'Pregnant'])(
    'refuses %s: the guard holds it',
    (v) => expect(problem('firstName', v)).toBe('guard'),
  );
  it('accepts exactly the maximum length', () => {
    expect(ok('firstName', 'A'.repeat(MAX_FIRST_NAME))).toHaveLength(MAX_FIRST_NAME);
  });
  it('never lets a digit through (property)', () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 0, max: 9 }), fc.string(), (a, d, b) => {
        expect(formatSlot('firstName', `${a}${d}${b}`, ctx).ok).toBe(false);
      }),
    );
  });
  it('takes any run of letters up to 30 as a name by form (property)', () => {
    const letters = fc.constantFrom(...'bcdfghjklmnpqrstvwxzÉéñüBCDFGHJ'.split(''));
    fc.assert(
      fc.property(fc.array(letters, { minLength: 1, maxLength: MAX_FIRST_NAME }), (cs) => {
        const v = cs.join('');
        const r = formatSlot('firstName', v, ctx);
        // Only the content guard may refuse it (a random run could spell an abbreviation).
        if (r.ok) expect(r.text).toBe(v.normalize('NFC'));
        else expect(r.problem).toBe('guard');
      }),
    );
  });
});

describe('date', () => {
  it.each([
    ['2026-12-08', 'Tue, Dec 8'],
    ['2024-02-29', 'Thu, Feb 29'],
    ['2000-01-01', 'Sat, Jan 1'],
    ['2026-09-30', 'Wed, Sep 30'],
  ])('%s → %s', (v, want) => expect(ok('date', v)).toBe(want));
  it.each([
    '2023-02-29',
    '2026-13-01',
    '2026-00-10',
    '2026-04-31',
    '2026-4-3',
    '26-04-03',
    '2026/04/03',
    '1899-12-31',
    '2026-04-03T10:00',
    'tomorrow',
  ])('refuses %s', (v) => expect(problem('date', v)).toBe('format'));
  it('matches the calendar for every day (property)', () => {
    fc.assert(
      fc.property(
        fc.date({
          min: new Date('1900-01-01T00:00:00Z'),
          max: new Date('2199-12-31T00:00:00Z'),
          noInvalidDate: true,
        }),
        (d) => {
          const iso = d.toISOString().slice(0, 10);
          const want = d.toLocaleDateString('en-US', {
            weekday: 'short',
            month: 'short',
            day: 'numeric',
            timeZone: 'UTC',
          });
          expect(formatDate(iso)).toBe(want);
          expect(formatDate(iso)!.length).toBeLessThanOrEqual(SLOT_LONGEST.date.length);
        },
      ),
    );
  });
});

describe('time', () => {
  it.each([
    ['00:00', '12:00 AM'],
    ['09:05', '9:05 AM'],
    ['10:30', '10:30 AM'],
    ['12:00', '12:00 PM'],
    ['13:45', '1:45 PM'],
    ['23:59', '11:59 PM'],
  ])('%s → %s', (v, want) => expect(ok('time', v)).toBe(want));
  it.each(['24:00', '9:05', '10:60', '10.30', '10:30 AM', '1030', ''])('refuses %j', (v) =>
    expect(problem('time', v)).toBe('format'),
  );
  it('formats every minute of the day within the longest sample (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 }), (h, m) => {
        const v = `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`;
        const t = formatTime(v)!;
        expect(t).toMatch(/^(1[0-2]|[1-9]):[0-5]\d (AM|PM)$/);
        expect(t.length).toBeLessThanOrEqual(SLOT_LONGEST.time.length);
      }),
    );
  });
});

describe('clinicName', () => {
  it.each(['Lakeside Clinic', 'Smith & Jones Dental', "St. Mary's Family Medicine", 'Clinic 24'])(
    'accepts %s',
    (v) => expect(ok('clinicName', v)).toBe(v),
  );
  it.each(['Oncology Center', 'Sunrise Fertility', 'Riverside Behavioral Health', 'Cancer Care'])(
    'refuses %s: it reveals a condition',
    (v) => expect(problem('clinicName', v)).toBe('guard'),
  );
  it.each([
    '',
    '1234',
    'Clinic!',
    'Clinic\nTwo',
    'https://x.example',
    'x'.repeat(MAX_CLINIC_NAME + 1),
  ])('refuses %j by form', (v) => expect(problem('clinicName', v)).toBe('format'));
});

describe('location', () => {
  it.each(['12 Main Street, Suite 4B', 'Building C, 2nd floor', '400 Elm St. #12 (rear door)'])(
    'accepts %s',
    (v) => expect(ok('location', v)).toBe(v),
  );
  it('refuses a condition-revealing place', () => {
    expect(problem('location', 'Oncology wing, 3rd floor')).toBe('guard');
  });
  it.each(['', '12', 'Main St; drop table', 'x'.repeat(MAX_LOCATION + 1), 'Main St?'])(
    'refuses %j by form',
    (v) => expect(problem('location', v)).toBe('format'),
  );
});

describe('providerName', () => {
  it.each(['Dr. Patel', 'Dr. Burns', 'Nurse Kim', 'Dr. María López-Ortiz'])('accepts %s', (v) =>
    expect(ok('providerName', v)).toBe(v),
  );
  it.each(['', 'D', 'Dr. 2', 'Dr. Lee, MD!', 'x'.repeat(MAX_PROVIDER_NAME + 1), '.Lee'])(
    'refuses %j by form',
    (v) => expect(problem('providerName', v)).toBe('format'),
  );
});

describe('link', () => {
  it.each([
    ['https://lakeside.example/appointments/123', 'https://lakeside.example/appointments/123'],
    ['https://Lakeside.Example', 'https://lakeside.example/'],
  ])('accepts %s', (v, want) => expect(ok('link', v)).toBe(want));
  it.each([
    'http://lakeside.example/a',
    'https://lakeside.example/a?patient=12',
    'https://lakeside.example/a#frag',
    'https://user:pw@lakeside.example/a',
    'https://localhost/a',
    'javascript:alert(1)',
    'https://lakeside.example/a b',
    `https://lakeside.example/${'a'.repeat(MAX_LINK)}`,
    'lakeside.example',
  ])('refuses %s by form', (v) => expect(problem('link', v)).toBe('format'));
  it('refuses a path that reveals a condition', () => {
    expect(problem('link', 'https://x.example/hiv-results')).toBe('guard');
  });
  it('never passes a query string or fragment (property)', () => {
    fc.assert(
      fc.property(fc.webUrl({ withQueryParameters: true, withFragments: true }), (u) => {
        const out = formatLink(u.replace(/^http:/, 'https:'));
        if (out !== null) {
          expect(out).not.toMatch(/[?#]/);
          expect(out.startsWith('https://')).toBe(true);
          expect(out.length).toBeLessThanOrEqual(MAX_LINK);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('phone', () => {
  it.each([
    ['+1 617 555 0123', '(617) 555-0123'],
    ['6175550123', '(617) 555-0123'],
    ['(800) 555-0199', '(800) 555-0199'],
  ])('%s → %s', (v, want) => expect(ok('phone', v)).toBe(want));
  it.each(['12', 'call me', '+44 20 7946 0018', '+1 555 555'])('refuses %s', (v) =>
    expect(problem('phone', v)).toBe('format'),
  );
});

describe('code', () => {
  it.each(['AB12CD', 'x7k2', 'A1C72', 'ABCDEFGH1234'])('accepts %s', (v) =>
    expect(ok('code', v)).toBe(v),
  );
  it.each(['abc', 'ABCDEFGH12345', 'AB-12', 'AB 12', 'ÅB12'])('refuses %s by form', (v) =>
    expect(problem('code', v)).toBe('format'),
  );
  it('refuses a code that spells a condition', () => {
    expect(problem('code', 'CANCER')).toBe('guard');
  });
  it('accepts exactly [A-Za-z0-9]{4,12} by form (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 16 }), (s) => {
        const r = formatSlot('code', s, ctx);
        const shaped = /^[A-Za-z0-9]{4,12}$/.test(s.normalize('NFC').trim());
        if (!shaped) expect(r).toMatchObject({ ok: false, problem: 'format' });
        else if (r.ok) expect(r.text).toBe(s.trim());
      }),
    );
  });
});

describe('every slot type', () => {
  it('refuses anything but a string, and over-long strings', () => {
    for (const t of SLOT_TYPES) {
      for (const v of [undefined, null, 12, true, {}, ['Alex'], 'x'.repeat(501)]) {
        expect(problem(t, v), `${t} ${JSON.stringify(v)}`).toBe('format');
      }
    }
  });
  it('has samples the guard allows, alone and together', () => {
    for (const t of SLOT_TYPES) expect(scan(SLOT_SAMPLES[t]).verdict, t).toBe('allow');
    const all = SLOT_TYPES.map((t) => SLOT_SAMPLES[t]).join(' ');
    expect(scan(all).verdict).toBe('allow');
  });
  it('keeps the longest samples in GSM-7', () => {
    for (const t of SLOT_TYPES) expect(countSegments(SLOT_LONGEST[t]).encoding).toBe('GSM-7');
  });
  it('never yields text longer than the longest sample, nor with a line break (property)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...SLOT_TYPES), fc.string({ maxLength: 300 }), (t, v) => {
        const r = formatSlot(t, v, ctx);
        if (r.ok) {
          expect([...r.text].length).toBeLessThanOrEqual(SLOT_LONGEST[t].length);
          expect(r.text).not.toMatch(/[\r\n{}]/);
        }
      }),
      { numRuns: 2000 },
    );
  });
  it('refuses text the guard holds, whatever the type (property)', () => {
    const held = fc.constantFrom('Diabetes', 'HIV', 'Chemotherapy', 'Oxycodone', 'Oncology');
    fc.assert(
      fc.property(
        fc.constantFrom<SlotType>('firstName', 'clinicName', 'location', 'code'),
        held,
        (t, word) => {
          expect(formatSlot(t, word, ctx).ok).toBe(false);
        },
      ),
    );
  });
});
