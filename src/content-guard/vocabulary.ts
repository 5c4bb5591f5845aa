/**
 * @module content-guard/vocabulary
 * Builds, once on first use, the phrase index the scanner walks: every curated and derived
 * entry keyed by its first word, longest first, with the kind of context it needs; the
 * fuzzy index over single words; and the small word sets the context rules consult.
 */
import type { Category } from './types.js';
import { FuzzyIndex, MIN_FUZZY_LENGTH } from './fuzzy.js';
import { listOf, phraseTokens } from './normalise.js';
import {
  AMBIGUOUS,
  BROADCAST_CUES,
  CLINICAL_CUES,
  GREETINGS,
  INSURERS,
  MEDICATION_CUES,
  NAME_LIKE_BRANDS,
  PERSONAL_ONLY,
  SAFE_PHRASES,
  TERMS,
  TITLES,
} from './vocab/curated.js';
import {
  DERIVED_CONDITIONS,
  DERIVED_MEDICATIONS,
  DERIVED_NAME_LIKE_MEDICATIONS,
  FUZZY_SAFE_WORDS,
} from './vocab/derived.js';

/**
 * - `term`: a finding wherever it appears, unless the text is a broadcast;
 * - `ambiguous`: an abbreviation that needs a clinical cue or a possessive;
 * - `personal`: a vaccine or screening, a finding only when it is the recipient's;
 * - `insurer`: a named plan or insurance specific (financial), unless a broadcast;
 * - `namelike`: a drug brand that is also a first name, needs a medication cue;
 * - `safe`: a known-safe phrase, whose words are never findings.
 */
export type EntryKind = 'term' | 'ambiguous' | 'personal' | 'insurer' | 'namelike' | 'safe';

export interface Entry {
  tokens: readonly string[];
  category: Category;
  kind: EntryKind;
}

export interface Vocabulary {
  byFirst: Map<string, Entry[]>;
  broadcast: Map<string, Entry[]>;
  fuzzy: FuzzyIndex<Entry>;
  fuzzySafe: ReadonlySet<string>;
  titles: ReadonlySet<string>;
  greetings: ReadonlySet<string>;
  clinicalCues: ReadonlySet<string>;
  medicationCues: ReadonlySet<string>;
}

/** Order decides the category of a phrase listed twice (the first list wins). */
const TERM_ORDER: readonly (keyof typeof TERMS)[] = [
  'specialty',
  'sensitive',
  'lab',
  'procedure',
  'medication',
  'condition',
];

function words(blob: string): string[] {
  return blob.split(/\s+/).filter(Boolean);
}

function addEntry(map: Map<string, Entry[]>, seen: Set<string>, entry: Entry): void {
  if (entry.tokens.length === 0) return;
  const key = entry.tokens.join(' ');
  if (seen.has(key)) return;
  seen.add(key);
  const first = entry.tokens[0]!;
  const list = map.get(first);
  if (list) list.push(entry);
  else map.set(first, [entry]);
}

function build(): Vocabulary {
  const byFirst = new Map<string, Entry[]>();
  const seen = new Set<string>();
  const add = (phrase: string, category: Category, kind: EntryKind) =>
    addEntry(byFirst, seen, { tokens: phraseTokens(phrase), category, kind });

  // Safe phrases first: on the same words they win over any term.
  for (const p of SAFE_PHRASES) add(p, 'condition', 'safe');
  for (const [abbr, category] of Object.entries(AMBIGUOUS)) add(abbr, category, 'ambiguous');
  for (const p of listOf(PERSONAL_ONLY)) add(p, 'procedure', 'personal');
  for (const p of listOf(INSURERS)) add(p, 'financial', 'insurer');
  for (const category of TERM_ORDER) {
    for (const p of listOf(TERMS[category])) add(p, category, 'term');
  }
  for (const w of listOf(NAME_LIKE_BRANDS)) add(w, 'medication', 'namelike');
  for (const w of words(DERIVED_NAME_LIKE_MEDICATIONS)) add(w, 'medication', 'namelike');
  for (const w of words(DERIVED_MEDICATIONS)) add(w, 'medication', 'term');
  for (const w of words(DERIVED_CONDITIONS)) add(w, 'condition', 'term');
  for (const list of byFirst.values()) list.sort((a, b) => b.tokens.length - a.tokens.length);

  const curatedWords = new Set(Object.values(TERMS).flatMap((b) => listOf(b)));
  const fuzzy = new FuzzyIndex<Entry>();
  for (const list of byFirst.values()) {
    for (const e of list) {
      const w = e.tokens[0]!;
      if (e.kind !== 'term' || e.tokens.length !== 1 || !/^[a-z]+$/.test(w)) continue;
      // Curated words from six letters, derived ones (obscure brands) from seven.
      if (w.length >= (curatedWords.has(w) ? MIN_FUZZY_LENGTH : MIN_FUZZY_LENGTH + 1)) {
        fuzzy.add(w, e);
      }
    }
  }

  const broadcast = new Map<string, Entry[]>();
  const seenBroadcast = new Set<string>();
  for (const p of BROADCAST_CUES) {
    addEntry(broadcast, seenBroadcast, {
      tokens: phraseTokens(p),
      category: 'condition',
      kind: 'safe',
    });
  }
  for (const list of broadcast.values()) list.sort((a, b) => b.tokens.length - a.tokens.length);

  return {
    byFirst,
    broadcast,
    fuzzy,
    fuzzySafe: new Set(words(FUZZY_SAFE_WORDS)),
    titles: new Set(listOf(TITLES)),
    greetings: new Set(listOf(GREETINGS)),
    clinicalCues: new Set(listOf(CLINICAL_CUES).flatMap((p) => phraseTokens(p))),
    medicationCues: new Set(listOf(MEDICATION_CUES).flatMap((p) => phraseTokens(p))),
  };
}

let built: Vocabulary | undefined;

/** The vocabulary, built on first use and kept for the life of the process. */
export function vocabulary(): Vocabulary {
  return (built ??= build());
}
