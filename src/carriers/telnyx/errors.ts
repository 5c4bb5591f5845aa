/**
 * @module carriers/telnyx/errors
 * Telnyx's error codes mapped to the closed set of carrier failure kinds: the one table the
 * worker's retry decision rests on for this carrier. Sources: Telnyx API error codes,
 * https://developers.telnyx.com/docs/overview/errors, and messaging delivery error codes,
 * https://developers.telnyx.com/docs/messaging/messages/message-detail-records#error-codes
 * (the `errors[].code` of a message.finalized webhook). A code not listed falls back on
 * the HTTP status (429 → throttled, 5xx → transient, 401/403 → config, other 4xx → permanent).
 */
import { CarrierError, type CarrierFailureKind } from '../types.js';

export const TELNYX_ERROR_KINDS: Readonly<Record<string, CarrierFailureKind>> = {
  // API: account and configuration.
  '10009': 'config', // Authentication failed
  '10010': 'config', // Authorization failed
  '10011': 'throttled', // Too many requests
  '40013': 'config', // Invalid source number
  '40305': 'config', // Invalid 'from' address
  '40306': 'config', // Alphanumeric sender ID not permitted
  '40010': 'config', // Not 10DLC registered
  // The recipient.
  '40300': 'opted_out', // Blocked due to STOP message (the recipient opted out)
  '40012': 'invalid_recipient', // Invalid destination number
  '40310': 'invalid_recipient', // Invalid 'to' address
  '40311': 'invalid_recipient', // Invalid 'to' address: not SMS-capable
  '40001': 'invalid_recipient', // Not routable (landline or unreachable destination)
  // The message.
  '40003': 'permanent', // Blocked as spam, permanent
  '40008': 'permanent', // Undeliverable
  '40009': 'permanent', // Invalid message body
  // Passing trouble on the way.
  '40002': 'transient', // Blocked as spam, temporary
  '40004': 'transient', // Rejected by destination
  '40005': 'transient', // Message expired during transmission
  '40006': 'transient', // Recipient server unavailable
  '40014': 'transient', // Message expired in queue
  '40018': 'throttled', // AT&T / T-Mobile rate limit (10DLC throughput exceeded)
};

/** Codes meaning the carrier blocked the text as spam (risk: carrier filtering). */
export const TELNYX_FILTERING_CODES: readonly string[] = ['40002', '40003'];

/** The failure kind for a Telnyx error code, falling back on the HTTP status. */
export function telnyxFailureKind(
  code: string | undefined,
  httpStatus: number,
): CarrierFailureKind {
  const mapped = code !== undefined ? TELNYX_ERROR_KINDS[code] : undefined;
  if (mapped) return mapped;
  if (httpStatus === 429) return 'throttled';
  if (httpStatus >= 500 || httpStatus === 0) return 'transient';
  if (httpStatus === 401 || httpStatus === 403) return 'config';
  return 'permanent';
}

export function telnyxError(code: string | undefined, httpStatus: number): CarrierError {
  return new CarrierError(
    telnyxFailureKind(code, httpStatus),
    code !== undefined ? `TELNYX_${code}` : `HTTP_${httpStatus}`,
  );
}
