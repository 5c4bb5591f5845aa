import { describe, expect, it } from 'vitest';
import { countFinding, failureFinding, optOutFinding, spikeFinding } from './signals.js';

describe('risk signals', () => {
  it('alerts on opt-outs above 2% of delivered and pauses above 5%', () => {
    expect(optOutFinding('o', 2, 100)).toBeNull();
    expect(optOutFinding('o', 3, 100)?.severity).toBe('warning');
    expect(optOutFinding('o', 6, 100)?.severity).toBe('critical');
    expect(optOutFinding('o', 30, 40)).toBeNull(); // too few to judge
    expect(optOutFinding('o', 3, 100)?.explanation).toMatch(/3 recipients opted out/);
  });

  it('alerts on delivery failures per sender', () => {
    expect(failureFinding('s', 5, 100)).toBeNull();
    expect(failureFinding('s', 20, 100)?.severity).toBe('warning');
    expect(failureFinding('s', 40, 100)?.severity).toBe('critical');
  });

  it('alerts on a volume spike against the baseline', () => {
    expect(spikeFinding('s', 50, 0)).toBeNull();
    expect(spikeFinding('s', 500, 24 * 100)?.severity).toBe('warning');
    expect(spikeFinding('s', 2500, 24 * 100)?.severity).toBe('critical');
    expect(spikeFinding('s', 150, 24 * 100)).toBeNull();
  });

  it('counts against a fixed threshold', () => {
    expect(countFinding('break_glass_use', 'o', 0, 1, 'x')).toBeNull();
    expect(countFinding('break_glass_use', 'o', 1, 1, 'x')?.figures).toEqual({
      count: 1,
      threshold: 1,
    });
  });
});
