import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { frame, MllpDecoder } from './mllp.js';

describe('MLLP framing', () => {
  it('round-trips messages however the bytes are split', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc
            .string({ minLength: 1, maxLength: 80 })
            .filter((s) => !s.includes('\u000b') && !s.includes('\u001c')),
          {
            minLength: 1,
            maxLength: 5,
          },
        ),
        fc.integer({ min: 1, max: 17 }),
        (messages, step) => {
          const bytes = Buffer.concat(messages.map(frame));
          const dec = new MllpDecoder();
          const out: string[] = [];
          for (let i = 0; i < bytes.length; i += step)
            out.push(...dec.push(bytes.subarray(i, i + step)));
          expect(out).toEqual(messages);
        },
      ),
    );
  });

  it('drops bytes outside a frame', () => {
    const dec = new MllpDecoder();
    expect(dec.push(Buffer.concat([Buffer.from('noise'), frame('MSH|x')]))).toEqual(['MSH|x']);
  });
});
