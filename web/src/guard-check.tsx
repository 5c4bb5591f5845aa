/**
 * @module web/guard-check
 * Live content-guard feedback for a text being typed, shared by Compose and the template
 * editor: `useGuardCheck` asks POST /v1/guard/check (debounced; stale answers dropped) and
 * `GuardFeedback` shows the verdict and the findings highlighted by category. The text is
 * neither stored nor logged by the server; findings carry categories and offsets only.
 */
import { useEffect, useState, type ReactNode } from 'react';
import { api, ApiError } from './api';
import { CATEGORY_LABELS, highlight, type Finding } from './guard-feedback';

const GUARD_DEBOUNCE_MS = 300;

export interface GuardResult {
  verdict: 'allow' | 'secure';
  findings: Finding[];
}

export interface GuardState {
  result: GuardResult | null;
  error: string | null;
}

/** The live verdict for `text`, debounced; stale answers are dropped. */
export function useGuardCheck(text: string): GuardState {
  const [result, setResult] = useState<GuardResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (text.trim() === '') {
      setResult(null);
      setError(null);
      return;
    }
    const ctl = new AbortController();
    const timer = setTimeout(() => {
      api<GuardResult>('POST', '/v1/guard/check', { text }, { signal: ctl.signal }).then(
        (r) => {
          setResult(r);
          setError(null);
        },
        (e: unknown) => {
          if (ctl.signal.aborted) return;
          setError(e instanceof ApiError ? e.message : 'The content check is unavailable.');
        },
      );
    }, GUARD_DEBOUNCE_MS);
    return () => {
      clearTimeout(timer);
      ctl.abort();
    };
  }, [text]);
  return { result, error };
}

/** The categories found, in plain words ("Medication, Test or result"). */
export function categoryLabels(result: GuardResult): string {
  return [...new Set(result.findings.map((f) => f.category))]
    .map((c) => CATEGORY_LABELS[c] ?? c)
    .join(', ');
}

/**
 * The verdict (a live region with id `verdictId`, for the text box's aria-describedby) and
 * the text with its findings highlighted. `allow` and `secure` say what the verdict means
 * where it is shown (sent as SMS / diverted; or a template that may / may not be saved).
 */
export function GuardFeedback(props: {
  text: string;
  guard: GuardState;
  verdictId: string;
  empty: ReactNode;
  allow: ReactNode;
  secure: (categories: string) => ReactNode;
}) {
  const { text, guard, verdictId } = props;
  const spans = guard.result ? highlight(text, guard.result.findings) : [];
  return (
    <section className="guard" aria-labelledby={`${verdictId}-title`}>
      <h2 id={`${verdictId}-title`}>Content check</h2>
      <div id={verdictId} aria-live="polite">
        {guard.error && <p className="alert error">{guard.error}</p>}
        {!guard.result && !guard.error && <p className="muted">{props.empty}</p>}
        {guard.result?.verdict === 'allow' && (
          <p className="verdict allow" data-verdict="allow">
            {props.allow}
          </p>
        )}
        {guard.result?.verdict === 'secure' && (
          <div className="verdict secure" data-verdict="secure">
            {props.secure(categoryLabels(guard.result))}
          </div>
        )}
      </div>
      {guard.result && guard.result.findings.length > 0 && (
        <p className="highlighted" aria-label="Text with findings highlighted">
          {spans.map((s, i) =>
            s.category ? (
              <mark key={i} className={`finding finding-${s.category}`}>
                {s.text}
                <span className="tag">{CATEGORY_LABELS[s.category] ?? s.category}</span>
              </mark>
            ) : (
              <span key={i}>{s.text}</span>
            ),
          )}
        </p>
      )}
    </section>
  );
}
