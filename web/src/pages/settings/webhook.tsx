/**
 * @module web/pages/settings/webhook
 * The status webhook (PUT /v1/webhook): where delivery and reply events are posted, signed
 * per Standard Webhooks. The signing secret is made when a URL is first set and shown only
 * in that answer; recent deliveries show whether the receiver keeps up.
 */
import { useEffect, useState, type FormEvent } from 'react';
import { api } from '../../api';
import { attempt, LoadError, OutcomeLine, useResource, when, type Outcome } from './shared';

interface Delivery {
  id: string;
  type: string;
  status: string;
  attempts: number;
  lastStatusCode: number | null;
  createdAt: string;
}

export function WebhookSection() {
  const res = useResource<{ url: string | null }>('/v1/webhook');
  const deliveries = useResource<{ data: Delivery[] }>('/v1/webhook/deliveries');
  const [url, setUrl] = useState('');
  const [secret, setSecret] = useState<string | null>(null);
  const [outcome, setOutcome] = useState<Outcome>(null);
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
        res.setData({ url: r.url });
        setSecret(r.secret);
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
      {secret && (
        <div className="once" data-testid="webhook-secret">
          <p>
            Give this signing secret to the receiver now: it is shown only once. It stays the same
            when you change the URL.
          </p>
          <label htmlFor="webhook-secret-value">Signing secret</label>
          <input
            id="webhook-secret-value"
            readOnly
            value={secret}
            onFocus={(e) => e.target.select()}
          />
        </div>
      )}
      <h3 id="deliveries-title">Recent deliveries</h3>
      <LoadError error={deliveries.error} />
      {deliveries.data &&
        (deliveries.data.data.length === 0 ? (
          <p className="muted">Nothing delivered yet.</p>
        ) : (
          <div
            className="table-scroll"
            role="region"
            aria-labelledby="deliveries-title"
            tabIndex={0}
          >
            <table>
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Event</th>
                  <th scope="col">State</th>
                  <th scope="col">Attempts</th>
                  <th scope="col">Last answer</th>
                </tr>
              </thead>
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
          </div>
        ))}
    </>
  );
}
