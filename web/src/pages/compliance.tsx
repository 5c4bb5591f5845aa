/**
 * @module web/pages/compliance
 * The compliance posture report (GET /v1/compliance/report: each HIPAA safeguard texting
 * touches, its live state, ok / attention / failing, and the fix) and the risk alerts
 * (GET /v1/risk/alerts): what tripped, how bad, the figures and the senders it paused. An
 * admin resumes an alert (POST /v1/risk/alerts/:id/resume) to let its senders send again;
 * auditors see the same page read-only.
 */
import { useCallback, useEffect, useState } from 'react';
import { api, ApiError, type Role } from '../api';
import { TableHead, TableRegion } from '../ui';

type Posture = 'ok' | 'attention' | 'failing';

interface Report {
  generatedAt: string;
  overall: Posture;
  counts: Record<Posture, number>;
  items: {
    id: string;
    safeguard: string;
    rule: string;
    status: Posture;
    state: string;
    fix: string | null;
  }[];
}

interface Alert {
  id: string;
  signal: string;
  severity: 'warning' | 'critical';
  scope: { type: string; id: string };
  explanation: string;
  figures: Record<string, number>;
  status: 'open' | 'resolved';
  pausedSenders: string[];
  createdAt: string;
  resolvedAt: string | null;
  resolvedBy: string | null;
}

/** What resuming an alert did (POST /v1/risk/alerts/{id}/resume). */
interface Resumed extends Alert {
  resumedSenders: string[];
  stillPaused: { senderId: string; heldBy: string[] }[];
  resumedCampaigns: string[];
  stillPausedCampaigns: { campaignId: string; heldBy: string[] }[];
}

const POSTURE_LABELS: Record<Posture, string> = {
  ok: 'OK',
  attention: 'Needs attention',
  failing: 'Failing',
};

function message(e: unknown): string {
  return e instanceof ApiError ? e.message : 'The server could not be reached.';
}

function when(iso: string): string {
  return new Date(iso).toLocaleString();
}

function figure(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(3);
}

function signalName(s: string): string {
  return s.replace(/_/g, ' ');
}

function PostureReport() {
  const [report, setReport] = useState<Report | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api<Report>('GET', '/v1/compliance/report').then(setReport, (e: unknown) =>
      setError(message(e)),
    );
  }, []);
  return (
    <section aria-labelledby="posture-title">
      <h2 id="posture-title">Compliance posture</h2>
      {error && (
        <p className="alert error" role="alert">
          {error}
        </p>
      )}
      {!report && !error && <p className="muted">Loading the report…</p>}
      {report && (
        <>
          <p className="posture-summary">
            Overall:{' '}
            <span className={`badge posture-${report.overall}`} data-testid="posture-overall">
              {POSTURE_LABELS[report.overall]}
            </span>{' '}
            <span className="muted">
              {report.counts.ok} ok · {report.counts.attention} need attention ·{' '}
              {report.counts.failing} failing · generated {when(report.generatedAt)}
            </span>
          </p>
          <TableRegion labelledBy="posture-title">
            <table>
              <TableHead columns={['Safeguard', 'Rule', 'Status', 'State', 'Fix']} />
              <tbody>
                {report.items.map((i) => (
                  <tr key={i.id}>
                    <th scope="row">{i.safeguard}</th>
                    <td>{i.rule}</td>
                    <td>
                      <span className={`badge posture-${i.status}`}>
                        {POSTURE_LABELS[i.status]}
                      </span>
                    </td>
                    <td>{i.state}</td>
                    <td>{i.fix ?? '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableRegion>
        </>
      )}
    </section>
  );
}

function RiskAlerts({ canResume }: { canResume: boolean }) {
  const [show, setShow] = useState<'open' | 'all'>('open');
  const [alerts, setAlerts] = useState<Alert[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const load = useCallback(async (which: 'open' | 'all') => {
    try {
      const q = which === 'open' ? '?status=open' : '';
      setAlerts((await api<{ data: Alert[] }>('GET', `/v1/risk/alerts${q}`)).data);
      setError(null);
    } catch (e) {
      setError(message(e));
    }
  }, []);
  useEffect(() => {
    void load(show);
  }, [load, show]);

  const resume = async (a: Alert) => {
    setNotice(null);
    try {
      const r = await api<Resumed>('POST', `/v1/risk/alerts/${encodeURIComponent(a.id)}/resume`);
      const n = r.resumedSenders.length;
      const c = r.resumedCampaigns.length;
      const resumed = [
        ...(n ? [`${n} paused sender${n === 1 ? '' : 's'} may send again`] : []),
        ...(c ? [`${c} paused campaign${c === 1 ? '' : 's'} started again`] : []),
      ];
      const held = [
        ...r.stillPaused.map(
          (s) => ` ${s.senderId} stays paused until ${s.heldBy.join(' and ')} is resolved too.`,
        ),
        ...r.stillPausedCampaigns.map(
          (s) =>
            ` Campaign ${s.campaignId} stays paused until ${s.heldBy.join(' and ')} is resolved too.`,
        ),
      ];
      setNotice(
        (resumed.length ? `Alert resolved; ${resumed.join('; ')}.` : 'Alert resolved.') +
          held.join(''),
      );
      await load(show);
    } catch (e) {
      setError(message(e));
    }
  };

  return (
    <section aria-labelledby="alerts-title">
      <h2 id="alerts-title">Risk alerts</h2>
      <div className="field narrow">
        <label htmlFor="alerts-show">Show</label>
        <select
          id="alerts-show"
          value={show}
          onChange={(e) => setShow(e.target.value as 'open' | 'all')}
        >
          <option value="open">Open alerts</option>
          <option value="all">All alerts</option>
        </select>
      </div>
      {error && (
        <p className="alert error" role="alert">
          {error}
        </p>
      )}
      <p role="status" className="muted">
        {notice ??
          (alerts === null
            ? ''
            : alerts.length === 0
              ? show === 'open'
                ? 'No open risk alerts.'
                : 'No risk alerts yet.'
              : `${alerts.length} alert${alerts.length === 1 ? '' : 's'}.`)}
      </p>
      {alerts && alerts.length > 0 && (
        <ul className="alerts">
          {alerts.map((a) => (
            <li key={a.id} className={`risk-alert ${a.severity}`} aria-labelledby={`alert-${a.id}`}>
              <h3 id={`alert-${a.id}`}>
                <span className={`badge severity-${a.severity}`}>{a.severity}</span>{' '}
                {signalName(a.signal)}{' '}
                <span className="muted">
                  · {a.scope.type} <code>{a.scope.id}</code>
                </span>
              </h3>
              <p>{a.explanation}</p>
              <dl className="alert-figures">
                {Object.entries(a.figures).map(([k, v]) => (
                  <div key={k}>
                    <dt>{k}</dt>
                    <dd>{figure(v)}</dd>
                  </div>
                ))}
              </dl>
              <p className="hint">
                Raised {when(a.createdAt)}
                {a.pausedSenders.length > 0 && (
                  <>
                    {' '}
                    · paused{' '}
                    {a.pausedSenders.map((s) => (
                      <code key={s}>{s} </code>
                    ))}
                  </>
                )}
                {a.status === 'resolved' && a.resolvedAt && (
                  <>
                    {' '}
                    · resolved {when(a.resolvedAt)}
                    {a.resolvedBy ? ` by ${a.resolvedBy}` : ''}
                  </>
                )}
              </p>
              {canResume && a.status === 'open' && (
                <button type="button" onClick={() => void resume(a)}>
                  {a.pausedSenders.length > 0 ? 'Resume senders' : 'Resolve'}
                  <span className="visually-hidden"> for the {signalName(a.signal)} alert</span>
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

export function Compliance({ role }: { role: Role }) {
  return (
    <main id="main" className="page wide">
      <h1>Compliance</h1>
      {role === 'auditor' && (
        <p className="hint">Read-only: an administrator resolves alerts and resumes senders.</p>
      )}
      <RiskAlerts canResume={role === 'admin'} />
      <PostureReport />
    </main>
  );
}
