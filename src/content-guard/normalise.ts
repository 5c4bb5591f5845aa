/**
 * @module content-guard/normalise
 * Folding and tokenising that keep offsets: `fold` lower-cases and strips accents one
 * UTF-16 unit for one (so "Clínica" and "clinica" match and every offset in the folded
 * text is an offset in the original), and `tokenize` cuts the folded text into words
 * with their spans and their original casing.
 */

const FOLD_LIMIT = 0x2100;
let foldTable: Uint16Array | undefined;

function buildFoldTable(): Uint16Array {
  const table = new Uint16Array(FOLD_LIMIT);
  for (let c = 0; c < FOLD_LIMIT; c++) {
    const ch = String.fromCharCode(c);
    let folded = c;
    const base = ch.normalize('NFD')[0] ?? ch;
    const lower = base.toLowerCase();
    if (lower.length === 1) folded = lower.charCodeAt(0);
    table[c] = folded;
  }
  // Typographic apostrophes and quotes fold to the ASCII apostrophe ("you’re" = "you're").
  table[0x2018] = 0x27;
  table[0x2019] = 0x27;
  table[0x02bc] = 0x27;
  // Dashes fold to the hyphen.
  table[0x2010] = 0x2d;
  table[0x2011] = 0x2d;
  table[0x2013] = 0x2d;
  table[0x2014] = 0x2d;
  return table;
}

/** Lower-case, accent-free text of exactly the same length as `text`. */
export function fold(text: string): string {
  const table = (foldTable ??= buildFoldTable());
  let out = '';
  let changed = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const f = c < FOLD_LIMIT ? table[c]! : c;
    if (f !== c) changed = true;
    out += String.fromCharCode(f);
  }
  return changed ? out : text;
}

export interface Token {
  /** Folded word, with a trailing possessive 's removed ("patel's" → "patel"). */
  norm: string;
  /** A singular guess for plurals ("shots" → "shot", "vaccines" → "vaccine"), else `norm`. */
  sing: string;
  start: number;
  end: number;
  /** The original word starts with a capital letter. */
  cap: boolean;
  /** The original word is all capitals (and has at least two letters). */
  upper: boolean;
  /** The word has a digit in it. */
  digit: boolean;
  /** Sentence punctuation (.,;:!?) or a line break lies between this word and the one before. */
  breakBefore: boolean;
}

const WORD = /[a-z0-9\u00df-\u024f]+(?:'[a-z]+)?/g;

function singular(w: string): string {
  if (w.length < 4 || w.endsWith('ss') || w.endsWith('us') || w.endsWith('is')) return w;
  if (w.endsWith('ies')) return `${w.slice(0, -3)}y`;
  if (w.endsWith('s')) return w.slice(0, -1);
  return w;
}

/** Words of `folded` (the result of `fold(original)`). */
export function tokenize(folded: string, original: string): Token[] {
  const tokens: Token[] = [];
  let last = 0;
  WORD.lastIndex = 0;
  for (let m = WORD.exec(folded); m !== null; m = WORD.exec(folded)) {
    const start = m.index;
    const end = start + m[0].length;
    let norm = m[0];
    if (norm.endsWith("'s")) norm = norm.slice(0, -2);
    const first = original.charCodeAt(start);
    const word = original.slice(start, end);
    const gap = folded.slice(last, start);
    tokens.push({
      norm,
      sing: singular(norm),
      start,
      end,
      cap: first >= 65 && first <= 90 ? true : word[0] !== word[0]!.toLowerCase(),
      upper: word.length >= 2 && word === word.toUpperCase() && /[A-Z]/.test(word),
      digit: /\d/.test(norm),
      breakBefore: /[.,;:!?\n()]/.test(gap),
    });
    last = end;
  }
  return tokens;
}

/** The words of a vocabulary phrase, folded as a text would be. */
export function phraseTokens(phrase: string): string[] {
  return tokenize(fold(phrase), phrase).map((t) => t.norm);
}

/** The entries of a comma-separated vocabulary list, folded and trimmed. */
export function listOf(blob: string): string[] {
  return blob
    .split(',')
    .map((s) => fold(s.replace(/\s+/g, ' ').trim()))
    .filter((s) => s !== '');
}
