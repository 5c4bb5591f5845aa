import { describe, expect, it } from 'vitest';
import { SenderRateLimiter } from './rate-limit.js';
import { backoffDelay } from './worker.js';

describe('SenderRateLimiter', () => {
  it('allows a one-second burst, then paces at the rate', () => {
    const l = new SenderRateLimiter();
    const t = 1_000_000;
    const waits = Array.from({ length: 15 }, () => l.reserve('s1', 10, t));
    expect(waits.slice(0, 10)).toEqual(Array(10).fill(0));
    expect(waits.slice(10)).toEqual([100, 200, 300, 400, 500]);
    // Another sender has its own bucket.
    expect(l.reserve('s2', 10, t)).toBe(0);
  });

  it('refills over time', () => {
    const l = new SenderRateLimiter();
    for (let i = 0; i < 5; i++) l.reserve('s', 5, 0);
    expect(l.reserve('s', 5, 0)).toBe(200);
    expect(l.reserve('s', 5, 2_000)).toBe(0);
  });
});

describe('backoffDelay', () => {
  it('grows exponentially with jitter and a cap', () => {
    for (let attempt = 1; attempt <= 12; attempt++) {
      const d = Math.min(60_000, 1_000 * 2 ** (attempt - 1));
      for (let i = 0; i < 20; i++) {
        const v = backoffDelay(attempt, 1_000, 60_000);
        expect(v).toBeGreaterThanOrEqual(d / 2);
        expect(v).toBeLessThanOrEqual(d);
      }
    }
  });
});
