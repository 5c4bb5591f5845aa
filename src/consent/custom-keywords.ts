/**
 * @module consent/custom-keywords
 * An organisation's own keywords, on top of the carrier / FCC standard set (which never
 * shrinks): `optOut` ("UNSUBSCRIBE FLU", a word the clinic's patients use), `help` and
 * `optIn`, each up to 20 words or phrases of 1–30 letters, digits and spaces. A reply whose
 * whole text (normalised as the classifier normalises it) equals one of them acts exactly as
 * the standard keyword of that intent. The classifier (consent/classify) stays unchanged:
 * this module runs it first and only overrides its verdict on a whole-reply match, and never
 * turns a reply the classifier reads as an opt-out into anything else.
 */
import { AppError } from '../errors/index.js';
import { classifyReply, normaliseReply, type Classification } from './classify.js';

export const CUSTOM_KEYWORD_INTENTS = ['optOut', 'help', 'optIn'] as const;
export type CustomKeywordIntent = (typeof CUSTOM_KEYWORD_INTENTS)[number];
export type CustomKeywords = Record<CustomKeywordIntent, string[]>;

export const MAX_CUSTOM_KEYWORDS = 20;
export const MAX_KEYWORD_LENGTH = 30;
/** Letters (any script), digits and single spaces between them. */
export const KEYWORD_PATTERN = /^[\p{L}\p{N}]+(?: [\p{L}\p{N}]+)*$/u;

export const EMPTY_CUSTOM_KEYWORDS: CustomKeywords = { optOut: [], help: [], optIn: [] };

const INTENT_OF: Record<CustomKeywordIntent, 'opt_out' | 'help' | 'opt_in'> = {
  optOut: 'opt_out',
  help: 'help',
  optIn: 'opt_in',
};

const LABEL: Record<CustomKeywordIntent, string> = {
  optOut: 'opt-out',
  help: 'help',
  optIn: 'opt-in',
};

/** "an opt-out keyword", "a help keyword". */
function aKeyword(intent: CustomKeywordIntent): string {
  return `${intent === 'help' ? 'a' : 'an'} ${LABEL[intent]} keyword`;
}

/** Trims and collapses inner whitespace; upper case, as keywords are shown. */
function tidy(k: string): string {
  return k.trim().replace(/\s+/g, ' ').toUpperCase();
}

/**
 * Validates and tidies custom keywords: the shape, the characters, no keyword twice, and no
 * clash with a standard keyword of another intent (adding STOP as an opt-in keyword), with a
 * YES-style confirmation, or — for help and opt-in — with anything the classifier reads as an
 * opt-out. Throws `validation_failed` with a message naming the keyword (an administrator's
 * setting, never a patient's text).
 */
export function validateCustomKeywords(input: Partial<CustomKeywords>): CustomKeywords {
  const out: CustomKeywords = { optOut: [], help: [], optIn: [] };
  const seen = new Map<string, CustomKeywordIntent>();
  for (const intent of CUSTOM_KEYWORD_INTENTS) {
    const list = input[intent] ?? [];
    if (!Array.isArray(list) || list.length > MAX_CUSTOM_KEYWORDS) {
      throw new AppError(
        'validation_failed',
        `At most ${MAX_CUSTOM_KEYWORDS} custom ${LABEL[intent]} keywords.`,
      );
    }
    for (const raw of list) {
      const k = typeof raw === 'string' ? tidy(raw) : '';
      if (k.length < 1 || k.length > MAX_KEYWORD_LENGTH || !KEYWORD_PATTERN.test(k)) {
        throw new AppError(
          'validation_failed',
          `A custom ${LABEL[intent]} keyword must have 1 to ${MAX_KEYWORD_LENGTH} letters, digits and spaces.`,
        );
      }
      const norm = normaliseReply(k);
      const before = seen.get(norm);
      if (before === intent) continue; // the same keyword twice in one list: keep one
      if (before) {
        throw new AppError(
          'validation_failed',
          `"${k}" cannot be both ${aKeyword(before)} and ${aKeyword(intent)}.`,
        );
      }
      const std = classifyReply(k);
      if (std.yes) {
        throw new AppError(
          'validation_failed',
          `"${k}" is the reply that confirms a double opt-in; it cannot be a custom keyword.`,
        );
      }
      if (std.keyword !== null && std.intent !== INTENT_OF[intent]) {
        throw new AppError(
          'validation_failed',
          `"${k}" is a standard ${std.intent.replace('_', '-')} keyword${std.keyword === k ? '' : ` (${std.keyword})`}; it cannot be ${aKeyword(intent)}.`,
        );
      }
      if (std.intent === 'opt_out' && intent !== 'optOut') {
        throw new AppError(
          'validation_failed',
          `"${k}" reads as an opt-out, which is always honoured; it cannot be ${aKeyword(intent)}.`,
        );
      }
      seen.set(norm, intent);
      out[intent].push(k);
    }
  }
  return out;
}

/** The custom keyword a reply consists of, whole, or null. */
export function matchCustomKeyword(
  text: string,
  custom: CustomKeywords,
): { intent: CustomKeywordIntent; keyword: string } | null {
  const reply = normaliseReply(text);
  if (reply.length === 0 || reply.length > 4 * MAX_KEYWORD_LENGTH) return null;
  for (const intent of CUSTOM_KEYWORD_INTENTS) {
    for (const k of custom[intent]) {
      if (normaliseReply(k) === reply) return { intent, keyword: k };
    }
  }
  return null;
}

/**
 * The classifier's verdict with the organisation's keywords on top: a whole-reply match of a
 * custom keyword reads as that intent's keyword (scope `all`), unless the classifier already
 * reads the reply as an opt-out — an opt-out is never overridden.
 */
export function classifyWithCustomKeywords(
  text: string,
  custom: CustomKeywords | undefined,
): Classification & { custom: boolean } {
  const base = classifyReply(text);
  const m = custom ? matchCustomKeyword(text, custom) : null;
  if (!m || (base.intent === 'opt_out' && m.intent !== 'optOut')) {
    return { ...base, custom: false };
  }
  const intent = INTENT_OF[m.intent];
  return {
    intent,
    scope: intent === 'opt_out' ? 'all' : null,
    keyword: m.keyword,
    yes: false,
    custom: true,
  };
}
