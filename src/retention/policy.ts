/**
 * @module retention/policy
 * An organisation's retention periods, with safe defaults (docs/retention.md). Pure: no I/O.
 */
import { z } from 'zod';

/**
 * HIPAA documentation retention: policies, procedures and the records of actions taken under
 * them are kept six years (45 CFR 164.316(b)(2)(i)). Audit events and the consent ledger are
 * such records, so no policy may keep them for less.
 */
export const MIN_RECORD_YEARS = 6;

export interface RetentionPolicy {
  /** Days after the patient first viewed a secure message that its content is destroyed. */
  secureViewedDays: number;
  /** Days after creation that a secure message never viewed has its content destroyed. */
  secureUnviewedDays: number;
  /** Days after which outbound and inbound message bodies are destroyed (metadata stays). */
  messageBodyDays: number;
  /** Years audit events are kept (never fewer than MIN_RECORD_YEARS). */
  auditYears: number;
  /** Years the consent ledger is kept (never fewer than MIN_RECORD_YEARS). */
  consentYears: number;
}

export const DEFAULT_RETENTION_POLICY: Readonly<RetentionPolicy> = Object.freeze({
  secureViewedDays: 30,
  secureUnviewedDays: 7,
  messageBodyDays: 90,
  auditYears: MIN_RECORD_YEARS,
  consentYears: MIN_RECORD_YEARS,
});

const days = z.number().int().min(1).max(3650);
const years = z.number().int().min(MIN_RECORD_YEARS).max(100);

/** A policy as `PUT /v1/retention/policy` takes it: any field left out keeps its current value. */
export const retentionPolicySchema = z
  .object({
    secureViewedDays: days.optional(),
    secureUnviewedDays: days.optional(),
    messageBodyDays: days.optional(),
    auditYears: years.optional(),
    consentYears: years.optional(),
  })
  .strict();

export type RetentionPolicyPatch = z.infer<typeof retentionPolicySchema>;

/** A stored policy (JSON) over the defaults; anything unreadable falls back to the default. */
export function parseRetentionPolicy(json: string | null | undefined): RetentionPolicy {
  if (!json) return { ...DEFAULT_RETENTION_POLICY };
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    return { ...DEFAULT_RETENTION_POLICY };
  }
  const parsed = retentionPolicySchema.safeParse(raw);
  return { ...DEFAULT_RETENTION_POLICY, ...(parsed.success ? dropUndefined(parsed.data) : {}) };
}

export function mergeRetentionPolicy(
  current: RetentionPolicy,
  patch: RetentionPolicyPatch,
): RetentionPolicy {
  return { ...current, ...dropUndefined(patch) };
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

const DAY_MS = 24 * 3600_000;

/** The times before which each kind of content is due for destruction at `now`. */
export function retentionCutoffs(
  p: RetentionPolicy,
  now: number,
): { secureViewedBefore: number; secureUnviewedBefore: number; bodiesBefore: number } {
  return {
    secureViewedBefore: now - p.secureViewedDays * DAY_MS,
    secureUnviewedBefore: now - p.secureUnviewedDays * DAY_MS,
    bodiesBefore: now - p.messageBodyDays * DAY_MS,
  };
}
