/**
 * @module web/pages/settings/api-keys
 * API keys for integrators: create one with a name and scopes — the key is shown once, here,
 * and never again (the list shows only its first characters) — and revoke one at once.
 */
import { useState, type FormEvent } from 'react';
import { api } from '../../api';
import { attempt, LoadError, OutcomeLine, useResource, when, type Outcome } from './shared';
import { TableHead, TableRegion } from '../../ui';

/** The scopes a key may hold (identity/access SCOPES); the first three are the default. */
const SCOPES = [
  ['messages:send', 'Send messages'],
  ['messages:read', 'Read message status'],
  ['webhooks:write', 'Manage the status webhook'],
  ['consent:read', 'Read consent'],
  ['consent:write', 'Record consent'],
  ['secure:send', 'Send secure messages'],
  ['templates:read', 'Read templates'],
  ['templates:write', 'Manage templates'],
  ['appointments:read', 'Read appointments'],
  ['appointments:write', 'Feed appointments'],
  ['audit:read', 'Read the audit trail'],
  ['retention:write', 'Manage retention and holds'],
  ['risk:read', 'Read risk alerts'],
] as const;
const DEFAULT_SCOPES = new Set<string>(['messages:send', 'messages:read', 'webhooks:write']);

interface KeyRow {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export function ApiKeysSection() {
  const keys = useResource<{ data: KeyRow[] }>('/v1/api-keys');
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<Set<string>>(new Set(DEFAULT_SCOPES));
  const [outcome, setOutcome] = useState<Outcome>(null);
  const [shown, setShown] = useState<{ name: string; apiKey: string } | null>(null);

  const create = async (e: FormEvent) => {
    e.preventDefault();
    setShown(null);
    await attempt(setOutcome, `The key “${name}” was created.`, async () => {
      const r = await api<{ key: KeyRow; apiKey: string }>('POST', '/v1/api-keys', {
        name,
        scopes: SCOPES.map(([s]) => s).filter((s) => scopes.has(s)),
      });
      setShown({ name: r.key.name, apiKey: r.apiKey });
      setName('');
      keys.reload();
    });
  };

  const revoke = async (k: KeyRow) => {
    setShown(null);
    await attempt(setOutcome, `The key “${k.name}” was revoked.`, () =>
      api('DELETE', `/v1/api-keys/${k.id}`),
    );
    keys.reload();
  };

  return (
    <>
      <h3 id="key-new-title">Create a key</h3>
      <form aria-labelledby="key-new-title" onSubmit={(e) => void create(e)}>
        <label htmlFor="key-name">Name</label>
        <input
          id="key-name"
          required
          maxLength={100}
          autoComplete="off"
          aria-describedby="key-name-hint"
          value={name}
          onChange={(e) => setName(e.target.value)}
        />
        <p className="hint" id="key-name-hint">
          What the key is for, e.g. “EHR reminders feed”. No patient names.
        </p>
        <fieldset className="checks">
          <legend>Scopes</legend>
          {SCOPES.map(([s, label]) => (
            <label key={s} className="check">
              <input
                type="checkbox"
                checked={scopes.has(s)}
                onChange={(e) => {
                  const next = new Set(scopes);
                  if (e.target.checked) next.add(s);
                  else next.delete(s);
                  setScopes(next);
                }}
              />
              {label} <code>{s}</code>
            </label>
          ))}
        </fieldset>
        <button type="submit" disabled={scopes.size === 0}>
          Create key
        </button>
      </form>
      <OutcomeLine outcome={outcome} />
      {shown && (
        <div className="once" data-testid="new-api-key">
          <p>
            Copy the key for <strong>{shown.name}</strong> now: it is shown only once. Anyone
            holding it acts for your organisation within its scopes.
          </p>
          <label htmlFor="new-key-value">API key</label>
          <input
            id="new-key-value"
            readOnly
            value={shown.apiKey}
            onFocus={(e) => e.target.select()}
          />
          <button type="button" className="secondary" onClick={() => setShown(null)}>
            I have stored it
          </button>
        </div>
      )}

      <h3 id="keys-title">Keys</h3>
      <LoadError error={keys.error} />
      {keys.data &&
        (keys.data.data.length === 0 ? (
          <p className="muted">No API keys yet.</p>
        ) : (
          <TableRegion labelledBy="keys-title">
            <table>
              <TableHead columns={['Name', 'Key', 'Scopes', 'Last used', 'State']} />
              <tbody>
                {keys.data.data.map((k) => (
                  <tr key={k.id}>
                    <th scope="row">{k.name}</th>
                    <td>
                      <code>{k.prefix}…</code>
                    </td>
                    <td>{k.scopes.join(', ')}</td>
                    <td>{when(k.lastUsedAt)}</td>
                    <td>
                      {k.revokedAt ? (
                        `Revoked ${when(k.revokedAt)}`
                      ) : (
                        <button
                          type="button"
                          className="secondary small"
                          aria-label={`Revoke ${k.name}`}
                          onClick={() => void revoke(k)}
                        >
                          Revoke
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
