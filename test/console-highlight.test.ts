/**
 * The console's guard highlighting (web/src/guard-feedback.ts): findings, given as UTF-16
 * offsets, become non-overlapping spans that rebuild the text exactly.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { highlight } from '../web/src/guard-feedback.js';

describe('console guard highlighting', () => {
  it('marks each finding with its category', () => {
    const text = 'Your A1C was 9.1, please increase your metformin';
    const spans = highlight(text, [
      { category: 'medication', start: 39, end: 48 },
      { category: 'lab', start: 5, end: 8 },
    ]);
    expect(spans).toEqual([
      { text: 'Your ', category: null },
      { text: 'A1C', category: 'lab' },
      { text: ' was 9.1, please increase your ', category: null },
      { text: 'metformin', category: 'medication' },
    ]);
  });

  it('keeps the first of overlapping findings and drops out-of-range ones', () => {
    const spans = highlight('abcdef', [
      { category: 'condition', start: 1, end: 4 },
      { category: 'lab', start: 2, end: 5 },
      { category: 'lab', start: 4, end: 99 },
    ]);
    expect(spans).toEqual([
      { text: 'a', category: null },
      { text: 'bcd', category: 'condition' },
      { text: 'ef', category: null },
    ]);
  });

  it('always rebuilds the text exactly', () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.array(fc.record({ start: fc.nat(40), len: fc.nat(10) })),
        (text, raw) => {
          const findings = raw.map((f) => ({
            category: 'lab',
            start: f.start,
            end: f.start + f.len,
          }));
          expect(
            highlight(text, findings)
              .map((s) => s.text)
              .join(''),
          ).toBe(text);
        },
      ),
    );
  });
});
