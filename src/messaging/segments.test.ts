import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { countSegments, MULTI_GSM7, MULTI_UCS2, SINGLE_GSM7, SINGLE_UCS2 } from './segments.js';

const GSM_BASIC = [
  ...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 .,!?@£$¥èéÄÖÑÜ§¿äöñüà\n',
];
const GSM_EXT = [...'^{}\\[~]|€'];

describe('countSegments', () => {
  it('counts the documented boundaries', () => {
    expect(countSegments('a'.repeat(160))).toEqual({ encoding: 'GSM-7', segments: 1, units: 160 });
    expect(countSegments('a'.repeat(161))).toEqual({ encoding: 'GSM-7', segments: 2, units: 161 });
    expect(countSegments('a'.repeat(306)).segments).toBe(2);
    expect(countSegments('a'.repeat(307)).segments).toBe(3);
    expect(countSegments('é'.repeat(70))).toEqual({ encoding: 'GSM-7', segments: 1, units: 70 });
    expect(countSegments('ж'.repeat(70))).toEqual({ encoding: 'UCS-2', segments: 1, units: 70 });
    expect(countSegments('ж'.repeat(71)).segments).toBe(2);
    expect(countSegments('ж'.repeat(134)).segments).toBe(2);
    expect(countSegments('ж'.repeat(135)).segments).toBe(3);
  });

  it('charges extension characters two septets and never splits them', () => {
    expect(countSegments('€'.repeat(80))).toEqual({ encoding: 'GSM-7', segments: 1, units: 160 });
    expect(countSegments('€'.repeat(81)).segments).toBe(2);
    // 152 plain + one € = 154 septets: the € does not fit in the first 153-septet part.
    expect(countSegments(`${'a'.repeat(152)}€${'a'.repeat(10)}`).segments).toBe(2);
    expect(countSegments(`${'a'.repeat(152)}€${'a'.repeat(152)}`).segments).toBe(3);
  });

  it('keeps surrogate pairs together in UCS-2', () => {
    expect(countSegments('😀'.repeat(35))).toEqual({ encoding: 'UCS-2', segments: 1, units: 70 });
    // 66 units then an emoji (2 units) cannot share the 67-unit part.
    expect(countSegments(`${'ж'.repeat(66)}😀${'ж'.repeat(10)}`).segments).toBe(2);
  });

  it('matches the closed formula for plain GSM-7 text', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...GSM_BASIC), { maxLength: 2000 }), (chars) => {
        const text = chars.join('');
        const n = text.length;
        const expected = n <= SINGLE_GSM7 ? 1 : Math.ceil(n / MULTI_GSM7);
        const r = countSegments(text);
        return r.encoding === 'GSM-7' && r.units === n && r.segments === expected;
      }),
    );
  });

  it('matches the closed formula for BMP text outside GSM-7', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('ж', 'ш', '中', 'ا'), maxLength: 1000 }),
        (text) => {
          fc.pre(text.length > 0);
          const expected = text.length <= SINGLE_UCS2 ? 1 : Math.ceil(text.length / MULTI_UCS2);
          const r = countSegments(text);
          return r.encoding === 'UCS-2' && r.segments === expected;
        },
      ),
    );
  });

  it('has segments that grow with the text and hold every unit', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...GSM_BASIC, ...GSM_EXT, 'ж', '😀'), { maxLength: 1500 }),
        fc.constantFrom(...GSM_BASIC, ...GSM_EXT, 'ж', '😀'),
        (chars, extra) => {
          const text = chars.join('');
          const a = countSegments(text);
          const b = countSegments(text + extra);
          const capacity = (r: typeof a) =>
            r.encoding === 'GSM-7'
              ? r.segments === 1
                ? SINGLE_GSM7
                : r.segments * MULTI_GSM7
              : r.segments === 1
                ? SINGLE_UCS2
                : r.segments * MULTI_UCS2;
          return (
            a.segments >= 1 &&
            a.units <= capacity(a) &&
            (a.encoding !== b.encoding || b.segments >= a.segments)
          );
        },
      ),
    );
  });
});
