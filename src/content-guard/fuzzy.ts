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

function deletions(word: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < word.length; i++) out.push(word.slice(0, i) + word.slice(i + 1));
  return out;
}

/** Finds, for a token, a vocabulary word one edit away (or undefined). */
export class FuzzyIndex<T> {
  private readonly index = new Map<string, string[]>();
  private readonly values = new Map<string, T>();

  add(word: string, value: T): void {
    if (word.length < MIN_FUZZY_LENGTH || this.values.has(word)) return;
    this.values.set(word, value);
    for (const key of [word, ...deletions(word)]) {
      const list = this.index.get(key);
      if (list) list.push(word);
      else this.index.set(key, [word]);
    }
  }

  /** The value of a vocabulary word one edit from `token`, if any. */
  find(token: string): { word: string; value: T } | undefined {
    if (token.length < MIN_FUZZY_LENGTH) return undefined;
    for (const key of [token, ...deletions(token)]) {
      const list = this.index.get(key);
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
