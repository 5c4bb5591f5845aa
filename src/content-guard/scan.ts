/**
 * @module content-guard/scan
 * The verdict on one text. The test, from issue 5: could someone reading the phone learn
 * something about the recipient's health, or a high-risk identifier? Words are matched
 * against the vocabularies (exactly, by a plural, or one edit away on long words), then
 * context decides: a title or greeting before a capitalised word makes it a name ("Dr.
 * Burns", "Hi Allegra"); an ambiguous abbreviation needs a clinical cue ("your MS", "PT
 * session", not "2 PM PT" or "Jackson, MS"); a vaccine or screening counts only when it is
 * the recipient's; a text for everyone ("all patients", "community") holds no one's health
 * unless it says "your"; a result discloses even without a test name ("your results were
 * normal") but "your results are ready" does not. Pure: no I/O, no clock, no randomness.
 */
import type { Category, Finding, ScanContext, ScanResult } from './types.js';
import { fold, tokenize, type Token } from './normalise.js';
import { vocabulary, type Entry, type Vocabulary } from './vocabulary.js';
import { neutralSpans, patternHits, type Hit } from './patterns.js';

/** Longest text the guard scans (10 SMS segments are at most 1,530 characters). */
export const MAX_TEXT_LENGTH = 10_000;

/** Words that make what follows the recipient's own. */
const PERSONAL = new Set([
  'your',
  "you're",
  'youre',
  'you',
  "you've",
  'yours',
  'his',
  'her',
  'su',
  'sus',
  'tu',
  'tus',
  'my',
  'due',
  'overdue',
  'toca',
  'scheduled',
  'programada',
  'programado',
]);

/** Possessives that make an ambiguous abbreviation clinical ("your MS", "her PT"). */
const POSSESSIVE = new Set(['your', 'his', 'her', 'their', 'my', 'su', 'sus', 'tu', 'tus']);

/** Results language: the words that announce a result, and the results themselves. */
const RESULT_CUES = new Set([
  'result',
  'results',
  'test',
  'tests',
  'tested',
  'testing',
  'lab',
  'labs',
  'labwork',
  'bloodwork',
  'work',
  'screen',
  'screening',
  'biopsy',
  'culture',
  'scan',
  'swab',
  'panel',
  'level',
  'levels',
  'reading',
  'readings',
  'xray',
  'ray',
  'mri',
  'everything',
  'all',
  'resultado',
  'resultados',
  'prueba',
  'pruebas',
  'analisis',
  'examen',
  'estudio',
  'estudios',
  'salio',
  'salieron',
  'back',
]);
const STRONG_RESULT = new Set([
  'normal',
  'normales',
  'abnormal',
  'anormal',
  'anormales',
  'negative',
  'negatives',
  'positive',
  'positives',
  'negativo',
  'negativa',
  'negativos',
  'negativas',
  'positivo',
  'positiva',
  'positivos',
  'positivas',
  'benign',
  'benigno',
  'benigna',
  'malignant',
  'inconclusive',
  'unremarkable',
  'elevated',
  'elevado',
  'elevada',
  'abnormally',
  'detected',
  'detectable',
  'undetectable',
  'reactive',
  'nonreactive',
]);
const WEAK_RESULT = new Set([
  'fine',
  'good',
  'great',
  'clear',
  'ok',
  'okay',
  'high',
  'low',
  'better',
  'worse',
  'bien',
  'mal',
  'alto',
  'alta',
  'altos',
  'bajo',
  'baja',
  'bajos',
  'perfect',
  'excellent',
  'stable',
]);
/** Verbs that join a result cue to a weak result word ("labs look great", "came back fine"). */
const RESULT_LINKS = new Set([
  'were',
  'was',
  'are',
  'is',
  'look',
  'looks',
  'looked',
  'came',
  'come',
  'back',
  'all',
  'salio',
  'salieron',
  'estan',
  'esta',
  'un',
  'poco',
  'a',
  'little',
  'bit',
  'very',
  'came back',
  'showed',
  'show',
  'still',
]);

function isTimeToken(t: Token | undefined): boolean {
  return t !== undefined && (t.digit || t.norm === 'am' || t.norm === 'pm' || t.norm === 'm');
}

interface Match {
  entry: Entry;
  i: number;
  /** One past the last token. */
  j: number;
}

function tokenMatches(t: Token, word: string): boolean {
  return t.norm === word || t.sing === word;
}

/** The longest entry starting at token `i`, exact or by plural. */
function matchAt(
  map: Map<string, Entry[]>,
  tokens: readonly Token[],
  i: number,
): Match | undefined {
  const t = tokens[i]!;
  const candidates = [map.get(t.norm), t.sing !== t.norm ? map.get(t.sing) : undefined];
  let best: Match | undefined;
  for (const list of candidates) {
    if (!list) continue;
    for (const entry of list) {
      const n = entry.tokens.length;
      if (best && n <= best.j - best.i) continue;
      if (i + n > tokens.length) continue;
      let ok = true;
      for (let k = 1; k < n; k++) {
        const tk = tokens[i + k]!;
        // A phrase does not run across a sentence break.
        if (tk.breakBefore || !tokenMatches(tk, entry.tokens[k]!)) {
          ok = false;
          break;
        }
      }
      if (ok) best = { entry, i, j: i + n };
    }
  }
  return best;
}

function hasBroadcastCue(v: Vocabulary, tokens: readonly Token[]): boolean {
  for (let i = 0; i < tokens.length; i++) if (matchAt(v.broadcast, tokens, i)) return true;
  return false;
}

/** Tokens that are names: after a title ("Dr. Burns") or a greeting ("Hi Allegra"). */
function nameTokens(v: Vocabulary, tokens: readonly Token[], neutral: Uint8Array): void {
  for (let i = 0; i + 1 < tokens.length; i++) {
    const t = tokens[i]!;
    const isTitle = v.titles.has(t.norm);
    const isGreeting = v.greetings.has(t.norm);
    if (!isTitle && !isGreeting) continue;
    const next = tokens[i + 1]!;
    // "MS infusion", "good news": a title or greeting is followed by a capitalised name.
    if (!next.cap || next.digit || (next.upper && next.norm.length <= 3 && !isGreeting)) continue;
    if (isGreeting && t.norm === 'good' && !['morning', 'afternoon', 'evening'].includes(next.norm))
      continue;
    if (isTitle && t.cap === false && t.norm !== 'nurse' && t.norm !== 'doctor') continue;
    neutral[i + 1] = 1;
    if (isTitle) neutral[i] = 1;
    const after = tokens[i + 2];
    if (after && after.cap && !after.breakBefore && !after.digit && isTitle) neutral[i + 2] = 1;
  }
}

function personalBefore(tokens: readonly Token[], i: number, reach: number): boolean {
  for (let k = Math.max(0, i - reach); k < i; k++) if (PERSONAL.has(tokens[k]!.norm)) return true;
  return false;
}

function personalAround(tokens: readonly Token[], i: number, j: number): boolean {
  if (personalBefore(tokens, i, 6)) return true;
  // "Your tetanus booster is due", "vaccine is due by 11/5".
  for (let k = j; k < Math.min(tokens.length, j + 3); k++) {
    const n = tokens[k]!.norm;
    if (n === 'due' || n === 'overdue') return true;
  }
  return false;
}

function ambiguousIsClinical(v: Vocabulary, tokens: readonly Token[], m: Match): boolean {
  const prev = tokens[m.i - 1];
  const next = tokens[m.j];
  if (isTimeToken(prev)) return false; // "2:00 PM PT", "3 PM CT": a time zone
  if (prev && POSSESSIVE.has(prev.norm) && !tokens[m.i]!.breakBefore) return true;
  if (next && !next.breakBefore) {
    if (v.clinicalCues.has(next.norm) || v.clinicalCues.has(next.sing)) return true;
    if (m.entry.tokens[0] === 'bp' && next.digit) return true;
  }
  return false;
}

function nearMedicationCue(v: Vocabulary, tokens: readonly Token[], m: Match): boolean {
  for (let k = Math.max(0, m.i - 4); k < Math.min(tokens.length, m.j + 4); k++) {
    if (k >= m.i && k < m.j) continue;
    if (v.medicationCues.has(tokens[k]!.norm) || v.medicationCues.has(tokens[k]!.sing)) return true;
  }
  return false;
}

/** Results stated in words: "results were normal", "all negative", "salieron bien". */
function resultHits(tokens: readonly Token[], consumed: Uint8Array, out: Hit[]): void {
  for (let i = 0; i < tokens.length; i++) {
    if (consumed[i]) continue;
    const t = tokens[i]!;
    const strong = STRONG_RESULT.has(t.norm);
    const weak = !strong && WEAK_RESULT.has(t.norm);
    if (!strong && !weak) continue;
    let cue = false;
    if (strong) {
      // A cue within the clause before: "your test was positive", "all negative".
      for (let k = i - 1; k >= 0 && k >= i - 8; k--) {
        const tk = tokens[k]!;
        if (RESULT_CUES.has(tk.norm) && !consumed[k]) {
          cue = true;
          break;
        }
        if (tk.breakBefore && k < i - 1 && tokens[k + 1]!.breakBefore) break;
      }
      // "positive strep result", "abnormal test".
      for (let k = i + 1; !cue && k < Math.min(tokens.length, i + 4); k++) {
        const tk = tokens[k]!;
        if (tk.breakBefore) break;
        if (tk.norm === 'result' || tk.norm === 'results' || tk.norm === 'test') cue = true;
      }
      // "negative for covid", "positive for flu".
      const next = tokens[i + 1];
      if (!cue && next && (next.norm === 'for' || next.norm === 'para') && !next.breakBefore)
        cue = true;
    } else {
      // A weak word must sit right after a result cue and a linking verb.
      let k = i - 1;
      while (
        k >= 0 &&
        k >= i - 4 &&
        RESULT_LINKS.has(tokens[k]!.norm) &&
        !tokens[k + 1]!.breakBefore
      )
        k--;
      const tk = tokens[k];
      if (k < i - 1 && tk && RESULT_CUES.has(tk.norm) && tk.norm !== 'all' && tk.norm !== 'back')
        cue = true;
      if (
        !cue &&
        (tokens[i - 1]?.norm === 'back' ||
          tokens[i - 1]?.norm === 'salieron' ||
          tokens[i - 1]?.norm === 'salio')
      )
        cue = true;
    }
    if (cue) out.push({ category: 'lab', start: t.start, end: t.end });
  }
}

interface Analysis {
  hits: Hit[];
}

function analyse(text: string, forSender: boolean): Analysis {
  const v = vocabulary();
  const folded = fold(text);
  const tokens = tokenize(folded, text);
  const broadcast = !forSender && hasBroadcastCue(v, tokens);
  const hits: Hit[] = forSender ? [] : patternHits(folded, broadcast);

  // Tokens that cannot be health words: codes, addresses, names.
  const neutral = new Uint8Array(tokens.length);
  const spans = forSender ? [] : neutralSpans(folded, text);
  if (spans.length > 0) {
    for (let k = 0; k < tokens.length; k++) {
      const t = tokens[k]!;
      for (const s of spans) if (t.start >= s.start && t.end <= s.end) neutral[k] = 1;
    }
  }
  nameTokens(v, tokens, neutral);

  const consumed = new Uint8Array(tokens.length);
  for (let i = 0; i < tokens.length;) {
    if (neutral[i]) {
      i++;
      continue;
    }
    const t = tokens[i]!;
    let m = matchAt(v.byFirst, tokens, i);
    if (!m && !t.digit && t.norm.length >= 6 && !v.fuzzySafe.has(t.norm) && !t.cap) {
      const f = v.fuzzy.find(t.norm);
      if (f) m = { entry: f.value, i, j: i + 1 };
    } else if (!m && !t.digit && t.norm.length >= 6 && !v.fuzzySafe.has(t.norm) && t.cap) {
      // A capitalised word may be a misspelt brand ("Xarleto") but not a name we know.
      const f = v.fuzzy.find(t.norm);
      if (f && f.value.category === 'medication') m = { entry: f.value, i, j: i + 1 };
    }
    if (!m) {
      i++;
      continue;
    }
    let neutralInside = false;
    for (let k = m.i; k < m.j; k++) if (neutral[k]) neutralInside = true;
    if (neutralInside) {
      i++;
      continue;
    }
    for (let k = m.i; k < m.j; k++) consumed[k] = 1;
    const e = m.entry;
    const start = tokens[m.i]!.start;
    const end = tokens[m.j - 1]!.end;
    let keep = false;
    switch (e.kind) {
      case 'safe':
        break;
      case 'term':
        keep = !broadcast || e.category === 'specialty' || personalBefore(tokens, m.i, 3) === true;
        break;
      case 'ambiguous':
        keep = ambiguousIsClinical(v, tokens, m);
        break;
      case 'personal':
        keep = personalAround(tokens, m.i, m.j) && (!broadcast || personalBefore(tokens, m.i, 3));
        break;
      case 'insurer':
        keep = !broadcast || personalBefore(tokens, m.i, 3);
        break;
      case 'namelike':
        keep = nearMedicationCue(v, tokens, m);
        break;
    }
    if (keep) hits.push({ category: e.category, start, end });
    i = m.j;
  }
  if (!forSender) resultHits(tokens, consumed, hits);
  return { hits };
}

/** Sorted, non-overlapping findings: overlapping hits merge, the earlier one's category kept. */
function merge(hits: Hit[]): Finding[] {
  hits.sort((a, b) => a.start - b.start || b.end - a.end);
  const out: Finding[] = [];
  for (const h of hits) {
    const last = out[out.length - 1];
    if (last && h.start < last.end) {
      if (h.end > last.end) last.end = h.end;
      continue;
    }
    out.push({ category: h.category, start: h.start, end: h.end });
  }
  return out;
}

const SENDER_CATEGORIES: ReadonlySet<Category> = new Set([
  'specialty',
  'condition',
  'sensitive',
  'procedure',
  'medication',
  'lab',
]);

/**
 * Scans `text` and answers `secure` if anything in it (or in the sender's name) could tell
 * a reader of the phone about the recipient's health, or show a high-risk identifier.
 * Findings carry categories and offsets only, never the matched text.
 */
export function scan(text: string, context: ScanContext = {}): ScanResult {
  const findings = merge(analyse(text, false).hits);
  if (context.senderName) {
    const sender = analyse(context.senderName, true).hits.find((h) =>
      SENDER_CATEGORIES.has(h.category),
    );
    if (sender) findings.unshift({ category: sender.category, start: 0, end: 0 });
  }
  return { verdict: findings.length > 0 ? 'secure' : 'allow', findings };
}
