/**
 * @module content-guard/types
 * The shapes the content guard answers with. A finding says what kind of health
 * information was found and where (UTF-16 offsets into the scanned text), never the text.
 */

export const CATEGORIES = [
  'condition',
  'medication',
  'lab',
  'procedure',
  'specialty',
  'sensitive',
  'identifier',
  'financial',
] as const;
export type Category = (typeof CATEGORIES)[number];

export type Verdict = 'allow' | 'secure';

export interface Finding {
  category: Category;
  /** Offset of the first UTF-16 code unit of the match in the scanned text. */
  start: number;
  /** Offset just past the match (`start <= end <= text.length`). */
  end: number;
}

export interface ScanResult {
  verdict: Verdict;
  /** Sorted by `start`, never overlapping. */
  findings: Finding[];
}

export interface ScanContext {
  /**
   * The name the recipient sees the text come from (sender, clinic or department). A name
   * that reveals a condition ("Valley Oncology") makes any text secure: a finding of zero
   * width at offset 0 stands for it.
   */
  senderName?: string;
  /** Who receives the text. Staff-to-staff texts follow the same rules (issue 5). */
  audience?: 'patient' | 'staff';
}
