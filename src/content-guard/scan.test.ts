/**
 * The content guard against the written policy of issue 5, rule by rule, and fast-check
 * properties that must hold for any text: offsets inside the text, findings sorted and
 * non-overlapping, the verdict agreeing with the findings, scanning deterministic.
 * Quality on the labelled set is measured in test/guard-quality.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppError } from '../errors/index.js';
import { CATEGORIES, MAX_TEXT_LENGTH, checkText, scan, type Category } from './index.js';
import { isOneEdit } from './fuzzy.js';
import { fold } from './normalise.js';

const verdict = (text: string) => scan(text).verdict;
const categories = (text: string): Category[] => scan(text).findings.map((f) => f.category);

describe('policy (issue 5)', () => {
  it.each([
    'Your results were normal.',
    'All negative! See you next year.',
    'Your test came back positive, please call us.',
    'Sus resultados salieron normales.',
    'Your labs look great!',
  ])('a result discloses even without a test name: %s', (t) => {
    expect(verdict(t)).toBe('secure');
    expect(categories(t)).toContain('lab');
  });

  it.each([
    'Your results are ready, please log in to the patient portal.',
    'You have new results. Log in to view them.',
    'Sus resultados están listos. Inicie sesión en el portal.',
  ])('"results are ready, log in" is allowed: %s', (t) => expect(verdict(t)).toBe('allow'));

  it('holds a vaccine or screening the recipient is due for, allows the broadcast', () => {
    expect(verdict("You're due for your flu shot! Call 555-0144.")).toBe('secure');
    expect(verdict('Your colon cancer screening is overdue.')).toBe('secure');
    expect(verdict('Le toca su vacuna contra la gripe.')).toBe('secure');
    expect(verdict('Flu shots available for all patients this month!')).toBe('allow');
    expect(
      verdict('Free community health fair Saturday: blood pressure checks for everyone.'),
    ).toBe('allow');
  });

  it('a condition-revealing clinic or sender name poisons a neutral text', () => {
    expect(verdict('Valley Oncology will be closed Monday due to snow.')).toBe('secure');
    expect(categories('Northside Dialysis Center is closed today.')).toContain('specialty');
    const closure = 'We are closed Monday due to snow. Stay safe!';
    expect(verdict(closure)).toBe('allow');
    expect(scan(closure, { senderName: 'Hope Methadone Clinic' })).toEqual({
      verdict: 'secure',
      findings: [{ category: 'specialty', start: 0, end: 0 }],
    });
    expect(verdict('Lakeside Family Medicine is closed Monday due to snow.')).toBe('allow');
    expect(scan(closure, { senderName: 'Maple Pediatrics' }).verdict).toBe('allow');
    expect(scan(closure, { senderName: 'Bright Smiles Dental' }).verdict).toBe('allow');
    expect(scan(closure, { senderName: 'Westside Urgent Care' }).verdict).toBe('allow');
  });

  it('a title and surname is a name even when the surname is a condition word', () => {
    for (const name of ['Burns', 'Payne', 'Stone', 'Hart', 'Fever', 'Lyme']) {
      expect(verdict(`Your appointment with Dr. ${name} is Monday at 10 AM.`), name).toBe('allow');
    }
    expect(verdict("Dr. Patel's office will be closed Friday.")).toBe('allow');
  });

  it('ambiguous abbreviations need context', () => {
    expect(verdict('Your visit is at 2:00 PM PT.')).toBe('allow');
    expect(verdict('Our office: 12 Main St, Jackson, MS 39201.')).toBe('allow');
    expect(verdict('See you at our Hartford, CT office.')).toBe('allow');
    expect(verdict('Hi Ms. Rivera, see you Monday.')).toBe('allow');
    expect(verdict('Your MS infusion is Tuesday at 8 AM.')).toBe('secure');
    expect(verdict('Your PT session moved to Friday.')).toBe('secure');
  });

  it('first names that are drug brands need a medication cue', () => {
    expect(verdict('Hi Allegra, your appointment is tomorrow at 10 AM.')).toBe('allow');
    expect(verdict('Hi Camila, see you Tuesday!')).toBe('allow');
    expect(verdict('Your Camila refill is ready at the pharmacy.')).toBe('secure');
  });

  it('holds amounts tied to the account and named plans; allows a statement notice', () => {
    expect(categories('Your balance of $45.00 is due.')).toContain('financial');
    expect(verdict('Your account balance is $0.00.')).toBe('secure');
    expect(verdict('Your Aetna claim was processed.')).toBe('secure');
    expect(verdict('You have a new statement. Log in to view it.')).toBe('allow');
    expect(verdict('Tiene un saldo de $0.00 en su cuenta.')).toBe('secure');
  });

  it('holds staff texts with a patient value, allows logistics', () => {
    expect(verdict("Room 4 patient's potassium is 6.1, please page Dr. Kim.")).toBe('secure');
    expect(verdict('Pt in room 3 is ready to be roomed.')).toBe('allow');
    expect(verdict('Staff meeting Monday 8 AM, coffee provided.')).toBe('allow');
  });

  it('finds identifiers and leaves codes, phones, times, addresses and dates alone', () => {
    expect(categories('SSN 123-45-6789 on file.')).toEqual(['identifier']);
    expect(categories('Please verify MRN 00482913.')).toEqual(['identifier']);
    expect(categories('Your member ID is XJH123456789.')).toEqual(['identifier']);
    expect(categories('DOB: 7/2/1961, please confirm.')).toEqual(['identifier']);
    for (const t of [
      'Your confirmation code is MRI-4X7Q.',
      'Ref# MS4421 confirmed.',
      'Call us at (503) 555-0188 or 555-201-3300.',
      'Your appointment is 3/3/2026 at 10:00 AM.',
      'We moved to 78 Heart Lake Rd, Suite 2.',
      'Your verification code is 771204.',
    ]) {
      expect(verdict(t), t).toBe('allow');
    }
  });

  it('reads misspelt long words and Spanish', () => {
    expect(categories('Your metformn was sent to the pharmacy.')).toEqual(['medication']);
    expect(categories('Take amoxicilin twice a day.')).toContain('medication');
    expect(verdict('Su cita de quimioterapia es el martes.')).toBe('secure');
    expect(verdict('Su receta está lista para recoger.')).toBe('allow');
  });

  it('keeps harmless uses of medical-sounding words', () => {
    expect(verdict('Stay positive and have a great weekend!')).toBe('allow');
    expect(verdict('Please reply with a good time for a callback.')).toBe('allow');
  });
});

describe('findings', () => {
  it('carry category and offsets only, pointing at the match', () => {
    const text = 'Hi Ana, your A1C was 7.2.';
    const { findings } = scan(text);
    expect(findings.length).toBeGreaterThan(0);
    for (const f of findings) expect(Object.keys(f).sort()).toEqual(['category', 'end', 'start']);
    expect(text.slice(findings[0]!.start, findings[0]!.end)).toBe('A1C');
  });

  it('fold keeps the length and strips accents', () => {
    expect(fold('Clínica DIÁLISIS ’s')).toBe("clinica dialisis 's");
  });

  it('isOneEdit is one insertion, deletion, substitution or transposition', () => {
    expect(isOneEdit('metformin', 'metformn')).toBe(true);
    expect(isOneEdit('metformin', 'metfromin')).toBe(true);
    expect(isOneEdit('metformin', 'metfxrmin')).toBe(true);
    expect(isOneEdit('metformin', 'metformin')).toBe(false);
    expect(isOneEdit('metformin', 'mtfrmin')).toBe(false);
  });
});

describe('checkText', () => {
  it('refuses what is not a non-empty string of at most MAX_TEXT_LENGTH', () => {
    const code = (v: unknown) => {
      try {
        checkText(v);
        return 'ok';
      } catch (e) {
        return (e as AppError).code;
      }
    };
    expect(code('hello')).toBe('ok');
    expect(code('')).toBe('guard_text_invalid');
    expect(code('   ')).toBe('guard_text_invalid');
    expect(code(42)).toBe('guard_text_invalid');
    expect(code(undefined)).toBe('guard_text_invalid');
    expect(code('x'.repeat(MAX_TEXT_LENGTH))).toBe('ok');
    expect(code('x'.repeat(MAX_TEXT_LENGTH + 1))).toBe('guard_text_too_long');
  });
});

describe('properties', () => {
  const words = fc.constantFrom(
    'your',
    'results',
    'were',
    'normal',
    'Dr.',
    'Burns',
    'MS',
    'PT',
    'A1C',
    '7.2',
    '$45.00',
    'balance',
    'flu',
    'shot',
    'all',
    'patients',
    'metformn',
    'Clínica',
    'de',
    'diálisis',
    'due',
    '123-45-6789',
    'DOB',
    '3/4/1960',
    'code',
    'MRI-4X7Q',
    'Hi',
    'Allegra',
    'refill',
    ',',
    '.',
    'positive',
    'stay',
    '2:00',
    'PM',
    'Jackson,',
    'MS',
    '39201',
    'ñ',
    '😀',
    '\n',
  );
  const texts = fc.oneof(
    fc.string({ maxLength: 300 }),
    fc.array(words, { maxLength: 40 }).map((w) => w.join(' ')),
  );

  it('offsets are inside the text; findings sorted, non-overlapping, verdict agrees', () => {
    fc.assert(
      fc.property(texts, fc.option(fc.string({ maxLength: 40 }), { nil: undefined }), (t, s) => {
        const r = scan(t, s === undefined ? {} : { senderName: s });
        let last = 0;
        for (const f of r.findings) {
          expect(CATEGORIES).toContain(f.category);
          expect(f.start).toBeGreaterThanOrEqual(last);
          expect(f.end).toBeGreaterThanOrEqual(f.start);
          expect(f.end).toBeLessThanOrEqual(t.length);
          last = f.end;
        }
        expect(r.verdict).toBe(r.findings.length > 0 ? 'secure' : 'allow');
      }),
      { numRuns: 2000 },
    );
  });

  it('is deterministic and does not depend on earlier scans', () => {
    fc.assert(
      fc.property(texts, texts, (a, b) => {
        const first = scan(a);
        scan(b);
        expect(scan(a)).toEqual(first);
      }),
      { numRuns: 500 },
    );
  });

  it('upper-casing a secure vocabulary word keeps it secure', () => {
    fc.assert(
      fc.property(fc.constantFrom('metformin', 'chemotherapy', 'diabetes', 'colonoscopy'), (w) => {
        expect(verdict(`Reminder about your ${w.toUpperCase()} tomorrow.`)).toBe('secure');
      }),
    );
  });
});
