import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './circuit-breaker.js';

describe('CircuitBreaker', () => {
  it('opens after the threshold, lets one trial through after the pause, and closes on success', () => {
    const b = new CircuitBreaker({ threshold: 3, openMs: 1000 });
    expect(b.failure('k', 0)).toBeUndefined();
    expect(b.failure('k', 0)).toBeUndefined();
    expect(b.failure('k', 0)).toBe('opened');
    expect(b.allow('k', 500)).toBe(false);
    expect(b.allow('k', 1000)).toBe(true);
    expect(b.allow('k', 1001)).toBe(false); // one trial at a time
    b.failure('k', 1100); // the trial failed: open again
    expect(b.allow('k', 1500)).toBe(false);
    expect(b.allow('k', 2100)).toBe(true);
    expect(b.success('k')).toBe('recovered');
    expect(b.state('k')).toBe('closed');
    expect(b.allow('k', 2200)).toBe(true);
  });

  it('a success resets the count of failures in a row', () => {
    const b = new CircuitBreaker({ threshold: 2, openMs: 1000 });
    b.failure('k');
    b.success('k');
    expect(b.failure('k')).toBeUndefined();
    expect(b.state('k')).toBe('closed');
  });
});
