/**
 * @module web/pages/settings/legal-holds
 * Legal holds (docs/retention.md): while a hold is in force, retention destroys nothing of
 * the patient it names (or, on the organisation, nothing at all). A hold on a patient takes
 * their number in the request body (POST /v1/legal-holds), never the address bar; the list
 * (GET /v1/legal-holds) names a patient only by a short form of the blind index the server
 * keeps, so no number is ever shown or stored here. Lifting (DELETE /v1/legal-holds/{id})
 * asks first. Every change is audited by the server.
 */
import { useState, type FormEvent } from 'react';
import { api } from '../../api';
import { attempt, LoadError, OutcomeLine, useResource, when, type Outcome } from './shared';
import { TableHead, TableRegion } from '../../ui';

interface Hold {
  id: string;
  scope: 'patient' | 'organisation';
  subjectIndex: string | null;
  /** Null when the data key it was encrypted under was shredded (`destroyed`). */
  reason: string | null;
  destroyed: boolean;
  placedBy: string;
  placedAt: string;
  liftedBy: string | null;
  liftedAt: string | null;
}

/** A short, stable label for a patient under hold: the start of their number's blind index. */
function patientCode(index: string | null): string {
  return index ? `Patient ${index.slice(0, 8)}` : 'Patient';
}

export function LegalHoldsSection() {
  const [all, setAll] = useState(false);
  const holds = useResource<{ data: Hold[] }>(`/v1/legal-holds${all ? '?all=true' : ''}`);
  const [scope, setScope] = useState<Hold['scope']>('patient');
  const [phone, setPhone] = useState('');
  const [reason, setReason] = useState('');
  const [outcome, setOutcome] = useState<Outcome>(null);
  const [rowOutcome, setRowOutcome] = useState<Outcome>(null);

  const place = async (e: FormEvent) => {
    e.preventDefault();
    setRowOutcome(null);
    const ok = await attempt(
      setOutcome,
      scope === 'patient'
        ? 'The hold was placed on the patient.'
        : 'The hold was placed on the whole organisation.',
      () =>
        api('POST', '/v1/legal-holds', {
          scope,
          reason: reason.trim(),
          ...(scope === 'patient' ? { phone: phone.trim() } : {}),
        }),
    );
    if (ok) {
      // The number is not kept once the hold is placed.
      setPhone('');
      setReason('');
      holds.reload();
    }
  };

  const lift = async (h: Hold) => {
    const what = h.scope === 'patient' ? patientCode(h.subjectIndex) : 'the whole organisation';
    if (!window.confirm(`Lift the hold on ${what}? Retention may then destroy what it kept.`)) {
      return;
    }
    setOutcome(null);
    if (
      await attempt(setRowOutcome, `The hold on ${what} was lifted.`, () =>
        api('DELETE', `/v1/legal-holds/${h.id}`),
      )
    ) {
      holds.reload();
    }
  };

  return (
    <>
      <p className="hint">
        While a hold is in force, retention destroys nothing it covers: no secure content or message
        body of the patient (or of anyone, for a hold on the organisation).
      </p>
      <h3 id="hold-new-title">Place a hold</h3>
      <form aria-labelledby="hold-new-title" onSubmit={(e) => void place(e)}>
        <fieldset className="checks">
          <legend>Hold on</legend>
          <label className="check">
            <input
              type="radio"
              name="hold-scope"
              value="patient"
              checked={scope === 'patient'}
              onChange={() => setScope('patient')}
            />
            One patient
          </label>
          <label className="check">
            <input
              type="radio"
              name="hold-scope"
              value="organisation"
              checked={scope === 'organisation'}
              onChange={() => setScope('organisation')}
            />
            The whole organisation
          </label>
        </fieldset>
        {scope === 'patient' && (
          <>
            <label htmlFor="hold-phone">Patient’s mobile number</label>
            <input
              id="hold-phone"
              type="tel"
              required
              maxLength={32}
              autoComplete="off"
              aria-describedby="hold-phone-hint"
              value={phone}
              onChange={(e) => setPhone(e.target.value)}
            />
            <p className="hint" id="hold-phone-hint">
              Sent to the server only; the list shows the patient by a code, never the number.
            </p>
          </>
        )}
        <label htmlFor="hold-reason">Reason</label>
        <input
          id="hold-reason"
          required
          maxLength={500}
          autoComplete="off"
          aria-describedby="hold-reason-hint"
          value={reason}
          onChange={(e) => setReason(e.target.value)}
        />
        <p className="hint" id="hold-reason-hint">
          The matter or reference the hold serves, e.g. “Litigation 2026-114”. No health details.
        </p>
        <button type="submit">Place hold</button>
      </form>
      <OutcomeLine outcome={outcome} />

      <h3 id="holds-title">Holds</h3>
      <label className="check">
        <input type="checkbox" checked={all} onChange={(e) => setAll(e.target.checked)} />
        Show lifted holds too
      </label>
      <OutcomeLine outcome={rowOutcome} />
      <LoadError error={holds.error} />
      {holds.data &&
        (holds.data.data.length === 0 ? (
          <p className="muted" data-testid="no-holds">
            {all ? 'No legal hold was ever placed.' : 'No legal hold is in force.'}
          </p>
        ) : (
          <TableRegion labelledBy="holds-title">
            <table>
              <TableHead columns={['On', 'Reason', 'Placed', 'State']} />
              <tbody>
                {holds.data.data.map((h) => (
                  <tr key={h.id}>
                    <th scope="row">
                      {h.scope === 'patient' ? (
                        <code>{patientCode(h.subjectIndex)}</code>
                      ) : (
                        'Whole organisation'
                      )}
                    </th>
                    <td>{h.destroyed ? <em>Destroyed (data key shredded)</em> : h.reason}</td>
                    <td>{when(h.placedAt)}</td>
                    <td>
                      {h.liftedAt ? (
                        `Lifted ${when(h.liftedAt)}`
                      ) : (
                        <button
                          type="button"
                          className="secondary small"
                          aria-label={`Lift hold: ${h.reason ?? h.id}`}
                          onClick={() => void lift(h)}
                        >
                          Lift
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableRegion>
        ))}
    </>
  );
}
