/**
 * @module web/guard-feedback
 * Turns the content guard's findings (categories and UTF-16 offsets, never the words) into
 * non-overlapping highlighted spans of the text being typed. Pure.
 */

export const CATEGORY_LABELS: Record<string, string> = {
  condition: 'Condition',
  medication: 'Medication',
  lab: 'Test or result',
  procedure: 'Procedure',
  specialty: 'Specialty',
  sensitive: 'Sensitive service',
  identifier: 'Identifier',
  financial: 'Financial',
};

export interface Finding {
  category: string;
  start: number;
  end: number;
}

export interface Span {
  text: string;
  category: string | null;
}

/** Splits `text` into plain and highlighted spans; overlapping findings keep the first. */
export function highlight(text: string, findings: readonly Finding[]): Span[] {
  const sorted = [...findings]
    .filter((f) => f.start >= 0 && f.end <= text.length && f.end > f.start)
    .sort((a, b) => a.start - b.start || b.end - a.end);
  const spans: Span[] = [];
  let at = 0;
  for (const f of sorted) {
    if (f.start < at) continue;
    if (f.start > at) spans.push({ text: text.slice(at, f.start), category: null });
    spans.push({ text: text.slice(f.start, f.end), category: f.category });
    at = f.end;
  }
  if (at < text.length) spans.push({ text: text.slice(at), category: null });
  return spans;
}
