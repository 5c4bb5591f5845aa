/**
 * @module web/pages/sign-in
 * Signing in: e-mail address and password, then the second factor — enrolment with a QR
 * code and recovery codes (shown once) on first sign-in, a code from the authenticator
 * (or a recovery code) afterwards. Uses /v1/auth/login, /v1/auth/mfa/totp(/confirm) and
 * /v1/auth/mfa/verify.
 */
import { useEffect, useState, type FormEvent } from 'react';
import { api, ApiError, setCsrfToken, type LoginResult } from '../api';
import { QrCode } from '../qr-code';

export type SignInStep = 'password' | 'enrol' | 'verify';

function message(e: unknown): string {
  return e instanceof ApiError ? e.message : 'The server could not be reached. Try again.';
}

function ErrorAlert({ error }: { error: string | null }) {
  return error ? (
    <p className="alert error" role="alert">
      {error}
    </p>
  ) : null;
}

export function SignIn(props: {
  step: SignInStep;
  notice: string | null;
  onStep: (s: SignInStep) => void;
  onSignedIn: () => void;
}) {
  return (
    <main className="auth-card" id="main">
      <h1>Tidings</h1>
      {props.notice && (
        <p className="alert info" role="status">
          {props.notice}
        </p>
      )}
      {props.step === 'password' && <PasswordStep onNext={props.onStep} />}
      {props.step === 'enrol' && <EnrolStep onDone={props.onSignedIn} />}
      {props.step === 'verify' && <VerifyStep onDone={props.onSignedIn} />}
    </main>
  );
}

function PasswordStep({ onNext }: { onNext: (s: SignInStep) => void }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const r = await api<LoginResult>('POST', '/v1/auth/login', { email, password });
      setCsrfToken(r.csrfToken);
      onNext(r.next === 'enrol_mfa' ? 'enrol' : 'verify');
    } catch (err) {
      setError(message(err));
      setBusy(false);
    }
  };
  return (
    <form onSubmit={(e) => void submit(e)} aria-labelledby="signin-title">
      <h2 id="signin-title">Sign in</h2>
      <ErrorAlert error={error} />
      <label htmlFor="email">E-mail address</label>
      <input
        id="email"
        type="email"
        autoComplete="username"
        required
        value={email}
        onChange={(e) => setEmail(e.target.value)}
      />
      <label htmlFor="password">Password</label>
      <input
        id="password"
        type="password"
        autoComplete="current-password"
        required
        value={password}
        onChange={(e) => setPassword(e.target.value)}
      />
      <button type="submit" disabled={busy}>
        Sign in
      </button>
    </form>
  );
}

function EnrolStep({ onDone }: { onDone: () => void }) {
  const [start, setStart] = useState<{ secret: string; otpauthUri: string } | null>(null);
  const [code, setCode] = useState('');
  const [codes, setCodes] = useState<string[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api<{ secret: string; otpauthUri: string }>('POST', '/v1/auth/mfa/totp').then(
      setStart,
      (e: unknown) => setError(message(e)),
    );
  }, []);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      const r = await api<{ recoveryCodes: string[] }>('POST', '/v1/auth/mfa/totp/confirm', {
        code: code.trim(),
      });
      setCodes(r.recoveryCodes);
    } catch (err) {
      setError(message(err));
    }
  };
  if (codes) {
    return (
      <section aria-labelledby="codes-title">
        <h2 id="codes-title">Your recovery codes</h2>
        <p>
          Each code signs you in once if you lose your phone. Store them somewhere safe now: they
          are shown only this once.
        </p>
        <ul className="recovery-codes" aria-label="Recovery codes">
          {codes.map((c) => (
            <li key={c}>
              <code>{c}</code>
            </li>
          ))}
        </ul>
        <button type="button" onClick={onDone}>
          I have saved my recovery codes
        </button>
      </section>
    );
  }
  return (
    <form onSubmit={(e) => void submit(e)} aria-labelledby="enrol-title">
      <h2 id="enrol-title">Set up two-step sign-in</h2>
      <ErrorAlert error={error} />
      <p>Scan this code with an authenticator app, then type the 6-digit code it shows.</p>
      {start && (
        <>
          <QrCode text={start.otpauthUri} label="QR code for your authenticator app" />
          <p className="secret">
            Cannot scan? Enter this key: <code data-testid="totp-secret">{start.secret}</code>
          </p>
        </>
      )}
      <label htmlFor="totp">6-digit code</label>
      <input
        id="totp"
        inputMode="numeric"
        autoComplete="one-time-code"
        pattern="[0-9 ]*"
        required
        value={code}
        onChange={(e) => setCode(e.target.value)}
      />
      <button type="submit" disabled={!start}>
        Confirm
      </button>
    </form>
  );
}

function VerifyStep({ onDone }: { onDone: () => void }) {
  const [useRecovery, setUseRecovery] = useState(false);
  const [code, setCode] = useState('');
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      await api(
        'POST',
        '/v1/auth/mfa/verify',
        useRecovery ? { recoveryCode: code.trim() } : { code: code.trim() },
      );
      onDone();
    } catch (err) {
      setError(message(err));
    }
  };
  return (
    <form onSubmit={(e) => void submit(e)} aria-labelledby="verify-title">
      <h2 id="verify-title">Two-step sign-in</h2>
      <ErrorAlert error={error} />
      <label htmlFor="code">{useRecovery ? 'Recovery code' : '6-digit code'}</label>
      <input
        id="code"
        inputMode={useRecovery ? 'text' : 'numeric'}
        autoComplete="one-time-code"
        required
        value={code}
        onChange={(e) => setCode(e.target.value)}
      />
      <button type="submit">Verify</button>
      <button
        type="button"
        className="link"
        onClick={() => {
          setUseRecovery(!useRecovery);
          setCode('');
        }}
      >
        {useRecovery ? 'Use the authenticator app' : 'Use a recovery code'}
      </button>
    </form>
  );
}
