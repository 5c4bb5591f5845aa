import { describe, expect, it } from 'vitest';
import {
  countFinding,
  countSignalFinding,
  failureFinding,
  optOutFinding,
  spikeFinding,
} from './signals.js';

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

  it('says when it counts only since an alert was resolved, and carries that time', () => {
    const since = Date.UTC(2026, 0, 2, 3, 4, 5);
    const f = optOutFinding(ORG, 3, 50, since);
    expect(f?.explanation).toMatch(
      /^3 recipients of this organisation opted out since an alert on it was resolved at 2026-01-02T03:04:05.000Z: 6.0% of 50 delivered/,
    );
    expect(f?.figures).toEqual({ optOuts: 3, delivered: 50, rate: 0.06, since });
    expect(failureFinding(SENDER, 20, 100, since)?.figures.since).toBe(since);
    expect(spikeFinding('s', 500, 24 * 100, since)?.explanation).toContain('since an alert');
    expect(optOutFinding(ORG, 3, 50)?.figures).not.toHaveProperty('since');
  });

  it('explains count signals over the window or since a resolution', () => {
    expect(countSignalFinding('break_glass_use', 'o', 0)).toBeNull();
    expect(countSignalFinding('break_glass_use', 'o', 2)?.explanation).toBe(
      'Emergency (break-glass) access was used 2 time(s) in the last 24 hours; review each use.',
    );
    expect(countSignalFinding('portal_lockouts', 'o', 4)).toBeNull();
    const f = countSignalFinding('portal_lockouts', 'o', 5, 0);
    expect(f?.explanation).toBe(
      '5 secure-message links locked after too many failed checks since an alert on it was resolved at 1970-01-01T00:00:00.000Z.',
    );
    expect(f?.figures).toEqual({ count: 5, threshold: 5, since: 0 });
  });
});
