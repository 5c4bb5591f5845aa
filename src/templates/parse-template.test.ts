import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AppError } from '../errors/index.js';
import { fillTemplate, parseTemplate } from './parse-template.js';
import { SLOT_TYPES } from './slots.js';

function codeOf(body: string): string | null {
  try {
    parseTemplate(body);
    return null;
  } catch (e) {
    return e instanceof AppError ? e.code : 'other';
  }
}

describe('parseTemplate', () => {
  it('splits text and slots, listing each slot once in order of first use', () => {
    const p = parseTemplate('Hi {{firstName}}, see you {{ date }} at {{time}}. {{firstName}}!');
    expect(p.slots).toEqual(['firstName', 'date', 'time']);
    expect(p.parts).toEqual([
      { text: 'Hi ' },
      { slot: 'firstName' },
      { text: ', see you ' },
      { slot: 'date' },
      { text: ' at ' },
      { slot: 'time' },
      { text: '. ' },
      { slot: 'firstName' },
      { text: '!' },
    ]);
  });

  it('takes a body without slots as text', () => {
    expect(parseTemplate('The office is closed today.')).toEqual({
      parts: [{ text: 'The office is closed today.' }],
      slots: [],
    });
  });

  it('keeps single braces as text', () => {
    expect(parseTemplate('Reply {Y} to confirm').slots).toEqual([]);
  });

  it.each([
    ['Hi {{diagnosis}}', 'template_unknown_slot'],
    ['Hi {{FirstName}}', 'template_unknown_slot'],
    ['Hi {{first_name}}', 'template_unknown_slot'],
    ['Hi {{}}', 'template_syntax_invalid'],
    ['Hi {{first name}}', 'template_syntax_invalid'],
    ['Hi {{firstName}', 'template_syntax_invalid'],
    ['Hi firstName}}', 'template_syntax_invalid'],
    ['Hi {{{firstName}}}', 'template_syntax_invalid'],
    ['Hi {{2x}}', 'template_syntax_invalid'],
    ['Hi {{ {{firstName}} }}', 'template_syntax_invalid'],
  ])('refuses %j with %s', (body, code) => expect(codeOf(body)).toBe(code));

  it('names the unknown slot and lists the types', () => {
    try {
      parseTemplate('Hi {{nickname}}');
      expect.unreachable();
    } catch (e) {
      expect((e as AppError).message).toContain('{{nickname}}');
      expect((e as AppError).message).toContain(SLOT_TYPES.join(', '));
    }
  });

  it('round-trips: filling each slot with its own placeholder gives the body back (property)', () => {
    const text = fc.string({ maxLength: 20 }).filter((s) => !s.includes('{') && !s.includes('}'));
    const slot = fc.constantFrom(...SLOT_TYPES);
    fc.assert(
      fc.property(fc.array(fc.tuple(text, slot), { maxLength: 6 }), text, (pairs, tail) => {
        const body = pairs.map(([t, s]) => `${t}{{${s}}}`).join('') + tail;
        const p = parseTemplate(body);
        const self = Object.fromEntries(SLOT_TYPES.map((s) => [s, `{{${s}}}`]));
        expect(fillTemplate(p, self)).toBe(body);
        expect(new Set(p.slots)).toEqual(new Set(pairs.map(([, s]) => s)));
      }),
    );
  });

  it('either parses or refuses with a coded error, never anything else (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('{', '}', 'a', ' ', 'firstName', 'x{{', '}}y') }),
        (body) => {
          const c = codeOf(body);
          expect([null, 'template_syntax_invalid', 'template_unknown_slot']).toContain(c);
        },
      ),
    );
  });
});
