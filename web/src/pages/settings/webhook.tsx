/**
 * @module web/pages/settings/webhook
 * The status webhook (PUT /v1/webhook): where delivery and reply events are posted, signed
 * per Standard Webhooks. The signing secret is made when a URL is first set and shown only
 * in that answer. "Rotate secret" (POST /v1/webhook/rotate-secret) makes a new one, shown
 * once; the old one keeps signing beside it for 24 hours unless the admin stops it at once
 * (a leaked secret). Recent deliveries show whether the receiver keeps up.
 */
import { useEffect, useState, type FormEvent } from 'react';
import { api } from '../../api';
import { attempt, LoadError, OutcomeLine, useResource, when, type Outcome } from './shared';
import { TableHead, TableRegion } from '../../ui';

interface Delivery {
  id: string;
  type: string;
  status: string;
  attempts: number;
  lastStatusCode: number | null;
  createdAt: string;
}

interface WebhookView {
  url: string | null;
  previousSecretValidUntil: string | null;
}

export function WebhookSection() {
  const res = useResource<WebhookView>('/v1/webhook');
  const deliveries = useResource<{ data: Delivery[] }>('/v1/webhook/deliveries');
  const [url, setUrl] = useState('');
  const [secret, setSecret] = useState<{ value: string; rotated: boolean } | null>(null);
  const [outcome, setOutcome] = useState<Outcome>(null);
  const [keepPrevious, setKeepPrevious] = useState(true);
  const [rotateOutcome, setRotateOutcome] = useState<Outcome>(null);
  useEffect(() => {
    if (res.data) setUrl(res.data.url ?? '');
  }, [res.data]);

  const save = async (e: FormEvent, clear = false) => {
    e.preventDefault();
    setSecret(null);
    await attempt(
      setOutcome,
      clear ? 'The webhook was switched off.' : 'The webhook URL was saved.',
      async () => {
        const r = await api<{ url: string | null; secret: string | null }>('PUT', '/v1/webhook', {
          url: clear ? null : url.trim(),
        });
        res.setData({
          url: r.url,
          previousSecretValidUntil: res.data?.previousSecretValidUntil ?? null,
        });
        setSecret(r.secret ? { value: r.secret, rotated: false } : null);
      },
    );
  };

  const rotate = async () => {
    setSecret(null);
    setOutcome(null);
    await attempt(
      setRotateOutcome,
      keepPrevious
        ? 'A new signing secret was made; the old one also signs for 24 hours.'
        : 'A new signing secret was made; the old one no longer signs.',
      async () => {
        const r = await api<{ secret: string; previousSecretValidUntil: string | null }>(
          'POST',
          '/v1/webhook/rotate-secret',
          { keepPrevious },
        );
        res.setData({
          url: res.data?.url ?? null,
          previousSecretValidUntil: r.previousSecretValidUntil,
        });
        setSecret({ value: r.secret, rotated: true });
      },
    );
  };

  return (
    <>
      <LoadError error={res.error} />
      {res.data && (
        <form onSubmit={(e) => void save(e)}>
          <label htmlFor="webhook-url">Webhook URL</label>
          <input
            id="webhook-url"
            type="url"
            required
            placeholder="https://ehr.example/hooks/tidings"
            autoComplete="off"
            aria-describedby="webhook-hint"
            value={url}
            onChange={(e) => setUrl(e.target.value)}
          />
          <p className="hint" id="webhook-hint">
            Delivery receipts and replies are posted here, signed with the organisation’s secret.
            {res.data.url ? ` Now: ${res.data.url}` : ' No webhook is set.'}
          </p>
          <button type="submit">Save webhook</button>
          {res.data.url && (
            <button type="button" className="secondary" onClick={(e) => void save(e, true)}>
              Switch off
            </button>
          )}
        </form>
      )}
      <OutcomeLine outcome={outcome} />
      {res.data?.url && (
        <>
          <h3>Rotate the signing secret</h3>
          <p className="hint" id="rotate-hint">
            Make a new secret when someone who knew the old one leaves, or on a schedule. The new
            one is shown once. Every event is signed with both secrets while the old one is still
            valid, so the receiver can switch without losing events.
          </p>
          {res.data.previousSecretValidUntil && (
            <p data-testid="previous-secret-until">
              The previous secret also signs until {when(res.data.previousSecretValidUntil)}.
            </p>
          )}
          <div className="rotate">
            <label className="check">
              <input
                type="checkbox"
                aria-describedby="rotate-hint"
                checked={keepPrevious}
                onChange={(e) => setKeepPrevious(e.target.checked)}
              />
              Keep the old secret valid for 24 hours (untick if it has leaked)
            </label>
            <button type="button" className="secondary" onClick={() => void rotate()}>
              Rotate secret
            </button>
          </div>
          <OutcomeLine outcome={rotateOutcome} />
        </>
      )}
      {secret && (
        <div className="once" data-testid="webhook-secret">
          <p>
            {secret.rotated
              ? 'Give this new signing secret to the receiver now: it is shown only once.'
              : 'Give this signing secret to the receiver now: it is shown only once. It stays the same when you change the URL.'}
          </p>
          <label htmlFor="webhook-secret-value">Signing secret</label>
          <input
            id="webhook-secret-value"
            readOnly
            value={secret.value}
            onFocus={(e) => e.target.select()}
          />
          <button type="button" className="secondary" onClick={() => setSecret(null)}>
            I have stored it
          </button>
        </div>
      )}
      <h3 id="deliveries-title">Recent deliveries</h3>
      <LoadError error={deliveries.error} />
      {deliveries.data &&
        (deliveries.data.data.length === 0 ? (
          <p className="muted">Nothing delivered yet.</p>
        ) : (
          <TableRegion labelledBy="deliveries-title">
            <table>
              <TableHead columns={['When', 'Event', 'State', 'Attempts', 'Last answer']} />
              <tbody>
                {deliveries.data.data.map((d) => (
                  <tr key={d.id}>
                    <td>{when(d.createdAt)}</td>
                    <td>{d.type}</td>
                    <td>{d.status}</td>
                    <td>{d.attempts}</td>
                    <td>{d.lastStatusCode ?? '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableRegion>
        ))}
    </>
  );
}
