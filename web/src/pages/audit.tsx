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
import { api } from '../api';
import {
  ErrorAlert,
  PhoneLookup,
  SelectField,
  TableHead,
  TableRegion,
  TextField,
  errorText,
  plural,
  when,
} from '../ui';

/** An audit event as the API lists it (ids and codes only). */
export interface AuditEvent {
  seq: number;
  time: string;
  /** `name`: the user's email or the key's name, where the API knows it. */
  actor: { type: string; id: string; name?: string };
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
const EXPORT_FORMATS = [
  ['jsonl', 'JSON Lines'],
  ['csv', 'CSV'],
] as const;

const BREAK_REASONS: Record<string, string> = {
  hash_mismatch: 'an event was changed after it was written',
  prev_hash_mismatch: 'an event does not link to the one before it',
  sequence_gap: 'an event is missing or out of order',
  head_mismatch: 'the chain head disagrees with the last event',
  checkpoint_mismatch: 'a signed checkpoint disagrees with the chain',
  checkpoint_signature_invalid: 'a checkpoint’s signature does not verify',
};

function message(e: unknown): string {
  return errorText(e, 'The server could not be reached.');
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
    <TableRegion label={label}>
      <table className="events">
        <TableHead columns={['#', 'When', 'Actor', 'Action', 'Target', 'Details']} />
        <tbody>
          {events.map((e) => (
            <tr key={e.seq}>
              <td>{e.seq}</td>
              <td>{when(e.time)}</td>
              <td>
                {e.actor.type} {e.actor.name !== undefined && <strong>{e.actor.name}</strong>}{' '}
                <code>{e.actor.id}</code>
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
    </TableRegion>
  );
}

/**
 * The answer to an events query: its error, or a count line (`none` when there are none,
 * else `some(n)`) and the events' table.
 */
function EventsResult(props: {
  events: AuditEvent[] | null;
  error: string | null;
  label: string;
  none: string;
  some: (n: number) => string;
}) {
  const { events } = props;
  return (
    <>
      <ErrorAlert error={props.error} />
      {events && (
        <>
          <p role="status" className="muted">
            {events.length === 0 ? props.none : props.some(events.length)}
          </p>
          {events.length > 0 && <EventsTable events={events} label={props.label} />}
        </>
      )}
    </>
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
        <TextField
          id="log-action"
          label="Action"
          placeholder="e.g. message.read"
          pattern="[a-z_]+(\.[a-z_]+)*"
          title="Lower-case words with dots, e.g. message.read"
          value={f.action}
          onChange={set('action')}
        />
        <SelectField
          id="log-actor"
          label="Actor type"
          any="Any"
          options={ACTOR_TYPES}
          value={f.actorType}
          onChange={set('actorType')}
        />
        <TextField
          id="log-target"
          label="Target type"
          placeholder="e.g. message"
          value={f.targetType}
          onChange={set('targetType')}
        />
        <TextField
          id="log-from"
          label="From day"
          type="date"
          value={f.from}
          onChange={set('from')}
        />
        <TextField id="log-to" label="To day" type="date" value={f.to} onChange={set('to')} />
        <button type="submit">Show events</button>
      </form>
      <EventsResult
        events={events}
        error={error}
        label="Audit events"
        none="No events match."
        some={(n) => `${plural(n, 'event')}, newest first${next ? ' (more available)' : ''}.`}
      />
      {next && (
        <button type="button" className="secondary" onClick={() => void fetchPage(next)}>
          Load more
        </button>
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
        <TextField id="export-from" label="From day" type="date" value={from} onChange={setFrom} />
        <TextField id="export-to" label="To day" type="date" value={to} onChange={setTo} />
        <SelectField
          id="export-format"
          label="Format"
          options={EXPORT_FORMATS}
          value={format}
          onChange={(v) => setFormat(v as 'jsonl' | 'csv')}
        />
        {/* A plain download: the session cookie authenticates it; only dates are in the address. */}
        <a className="button" href={`/v1/audit/export?${p.toString()}`} download>
          Download export
        </a>
      </div>
    </section>
  );
}

function Disclosures() {
  const [events, setEvents] = useState<AuditEvent[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const run = async (phone: string) => {
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
      <PhoneLookup id="disclosure-phone" button="Run report" onLookup={run} />
      <EventsResult
        events={events}
        error={error}
        label="Disclosures"
        none="Nothing has been recorded about this number."
        some={(n) => `${plural(n, 'event')} about this patient, newest first.`}
      />
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
