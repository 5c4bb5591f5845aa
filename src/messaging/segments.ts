/**
 * @module messaging/segments
 * SMS segment maths (3GPP TS 23.038 alphabets, TS 23.040 concatenation). A body that uses
 * only the GSM 7-bit default alphabet and its extension table is sent as GSM-7: 160 septets
 * in one segment, 153 per segment when concatenated (the UDH takes 7), with extension
 * characters costing two septets and never split across segments. Anything else is UCS-2:
 * 70 UTF-16 code units in one segment, 67 per segment when concatenated, never splitting a
 * surrogate pair. Pure: no I/O.
 */

/** GSM 03.38 default alphabet (one septet each). */
const GSM7_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u001bÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
/** GSM 03.38 extension table (escape + one septet each). */
const GSM7_EXTENSION = '^{}\\[~]|€\f';

const BASIC = new Set(GSM7_BASIC.replace('\u001b', ''));
const EXTENSION = new Set(GSM7_EXTENSION);

export type Encoding = 'GSM-7' | 'UCS-2';

export interface SegmentInfo {
  encoding: Encoding;
  segments: number;
  /** Septets (GSM-7) or UTF-16 code units (UCS-2) the body needs. */
  units: number;
}

export const SINGLE_GSM7 = 160;
export const MULTI_GSM7 = 153;
export const SINGLE_UCS2 = 70;
export const MULTI_UCS2 = 67;

/** The GSM-7 cost of each character, or null if the text needs UCS-2. */
function gsm7Costs(text: string): number[] | null {
  const costs: number[] = [];
  for (const ch of text) {
    if (BASIC.has(ch)) costs.push(1);
    else if (EXTENSION.has(ch)) costs.push(2);
    else return null;
  }
  return costs;
}

/** Packs indivisible units into segments of `perSegment`; returns how many segments. */
function pack(costs: readonly number[], perSegment: number): number {
  let segments = 1;
  let used = 0;
  for (const c of costs) {
    if (used + c > perSegment) {
      segments += 1;
      used = 0;
    }
    used += c;
  }
  return segments;
}

export function countSegments(text: string): SegmentInfo {
  const gsm = gsm7Costs(text);
  if (gsm) {
    const units = gsm.reduce((a, b) => a + b, 0);
    const segments = units <= SINGLE_GSM7 ? 1 : pack(gsm, MULTI_GSM7);
    return { encoding: 'GSM-7', segments, units };
  }
  // One entry per code point: 1 code unit, or 2 for a surrogate pair (kept together).
  const costs = Array.from(text, (cp) => cp.length);
  const units = text.length;
  const segments = units <= SINGLE_UCS2 ? 1 : pack(costs, MULTI_UCS2);
  return { encoding: 'UCS-2', segments, units };
}
