/**
 * @module web/pages/settings/consent-texts
 * Keywords and reply texts (PUT /v1/consent-settings): what STOP, HELP and START answer
 * ({org} stands for the organisation's name), whether a reply naming a program stops only
 * that program, and the opt-in policy per program. The keywords themselves are the carrier
 * and FCC standard set, which no organisation may narrow; the reply tester runs the server's
 * own classifier (src/consent/classify.ts, pure) so what it shows is what the inbound path does.
 */
import { useEffect, useState, type FormEvent } from 'react';
import { classifyReply } from '../../../../src/consent/classify.js';
import { api, PROGRAMS, type Program } from '../../api';
import { attempt, LoadError, OutcomeLine, useResource, type Outcome } from './shared';

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

  useEffect(() => {
    if (res.data) setForm(res.data);
  }, [res.data]);

  const save = async (e: FormEvent) => {
    e.preventDefault();
    if (!form) return;
    await attempt(setOutcome, 'Keywords and texts saved.', async () => {
      res.setData(await api<ConsentSettings>('PUT', '/v1/consent-settings', form));
    });
  };

  const verdict = reply.trim() ? classifyReply(reply) : null;

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
            {verdict
              ? `${INTENT_LABELS[verdict.intent]}${verdict.keyword ? ` (${verdict.keyword})` : ''}${
                  Array.isArray(verdict.scope) ? ` — ${verdict.scope.join(', ')}` : ''
                }`
              : 'Type a reply to see how it is read.'}
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
              <thead>
                <tr>
                  <th scope="col">Program</th>
                  <th scope="col">Needs a recorded opt-in</th>
                  <th scope="col">Double opt-in (reply YES)</th>
                </tr>
              </thead>
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
