/**
 * @module web/pages/dashboard
 * How the organisation's texting is going (GET /v1/stats: counts only, never PHI): texts per
 * day by status, delivery and failure rates, opt-outs per day and their rate, texts kept
 * behind the portal and how many were opened, open risk alerts — for a date range, one
 * sender or one program. The filters live in the page, not the address bar.
 */
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { api, PROGRAMS } from '../api';
import { BarChart, type Series } from '../bar-chart';
import { ErrorAlert, SelectField, TextField, errorText } from '../ui';

const STATUSES = [
  'delivered',
  'read',
  'sent',
  'sending',
  'queued',
  'failed',
  'expired',
  'canceled',
] as const;
type Status = (typeof STATUSES)[number];

interface StatsDay {
  date: string;
  byStatus: Record<Status, number>;
  total: number;
  optOuts: number;
  secureSent: number;
  secureOpened: number;
}

export interface Stats {
  from: string;
  to: string;
  days: StatsDay[];
  totals: {
    messages: number;
    byStatus: Record<Status, number>;
    deliveryRate: number | null;
    failureRate: number | null;
    optOuts: number;
    optOutRate: number | null;
    guardDiversions: number;
    portalOpened: number;
    portalOpenRate: number | null;
    openRiskAlerts: { total: number; critical: number; warning: number };
  };
  senders: { id: string; number: string }[];
}

const STATUS_LABELS: Record<Status, string> = {
  delivered: 'Delivered',
  read: 'Read (portal)',
  sent: 'Sent, no receipt yet',
  sending: 'Sending',
  queued: 'Queued',
  failed: 'Failed',
  expired: 'Expired',
  canceled: 'Canceled',
};

const STATUS_SERIES: Series[] = STATUSES.map((s) => ({
  key: s,
  label: STATUS_LABELS[s],
  className: `s-${s}`,
}));
const OPT_OUT_SERIES: Series[] = [{ key: 'optOuts', label: 'Opt-outs', className: 's-optout' }];
const PORTAL_SERIES: Series[] = [
  { key: 'opened', label: 'Opened', className: 's-opened' },
  { key: 'unopened', label: 'Not opened yet', className: 's-unopened' },
];

function percent(r: number | null): string {
  return r === null ? '—' : `${(r * 100).toFixed(r > 0 && r < 0.1 ? 1 : 0)}%`;
}

function utcDay(offsetDays: number): string {
  return new Date(Date.now() + offsetDays * 86_400_000).toISOString().slice(0, 10);
}

interface Filters {
  from: string;
  to: string;
  sender: string;
  program: string;
}

function query(f: Filters): string {
  const p = new URLSearchParams({ from: f.from, to: f.to });
  if (f.sender) p.set('sender', f.sender);
  if (f.program) p.set('program', f.program);
  return p.toString();
}

export function Dashboard() {
  const [draft, setDraft] = useState<Filters>({
    from: utcDay(-13),
    to: utcDay(0),
    sender: '',
    program: '',
  });
  const [stats, setStats] = useState<Stats | null>(null);
  const [senders, setSenders] = useState<Stats['senders']>([]);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);

  const load = useCallback(async (f: Filters) => {
    setLoading(true);
    setError(null);
    try {
      const s = await api<Stats>('GET', `/v1/stats?${query(f)}`);
      setStats(s);
      // Keep every sender seen so far selectable, even after filtering to one.
      setSenders((prev) => {
        const all = new Map(prev.map((x) => [x.id, x]));
        for (const x of s.senders) all.set(x.id, x);
        return [...all.values()];
      });
    } catch (e) {
      setError(errorText(e, 'The server could not be reached.'));
    } finally {
      setLoading(false);
    }
  }, []);

  // The first view loads by itself (the default range); later ones when the form is applied.
  const [initial] = useState(draft);
  useEffect(() => {
    void load(initial);
  }, [load, initial]);

  const apply = (e: FormEvent) => {
    e.preventDefault();
    void load(draft);
  };
  const set = (k: keyof Filters) => (v: string) => setDraft((d) => ({ ...d, [k]: v }));

  const t = stats?.totals;
  const busiest = stats?.days.reduce((a, d) => (d.total > a.total ? d : a), stats.days[0]!);
  return (
    <main id="main" className="page wide">
      <h1>Dashboard</h1>
      <form className="row filters" onSubmit={apply} aria-label="Dashboard filters">
        <TextField
          id="dash-from"
          label="From"
          type="date"
          required
          value={draft.from}
          onChange={set('from')}
        />
        <TextField
          id="dash-to"
          label="To"
          type="date"
          required
          value={draft.to}
          onChange={set('to')}
        />
        <SelectField
          id="dash-sender"
          label="Sender"
          any="All senders"
          options={senders.map((s) => [s.id, s.number] as const)}
          value={draft.sender}
          onChange={set('sender')}
        />
        <SelectField
          id="dash-program"
          label="Program"
          any="All programs"
          options={PROGRAMS}
          value={draft.program}
          onChange={set('program')}
        />
        <button type="submit" disabled={loading}>
          Apply
        </button>
      </form>
      <p className="hint">
        Days are UTC. A sender filter applies to texts; opt-outs and portal figures are per program.
      </p>
      <ErrorAlert error={error} />
      <p className="visually-hidden" role="status">
        {loading ? 'Loading figures…' : stats ? `Figures for ${stats.from} to ${stats.to}.` : ''}
      </p>
      {stats && t && (
        <>
          <section aria-labelledby="figures-title">
            <h2 id="figures-title">
              {stats.from} to {stats.to}
            </h2>
            <dl className="figures" data-testid="figures">
              <div>
                <dt>Texts</dt>
                <dd>{t.messages}</dd>
              </div>
              <div>
                <dt>Delivery rate</dt>
                <dd>{percent(t.deliveryRate)}</dd>
              </div>
              <div>
                <dt>Failed</dt>
                <dd>
                  {t.byStatus.failed} <span className="sub">({percent(t.failureRate)})</span>
                </dd>
              </div>
              <div>
                <dt>Opt-outs</dt>
                <dd>
                  {t.optOuts} <span className="sub">({percent(t.optOutRate)} of delivered)</span>
                </dd>
              </div>
              <div>
                <dt>Guard diversions</dt>
                <dd>{t.guardDiversions}</dd>
              </div>
              <div>
                <dt>Portal open rate</dt>
                <dd>
                  {percent(t.portalOpenRate)}{' '}
                  <span className="sub">
                    ({t.portalOpened} of {t.guardDiversions})
                  </span>
                </dd>
              </div>
              <div className={t.openRiskAlerts.critical > 0 ? 'critical' : undefined}>
                <dt>Open risk alerts</dt>
                <dd>
                  {t.openRiskAlerts.total}
                  {t.openRiskAlerts.critical > 0 && (
                    <span className="sub"> ({t.openRiskAlerts.critical} critical)</span>
                  )}
                </dd>
              </div>
            </dl>
          </section>
          <section aria-labelledby="charts-title" className="charts">
            <h2 id="charts-title">Per day</h2>
            <BarChart
              title="Texts per day by status"
              summary={`${t.messages} texts from ${stats.from} to ${stats.to}: ${STATUSES.filter(
                (s) => t.byStatus[s] > 0,
              )
                .map((s) => `${t.byStatus[s]} ${STATUS_LABELS[s].toLowerCase()}`)
                .join(
                  ', ',
                )}${busiest && busiest.total > 0 ? `; busiest day ${busiest.date} with ${busiest.total}` : ''}.`}
              series={STATUS_SERIES}
              rows={stats.days.map((d) => ({ label: d.date, values: d.byStatus }))}
            />
            <BarChart
              title="Opt-outs per day"
              summary={`${t.optOuts} opt-outs, ${percent(t.optOutRate)} of texts delivered.`}
              series={OPT_OUT_SERIES}
              rows={stats.days.map((d) => ({ label: d.date, values: { optOuts: d.optOuts } }))}
            />
            <BarChart
              title="Secure messages per day"
              summary={`${t.guardDiversions} texts kept behind the portal, ${t.portalOpened} opened (${percent(t.portalOpenRate)}).`}
              series={PORTAL_SERIES}
              rows={stats.days.map((d) => ({
                label: d.date,
                values: { opened: d.secureOpened, unopened: d.secureSent - d.secureOpened },
              }))}
            />
          </section>
        </>
      )}
    </main>
  );
}
