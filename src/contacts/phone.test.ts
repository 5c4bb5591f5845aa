import { describe, expect, it } from 'vitest';
import { AppError } from '../errors/index.js';
import { normalisePhone, normaliseReportedPhone } from './phone.js';

const policy = { regions: ['US', 'CA'] };

function code(input: string): string {
  try {
    normalisePhone(input, policy);
    return 'ok';
  } catch (e) {
    return e instanceof AppError ? e.code : 'other';
  }
}

describe('normalisePhone', () => {
  it('normalises to E.164', () => {
    expect(normalisePhone('(617) 555-0123', policy)).toBe('+16175550123');
    expect(normalisePhone('+1 617 555 0123', policy)).toBe('+16175550123');
    expect(normalisePhone('617.555.0123', policy)).toBe('+16175550123');
    expect(normalisePhone('+1 416 555 0199', policy)).toBe('+14165550199');
  });

  it('refuses what cannot be texted, with a code', () => {
    expect(code('+1617555012')).toBe('invalid_phone_number');
    expect(code('call me')).toBe('invalid_phone_number');
    expect(code('')).toBe('invalid_phone_number');
    expect(code('+447911123456')).toBe('unsupported_region');
    expect(code('+18005551234')).toBe('not_mobile_number');
    expect(code('+19005551234')).toBe('not_mobile_number');
  });

  it('does not put the number in the error', () => {
    try {
      normalisePhone('+1617555012', policy);
    } catch (e) {
      expect((e as Error).message).not.toMatch(/\d{4}/);
    }
  });
});

describe('normaliseReportedPhone', () => {
  it('keeps carrier-reported numbers usable', () => {
    expect(normaliseReportedPhone('+16175550123')).toBe('+16175550123');
    expect(normaliseReportedPhone('16175550123')).toBe('+16175550123');
    expect(normaliseReportedPhone('12345')).toBe('+12345');
  });
});
