/**
 * @module web/pages/settings/guard
 * The content-guard policy (PUT /v1/settings/guard): what happens to a text that would
 * disclose health information.
 */
import { useEffect, useState, type FormEvent } from 'react';
import { api } from '../../api';
import { attempt, LoadError, OutcomeLine, useResource, type Outcome } from './shared';

type Action = 'divert' | 'reject' | 'override';

const ACTIONS: readonly (readonly [Action, string])[] = [
  ['divert', 'Divert it to the secure portal; the patient gets a neutral notice (recommended)'],
  ['reject', 'Refuse it: the sender must rewrite it or send it as a secure message'],
  [
    'override',
    'Divert it, but let a provider send it as plain SMS with a written reason (audited)',
  ],
];

export function GuardSection() {
  const res = useResource<{ action: Action }>('/v1/settings/guard');
  const [action, setAction] = useState<Action>('divert');
  const [outcome, setOutcome] = useState<Outcome>(null);
  useEffect(() => {
    if (res.data) setAction(res.data.action);
  }, [res.data]);

  const save = async (e: FormEvent) => {
    e.preventDefault();
    await attempt(setOutcome, 'The content-guard policy was saved.', async () => {
      res.setData(await api<{ action: Action }>('PUT', '/v1/settings/guard', { action }));
    });
  };

  return (
    <>
      <LoadError error={res.error} />
      {res.data && (
        <form onSubmit={(e) => void save(e)}>
          <fieldset className="checks">
            <legend>When a text would disclose health information</legend>
            {ACTIONS.map(([a, label]) => (
              <label key={a} className="check">
                <input
                  type="radio"
                  name="guard-action"
                  value={a}
                  checked={action === a}
                  onChange={() => setAction(a)}
                />
                {label}
              </label>
            ))}
          </fieldset>
          <button type="submit">Save guard policy</button>
        </form>
      )}
      <OutcomeLine outcome={outcome} />
    </>
  );
}
