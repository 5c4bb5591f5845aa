/**
 * @module web/pages/settings/retention
 * The retention policy (PUT /v1/retention/policy): how long secure content and message
 * bodies are kept before they are destroyed, and how long records are kept (at least six
 * years, 45 CFR 164.316(b)(2)(i); the server refuses less).
 */
import { useEffect, useState, type FormEvent } from 'react';
import { api } from '../../api';
import { attempt, LoadError, OutcomeLine, useResource, type Outcome } from './shared';

interface RetentionPolicy {
  secureViewedDays: number;
  secureUnviewedDays: number;
  messageBodyDays: number;
  auditYears: number;
  consentYears: number;
}

const FIELDS: readonly (readonly [keyof RetentionPolicy, string, number])[] = [
  ['secureViewedDays', 'Secure content, days after the patient first views it', 1],
  ['secureUnviewedDays', 'Secure content never viewed, days after it was sent', 1],
  ['messageBodyDays', 'Message bodies (sent and received), days', 1],
  ['auditYears', 'Audit trail, years (at least 6)', 6],
  ['consentYears', 'Consent records, years (at least 6)', 6],
];

export function RetentionSection() {
  const res = useResource<RetentionPolicy>('/v1/retention/policy');
  const [form, setForm] = useState<Record<keyof RetentionPolicy, string> | null>(null);
  const [outcome, setOutcome] = useState<Outcome>(null);
  useEffect(() => {
    if (!res.data) return;
    const d = res.data;
    setForm({
      secureViewedDays: String(d.secureViewedDays),
      secureUnviewedDays: String(d.secureUnviewedDays),
      messageBodyDays: String(d.messageBodyDays),
      auditYears: String(d.auditYears),
      consentYears: String(d.consentYears),
    });
  }, [res.data]);

  const save = async (e: FormEvent) => {
    e.preventDefault();
    if (!form) return;
    const body = Object.fromEntries(FIELDS.map(([k]) => [k, Number(form[k])]));
    await attempt(setOutcome, 'The retention policy was saved.', async () => {
      res.setData(await api<RetentionPolicy>('PUT', '/v1/retention/policy', body));
    });
  };

  return (
    <>
      <LoadError error={res.error} />
      {form && (
        <form onSubmit={(e) => void save(e)}>
          {FIELDS.map(([k, label, min]) => (
            <div key={k}>
              <label htmlFor={`ret-${k}`}>{label}</label>
              <input
                id={`ret-${k}`}
                type="number"
                required
                min={min}
                value={form[k]}
                onChange={(e) => setForm({ ...form, [k]: e.target.value })}
              />
            </div>
          ))}
          <p className="hint">
            Destroyed content cannot be recovered; a legal hold keeps it past these limits.
          </p>
          <button type="submit">Save retention policy</button>
        </form>
      )}
      <OutcomeLine outcome={outcome} />
    </>
  );
}
