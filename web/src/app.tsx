/**
 * @module web/app
 * The console shell: who is signed in, which pages their role may see (web/nav), the
 * address bar kept in step with the page (paths only — never a number or a name), the
 * idle logoff warning, and signing out.
 */
import { useCallback, useEffect, useState, type MouseEvent } from 'react';
import { api, ApiError, hasCsrfToken, setCsrfToken, type SessionInfo, type User } from './api';
import { useIdleLogoff } from './idle';
import { pageForPath, pagesFor, type PageDef } from './nav';
import { Compose } from './pages/compose';
import { Consent } from './pages/consent';
import { Conversations } from './pages/conversations';
import { Patients } from './pages/patients';
import { Dashboard } from './pages/dashboard';
import { Audit } from './pages/audit';
import { Compliance } from './pages/compliance';
import { Templates } from './pages/templates';
import { Appointments } from './pages/appointments';
import { Campaigns } from './pages/campaigns';
import { SetPassword, readSetupToken } from './pages/set-password';
import { Settings } from './pages/settings';
import { PolicyGate, usePolicyCheck } from './policy-gate';
import { BREAK_GLASS_ROLES, BreakGlassButton } from './break-glass';
import { SignIn, type SignInStep } from './pages/sign-in';

type Auth =
  | { kind: 'loading' }
  | { kind: 'setup'; token: string }
  | { kind: 'signin'; step: SignInStep; notice: string | null }
  | { kind: 'in'; user: User; session: SessionInfo };

const SIGN_IN_PATH = '/console/';

async function currentSession(): Promise<Auth> {
  try {
    const s = await api<{ user: User; session: SessionInfo }>('GET', '/v1/auth/session');
    if (s.session.mfaVerified) return { kind: 'in', ...s };
    if (hasCsrfToken()) {
      return { kind: 'signin', step: s.user.mfaEnrolled ? 'verify' : 'enrol', notice: null };
    }
  } catch (e) {
    if (!(e instanceof ApiError)) {
      return { kind: 'signin', step: 'password', notice: 'The server could not be reached.' };
    }
  }
  return { kind: 'signin', step: 'password', notice: null };
}

export function App() {
  const [auth, setAuth] = useState<Auth>({ kind: 'loading' });
  const [path, setPath] = useState(window.location.pathname);

  useEffect(() => {
    const token = window.location.pathname.startsWith('/console/setup') ? readSetupToken() : null;
    if (token) setAuth({ kind: 'setup', token });
    else void currentSession().then(setAuth);
    const onPop = () => setPath(window.location.pathname);
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);

  const navigate = useCallback((to: string) => {
    if (to !== window.location.pathname) history.pushState(null, '', to);
    setPath(to);
  }, []);

  const signedOut = useCallback(
    (notice: string) => {
      setCsrfToken(null);
      navigate(SIGN_IN_PATH);
      setAuth({ kind: 'signin', step: 'password', notice });
    },
    [navigate],
  );

  const signOut = useCallback(
    async (notice: string) => {
      try {
        await api('POST', '/v1/auth/logout');
      } catch {
        // Already ended on the server (idle or revoked): nothing more to do.
      }
      signedOut(notice);
    },
    [signedOut],
  );

  let page: PageDef | undefined;
  if (auth.kind === 'in') page = pageForPath(path, auth.user.role);
  const pageTitle =
    auth.kind === 'in' ? (page?.title ?? 'Console') : auth.kind === 'loading' ? '' : 'Sign in';

  useEffect(() => {
    document.title = pageTitle ? `${pageTitle} · Tidings` : 'Tidings';
    if (auth.kind === 'in' && page && page.path !== window.location.pathname) {
      history.replaceState(null, '', page.path);
    }
  }, [pageTitle, auth.kind, page]);

  if (auth.kind === 'loading') {
    return (
      <main className="auth-card" id="main">
        <p role="status">Loading…</p>
      </main>
    );
  }
  if (auth.kind === 'setup') {
    return (
      <SetPassword
        token={auth.token}
        onDone={() => {
          navigate(SIGN_IN_PATH);
          setAuth({
            kind: 'signin',
            step: 'password',
            notice: 'Your password is set. Sign in to continue.',
          });
        }}
      />
    );
  }
  if (auth.kind === 'signin') {
    return (
      <SignIn
        step={auth.step}
        notice={auth.notice}
        onStep={(step) => setAuth({ kind: 'signin', step, notice: null })}
        onSignedIn={() => void currentSession().then(setAuth)}
      />
    );
  }
  return (
    <SignedIn
      user={auth.user}
      session={auth.session}
      page={page}
      navigate={navigate}
      onSignOut={(notice) => void signOut(notice)}
      onExpired={signedOut}
    />
  );
}

function SignedIn(props: {
  user: User;
  session: SessionInfo;
  page: PageDef | undefined;
  navigate: (to: string) => void;
  onSignOut: (notice: string) => void;
  onExpired: (notice: string) => void;
}) {
  const { user, session, page, navigate, onSignOut, onExpired } = props;
  const idle = useIdleLogoff(
    session.idleTimeoutMinutes,
    () => onSignOut('You were signed out after a period of inactivity.'),
    () => {
      api('GET', '/v1/auth/session').catch((e: unknown) => {
        if (e instanceof ApiError && e.status === 401) onExpired('Your session has ended.');
      });
    },
  );
  const policy = usePolicyCheck();
  const pages = pagesFor(user.role);
  const signOutEverywhere = async () => {
    try {
      await api('POST', '/v1/auth/sessions/revoke-all');
      onExpired('You were signed out on every device.');
    } catch (e) {
      onExpired(
        e instanceof ApiError && e.status === 401
          ? 'Your session has ended.'
          : 'Signing out everywhere failed; this device is signed out.',
      );
    }
  };
  // The texting policy comes before any page (web/policy-gate).
  if (policy.check.kind !== 'clear') {
    return (
      <>
        <PolicyGate
          check={policy.check}
          onAccepted={policy.recheck}
          onRetry={policy.recheck}
          onSignOut={() => onSignOut('You signed out.')}
        />
        <IdleWarning
          secondsLeft={idle.secondsLeft}
          stayActive={idle.stayActive}
          onSignOut={onSignOut}
        />
      </>
    );
  }
  return (
    <>
      <a className="skip" href="#main" onClick={skipToMain}>
        Skip to content
      </a>
      <header className="top">
        <span className="brand">Tidings</span>
        <nav aria-label="Main">
          <ul>
            {pages.map((p) => (
              <li key={p.id}>
                <a
                  href={p.path}
                  aria-current={p.id === page?.id ? 'page' : undefined}
                  onClick={(e) => {
                    e.preventDefault();
                    navigate(p.path);
                  }}
                >
                  {p.title}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div className="who">
          <span>
            {user.email} <span className="role">{user.role}</span>
          </span>
          {BREAK_GLASS_ROLES.includes(user.role) && <BreakGlassButton />}
          <button type="button" className="secondary" onClick={() => onSignOut('You signed out.')}>
            Sign out
          </button>
          <button type="button" className="secondary" onClick={() => void signOutEverywhere()}>
            Sign out everywhere
          </button>
        </div>
      </header>
      {page?.id === 'compose' && <Compose />}
      {page?.id === 'consent' && <Consent />}
      {page?.id === 'conversations' && <Conversations user={user} />}
      {page?.id === 'settings' && <Settings user={user} session={session} />}
      {page?.id === 'patients' && <Patients role={user.role} />}
      {page?.id === 'dashboard' && <Dashboard />}
      {page?.id === 'audit' && <Audit />}
      {page?.id === 'compliance' && <Compliance role={user.role} />}
      {page?.id === 'templates' && <Templates role={user.role} />}
      {page?.id === 'appointments' && <Appointments />}
      {page?.id === 'campaigns' && <Campaigns role={user.role} />}
      {!page && (
        <main id="main" className="page">
          <h1>Nothing here yet</h1>
          <p>Your role has no console pages yet.</p>
        </main>
      )}
      <IdleWarning
        secondsLeft={idle.secondsLeft}
        stayActive={idle.stayActive}
        onSignOut={onSignOut}
      />
    </>
  );
}

/** The idle warning a minute before automatic logoff (web/idle). */
function IdleWarning(props: {
  secondsLeft: number | null;
  stayActive: () => void;
  onSignOut: (notice: string) => void;
}) {
  const { secondsLeft, stayActive, onSignOut } = props;
  if (secondsLeft === null) return null;
  return (
    <div className="backdrop">
      <div
        className="dialog"
        role="alertdialog"
        aria-modal="true"
        aria-labelledby="idle-title"
        aria-describedby="idle-text"
      >
        <h2 id="idle-title">Are you still there?</h2>
        <p id="idle-text">
          For patients’ privacy you will be signed out in {secondsLeft} second
          {secondsLeft === 1 ? '' : 's'}.
        </p>
        <button type="button" autoFocus onClick={stayActive}>
          Stay signed in
        </button>
        <button type="button" className="secondary" onClick={() => onSignOut('You signed out.')}>
          Sign out now
        </button>
      </div>
    </div>
  );
}

/**
 * The skip link moves keyboard focus to the page's content, not only the scroll position
 * (a <main> is not focusable until given tabindex -1).
 */
function skipToMain(e: MouseEvent<HTMLAnchorElement>): void {
  const main = document.getElementById('main');
  if (!main) return;
  e.preventDefault();
  main.setAttribute('tabindex', '-1');
  main.focus();
}
