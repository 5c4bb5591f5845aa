/**
 * @module contacts/mask
 * How a patient's details are shown until someone reveals them (an audited act): enough to
 * tell two patients apart on a list — initials and the last four digits — and no more
 * (45 CFR 164.502(b), minimum necessary). Pure.
 */

/** "Ana María Lopez" → "A•• M•••• L••••": each word's first letter, the rest dotted. */
export function maskName(name: string): string {
  return name
    .trim()
    .split(/\s+/)
    .filter((w) => w.length > 0)
    .map((w) => {
      const chars = [...w];
      return chars[0]! + '•'.repeat(Math.min(chars.length - 1, 6));
    })
    .join(' ');
}

/** "+16175550142" → "•••• 0142": only the last four digits. */
export function maskPhone(e164: string): string {
  const digits = e164.replace(/\D/g, '');
  return `•••• ${digits.slice(-4)}`;
}

/** A date of birth is never shown in part: "••••-••-••". */
export function maskDateOfBirth(): string {
  return '••••-••-••';
}

/** Letters folded for matching: lower case, accents removed ("José" → "jose"). */
export function foldName(text: string): string {
  return text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

/**
 * Whether every word of `query` begins some word of `name` ("lop an" matches "Ana Lopez").
 * Both are folded; an empty query matches nothing.
 */
export function nameMatches(name: string, query: string): boolean {
  const words = foldName(name)
    .split(/[\s'-]+/)
    .filter(Boolean);
  const wanted = foldName(query)
    .split(/[\s'-]+/)
    .filter(Boolean);
  if (wanted.length === 0) return false;
  return wanted.every((q) => words.some((w) => w.startsWith(q)));
}
