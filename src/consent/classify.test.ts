/**
 * The reply classifier against the policy of issue 4, rule by rule: keywords and their
 * typos, normalisation, plain-language revocations, scopes, what is not an opt-out,
 * reaction messages, opt-ins, YES and HELP — with fast-check properties for the parts that
 * must hold for any casing, padding, punctuation and emoji. Accuracy on the labelled set is
 * measured in test/classify.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PROGRAMS } from '../messaging/index.js';
import {
  classifyReply,
  isOneEdit,
  normaliseReply,
  osaDistance,
  type ReplyIntent,
} from './classify.js';

const intent = (text: string): ReplyIntent => classifyReply(text).intent;

/** Plain Levenshtein, the reference OSA must never exceed. */
function levenshtein(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(
        d[i - 1]![j]! + 1,
        d[i]![j - 1]! + 1,
        d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
  }
  return d[a.length]![b.length]!;
}

const OPT_OUT_KEYWORDS: ReadonlyArray<readonly [string, string]> = [
  ['STOP', 'STOP'],
  ['STOPALL', 'STOPALL'],
  ['STOP ALL', 'STOPALL'],
  ['UNSUBSCRIBE', 'UNSUBSCRIBE'],
  ['CANCEL', 'CANCEL'],
  ['END', 'END'],
  ['QUIT', 'QUIT'],
  ['REVOKE', 'REVOKE'],
  ['OPTOUT', 'OPTOUT'],
  ['OPT OUT', 'OPTOUT'],
  ['OPT-OUT', 'OPTOUT'],
  ['PARAR', 'PARAR'],
  ['ALTO', 'ALTO'],
  ['DETENER', 'DETENER'],
  ['CANCELAR', 'CANCELAR'],
  ['BASTA', 'BASTA'],
  ['BAJA', 'BAJA'],
  ['FIN', 'FIN'],
  ['ARRÊT', 'ARRET'],
  ['ARRET', 'ARRET'],
];
const OPT_IN_KEYWORDS = [
  'START',
  'UNSTOP',
  'SUBSCRIBE',
  'RESUME',
  'OPT IN',
  'COMENZAR',
  'INICIAR',
  'SUSCRIBIR',
];
const HELP_KEYWORDS = ['HELP', 'INFO', 'AYUDA'];
const YES_WORDS = ['YES', 'Y', 'YEAH', 'YEP', 'YUP', 'SÍ', 'SI', 'OK', 'OKAY', 'SURE', 'CLARO'];
const ALL_KEYWORDS: ReadonlyArray<readonly [string, ReplyIntent]> = [
  ...OPT_OUT_KEYWORDS.map(([k]) => [k, 'opt_out'] as const),
  ...OPT_IN_KEYWORDS.map((k) => [k, 'opt_in'] as const),
  ...HELP_KEYWORDS.map((k) => [k, 'help'] as const),
  ...YES_WORDS.map((k) => [k, 'opt_in'] as const),
];

/** Whitespace a phone may put around a reply: spaces, tabs, newlines, no-break and
 * zero-width spaces, the word joiner and BOM. */
const padding = fc
  .array(fc.constantFrom(' ', '\t', '\n', '\u00A0', '\u202F', '\u200B', '\u2060', '\uFEFF'), {
    maxLength: 4,
  })
  .map((xs) => xs.join(''));
const decoration = fc
  .array(
    fc.constantFrom(
      '.',
      '!',
      '?',
      '!!!',
      '...',
      '…',
      '¡',
      '¿',
      '"',
      '*',
      '🛑',
      '😡',
      '🙏',
      '👍🏽',
      '❤️',
      ':)',
    ),
    {
      maxLength: 3,
    },
  )
  .map((xs) => xs.join(''));
const anyCase = (word: string) =>
  fc
    .array(fc.boolean(), { minLength: word.length, maxLength: word.length })
    .map((upper) =>
      [...word].map((c, i) => (upper[i] ? c.toUpperCase() : c.toLowerCase())).join(''),
    );

describe('osaDistance', () => {
  it.each([
    ['', '', 0],
    ['stop', 'stop', 0],
    ['stop', 'stpo', 1],
    ['stop', 'sotp', 1],
    ['stop', 'stp', 1],
    ['stop', 'stopp', 1],
    ['stop', 'atop', 1],
    ['help', 'hlep', 1],
    ['unsubscribe', 'unsubscibe', 1],
    ['ca', 'abc', 3],
    ['stop', 'spot', 2],
    ['', 'abc', 3],
    ['kitten', 'sitting', 3],
  ])('%s ↔ %s = %i', (a, b, d) => {
    expect(osaDistance(a, b)).toBe(d);
    expect(osaDistance(b, a)).toBe(d);
  });

  const word = fc.string({ unit: fc.constantFrom('a', 'b', 'c', 'd'), maxLength: 7 });

  it('is symmetric, zero only for equal strings, between the length gap and Levenshtein', () => {
    fc.assert(
      fc.property(word, word, (a, b) => {
        const d = osaDistance(a, b);
        expect(osaDistance(b, a)).toBe(d);
        expect(d === 0).toBe(a === b);
        expect(d).toBeGreaterThanOrEqual(Math.abs(a.length - b.length));
        expect(d).toBeLessThanOrEqual(levenshtein(a, b));
        expect(d).toBeLessThanOrEqual(Math.max(a.length, b.length));
      }),
    );
  });

  it('counts one adjacent transposition as one edit', () => {
    fc.assert(
      fc.property(word, fc.nat(), (a, n) => {
        fc.pre(a.length >= 2);
        const i = n % (a.length - 1);
        fc.pre(a[i] !== a[i + 1]);
        const b = a.slice(0, i) + a[i + 1]! + a[i]! + a.slice(i + 2);
        expect(osaDistance(a, b)).toBe(1);
      }),
    );
  });

  it('agrees with isOneEdit', () => {
    fc.assert(
      fc.property(word, word, (a, b) => {
        expect(isOneEdit(a, b)).toBe(osaDistance(a, b) === 1);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('normaliseReply', () => {
  it.each([
    ['  STOP  ', 'stop'],
    ['\u00A0\u200BStop!!\u200D 🛑\uFEFF', 'stop'],
    ['ＳＴＯＰ', 'stop'],
    ['𝐒𝐓𝐎𝐏', 'stop'],
    ['No, don’t text me.', 'no dont text me'],
    ['¿Número equivocado?', 'numero equivocado'],
    ['ARRÊT', 'arret'],
    ['Opt-out', 'opt out'],
    ['Stop\n\nSent from my iPhone', 'stop'],
    ['Stop\nSent from my Verizon, Samsung Galaxy smartphone', 'stop'],
    ['Stop\n\nSent from Yahoo Mail on Android', 'stop'],
    ['Alto\nEnviado desde mi iPhone', 'alto'],
    ['Stop\n\nGet Outlook for iOS', 'stop'],
    ['Sent from my iPhone', ''],
    // A reply that merely starts like a signature keeps its words.
    ['I sent from my phone by mistake, stop', 'i sent from my phone by mistake stop'],
    ['Wrong #', 'wrong number'],
  ])('%j → %j', (text, expected) => {
    expect(normaliseReply(text)).toBe(expected);
  });

  it('is idempotent and yields lower-case words separated by single spaces', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 60 }), (s) => {
        const n = normaliseReply(s);
        expect(normaliseReply(n)).toBe(n);
        expect(n).toBe(n.trim());
        expect(n).not.toMatch(/ {2}/);
        expect(n).toBe(n.toLowerCase());
        expect(n).toMatch(/^[\p{L}\p{N} ]*$/u);
      }),
    );
  });
});

describe('keywords on the whole reply', () => {
  it.each(OPT_OUT_KEYWORDS)('%s → opt_out, keyword %s, scope all', (text, keyword) => {
    expect(classifyReply(text)).toEqual({ intent: 'opt_out', scope: 'all', keyword, yes: false });
  });
  it.each(OPT_IN_KEYWORDS)('%s → opt_in', (text) => {
    const c = classifyReply(text);
    expect(c).toMatchObject({ intent: 'opt_in', scope: null, yes: false });
    expect(c.keyword).not.toBeNull();
  });
  it.each(HELP_KEYWORDS)('%s → help', (text) => {
    expect(classifyReply(text)).toEqual({ intent: 'help', scope: null, keyword: text, yes: false });
  });
  it.each(YES_WORDS)('%s → opt_in with yes', (text) => {
    expect(classifyReply(text)).toEqual({
      intent: 'opt_in',
      scope: null,
      keyword: 'YES',
      yes: true,
    });
  });

  it('keeps its meaning under any casing, padding, punctuation and emoji', () => {
    const keyword = fc.constantFrom(...ALL_KEYWORDS);
    fc.assert(
      fc.property(
        keyword.chain(([word, want]) =>
          fc.tuple(fc.constant(want), anyCase(word), padding, decoration, decoration, padding),
        ),
        ([want, word, pad1, before, after, pad2]) => {
          expect(intent(`${pad1}${before}${word}${after}${pad2}`)).toBe(want);
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('keeps its meaning with politeness around it', () => {
    const polite = fc.constantFrom(
      'please',
      'pls',
      'thanks',
      'thank you',
      'por favor',
      'gracias',
      'hi',
    );
    fc.assert(
      fc.property(
        fc.constantFrom(...OPT_OUT_KEYWORDS.map(([k]) => k), ...HELP_KEYWORDS),
        polite,
        fc.boolean(),
        (word, p, first) => {
          const want = HELP_KEYWORDS.includes(word) ? 'help' : 'opt_out';
          expect(intent(first ? `${p} ${word}` : `${word} ${p}!`)).toBe(want);
        },
      ),
    );
  });

  it('repeated, held down or spelt out: "stop stop", "Stooop", "S.T.O.P", "ST0P"', () => {
    for (const t of [
      'stop stop stop',
      'STOPPPP',
      'Stooop!!',
      'S.T.O.P',
      's t o p',
      'ST0P',
      'stop 2',
    ]) {
      expect(intent(t), t).toBe('opt_out');
    }
    expect(intent('Yesss')).toBe('opt_in');
    expect(intent('Hellllp')).toBe('help');
  });

  it('is not triggered by a keyword inside a longer ordinary word', () => {
    const letters = fc.string({
      unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz'),
      minLength: 2,
      maxLength: 5,
    });
    fc.assert(
      fc.property(
        fc.constantFrom(...ALL_KEYWORDS.filter(([k]) => /^[A-Z]+$/.test(k) && k.length >= 3)),
        letters,
        letters,
        ([word], pre, post) => {
          expect(intent(`${pre}${word.toLowerCase()}${post}`)).toBe('none');
        },
      ),
    );
    for (const t of [
      'backstop',
      'Stopwatch',
      'Nonstop',
      'unstoppable',
      'Friend',
      'Legend',
      'Endless',
      'Information desk?',
      'Helpful!',
      'Quitting',
      'Altos',
      'Bajaron',
    ]) {
      expect(intent(t), t).toBe('none');
    }
  });
});

describe('one typo or transposition', () => {
  it.each([
    ['STPO', 'STOP'],
    ['Sotp', 'STOP'],
    ['Stp', 'STOP'],
    ['Atop', 'STOP'],
    ['UNSUBSCIBE', 'UNSUBSCRIBE'],
    ['unsubcribe', 'UNSUBSCRIBE'],
    ['Cancle', 'CANCEL'],
    ['Qiut', 'QUIT'],
    ['Edn', 'END'],
    ['Fni', 'FIN'],
    ['Revoek', 'REVOKE'],
    ['Atlo', 'ALTO'],
    ['Bsata', 'BASTA'],
    ['Opt ot', 'OPTOUT'],
  ])('%s → opt_out (%s)', (text, keyword) => {
    expect(classifyReply(text)).toMatchObject({ intent: 'opt_out', keyword });
  });
  it.each([
    ['HLEP', 'help'],
    ['Hepl', 'help'],
    ['Inof', 'help'],
    ['Strat', 'opt_in'],
    ['Yse', 'opt_in'],
  ])('%s → %s', (text, want) => {
    expect(intent(text)).toBe(want);
  });
  it.each([
    // Real words next to a short keyword are not typos of it.
    'and',
    'send',
    'fine',
    'fun',
    'fan',
    'fit',
    'in',
    'en',
    'quite',
    'quiet',
    'suit',
    'also',
    'auto',
    'alta',
    'algo',
    'bajo',
    'caja',
    'hasta',
    'pasta',
    'pagar',
    'pasar',
    'cancer',
    'step',
    'shop',
    'top',
    'stat',
    'star',
    'into',
    'hell',
    'held',
    'yet',
    'year',
    'option',
    'need',
    'ends',
    'Aló',
  ])('%s → none', (text) => {
    expect(intent(text)).toBe('none');
  });
});

describe('plain-language revocations', () => {
  it.each([
    'please stop texting me',
    'Stop texting me!!',
    'remove me from your list',
    'no more texts',
    'wrong number, don’t text me',
    "don't contact me",
    'take me off',
    'unsubscribe me please',
    'How do I opt out?',
    'leave me alone',
    'I never signed up for this',
    'Why do you keep texting me',
    'I replied STOP and still get texts',
    'This is not John’s phone',
    "I'm not Maria",
    'Not interested',
    'she passed away, please remove her',
    'I revoke my consent',
    'Hi this is Ann’s mom, she is 14 please STOP',
    'no me manden más mensajes',
    'ya no quiero recibir mensajes',
    'número equivocado',
    'dejen de escribirme',
    'Sáquenme de la lista',
    'Quiero darme de baja',
    'No me interesa',
  ])('%j → opt_out', (text) => {
    const c = classifyReply(text);
    expect(c.intent).toBe('opt_out');
    expect(c.keyword).toBeNull();
  });

  it('revocation always wins over anything else in the reply', () => {
    const revocation = fc.constantFrom(
      'STOP',
      'Please stop texting me',
      'no more texts',
      'unsubscribe',
      'wrong number',
      'remove me from your list',
      'no me manden más mensajes',
      'Alto',
    );
    const other = fc.constantFrom(
      'Yes',
      'HELP',
      'Thanks for the reminder',
      'I need to cancel my appointment',
      'C',
      'Can I reschedule?',
      'My cough won’t stop',
      'I’ll be there at 3',
      'START',
      'How much do I owe?',
    );
    fc.assert(
      fc.property(
        revocation,
        other,
        fc.boolean(),
        fc.constantFrom('. ', '\n', ', ', '! '),
        (r, o, first, sep) => {
          expect(intent(first ? `${r}${sep}${o}` : `${o}${sep}${r}`)).toBe('opt_out');
        },
      ),
    );
  });

  it('an uppercase STOP inside a longer reply is the keyword', () => {
    expect(intent('I have no idea who this is STOP')).toBe('opt_out');
    expect(intent("I'll STOP by later")).toBe('none');
    expect(intent('MY COUGH WONT STOP')).toBe('none');
  });
});

describe('scope', () => {
  it.each([
    ['no more surveys', ['surveys']],
    ['stop sending me billing texts', ['billing']],
    ['no marketing please', ['marketing']],
    ['Unsubscribe me from all surveys', ['surveys']],
    ['Stop the surveys but keep the reminders', ['surveys']],
    ['No surveys or promos', ['surveys', 'marketing']],
    ['No más encuestas', ['surveys']],
    ['No me manden promociones', ['marketing']],
    ['Stop texting me about my bill', ['billing']],
  ])('%j → %j', (text, scope) => {
    const c = classifyReply(text);
    expect(c.intent).toBe('opt_out');
    expect(c.scope).toEqual(scope);
  });
  it.each([
    'STOP',
    'stop texting me',
    'no more texts or surveys',
    'I paid my bill. Stop texting me',
    'Stop. No more surveys',
    'No more appointment reminders',
  ])('%j → all', (text) => {
    expect(classifyReply(text).scope).toBe('all');
  });
  it('names only programs that exist', () => {
    for (const t of [
      'no more surveys',
      'no marketing',
      'stop billing texts',
      'no more care texts',
    ]) {
      const scope = classifyReply(t).scope;
      expect(Array.isArray(scope) && scope.every((p) => PROGRAMS.includes(p))).toBe(true);
    }
  });
});

describe('not opt-outs', () => {
  it.each([
    'cancel my appointment',
    'I need to cancel',
    'C',
    'R',
    'can I reschedule',
    'cancel tuesday',
    'Cancel it, I’m sick',
    "I'll stop by tomorrow",
    'stopping in at the clinic',
    "my cough won't stop",
    'the bleeding stopped',
    'at the end of the week',
    'backstop',
    'Should I stop taking the antibiotics?',
    'I quit smoking!',
    'Tengo la presión alta',
    'Para el viernes por favor',
    'El fin de semana',
    'Please take me off the waitlist',
    'Can I remove the bandage?',
    'Can you send that to my email instead?',
    "Don't call me at work, text is fine",
    'Who is this?',
    'Is this spam?',
  ])('%j → none', (text) => {
    expect(intent(text)).toBe('none');
  });
});

describe('reaction messages (tapbacks)', () => {
  const reminder = fc.constantFrom(
    'Reminder: your appointment is Tue 3 PM. Reply C to confirm, R to reschedule. Reply STOP to opt out.',
    'Reply STOP to opt out',
    'Text STOP to end, HELP for help',
    'Responda ALTO para no recibir más mensajes',
    'STOP',
  );
  const reaction = fc.constantFrom(
    'Liked',
    'Loved',
    'Disliked',
    'Laughed at',
    'Emphasized',
    'Emphasised',
    'Questioned',
    'Reacted 👍 to',
    'Reacted 😂 to',
    'Reacted with ❤️ to',
    'Removed a heart from',
    'Le gustó',
    'Le encantó',
    'No le gustó',
  );
  const quotes = fc.constantFrom(['“', '”'], ['"', '"'], ['«', '»'], ['‘', '’']);

  it('a reaction quoting our text is none, whatever it quotes', () => {
    fc.assert(
      fc.property(reaction, reminder, quotes, fc.boolean(), (r, text, [open, close], cut) => {
        const quoted = cut ? `${text.slice(0, 30)}…` : text;
        expect(intent(`${r} ${open}${quoted}${close}`)).toBe('none');
      }),
    );
  });
  it('an emoji reaction quoting the text is none too', () => {
    expect(intent('👍 to “Reminder: appt Tue 3pm. Reply STOP to opt out”')).toBe('none');
    expect(intent('😡"stop')).toBe('opt_out');
  });
  it('but what the patient wrote after the quote still counts', () => {
    expect(intent('Liked “Reply STOP to opt out” STOP')).toBe('opt_out');
  });
});

describe('opt-in', () => {
  it.each([
    'sorry I sent stop by mistake, please keep texting me',
    'I texted STOP by accident',
    'Oops I didn’t mean to unsubscribe',
    'My son sent stop, please keep texting',
    'Perdón, mandé ALTO por error',
    'Please keep texting me',
    'I want to keep getting text reminders',
    'Sign me back up',
    'Quiero seguir recibiendo mensajes',
  ])('%j → opt_in (not a bare yes)', (text) => {
    expect(classifyReply(text)).toMatchObject({ intent: 'opt_in', yes: false });
  });
  it('a mistaken STOP with a fresh scoped wish is that opt-out', () => {
    expect(classifyReply('I sent stop by mistake, but no more surveys please')).toMatchObject({
      intent: 'opt_out',
      scope: ['surveys'],
    });
  });
  it.each([
    'Yes please',
    'Yes!',
    'Sí, gracias',
    'Ok thanks',
    'yes I agree',
    'Y',
    'De acuerdo',
    'Está bien',
  ])('%j → bare yes', (text) => {
    expect(classifyReply(text)).toEqual({
      intent: 'opt_in',
      scope: null,
      keyword: 'YES',
      yes: true,
    });
  });
  it.each([
    'Yes I’ll be there',
    'Ok see you then',
    'Yes, what time?',
    'Sí, a qué hora?',
    'No',
    'N',
    'Confirm',
    '👍',
  ])('%j is not a bare yes', (text) => {
    expect(classifyReply(text)).toEqual({ intent: 'none', scope: null, keyword: null, yes: false });
  });
});

describe('help', () => {
  it.each([
    'HELP',
    'help please',
    'info?',
    'Help!',
    'I need help',
    'More info',
    'Ayuda por favor',
    'Información',
  ])('%j → help', (text) => {
    expect(intent(text)).toBe('help');
  });
  it.each([
    'help me reschedule',
    'I need help with my bill',
    'Info on my lab results?',
    'Ayuda con mi factura',
  ])('%j → none', (text) => {
    expect(intent(text)).toBe('none');
  });
});

describe('any input', () => {
  it('never throws and always answers a consistent classification', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => {
        const c = classifyReply(s);
        if (c.intent === 'opt_out') {
          expect(c.scope === 'all' || (Array.isArray(c.scope) && c.scope.length > 0)).toBe(true);
        } else {
          expect(c.scope).toBeNull();
        }
        if (c.yes) expect(c.intent).toBe('opt_in');
      }),
      { numRuns: 500 },
    );
  });
  it('handles a long reply', () => {
    const long = `${'I have a question about my bill and whether I should stop by. '.repeat(40)}Please stop texting me`;
    expect(intent(long)).toBe('opt_out');
  });
});
