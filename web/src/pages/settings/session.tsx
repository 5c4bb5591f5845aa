/**
 * @module web/pages/settings/session
 * Automatic logoff (45 CFR 164.312(a)(2)(iii)): minutes of inactivity after which every
 * console session of the organisation ends (PATCH /v1/settings). The current value is the
 * one this session runs under.
 */
import { useState, type FormEvent } from 'react';
import { api } from '../../api';
import { attempt, OutcomeLine, type Outcome } from './shared';

export function SessionSection({ idleMinutes }: { idleMinutes: number }) {
  const [minutes, setMinutes] = useState(String(idleMinutes));
  const [outcome, setOutcome] = useState<Outcome>(null);
  const save = async (e: FormEvent) => {
    e.preventDefault();
    await attempt(
      setOutcome,
      `Idle sessions now end after ${minutes} minutes (from each user’s next sign-in).`,
      () => api('PATCH', '/v1/settings', { sessionIdleMinutes: Number(minutes) }),
    );
  };
  return (
    <>
      <form onSubmit={(e) => void save(e)}>
        <label htmlFor="idle-minutes">Sign out after this many idle minutes</label>
        <input
          id="idle-minutes"
          type="number"
          required
          min={1}
          max={60}
          aria-describedby="idle-hint"
          value={minutes}
          onChange={(e) => setMinutes(e.target.value)}
        />
        <p className="hint" id="idle-hint">
          1 to 60. The console warns a minute before it signs out.
        </p>
        <button type="submit">Save session settings</button>
      </form>
      <OutcomeLine outcome={outcome} />
    </>
  );
}
