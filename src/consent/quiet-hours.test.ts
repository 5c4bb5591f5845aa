import { describe, expect, it } from 'vitest';
import {
  checkQuietHours,
  DEFAULT_QUIET_WINDOW,
  formatWindow,
  openIntervals,
  parseWindow,
  UNKNOWN_RECIPIENT_ZONES,
  windowFor,
  type QuietHoursInput,
} from './quiet-hours.js';
import { areaCodeOf, stateOfAreaCode, stateOfZip, STATE_QUIET_HOURS } from './state-rules.js';

const t = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

function check(zones: string[], at: string, extra: Partial<QuietHoursInput> = {}) {
  const d = checkQuietHours({ server: DEFAULT_QUIET_WINDOW, zones, at: t(at), ...extra });
  return { ...d, next: iso(d.nextOpening) };
}

describe('windows', () => {
  it('parses and formats HH:MM-HH:MM', () => {
    expect(parseWindow('08:00-21:00')).toEqual({ start: 480, end: 1260 });
    expect(parseWindow(' 09:30-17:45 ')).toEqual({ start: 570, end: 1065 });
    expect(parseWindow('00:00-24:00')).toEqual({ start: 0, end: 1440 });
    for (const bad of [
      '21:00-08:00',
      '08:00-08:00',
      '8:00-21:00',
      '08:00-24:30',
      '25:00-26:00',
      'off',
      '',
    ]) {
      expect(parseWindow(bad), bad).toBeNull();
    }
    expect(formatWindow({ start: 480, end: 1260 })).toBe('08:00-21:00');
  });

  it('narrows the installation window by the organisation and the state rules', () => {
    expect(windowFor({ server: DEFAULT_QUIET_WINDOW }, 1)).toEqual(DEFAULT_QUIET_WINDOW);
    expect(windowFor({ server: DEFAULT_QUIET_WINDOW, states: ['FL'] }, 3)).toEqual({
      start: 480,
      end: 1200,
    });
    expect(windowFor({ server: DEFAULT_QUIET_WINDOW, states: ['TX'] }, 7)).toEqual({
      start: 720,
      end: 1260,
    });
    expect(
      windowFor(
        { server: DEFAULT_QUIET_WINDOW, org: parseWindow('10:00-20:30'), states: ['TX'] },
        6,
      ),
    ).toEqual({ start: 600, end: 1230 });
    expect(
      windowFor(
        { server: DEFAULT_QUIET_WINDOW, org: parseWindow('08:00-11:00'), states: ['TX'] },
        7,
      ),
    ).toBeNull();
  });

  it('cites a statute for every state rule', () => {
    for (const r of STATE_QUIET_HOURS) expect(r.source).toMatch(/§/);
  });
});

describe('the default 08:00–21:00 window in New York', () => {
  const ny = ['America/New_York'];

  it('allows 08:00 to 20:59 and holds the rest until 08:00', () => {
    expect(check(ny, '2026-06-10T12:00:00Z').allowed).toBe(true); // 08:00 EDT
    expect(check(ny, '2026-06-11T00:59:59Z').allowed).toBe(true); // 20:59:59 EDT
    const late = check(ny, '2026-06-11T01:00:00Z'); // 21:00 EDT
    expect(late.allowed).toBe(false);
    expect(late.next).toBe('2026-06-11T12:00:00.000Z');
    const early = check(ny, '2026-06-10T11:59:00Z'); // 07:59 EDT
    expect(early).toMatchObject({ allowed: false, next: '2026-06-10T12:00:00.000Z' });
  });

  it('queues 22:30 local to 08:00 the next day', () => {
    const d = check(ny, '2026-06-10T02:30:00Z'); // 22:30 EDT on 9 June
    expect(d).toMatchObject({ allowed: false, next: '2026-06-10T12:00:00.000Z' });
  });
});

describe('daylight-saving changes', () => {
  it('spring forward in New York: 22:30 EST opens at 08:00 EDT, an hour earlier in UTC', () => {
    // 2026-03-08 02:00 EST → 03:00 EDT. 22:30 EST on 7 March is 03:30Z on 8 March.
    expect(check(['America/New_York'], '2026-03-08T03:30:00Z').next).toBe(
      '2026-03-08T12:00:00.000Z',
    );
    // The day before, 08:00 EST was 13:00Z.
    expect(check(['America/New_York'], '2026-03-07T04:00:00Z').next).toBe(
      '2026-03-07T13:00:00.000Z',
    );
    // In the skipped hour itself (02:30 does not exist), still held until 08:00 EDT.
    expect(check(['America/New_York'], '2026-03-08T07:30:00Z').next).toBe(
      '2026-03-08T12:00:00.000Z',
    );
  });

  it('fall back in New York: the repeated 01:30 is held until 08:00 EST', () => {
    // 2026-11-01 02:00 EDT → 01:00 EST. 05:30Z is 01:30 EDT, 06:30Z is 01:30 EST.
    expect(check(['America/New_York'], '2026-11-01T05:30:00Z').next).toBe(
      '2026-11-01T13:00:00.000Z',
    );
    expect(check(['America/New_York'], '2026-11-01T06:30:00Z').next).toBe(
      '2026-11-01T13:00:00.000Z',
    );
    // 20:59 EST on the day of the change is still open; 21:00 EST (02:00Z) is not.
    expect(check(['America/New_York'], '2026-11-02T01:59:00Z').allowed).toBe(true);
    expect(check(['America/New_York'], '2026-11-02T02:00:00Z').allowed).toBe(false);
  });

  it('spring forward and fall back in Los Angeles', () => {
    // 22:30 PST on 7 March 2026 → 08:00 PDT on 8 March (15:00Z).
    expect(check(['America/Los_Angeles'], '2026-03-08T06:30:00Z').next).toBe(
      '2026-03-08T15:00:00.000Z',
    );
    // 22:30 PDT on 31 October 2026 → 08:00 PST on 1 November (16:00Z).
    expect(check(['America/Los_Angeles'], '2026-11-01T05:30:00Z').next).toBe(
      '2026-11-01T16:00:00.000Z',
    );
  });

  it('moves a window that starts inside the skipped hour to the first real instant', () => {
    const early = parseWindow('02:30-05:00')!;
    const d = checkQuietHours({
      server: early,
      zones: ['America/New_York'],
      at: t('2026-03-08T06:00:00Z'), // 01:00 EST
    });
    expect(iso(d.nextOpening)).toBe('2026-03-08T07:30:00.000Z'); // 03:30 EDT
  });

  it('keeps every interval 13 local hours long across the change', () => {
    const list = openIntervals(
      ['America/New_York'],
      { server: DEFAULT_QUIET_WINDOW },
      t('2026-03-06T00:00:00Z'),
      t('2026-03-10T00:00:00Z'),
    );
    for (const [s, e] of list) {
      if (s >= t('2026-03-06T00:00:00Z') && e <= t('2026-03-10T00:00:00Z')) {
        expect(e - s).toBe(13 * 3600_000);
      }
    }
  });
});

describe('numbers that span zones', () => {
  it('allows only the hours open in every zone (Eastern and Central)', () => {
    const zones = ['America/New_York', 'America/Chicago'];
    // 08:30 EDT is 07:30 CDT: closed in Chicago.
    expect(check(zones, '2026-06-10T12:30:00Z')).toMatchObject({
      allowed: false,
      next: '2026-06-10T13:00:00.000Z', // 08:00 CDT
    });
    // 20:30 CDT is 21:30 EDT: closed in New York; next is 08:00 CDT.
    expect(check(zones, '2026-06-11T01:30:00Z').next).toBe('2026-06-11T13:00:00.000Z');
    expect(check(zones, '2026-06-10T20:00:00Z').allowed).toBe(true);
  });

  it('handles Mountain and Pacific (an Idaho prefix) across spring forward', () => {
    const zones = ['America/Boise', 'America/Los_Angeles'];
    // 22:30 MST on 7 March: both open at 08:00 PDT on 8 March = 15:00Z.
    expect(check(zones, '2026-03-08T05:30:00Z').next).toBe('2026-03-08T15:00:00.000Z');
  });

  it('falls back to the first zone when the zones never share an open hour', () => {
    const d = check(['America/New_York', 'Pacific/Guam'], '2026-06-10T02:30:00Z', {
      org: parseWindow('09:00-12:00'),
    });
    expect(d.degraded).toBe(true);
    expect(d.zones).toEqual(['America/New_York']);
    expect(d.next).toBe('2026-06-10T13:00:00.000Z'); // 09:00 EDT
  });

  it('drops zone names it does not know, and assumes the contiguous US when none are left', () => {
    expect(check(['Mars/Olympus', 'America/Chicago'], '2026-06-10T12:30:00Z').zones).toEqual([
      'America/Chicago',
    ]);
    const d = check(['Mars/Olympus'], '2026-06-10T13:30:00Z'); // 09:30 EDT, 06:30 PDT
    expect(d.zones).toEqual(UNKNOWN_RECIPIENT_ZONES);
    expect(d.next).toBe('2026-06-10T15:00:00.000Z'); // 08:00 PDT
  });
});

describe('state rules', () => {
  it('Texas: 09:00–21:00 Monday to Saturday, 12:00–21:00 on Sunday', () => {
    const tx = (at: string) => check(['America/Chicago'], at, { states: ['TX'] });
    // Sunday 10 May 2026, 10:00 CDT → noon.
    expect(tx('2026-05-10T15:00:00Z')).toMatchObject({
      allowed: false,
      next: '2026-05-10T17:00:00.000Z',
    });
    expect(tx('2026-05-10T17:00:00Z').allowed).toBe(true);
    // Saturday 9 May, 08:30 CDT → 09:00; 09:30 is open.
    expect(tx('2026-05-09T13:30:00Z').next).toBe('2026-05-09T14:00:00.000Z');
    expect(tx('2026-05-09T14:30:00Z').allowed).toBe(true);
    // Saturday 21:00 → Sunday noon, not Sunday 09:00.
    expect(tx('2026-05-10T02:00:00Z').next).toBe('2026-05-10T17:00:00.000Z');
    expect(tx('2026-05-10T17:00:00Z').sources[0]).toMatch(/301\.051/);
  });

  it('Florida: nothing at or after 20:00', () => {
    const fl = (at: string) => check(['America/New_York'], at, { states: ['FL'] });
    expect(fl('2026-06-10T23:59:00Z').allowed).toBe(true); // 19:59 EDT
    expect(fl('2026-06-11T00:00:00Z')).toMatchObject({
      allowed: false,
      next: '2026-06-11T12:00:00.000Z',
    });
  });

  it('Oklahoma, Maryland and Washington close at 20:00 too', () => {
    expect(check(['America/Chicago'], '2026-06-11T01:30:00Z', { states: ['OK'] }).allowed).toBe(
      false,
    ); // 20:30 CDT
    expect(check(['America/New_York'], '2026-06-11T00:30:00Z', { states: ['MD'] }).allowed).toBe(
      false,
    );
    expect(check(['America/Los_Angeles'], '2026-06-11T03:30:00Z', { states: ['WA'] }).allowed).toBe(
      false,
    );
    expect(check(['America/Los_Angeles'], '2026-06-11T03:30:00Z').allowed).toBe(true);
  });

  it('finds the state of an area code and of a ZIP code', () => {
    expect(areaCodeOf('+13055550100')).toBe('305');
    expect(areaCodeOf('+447700900123')).toBeNull();
    expect(stateOfAreaCode('305')).toBe('FL');
    expect(stateOfAreaCode('850')).toBe('FL');
    expect(stateOfAreaCode('512')).toBe('TX');
    expect(stateOfAreaCode('915')).toBe('TX');
    expect(stateOfAreaCode('405')).toBe('OK');
    expect(stateOfAreaCode('410')).toBe('MD');
    expect(stateOfAreaCode('206')).toBe('WA');
    expect(stateOfAreaCode('212')).toBe('NY');
    expect(stateOfAreaCode('416')).toBeNull(); // Toronto
    expect(stateOfAreaCode('800')).toBeNull();
    expect(stateOfZip('33101')).toBe('FL');
    expect(stateOfZip('75201-1234')).toBe('TX');
    expect(stateOfZip('73301')).toBe('TX');
    expect(stateOfZip('73102')).toBe('OK');
    expect(stateOfZip('21201')).toBe('MD');
    expect(stateOfZip('98101')).toBe('WA');
    expect(stateOfZip('10001')).toBeNull();
    expect(stateOfZip('abc')).toBeNull();
  });
});

describe('off and exemptions', () => {
  it('allows any hour when the installation turns quiet hours off', () => {
    expect(check(['America/New_York'], '2026-06-10T07:00:00Z', { server: 'off' }).allowed).toBe(
      true,
    );
  });

  it('never holds a reply to STOP/HELP/START or an exempt program', () => {
    for (const exempt of ['consent_reply', 'program'] as const) {
      const d = check(['America/New_York'], '2026-06-10T07:00:00Z', { exempt, states: ['FL'] });
      expect(d.allowed).toBe(true);
      expect(d.nextOpening).toBe(t('2026-06-10T07:00:00Z'));
    }
  });

  it('applies a stricter organisation window', () => {
    const d = check(['America/New_York'], '2026-06-10T12:30:00Z', {
      org: parseWindow('09:00-17:00'),
    });
    expect(d).toMatchObject({ allowed: false, next: '2026-06-10T13:00:00.000Z' });
  });
});
