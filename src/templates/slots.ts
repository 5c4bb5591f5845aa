/**
 * @module templates/slots
 * The typed slots of a template (issue 5, "Templates"): a slot's name is its type, and each
 * type has one pure validator that turns what a caller sends into the text that goes into the
 * SMS, or says which rule it broke. Free-text types (names, places, links, codes) must also
 * pass the content guard on their own, so a first name cannot carry a diagnosis and a clinic
 * name cannot reveal a condition ("Oncology Center"). Structured types (date, time, phone)
 * cannot carry words at all. No I/O: the scanner and the phone policy are handed in.
 */
import type { Category, ScanResult } from '../content-guard/index.js';
import { formatDisplayPhone, type PhonePolicy } from '../contacts/index.js';

export const SLOT_TYPES = [
  'firstName',
  'date',
  'time',
  'clinicName',
  'location',
  'providerName',
  'link',
  'phone',
  'code',
] as const;
export type SlotType = (typeof SLOT_TYPES)[number];

export function isSlotType(name: string): name is SlotType {
  return (SLOT_TYPES as readonly string[]).includes(name);
}

/** The content guard's scan, as the slots use it. */
export type Scanner = (text: string) => ScanResult;

export interface SlotContext {
  scan: Scanner;
  /** For `phone`: the installation's regions (TIDINGS_SEND_REGIONS). */
  phone: PhonePolicy;
}

export type SlotResult =
  | { readonly ok: true; readonly text: string }
  /** The value breaks the type's rule (`rule` describes the rule, never the value). */
  | { readonly ok: false; readonly problem: 'format'; readonly rule: string }
  /** The content guard holds the value: it would reveal health information. */
  | { readonly ok: false; readonly problem: 'guard'; readonly categories: readonly Category[] };

/** Longest value a caller may send for any slot, before type rules apply. */
export const MAX_VARIABLE_CHARS = 500;

export const MAX_FIRST_NAME = 30;
export const MAX_CLINIC_NAME = 60;
export const MAX_LOCATION = 80;
export const MAX_PROVIDER_NAME = 40;
export const MAX_LINK = 200;
/** Longest nationally written number libphonenumber produces for the supported regions. */
export const MAX_PHONE_TEXT = 20;

/** A word of letters (any script; combining accents kept with their letter). */
const WORD = String.raw`\p{L}[\p{L}\p{M}]*`;
/** Words joined by one space, hyphen or apostrophe: "Mary-Jane", "O'Brien", "José María". */
const FIRST_NAME = new RegExp(`^${WORD}(?:[ '’-]${WORD})*$`, 'u');
const CLINIC_NAME = /^[\p{L}\p{N}][\p{L}\p{M}\p{N} &'’.-]*$/u;
const LOCATION = /^[\p{L}\p{N}][\p{L}\p{M}\p{N} ,.#&'’/()-]*$/u;
const PROVIDER_NAME = /^\p{L}[\p{L}\p{M} .'’-]*$/u;
const LETTER = /\p{L}/u;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIME_24H = /^([01]\d|2[0-3]):([0-5]\d)$/;
const CODE = /^[A-Za-z0-9]{4,12}$/;

/** What each type accepts, for error messages (never the value). */
export const SLOT_RULES: Readonly<Record<SlotType, string>> = {
  firstName: `letters, spaces, hyphens and apostrophes, 1–${MAX_FIRST_NAME} characters, no digits`,
  date: 'a calendar date as YYYY-MM-DD',
  time: 'a 24-hour time as HH:MM',
  clinicName: `letters, digits, spaces and & ' . -, at most ${MAX_CLINIC_NAME} characters`,
  location: `letters, digits, spaces and , . # & ' / ( ) -, at most ${MAX_LOCATION} characters`,
  providerName: `a name such as "Dr. Patel": letters, spaces and . ' -, at most ${MAX_PROVIDER_NAME} characters`,
  link: `an https URL of at most ${MAX_LINK} characters, without a query string or fragment`,
  phone: 'a valid phone number in a region this installation sends to',
  code: '4–12 letters and digits',
};

/**
 * Neutral values, one per type, as they appear in a sent text: a template is scanned with
 * every slot replaced by these, so only the template's own words can make it hold PHI.
 */
export const SLOT_SAMPLES: Readonly<Record<SlotType, string>> = {
  firstName: 'Alex',
  date: 'Tue, Dec 8',
  time: '10:30 AM',
  clinicName: 'Lakeside Clinic',
  location: '12 Main Street',
  providerName: 'Dr. Lee',
  link: 'https://example.org/r',
  phone: '(617) 555-0123',
  code: 'AB12CD',
};

/**
 * The longest text each type can put into a message (in GSM-7 characters), so a template is
 * refused when its longest rendering would not fit the segment limit.
 */
export const SLOT_LONGEST: Readonly<Record<SlotType, string>> = {
  firstName: 'x'.repeat(MAX_FIRST_NAME),
  date: 'Wed, Sep 30',
  time: '12:59 PM',
  clinicName: 'x'.repeat(MAX_CLINIC_NAME),
  location: 'x'.repeat(MAX_LOCATION),
  providerName: 'x'.repeat(MAX_PROVIDER_NAME),
  link: 'x'.repeat(MAX_LINK),
  phone: 'x'.repeat(MAX_PHONE_TEXT),
  code: 'x'.repeat(12),
};

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;
const MONTHS = [
  'Jan',
  'Feb',
  'Mar',
  'Apr',
  'May',
  'Jun',
  'Jul',
  'Aug',
  'Sep',
  'Oct',
  'Nov',
  'Dec',
] as const;

/** `YYYY-MM-DD` (a real calendar day, years 1900–2199) → "Tue, Dec 8"; null if not one. */
export function formatDate(value: string): string | null {
  const m = ISO_DATE.exec(value);
  if (!m) return null;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (year < 1900 || year > 2199 || month < 1 || month > 12 || day < 1) return null;
  const d = new Date(Date.UTC(year, month - 1, day));
  if (d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day) return null;
  return `${WEEKDAYS[d.getUTCDay()]}, ${MONTHS[month - 1]} ${day}`;
}

/** `HH:MM`, 24-hour → "10:30 AM" (midnight is "12:00 AM", noon "12:00 PM"); null if not one. */
export function formatTime(value: string): string | null {
  const m = TIME_24H.exec(value);
  if (!m) return null;
  const hour = Number(m[1]);
  const h12 = hour % 12 === 0 ? 12 : hour % 12;
  return `${h12}:${m[2]} ${hour < 12 ? 'AM' : 'PM'}`;
}

/** An https URL without credentials, query string or fragment → its canonical form; or null. */
export function formatLink(value: string): string | null {
  if (value.length > MAX_LINK || /[\s?#]/u.test(value) || !/^https:\/\//i.test(value)) return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  if (url.protocol !== 'https:' || url.username !== '' || url.password !== '') return null;
  if (!url.hostname.includes('.') || url.search !== '' || url.hash !== '') return null;
  return url.href.length <= MAX_LINK ? url.href : null;
}

function length(s: string): number {
  return [...s].length;
}

/** The value's text if it has the type's shape, else null (no guard scan yet). */
function shape(type: SlotType, value: string, ctx: SlotContext): string | null {
  switch (type) {
    case 'firstName':
      return length(value) <= MAX_FIRST_NAME && FIRST_NAME.test(value) ? value : null;
    case 'date':
      return formatDate(value);
    case 'time':
      return formatTime(value);
    case 'clinicName':
      return length(value) <= MAX_CLINIC_NAME && CLINIC_NAME.test(value) && LETTER.test(value)
        ? value
        : null;
    case 'location':
      return length(value) <= MAX_LOCATION && LOCATION.test(value) && LETTER.test(value)
        ? value
        : null;
    case 'providerName':
      return length(value) <= MAX_PROVIDER_NAME &&
        PROVIDER_NAME.test(value) &&
        (value.match(/\p{L}/gu)?.length ?? 0) >= 2
        ? value
        : null;
    case 'link':
      return formatLink(value);
    case 'phone':
      try {
        const text = formatDisplayPhone(value, ctx.phone);
        return text.length <= MAX_PHONE_TEXT ? text : null;
      } catch {
        return null;
      }
    case 'code':
      return CODE.test(value) ? value : null;
  }
}

/** Types that carry words, and so could carry health information: the guard reads them. */
const GUARDED: ReadonlySet<SlotType> = new Set<SlotType>([
  'firstName',
  'clinicName',
  'location',
  'providerName',
  'link',
  'code',
]);

/**
 * Checks one variable against its slot's type and returns the text it puts into the message.
 * Values are trimmed and put in Unicode NFC first; anything but a string is refused.
 */
export function formatSlot(type: SlotType, value: unknown, ctx: SlotContext): SlotResult {
  const rule = SLOT_RULES[type];
  if (typeof value !== 'string' || value.length > MAX_VARIABLE_CHARS) {
    return { ok: false, problem: 'format', rule };
  }
  const text = shape(type, value.normalize('NFC').trim(), ctx);
  if (text === null) return { ok: false, problem: 'format', rule };
  if (GUARDED.has(type)) {
    const r = ctx.scan(text);
    if (r.verdict === 'secure') {
      return {
        ok: false,
        problem: 'guard',
        categories: [...new Set(r.findings.map((f) => f.category))].sort(),
      };
    }
  }
  return { ok: true, text };
}
