import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { GENESIS_HASH, hashEvent } from './chain.js';
import { signMessage, signingKeyId } from './signing.js';
import { checkpointMessage, verifyChain, type ChainedEvent, type Checkpoint } from './verify.js';

const ORG = 'org_test';
const pair = generateKeyPairSync('ed25519');
const KEY_ID = signingKeyId(pair.publicKey);
const KEYS = new Map([[KEY_ID, pair.publicKey]]);

function chain(n: number): ChainedEvent[] {
  const events: ChainedEvent[] = [];
  let prev = GENESIS_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const e = {
      org_id: ORG,
      seq,
      at: 1_700_000_000_000 + seq,
      actor_type: 'system',
      actor_id: 'tidings',
      action: 'message.read',
      target_type: 'message',
      target_id: `m${seq}`,
      details: '{}',
      prev_hash: prev,
      subject_index: seq % 2 ? null : 'a'.repeat(64),
    };
    prev = hashEvent(e);
    events.push({ ...e, hash: prev });
  }
  return events;
}

function checkpoint(events: ChainedEvent[], seq: number): Checkpoint {
  const c = { orgId: ORG, seq, at: 1, headHash: events[seq - 1]!.hash, keyId: KEY_ID };
  return { ...c, signature: signMessage(pair.privateKey, checkpointMessage(c)) };
}

const EVENTS = chain(12);
const CHECKPOINTS = [checkpoint(EVENTS, 4), checkpoint(EVENTS, 8)];

describe('ChainVerifier', () => {
  it('accepts an intact chain with its signed checkpoints', () => {
    expect(verifyChain(ORG, EVENTS, CHECKPOINTS, KEYS)).toBeNull();
    // A chain read from the middle, without an anchor, is checked from there on.
    expect(verifyChain(ORG, EVENTS.slice(5), CHECKPOINTS, KEYS)).toBeNull();
  });

  it('names the first bad sequence number for any single modification, deletion, insertion, reordering or truncation', () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('modify' as const), i: fc.integer({ min: 0, max: 11 }) }),
      fc.record({ kind: fc.constant('delete' as const), i: fc.integer({ min: 0, max: 10 }) }),
      fc.record({ kind: fc.constant('duplicate' as const), i: fc.integer({ min: 0, max: 11 }) }),
      fc.record({
        kind: fc.constant('swap' as const),
        i: fc.integer({ min: 0, max: 10 }),
        d: fc.integer({ min: 1, max: 11 }),
      }),
      fc.record({ kind: fc.constant('truncate' as const), i: fc.integer({ min: 0, max: 6 }) }),
    );
    fc.assert(
      fc.property(mutation, (m) => {
        const events = EVENTS.map((e) => ({ ...e }));
        let expected: number;
        switch (m.kind) {
          case 'modify':
            events[m.i]!.target_id = 'forged';
            expected = m.i + 1;
            break;
          case 'delete':
            events.splice(m.i, 1);
            expected = m.i + 1;
            break;
          case 'duplicate':
            events.splice(m.i, 0, { ...events[m.i]! });
            expected = m.i + 2;
            break;
          case 'swap': {
            const j = Math.min(11, m.i + m.d);
            [events[m.i], events[j]] = [events[j]!, events[m.i]!];
            expected = m.i + 1;
            break;
          }
          case 'truncate':
            events.length = m.i + 1;
            expected = m.i + 2;
            break;
        }
        const b = verifyChain(ORG, events, CHECKPOINTS, KEYS, { seq: 1, prevHash: GENESIS_HASH });
        expect(b, JSON.stringify(m)).not.toBeNull();
        expect(b!.seq, JSON.stringify({ m, b })).toBe(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('detects a chain re-hashed after a change by its signed checkpoint', () => {
    const events = EVENTS.map((e) => ({ ...e }));
    events[5]!.target_id = 'forged';
    let prev = events[4]!.hash;
    for (const e of events.slice(5)) {
      e.prev_hash = prev;
      e.hash = hashEvent(e);
      prev = e.hash;
    }
    expect(verifyChain(ORG, events, CHECKPOINTS, KEYS)).toEqual({
      orgId: ORG,
      seq: 8,
      reason: 'checkpoint_mismatch',
      sinceSeq: 5,
    });
  });

  it('refuses a checkpoint with a bad signature or an unknown key', () => {
    const forged = { ...CHECKPOINTS[0]!, signature: CHECKPOINTS[1]!.signature };
    expect(verifyChain(ORG, EVENTS, [forged], KEYS)).toMatchObject({
      seq: 4,
      reason: 'checkpoint_signature_invalid',
    });
    expect(verifyChain(ORG, EVENTS, CHECKPOINTS, new Map())).toMatchObject({
      seq: 4,
      reason: 'checkpoint_key_unknown',
    });
  });
});
