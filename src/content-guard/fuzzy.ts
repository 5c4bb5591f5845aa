/**
 * @module content-guard/fuzzy
 * One-edit matching for misspelt vocabulary ("metformn", "amoxicilin"): a symmetric
 * deletion index (every word and each of its one-letter deletions) narrows the candidates,
 * and an optimal-string-alignment check confirms exactly one insertion, deletion,
 * substitution or adjacent transposition. Only words of MIN_FUZZY_LENGTH letters or more
 * take part, which keeps short everyday words from colliding with drug names.
 */

/** Shorter tokens are matched exactly only (policy: fuzzy only on longer tokens). */
export const MIN_FUZZY_LENGTH = 6;

/** True when `a` and `b` differ by exactly one edit (OSA distance 1). */
export function isOneEdit(a: string, b: string): boolean {
  if (a === b) return false;
  const la = a.length;
  const lb = b.length;
  if (Math.abs(la - lb) > 1) return false;
  let i = 0;
  while (i < la && i < lb && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (la === lb) {
    // Substitution at i, or transposition of i and i+1.
    if (a.slice(i + 1) === b.slice(i + 1)) return true;
    return (
      i + 1 < la && a[i] === b[i + 1] && a[i + 1] === b[i] && a.slice(i + 2) === b.slice(i + 2)
    );
  }
  // One insertion or deletion at i.
  return la > lb ? a.slice(i + 1) === b.slice(i) : a.slice(i) === b.slice(i + 1);
}

/** Multiplier of the polynomial hash of a string's UTF-16 code units, modulo 2^32. */
const BASE = 0x01000193;
const MAX_WORD = 64;

/**
 * The hashes of `word` and of each of its one-letter deletions, written to `out` (word
 * first): the keys of the symmetric deletion index, computed from prefix and suffix hashes
 * without building the deleted strings. Returns how many were written.
 */
function deletionHashes(word: string, out: Uint32Array): number {
  const n = Math.min(word.length, MAX_WORD);
  // prefix[i]: hash of word[0, i); suffix[i]: hash of word[i, n); pow[k] = BASE^k.
  PREFIX[0] = 0;
  for (let i = 0; i < n; i++) PREFIX[i + 1] = Math.imul(PREFIX[i]!, BASE) + word.charCodeAt(i);
  SUFFIX[n] = 0;
  for (let i = n - 1; i >= 0; i--) {
    SUFFIX[i] = Math.imul(word.charCodeAt(i), POW[n - 1 - i]!) + SUFFIX[i + 1]!;
  }
  out[0] = PREFIX[n]!;
  for (let i = 0; i < n; i++) out[i + 1] = Math.imul(PREFIX[i]!, POW[n - 1 - i]!) + SUFFIX[i + 1]!;
  return n + 1;
}

const PREFIX = new Uint32Array(MAX_WORD + 1);
const SUFFIX = new Uint32Array(MAX_WORD + 1);
const POW = new Uint32Array(MAX_WORD + 1);
POW[0] = 1;
for (let k = 1; k <= MAX_WORD; k++) POW[k] = Math.imul(POW[k - 1]!, BASE);
const KEYS = new Uint32Array(MAX_WORD + 1);

/**
 * Finds, for a token, a vocabulary word one edit away (or undefined). Keys are hashes of
 * the symmetric deletions, so a lookup allocates nothing; a hash collision only adds a
 * candidate, which the one-edit check then refuses.
 */
export class FuzzyIndex<T> {
  private readonly index = new Map<number, string[]>();
  private readonly values = new Map<string, T>();

  add(word: string, value: T): void {
    if (word.length < MIN_FUZZY_LENGTH || word.length > MAX_WORD || this.values.has(word)) {
      return;
    }
    this.values.set(word, value);
    const n = deletionHashes(word, KEYS);
    for (let k = 0; k < n; k++) {
      const list = this.index.get(KEYS[k]!);
      if (!list) this.index.set(KEYS[k]!, [word]);
      else if (list[list.length - 1] !== word) list.push(word);
    }
  }

  /** The value of a vocabulary word one edit from `token`, if any. */
  find(token: string): { word: string; value: T } | undefined {
    if (token.length < MIN_FUZZY_LENGTH || token.length > MAX_WORD) return undefined;
    const n = deletionHashes(token, KEYS);
    for (let k = 0; k < n; k++) {
      const list = this.index.get(KEYS[k]!);
      if (!list) continue;
      for (const word of list) {
        if (isOneEdit(token, word)) {
          return { word, value: this.values.get(word)! };
        }
      }
    }
    return undefined;
  }
}
