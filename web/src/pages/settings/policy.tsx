/**
 * @module web/pages/settings/policy
 * The organisation's texting policy (PUT /v1/policy): every user acknowledges it before
 * first use, again when its text changes and every year; the list shows who is overdue
 * (GET /v1/policy/acknowledgements), overdue first.
 */
import { useEffect, useState, type FormEvent } from 'react';
import { api, ApiError } from '../../api';
import { attempt, errorText, OutcomeLine, useResource, when, type Outcome } from './shared';
import { TableHead, TableRegion } from '../../ui';

interface Policy {
  version: number;
  text: string;
  updatedAt: string;
}

interface AckStatus {
  userId: string;
  email: string;
  role: string;
  acknowledgedVersion: number | null;
  acknowledgedAt: string | null;
  dueAt: string | null;
  overdue: boolean;
}

export function PolicySection() {
  const [policy, setPolicy] = useState<Policy | null>(null);
  const [text, setText] = useState('');
  const [loadError, setLoadError] = useState<string | null>(null);
  const [outcome, setOutcome] = useState<Outcome>(null);
  const acks = useResource<{ version: number | null; overdue: number; data: AckStatus[] }>(
    '/v1/policy/acknowledgements',
  );

  useEffect(() => {
    api<Policy>('GET', '/v1/policy').then(
      (p) => {
        setPolicy(p);
        setText(p.text);
      },
      (e: unknown) => {
        // No policy yet is not an error: the admin writes the first one here.
        if (!(e instanceof ApiError && e.code === 'policy_not_set')) setLoadError(errorText(e));
      },
    );
  }, []);

  const save = async (e: FormEvent) => {
    e.preventDefault();
    await attempt(setOutcome, 'The texting policy was saved.', async () => {
      const p = await api<Policy>('PUT', '/v1/policy', { text });
      setPolicy(p);
      setText(p.text);
      acks.reload();
    });
  };

  return (
    <>
      {loadError && (
        <p className="alert error" role="alert">
          {loadError}
        </p>
      )}
      <form onSubmit={(e) => void save(e)}>
        <label htmlFor="policy-text">Policy text</label>
        <textarea
          id="policy-text"
          rows={8}
          required
          maxLength={20000}
          aria-describedby="policy-hint"
          value={text}
          onChange={(e) => setText(e.target.value)}
        />
        <p className="hint" id="policy-hint">
          {policy
            ? `Version ${policy.version}, saved ${when(policy.updatedAt)}. A changed text asks every user to acknowledge it again.`
            : 'No policy is set yet. Once saved, every user must acknowledge it before using the console, and again every year.'}
        </p>
        <button type="submit">Save policy</button>
      </form>
      <OutcomeLine outcome={outcome} />

      <h3 id="acks-title">Acknowledgements</h3>
      {acks.error && (
        <p className="alert error" role="alert">
          {acks.error}
        </p>
      )}
      {acks.data && (
        <>
          <p data-testid="overdue-count">
            {acks.data.version === null
              ? 'No policy to acknowledge yet.'
              : acks.data.overdue === 0
                ? 'Everyone has acknowledged the current policy.'
                : `${acks.data.overdue} user${acks.data.overdue === 1 ? ' is' : 's are'} overdue.`}
          </p>
          <TableRegion labelledBy="acks-title">
            <table>
              <TableHead columns={['User', 'Role', 'Acknowledged', 'Due again', 'State']} />
              <tbody>
                {acks.data.data.map((a) => (
                  <tr key={a.userId}>
                    <th scope="row">{a.email}</th>
                    <td>{a.role}</td>
                    <td>
                      {a.acknowledgedAt
                        ? `${when(a.acknowledgedAt)} (version ${a.acknowledgedVersion})`
                        : 'Never'}
                    </td>
                    <td>{when(a.dueAt)}</td>
                    <td>
                      <span className={`badge ${a.overdue ? 'opted_out' : 'opted_in'}`}>
                        {a.overdue ? 'Overdue' : 'Current'}
                      </span>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableRegion>
        </>
      )}
    </>
  );
}
