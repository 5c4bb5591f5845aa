/**
 * @module web/pages/audit
 * The auditor's page (45 CFR 164.312(b)): verify the organisation's hash chain now and see
 * the result (the first bad sequence number, if any); the audit log with filters, page by
 * page; a signed export to download (JSON Lines or CSV, verifiable offline with
 * `tidings audit verify --file`); and the accounting of disclosures for one patient, whose
 * number goes in the request body, never in an address. Read-only: every call here reads,
 * and each read is itself audited by the server.
 */
import { useState, type FormEvent } from 'react';
import { api, ApiError } from '../api';

interface AuditEvent {
  seq: number;
  time: string;
  actor: { type: string; id: string };
  action: string;
  target: { type: string; id: string };
  details: Record<string, string | number | boolean | null>;
  subjectIndex: string | null;
}

interface EventPage {
  data: AuditEvent[];
  nextCursor: string | null;
}

interface VerifyResult {
  ok: boolean;
  events: number;
  checkpoints: number;
  firstBreak: { seq: number; reason: string; sinceSeq?: number } | null;
  verifiedAt: string;
}

const ACTOR_TYPES = ['user', 'api_key', 'system', 'patient', 'cli'] as const;

const BREAK_REASONS: Record<string, string> = {
  hash_mismatch: 'an event was changed after it was written',
  prev_hash_mismatch: 'an event does not link to the one before it',
  sequence_gap: 'an event is missing or out of order',
  head_mismatch: 'the chain head disagrees with the last event',
  checkpoint_mismatch: 'a signed checkpoint disagrees with the chain',
  checkpoint_signature_invalid: 'a checkpoint’s signature does not verify',
};

function message(e: unknown): string {
  return e instanceof ApiError ? e.message : 'The server could not be reached.';
}

function when(iso: string): string {
  return new Date(iso).toLocaleString();
}

/** A UTC day as the API's date-time bounds: `from` at its start, `to` at the next day's. */
function dayStart(day: string, next = false): string {
  const t = Date.parse(`${day}T00:00:00Z`) + (next ? 86_400_000 : 0);
  return new Date(t).toISOString();
}

function detailsText(d: AuditEvent['details']): string {
  const parts = Object.entries(d).map(([k, v]) => `${k}: ${String(v)}`);
  return parts.length ? parts.join(', ') : '—';
}

function EventsTable({ events, label }: { events: AuditEvent[]; label: string }) {
  return (
    <div className="table-scroll" role="region" aria-label={label} tabIndex={0}>
      <table className="events">
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">When</th>
            <th scope="col">Actor</th>
            <th scope="col">Action</th>
            <th scope="col">Target</th>
            <th scope="col">Details</th>
          </tr>
        </thead>
        <tbody>
          {events.map((e) => (
            <tr key={e.seq}>
              <td>{e.seq}</td>
              <td>{when(e.time)}</td>
              <td>
                {e.actor.type} <code>{e.actor.id}</code>
              </td>
              <td>
                <code>{e.action}</code>
              </td>
              <td>
                {e.target.type} <code>{e.target.id}</code>
              </td>
              <td className="event-details">{detailsText(e.details)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function VerifyChain() {
  const [result, setResult] = useState<VerifyResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const verify = async () => {
    setBusy(true);
    setError(null);
    try {
      setResult(await api<VerifyResult>('POST', '/v1/audit/verify'));
    } catch (e) {
      setResult(null);
      setError(message(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="verify-title" className="panel">
      <h2 id="verify-title">Integrity</h2>
      <p className="hint">
        Recomputes every event’s hash and link and checks each signed checkpoint.
      </p>
      <button type="button" onClick={() => void verify()} disabled={busy}>
        {busy ? 'Verifying…' : 'Verify chain'}
      </button>
      <div aria-live="polite" data-testid="verify-result">
        {error && <p className="alert error">{error}</p>}
        {result?.ok && (
          <p className="alert ok">
            <strong>The chain is intact.</strong> {result.events} events and {result.checkpoints}{' '}
            signed checkpoint{result.checkpoints === 1 ? '' : 's'} verified at{' '}
            {when(result.verifiedAt)}.
          </p>
        )}
        {result && !result.ok && result.firstBreak && (
          <p className="alert error">
            <strong>The chain is broken at event #{result.firstBreak.seq}</strong>:{' '}
            {BREAK_REASONS[result.firstBreak.reason] ?? result.firstBreak.reason}
            {result.firstBreak.sinceSeq !== undefined &&
              ` (somewhere after event #${result.firstBreak.sinceSeq})`}
            . Checked at {when(result.verifiedAt)}; report it to your security officer.
          </p>
        )}
      </div>
    </section>
  );
}

interface LogFilters {
  action: string;
  actorType: string;
  targetType: string;
  from: string;
  to: string;
}

function AuditLog() {
  const [f, setF] = useState<LogFilters>({
    action: '',
    actorType: '',
    targetType: '',
    from: '',
    to: '',
  });
  const [events, setEvents] = useState<AuditEvent[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const fetchPage = async (cursor: string | null) => {
    const p = new URLSearchParams({ limit: '50' });
    if (f.action.trim()) p.set('action', f.action.trim());
    if (f.actorType) p.set('actorType', f.actorType);
    if (f.targetType.trim()) p.set('targetType', f.targetType.trim());
    if (f.from) p.set('from', dayStart(f.from));
    if (f.to) p.set('to', dayStart(f.to, true));
    if (cursor) p.set('cursor', cursor);
    setError(null);
    try {
      const page = await api<EventPage>('GET', `/v1/audit-events?${p.toString()}`);
      setEvents((prev) => (cursor && prev ? [...prev, ...page.data] : page.data));
      setNext(page.nextCursor);
    } catch (e) {
      setError(message(e));
    }
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void fetchPage(null);
  };
  const set = (k: keyof LogFilters) => (v: string) => setF((x) => ({ ...x, [k]: v }));

  return (
    <section aria-labelledby="log-title">
      <h2 id="log-title">Audit log</h2>
      <form className="row filters" onSubmit={submit} aria-label="Audit log filters">
        <div className="field">
          <label htmlFor="log-action">Action</label>
          <input
            id="log-action"
            placeholder="e.g. message.read"
            value={f.action}
            pattern="[a-z_]+(\.[a-z_]+)*"
            title="Lower-case words with dots, e.g. message.read"
            onChange={(e) => set('action')(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor="log-actor">Actor type</label>
          <select
            id="log-actor"
            value={f.actorType}
            onChange={(e) => set('actorType')(e.target.value)}
          >
            <option value="">Any</option>
            {ACTOR_TYPES.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="log-target">Target type</label>
          <input
            id="log-target"
            placeholder="e.g. message"
            value={f.targetType}
            onChange={(e) => set('targetType')(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor="log-from">From day</label>
          <input
            id="log-from"
            type="date"
            value={f.from}
            onChange={(e) => set('from')(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor="log-to">To day</label>
          <input id="log-to" type="date" value={f.to} onChange={(e) => set('to')(e.target.value)} />
        </div>
        <button type="submit">Show events</button>
      </form>
      {error && (
        <p className="alert error" role="alert">
          {error}
        </p>
      )}
      {events && (
        <>
          <p role="status" className="muted">
            {events.length === 0
              ? 'No events match.'
              : `${events.length} event${events.length === 1 ? '' : 's'}, newest first${next ? ' (more available)' : ''}.`}
          </p>
          {events.length > 0 && <EventsTable events={events} label="Audit events" />}
          {next && (
            <button type="button" className="secondary" onClick={() => void fetchPage(next)}>
              Load more
            </button>
          )}
        </>
      )}
    </section>
  );
}

function Export() {
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [format, setFormat] = useState<'jsonl' | 'csv'>('jsonl');
  const p = new URLSearchParams({ format });
  if (from) p.set('from', from);
  if (to) p.set('to', to);
  return (
    <section aria-labelledby="export-title" className="panel">
      <h2 id="export-title">Export</h2>
      <p className="hint">
        A signed file of the events (ids and codes only, never a number or a text). Check it offline
        with <code>tidings audit verify --file</code> and the organisation’s public key.
      </p>
      <div className="row">
        <div className="field">
          <label htmlFor="export-from">From day</label>
          <input
            id="export-from"
            type="date"
            value={from}
            onChange={(e) => setFrom(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor="export-to">To day</label>
          <input id="export-to" type="date" value={to} onChange={(e) => setTo(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="export-format">Format</label>
          <select
            id="export-format"
            value={format}
            onChange={(e) => setFormat(e.target.value as 'jsonl' | 'csv')}
          >
            <option value="jsonl">JSON Lines</option>
            <option value="csv">CSV</option>
          </select>
        </div>
        {/* A plain download: the session cookie authenticates it; only dates are in the address. */}
        <a className="button" href={`/v1/audit/export?${p.toString()}`} download>
          Download export
        </a>
      </div>
    </section>
  );
}

function Disclosures() {
  const [phone, setPhone] = useState('');
  const [events, setEvents] = useState<AuditEvent[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const run = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      const page = await api<EventPage>('POST', '/v1/audit/disclosures', { phone, limit: 200 });
      setEvents(page.data);
    } catch (err) {
      setEvents(null);
      setError(message(err));
    }
  };
  return (
    <section aria-labelledby="disclosures-title">
      <h2 id="disclosures-title">Accounting of disclosures</h2>
      <p className="hint">
        Every recorded event about one patient: who sent, viewed or received what, and when (45 CFR
        164.528).
      </p>
      <form className="row lookup" onSubmit={(e) => void run(e)}>
        <div className="field">
          <label htmlFor="disclosure-phone">Patient number</label>
          <input
            id="disclosure-phone"
            type="tel"
            autoComplete="off"
            required
            value={phone}
            onChange={(e) => setPhone(e.target.value)}
          />
        </div>
        <button type="submit">Run report</button>
      </form>
      {error && (
        <p className="alert error" role="alert">
          {error}
        </p>
      )}
      {events && (
        <>
          <p role="status" className="muted">
            {events.length === 0
              ? 'Nothing has been recorded about this number.'
              : `${events.length} event${events.length === 1 ? '' : 's'} about this patient, newest first.`}
          </p>
          {events.length > 0 && <EventsTable events={events} label="Disclosures" />}
        </>
      )}
    </section>
  );
}

export function Audit() {
  return (
    <main id="main" className="page wide">
      <h1>Audit</h1>
      <div className="panels">
        <VerifyChain />
        <Export />
      </div>
      <AuditLog />
      <Disclosures />
    </main>
  );
}
