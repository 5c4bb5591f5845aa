import { describe, expect, it } from 'vitest';
import { countFinding, failureFinding, optOutFinding, spikeFinding } from './signals.js';

const ORG = { type: 'organisation', id: 'o' } as const;
const SENDER = { type: 'sender', id: 's' } as const;

describe('risk signals', () => {
  it('alerts on opt-outs above 2% of delivered and pauses above 5%', () => {
    expect(optOutFinding(ORG, 2, 100)).toBeNull();
    expect(optOutFinding(ORG, 3, 100)?.severity).toBe('warning');
    expect(optOutFinding(ORG, 6, 100)?.severity).toBe('critical');
    expect(optOutFinding(ORG, 30, 40)).toBeNull(); // too few to judge
    expect(optOutFinding(ORG, 3, 100)?.explanation).toMatch(
      /3 recipients of this organisation opted out/,
    );
    const campaign = optOutFinding({ type: 'campaign', id: 'cmp_1' }, 6, 100);
    expect(campaign).toMatchObject({
      scopeType: 'campaign',
      scopeId: 'cmp_1',
      severity: 'critical',
    });
    expect(campaign?.explanation).toContain('the campaign is paused');
  });

  it('alerts on delivery failures per sender', () => {
    expect(failureFinding(SENDER, 5, 100)).toBeNull();
    expect(failureFinding(SENDER, 20, 100)?.severity).toBe('warning');
    expect(failureFinding(SENDER, 40, 100)?.severity).toBe('critical');
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
