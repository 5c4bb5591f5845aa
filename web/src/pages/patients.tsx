/**
 * @module web/pages/patients
 * One patient at a time: find them by name or number (in the request body; the page's
 * address stays /console/patients), their details masked until revealed (each reveal is an
 * audit event naming who looked), their consent per program with its full history and
 * evidence, an opt-in recorded with its source and evidence (not for auditors), and — for
 * admins and auditors — the accounting of disclosures. The patient is kept in memory only,
 * by id; nothing about them is stored in the browser.
 */
import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { api, ApiError, PROGRAMS, type Role } from '../api';
import { ConsentTables, type ConsentView } from '../consent-view';
import type { AuditEvent } from './audit';
import {
  ErrorAlert,
  InfoNotice,
  SelectField,
  TableHead,
  TableRegion,
  TextField,
  errorText as message,
  plural,
  when,
} from '../ui';

interface ContactSummary {
  id: string;
  name: string | null;
  phone: string | null;
}

interface ContactDetails extends ContactSummary {
  dob: string | null;
  createdAt: string;
  updatedAt: string;
}

interface Revealed {
  id: string;
  name: string | null;
  phone: string | null;
  dob: string | null;
}

/** Sources a person records an opt-in from (keywords and carriers record their own). */
const OPT_IN_SOURCES = [
  ['in_person', 'In person'],
  ['paper', 'Paper form'],
  ['web_form', 'Web form'],
  ['phone_call', 'Phone call'],
  ['ehr', 'EHR'],
  ['staff', 'Staff'],
] as const;

const ACTION_LABELS: Record<string, string> = {
  'message.accepted': 'Message accepted',
  'message.sent': 'Message sent',
  'message.read': 'Message read',
  'message.listed': 'Messages listed',
  'consent.recorded': 'Consent recorded',
  'contact.read': 'Patient viewed (masked)',
  'contact.revealed': 'Patient details revealed',
  'secure_message.created': 'Secure message created',
  'secure_message.read': 'Secure message read',
  'secure_message.viewed': 'Secure message viewed by the patient',
  'inbound.received': 'Reply received',
};

function label(c: ContactSummary): string {
  return [c.name ?? 'No name', c.phone ?? 'no number'].join(' · ');
}

export function Patients({ role }: { role: Role }) {
  const [query, setQuery] = useState('');
  const [results, setResults] = useState<ContactSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [selected, setSelected] = useState<string | null>(null);

  const search = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setSelected(null);
    try {
      const r = await api<{ data: ContactSummary[] }>('POST', '/v1/contacts/search', { query });
      setResults(r.data);
    } catch (err) {
      setResults(null);
      setError(message(err, 'The server could not be reached.'));
    }
  };

  return (
    <main id="main" className="page">
      <h1>Patients</h1>
      <form className="row lookup" onSubmit={(e) => void search(e)} role="search">
        <TextField
          id="patient-query"
          label="Name or number"
          type="search"
          autoComplete="off"
          required
          minLength={2}
          hint="The start of a first or last name, or four or more digits of the number."
          value={query}
          onChange={setQuery}
        />
        <button type="submit">Search</button>
      </form>
      <ErrorAlert error={error} />
      {results && (
        <section aria-labelledby="results-title">
          <h2 id="results-title">
            {results.length === 0
              ? 'No patient found'
              : `${plural(results.length, 'patient')} found`}
          </h2>
          <ul className="patient-results">
            {results.map((c) => (
              <li key={c.id}>
                <button
                  type="button"
                  className="secondary"
                  aria-pressed={selected === c.id}
                  onClick={() => setSelected(c.id)}
                >
                  {label(c)}
                </button>
              </li>
            ))}
          </ul>
        </section>
      )}
      {selected && <Patient key={selected} id={selected} role={role} />}
    </main>
  );
}

function Patient({ id, role }: { id: string; role: Role }) {
  const [details, setDetails] = useState<ContactDetails | null>(null);
  const [revealed, setRevealed] = useState<Revealed | null>(null);
  const [consent, setConsent] = useState<ConsentView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const headingRef = useRef<HTMLHeadingElement>(null);
  const canReveal = role !== 'auditor';
  const canRecord = role !== 'auditor';
  const canSeeDisclosures = role === 'admin' || role === 'auditor';

  const loadConsent = useCallback(async () => {
    try {
      setConsent(await api<ConsentView>('GET', `/v1/contacts/${encodeURIComponent(id)}/consent`));
    } catch (e) {
      setConsent(null);
      if (!(e instanceof ApiError && e.code === 'not_found')) {
        setError(message(e, 'Consent could not be loaded.'));
      }
    }
  }, [id]);

  useEffect(() => {
    api<ContactDetails>('GET', `/v1/contacts/${encodeURIComponent(id)}`).then(
      (d) => {
        setDetails(d);
        headingRef.current?.focus();
      },
      (e: unknown) => setError(message(e, 'The patient could not be loaded.')),
    );
    void loadConsent();
  }, [id, loadConsent]);

  const reveal = async () => {
    setError(null);
    try {
      setRevealed(
        await api<Revealed>('POST', `/v1/contacts/${encodeURIComponent(id)}/reveal`, {
          purpose: 'view',
        }),
      );
    } catch (e) {
      setError(message(e, 'The details could not be revealed.'));
    }
  };

  return (
    <section className="patient" aria-labelledby="patient-title">
      <h2 id="patient-title" ref={headingRef} tabIndex={-1}>
        Patient {details?.name ?? ''}
      </h2>
      <ErrorAlert error={error} />
      {details && (
        <>
          <dl className="details" aria-live="polite">
            <dt>Name</dt>
            <dd data-testid="patient-name">
              {revealed ? (revealed.name ?? '—') : (details.name ?? '—')}
            </dd>
            <dt>Number</dt>
            <dd data-testid="patient-phone">
              {revealed ? (revealed.phone ?? '—') : (details.phone ?? '—')}
            </dd>
            <dt>Date of birth</dt>
            <dd data-testid="patient-dob">
              {revealed ? (revealed.dob ?? '—') : (details.dob ?? '—')}
            </dd>
          </dl>
          {canReveal &&
            (revealed ? (
              <>
                <p className="muted" role="status">
                  Shown to you; your reveal was recorded in the audit log.
                </p>
                <button type="button" className="secondary" onClick={() => setRevealed(null)}>
                  Hide details
                </button>
              </>
            ) : (
              <button type="button" className="secondary" onClick={() => void reveal()}>
                Reveal details
              </button>
            ))}
          {!canReveal && <p className="muted">Details stay masked for auditors.</p>}
        </>
      )}
      {consent && (
        <ConsentTables
          view={consent}
          idPrefix="patient-consent"
          stateTitle="Consent per program"
          historyTitle="Consent history"
        />
      )}
      {consent && canRecord && <RecordOptIn id={id} onRecorded={() => void loadConsent()} />}
      {canSeeDisclosures && <Disclosures id={id} />}
    </section>
  );
}

function RecordOptIn({ id, onRecorded }: { id: string; onRecorded: () => void }) {
  const [program, setProgram] = useState<string>('care');
  const [source, setSource] = useState<string>('in_person');
  const [evidence, setEvidence] = useState('');
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      await api('POST', `/v1/contacts/${encodeURIComponent(id)}/consents`, {
        program,
        kind: 'opt_in',
        source,
        evidence,
      });
      setDone(`Opt-in to ${program} recorded.`);
      setEvidence('');
      onRecorded();
    } catch (err) {
      setError(message(err, 'The opt-in could not be recorded.'));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="opt-in-title">
      <h2 id="opt-in-title">Record an opt-in</h2>
      <form onSubmit={(e) => void submit(e)}>
        <div className="row">
          <SelectField
            id="opt-in-program"
            label="Program"
            options={PROGRAMS}
            value={program}
            onChange={setProgram}
          >
            <option value="all">all programs</option>
          </SelectField>
          <SelectField
            id="opt-in-source"
            label="Source"
            options={OPT_IN_SOURCES}
            value={source}
            onChange={setSource}
          />
        </div>
        <label htmlFor="opt-in-evidence">Evidence</label>
        <textarea
          id="opt-in-evidence"
          rows={2}
          required
          maxLength={500}
          aria-describedby="opt-in-evidence-hint"
          value={evidence}
          onChange={(e) => setEvidence(e.target.value)}
        />
        <span id="opt-in-evidence-hint" className="hint">
          Where the consent is kept, e.g. “Signed intake form, scanned 2026-12-07”.
        </span>
        <div>
          <button type="submit" disabled={busy}>
            Record opt-in
          </button>
        </div>
        <InfoNotice text={done} />
        <ErrorAlert error={error} />
      </form>
    </section>
  );
}

function Disclosures({ id }: { id: string }) {
  const [events, setEvents] = useState<AuditEvent[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api<{ data: AuditEvent[] }>(
      'GET',
      `/v1/contacts/${encodeURIComponent(id)}/disclosures?limit=100`,
    ).then(
      (r) => setEvents(r.data),
      (e: unknown) => {
        if (!(e instanceof ApiError && e.code === 'not_found')) {
          setError(message(e, 'The disclosures could not be loaded.'));
        }
      },
    );
  }, [id]);
  return (
    <section aria-labelledby="disclosures-title">
      <h2 id="disclosures-title">Accounting of disclosures</h2>
      <ErrorAlert error={error} />
      {events && events.length === 0 && <p className="muted">Nothing has been disclosed.</p>}
      {events && events.length > 0 && (
        <TableRegion labelledBy="disclosures-title">
          <table>
            <TableHead columns={['When', 'What', 'By', 'Record']} />
            <tbody>
              {events.map((ev) => (
                <tr key={ev.seq}>
                  <td>{when(ev.time)}</td>
                  <td>{ACTION_LABELS[ev.action] ?? ev.action}</td>
                  <td>
                    {ev.actor.type}:{ev.actor.id}
                  </td>
                  <td>
                    {ev.target.type} <code>{ev.target.id}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableRegion>
      )}
    </section>
  );
}
