/**
 * @module web/compose-recipient
 * The recipient part of Compose: find a patient by name (POST /v1/contacts/search, masked
 * answers; picking one reveals only their number, an audited reveal with purpose
 * `compose`), and, before sending, the recipient's consent for the program
 * (POST /v1/consents/lookup) and when quiet hours let the text go, with the window in their
 * own time zone (POST /v1/messages/earliest-send). Numbers travel in request bodies only.
 */
import { useEffect, useState, type KeyboardEvent } from 'react';
import { api, ApiError, type Program } from './api';
import { STATUS_LABELS, type ConsentView } from './consent-view';
import { TextField } from './ui';

interface ContactSummary {
  id: string;
  name: string | null;
  phone: string | null;
}

const CHECK_DEBOUNCE_MS = 400;

/** Search by name; picking a patient hands their number (revealed, audited) to `onPick`. */
export function PatientPicker({ onPick }: { onPick: (phone: string, label: string) => void }) {
  const [query, setQuery] = useState('');
  const [results, setResults] = useState<ContactSummary[] | null>(null);
  const [picked, setPicked] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const search = async () => {
    setError(null);
    setPicked(null);
    if (query.trim().length < 2) {
      setError('Type at least two letters of the name.');
      return;
    }
    try {
      const r = await api<{ data: ContactSummary[] }>('POST', '/v1/contacts/search', { query });
      setResults(r.data);
    } catch (e) {
      setResults(null);
      setError(e instanceof ApiError ? e.message : 'The search failed.');
    }
  };

  const pick = async (c: ContactSummary) => {
    setError(null);
    try {
      const r = await api<{ phone: string | null }>(
        'POST',
        `/v1/contacts/${encodeURIComponent(c.id)}/reveal`,
        { fields: ['phone'], purpose: 'compose' },
      );
      if (!r.phone) {
        setError('This patient has no number on file.');
        return;
      }
      const label = `${c.name ?? 'Patient'} (${c.phone ?? ''})`;
      onPick(r.phone, label);
      setPicked(label);
      setResults(null);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : 'The number could not be filled in.');
    }
  };

  const onKey = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === 'Enter') {
      e.preventDefault(); // search, not send
      void search();
    }
  };

  return (
    <div className="picker" role="search" aria-label="Find a patient">
      <div className="row">
        <TextField
          id="find-patient"
          label="Find patient by name"
          type="search"
          autoComplete="off"
          value={query}
          onChange={setQuery}
          onKeyDown={onKey}
        />
        <button type="button" className="secondary" onClick={() => void search()}>
          Find
        </button>
      </div>
      {error && (
        <p className="alert error" role="alert">
          {error}
        </p>
      )}
      {results && results.length === 0 && (
        <p className="muted" role="status">
          No patient found.
        </p>
      )}
      {results && results.length > 0 && (
        <ul className="patient-results" aria-label="Patients found">
          {results.map((c) => (
            <li key={c.id}>
              <button type="button" className="secondary" onClick={() => void pick(c)}>
                {c.name ?? 'No name'} · {c.phone ?? 'no number'}
              </button>
            </li>
          ))}
        </ul>
      )}
      {picked && (
        <p className="muted" role="status">
          Texting {picked}: the number is filled in below, and this was recorded in the audit log.
        </p>
      )}
    </div>
  );
}

interface EarliestSend {
  requested: string;
  earliest: string;
  heldBy: 'quiet_hours' | null;
  quietHours: 'on' | 'off' | 'exempt';
  zones: { zone: string; window: string | null; localTime: string }[];
}

/** What is known about a number before sending to it; null while it is not a number. */
function useRecipientChecks(to: string, program: Program, sendAt: string) {
  const [consent, setConsent] = useState<ConsentView | null>(null);
  const [timing, setTiming] = useState<EarliestSend | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setConsent(null);
    setTiming(null);
    setError(null);
    if (to.replace(/\D/g, '').length < 7) return;
    const ctl = new AbortController();
    const at = sendAt ? new Date(sendAt) : null;
    const timer = setTimeout(() => {
      const opts = { signal: ctl.signal };
      Promise.all([
        api<ConsentView>('POST', '/v1/consents/lookup', { phone: to }, opts),
        api<EarliestSend>(
          'POST',
          '/v1/messages/earliest-send',
          {
            to,
            program,
            ...(at && !Number.isNaN(at.getTime()) ? { at: at.toISOString() } : {}),
          },
          opts,
        ),
      ]).then(
        ([c, t]) => {
          setConsent(c);
          setTiming(t);
        },
        (e: unknown) => {
          if (ctl.signal.aborted) return;
          setError(e instanceof ApiError ? e.message : 'The recipient could not be checked.');
        },
      );
    }, CHECK_DEBOUNCE_MS);
    return () => {
      clearTimeout(timer);
      ctl.abort();
    };
  }, [to, program, sendAt]);
  return { consent, timing, error };
}

function localTime(iso: string): string {
  return new Date(iso).toLocaleString();
}

/** The recipient's consent for `program` and when the text may go. */
export function RecipientStatus(props: { to: string; program: Program; sendAt: string }) {
  const { consent, timing, error } = useRecipientChecks(props.to, props.program, props.sendAt);
  const state = consent?.programs[props.program];
  return (
    <section className="recipient-status" aria-labelledby="recipient-title" aria-live="polite">
      <h2 id="recipient-title">Before sending</h2>
      {!consent && !error && (
        <p className="muted">Enter or find a recipient to see their consent and quiet hours.</p>
      )}
      {error && <p className="alert error">{error}</p>}
      {state && (
        <p data-testid="recipient-consent">
          Consent for {props.program}:{' '}
          <span className={`badge ${state.status}`}>{STATUS_LABELS[state.status]}</span>{' '}
          {state.canSend ? '— may be texted.' : '— sending will be refused.'}
        </p>
      )}
      {timing && (
        <div data-testid="recipient-quiet-hours">
          {timing.quietHours === 'off' && <p>Quiet hours are off on this installation.</p>}
          {timing.quietHours === 'exempt' && (
            <p>The organisation exempts {props.program} texts from quiet hours.</p>
          )}
          {timing.quietHours === 'on' && (
            <>
              <p>
                Quiet hours in the recipient’s time zone
                {timing.zones.length === 1 ? '' : 's'}:
              </p>
              <ul>
                {timing.zones.map((z) => (
                  <li key={z.zone}>
                    {z.zone}: texts allowed {z.window ? z.window.replace('-', '–') : 'not at all'}{' '}
                    that day (local time then {z.localTime})
                  </li>
                ))}
              </ul>
            </>
          )}
          <p>
            {timing.heldBy === 'quiet_hours'
              ? `Held by quiet hours: it will go at ${localTime(timing.earliest)} (your time).`
              : `It can go at ${localTime(timing.earliest)} (your time).`}
          </p>
        </div>
      )}
    </section>
  );
}
