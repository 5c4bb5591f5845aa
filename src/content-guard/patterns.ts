/**
 * @module content-guard/patterns
 * The detectors that are patterns rather than words: high-risk identifiers (SSN, MRN,
 * member, policy and group ids, Medicare numbers, full dates of birth, account numbers
 * beside a balance), amounts tied to the recipient's account, dosages, blood-pressure
 * readings — and the spans that must never be read as health words: confirmation codes,
 * street addresses, "City, ST 12345". Written for Tidings; no pattern was copied from a
 * package. Every pattern runs on the folded text (lower case, no accents, same offsets).
 */
import type { Category } from './types.js';

export interface Span {
  start: number;
  end: number;
}
export interface Hit extends Span {
  category: Category;
}

const DATE =
  '(?:\\d{1,2}[/.-]\\d{1,2}[/.-]\\d{2,4}|\\d{4}-\\d{2}-\\d{2}|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\\.? \\d{1,2},? \\d{4}|\\d{1,2} (?:de )?(?:enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|octubre|noviembre|diciembre) (?:de )?\\d{4}|\\d{1,2}[/.-]\\d{1,2})';

/** Identifier patterns; the last capture group (or the whole match) is the finding. */
const IDENTIFIERS: readonly RegExp[] = [
  // US Social Security number written in full.
  /\b\d{3}[- ]\d{2}[- ]\d{4}\b/g,
  // SSN named, even when only the last digits are given.
  /\b(?:ssn|ss#|social security(?: number| no\.?| #)?|social|seguro social|numero de seguro social)\b[^\d\n]{0,30}?(\d[\d-]{3,10})/g,
  // Medical record numbers.
  /\b(?:mrn|medical record(?: number| no\.?| #)?|chart(?: number| no\.?| #)|patient id|pt id|expediente)\s*(?:is\s+|es\s+)?[:#]?\s*([a-z]{0,3}\d[a-z0-9-]{3,})/g,
  // Member, policy, group, subscriber, Medicare/Medicaid ids.
  /\b(?:member|policy|group|subscriber|insurance|medicare|medicaid|beneficiary|poliza|afiliado|miembro)\s*(?:id|number|no\.?|num|numero|#)?\s*(?:is\s+|es\s+)?[:#]?\s*(?:#\s*)?([a-z0-9]*\d[a-z0-9-]{3,})/g,
  // Medicare Beneficiary Identifier (CMS format: 1EG4-TE5-MK73).
  /\b[1-9][a-z][a-z0-9]\d-?[a-z][a-z0-9]\d-?[a-z]{2}\d{2}\b/g,
  // A date of birth named as such.
  new RegExp(
    `\\b(?:dob|d\\.o\\.b\\.?|date of birth|birth ?date|born(?: on)?|fecha de nacimiento|nacid[oa](?: el)?)\\b[^\\n]{0,16}?(${DATE})`,
    'g',
  ),
  // A full date from before 2010 is a birth date, not an appointment.
  /\b\d{1,2}[/.-]\d{1,2}[/.-](?:19\d{2}|200\d)\b/g,
  /\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.? \d{1,2},? (?:19\d{2}|200\d)\b/g,
];

/** An account number is an identifier when the text also speaks of money. */
const ACCOUNT_NUMBER =
  /\b(?:account|acct|cuenta)\s*(?:number|no\.?|num|numero|#)?\s*[:#]?\s*(?:#\s*)?(\d[\d-]{3,})/g;

const MONEY =
  /(?:\$\s?\d[\d,]*(?:\.\d{1,2})?|\b\d[\d,]*(?:\.\d{2})?\s?(?:dollars|dolares|usd)\b|\b(?:zero|no) balance\b|\bbalance (?:of|is) zero\b|\bsaldo de cero\b)/g;

/** Words that tie an amount to the recipient's account. */
const ACCOUNT_CUE =
  /\b(?:balance|owe|owed|owing|due|copay|co-pay|copayment|deductible|payment|paid|pay|bill|billed|billing|charge|charged|credit|statement|account|acct|cost|costs|out-of-pocket|invoice|refund|claim|saldo|cuenta|pago|pagar|debe|factura|cobro|copago|deducible)\b/;

/** A number with a dose unit ("10mg", "2 tablets", "0.5 mg"). */
const DOSAGE =
  /\b\d+(?:[.,]\d+)?\s?(?:mg|mcg|ug|ml|units?|iu|tabs?|tablets?|pills?|capsules?|caps|puffs?|tabletas|pastillas|comprimidos|capsulas|unidades|gotas)\b/g;

/** A blood-pressure reading ("BP 162/98", "150 over 95"). */
const BP_READING =
  /\b(?:bp|blood pressure|presion(?: arterial)?)\b[^\n]{0,25}?\b(\d{2,3}\s?(?:\/|over|sobre)\s?\d{2,3})\b/g;

/** Codes that look like words: "confirmation code MRI-4X7Q", "Ref# MS4421", "code ED25". */
const CODE =
  /\b(?:(?:code|codigo|confirmation|confirmacion|conf|reference|ref|booking|ticket|pin|passcode|id|number|numero|no\.?|#)\b\s*)+(?:is|es)?\s*[:#]?\s*([a-z0-9]+(?:-[a-z0-9]+)*)/g;

/** Street addresses: "78 Heart Lake Rd", "2200 Medical Center Dr, Suite 310". */
const ADDRESS =
  /\b\d{1,6}\s+(?:[nsew]{1,2}\s+)?(?:[a-z0-9'.-]+\s+){0,4}(?:st|street|ave|avenue|rd|road|dr|drive|blvd|boulevard|ln|lane|way|ct|court|pl|place|plaza|pkwy|parkway|hwy|highway|cir|circle|ter|terrace|trl|trail|sq|square|calle|avenida)\b\.?/g;

const STATES =
  'al|ak|az|ar|ca|co|ct|de|fl|ga|hi|id|il|in|ia|ks|ky|la|me|md|ma|mi|mn|ms|mo|mt|ne|nv|nh|nj|nm|ny|nc|nd|oh|ok|or|pa|ri|sc|sd|tn|tx|ut|vt|va|wa|wv|wi|wy|dc|pr';
/** "Jackson, MS 39216", "Portland, OR", "Hartford, CT office". */
const CITY_STATE = new RegExp(`,\\s*(?:${STATES})\\b(?:\\s+\\d{5}(?:-\\d{4})?)?`, 'g');

function collect(re: RegExp, text: string, add: (start: number, end: number) => void): void {
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    let start = m.index;
    let end = start + m[0].length;
    const group = m[m.length - 1];
    if (m.length > 1 && group !== undefined) {
      start = m.index + m[0].lastIndexOf(group);
      end = start + group.length;
    }
    add(start, end);
    if (m[0].length === 0) re.lastIndex++;
  }
}

/** Collects the matches of `re` as findings of `category`. */
function hitsOf(re: RegExp, text: string, out: Hit[], category: Category): void {
  collect(re, text, (start, end) => out.push({ category, start, end }));
}

/** Collects the matches of `re` as spans. */
function spansOf(re: RegExp, text: string, out: Span[]): void {
  collect(re, text, (start, end) => out.push({ start, end }));
}

/** Identifier, money and dosage findings in the folded text. */
export function patternHits(folded: string, broadcast: boolean): Hit[] {
  const hits: Hit[] = [];
  for (const re of IDENTIFIERS) hitsOf(re, folded, hits, 'identifier');
  const money: Hit[] = [];
  hitsOf(MONEY, folded, money, 'financial');
  if (money.length > 0) {
    if (!broadcast && ACCOUNT_CUE.test(folded)) hits.push(...money);
    hitsOf(ACCOUNT_NUMBER, folded, hits, 'identifier');
  }
  hitsOf(DOSAGE, folded, hits, 'medication');
  hitsOf(BP_READING, folded, hits, 'lab');
  return hits;
}

/** Spans whose words are never health words (codes, addresses, state abbreviations). */
export function neutralSpans(folded: string, original: string): Span[] {
  const spans: Span[] = [];
  CODE.lastIndex = 0;
  for (let m = CODE.exec(folded); m !== null; m = CODE.exec(folded)) {
    const code = m[1]!;
    // A code has a digit in it; "your code is ready" names no code.
    if (/\d/.test(code)) {
      const start = m.index + m[0].length - code.length;
      spans.push({ start, end: start + code.length });
    }
  }
  spansOf(ADDRESS, folded, spans);
  const states: Span[] = [];
  spansOf(CITY_STATE, folded, states);
  for (const s of states) {
    // Only a capitalised state code after a place name: "Jackson, MS", not "Dana, your MS".
    const code = /[a-z]{2}/.exec(folded.slice(s.start, s.end));
    const at = code ? s.start + code.index : s.start;
    if (original.slice(at, at + 2) === original.slice(at, at + 2).toUpperCase()) spans.push(s);
  }
  return spans;
}
