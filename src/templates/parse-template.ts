/**
 * @module templates/parse-template
 * The template syntax: literal text with `{{slotName}}` placeholders (spaces inside the
 * braces are allowed), where every slot name is one of the slot types. A stray `{{` or `}}`
 * is a mistake, not text, so it is refused rather than sent to a patient. Pure.
 */
import { AppError } from '../errors/index.js';
import { isSlotType, SLOT_TYPES, type SlotType } from './slots.js';

export type TemplatePart = { readonly text: string } | { readonly slot: SlotType };

export interface ParsedTemplate {
  readonly parts: readonly TemplatePart[];
  /** Each slot the template uses, once, in order of first use. */
  readonly slots: readonly SlotType[];
}

const PLACEHOLDER = /\{\{(.*?)\}\}/gsu;
const SLOT_NAME = /^[A-Za-z][A-Za-z0-9_]{0,39}$/;

/** Splits a template body into text and slots; throws a coded AppError if it is malformed. */
export function parseTemplate(body: string): ParsedTemplate {
  const parts: TemplatePart[] = [];
  const slots: SlotType[] = [];
  let last = 0;
  const literal = (text: string) => {
    if (text.includes('{{') || text.includes('}}')) {
      throw new AppError(
        'template_syntax_invalid',
        'The template has a "{{" or "}}" that is not part of a {{slotName}} placeholder.',
      );
    }
    if (text) parts.push({ text });
  };
  for (const m of body.matchAll(PLACEHOLDER)) {
    literal(body.slice(last, m.index));
    const name = (m[1] ?? '').trim();
    if (!SLOT_NAME.test(name)) {
      throw new AppError(
        'template_syntax_invalid',
        'A placeholder must be a slot name in double braces, such as {{firstName}}.',
      );
    }
    if (!isSlotType(name)) {
      throw new AppError(
        'template_unknown_slot',
        `The template uses {{${name}}}, which is not a slot type; use one of: ${SLOT_TYPES.join(', ')}.`,
      );
    }
    parts.push({ slot: name });
    if (!slots.includes(name)) slots.push(name);
    last = m.index + m[0].length;
  }
  literal(body.slice(last));
  return { parts, slots };
}

/** The template's text with each slot replaced by `values[slot]`. */
export function fillTemplate(
  parsed: ParsedTemplate,
  values: Readonly<Partial<Record<SlotType, string>>>,
): string {
  return parsed.parts.map((p) => ('text' in p ? p.text : (values[p.slot] ?? ''))).join('');
}
