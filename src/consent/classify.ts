/**
 * @module consent/classify
 * The reply classifier: decides whether an inbound text is an opt-out, an opt-in, a request
 * for help, or none of these, by the policy of issue 4 ("Inbound replies"), explained rule by
 * rule in docs/consent-classifier.md. Pure and synchronous — no I/O, no state — so the inbound
 * path, the API and `tidings consent classify` all call the same function and agree.
 *
 * The order of the checks is the policy's order of precedence:
 *  1. a phone's reaction message (tapback) that quotes our text is nobody's reply → none;
 *  2. a reply that is nothing but keywords and politeness → that keyword's intent;
 *  3. "I sent STOP by mistake" → opt_in (unless it also carries a revocation);
 *  4. any revocation anywhere in the reply → opt_out (revocation always wins);
 *  5. a plain wish to (keep) receiving texts → opt_in;
 *  6. a sentence that still plausibly asks to stop → opt_out (a missed revocation is the
 *     costly error);
 *  7. everything else → none.
 */
import type { Program } from '../messaging/index.js';

export type ReplyIntent = 'opt_out' | 'opt_in' | 'help' | 'none';

export interface Classification {
  intent: ReplyIntent;
  /** For opt_out: 'all', or the programs the reply named ("no more surveys"); else null. */
  scope: 'all' | Program[] | null;
  /** The canonical keyword matched (e.g. 'STOP'), or null for natural language. */
  keyword: string | null;
  /** A bare YES / SÍ / OK-style affirmative; the inbound path applies it only where an
   * opt-in prompt is pending. */
  yes: boolean;
}

const NONE: Classification = { intent: 'none', scope: null, keyword: null, yes: false };

/** A list of words written as one template string, split on whitespace; `//` starts a
 * comment that runs to the end of its line. */
function words(list: string): string[] {
  return list
    .replace(/\/\/[^\n]*/g, '')
    .trim()
    .split(/\s+/);
}

/** A regular-expression alternation written as one template string: alternatives are
 * separated by "|" or by a line break (spaces within an alternative are kept). */
function oneOf(list: string): string {
  return `(?:${list.trim().replace(/\s*\n\s*/g, '|')})`;
}

// ---------------------------------------------------------------------------------------
// Normalisation
// ---------------------------------------------------------------------------------------

/** Invisible characters phones and keyboards insert: zero-width spaces and joiners, the
 * word joiner, BOM, soft hyphen and the bidirectional marks iOS puts around quoted text. */
const INVISIBLE =
  /[\u00AD\u061C\u180E\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]|\u034F/g;

/** NFKC (full-width and styled letters become plain ones, no-break spaces become spaces),
 * invisible characters removed, surrounding whitespace trimmed. Case is kept. */
function clean(text: string): string {
  return text.normalize('NFKC').replace(INVISIBLE, '').trim();
}

/** Lower case, accents removed, apostrophes dropped (don't → dont), every run of other
 * punctuation, symbols and emoji turned into one space. */
function fold(text: string): string {
  return text
    .toLowerCase()
    .replace(/wrong\s*#/g, 'wrong number')
    .normalize('NFD')
    .replace(/\p{M}+/gu, '')
    .replace(/['’ʼ`´]/g, '')
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}

const SIGNATURE_START =
  /(?:^|[\s\p{P}\p{S}])((?:sent|enviado|envoy[ée]|gesendet)\s+(?:from|desde|via|with|using|on|con|de|depuis|von)\s[^\n]{0,80}|(?:get|obtener|descargar)\s+outlook\s+(?:for|para)\s+\S+)\s*$/diu;
const DEVICE =
  /\b(?:iphone|ipad|ipod|ios|android|samsung|galaxy|smartphone|phone|mobile|movil|celular|telefono|device|dispositivo|pixel|motorola|moto|lg|htc|nokia|huawei|xiaomi|oneplus|blackberry|verizon|sprint|att|t mobile|tmobile|cricket|boost|metro|yahoo|outlook|gmail|aol|mail|tablet|watch|apple)\b/;
/** Words that never appear in a device signature: if the tail holds one, it is the reply. */
const NOT_SIGNATURE =
  /\b(?:stop|unsubscribe|cancel|end|quit|help|info|yes|no|please|mistake|accident|error|text|texts|message|messages|reminders?|alto|parar|baja|ayuda|por favor|mensajes?)\b/;

/** Removes trailing "Sent from my iPhone"-style signatures (also Android, Samsung Galaxy,
 * Yahoo Mail, "Enviado desde mi iPhone", "Get Outlook for iOS"). */
function stripSignature(text: string): string {
  let out = text;
  for (let i = 0; i < 3; i++) {
    const m = SIGNATURE_START.exec(out);
    const at = m?.indices?.[1]?.[0];
    if (!m || m[1] === undefined || at === undefined) break;
    const tail = fold(m[1]);
    if (!DEVICE.test(tail) || NOT_SIGNATURE.test(tail.replace(/^\S+ \S+ /, ''))) break;
    out = out.slice(0, at).trimEnd();
  }
  return out;
}

/**
 * The normalised form every rule reads: NFKC, invisible characters and a trailing phone
 * signature removed, lower case, accents removed, apostrophes dropped, every other run of
 * punctuation, symbols, emoji and whitespace (including no-break spaces) turned into a single
 * space, trimmed. "  ¡¡STOP!! 🛑\u00A0" → "stop"; "No, don’t text me" → "no dont text me".
 */
export function normaliseReply(text: string): string {
  return fold(stripSignature(clean(text)));
}

// ---------------------------------------------------------------------------------------
// Edit distance
// ---------------------------------------------------------------------------------------

/**
 * Optimal string alignment distance (restricted Damerau–Levenshtein): the fewest insertions,
 * deletions, substitutions and transpositions of two adjacent characters that turn `a` into
 * `b`, no substring edited twice. Compares UTF-16 code units (callers pass folded ASCII).
 */
export function osaDistance(a: string, b: string): number {
  if (a === b) return 0;
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  let twoBack: number[] = new Array<number>(b.length + 1).fill(0);
  let prev: number[] = Array.from({ length: b.length + 1 }, (_, j) => j);
  let cur: number[] = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1;
      let d = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      if (
        i > 1 &&
        j > 1 &&
        a.charCodeAt(i - 1) === b.charCodeAt(j - 2) &&
        a.charCodeAt(i - 2) === b.charCodeAt(j - 1)
      ) {
        d = Math.min(d, twoBack[j - 2]! + 1);
      }
      cur[j] = d;
    }
    [twoBack, prev, cur] = [prev, cur, twoBack];
  }
  return prev[b.length]!;
}

/**
 * Whether `a` and `b` are exactly one edit apart (osaDistance(a, b) === 1), in linear time:
 * the classifier asks only this, for every word of a short reply against every keyword.
 */
export function isOneEdit(a: string, b: string): boolean {
  if (a === b || Math.abs(a.length - b.length) > 1) return false;
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  if (a.length === b.length) {
    if (a.slice(i + 1) === b.slice(i + 1)) return true;
    return a[i] === b[i + 1] && a[i + 1] === b[i] && a.slice(i + 2) === b.slice(i + 2);
  }
  return a.length < b.length ? a.slice(i) === b.slice(i + 1) : a.slice(i + 1) === b.slice(i);
}

// ---------------------------------------------------------------------------------------
// Keywords
// ---------------------------------------------------------------------------------------

type KeywordIntent = 'opt_out' | 'opt_in' | 'help' | 'yes';

interface Keyword {
  intent: KeywordIntent;
  /** Canonical keyword reported in Classification.keyword (null: a plain-language word). */
  keyword: string | null;
}

const PRIORITY: Record<KeywordIntent, number> = { opt_out: 0, opt_in: 1, help: 2, yes: 3 };

/** Exact words (folded) → meaning. */
const KEYWORDS = new Map<string, Keyword>();
/** Words a one-typo neighbour may stand for (see `typoOf`). */
const TYPO_TARGETS = new Map<string, Keyword>();

function keywords(
  intent: KeywordIntent,
  keyword: string | null,
  typo: boolean,
  list: readonly string[],
) {
  for (const w of list) {
    KEYWORDS.set(w, { intent, keyword });
    if (typo) TYPO_TARGETS.set(w, { intent, keyword });
  }
}

// Opt-out: the CTIA / carrier standard keywords (STOP, STOPALL, UNSUBSCRIBE, CANCEL, END,
// QUIT; REVOKE and OPT OUT from the FCC's 2024 TCPA order, 47 CFR 64.1200(a)(10)), their
// Spanish equivalents and French ARRÊT, as issue 4 lists them. Multi-word keywords are
// matched with their spaces removed ("opt out" → optout).
keywords('opt_out', 'STOP', true, ['stop']);
keywords('opt_out', 'STOP', false, ['stahp', 'stawp', 'stopit', 'stoppit']);
keywords('opt_out', 'STOPALL', true, ['stopall']);
keywords('opt_out', 'UNSUBSCRIBE', true, ['unsubscribe']);
keywords('opt_out', 'UNSUBSCRIBE', false, ['unsub', 'unsubs', 'unsuscribe']);
keywords('opt_out', 'CANCEL', true, ['cancel']);
keywords('opt_out', 'END', true, ['end']);
keywords('opt_out', 'QUIT', true, ['quit']);
keywords('opt_out', 'REVOKE', true, ['revoke']);
keywords('opt_out', 'OPTOUT', true, ['optout']);
keywords('opt_out', 'PARAR', true, ['parar']);
// "Para", "pare", "paren": the imperative of PARAR, which is how Spanish speakers say "stop!".
keywords('opt_out', 'PARAR', false, ['para', 'pare', 'paren', 'parale', 'parenle']);
keywords('opt_out', 'ALTO', true, ['alto']);
keywords('opt_out', 'DETENER', true, ['detener']);
keywords('opt_out', 'DETENER', false, ['detente', 'detengan', 'detenganse', 'detenga']);
keywords('opt_out', 'CANCELAR', true, ['cancelar']);
keywords('opt_out', 'BASTA', true, ['basta']);
keywords('opt_out', 'BAJA', true, ['baja']);
keywords('opt_out', 'FIN', true, ['fin']);
keywords('opt_out', 'ARRET', true, ['arret']);
// Whole replies that are plain-language revocations rather than keywords.
keywords(
  'opt_out',
  null,
  false,
  words(
    `discontinue deactivate desactivar unenroll unenrol off eliminar borrar eliminarme borrarme
  nointerest unsuscribir desuscribirse nomore nomas remove removeme enough desuscribir
  desuscribirme spam wrong wrongnumber equivocado equivocada stopspam unsubscribeme`,
  ),
);
// Opt-in: CTIA START / UNSTOP and the usual companions, with Spanish equivalents.
keywords('opt_in', 'START', true, ['start']);
keywords('opt_in', 'START', false, ['restart', 'startagain']);
keywords('opt_in', 'UNSTOP', true, ['unstop']);
keywords('opt_in', 'SUBSCRIBE', true, ['subscribe']);
keywords('opt_in', 'SUBSCRIBE', false, ['resubscribe']);
keywords('opt_in', 'RESUME', true, ['resume']);
keywords('opt_in', 'OPTIN', true, ['optin']);
keywords('opt_in', 'OPTIN', false, ['optbackin', 'optmein', 'optmebackin']);
keywords('opt_in', 'COMENZAR', true, ['comenzar']);
keywords('opt_in', 'COMENZAR', false, ['empezar']);
keywords('opt_in', 'INICIAR', true, ['iniciar']);
keywords('opt_in', 'SUSCRIBIR', true, ['suscribir']);
keywords('opt_in', 'SUSCRIBIR', false, ['suscribirme', 'reanudar']);
// Help: CTIA HELP and INFO, Spanish AYUDA.
keywords('help', 'HELP', true, ['help']);
keywords('help', 'INFO', true, ['info']);
keywords('help', 'INFO', false, ['information', 'informacion', 'moreinfo']);
keywords('help', 'AYUDA', true, ['ayuda']);
keywords('help', 'AYUDA', false, ['ayudame', 'ayudeme', 'ayudenme', 'ayudar']);
// Bare affirmatives (reported as keyword YES, yes=true).
keywords('yes', 'YES', true, ['yes', 'yeah']);
keywords(
  'yes',
  'YES',
  false,
  words(
    `y ye yea yep yup yess ok okay okey okie k kk sure si claro vale dale deacuerdo agree
  iagree acepto accept iaccept absolutely definitely ofcourse affirmative porsupuesto
  claroque estabien consent iconsent yas yass`,
  ),
);

/**
 * Real words one edit away from a keyword, which a patient plausibly sends meaning something
 * else ("and", "fine", "quite", "also", "hasta", "cancer"): they are never read as a typo.
 * Three-letter keywords (END, FIN, YES) take only a transposition or a doubled letter, so
 * "and", "send", "fine", "fun" and "yet" are not at risk; ≤ 2-letter ones take no typo.
 * Derived from the English and Spanish word lists, keeping those a reply could be.
 */
const NOT_TYPOS = new Set(
  words(`
  // stop
  top step shop stow slop swop stat
  // quit
  quite quiet suit quiz quilt quip quid quito quita quoit qui
  // alto
  also alta auto algo alt alo altos salto falto apto alton aldo alot lato asto arto altor
  palto
  // baja
  bajo caja paja bala baya bata basa bajar raja maja faja bana baca baga baza laja naja saja
  taja aja bada bija boja baa bajia baje bajan bajas
  // basta
  hasta pasta casta vasta baste basto bastar bosta asta rasta basra bast fasta balta basca
  bastan
  // parar
  pagar pasar parir parra papar payar varar arar pajar paar parr parear parlar parpar parrar
  aparar pairar parao parad
  // cancel / cancelar
  cancer chancel carcel cincel caucel cantel cancerar canelar cincelar
  // revoke, detener, arret
  evoke retener arrest garret arreo arre
  // help, info, ayuda
  hell held helm hemp heap kelp yelp whelp heep hep helo helps into indo ninfo aguda aluda
  ayuna azuda ayuga ayua
  // start, resume, optin, comenzar, iniciar
  stark smart star stare stars tart starr stuart presume resumen optic opting option
  comentar comendar inicial indiciar
  // yeah
  year leah yeas
  `),
);

/** Collapses runs of one letter: "stooop" → "stop", "yesss" → "yes". */
function collapse(word: string): string {
  return word.replace(/(.)\1+/g, '$1');
}

const COLLAPSED = new Map<string, Keyword>();
for (const [w, k] of KEYWORDS) if (!COLLAPSED.has(collapse(w))) COLLAPSED.set(collapse(w), k);

function better(a: Keyword | null, b: Keyword): Keyword {
  return a === null || PRIORITY[b.intent] < PRIORITY[a.intent] ? b : a;
}

/**
 * The keyword a misspelt word stands for, or null. One edit (OSA distance 1) from a keyword
 * of five letters or more, or of four letters when the word has at least three; for
 * three-letter keywords only a transposition ("fni", "edn", "yse"); never for shorter ones;
 * never for a real word listed in NOT_TYPOS.
 */
function typoOf(word: string): Keyword | null {
  if (word.length < 3 || !/^[a-z]+$/.test(word) || NOT_TYPOS.has(word)) return null;
  let best: Keyword | null = null;
  for (const [kw, meaning] of TYPO_TARGETS) {
    if (Math.abs(kw.length - word.length) > 1 || kw.length < 3) continue;
    if (kw.length === 3) {
      if (word.length !== 3 || !isOneEdit(word, kw)) continue;
      if ([...word].sort().join('') !== [...kw].sort().join('')) continue;
    } else if (!isOneEdit(word, kw)) continue;
    best = better(best, meaning);
  }
  return best;
}

/** A word's keyword meaning: exact, with letters held down ("stooop"), or one typo away. */
function lookup(word: string): Keyword | null {
  const exact = KEYWORDS.get(word);
  if (exact) return exact;
  if (NOT_TYPOS.has(word)) return null;
  const held = COLLAPSED.get(collapse(word));
  if (held) return held;
  return typoOf(word);
}

/** Politeness and filler that may surround a keyword without changing it. */
const FILLER = new Set(
  words(
    `please pls plz plez plse pleas plis pleasee porfavor porfa xfa pf thanks thx thnx thanx
  tnx tks ty thankyou gracias merci hi hello hey hola sir maam sorry perdon now ahora
  immediately asap already ya just again oh omg um uh hmm really seriously ples plese pleez
  pleeze plss pleae pleasr buenas buenos dias tardes gentle kindly lol`,
  ),
);
/** Extra words allowed beside a keyword of one intent only ("stop it", "help me",
 * "yes I do"). */
const FILLER_FOR: Record<KeywordIntent, Set<string>> = {
  opt_out: new Set(['it', 'this', 'me', 'all', 'everything', 'todo', 'i', 'said', 'us', '#']),
  opt_in: new Set(['me', 'all', 'up', 'back', 'texts', 'messages']),
  help: new Set(
    words(
      `me i need can you u someone somebody anyone some more get necesito mas por what is this`,
    ),
  ),
  yes: new Set(
    words(
      `i do am will would confirm confirmed confirmo confirmado correct that thats thing is
    fine good great perfect perfecto bien esta muy yes`,
    ),
  ),
};

const ANY_FILLER = new Set(Object.values(FILLER_FOR).flatMap((set) => [...set]));

/** Phrases folded into one word before keyword matching. */
const PHRASES: ReadonlyArray<readonly [RegExp, string]> = [
  [/\bthank (?:you|u)\b/g, 'thankyou'],
  [/\bpor favor\b/g, 'porfavor'],
  [/\bmuchas gracias\b/g, 'gracias'],
  [/\bright now\b/g, 'now'],
  [/\bde acuerdo\b/g, 'deacuerdo'],
  [/\besta bien\b/g, 'estabien'],
  [/\bof course\b/g, 'ofcourse'],
  [/\bpor supuesto\b/g, 'porsupuesto'],
  [/\bclaro que si\b/g, 'claroque'],
  [/\bi (agree|accept|consent)\b/g, 'i$1'],
  [/\bopt (?:me )?out\b/g, 'optout'],
  [/\bopt (?:me )?(?:back )?in\b/g, 'optin'],
  [/\bstop all\b/g, 'stopall'],
  [/\bun subscribe\b/g, 'unsubscribe'],
  [/\bno (?:more|mas)\b/g, 'nomore'],
  [/\bwrong (?:number|num|no|person)\b/g, 'wrongnumber'],
  [/\bmore info(?:rmation)?\b/g, 'moreinfo'],
  [/\bstart again\b/g, 'startagain'],
];

interface KeywordHit extends Keyword {
  /** The reply consisted only of politeness and this affirmative. */
  bare: boolean;
}

/**
 * The meaning of a reply (or one segment of it) that is nothing but keywords and filler:
 * "STOP", "stop please", "Stpo!!", "S T O P", "stop all", "yes please", "help?". When several
 * keywords appear, opt-out wins, then opt-in, help, and a bare affirmative.
 */
function keywordOnly(folded: string): KeywordHit | null {
  if (folded === '' || folded.length > 200) return null;
  let text = folded
    .replace(/\b0\b|(?<=[a-z])0|0(?=[a-z])/g, 'o')
    .replace(/(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z])/g, ' ');
  for (const [re, to] of PHRASES) text = text.replace(re, to);
  let tokens = text.split(' ');
  // Spelt out letter by letter: "S.T.O.P", "s t o p".
  if (tokens.length >= 2 && tokens.every((w) => w.length === 1)) tokens = [tokens.join('')];
  const core = tokens.filter((w) => !FILLER.has(w) && !FILLER.has(collapse(w)));
  if (core.length === 0 || core.length > 8) return null;
  const joined = core.join('');
  if (core.length > 1 && core.length <= 3) {
    const whole = KEYWORDS.get(joined) ?? (joined.length >= 5 ? typoOf(joined) : null);
    if (whole && whole.intent !== 'yes') return { ...whole, bare: false };
  }
  let best: Keyword | null = null;
  const rest: string[] = [];
  for (const w of core) {
    const k = lookup(w);
    if (!k && /^\d+$/.test(w)) {
      rest.push('#');
      continue;
    }
    if (k) best = better(best, k);
    else if (ANY_FILLER.has(w)) rest.push(w);
    else return null;
  }
  if (!best) return null;
  const allowed = FILLER_FOR[best.intent];
  if (!rest.every((w) => allowed.has(w))) return null;
  // "Cancel it" / "cancel this" is about the appointment, not the texts.
  if (
    (best.keyword === 'CANCEL' || best.keyword === 'CANCELAR') &&
    rest.some((w) => w === 'it' || w === 'this')
  ) {
    return null;
  }
  return { ...best, bare: true };
}

// ---------------------------------------------------------------------------------------
// Reactions (tapbacks)
// ---------------------------------------------------------------------------------------

const OPEN_QUOTE = `["“”„‟«»'‘’‚‹›「『]`;
/** iOS / Android / Samsung reaction messages as they arrive by SMS: `Liked “…”`,
 * `Reacted 👍 to “…”`, `Laughed at “…”`, Spanish `Le gustó “…”`. */
const TAPBACK = new RegExp(
  `^(?:[\\p{Extended_Pictographic}\\p{Emoji_Modifier}\\uFE0F\\u200D]+\\s*)?(?:liked|loved|disliked|laughed at|emphasi[sz]ed|questioned|reacted(?: with)?(?: \\S{1,16})? to|removed (?:a |an |the )?\\S{1,16}(?: reaction| point| mark)? from|le gust[oó]|no le gust[oó]|le encant[oó]|le dio risa|le hizo gracia|le hizo re[ií]r|se ri[oó] de|enfatiz[oó]|destac[oó]|cuestion[oó]|reaccion[oó](?: con)?(?: \\S{1,16})? a|a aim[ée]|a ador[ée]|a ri de)\\s*${OPEN_QUOTE}|^[\\p{Extended_Pictographic}\\p{Emoji_Modifier}\\uFE0F\\u200D]+(?: to)? [“"](?=[^”"]{8,}[”"]\\s*$)`,
  'u',
);
const CLOSE_QUOTES = new Set(['"', '”', '»', "'", '’', '›', '」', '』', '“']);

/** For a reaction message: what follows the quoted text (usually nothing); else null. */
function tapbackRemainder(cleaned: string): string | null {
  const m = TAPBACK.exec(cleaned.toLowerCase());
  if (!m) return null;
  const rest = cleaned.slice(m[0].length);
  for (let i = rest.length - 1; i >= 0; i--) {
    if (CLOSE_QUOTES.has(rest[i]!)) return rest.slice(i + 1);
  }
  return '';
}

// ---------------------------------------------------------------------------------------
// Plain-language patterns (on folded text: lower case, no accents, no apostrophes)
// ---------------------------------------------------------------------------------------

const alt = (...xs: readonly string[]): string => `(?:${xs.join('|')})`;

const MSG_EN = oneOf(
  `texts?|txts?|text ?messages?|txt ?msgs?|texting|txting|messages|message|msgs?|msges|sms
  smss|reminders?|remiders?|notifications?|notifs?|alerts?|updates?|spam|junk|e ?mails?
  calls?|robo ?texts?|communications?|correspondence`,
);
const MSG_ES = oneOf(
  `mensajes?|mensajitos?|msjs?|mjs|mensages?|textos?|recordatorios?|notificaciones
  notificacion|alertas?|avisos?|correos?|llamadas?|whatsapps?`,
);
const MSG = alt(MSG_EN, MSG_ES);

/** Words that name a program (for scoped opt-outs: "no more surveys"). */
const PROGRAM_WORDS: ReadonlyArray<readonly [RegExp, Program]> = [
  [
    /^(?:surveys?|questionnaires?|polls?|feedback|ratings?|reviews?|encuestas?|cuestionarios?|sondeos?)$/,
    'surveys',
  ],
  [
    /^(?:marketing|promos?|promotions?|promotional|advertising|advertisements?|adverts?|ads|offers?|deals|specials|newsletters?|promociones|promocion|promocionales|publicidad|publicitarios?|ofertas?|anuncios?|mercadeo|propaganda)$/,
    'marketing',
  ],
  [
    /^(?:billing|bills?|invoices?|statements?|payments?|balance|collections?|facturas?|facturacion|cobros?|cobranza|pagos?)$/,
    'billing',
  ],
  [/^care$/, 'care'],
];
/** Program nouns that can stand alone as the thing to stop ("stop the surveys"). */
const PROGRAM_OBJ = oneOf(
  `surveys?|questionnaires?|polls?|feedback requests?|promos?|promotions?|marketing|ads
  promotional(?: (?:texts?|messages?|offers?|stuff|emails?))?|advertisements?|advertising
  offers|deals|newsletters?|billing|encuestas?|cuestionarios?|promociones|publicidad|ofertas
  anuncios|mercadeo|facturacion`,
);
const OBJ = alt(MSG, PROGRAM_OBJ);

/** Words that may stand between "stop" and what to stop ("stop all these damn texts"). */
const DET = oneOf(
  `all|the|these|those|this|that|your|ur|yalls|yall|my|any|every|such|so many|only|just|many
  more|further|all of|stupid|annoying|damn|dang|darn|fucking|fuckin|freaking|freakin|frickin
  effing|bloody|dumb|constant|automated|automatic|daily|weekly|random|repeated|endless
  appointment|appt|text|sms|reminder|payment|bill|billing|balance|survey|marketing
  promotional|promo|care|sending|sending me|sending us|getting|receiving|with|me|us|again
  spam|junk|robo|clinic|office|pharmacy`,
);
const STOP = alt('stop', 'stopp', 'stpo', 'sotp', 'stp', 'quit', 'cease', 'halt');
const POLITE = oneOf(
  `please|pls|plz|now|already|thanks|thankyou|thank you|ty|thx|immediately|asap|right now|ok
  okay|again`,
);
const MSG_VERB = oneOf(
  `texting|txting|texing|textin|texts|text|txt|messaging|msging|messageing|message|msg
  contacting|contact|calling|emailing|bugging|bothering|harassing|harrassing|spamming
  pestering|reminding|notifying|pinging|hitting me up|blowing up|blowing my phone up
  asking me|asking$`,
);
const KW_MENTION = oneOf(
  `stop|stopp|stopall|stop all|unsubscribe|unsubscribed|unsub|opt out|optout|opted out|quit
  end|alto|parar|baja|detener|basta|fin|arret|stopped|stopping|unsubscribing`,
);

interface Pattern {
  re: RegExp;
  /** Language whose negation before the match cancels it ("don't stop texting me"). */
  negatable?: 'en' | 'es';
  /** The match may be limited to programs it names ("no more surveys"). */
  scoped: boolean;
  /** Words that, just before the match, mean it is not a revocation ("can you keep …"). */
  notAfter?: ReadonlySet<string>;
}

const p = (src: string, scoped: boolean, extra: Omit<Pattern, 're' | 'scoped'> = {}): Pattern => ({
  re: new RegExp(src, 'g'),
  scoped,
  ...extra,
});

/** Revocations: any one of these anywhere in a sentence makes the reply an opt-out. */
const REVOCATIONS: readonly Pattern[] = [
  // "stop texting me", "quit messaging me", "stop calling"
  p(
    `\\b${STOP}(?: (?:fucking|fuckin|freaking|frickin|effing|effin|fing|f|ing|in|damn|just|please|pls|already|now|ever|with the|with)){0,2} ${MSG_VERB}\\b`,
    true,
    { negatable: 'en' },
  ),
  // "stop sending me", "stop sending these"
  p(
    `\\b${STOP} (?:sending|send|sendin)(?: (?:me|us|this number|my number|my phone|them|these|those|this|that|anything|any|stuff|things|crap|junk|shit)\\b| ?$)`,
    true,
    { negatable: 'en' },
  ),
  // "stop the texts", "stop all these reminders", "stop surveys", "stop this"
  p(`\\b${STOP}(?: ${DET}){0,4} ${OBJ}\\b`, true, { negatable: 'en' }),
  p(`\\b${STOP}(?: ${DET}){0,3} (?:this|these|them|those|it)(?: ${POLITE})*$`, false, {
    negatable: 'en',
  }),
  // A sentence that opens with "stop" and goes on to something else: "Stop I never signed up".
  p(
    `^(?:(?:please|pls|plz|just|ok|okay|omg|seriously|so|hey|hi|hello|um|no|nope|oh|god|ugh|sorry|again|yes|i said) )*${STOP}(?: (?:it|this|now|already|please|pls|plz|immediately|asap|thanks|thankyou|ty|thx|stop|again|all|everything))*(?: (?:i|im|ive|id|ill|we|this|its|it|that|thats|you|u|youre|ur|please|pls|now|wrong|who|dont|do|why|idk|not|no|never|nobody|leave|remove|unsubscribe|take|go|enough|damn|fuck|fucking|omg|sorry|thanks|thank|seriously|what|whoever|whats|how|these|yall|ya|no|nope|sent|stop)\\b|$)`,
    false,
  ),
  // A sentence that ends with "please stop", "I said stop", "thank you stop".
  p(
    `(?:^|\\b(?:please|pls|plz|just|so|ok|okay|omg|seriously|now|again|already|thanks|thankyou|sorry|number|spam|person|you|u|yall|guys|texts|messages|said|i said|told you to|asked you to|need you to|want you to|yes|no|nope|hello|hi|hey|lady|sir|maam|dude|man|people|stop|god|ugh|alone|interested|one|up|also|and|but|then|pls|means|you can|u can|yall can|say|saying|to say|type|typed)) ${STOP}(?: (?:it|this|now|already|please|pls|plz|immediately|asap|thanks|thankyou|ty|thx|again|stop))*$`,
    false,
  ),
  // "you haven't stopped texting me"
  p(
    `\\b(?:havent|hasnt|have not|has not|still not|still havent|never) (?:stopped|ended|quit)(?: ${DET}){0,3} (?:${OBJ}|texting|messaging|sending|contacting|calling)\\b`,
    false,
  ),
  // "I asked you to stop", "I told you already to unsubscribe me"
  p(
    `\\b(?:asked|told|said|begged|requested|ask|tell|telling|asking)(?: (?:you|u|yall|you guys|them|y all|ya))?(?: (?:to|already|many times|several times|twice|before|a million times|repeatedly|multiple times|again|like|over and over))* (?:stop|unsubscribe|remove|quit|opt out|take me off)\\b`,
    false,
  ),
  // "I replied STOP and still get texts", "what happens if I text stop"
  p(
    `\\b(?:texted|replied|sent|typed|said|responded|answered|wrote|text|reply|send|respond|put|hit|typing|replying|texting)(?: (?:back|you|u|yall))?(?: with)?(?: the word)? (?:stop|stopp|stopall|unsubscribe|unsub|quit|end|opt out|optout|alto|parar|baja|basta)\\b`,
    false,
  ),
  // "why do you keep texting me", "I keep getting these texts"
  p(
    `\\b(?:why (?:do|are|r|does|is|would|did)|you|u|yall|you guys|they|y all)(?: (?:guys|people|all|keep on))?(?: (?:still|keep|keeps|continue|continue to|always|constantly|even|just))+ (?:texting|txting|messaging|sending|contacting|calling|bothering|emailing|spamming|text|message|send)\\b`,
    false,
    {
      notAfter: new Set(
        words(
          `can could please pls would will to want like ok okay fine and just if that need glad
        good hope`,
        ),
      ),
    },
  ),
  p(
    `\\bi(?: am| m| have|ve)? (?:still|keep|continue to|keep on) (?:getting|receiving|get|receive)(?: (?:all|these|this|those|your|the|them|so many|more|stupid|damn|appointment|text|texts))*(?: ${OBJ}|(?: (?:these|them|this|those))$)`,
    false,
  ),
  p(
    `\\bwhy (?:are|r|do|does) (?:you|u|yall|you guys|this number|this clinic|they)(?: (?:still|even|keep|always))* (?:texting|messaging|txting|contacting|sending me)\\b`,
    false,
  ),
  // "don't text me", "never contact me again", "do not send me texts"
  p(
    `\\b(?:dont|do not|dnt|dun|never|pls dont|please dont|do not ever|dont ever|no)(?: (?:ever|u|you|yall))?(?: (?:call|phone|email) (?:or|and|nor|n|and dont|or even))? (?:text|txt|texting|message|msg|contact|sms|email|bother|spam|harass|send|sms)(?: (?:me|us|this number|my number|this phone|my phone|my cell|here|again|anymore|any more|no more|ever again|this|it))+\\b`,
    true,
  ),
  p(`\\b(?:dont|do not) (?:text|txt|message|msg|contact|sms)(?: ${POLITE})*$`, false, {
    notAfter: new Set(['i', 'we', 'he', 'she', 'they', 'mom', 'dad', 'who', 'usually', 'really']),
  }),
  p(
    `\\b(?:dont|do not|never) send(?: me| us)?(?: (?:any|anymore|any more|more|these|those|no more|anything|the|your|ur|this|further))* (?:${OBJ}|anything|stuff|nothing)\\b`,
    true,
  ),
  // "no more texts", "no more surveys", "No texts please", "no marketing"
  p(
    `\\b(?:no|nomore) (?:more|mas|further)?(?: (?:of|of these|of this|of your|of the|please|pls|${DET})){0,4} (?:${OBJ}|contact|communications?|contacting)\\b`,
    true,
  ),
  p(
    `^(?:(?:please|pls|plz|ok|okay|thanks|thankyou|sorry|hi|hello|but|and|just|oh) )*(?:no|nope|nah|nomore) (?:more )?(?:${DET} )?(?:${OBJ}|texting|txting|contact)(?: (?:or|and|nor|n|ni|y|o|or any|and no) (?:more )?(?:${OBJ}|texting|txting|contact))*(?: (?:please|pls|plz|thanks|thankyou|thx|ty|anymore|any more|porfavor|por favor|gracias|for me|to me|to this number|ever|again|at all|whatsoever))*$`,
    true,
  ),
  p(
    `^(?:(?:please|pls|ok|okay|but|oh|ya|ahora) )*(?:no|nomore) (?:more|mas)(?: (?:please|pls|plz|thanks|thankyou|thx|ty|por favor|porfa|gracias|porfavor|ya))*$`,
    false,
  ),
  // "remove me", "delete my number", "take me off your list", "off the texting list"
  p(
    `\\b(?:remove|delete|erase|unlist|lose|forget)(?: (?:me|us|her|him|my (?:(?:phone|cell|mobile|cell phone|contact|telephone) )?(?:number|phone|cell|info|information|name|details|contact|contact info|data)|this (?:(?:phone|cell) )?number|our number|his number|her number|the number|number))(?: (?:from|off|out)\\b(?! (?:the )?(?:wait ?list|waiting list|appointment|schedule|cancell?ation list))|(?: ${POLITE})*$)`,
    true,
  ),
  p(
    `\\b(?:take|get|drop|scratch|cross|pull)(?: (?:me|us|her|him|them|my (?:(?:phone|cell) )?(?:number|name|info)|this (?:phone )?number|our number|his number|her number|it))(?: (?:off|out of|outta))\\b(?! (?:the |your |this |that )?(?:wait ?list|waiting list|cancell?ation list|schedule|appointment|call list|list for))`,
    true,
  ),
  p(
    `\\boff (?:of )?(?:your|the|this|ur|yall|ya|these|that|those|all|all your|all the|ya ll)(?! (?:wait ?list|waiting list|cancell?ation list|call list))(?: \\w+){0,2} (?:list|lists|system|database|registry|texting|texts|messages|contacts|distribution|contact list)\\b`,
    true,
  ),
  // "unsubscribe", "opt out", "how do I opt out", "unsubscribe me from surveys"
  p(
    `\\b(?:unsubscribe|unsubscribed|unsubscribing|unsubcribe|unsubscibe|unsuscribe|unsusbscribe|unsubscrib|unsub|unsubs|desuscribir(?:me|se|nos)?|desuscribanme|desuscribame|desuscribeme|desuscribo|desinscribir(?:me)?|anular suscripcion|opt out|opting out|opted out|optout|opt me out|out opt)\\b`,
    true,
    { negatable: 'en' },
  ),
  // "I revoke my consent", "I no longer consent"
  p(
    `\\b(?:revoke|revoking|revoked|revoque|withdraw|withdrawing|rescind|rescinding|retiro|revoco|cancel|cancelo|anulo)(?: (?:my|all|any|the|mi|el|su))? (?:consent|permission|authorization|authorisation|agreement|consentimiento|autorizacion|permiso)\\b`,
    false,
  ),
  p(
    `\\b(?:no longer|dont|do not|never) (?:consent|give (?:you )?(?:my )?(?:consent|permission))\\b|\\bi revoke\\b|\\bconsent (?:is )?(?:revoked|withdrawn)\\b`,
    false,
  ),
  p(
    `\\b(?:do not|dont|didnt|did not|never) (?:have|has|had|give|gave|given|grant|granted)(?: you)?(?: my| any)? (?:permission|consent|authorization)\\b`,
    false,
  ),
  p(
    `\\b(?:who (?:signed|put|added|subscribed) me (?:up|on|to)|why am i on (?:this|your|the) list|how did i (?:get|end up) on (?:this|your|the) list)\\b`,
    false,
  ),
  // "leave me alone", "go away", "this is spam", "I'm going to block you"
  p(
    `\\b(?:leave me alone|leave us alone|leave me be|go away|fuck off|f off|piss off|get lost|buzz off|back off|shut up|stfu|gtfo|fuck you|f you|screw you|fuck u|harassment|harrassment|harassing me|harrassing me|spamming|spammer|cease and desist|cease all|block(?:ing|ed)? (?:you|this number|your number|u|yall)\\b(?! (?:for|from|shot|injection))|(?:going to|gonna|will|im|i am|about to) (?:block|report)|report(?:ing)? (?:you|this number|this|u) (?:to|as|for))\\b`,
    false,
  ),
  p(
    `^(?:(?:this|its|it|that|thats) (?:is )?(?:a )?)?(?:spam|stop spam|more spam|junk)(?: ${POLITE})*$`,
    false,
  ),
  // Wrong number, or the person texted is not here.
  p(
    `\\b(?:wrong (?:number|numbr|nmber|nunber|num|no|person|persons|phone|cell|contact|guy|girl|lady|man|woman|family|patient|name)|wrongnumber|not (?:the right|the correct|the same) (?:number|person|phone)|(?:you|u|yall) (?:have|got|guys have) the wrong(?: (?:number|person|persons|guy|girl|lady|one|phone|cell|contact|patient|people|family|jose|maria))?(?= (?:number|person|guy|lady|one|phone|contact|patient|i|im|this|sorry|please|pls|bro|buddy)\\b|$)|(?:no one|nobody|noone|no body|no person) (?:here )?(?:by|named|with|called|that goes by) (?:that|this|the) name|(?:doesnt|does not|dont|do not|no longer|nobody) (?:live|lives|living) here|(?:this|that) (?:number|phone) (?:is not|isnt|no longer|doesnt|does not) (?:belong|belongs|his|hers|theirs|her|his|mine)|(?:no longer|not|doesnt|does not) (?:has|have|his|her|my|their|using|uses|use|own) (?:this|that) (?:number|phone)|(?:this|that|its|it is) not (?:my|his|her|their) (?:number|phone)|(?:this|that) isnt (?:my|his|her|their) (?:number|phone)|not my (?:number|phone))\\b`,
    false,
  ),
  p(
    `\\b(?:this|that|it) (?:is not|isnt|is no longer|isnt no longer|aint) \\w+s (?:number|phone|cell)\\b`,
    false,
  ),
  p(`\\b(?:this|that) (?:number|phone|cell) (?:is not|isnt|is no longer|aint) \\w+s\\b`, false),
  p(
    `\\bnot the (?:person|one|guy|lady|patient|right person) (?:you|u)(?:re| are| r)? (?:looking|trying|searching)\\b|\\b(?:number|phone) (?:was |is |has been |got )?(?:recently |just )?(?:reassigned|recycled)\\b`,
    false,
  ),
  p(
    `\\b(?:never|not|havent|have not) (?:ever )?(?:been )?(?:a patient|a client|to your (?:clinic|office|practice)|to (?:that|this) (?:clinic|office|practice))\\b|\\b(?:dont|do not|no longer|dont even) (?:go|see|use|visit) (?:to )?(?:that|this|your|ur) (?:doctor|clinic|office|practice|dentist|place|provider|pharmacy|hospital)\\b|\\bdont go there anymore\\b`,
    false,
  ),
  p(
    `\\b(?:esta|este|ese|esa) no es (?:la persona|el paciente|la paciente|mi numero|su numero|el numero)\\b|\\bno tengo nada que ver\\b|\\b(?:nunca he sido|no soy|ya no soy|nunca fui) (?:su |tu )?(?:paciente|cliente)\\b|\\bsalir de (?:la|su|sus|esta|esa|tu) lista\\b`,
    false,
  ),
  p(
    `^(?:there is |theres |there are )?no (?!(?:problem|problems|issue|issues|pain|fever|change|changes|symptoms?|bleeding|parking|worries|rush|need|thanks|thank|way|idea|time|signal|service|reception|one|body|appointment|appt|wifi)\\b)[a-z]+ (?:here|at this number|on this phone)$`,
    false,
  ),
  p(
    `^(?:yo )?no (?:conozco|se quien es) a \\w+(?: \\w+)?$|^(?:yo )?no soy (?!(?:yo|de|el|la|paciente|bueno|buena|su|tu|mi)\\b)\\w+(?: \\w+)?$`,
    false,
  ),
  p(
    `^(?:se )?equivoca(?:ron|do|da|ste|dos|das)(?: de (?:numero|persona))?(?: (?:por favor|porfavor|gracias))*$`,
    false,
  ),
  p(
    `^(?:(?:sorry|oh|hi|hello) )*(?:wrong|wrongnumber)(?: (?:number|person|one|text|sorry|${POLITE}))*$`,
    false,
  ),
  // "I don't want these texts", "I no longer wish to receive messages", "don't need reminders"
  p(
    `\\b(?:dont|do not|dnt|no longer|never|didnt|did not|doesnt|does not|not)(?: really| even| ever)? (?:want|wish|need|like|care for|desire|ask for|asked for|request|requested|sign up for|signed up for|opt in|opted in|subscribe to|subscribed to|agree to|agreed to|consent to|consented to|remember signing up for)(?: to)?(?: (?:be|get|getting|receive|receiving|have|these|those|this|the|your|ur|any|more|anymore|any more|all|of|being|from|you|u|them|such|stupid|appointment|appt|text|sms|reminder|further|to get|to receive|to be|no|so many))* (?:${OBJ}|texted|contacted|messaged|(?:this|these|them|it|that)(?= (?:anymore|any more|please|pls|thanks|no more|ok|okay)|$))\\b`,
    true,
  ),
  p(
    `\\b(?:never|didnt|did not|dont remember|do not remember|never ever|i never) (?:sign(?:ed)? up|subscribe(?:d)?|opt(?:ed)? in|agree(?:d)? to (?:this|these|texts|receive)|consent(?:ed)?|gave (?:you )?(?:my )?(?:number|permission|consent)|ask(?:ed)? (?:for|to be) (?:this|these|texts|messages|contacted|texted))\\b`,
    false,
  ),
  p(
    `\\b(?:no longer|not) (?:a |your |the |their |one of your )?(?:patient|client|customer|member)s?\\b(?! (?:yet|portal))`,
    false,
  ),
  p(
    `\\b(?:this|that) number (?:is )?(?:no longer|not|isnt) (?:in service|active|used|valid|in use|being used|hers|his|theirs|for|belonging to)\\b`,
    false,
  ),
  // "Enough with the texts", "I want out", "make the texts stop", "I want these to stop"
  p(
    `\\benough(?: (?:with|of|already))?(?: (?:the|these|all the|your|all these|this))? ${OBJ}\\b`,
    true,
  ),
  p(
    `^(?:(?:i|please|pls|just) )*want (?:out|off)(?: (?:of )?(?:this|these|your \\w+|the \\w+|here))?(?: ${POLITE})*$`,
    false,
  ),
  p(
    `\\b(?:want|need|would like|d like|wish)(?: (?:the|these|your|all|all the|all these|this|those))? (?:${OBJ}|them|these|those) to (?:stop|end|cease|go away)\\b`,
    true,
  ),
  p(
    `\\bmake (?:the |these |all the |all these |your |this |those )?(?:${OBJ}|them|these|those) stop\\b`,
    true,
  ),
  p(
    `^(?:(?:please|pls|plz|just|god|omg|someone|oh) )*make (?:it|this|them|these) stop(?: ${POLITE})*$`,
    false,
  ),
  p(
    `\\b${OBJ} (?:need|needs|has|have|got|must|should|gotta|are going to|better)(?: to)? (?:stop|end|cease)\\b`,
    true,
  ),
  p(
    `\\b(?:tired|sick|fed up|done|over it|annoyed) (?:of|with) (?:(?:these|the|your|all|getting|receiving|so many|all these|all the|constant|daily|stupid) )*${OBJ}\\b`,
    true,
  ),
  p(`\\btoo many ${OBJ}\\b`, true),
  p(
    `\\b(?:prefer|rather|would rather|d rather|id rather|like) not (?:to )?(?:get|receive|be|have)(?: (?:any|these|the|your|more))* (?:${OBJ}|texted|contacted)\\b`,
    true,
  ),
  p(
    `^(?:block(?:ed|ing)?|reported(?: as spam| spam)?|report(?:ing)?(?: as)?(?: spam)?|spam reported|marked as spam)(?: (?:you|this|this number|number|${POLITE}))*$`,
    false,
  ),
  p(
    `\\b(?:reported|marked|flagged|reporting|report) (?:this |you |this number |it )?(?:as )?(?:spam|junk)\\b`,
    false,
  ),
  p(
    `\\b(?:remove|delete|unsubscribe|take|get) (?:me )?(?:from|off) (?!(?:the |your |this |that )?(?:wait ?list|waiting list|cancell?ation list|call list|call back list))(?:of )?(?:the |your |this |ur |that |all |yalls )?(?:\\w+ )?(?:list|lists|system)\\b`,
    true,
  ),
  p(
    `^(?:(?:im|i am|we are|were|sorry|but|thanks|no|nope) )*not interested(?: (?:in (?:this|these|that|it|them|any|your \\w+|texts|messages|${OBJ})|${POLITE}|anymore|any more|at all))*$`,
    false,
  ),
  p(`\\bnot interested in (?:any |the |your |these |receiving |getting )*${OBJ}\\b`, true),
  p(`\\bno (?:estoy|estamos|esta) interesad[oa]s?\\b|^no interest(?:ed)?(?: ${POLITE})*$`, false),
  p(
    `^(?:(?!(?:it|will|did|does|do|should|can|could|when|cant|wont|dont|didnt|doesnt|bleeding|pain|cough|coughing|itching|medication|meds|pills|bus|last|next|full|pit|first|must|may|might|would|to|and|never|not|i|we|they|he|she|nose|period|baby|hiccups|diarrhea|vomiting|fever|rash|swelling|the|my|this|that|where|what|how|why|which|whats|is|does|bleed|heart|breathing|ringing|nausea|headache|diarrhea|contractions|spotting|leaking|shaking|crying|insulin|treatment|therapy|dose|drip)\\b)[a-z]+ ){1,3}${STOP}(?: ${POLITE})*$`,
    false,
  ),
  // "turn these off", "turn off text alerts"
  p(
    `\\b(?:turn|shut|switch)(?: (?:these|them|this|all|the \\w+|my \\w+|your \\w+|${OBJ}))(?: ${OBJ})? off\\b`,
    false,
  ),
  p(`\\b(?:turn|shut|switch) off(?: (?:these|the|all|my|your|text|this))* ${OBJ}\\b`, true),
  // "cancel my subscription", "cancel these texts", "end all messages"
  p(
    `\\b(?:cancel|cancell?ing|cancelar|cancela|cancelen|cancele|end|ending|terminate|discontinue|disable|deactivate|desactivar|desactiven|desactive|unenroll|unenrol)(?: (?:me from|me out of|my|the|all|these|this|those|your|ur|any|text|sms|from|mi|mis|la|las|los|el|todos los|todas las|de|sus|tus|estos|estas|esos|all the|all of the|all your))* (?:subscriptions?|suscripcion|suscripciones|membership|enrollment|texts?|text messages?|messages|msgs|sms|reminders|notifications?|alerts?|text alerts|mensajes|textos|recordatorios|notificaciones|alertas|texting|text service|messaging|${PROGRAM_OBJ})\\b`,
    true,
    { negatable: 'en' },
  ),
  p(`\\b(?:cancel|end|stop) (?:all )?(?:these|them|those)(?: ${POLITE})*$`, false, {
    negatable: 'en',
  }),
  // "How do I get off this"
  p(
    `\\bhow (?:do|can) (?:i|we) (?:get off|get out of|get rid of) (?:this|these|your|the)\\b(?! (?:cough|pain|rash|bill|balance|debt))`,
    false,
  ),
  // "I'd like to be removed", "this phone belongs to someone else now"
  p(
    `\\b(?:like|want|wish|need|would like|d like|id like|please|pls) (?:to )?be (?:removed|taken off|unsubscribed|deleted|opted out|left alone)\\b`,
    false,
    { negatable: 'en' },
  ),
  p(
    `\\b(?:this|that) (?:number|phone|cell)(?: now)? (?:belongs|goes) to (?:someone|somebody|a different person) else\\b|\\bsomeone elses (?:number|phone)\\b|\\b(?:no one|nobody|noone|no body) (?:named|called|by the name(?: of)?) \\w+(?: \\w+)? (?:lives|is|lived|here|at this number)\\b`,
    false,
  ),
  p(
    `^(?:(?:sorry|unfortunately|hi|hello) )*(?:she|he|they|my (?:mom|mother|dad|father|husband|wife|son|daughter|grandma|grandmother|grandpa|grandfather)|the patient)(?: (?:has|already|just|recently|sadly))? (?:died|passed|passed on|is dead)\\b`,
    false,
  ),
  // Death of the patient: the family asks, in effect, to stop.
  p(`\\b(?:passed away|deceased|has died|is dead|fallecio|fallecido|fallecida|murio)\\b`, false),

  // Spanish
  // "no me escriban", "no me vuelvan a contactar", "no me manden más"
  p(
    `\\b(?:no|ya no|nunca|favor de no|por favor no|porfavor no|porfa no)(?: (?:me|nos|le|les))? (?:(?:vuelvan|vuelva|vuelvas) a (?:escribir|contactar|mandar|enviar|textear|llamar|molestar)\\w*|escriban|escriba|escribas|contacten|contacte|contactes|texteen|textee|textees|molesten|moleste|molestes|llamen|sigan (?:mandando|enviando|escribiendo|molestando)\\w*|siga (?:mandando|enviando|escribiendo)\\w*|manden mas|mande mas|envien mas|envie mas|mandes mas|envies mas)\\b`,
    true,
  ),
  p(
    `\\b(?:no|ya no|nunca|favor de no|por favor no|porfavor no|porfa no)(?: (?:me|nos|le|les))? (?:manden|mande|mandes|mandar|envien|envie|envies|enviar)(?:me|nos)?(?: \\w+){0,3}? (?:${OBJ}|nada|mas|esto|estos|eso)\\b`,
    true,
  ),
  p(
    `\\b(?:no|ya no|nunca) (?:me|nos) (?:manden|mande|envien|envie|mandes|envies)(?: (?:por favor|porfavor|gracias|ya))*$`,
    false,
  ),
  // "dejen de escribirme", "paren de mandar mensajes", "quiero dejar de recibir"
  p(
    `\\b(?:dejen|deje|dejes|dejar|dejan|dejo|paren|pare|para|parar|paran|basta|terminen|termine)(?: ya)? de (?:mandar|enviar|escribir|contactar|molestar|textear|mensajear|llamar|recibir|fregar|chingar)\\w*`,
    true,
    { negatable: 'es' },
  ),
  // "no quiero recibir mensajes", "ya no quiero", "no me interesa"
  p(
    `\\b(?:no|ya no|nunca) (?:quiero|deseo|necesito|quisiera|me interesa|me interesan|acepto|autorizo|pedi|solicite)(?: (?:recibir|que me (?:manden|envien|escriban|sigan|lleguen|contacten|textee|texteen|mande|envie|llamen|molesten)|mas|ningun|ninguno|ninguna|estos|estas|esos|sus|tus|los|las|el|la|tantos|tantas|este|esta|de|sus|seguir recibiendo|recibiendo))*(?: (?:${OBJ}|nada|mas|esto|estos|eso)\\b|(?: (?:por favor|porfavor|gracias|porfa|ya))*$)`,
    true,
  ),
  // "quiten mi número", "sáquenme de la lista", "darme de baja"
  p(
    `\\b(?:quiten|quite|quitar|saquen|saque|sacar|borren|borre|borrar|eliminen|elimine|eliminar|remuevan|remueva|remover)(?: me)? (?:mi|este|su) (?:numero|telefono|celular|cel|contacto|nombre)\\b`,
    false,
  ),
  p(
    `\\b(?:quitenme|quiteme|quitame|quitarme|saquenme|saqueme|sacame|sacarme|borrenme|borreme|borrame|borrarme|eliminenme|elimineme|eliminame|eliminarme|remuevanme)\\b(?: (?:de|del)\\b|(?: (?:por favor|porfavor|porfa|gracias|ya))*$)`,
    true,
  ),
  p(
    `\\b(?:quiten|saquen|borren|eliminen|quite|saque|borre|elimine|quitar|sacar|borrar|eliminar)(?: me| nos)? de (?:la|su|sus|esta|el|este|tu|tus|esa) (?:lista|listas|sistema|base|registro|programa)\\b`,
    true,
  ),
  p(`\\bde baja\\b|\\bmi baja\\b`, true),
  // Wrong number in Spanish.
  p(
    `\\b(?:numero equivocado|numero incorrecto|numero erroneo|numero equivocada|equivocado de numero|equivocada de numero|se equivocaron de (?:numero|persona)|se equivoco de (?:numero|persona)|tienen el numero equivocado|tiene el numero equivocado|persona equivocada|no es mi numero|este no es (?:mi|su|el) numero|ya no es (?:mi|su) numero|no (?:conozco|se quien es) a (?:esa|esta) persona|no vive aqui|ya no vive aqui|aqui no vive|no soy (?:yo|esa persona|la persona|el paciente|la paciente|quien buscan)|(?:ella|el) ya no tiene este numero)\\b`,
    false,
  ),
  p(
    `^(?:(?:perdon|hola|disculpe) )*(?:equivocado|equivocada|equivocados)(?: (?:por favor|gracias))*$`,
    false,
  ),
  // "no más mensajes", "no más encuestas"
  p(`\\b(?:no|nomore) mas(?: (?:de|estos|estas|los|las|sus|tus|por favor))* ${OBJ}\\b`, true),
  // "déjenme en paz", "ya basta", "no me molesten"
  p(
    `\\b(?:dejenme en paz|dejame en paz|dejeme en paz|dejennos en paz|(?:ya basta|basta ya)(?! de (?!${MSG}))|basta de (?:mensajes|textos|${MSG})|no molesten|no me molesten|no molestar|acoso)\\b`,
    false,
  ),
  p(
    `\\b(?:alto|paren|detengan|detener|parar|basta|stop)(?: (?:a|con|ya))? (?:los |estos |sus |tus |las |estas |todos los |todas las )?${OBJ}\\b`,
    true,
  ),
  // "ya les dije que paren", "ya mandé alto"
  p(
    `\\b(?:ya|les|le) (?:dije|mande|puse|escribi|envie|respondi|conteste|pedi)(?: que)? (?:stop|alto|parar|baja|basta|fin|que (?:paren|dejen|no me))\\b`,
    false,
  ),
  p(
    `\\b(?:nunca (?:autorice|acepte|me suscribi|me inscribi|di (?:mi numero|permiso))|no (?:autorice|me suscribi|me inscribi|pedi (?:esto|estos|mensajes)))\\b`,
    false,
  ),
  p(`\\b(?:ya no|no) (?:tiene|tengo|usa|uso) (?:este|ese) (?:numero|telefono|celular)\\b`, false),
  p(`^ya no(?: (?:gracias|por favor|porfavor|porfa))*$`, false),
];

const ANCHORED_REVOCATIONS = REVOCATIONS.filter((r) => /^\^|\$/.test(r.re.source));

/** Replies that undo an earlier STOP: "sorry I sent stop by mistake". */
const MISTAKE_WORD =
  /\b(?:(?:my|our) (?:kid|kids|son|daughter|child|grandson|granddaughter|husband|wife|baby|toddler|grandkid|grandkids|nephew|niece|mom|dad) (?:sent|texted|typed|replied|hit|pressed|did)|someone else (?:sent|texted|replied)|wasnt me|by itself|on its own|autocorrect|auto correct|autocorrected|pocket|butt dial|mistake|mistakes|mistaken|mistakenly|accident|accidentally|accidently|accidental|by error|in error|unintentionally|misclick|misclicked|mistyped|fat fingered|fat finger|wrong button|wrong reply|wrong one|wrong thing|wrong word|oops|oopsie|whoops|my bad|not on purpose|didnt mean|did not mean|didnt intend|did not intend|wasnt supposed|was not supposed|wasnt trying|meant to|sin querer|por error|por equivocacion|por accidente|me equivoque|equivocacion|equivoque|fue un error|no quise|no queria|no era mi intencion|me confundi)\b/;
const MISTAKES: readonly RegExp[] = [
  new RegExp(
    `\\b(?:sent|send|sending|texted|text|texting|typed|type|typing|replied|reply|replying|responded|respond|hit|hitting|pressed|press|said|say|wrote|write|put|clicked|click|tapped|tap|entered|answered|mande|envie|puse|escribi|respondi|conteste|marque|di|dije)(?: (?:back|with|the word|the|a|in|out|you|u|le|les))* ${KW_MENTION}\\b`,
  ),
  new RegExp(
    `\\b${KW_MENTION}\\b(?: \\w+){0,4} (?:by (?:mistake|accident|error)|on accident|accidentally|accidently|mistakenly|in error|was a mistake|was an accident|was a typo|was a misclick|was wrong|was an error|por error|por equivocacion|sin querer|por accidente|fue un error|fue sin querer|fue por error)\\b`,
  ),
  new RegExp(
    `\\b(?:accidentally|accidently|mistakenly|unintentionally|sin querer|por error|por accidente|por equivocacion)(?: \\w+){0,3} ${KW_MENTION}\\b`,
  ),
  new RegExp(
    `\\b(?:didnt|did not|never) (?:mean|meant|intend|intended)(?: to)?(?: \\w+){0,2} (?:stop|stopp|unsubscribe|unsub|opt out|optout|alto|parar|baja|stopped|unsubscribed)\\b`,
  ),
  /\bmeant (?:to )?(?:say|type|send|text|write|reply|hit|press|put)? ?(?:start|yes|unstop|si)\b/,
  new RegExp(
    `\\bmeant (?:to )?(?:say|type|send|text|write|reply|hit|press|put|click)? ?\\w+ (?:not|instead of) ${KW_MENTION}\\b`,
  ),
  new RegExp(
    `\\b(?:me equivoque|fue un error|fue sin querer|fue por error|no quise|no queria|no era mi intencion)(?: \\w+){0,4} (?:stop|alto|parar|baja|detener|basta|fin)\\b`,
  ),
];

/** Plain wishes to receive texts: "please keep texting me", "sign me back up". */
const OPT_INS: readonly Pattern[] = [
  p(
    `(?:^|\\b(?:please|pls|plz|can you|could you|you can|go ahead and|want to|want you to|like to|like you to|would like|wanna|ok to|fine to|just|and|but|i want you to|id like you to|i would like you to|still)) (?:keep|continue|resume|start|restart)(?: to)? (?:texting|sending|messaging|txting|text|send|message|contacting)(?: me| us)?\\b`,
    false,
  ),
  p(
    `^(?:keep|continue|resume|start|restart)(?: to)? (?:texting|sending|messaging|txting|text|send|message)\\b`,
    false,
  ),
  p(
    `\\b(?:want|wanna|like|wish|would like|d like|id like|prefer|still want|do want|need)(?: to)? (?:keep |continue |start |still |again )?(?:receiving|getting|receive|get|recieve|recieving)(?: (?:the|your|these|those|all|text|my|appointment|appt|sms|them|all the))* (?:${MSG}|them|these)\\b`,
    false,
    { negatable: 'en' },
  ),
  p(
    `\\b(?:resubscribe|re subscribe|resubscribed|re enroll|reenroll|re activate|reactivate|unstop|opt (?:me )?back in|opt back in|opting back in|optin|optbackin|sign me back up|add me back|put me back on|subscribe me|turn (?:the |my )?${MSG} back on|turn (?:them|it) back on)\\b`,
    false,
  ),
  p(
    `\\bopt(?: me)? in\\b(?! (?:to|for) (?:the )?(?:study|trial|research|program))|\\bsign (?:me )?up for (?:the )?(?:text |sms |appointment )?${MSG}\\b`,
    false,
    { negatable: 'en' },
  ),
  p(
    `\\b(?:i want|i still want|i do want|i need|i would like|id like|i d like|id love|i would love|we want|we would like|yes to)(?: to (?:get|receive|have|keep getting|keep receiving))? (?:the |these |your |my )?(?:text |sms |appointment )?(?:texts|text messages|messages|reminders|alerts|notifications)\\b(?! (?:to stop|gone|stopped|off))`,
    false,
    { negatable: 'en' },
  ),
  p(
    `\\b(?:agree|consent|consented|agreed) to (?:receive|receiving|get|getting) (?:the )?(?:text |sms )?${MSG}\\b`,
    false,
    { negatable: 'en' },
  ),
  p(
    `\\bsign me (?:back )?up(?: again)?(?: for (?:the )?(?:text |sms |appointment )?${MSG})?(?: ${POLITE})*$`,
    false,
  ),
  p(
    `\\bkeep (?:the |those |these |my |your |all the )?(?:text |appointment )?${MSG} coming\\b`,
    false,
  ),
  p(
    `\\bi (?:still |do )?(?:want|need|would like|d like) (?:the |these |your |my |to get the |to have )?(?:text |sms |appointment )?(?:texts|text messages|messages|reminders|alerts|notifications)\\b(?! (?:to stop|gone|stopped|off))`,
    false,
    { negatable: 'en' },
  ),
  p(
    `\\b(?:dont|do not|please dont|pls dont) stop (?:texting|sending|messaging|txting|the|these|my|your)\\b`,
    false,
  ),
  p(
    `\\b(?:quiero|deseo|quisiera|me gustaria|si quiero|si deseo|necesito)(?: (?:seguir|volver a|continuar) (?:recibiendo|recibir)|(?: \\w+)? recibir (?:los |sus |mis |mas )?${MSG})\\b`,
    false,
    { negatable: 'es' },
  ),
  p(
    `\\b(?:sigan|siga|continuen|vuelvan a|vuelva a) (?:mandando|enviando|mandandome|enviandome|escribiendome|mandar|enviar|mandarme|enviarme|escribirme)\\b`,
    false,
    { negatable: 'es' },
  ),
  p(`\\bno (?:dejen|deje) de (?:mandar|enviar|escribir)\\w*`, false),
  p(
    `\\b(?:resume|restart|reactivate|re enable|reenable|turn on|turn back on)(?: (?:my|the|sending|all|me))* (?:text |sms |appointment )?${MSG}\\b`,
    false,
    { negatable: 'en' },
  ),
  p(`\\b(?:si )?quiero (?:los |sus |mas |recibir )?(?:mensajes|recordatorios|textos)\\b`, false, {
    negatable: 'es',
  }),
  p(
    `\\b(?:get|receive|have|start getting|start receiving|turn on)(?: (?:the|my|text|appointment|sms))* ${MSG} (?:again|back)\\b`,
    false,
  ),
  p(
    `\\b(?:dont|do not) want to (?:stop|unsubscribe|opt out)(?: (?:getting|receiving|the|these|your|texts|messages|reminders|text|them))*$`,
    false,
  ),
  p(
    `\\b(?:volver a suscribirme|suscribirme de nuevo|reactivar (?:los )?(?:mensajes|textos))\\b`,
    false,
  ),
];

const NEGATORS: Record<'en' | 'es', ReadonlySet<string>> = {
  en: new Set(
    words(`dont didnt doesnt wont cant cannot never not shouldnt wouldnt isnt arent dnt dun aint`),
  ),
  es: new Set(['no', 'nunca', 'jamas', 'ni']),
};
/** Words that may stand between a negation and what it negates ("don't want to unsubscribe"). */
const NEGATION_BRIDGE = new Set(
  words(
    `want to ever mean meant need please pls really i wanna wish like plan planning trying try
  going gonna quiero quisiera deseo me que ya do you u just be intend`,
  ),
);

function negatedBefore(before: string, lang: 'en' | 'es'): boolean {
  const words = before.split(' ').filter(Boolean).slice(-4).reverse();
  for (const [i, w] of words.entries()) {
    if (NEGATORS[lang].has(w)) {
      // "why won't you stop texting me" is not a negation of the wish.
      return !words.slice(0, i).some((x) => x === 'you' || x === 'u' || x === 'yall');
    }
    if (!NEGATION_BRIDGE.has(w)) return false;
  }
  return false;
}

// ---------------------------------------------------------------------------------------
// Scope
// ---------------------------------------------------------------------------------------

function programOf(word: string): Program | null {
  for (const [re, program] of PROGRAM_WORDS) if (re.test(word)) return program;
  return null;
}

const GENERIC = new RegExp(`^${MSG}$`);
const ALL_WORDS = new Set(words(`all everything anything todo todos todas nada every`));
const SCOPE_END = new Set(
  words(`but only just except keep however though pero solo excepto still`),
);
const QUALIFIER = new Set(words(`about for of regarding re on de sobre del con`));
const POSSESSIVE = new Set(words(`my the your our mi la las los el su sus tu me us any`));

/** The programs a revocation names in its own words and the few that follow, or 'all'. */
function scopeOf(words: readonly string[], from: number, to: number): 'all' | Program[] {
  const window = words.slice(from, Math.min(words.length, to + 6));
  // "stop the surveys but keep the reminders": the wish ends where the exception begins.
  const cut = window.findIndex((w, i) => i >= to - from && SCOPE_END.has(w));
  if (cut >= 0) window.length = cut;
  const programs = new Set<Program>();
  let generic = false;
  for (const [i, w] of window.entries()) {
    const prog = programOf(w);
    if (prog) {
      programs.add(prog);
      continue;
    }
    if (ALL_WORDS.has(w)) {
      // "all surveys" names a program; "all texts" and "everything" do not.
      const next = window.slice(i + 1, i + 3);
      if (!next.some((x) => programOf(x))) generic = true;
      continue;
    }
    if (GENERIC.test(w)) {
      const prev = window[i - 1];
      if (prev !== undefined && programOf(prev)) continue;
      let j = i + 1;
      if (window[j] === 'me' || window[j] === 'us') j++;
      if (window[j] !== undefined && programOf(window[j]!)) continue;
      if (window[j] !== undefined && QUALIFIER.has(window[j]!)) {
        j++;
        while (window[j] !== undefined && POSSESSIVE.has(window[j]!)) j++;
        if (window[j] !== undefined && programOf(window[j]!)) continue;
      }
      generic = true;
    }
  }
  if (generic || programs.size === 0) return 'all';
  return [...programs];
}

function unionScope(a: 'all' | Program[] | null, b: 'all' | Program[]): 'all' | Program[] {
  if (a === 'all' || b === 'all') return 'all';
  if (a === null) return b;
  return [...new Set([...a, ...b])];
}

// ---------------------------------------------------------------------------------------
// Segments
// ---------------------------------------------------------------------------------------

/** Sentences: plain-language rules read one sentence at a time. */
const SENTENCE_SPLIT = /[.!?;\n\r¡¿…]+/u;
/** Clauses: a keyword standing alone between commas, dashes or emoji counts ("Thanks, STOP"). */
const CLAUSE_SPLIT =
  /[.!?;:,\n\r()[\]{}¡¿…"“”«»]+|\s[-–—~]+\s?|[-–—]{2,}|[\p{Extended_Pictographic}\p{Emoji_Modifier}\uFE0F\u200D]+/u;

const APPOINTMENT_CONTEXT =
  /\b(?:appointment|appointments|appt|appts|apt|appoitment|appoinment|apointment|visit|cita|citas|consulta|tomorrow|tmrw|tmr|today|tonight|monday|tuesday|wednesday|thursday|friday|saturday|sunday|tue|tues|wed|thu|thur|thurs|fri|lunes|martes|miercoles|jueves|viernes|sabado|domingo|manana|hoy|reschedule|resched|rescheduling|reprogramar|cambiar|come|coming|make it|be there|attend|asistir|ir|venir|llegar|am|pm|morning|afternoon|doctor|dr|dentist|procedure|surgery|exam|test|lab|labs|cleaning|checkup|physical|sick|work|week|\d{1,2})\b/;

/** Uppercase keywords in a reply that is not all capitals: "Hi this is Ann's phone STOP". */
const CAPS_KEYWORDS = new Set(words(`STOP STOPALL UNSUBSCRIBE OPTOUT REVOKE PARAR DETENER`));
const CAPS_OTHER_SENSE = new Set(words(`by in at over on off for taking eating using`));

const UNSUBSCRIBE_FORMS = ['unsubscribe', 'unsubscribed'];

/** A capitalised first name (not a weekday, month or ordinary capitalised word). */
const NAME =
  '(?!(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|January|February|March|April|May|June|July|August|September|October|November|December|Dr|Doctor|Sure|Available|Able|Ready|Home|Here|There|Interested|Going|The|A|An|My|Your|Right|Correct|True|Ok|Okay|Urgent|Me|Him|Her|It|Good|Fine|Well|Sick|Coming|Feeling|Allowed|Driving|Working|Free|Late|Able|Busy|Yet|Really|Even|Sorry|Today|Tomorrow|Tonight|Now|Again|Anymore|Interested|Me|Us|Yet|Quite|Exactly|Much|Bad|Great|Happy)\\b)\\p{Lu}\\p{Ll}+';
/** Wrong number, said with the name we texted: "This isn't Jessica's phone", "I'm not
 * Maria", "There's no Carlos here". Case matters, so it reads the text before folding. */
const WRONG_NAME = new RegExp(
  `^[Nn]ot ${NAME}[.!]*$|\\b(?:[Tt]his|[Tt]hat)(?: is|'s|s)? (?:not|no longer|isn't|isnt|ain't|aint) ${NAME}(?:'s|s'|s)?\\b|\\b(?:I'm|Im|I am|i'm|im|i am) not ${NAME}\\b|\\b(?:[Tt]here(?:'s| is|s)|[Nn]o) (?:no )?${NAME} (?:here|at this number|on this phone)\\b|\\b${NAME} (?:doesn't|does not|doesnt|no longer) (?:lives? here|ha(?:s|ve) this (?:number|phone)|uses? this (?:number|phone))`,
  'u',
);

interface Revocation {
  scope: 'all' | Program[];
  keyword: string | null;
}

function matchPatterns(
  patterns: readonly Pattern[],
  text: string,
  onMatch: (words: string[], from: number, to: number, pattern: Pattern) => void,
): void {
  for (const pattern of patterns) {
    pattern.re.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = pattern.re.exec(text)) !== null) {
      if (m[0].length === 0) pattern.re.lastIndex++;
      const before = text.slice(0, m.index);
      const words = before.split(' ').filter(Boolean);
      if (pattern.negatable && negatedBefore(before, pattern.negatable)) continue;
      if (pattern.notAfter && pattern.notAfter.has(words[words.length - 1] ?? '')) continue;
      const from = words.length;
      const to = from + m[0].trim().split(' ').length;
      onMatch(text.split(' '), from, to, pattern);
    }
  }
}

/** Every revocation in the reply, merged: its scope and keyword, or null for none. */
function findRevocation(
  sentences: readonly string[],
  clauses: readonly string[],
  foldedAll: string,
): Revocation | null {
  let scope: 'all' | Program[] | null = null;
  let keyword: string | null = null;
  const appointment = APPOINTMENT_CONTEXT.test(foldedAll);
  for (const clause of clauses) {
    const k = keywordOnly(clause);
    if (!k || k.intent !== 'opt_out') continue;
    if ((k.keyword === 'CANCEL' || k.keyword === 'CANCELAR') && appointment) continue;
    scope = 'all';
    keyword ??= k.keyword;
  }
  // Every rule reads each sentence; the rules anchored to the start or end of a sentence also
  // read each clause ("Wrong number, please stop").
  const onMatch = (words: string[], from: number, to: number, pattern: Pattern) => {
    scope = unionScope(scope, pattern.scoped ? scopeOf(words, from, to) : 'all');
  };
  const sentenceSet = new Set(sentences.filter((t) => t !== ''));
  for (const text of sentenceSet) matchPatterns(REVOCATIONS, text, onMatch);
  for (const text of new Set(clauses)) {
    if (text !== '' && !sentenceSet.has(text)) matchPatterns(ANCHORED_REVOCATIONS, text, onMatch);
  }
  if (scope === null) return null;
  return { scope, keyword };
}

/** Fallbacks when no rule matched: an uppercase STOP inside a lowercase reply, or a misspelt
 * "unsubscribe" anywhere. */
function findLooseRevocation(cleaned: string, folded: string): Revocation | null {
  if (WRONG_NAME.test(cleaned.replace(/[’ʼ`´]/g, "'"))) return { scope: 'all', keyword: null };
  if (/\p{Ll}/u.test(cleaned)) {
    const caseWords = cleaned
      .normalize('NFD')
      .replace(/\p{M}+/gu, '')
      .replace(/['’ʼ`´]/g, '')
      .replace(/[^\p{L}\p{N}]+/gu, ' ')
      .trim()
      .split(' ');
    for (const [i, w] of caseWords.entries()) {
      if (!CAPS_KEYWORDS.has(w)) continue;
      const before = caseWords.slice(0, i).join(' ').toLowerCase();
      const next = caseWords[i + 1]?.toLowerCase();
      if (negatedBefore(before, 'en')) continue;
      if (next !== undefined && CAPS_OTHER_SENSE.has(next)) continue;
      return { scope: 'all', keyword: w };
    }
  }
  const words = folded.split(' ');
  for (const [i, w] of words.entries()) {
    if (w.length < 9) continue;
    if (!UNSUBSCRIBE_FORMS.some((u) => u === w || isOneEdit(w, u))) continue;
    if (negatedBefore(words.slice(0, i).join(' '), 'en')) continue;
    return { scope: scopeOf(words, i, i + 1), keyword: null };
  }
  return null;
}

/** Last resort, after every rule above and the opt-in wishes: a sentence that speaks of our
 * texts (or of contacting, this number, the list) together with a wish for them to cease
 * ("I'd appreciate it if you stopped texting me", "text messages not wanted"). The policy
 * asks for an opt-out whenever a reply plausibly asks to stop, so this errs that way; it stands
 * down when the sentence is about a text that did not arrive ("I didn't get the reminder"). */
const CONTACT_REF = new RegExp(
  `\\b(?:${OBJ}|contact|contacting|texting|txting|messaging|hear from (?:you|u|yall)|this number|my number|my phone|my cell|(?:mailing |text |texting |contact )?list|lista|este numero|mi numero|contacten|escriban|manden|envien|mandando|enviando|escribiendo|molestar|molesten)\\b|\\b(?:text|txt|message|msg|contact|email)(?:ing)? (?:me|us)\\b|\\b(?:you|u|yall|you guys|they) (?:\\w+ )?(?:text|message|contact|send|txt)\\b`,
);
const CESSATION =
  /\b(?:stop|stopped|stopping|quit|cease|refrain|enough|too many|too much|way too|so many|done with|done getting|done receiving|im done|no longer|dont want|do not want|dont wish|do not wish|dont need|do not need|not wanted|unwanted|didnt ask|did not ask|never asked|never signed|never agreed|not interested|tired of|sick of|fed up|annoying|annoyed|irritating|remove|removed|delete|deleted|take off|off of|block|blocked|spam|anymore|any more|unsubscribe|opt out|leave me|why do you keep|why do you|why are you|every day|everyday|constantly|nonstop|non stop|harass|harassing|bother|bothering|no more|ya no|no quiero|no deseo|no necesito|basta|dejen|paren|quiten|saquen|borren|eliminen|salir de|no mas|nunca|ningun|ninguno|tantos|demasiados|no need|prefer no|prefer not|rather not|not necessary|arent necessary|isnt necessary|not needed|unnecessary|dont need|no necesito|innecesarios?)\b/;
const NOT_REVOCATION =
  /\b(?:(?:didnt|did not|never|havent|have not|hasnt|has not|not|wont|will not|dont|do not|cant|cannot|couldnt)(?: (?:even|ever|yet|always|seem to|been))? (?:get|got|gotten|receive|received|see|seen|getting|receiving|come|came|arrive|arrived|working|load|open|opening)|stopped (?:coming|arriving|working|getting|receiving|sending)|will i (?:still )?(?:get|receive)|(?:can|could|would) (?:you|u) (?:please )?(?:text|send|message|resend)|please (?:text|send|message|resend)|(?:dont|do not|please dont) stop|stop (?:by|in|at|over)|no (?:me )?(?:llego|llegaron|llega|recibi)|keep (?:texting|sending|messaging|getting|receiving)|just (?:email|e mail|call|mail)|by (?:email|e mail|mail)|via (?:email|e mail)|instead|emergency contact|as (?:a |my |an )?contact|(?:ya )?no (?:recibo|me llegan?|he recibido|recibi|estoy recibiendo))\b/;

function soundsLikeRevocation(sentence: string): boolean {
  // "Spam" names the texts and condemns them at once: alone it is a question ("is this spam?").
  const contact = CONTACT_REF.test(sentence.replace(/\b(?:spam|junk)\b/g, ''));
  return contact && CESSATION.test(sentence) && !NOT_REVOCATION.test(sentence);
}

/** An earlier keyword sent by mistake ("I hit stop by accident"), or mentioned together
 * with a wish to keep receiving texts ("my son sent stop, please keep texting"). */
function madeByMistake(folded: string, sentences: readonly string[]): boolean {
  if (MISTAKES[0]!.test(folded) && (MISTAKE_WORD.test(folded) || anyMatch(OPT_INS, sentences))) {
    return true;
  }
  return MISTAKES.slice(1).some((re) => re.test(folded));
}

function anyMatch(patterns: readonly Pattern[], texts: readonly string[]): boolean {
  let found = false;
  for (const text of texts) {
    if (text === '' || found) continue;
    matchPatterns(patterns, text, () => {
      found = true;
    });
  }
  return found;
}

// ---------------------------------------------------------------------------------------
// The classifier
// ---------------------------------------------------------------------------------------

function optOut(scope: 'all' | Program[], keyword: string | null): Classification {
  return { intent: 'opt_out', scope, keyword, yes: false };
}

/** Keyword mentions, blanked out to look for a revocation beside a mistaken STOP. */
const KW_MENTION_RE = new RegExp(`\\b${KW_MENTION}\\b`, 'g');

function classifyCleaned(cleaned: string): Classification {
  const text = stripSignature(cleaned);
  const folded = fold(text);
  if (folded === '') {
    // A lone stop sign is as clear as the word.
    return /^(?:\u{1F6D1}\uFE0F?\s*)+$/u.test(text) ? optOut('all', null) : NONE;
  }

  // 2. Nothing but keywords and politeness.
  const whole = keywordOnly(folded);
  if (whole) {
    switch (whole.intent) {
      case 'opt_out':
        return optOut('all', whole.keyword);
      case 'opt_in':
        return { intent: 'opt_in', scope: null, keyword: whole.keyword, yes: false };
      case 'help':
        return { intent: 'help', scope: null, keyword: whole.keyword, yes: false };
      case 'yes':
        return { intent: 'opt_in', scope: null, keyword: 'YES', yes: true };
    }
  }

  const sentences = text.split(SENTENCE_SPLIT).map(fold);
  const clauses = text.split(CLAUSE_SPLIT).map(fold);

  // 3. An earlier STOP sent by mistake: opt back in, unless the reply also revokes something.
  if (madeByMistake(folded, sentences)) {
    const strip = (s: string) => s.replace(KW_MENTION_RE, 'kwx');
    const rest = findRevocation(sentences.map(strip), [], strip(folded));
    return rest
      ? optOut(rest.scope, null)
      : { intent: 'opt_in', scope: null, keyword: null, yes: false };
  }

  // 4. Revocation always wins.
  const revocation =
    findRevocation(sentences, clauses, folded) ?? findLooseRevocation(text, folded);
  if (revocation) return optOut(revocation.scope, revocation.keyword);

  // 5. A plain wish to receive texts.
  if (anyMatch(OPT_INS, [...sentences, folded])) {
    return { intent: 'opt_in', scope: null, keyword: null, yes: false };
  }
  // 6. Whatever still plausibly asks to stop.
  if (sentences.some(soundsLikeRevocation)) return optOut('all', null);
  return NONE;
}

/**
 * Classifies one inbound reply by the policy of issue 4. Pure and fast: no I/O, no state.
 * See docs/consent-classifier.md for the rules and their order.
 */
export function classifyReply(text: string): Classification {
  const cleaned = clean(text);
  const remainder = tapbackRemainder(cleaned);
  if (remainder !== null) return remainder.trim() === '' ? NONE : classifyCleaned(clean(remainder));
  return classifyCleaned(cleaned);
}
