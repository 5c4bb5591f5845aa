/**
 * @module web/break-glass
 * Emergency access (POST /v1/break-glass): someone whose role does not show secure-message
 * content may ask for it with a written reason. It is granted at once for a short window,
 * audited, and announced to the admins; the dialog shows until when it lasts.
 */
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { api, ApiError } from './api';

/** The roles POST /v1/break-glass admits (the server's own list). */
export { BREAK_GLASS_ROLES } from '../../src/identity/access.js';

const MINUTES = [15, 30, 60, 120] as const;

interface Grant {
  id: string;
  expiresAt: string;
}

/** Opens the request dialog; `onGranted` runs once access is granted (to show content). */
export function BreakGlassButton(props: { onGranted?: () => void }) {
  const [open, setOpen] = useState(false);
  const [grant, setGrant] = useState<Grant | null>(null);
  const opener = useRef<HTMLButtonElement>(null);
  const close = () => {
    setOpen(false);
    opener.current?.focus();
  };
  const active = grant && Date.parse(grant.expiresAt) > Date.now();
  return (
    <>
      <button
        ref={opener}
        type="button"
        className="secondary"
        aria-haspopup="dialog"
        onClick={() => setOpen(true)}
      >
        {active ? 'Emergency access on' : 'Emergency access'}
      </button>
      {open && (
        <BreakGlassDialog
          grant={grant}
          onGranted={(g) => {
            setGrant(g);
            props.onGranted?.();
          }}
          onClose={close}
        />
      )}
    </>
  );
}

function BreakGlassDialog(props: {
  grant: Grant | null;
  onGranted: (g: Grant) => void;
  onClose: () => void;
}) {
  const { grant, onGranted, onClose } = props;
  const [reason, setReason] = useState('');
  const [minutes, setMinutes] = useState<number>(30);
  const [error, setError] = useState<string | null>(null);
  const [shown, setShown] = useState<Grant | null>(
    grant && Date.parse(grant.expiresAt) > Date.now() ? grant : null,
  );

  useEffect(() => {
    const onKey = (e: globalThis.KeyboardEvent) => {
      if (e.key === 'Escape') onClose();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [onClose]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      const g = await api<Grant>('POST', '/v1/break-glass', { reason, minutes });
      onGranted(g);
      setShown(g);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : 'The server could not be reached.');
    }
  };

  return (
    <div className="backdrop">
      <div className="dialog wide" role="dialog" aria-modal="true" aria-labelledby="bg-title">
        <h2 id="bg-title">Emergency access</h2>
        {shown ? (
          <>
            <p role="status" data-testid="break-glass-granted">
              Emergency access is granted until{' '}
              <strong>
                {new Date(shown.expiresAt).toLocaleTimeString([], {
                  hour: '2-digit',
                  minute: '2-digit',
                })}
              </strong>
              . It is recorded in the audit trail and your administrators have been told.
            </p>
            <button type="button" autoFocus onClick={onClose}>
              Close
            </button>
          </>
        ) : (
          <form onSubmit={(e) => void submit(e)}>
            <p id="bg-text">
              Use this only when a patient’s care needs a secure message you cannot otherwise see.
              Every use is reviewed.
            </p>
            <label htmlFor="bg-reason">Reason</label>
            <textarea
              id="bg-reason"
              required
              minLength={10}
              maxLength={2000}
              rows={3}
              autoFocus
              aria-describedby="bg-text bg-hint"
              value={reason}
              onChange={(e) => setReason(e.target.value)}
            />
            <p className="hint" id="bg-hint">
              At least 10 characters. Describe the situation; avoid the patient’s name.
            </p>
            <label htmlFor="bg-minutes">For</label>
            <select
              id="bg-minutes"
              value={minutes}
              onChange={(e) => setMinutes(Number(e.target.value))}
            >
              {MINUTES.map((m) => (
                <option key={m} value={m}>
                  {m} minutes
                </option>
              ))}
            </select>
            {error && (
              <p className="alert error" role="alert">
                {error}
              </p>
            )}
            <button type="submit">Request access</button>
            <button type="button" className="secondary" onClick={onClose}>
              Cancel
            </button>
          </form>
        )}
      </div>
    </div>
  );
}
