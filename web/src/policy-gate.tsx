/**
 * @module web/policy-gate
 * The texting-policy acknowledgement before first use and every year (45 CFR 164.308(a)(5)):
 * after sign-in, if the organisation has set a policy and the user has not acknowledged its
 * current text within a year (GET /v1/policy says so in `mine.due`), the policy is shown
 * with one button to accept it before any page. No policy set: no gate.
 */
import { useCallback, useEffect, useState } from 'react';
import { api, ApiError } from './api';

interface Policy {
  version: number;
  text: string;
  mine: { due: boolean; acknowledgedAt: string | null };
}

export type PolicyCheck =
  | { kind: 'checking' }
  | { kind: 'clear' }
  | { kind: 'due'; policy: Policy }
  | { kind: 'failed'; message: string };

/** Whether the signed-in user must acknowledge the policy first; `recheck` asks again. */
export function usePolicyCheck(): { check: PolicyCheck; recheck: () => void } {
  const [check, setCheck] = useState<PolicyCheck>({ kind: 'checking' });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    api<Policy>('GET', '/v1/policy').then(
      (p) => {
        if (live) setCheck(p.mine.due ? { kind: 'due', policy: p } : { kind: 'clear' });
      },
      (e: unknown) => {
        if (!live) return;
        if (e instanceof ApiError && e.code === 'policy_not_set') setCheck({ kind: 'clear' });
        else
          setCheck({
            kind: 'failed',
            message: e instanceof ApiError ? e.message : 'The server could not be reached.',
          });
      },
    );
    return () => {
      live = false;
    };
  }, [tick]);
  const recheck = useCallback(() => setTick((n) => n + 1), []);
  return { check, recheck };
}

export function PolicyGate(props: {
  check: Exclude<PolicyCheck, { kind: 'clear' }>;
  onAccepted: () => void;
  onRetry: () => void;
  onSignOut: () => void;
}) {
  const { check, onAccepted, onRetry, onSignOut } = props;
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  if (check.kind === 'checking') {
    return (
      <main className="auth-card" id="main">
        <p role="status">Loading…</p>
      </main>
    );
  }
  if (check.kind === 'failed') {
    return (
      <main className="auth-card" id="main">
        <h1>Texting policy</h1>
        <p className="alert error" role="alert">
          The texting policy could not be loaded: {check.message}
        </p>
        <button type="button" onClick={onRetry}>
          Try again
        </button>
        <button type="button" className="secondary" onClick={onSignOut}>
          Sign out
        </button>
      </main>
    );
  }

  const accept = async () => {
    setBusy(true);
    setError(null);
    try {
      await api('POST', '/v1/policy/acknowledge', { version: check.policy.version });
      onAccepted();
    } catch (e) {
      setBusy(false);
      if (e instanceof ApiError && e.code === 'policy_version_mismatch') {
        setError('The policy changed while you were reading it. Here is the new text.');
        onRetry();
      } else {
        setError(e instanceof ApiError ? e.message : 'The server could not be reached.');
      }
    }
  };

  const { policy } = check;
  return (
    <main className="auth-card policy-card" id="main">
      <h1>Texting policy</h1>
      <p>
        {policy.mine.acknowledgedAt
          ? 'The policy has changed, or a year has passed since you last accepted it. Please read it again before you continue.'
          : 'Before you use Tidings, please read your organisation’s texting policy.'}
      </p>
      <div className="policy-text" role="region" aria-label="Policy text" tabIndex={0}>
        {policy.text}
      </div>
      <p className="hint">Version {policy.version}. Your acceptance is recorded.</p>
      {error && (
        <p className="alert error" role="alert">
          {error}
        </p>
      )}
      <button type="button" disabled={busy} onClick={() => void accept()}>
        I have read and accept
      </button>
      <button type="button" className="secondary" onClick={onSignOut}>
        Sign out
      </button>
    </main>
  );
}
