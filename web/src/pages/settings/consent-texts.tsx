/**
 * @module web/pages/settings/consent-texts
 * Keywords and reply texts (PUT /v1/consent-settings): what STOP, HELP and START answer
 * ({org} stands for the organisation's name), whether a reply naming a program stops only
 * that program, the opt-in policy per program, and the organisation's own keywords on top of
 * the carrier and FCC standard set (which no organisation may narrow). The reply tester asks
 * the server (POST /v1/consent-settings/classify) with the keywords as typed, so what it shows
 * is what the inbound path would do once they are saved.
 */
import { useEffect, useState, type FormEvent } from 'react';
import { api, ApiError, PROGRAMS, type Program } from '../../api';
import { attempt, errorText, LoadError, OutcomeLine, useResource, type Outcome } from './shared';
import { TableHead } from '../../ui';

interface Policy {
  requireOptIn: boolean;
  doubleOptIn: boolean;
}

interface ConsentSettings {
  programs: Record<Program, Policy>;
  perProgramKeywords: boolean;
  helpText: string;
  optOutText: string;
  optInText: string;
  confirmPromptText: string;
  keywords: Keywords;
}

const KEYWORD_INTENTS = [
  ['optOut', 'Your own opt-out keywords', 'UNSUBSCRIBE FLU'],
  ['help', 'Your own help keywords', 'AYUDENME'],
  ['optIn', 'Your own opt-in keywords', 'VUELVO'],
] as const;
type KeywordIntent = (typeof KEYWORD_INTENTS)[number][0];
type Keywords = Record<KeywordIntent, string[]>;
type KeywordText = Record<KeywordIntent, string>;

interface Verdict {
  intent: keyof typeof INTENT_LABELS;
  scope: 'all' | Program[] | null;
  keyword: string | null;
  custom: boolean;
}

/** One keyword a line; blank lines ignored. */
function keywordsOf(text: KeywordText): Keywords {
  const list = (t: string) =>
    t
      .split('\n')
      .map((k) => k.trim())
      .filter(Boolean);
  return { optOut: list(text.optOut), help: list(text.help), optIn: list(text.optIn) };
}

function textOf(k: Keywords): KeywordText {
  return { optOut: k.optOut.join('\n'), help: k.help.join('\n'), optIn: k.optIn.join('\n') };
}

function describeVerdict(v: Verdict): string {
  const kw = v.keyword ? ` (${v.keyword}${v.custom ? ', your keyword' : ''})` : '';
  const scope = Array.isArray(v.scope) ? ` — ${v.scope.join(', ')}` : '';
  return `${INTENT_LABELS[v.intent]}${kw}${scope}`;
}

const TEXTS = [
  ['optOutText', 'Reply to STOP (opt-out confirmation)'],
  ['helpText', 'Reply to HELP'],
  ['optInText', 'Reply to START (opt-in confirmation)'],
  ['confirmPromptText', 'Double opt-in prompt'],
] as const;

const INTENT_LABELS = {
  opt_out: 'Opt-out',
  opt_in: 'Opt-in',
  help: 'Help request',
  none: 'Not a keyword: goes to the conversation',
} as const;

export function ConsentTextsSection() {
  const res = useResource<ConsentSettings>('/v1/consent-settings');
  const [form, setForm] = useState<ConsentSettings | null>(null);
  const [outcome, setOutcome] = useState<Outcome>(null);
  const [reply, setReply] = useState('');
  const [kwText, setKwText] = useState<KeywordText>({ optOut: '', help: '', optIn: '' });
  const [verdict, setVerdict] = useState<string | null>(null);

  useEffect(() => {
    if (res.data) {
      setForm(res.data);
      setKwText(textOf(res.data.keywords));
    }
  }, [res.data]);

  // The tester: the server reads the reply with the keywords as typed (debounced; the reply
  // travels in the body, never in the address).
  useEffect(() => {
    const text = reply.trim();
    if (!text) {
      setVerdict(null);
      return;
    }
    const ctl = new AbortController();
    const timer = setTimeout(() => {
      api<Verdict>(
        'POST',
        '/v1/consent-settings/classify',
        { text, keywords: keywordsOf(kwText) },
        { signal: ctl.signal },
      ).then(
        (v) => setVerdict(describeVerdict(v)),
        (e: unknown) => {
          if (ctl.signal.aborted) return;
          setVerdict(
            e instanceof ApiError && e.status === 400
              ? `Your keywords cannot be used: ${e.message}`
              : errorText(e),
          );
        },
      );
    }, 250);
    return () => {
      clearTimeout(timer);
      ctl.abort();
    };
  }, [reply, kwText]);

  const save = async (e: FormEvent) => {
    e.preventDefault();
    if (!form) return;
    await attempt(setOutcome, 'Keywords and texts saved.', async () => {
      const saved = await api<ConsentSettings>('PUT', '/v1/consent-settings', {
        ...form,
        keywords: keywordsOf(kwText),
      });
      res.setData(saved);
    });
  };

  return (
    <>
      <LoadError error={res.error} />
      {form && (
        <form onSubmit={(e) => void save(e)}>
          <h3>Keywords</h3>
          <p>
            STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE and OPT OUT (and their Spanish and
            French equivalents) always opt a patient out; HELP and INFO get the help text; START,
            UNSTOP, SUBSCRIBE, RESUME and OPT IN opt back in. These follow the carriers’ and the
            FCC’s rules and cannot be turned off.
          </p>
          <p className="hint" id="custom-keywords-hint">
            You may add your own, one a line, up to 20 each: 1 to 30 letters, digits and spaces. A
            reply that is exactly one of them (in any case) acts like the standard keyword; a
            standard keyword of another kind, or YES, is refused.
          </p>
          <div className="keyword-lists">
            {KEYWORD_INTENTS.map(([k, label, example]) => (
              <div key={k}>
                <label htmlFor={`keywords-${k}`}>{label}</label>
                <textarea
                  id={`keywords-${k}`}
                  rows={3}
                  autoComplete="off"
                  spellCheck={false}
                  placeholder={`e.g. ${example}`}
                  aria-describedby="custom-keywords-hint"
                  value={kwText[k]}
                  onChange={(e) => setKwText({ ...kwText, [k]: e.target.value })}
                />
              </div>
            ))}
          </div>
          <label className="check">
            <input
              type="checkbox"
              checked={form.perProgramKeywords}
              onChange={(e) => setForm({ ...form, perProgramKeywords: e.target.checked })}
            />
            A reply that names a program (“no more surveys”) stops only that program
          </label>
          <label htmlFor="reply-test">Try a reply</label>
          <input
            id="reply-test"
            autoComplete="off"
            aria-describedby="reply-verdict"
            value={reply}
            onChange={(e) => setReply(e.target.value)}
          />
          <p className="hint" id="reply-verdict" aria-live="polite">
            {verdict ?? 'Type a reply to see how it is read.'}
          </p>

          <h3>Reply texts</h3>
          <p className="hint">
            {'{org}'} stands for your organisation’s name. At most 320 characters.
          </p>
          {TEXTS.map(([k, label]) => (
            <div key={k}>
              <label htmlFor={`text-${k}`}>{label}</label>
              <textarea
                id={`text-${k}`}
                rows={2}
                required
                maxLength={320}
                value={form[k]}
                onChange={(e) => setForm({ ...form, [k]: e.target.value })}
              />
            </div>
          ))}

          <h3>Opt-in per program</h3>
          <div className="table-scroll">
            <table>
              <TableHead
                columns={['Program', 'Needs a recorded opt-in', 'Double opt-in (reply YES)']}
              />
              <tbody>
                {PROGRAMS.map((p) => (
                  <tr key={p}>
                    <th scope="row">{p}</th>
                    {(['requireOptIn', 'doubleOptIn'] as const).map((k) => (
                      <td key={k}>
                        <input
                          type="checkbox"
                          className="inline"
                          aria-label={`${p}: ${k === 'requireOptIn' ? 'needs a recorded opt-in' : 'double opt-in'}`}
                          checked={form.programs[p][k]}
                          onChange={(e) =>
                            setForm({
                              ...form,
                              programs: {
                                ...form.programs,
                                [p]: { ...form.programs[p], [k]: e.target.checked },
                              },
                            })
                          }
                        />
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <button type="submit">Save keywords and texts</button>
        </form>
      )}
      <OutcomeLine outcome={outcome} />
    </>
  );
}
