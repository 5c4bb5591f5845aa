import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { hashEvent, type ChainedFields } from './chain.js';

/** The encoding every event had before subjects existed, frozen here. */
function originalHash(e: ChainedFields): string {
  const canonical = JSON.stringify([
    'tidings-audit-v1',
    e.org_id,
    Number(e.seq),
    Number(e.at),
    e.actor_type,
    e.actor_id,
    e.action,
    e.target_type,
    e.target_id,
    e.details,
    e.prev_hash,
  ]);
  return createHash('sha256').update(canonical, 'utf8').digest('hex');
}

const hex64 = fc.string({
  unit: fc.constantFrom(...'0123456789abcdef'),
  minLength: 64,
  maxLength: 64,
});

const fields = fc.record({
  org_id: fc.string(),
  seq: fc.integer({ min: 1, max: 2 ** 40 }),
  at: fc.integer({ min: 0, max: 2 ** 45 }),
  actor_type: fc.string(),
  actor_id: fc.string(),
  action: fc.string(),
  target_type: fc.string(),
  target_id: fc.string(),
  details: fc.json(),
  prev_hash: hex64,
});

describe('audit event hash', () => {
  it('is unchanged for events without a subject, so existing chains still verify', () => {
    fc.assert(
      fc.property(fields, (e) => {
        expect(hashEvent(e)).toBe(originalHash(e));
        expect(hashEvent({ ...e, subject_index: null })).toBe(originalHash(e));
      }),
    );
    expect(
      hashEvent({
        org_id: 'org_1',
        seq: 1,
        at: 1_700_000_000_000,
        actor_type: 'system',
        actor_id: 'tidings',
        action: 'org.created',
        target_type: 'organisation',
        target_id: 'org_1',
        details: '{}',
        prev_hash: '0'.repeat(64),
      }),
    ).toBe(
      originalHash({
        org_id: 'org_1',
        seq: 1,
        at: 1_700_000_000_000,
        actor_type: 'system',
        actor_id: 'tidings',
        action: 'org.created',
        target_type: 'organisation',
        target_id: 'org_1',
        details: '{}',
        prev_hash: '0'.repeat(64),
      }),
    );
  });

  it('covers the subject when there is one: adding, changing or removing it changes the hash', () => {
    fc.assert(
      fc.property(fields, hex64, hex64, (e, a, b) => {
        const withA = hashEvent({ ...e, subject_index: a });
        expect(withA).not.toBe(hashEvent(e));
        if (a !== b) expect(withA).not.toBe(hashEvent({ ...e, subject_index: b }));
        expect(withA).toBe(hashEvent({ ...e, subject_index: a }));
      }),
    );
  });
});
