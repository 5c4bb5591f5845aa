/**
 * @module web/pages/consent
 * A number's consent at a glance: state per program and the full history with its source
 * and evidence (POST /v1/consents/lookup: the number goes in the body, never in the URL).
 * Read-only, so auditors use it as it is. The tables are web/consent-view's, shared with the
 * Patients page.
 */
import { useState, type FormEvent } from 'react';
import { api, ApiError } from '../api';
import { ConsentTables, type ConsentView } from '../consent-view';

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
        <ConsentTables
          view={view}
          idPrefix="consent"
          stateTitle={`State per program for ${view.phone}`}
          historyTitle="History"
        />
      )}
    </main>
  );
}
