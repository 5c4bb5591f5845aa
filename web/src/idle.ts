/**
 * @module web/idle
 * Automatic logoff (45 CFR 164.312(a)(2)(iii)): the console signs out after the
 * organisation's idle time, warning a minute before. Activity (a key or a pointer) keeps
 * the session alive, and tells the server so at most once a minute, so the server's own
 * idle timer never ends a session the user is working in.
 */
import { useEffect, useRef, useState } from 'react';

export const WARNING_MS = 60_000;
const HEARTBEAT_MS = 60_000;

export interface IdleState {
  /** Seconds left before sign-out while the warning shows; null otherwise. */
  secondsLeft: number | null;
  stayActive: () => void;
}

export function useIdleLogoff(
  idleMinutes: number,
  onTimeout: () => void,
  heartbeat: () => void,
): IdleState {
  const lastActivity = useRef(Date.now());
  const lastBeat = useRef(Date.now());
  const [secondsLeft, setSecondsLeft] = useState<number | null>(null);
  const timeout = useRef(onTimeout);
  const beat = useRef(heartbeat);
  timeout.current = onTimeout;
  beat.current = heartbeat;

  useEffect(() => {
    const idleMs = idleMinutes * 60_000;
    const warned = { value: false };
    const activity = () => {
      // While the warning shows, only its button keeps the session.
      if (warned.value) return;
      lastActivity.current = Date.now();
      if (Date.now() - lastBeat.current >= HEARTBEAT_MS) {
        lastBeat.current = Date.now();
        beat.current();
      }
    };
    const tick = () => {
      const left = lastActivity.current + idleMs - Date.now();
      if (left <= 0) {
        clearInterval(timer);
        timeout.current();
      } else if (left <= WARNING_MS) {
        warned.value = true;
        setSecondsLeft(Math.ceil(left / 1000));
      } else if (warned.value) {
        warned.value = false;
        setSecondsLeft(null);
      }
    };
    const timer = setInterval(tick, 1000);
    window.addEventListener('keydown', activity);
    window.addEventListener('pointerdown', activity);
    return () => {
      clearInterval(timer);
      window.removeEventListener('keydown', activity);
      window.removeEventListener('pointerdown', activity);
    };
  }, [idleMinutes]);

  return {
    secondsLeft,
    stayActive: () => {
      lastActivity.current = Date.now();
      lastBeat.current = Date.now();
      setSecondsLeft(null);
      beat.current();
    },
  };
}
