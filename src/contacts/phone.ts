/**
 * @module contacts/phone
 * Phone number normalisation to E.164 with libphonenumber-js (full metadata, so the number
 * type is known). Refuses numbers that are invalid, outside the regions this installation
 * sends to, or of a type that cannot receive texts (landlines, premium rate, pagers …).
 */
import { parsePhoneNumberFromString, type NumberType } from 'libphonenumber-js/max';
import { AppError } from '../errors/index.js';

/** Types that cannot receive SMS, or are never a patient's own line. */
const NOT_TEXTABLE: ReadonlySet<NumberType> = new Set<NumberType>([
  'FIXED_LINE',
  'PREMIUM_RATE',
  'SHARED_COST',
  'TOLL_FREE',
  'UAN',
  'VOICEMAIL',
  'PAGER',
]);

export interface PhonePolicy {
  /** ISO 3166 codes of the regions this installation sends to. */
  regions: readonly string[];
  /** Region assumed for numbers written without a country code. */
  defaultRegion?: string;
}

/** Returns the number in E.164, or throws a coded AppError that names no digits. */
export function normalisePhone(input: string, policy: PhonePolicy): string {
  const trimmed = input.trim();
  if (trimmed.length === 0 || trimmed.length > 32 || /[a-z]/i.test(trimmed)) {
    throw new AppError('invalid_phone_number');
  }
  const defaultRegion = (policy.defaultRegion ?? policy.regions[0] ?? 'US') as Parameters<
    typeof parsePhoneNumberFromString
  >[1];
  const parsed = parsePhoneNumberFromString(trimmed, defaultRegion);
  if (!parsed?.isValid()) throw new AppError('invalid_phone_number');
  if (!parsed.country || !policy.regions.includes(parsed.country)) {
    throw new AppError('unsupported_region');
  }
  const type = parsed.getType();
  if (type && NOT_TEXTABLE.has(type)) throw new AppError('not_mobile_number');
  return parsed.number;
}

/**
 * Lenient normalisation for numbers a carrier reports (inbound senders): E.164 when the
 * number parses, otherwise its digits with a leading plus, so a reply is never dropped.
 */
export function normaliseReportedPhone(input: string): string {
  const parsed = parsePhoneNumberFromString(input.trim(), 'US');
  if (parsed?.isPossible()) return parsed.number;
  return `+${input.replace(/\D/g, '')}`;
}

/**
 * Normalisation for looking a patient up (accounting of disclosures): the same E.164 form
 * `normalisePhone` and `normaliseReportedPhone` store, for any possible number, whatever its
 * region or type; throws `invalid_phone_number` for text that cannot be a phone number.
 */
export function normaliseLookupPhone(input: string, policy: PhonePolicy): string {
  const trimmed = input.trim();
  if (trimmed.length === 0 || trimmed.length > 32 || !/^\+?[\d\s().-]+$/.test(trimmed)) {
    throw new AppError('invalid_phone_number');
  }
  const defaultRegion = (policy.defaultRegion ?? policy.regions[0] ?? 'US') as Parameters<
    typeof parsePhoneNumberFromString
  >[1];
  const parsed = parsePhoneNumberFromString(trimmed, defaultRegion);
  if (parsed?.isPossible()) return parsed.number;
  const digits = trimmed.replace(/\D/g, '');
  if (trimmed.startsWith('+') && digits.length >= 3 && digits.length <= 15) return `+${digits}`;
  throw new AppError('invalid_phone_number');
}

/**
 * A phone number to show inside a text (the organisation's own line: "call us at …"): any
 * valid number in the installation's regions, landlines and toll-free numbers included,
 * normalised like `normaliseLookupPhone` and written the national way ("(617) 555-0123").
 * Throws `invalid_phone_number` or `unsupported_region`, naming no digits.
 */
export function formatDisplayPhone(input: string, policy: PhonePolicy): string {
  const e164 = normaliseLookupPhone(input, policy);
  const parsed = parsePhoneNumberFromString(e164);
  if (!parsed?.isValid()) throw new AppError('invalid_phone_number');
  if (!parsed.country || !policy.regions.includes(parsed.country)) {
    throw new AppError('unsupported_region');
  }
  return parsed.formatNational();
}
