import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  csrfFor,
  dobFromParts,
  hashToken,
  isLinkToken,
  newCode,
  newLinkToken,
  newSessionToken,
  normaliseCode,
  parseDob,
  sameSecret,
} from './tokens.js';

const TODAY = Date.UTC(2026, 5, 15);

describe('link and session tokens', () => {
  it('makes 144-bit base64url link tokens that never repeat', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const t = newLinkToken();
      expect(t).toMatch(/^[A-Za-z0-9_-]{24}$/);
      expect(Buffer.from(t, 'base64url').length * 8).toBeGreaterThanOrEqual(128);
      expect(isLinkToken(t)).toBe(true);
      seen.add(t);
    }
    expect(seen.size).toBe(2000);
  });

  it('recognises only the link shape', () => {
    for (const bad of ['', 'short', 'x'.repeat(25), `${'a'.repeat(23)}/`, `${'a'.repeat(23)}=`]) {
      expect(isLinkToken(bad)).toBe(false);
    }
  });

  it('stores hashes, not tokens, and derives a form token only the cookie holder can', () => {
    const s = newSessionToken();
    expect(hashToken(s)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashToken(s)).not.toContain(s);
    expect(csrfFor(s)).toBe(csrfFor(s));
    expect(csrfFor(s)).not.toBe(csrfFor(newSessionToken()));
    expect(sameSecret('abc', 'abc')).toBe(true);
    expect(sameSecret('abc', 'abd')).toBe(false);
    expect(sameSecret('abc', 'abcd')).toBe(false);
  });
});

describe('one-time codes', () => {
  it('are six digits, leading zeros kept', () => {
    for (let i = 0; i < 1000; i++) expect(newCode()).toMatch(/^\d{6}$/);
  });

  it('accept what a patient types and nothing else', () => {
    expect(normaliseCode(' 012 345 ')).toBe('012345');
    expect(normaliseCode('012-345')).toBe('012345');
    for (const bad of ['', '12345', '1234567', 'abcdef', '12345a']) {
      expect(normaliseCode(bad)).toBeNull();
    }
  });
});

describe('dates of birth', () => {
  it('parses real dates in the past only', () => {
    expect(parseDob('1980-03-27', TODAY)).toBe('1980-03-27');
    expect(parseDob('2000-02-29', TODAY)).toBe('2000-02-29');
    for (const bad of [
      '1900-02-29',
      '1980-02-30',
      '1980-13-01',
      '1899-12-31',
      '2027-01-01',
      '80-3-27',
      '',
    ]) {
      expect(parseDob(bad, TODAY), bad).toBeNull();
    }
  });

  it('reads month, day and year fields as typed', () => {
    expect(dobFromParts('3', '27', '1980', TODAY)).toBe('1980-03-27');
    expect(dobFromParts(' 03 ', '7', '1980', TODAY)).toBe('1980-03-07');
    expect(dobFromParts('March', '27', '1980', TODAY)).toBeNull();
    expect(dobFromParts('3', '27', '80', TODAY)).toBeNull();
    expect(dobFromParts('2', '30', '1980', TODAY)).toBeNull();
  });

  it('agrees with itself: fields and ISO give the same date', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date(Date.UTC(1900, 0, 1)), max: new Date(TODAY), noInvalidDate: true }),
        (d) => {
          const [y, m, day] = d.toISOString().slice(0, 10).split('-');
          const iso = `${y}-${m}-${day}`;
          expect(parseDob(iso, TODAY)).toBe(iso);
          expect(dobFromParts(String(Number(m)), String(Number(day)), y!, TODAY)).toBe(iso);
        },
      ),
    );
  });
});
