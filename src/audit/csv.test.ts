import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { csvRecord, parseCsvLine } from './csv.js';

describe('audit CSV', () => {
  it('reads back every record it writes, whatever the fields hold', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: 'binary' }), { minLength: 1, maxLength: 8 }),
        (fields) => {
          const line = csvRecord(fields);
          expect(line.endsWith('\r\n')).toBe(true);
          expect(parseCsvLine(line.slice(0, -2))).toEqual(fields);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('quotes only what needs quoting (RFC 4180)', () => {
    expect(csvRecord(['a', 'b c', '{"x":1}', 'x,y', ' lead', null, 7])).toBe(
      'a,b c,"{""x"":1}","x,y"," lead",,7\r\n',
    );
  });

  it('refuses malformed lines', () => {
    for (const bad of ['a"b', '"abc', '"a"b', 'x,"y', '"a""']) {
      expect(parseCsvLine(bad), bad).toBeNull();
    }
    expect(parseCsvLine('')).toEqual(['']);
    expect(parseCsvLine('a,')).toEqual(['a', '']);
  });
});
