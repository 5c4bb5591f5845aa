/**
 * @module web/pages/settings/shared
 * What every Settings section shares: loading one resource from the API, turning a failure
 * into a sentence, and the saved / failed line under a form (a live region, so a screen
 * reader hears it).
 */
import { useCallback, useEffect, useState } from 'react';
import { api, ApiError } from '../../api';

export function errorText(e: unknown): string {
  return e instanceof ApiError ? e.message : 'The server could not be reached.';
}

export interface Resource<T> {
  data: T | null;
  error: string | null;
  reload: () => void;
  setData: (v: T) => void;
}

/** GETs `path` once (and again on `reload`). */
export function useResource<T>(path: string): Resource<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const ctl = new AbortController();
    api<T>('GET', path, undefined, { signal: ctl.signal }).then(
      (v) => {
        setData(v);
        setError(null);
      },
      (e: unknown) => {
        if (!ctl.signal.aborted) setError(errorText(e));
      },
    );
    return () => ctl.abort();
  }, [path, tick]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { data, error, reload, setData };
}

export type Outcome = { ok: true; text: string } | { ok: false; text: string } | null;

/** The result line of a form: a status when saved, an alert when refused. */
export function OutcomeLine({ outcome }: { outcome: Outcome }) {
  if (!outcome) return null;
  return outcome.ok ? (
    <p className="alert info" role="status">
      {outcome.text}
    </p>
  ) : (
    <p className="alert error" role="alert">
      {outcome.text}
    </p>
  );
}

/** Runs a change and reports it: `ok` on success, the server's sentence on refusal. */
export async function attempt(
  set: (o: Outcome) => void,
  ok: string,
  run: () => Promise<unknown>,
): Promise<boolean> {
  set(null);
  try {
    await run();
    set({ ok: true, text: ok });
    return true;
  } catch (e) {
    set({ ok: false, text: errorText(e) });
    return false;
  }
}

export function LoadError({ error }: { error: string | null }) {
  return error ? (
    <p className="alert error" role="alert">
      {error}
    </p>
  ) : null;
}

export function when(iso: string | null): string {
  return iso ? new Date(iso).toLocaleString() : '—';
}
