import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { countSegments } from '../../messaging/segments.js';
import { encodeMessage, fromSmppAddress, readConcatenation, toSmppAddress } from './encode.js';

const GSM_CHARS = [
  ...'@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡AZÄÖÑÜ§¿azäöñüà^{}\\[~]|€\n',
];
const OTHER = [...'ąčęėįšųūž—“”🙂😀中文'];

describe('SMPP message encoding', () => {
  it('sends GSM-7 unpacked as data_coding 0x00, extension characters escaped', () => {
    const e = encodeMessage('A{€}', 1);
    expect(e.encoding).toBe('GSM-7');
    expect(e.dataCoding).toBe(0x00);
    expect([...e.parts[0]!]).toEqual([0x41, 0x1b, 0x28, 0x1b, 0x65, 0x1b, 0x29]);
    expect(encodeMessage('A', 1, 0x01).dataCoding).toBe(0x01);
  });

  it('sends anything else as UCS-2 big-endian, data_coding 0x08', () => {
    const e = encodeMessage('ą🙂', 1);
    expect(e.dataCoding).toBe(0x08);
    expect(e.parts[0]!.toString('hex')).toBe('0105d83dde42');
  });

  it('adds a concatenation UDH to each part of a long message', () => {
    const e = encodeMessage('x'.repeat(161), 42);
    expect(e.parts).toHaveLength(2);
    expect([...e.parts[0]!.subarray(0, 6)]).toEqual([5, 0, 3, 42, 2, 1]);
    expect([...e.parts[1]!.subarray(0, 6)]).toEqual([5, 0, 3, 42, 2, 2]);
    expect(e.parts[0]!.length).toBe(6 + 153);
    expect(readConcatenation([e.parts[1]!.subarray(1, 6)])).toEqual({
      reference: 42,
      total: 2,
      sequence: 2,
    });
  });

  it('never splits an escape sequence or a surrogate pair, and no part exceeds 254 octets', () => {
    const gsm = encodeMessage('a'.repeat(152) + '€' + 'b'.repeat(10), 1);
    expect(gsm.parts[0]!.length).toBe(6 + 152);
    const ucs = encodeMessage('a'.repeat(66) + '🙂' + 'b'.repeat(10), 1);
    expect(ucs.parts[0]!.length).toBe(6 + 66 * 2);
  });

  it('splits into exactly as many parts as the pipeline’s segment maths counts', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...GSM_CHARS, ...GSM_CHARS, ...OTHER), { maxLength: 700 }),
        (chars) => {
          const body = chars.join('');
          const e = encodeMessage(body, 7);
          const s = countSegments(body);
          expect(e.parts.length).toBe(s.segments);
          expect(e.encoding).toBe(s.encoding);
          for (const p of e.parts) expect(p.length).toBeLessThanOrEqual(254);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('converts between E.164 and SMPP addresses', () => {
    expect(toSmppAddress('+16175550142')).toBe('16175550142');
    expect(fromSmppAddress('16175550142', 1)).toBe('+16175550142');
    expect(fromSmppAddress('+16175550142', 0)).toBe('+16175550142');
    expect(fromSmppAddress('LAKESIDE', 5)).toBe('LAKESIDE');
  });
});
