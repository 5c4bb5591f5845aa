/**
 * @module web/pages/appointments
 * Appointments from the EHR feeds (GET /v1/appointments) with their status, and for the one
 * selected (by id, in the page's state — never in the address bar) its reminders and what
 * will be sent when (GET /v1/appointments/:id/preview, audited as a read). Read-only: the
 * feeds create and change appointments.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { api } from '../api';
import { ErrorAlert, ListTable, RowButton, SelectField, errorText, whenShort as when } from '../ui';

const STATUSES = ['booked', 'confirmed', 'canceled', 'noshow', 'completed'] as const;
type Status = (typeof STATUSES)[number];

interface Appointment {
  id: string;
  externalId: string;
  source: string;
  start: string;
  durationMinutes: number | null;
  location: string | null;
  appointmentType: string;
  status: Status;
}

interface Reminder {
  id: string;
  offsetMinutes: number;
  sendAt: string;
  status: string;
  messageId: string | null;
  reason: string | null;
}

interface Preview {
  appointment: Appointment;
  reminders: Reminder[];
  plan: {
    offsetMinutes: number;
    sendAt: string;
    moved: 'earlier' | 'later' | null;
    body: string;
  }[];
  skipped: { offsetMinutes: number; reason: 'past' | 'quiet_hours' }[];
}

const STATUS_LABELS: Record<Status, string> = {
  booked: 'Booked',
  confirmed: 'Confirmed',
  canceled: 'Canceled',
  noshow: 'No-show',
  completed: 'Completed',
};

/** "2 days before", "3 hours before". */
export function offsetLabel(minutes: number): string {
  if (minutes % 1440 === 0) return `${minutes / 1440} day${minutes === 1440 ? '' : 's'} before`;
  if (minutes % 60 === 0) return `${minutes / 60} hour${minutes === 60 ? '' : 's'} before`;
  return `${minutes} minutes before`;
}

export function Appointments() {
  const [items, setItems] = useState<Appointment[] | null>(null);
  const [status, setStatus] = useState<Status | ''>('');
  const [upcoming, setUpcoming] = useState(true);
  const [selected, setSelected] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async (s: Status | '') => {
    setError(null);
    try {
      const q = s ? `?limit=200&status=${s}` : '?limit=200';
      const r = await api<{ data: Appointment[] }>('GET', `/v1/appointments${q}`);
      setItems(r.data);
    } catch (e) {
      setItems([]);
      setError(errorText(e, 'The appointments could not be loaded.'));
    }
  }, []);

  useEffect(() => {
    void load(status);
  }, [load, status]);

  const now = Date.now();
  const shown = (items ?? [])
    .filter((a) => !upcoming || Date.parse(a.start) >= now)
    .sort((a, b) => Date.parse(a.start) - Date.parse(b.start));

  return (
    <main id="main" className="page">
      <h1>Appointments</h1>
      <p className="muted">
        Appointments arrive from the scheduling feeds (HL7 v2, FHIR). Each has reminders planned
        before it; a reply of C confirms and R asks to reschedule.
      </p>
      <div className="row filters">
        <SelectField
          id="apt-status"
          label="Status"
          any="Any"
          options={STATUSES.map((s) => [s, STATUS_LABELS[s]] as const)}
          value={status}
          onChange={(v) => setStatus(v as Status | '')}
        />
        <div className="field check">
          <input
            id="apt-upcoming"
            type="checkbox"
            checked={upcoming}
            onChange={(e) => setUpcoming(e.target.checked)}
          />
          <label htmlFor="apt-upcoming">Upcoming only</label>
        </div>
      </div>
      <ErrorAlert error={error} />
      <section aria-labelledby="apt-list-title">
        <h2 id="apt-list-title">
          {upcoming ? 'Upcoming appointments' : 'Appointments'}
          {items && ` (${shown.length})`}
        </h2>
        <ListTable
          items={items && shown}
          empty="No appointments to show."
          labelledBy="apt-list-title"
          contained
          columns={['Starts', 'Feed id', 'Type', 'Location', 'Status']}
          action
          row={(a) => (
            <tr key={a.id} aria-current={a.id === selected ? 'true' : undefined}>
              <th scope="row">{when(a.start)}</th>
              <td>{a.externalId}</td>
              <td>{a.appointmentType}</td>
              <td>{a.location ?? '—'}</td>
              <td>
                <span className={`badge apt-${a.status}`}>{STATUS_LABELS[a.status]}</span>
              </td>
              <td>
                <RowButton
                  label={`Reminders for ${a.externalId}`}
                  onClick={() => setSelected(a.id)}
                >
                  Reminders
                </RowButton>
              </td>
            </tr>
          )}
        />
      </section>
      {selected && <AppointmentReminders key={selected} id={selected} />}
    </main>
  );
}

function AppointmentReminders(props: { id: string }) {
  const [p, setP] = useState<Preview | null>(null);
  const [error, setError] = useState<string | null>(null);
  const headingRef = useRef<HTMLHeadingElement>(null);

  useEffect(() => {
    const ctl = new AbortController();
    api<Preview>('GET', `/v1/appointments/${encodeURIComponent(props.id)}/preview`, undefined, {
      signal: ctl.signal,
    }).then(
      (r) => setP(r),
      (e: unknown) => {
        if (!ctl.signal.aborted) {
          setError(errorText(e, 'The reminders could not be loaded.'));
        }
      },
    );
    return () => ctl.abort();
  }, [props.id]);

  useEffect(() => {
    if (p) headingRef.current?.focus();
  }, [p]);

  if (error) return <ErrorAlert error={error} />;
  if (!p) return <p role="status">Loading reminders…</p>;
  const a = p.appointment;
  return (
    <section className="panel" aria-labelledby="apt-detail-title">
      <h2 id="apt-detail-title" ref={headingRef} tabIndex={-1}>
        Reminders for {a.externalId}
      </h2>
      <dl className="facts">
        <dt>Starts</dt>
        <dd>{when(a.start)}</dd>
        <dt>Status</dt>
        <dd>{STATUS_LABELS[a.status]}</dd>
        <dt>Type</dt>
        <dd>{a.appointmentType}</dd>
        <dt>Source</dt>
        <dd>{a.source}</dd>
      </dl>
      <h3 id="apt-reminders-title">Reminders</h3>
      <ListTable
        items={p.reminders}
        empty="No reminders were planned for this appointment."
        labelledBy="apt-reminders-title"
        contained
        testId="reminders"
        columns={['Sends', 'Planned', 'Status', 'Note']}
        row={(r) => (
          <tr key={r.id}>
            <th scope="row">{when(r.sendAt)}</th>
            <td>{offsetLabel(r.offsetMinutes)}</td>
            <td>
              <span className={`badge reminder-${r.status}`}>{r.status}</span>
            </td>
            <td>{r.reason ?? '—'}</td>
          </tr>
        )}
      />
      <h3>What will be sent when</h3>
      {p.plan.length === 0 ? (
        <p className="muted">
          Nothing more will be sent
          {a.status === 'booked' || a.status === 'confirmed'
            ? ' (no number on file, or every reminder time has passed).'
            : ` (the appointment is ${STATUS_LABELS[a.status].toLowerCase()}).`}
        </p>
      ) : (
        <ol className="plan" aria-label="Reminder texts by send time">
          {p.plan.map((x) => (
            <li key={x.offsetMinutes}>
              <p>
                <strong>{when(x.sendAt)}</strong>{' '}
                <span className="muted">
                  ({offsetLabel(x.offsetMinutes)}
                  {x.moved && `, moved ${x.moved} out of quiet hours`})
                </span>
              </p>
              <blockquote className="notice">{x.body}</blockquote>
            </li>
          ))}
        </ol>
      )}
      {p.skipped.length > 0 && (
        <p className="muted">
          Skipped:{' '}
          {p.skipped
            .map(
              (s) =>
                `${offsetLabel(s.offsetMinutes)} (${s.reason === 'past' ? 'already past' : 'quiet hours'})`,
            )
            .join('; ')}
        </p>
      )}
    </section>
  );
}
