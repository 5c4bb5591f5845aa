/**
 * @module web/pages/set-password
 * The one-time set-up link (`/console/setup#token=…`): the token sits in the fragment, which
 * the browser never sends to a server, and is removed from the address bar at once.
 */
import { useState, type FormEvent } from 'react';
import { api, ApiError } from '../api';

export function readSetupToken(): string | null {
  const m = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
  if (!m?.[1]) return null;
  history.replaceState(null, '', window.location.pathname);
  return decodeURIComponent(m[1]);
}

export function SetPassword({ token, onDone }: { token: string; onDone: () => void }) {
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (password !== confirm) {
      setError('The two passwords differ.');
      return;
    }
    try {
      await api('POST', '/v1/auth/setup', { token, password });
      onDone();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : 'The server could not be reached.');
    }
  };
  return (
    <main className="auth-card" id="main">
      <h1>Tidings</h1>
      <form onSubmit={(e) => void submit(e)} aria-labelledby="setup-title">
        <h2 id="setup-title">Choose your password</h2>
        {error && (
          <p className="alert error" role="alert">
            {error}
          </p>
        )}
        <p>At least 12 characters. A few unrelated words make a good one.</p>
        <label htmlFor="new-password">New password</label>
        <input
          id="new-password"
          type="password"
          autoComplete="new-password"
          required
          minLength={12}
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        <label htmlFor="confirm-password">Type it again</label>
        <input
          id="confirm-password"
          type="password"
          autoComplete="new-password"
          required
          value={confirm}
          onChange={(e) => setConfirm(e.target.value)}
        />
        <button type="submit">Set password</button>
      </form>
    </main>
  );
}
