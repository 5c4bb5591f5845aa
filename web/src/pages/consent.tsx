/**
 * @module web/pages/consent
 * A number's consent at a glance: state per program and the full history with its source
 * and evidence (POST /v1/consents/lookup: the number goes in the body, never in the URL).
 * Read-only, so auditors use it as it is.
 */
import { useState, type FormEvent } from 'react';
import { api, ApiError, PROGRAMS } from '../api';

interface ProgramState {
  status: 'opted_in' | 'opted_out' | 'pending' | 'none';
  canSend: boolean;
}

interface ConsentView {
  phone: string;
  programs: Record<(typeof PROGRAMS)[number], ProgramState>;
  history: {
    id: string;
    program: string;
    kind: string;
    source: string;
    evidence: string | null;
    actor: string;
    occurredAt: string;
    recordedAt: string;
  }[];
}

const STATUS_LABELS: Record<ProgramState['status'], string> = {
  opted_in: 'Opted in',
  opted_out: 'Opted out',
  pending: 'Awaiting confirmation',
  none: 'No record',
};

function when(iso: string): string {
  return new Date(iso).toLocaleString();
}

export function Consent() {
  const [phone, setPhone] = useState('');
  const [view, setView] = useState<ConsentView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const lookup = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      setView(await api<ConsentView>('POST', '/v1/consents/lookup', { phone }));
    } catch (err) {
      setView(null);
      setError(err instanceof ApiError ? err.message : 'The server could not be reached.');
    }
  };
  return (
    <main id="main" className="page">
      <h1>Consent</h1>
      <form className="row lookup" onSubmit={(e) => void lookup(e)}>
        <div className="field">
          <label htmlFor="lookup-phone">Patient number</label>
          <input
            id="lookup-phone"
            type="tel"
            autoComplete="off"
            required
            value={phone}
            onChange={(e) => setPhone(e.target.value)}
          />
        </div>
        <button type="submit">Look up</button>
      </form>
      {error && (
        <p className="alert error" role="alert">
          {error}
        </p>
      )}
      {view && (
        <>
          <section aria-labelledby="state-title">
            <h2 id="state-title">State per program for {view.phone}</h2>
            <table>
              <thead>
                <tr>
                  <th scope="col">Program</th>
                  <th scope="col">State</th>
                  <th scope="col">May we text?</th>
                </tr>
              </thead>
              <tbody>
                {PROGRAMS.map((p) => (
                  <tr key={p}>
                    <th scope="row">{p}</th>
                    <td>
                      <span className={`badge ${view.programs[p].status}`}>
                        {STATUS_LABELS[view.programs[p].status]}
                      </span>
                    </td>
                    <td>{view.programs[p].canSend ? 'Yes' : 'No'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
          <section aria-labelledby="history-title">
            <h2 id="history-title">History</h2>
            {view.history.length === 0 ? (
              <p className="muted">No consent has been recorded for this number.</p>
            ) : (
              <div
                className="table-scroll"
                role="region"
                aria-labelledby="history-title"
                tabIndex={0}
              >
                <table>
                  <thead>
                    <tr>
                      <th scope="col">When</th>
                      <th scope="col">Program</th>
                      <th scope="col">Event</th>
                      <th scope="col">Source</th>
                      <th scope="col">Evidence</th>
                      <th scope="col">Recorded by</th>
                    </tr>
                  </thead>
                  <tbody>
                    {view.history.map((h) => (
                      <tr key={h.id}>
                        <td>{when(h.occurredAt)}</td>
                        <td>{h.program}</td>
                        <td>{h.kind}</td>
                        <td>{h.source}</td>
                        <td>{h.evidence ?? '—'}</td>
                        <td>{h.actor}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </section>
        </>
      )}
    </main>
  );
}
