/**
 * @module web/pages/settings/senders
 * The numbers the organisation texts from and the carrier behind each. Carrier credentials
 * go in through password fields, are stored encrypted by the server and never come back:
 * the list shows the carrier, the limits and the webhook paths to give the carrier. Each
 * sender can be made the default, moved in or out of the pool (sticky sender per patient),
 * given a new rate, or removed.
 */
import { useState, type FormEvent } from 'react';
import { api } from '../../api';
import { attempt, LoadError, OutcomeLine, useResource, type Outcome } from './shared';
import { SelectField, TableHead, TableRegion, TextField } from '../../ui';

const CARRIERS = ['simulator', 'smpp', 'twilio', 'telnyx'] as const;
type Carrier = (typeof CARRIERS)[number];

interface SenderRow {
  id: string;
  number: string;
  carrier: string;
  mps: number;
  dailyCap: number | null;
  default: boolean;
  secondary: boolean;
  pool: boolean;
  webhooks: Record<string, string>;
}

/** Carrier fields: [body key, label, secret?, hint]. */
const FIELDS: Record<Carrier, readonly (readonly [string, string, boolean, string])[]> = {
  simulator: [],
  smpp: [['url', 'SMPP address', true, 'smpp://SYSTEM_ID:PASSWORD@HOST:PORT (ssmpp:// for TLS)']],
  twilio: [
    ['accountSid', 'Account SID', false, ''],
    ['authToken', 'Auth token', true, ''],
    ['baseUrl', 'API base URL (optional)', false, ''],
  ],
  telnyx: [
    ['apiKey', 'API key', true, ''],
    ['publicKey', 'Webhook public key', false, 'Base64 Ed25519 key from the Telnyx portal'],
    ['baseUrl', 'API base URL (optional)', false, ''],
  ],
};

export function SendersSection() {
  const senders = useResource<{ senders: SenderRow[] }>('/v1/senders');
  const [number, setNumber] = useState('');
  const [carrier, setCarrier] = useState<Carrier>('simulator');
  const [fields, setFields] = useState<Record<string, string>>({});
  const [mps, setMps] = useState('');
  const [isDefault, setIsDefault] = useState(false);
  const [inPool, setInPool] = useState(false);
  const [outcome, setOutcome] = useState<Outcome>(null);
  const [rowOutcome, setRowOutcome] = useState<Outcome>(null);

  const change = async (s: SenderRow, body: Record<string, unknown>, done: string) => {
    if (await attempt(setRowOutcome, done, () => api('PATCH', `/v1/senders/${s.id}`, body))) {
      senders.reload();
    }
  };
  const remove = async (s: SenderRow) => {
    if (!window.confirm(`Remove ${s.number}? Its credentials are deleted.`)) return;
    const ok = await attempt(setRowOutcome, `${s.number} was removed.`, () =>
      api('DELETE', `/v1/senders/${s.id}`),
    );
    if (ok) senders.reload();
  };
  const setRate = async (s: SenderRow, value: string) => {
    const mps = Number(value);
    if (!Number.isInteger(mps) || mps === s.mps) return;
    await change(s, { mps }, `${s.number} now sends at most ${mps} segments per second.`);
  };

  const add = async (e: FormEvent) => {
    e.preventDefault();
    const body: Record<string, unknown> = { number, carrier, default: isDefault, pool: inPool };
    for (const [k] of FIELDS[carrier]) if (fields[k]) body[k] = fields[k];
    if (mps) body.mps = Number(mps);
    const ok = await attempt(setOutcome, `${number} was added.`, () =>
      api('POST', '/v1/senders', body),
    );
    // Credentials leave the page either way: they are never kept in the browser.
    setFields({});
    if (ok) {
      setNumber('');
      setMps('');
      setIsDefault(false);
      setInPool(false);
      senders.reload();
    }
  };

  return (
    <>
      <h3 id="senders-title">Numbers in use</h3>
      <LoadError error={senders.error} />
      {senders.data && (
        <TableRegion labelledBy="senders-title">
          <table>
            <TableHead
              columns={[
                'Number',
                'Carrier',
                'Segments / s',
                'Daily cap',
                'Role',
                'Carrier webhooks',
                'Actions',
              ]}
            />
            <tbody>
              {senders.data.senders.map((s) => (
                <tr key={s.id}>
                  <th scope="row">{s.number}</th>
                  <td>{s.carrier}</td>
                  <td>
                    <input
                      className="rate"
                      type="number"
                      min={1}
                      max={10000}
                      defaultValue={s.mps}
                      aria-label={`Segments per second for ${s.number}`}
                      onBlur={(e) => void setRate(s, e.target.value)}
                    />
                  </td>
                  <td>{s.dailyCap ?? 'none'}</td>
                  <td>
                    {[s.default && 'Default', s.secondary && 'Fail-over', s.pool && 'Pool']
                      .filter(Boolean)
                      .join(', ') || '—'}
                  </td>
                  <td>
                    {Object.entries(s.webhooks).map(([k, v]) => (
                      <div key={k}>
                        {k}: <code>{v}</code>
                      </div>
                    ))}
                  </td>
                  <td className="actions">
                    {!s.default && (
                      <button
                        type="button"
                        className="secondary small"
                        aria-label={`Make default ${s.number}`}
                        onClick={() =>
                          void change(s, { default: true }, `${s.number} is now the default.`)
                        }
                      >
                        Make default
                      </button>
                    )}
                    <button
                      type="button"
                      className="secondary small"
                      aria-label={`${s.pool ? 'Leave pool' : 'Join pool'} ${s.number}`}
                      onClick={() =>
                        void change(
                          s,
                          { pool: !s.pool },
                          `${s.number} is ${s.pool ? 'no longer' : 'now'} in the pool.`,
                        )
                      }
                    >
                      {s.pool ? 'Leave pool' : 'Join pool'}
                    </button>
                    {!s.default && (
                      <button
                        type="button"
                        className="danger small"
                        aria-label={`Remove ${s.number}`}
                        onClick={() => void remove(s)}
                      >
                        Remove
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableRegion>
      )}
      <OutcomeLine outcome={rowOutcome} />
      <p className="hint">
        A text that names no sender goes from the pool when it has any numbers, always from the same
        number for a patient; otherwise from the default.
      </p>

      <h3 id="sender-add-title">Add a sender</h3>
      <form aria-labelledby="sender-add-title" onSubmit={(e) => void add(e)}>
        <div className="row">
          <TextField
            id="sender-number"
            label="Number (E.164)"
            type="tel"
            required
            placeholder="+16175550100"
            autoComplete="off"
            value={number}
            onChange={setNumber}
          />
          <SelectField
            id="sender-carrier"
            label="Carrier"
            value={carrier}
            onChange={(v) => {
              setCarrier(v as Carrier);
              setFields({});
            }}
            options={CARRIERS}
          />
          <TextField
            id="sender-mps"
            label="Segments per second (optional)"
            type="number"
            min={1}
            max={10000}
            value={mps}
            onChange={setMps}
          />
        </div>
        {FIELDS[carrier].map(([k, label, secret, hint]) => (
          <div key={k}>
            <label htmlFor={`sender-${k}`}>{label}</label>
            <input
              id={`sender-${k}`}
              type={secret ? 'password' : 'text'}
              autoComplete={secret ? 'new-password' : 'off'}
              required={!label.includes('optional')}
              aria-describedby={hint ? `sender-${k}-hint` : undefined}
              value={fields[k] ?? ''}
              onChange={(e) => setFields({ ...fields, [k]: e.target.value })}
            />
            {hint && (
              <p className="hint" id={`sender-${k}-hint`}>
                {hint}
              </p>
            )}
          </div>
        ))}
        <label className="check">
          <input
            type="checkbox"
            checked={isDefault}
            onChange={(e) => setIsDefault(e.target.checked)}
          />
          Make it the default sender
        </label>
        <label className="check">
          <input type="checkbox" checked={inPool} onChange={(e) => setInPool(e.target.checked)} />
          Put it in the pool (sticky sender per patient)
        </label>
        <p className="hint">Credentials are stored encrypted and are never shown again.</p>
        <button type="submit">Add sender</button>
      </form>
      <OutcomeLine outcome={outcome} />
    </>
  );
}
