import { describe, expect, it } from 'vitest';
import {
  DEFAULT_RETENTION_POLICY,
  mergeRetentionPolicy,
  parseRetentionPolicy,
  retentionCutoffs,
  retentionPolicySchema,
} from './policy.js';

describe('retention policy', () => {
  it('defaults to 30/7 days for secure content, 90 days for bodies, 6 years for records', () => {
    expect(parseRetentionPolicy(null)).toEqual({
      secureViewedDays: 30,
      secureUnviewedDays: 7,
      messageBodyDays: 90,
      auditYears: 6,
      consentYears: 6,
    });
  });

  it('refuses audit or consent retention under six years', () => {
    expect(retentionPolicySchema.safeParse({ auditYears: 5 }).success).toBe(false);
    expect(retentionPolicySchema.safeParse({ consentYears: 2 }).success).toBe(false);
    expect(retentionPolicySchema.safeParse({ auditYears: 10 }).success).toBe(true);
  });

  it('merges a patch over the current policy and ignores unreadable JSON', () => {
    const p = mergeRetentionPolicy(DEFAULT_RETENTION_POLICY, { messageBodyDays: 30 });
    expect(p.messageBodyDays).toBe(30);
    expect(p.secureViewedDays).toBe(30);
    expect(parseRetentionPolicy('{not json')).toEqual(DEFAULT_RETENTION_POLICY);
  });

  it('computes cutoffs in days before now', () => {
    const c = retentionCutoffs(DEFAULT_RETENTION_POLICY, 100 * 86_400_000);
    expect(c.bodiesBefore).toBe(10 * 86_400_000);
    expect(c.secureUnviewedBefore).toBe(93 * 86_400_000);
  });
});
