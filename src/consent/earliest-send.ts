/**
 * @module consent/earliest-send
 * When a text to one recipient may go, as a sender sees it before sending: the earliest
 * instant at or after the asked time that quiet hours allow (the same `SendRules.nextOpening`
 * the accept path uses, so the answer is what acceptance will do), and the window that applies
 * in each of the recipient's candidate time zones on that day, with the local time there.
 */
import { DateTime } from 'luxon';
import type { Program } from '../messaging/index.js';
import { formatWindow, parseWindow, windowFor } from './quiet-hours.js';
import type { SendRules } from './send-rules.js';
import type { LocationSource } from './timezones.js';

export interface ZoneWindow {
  /** IANA zone, e.g. America/New_York. */
  zone: string;
  /** The local window on the day of `earliest` there (`HH:MM-HH:MM`); null: closed all day. */
  window: string | null;
  /** `earliest` as local wall-clock time there, `YYYY-MM-DD HH:mm`. */
  localTime: string;
}

export interface EarliestSend {
  requested: string;
  earliest: string;
  heldBy: 'quiet_hours' | null;
  /** `off`: the installation has none; `exempt`: the organisation exempts this program. */
  quietHours: 'on' | 'off' | 'exempt';
  zones: ZoneWindow[];
  states: string[];
  locationSource: LocationSource;
}

/** The earliest send time of `program` to `phone` (E.164) at or after `at`. */
export async function earliestSend(
  rules: SendRules,
  orgId: string,
  phone: string,
  program: Program,
  at: number,
): Promise<EarliestSend> {
  const loc = await rules.zones.locate({ phone });
  const settings = await rules.settings(orgId);
  const earliest = await rules.nextOpening(orgId, { phone }, program, at);
  const server = rules.config.quietHours;
  const quietHours =
    server === 'off'
      ? 'off'
      : settings.quietHours.exemptPrograms.includes(program)
        ? 'exempt'
        : 'on';
  const org = settings.quietHours.window ? parseWindow(settings.quietHours.window) : null;
  return {
    requested: new Date(at).toISOString(),
    earliest: new Date(earliest).toISOString(),
    heldBy: earliest !== at ? 'quiet_hours' : null,
    quietHours,
    zones: loc.zones.map((zone) => {
      const local = DateTime.fromMillis(earliest, { zone });
      const w =
        quietHours === 'on' ? windowFor({ server, org, states: loc.states }, local.weekday) : null;
      return {
        zone,
        window: quietHours === 'on' ? (w ? formatWindow(w) : null) : '00:00-24:00',
        localTime: local.toFormat('yyyy-MM-dd HH:mm'),
      };
    }),
    states: [...loc.states],
    locationSource: loc.source,
  };
}
