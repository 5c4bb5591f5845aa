/**
 * @module web/pages/campaigns
 * Campaigns: one template to a CSV list. The file is read in the browser and sent in the
 * request body (never stored by the browser); the list is checked first (POST
 * /v1/campaigns/validate: bad numbers, empty or invalid slot values and numbers without
 * consent are counted and the first rows named, with the text the first good row would get),
 * then created, started, paused and resumed, with a progress bar that polls the counts and
 * the final report. Providers see campaigns read-only; admins and staff run them. A campaign
 * is selected by id in the page's state, never in the address bar.
 */
import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { api, type Role } from '../api';
import {
  ErrorAlert,
  ListTable,
  RowButton,
  SelectField,
  TableHead,
  TableRegion,
  TextField,
  errorText as message,
  plural,
  whenShort as when,
} from '../ui';

const POLL_MS = 1000;
/** The largest list the API takes (8 MiB of CSV). */
const MAX_FILE_BYTES = 8 * 1024 * 1024;

type CampaignStatus = 'ready' | 'running' | 'paused' | 'completed';

interface Progress {
  total: number;
  pending: number;
  queued: number;
  sent: number;
  delivered: number;
  failed: number;
  suppressedByConsent: number;
  divertedByGuard: number;
}

export interface Campaign {
  id: string;
  name: string;
  template: string;
  status: CampaignStatus;
  total: number;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
  progress: Progress;
}

interface ListCheck {
  total: number;
  valid: number;
  invalid: number;
  suppressedByConsent: number;
  missingColumns: string[];
  program: string | null;
  problems: { row: number; code: string; slot: string | null }[];
  preview: { row: number; body: string; segments: number; encoding: string } | null;
}

const STATUS_LABELS: Record<CampaignStatus, string> = {
  ready: 'Ready',
  running: 'Sending',
  paused: 'Paused',
  completed: 'Completed',
};

/** A row's problem in plain words (codes from the API; never the row's values). */
export function problemLabel(p: { code: string; slot: string | null }): string {
  switch (p.code) {
    case 'invalid_phone_number':
      return 'Not a usable phone number';
    case 'missing_value':
      return `No value for ${p.slot ?? 'a slot'}`;
    case 'template_variable_invalid':
      return 'A value does not have the form its slot needs';
    case 'template_variable_contains_phi':
      return 'A value would reveal health information';
    case 'recipient_opted_out':
      return 'Opted out: will not be texted';
    case 'consent_required':
      return 'No opt-in on record for this program: will not be texted';
    default:
      return p.code.replace(/_/g, ' ');
  }
}

export function Campaigns(props: { role: Role }) {
  const canSend = props.role === 'admin' || props.role === 'staff';
  const [campaigns, setCampaigns] = useState<Campaign[] | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      setCampaigns((await api<{ data: Campaign[] }>('GET', '/v1/campaigns')).data);
    } catch (e) {
      setCampaigns([]);
      setError(message(e, 'The campaigns could not be loaded.'));
    }
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  // Campaigns keep the template's id; show its name where the template still exists.
  const [templateNames, setTemplateNames] = useState<Map<string, string>>(new Map());
  useEffect(() => {
    api<{ data: { id: string; name: string }[] }>('GET', '/v1/templates').then(
      (r) => setTemplateNames(new Map(r.data.map((t) => [t.id, t.name]))),
      () => setTemplateNames(new Map()),
    );
  }, []);
  const templateName = (ref: string) => templateNames.get(ref) ?? ref;

  const replace = useCallback((c: Campaign) => {
    setCampaigns((xs) => xs && xs.map((x) => (x.id === c.id ? c : x)));
  }, []);

  return (
    <main id="main" className="page">
      <h1>Campaigns</h1>
      <p className="muted">
        One template to a list. Every recipient goes through the send pipeline: consent, the content
        check, quiet hours and rate limits apply as to any text.
      </p>
      <ErrorAlert error={error} />
      {canSend && !creating && (
        <button type="button" onClick={() => setCreating(true)}>
          New campaign
        </button>
      )}
      {creating && (
        <NewCampaign
          onCancel={() => setCreating(false)}
          onCreated={(c) => {
            setCreating(false);
            setSelected(c.id);
            void load();
          }}
        />
      )}
      {selected && (
        <CampaignDetail
          key={selected}
          id={selected}
          canSend={canSend}
          templateName={templateName}
          onChange={replace}
        />
      )}
      <section aria-labelledby="campaigns-title">
        <h2 id="campaigns-title">All campaigns</h2>
        <ListTable
          items={campaigns}
          empty="No campaigns yet."
          labelledBy="campaigns-title"
          contained
          columns={['Name', 'Template', 'Status', 'Recipients', 'Created']}
          action
          row={(c) => (
            <tr key={c.id} aria-current={c.id === selected ? 'true' : undefined}>
              <th scope="row">{c.name}</th>
              <td>{templateName(c.template)}</td>
              <td>
                <span className={`badge campaign-${c.status}`}>{STATUS_LABELS[c.status]}</span>
              </td>
              <td>{c.total}</td>
              <td>{when(c.createdAt)}</td>
              <td>
                <RowButton label={`Open ${c.name}`} onClick={() => setSelected(c.id)}>
                  Open
                </RowButton>
              </td>
            </tr>
          )}
        />
      </section>
    </main>
  );
}

function NewCampaign(props: { onCancel: () => void; onCreated: (c: Campaign) => void }) {
  const [templates, setTemplates] = useState<{ id: string; name: string; slots: string[] }[]>([]);
  const [name, setName] = useState('');
  const [template, setTemplate] = useState('');
  const [csv, setCsv] = useState<string | null>(null);
  const [fileError, setFileError] = useState<string | null>(null);
  const [check, setCheck] = useState<ListCheck | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const checkRef = useRef<HTMLElement>(null);
  const slots = templates.find((t) => t.id === template)?.slots ?? [];

  useEffect(() => {
    api<{ data: { id: string; name: string; slots: string[] }[] }>('GET', '/v1/templates').then(
      (r) => setTemplates(r.data),
      (e: unknown) => setError(message(e, 'The templates could not be loaded.')),
    );
  }, []);

  useEffect(() => {
    if (check) checkRef.current?.focus();
  }, [check]);

  const readFile = async (file: File | undefined) => {
    setCheck(null);
    setCsv(null);
    setFileError(null);
    if (!file) return;
    if (file.size > MAX_FILE_BYTES) {
      setFileError('The file is larger than 8 MB.');
      return;
    }
    setCsv(await file.text());
  };

  const validate = async (e: FormEvent) => {
    e.preventDefault();
    if (csv === null) {
      setFileError('Choose a CSV file.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      setCheck(await api<ListCheck>('POST', '/v1/campaigns/validate', { template, csv }));
    } catch (err) {
      setCheck(null);
      setError(message(err, 'The list could not be checked.'));
    } finally {
      setBusy(false);
    }
  };

  const create = async () => {
    if (csv === null) return;
    setBusy(true);
    setError(null);
    try {
      props.onCreated(await api<Campaign>('POST', '/v1/campaigns', { name, template, csv }));
    } catch (err) {
      setError(message(err, 'The campaign could not be created.'));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="panel" aria-labelledby="new-campaign-title">
      <h2 id="new-campaign-title">New campaign</h2>
      <form onSubmit={(e) => void validate(e)}>
        <ErrorAlert error={error} />
        <div className="row">
          <TextField
            id="cmp-name"
            label="Campaign name"
            required
            maxLength={200}
            value={name}
            onChange={setName}
          />
          <SelectField
            id="cmp-template"
            label="Template"
            required
            any="Choose a template"
            options={templates.map((t) => [t.id, t.name] as const)}
            value={template}
            onChange={(v) => {
              setTemplate(v);
              setCheck(null);
            }}
          />
        </div>
        <label htmlFor="cmp-file">Recipient list (CSV)</label>
        <input
          id="cmp-file"
          type="file"
          accept=".csv,text/csv"
          required
          aria-describedby="cmp-file-hint"
          onChange={(e) => void readFile(e.target.files?.[0])}
        />
        <p id="cmp-file-hint" className="hint">
          A header row with <code>phone</code>
          {slots.length > 0 && (
            <>
              {' '}
              and a column for each slot: <code>{slots.join(', ')}</code>
            </>
          )}
          . The file is read here and sent to the server only.
        </p>
        <ErrorAlert error={fileError} />
        <button type="submit" disabled={busy}>
          Check list
        </button>
        <button type="button" className="secondary" onClick={props.onCancel}>
          Cancel
        </button>
      </form>
      {check && (
        <section aria-labelledby="check-title" ref={checkRef} tabIndex={-1} className="list-check">
          <h3 id="check-title">List check</h3>
          <dl className="counts" data-testid="list-check">
            <div>
              <dt>Rows</dt>
              <dd>{check.total}</dd>
            </div>
            <div>
              <dt>Will be sent</dt>
              <dd>{check.valid}</dd>
            </div>
            <div>
              <dt>Invalid</dt>
              <dd>{check.invalid}</dd>
            </div>
            <div>
              <dt>No consent</dt>
              <dd>{check.suppressedByConsent}</dd>
            </div>
          </dl>
          {check.missingColumns.length > 0 && (
            <p className="alert error" role="alert">
              The list has no column for {check.missingColumns.join(', ')}: it cannot be used with
              this template.
            </p>
          )}
          {check.problems.length > 0 && (
            <TableRegion labelledBy="problems-title" contained>
              <table>
                <caption id="problems-title">
                  Rows that will not be sent
                  {check.problems.length < check.invalid + check.suppressedByConsent &&
                    ` (the first ${check.problems.length})`}
                </caption>
                <TableHead columns={['Row', 'Problem']} />
                <tbody>
                  {check.problems.map((p) => (
                    <tr key={p.row}>
                      <th scope="row">{p.row}</th>
                      <td>{problemLabel(p)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableRegion>
          )}
          {check.preview && (
            <>
              <h4>Preview (row {check.preview.row})</h4>
              <blockquote className="notice">{check.preview.body}</blockquote>
              <p className="muted">
                {plural(check.preview.segments, 'segment')}, {check.preview.encoding}
              </p>
            </>
          )}
          <button
            type="button"
            disabled={busy || check.valid === 0 || check.missingColumns.length > 0 || !name}
            onClick={() => void create()}
          >
            Create campaign ({check.valid} to send)
          </button>
        </section>
      )}
    </section>
  );
}

/** How long after a campaign ends its page still waits for delivery receipts. */
const RECEIPT_WAIT_MS = 10 * 60_000;

function isMoving(c: Campaign, starting: boolean): boolean {
  if (c.status === 'running' || c.status === 'paused') return true;
  if (c.status === 'ready') return starting;
  const p = c.progress;
  const recent = c.finishedAt !== null && Date.now() - Date.parse(c.finishedAt) < RECEIPT_WAIT_MS;
  return p.queued > 0 || (recent && p.sent > p.delivered);
}

function CampaignDetail(props: {
  id: string;
  canSend: boolean;
  templateName: (ref: string) => string;
  onChange: (c: Campaign) => void;
}) {
  const { id, canSend, onChange } = props;
  const [c, setC] = useState<Campaign | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const headingRef = useRef<HTMLHeadingElement>(null);

  const refresh = useCallback(async () => {
    try {
      const next = await api<Campaign>('GET', `/v1/campaigns/${encodeURIComponent(id)}`);
      setC(next);
      onChange(next);
    } catch (e) {
      setError(message(e, 'The campaign could not be loaded.'));
    }
  }, [id, onChange]);

  // Once per campaign opened (the parent keys this component by id); polling does the rest.
  const first = useRef(true);
  useEffect(() => {
    if (!first.current) return;
    first.current = false;
    void refresh().then(() => headingRef.current?.focus());
  }, [refresh]);

  // Poll while recipients are being handed over or messages are still on their way.
  // Poll while the counts can still move: running; paused (the batch in flight finishes);
  // just started (the answer comes before the run picks the campaign up); and after the end
  // while texts wait in the queue or for their delivery receipts (for a while).
  const [starting, setStarting] = useState(false);
  const active = c !== null && isMoving(c, starting);
  useEffect(() => {
    if (c && c.status !== 'ready' && c.status !== 'paused') setStarting(false);
  }, [c]);
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => void refresh(), POLL_MS);
    return () => clearInterval(timer);
  }, [active, refresh]);

  const act = async (verb: 'start' | 'pause') => {
    setBusy(true);
    setError(null);
    try {
      const next = await api<Campaign>('POST', `/v1/campaigns/${encodeURIComponent(id)}/${verb}`);
      setStarting(verb === 'start');
      setC(next);
      onChange(next);
    } catch (e) {
      setError(message(e, 'The campaign could not be changed.'));
    } finally {
      setBusy(false);
    }
  };

  if (!c) {
    return error ? (
      <p className="alert error" role="alert">
        {error}
      </p>
    ) : (
      <p role="status">Loading campaign…</p>
    );
  }
  const p = c.progress;
  const handed = p.total - p.pending;
  const report: [string, number, string][] = [
    ['Sent', p.sent, 'sent'],
    ['Delivered', p.delivered, 'delivered'],
    ['Failed', p.failed, 'failed'],
    ['Suppressed by consent', p.suppressedByConsent, 'suppressed'],
    ['Diverted by the content check', p.divertedByGuard, 'diverted'],
    ['Waiting to send', p.queued, 'queued'],
  ];
  return (
    <section className="panel" aria-labelledby="campaign-title">
      <h2 id="campaign-title" ref={headingRef} tabIndex={-1}>
        {c.name}
      </h2>
      <p>
        <span className={`badge campaign-${c.status}`} data-testid="campaign-status">
          {STATUS_LABELS[c.status]}
        </span>{' '}
        <span className="muted">
          Template {props.templateName(c.template)} · created {when(c.createdAt)}
          {c.finishedAt && ` · finished ${when(c.finishedAt)}`}
        </span>
      </p>
      <ErrorAlert error={error} />
      <label htmlFor="campaign-progress">
        Handed to the send pipeline: {handed} of {p.total}
      </label>
      <progress id="campaign-progress" max={p.total} value={handed}>
        {handed} of {p.total}
      </progress>
      <h3 id="report-title">{c.status === 'completed' ? 'Final report' : 'Progress'}</h3>
      <dl className="counts" aria-labelledby="report-title" data-testid="campaign-report">
        {report.map(([label, n, key]) => (
          <div key={key} data-count={key}>
            <dt>{label}</dt>
            <dd>{n}</dd>
          </div>
        ))}
      </dl>
      {canSend && (
        <div className="actions">
          {c.status === 'ready' && (
            <button type="button" disabled={busy} onClick={() => void act('start')}>
              Start sending
            </button>
          )}
          {c.status === 'paused' && (
            <button type="button" disabled={busy} onClick={() => void act('start')}>
              Resume
            </button>
          )}
          {(c.status === 'ready' || c.status === 'running') && (
            <button
              type="button"
              className="secondary"
              disabled={busy}
              onClick={() => void act('pause')}
            >
              Pause
            </button>
          )}
        </div>
      )}
    </section>
  );
}
