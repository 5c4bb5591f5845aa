/**
 * @module web/pages/consent
 * A number's consent at a glance: state per program and the full history with its source
 * and evidence (POST /v1/consents/lookup: the number goes in the body, never in the URL).
 * Read-only, so auditors use it as it is. The tables are web/consent-view's, shared with the
 * Patients page.
 */
import { useState } from 'react';
import { api } from '../api';
import { ConsentTables, type ConsentView } from '../consent-view';
import { ErrorAlert, PhoneLookup, errorText } from '../ui';

export function Consent() {
  const [view, setView] = useState<ConsentView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const lookup = async (phone: string) => {
    setError(null);
    try {
      setView(await api<ConsentView>('POST', '/v1/consents/lookup', { phone }));
    } catch (err) {
      setView(null);
      setError(errorText(err, 'The server could not be reached.'));
    }
  };
  return (
    <main id="main" className="page">
      <h1>Consent</h1>
      <PhoneLookup id="lookup-phone" button="Look up" onLookup={lookup} />
      <ErrorAlert error={error} />
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
