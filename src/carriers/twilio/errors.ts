/**
 * @module carriers/twilio/errors
 * Twilio's error codes mapped to the closed set of carrier failure kinds: the one table the
 * worker's retry decision rests on for this carrier. Source: Twilio's error dictionary,
 * https://www.twilio.com/docs/api/errors (each code's page is /docs/api/errors/{code}).
 * A code not listed falls back on the HTTP status (429 → throttled, 5xx → transient,
 * 401/403 → config, other 4xx → permanent).
 */
import { CarrierError, type CarrierFailureKind } from '../types.js';

export const TWILIO_ERROR_KINDS: Readonly<Record<string, CarrierFailureKind>> = {
  // Account and configuration.
  '20003': 'config', // Authentication error (wrong Account SID or Auth Token)
  '20404': 'config', // Resource not found (wrong Account SID in the URL)
  '21606': 'config', // 'From' is not a valid message-capable Twilio number
  '21659': 'config', // 'From' is not a Twilio phone number or Short Code country mismatch
  '21408': 'config', // Permission to send an SMS has not been enabled for the region
  '30002': 'config', // Account suspended
  '30032': 'config', // Toll-free number has not been verified
  '30034': 'config', // Message from an unregistered number (US A2P 10DLC)
  // Throughput.
  '20429': 'throttled', // Too Many Requests
  '14107': 'throttled', // SMS send rate limit exceeded
  '30001': 'throttled', // Queue overflow
  '30022': 'throttled', // US A2P 10DLC: rate limits exceeded
  '30023': 'throttled', // US A2P 10DLC: daily message cap reached
  // The recipient.
  '21610': 'opted_out', // Attempt to send to unsubscribed recipient (they replied STOP)
  '21211': 'invalid_recipient', // Invalid 'To' phone number
  '21614': 'invalid_recipient', // 'To' number is not a valid mobile number
  '21612': 'invalid_recipient', // 'To' number is not currently reachable via SMS
  '30005': 'invalid_recipient', // Unknown destination handset
  '30006': 'invalid_recipient', // Landline or unreachable carrier
  // The message.
  '21602': 'permanent', // Message body is required
  '21617': 'permanent', // Concatenated message body exceeds the 1600 character limit
  '30004': 'permanent', // Message blocked (by the recipient or their carrier)
  '30007': 'permanent', // Message filtered by the carrier (carrier violation)
  // Passing trouble on the way.
  '30003': 'transient', // Unreachable destination handset (off, out of coverage)
  '30008': 'transient', // Unknown error
  '30009': 'transient', // Missing segment
  '30010': 'transient', // Message price exceeds max price
};

/** Codes meaning the carrier blocked or filtered the text (risk: carrier filtering). */
export const TWILIO_FILTERING_CODES: readonly string[] = ['30004', '30007'];

/** The failure kind for a Twilio error code, falling back on the HTTP status. */
export function twilioFailureKind(
  code: string | undefined,
  httpStatus: number,
): CarrierFailureKind {
  const mapped = code !== undefined ? TWILIO_ERROR_KINDS[code] : undefined;
  if (mapped) return mapped;
  if (httpStatus === 429) return 'throttled';
  if (httpStatus >= 500 || httpStatus === 0) return 'transient';
  if (httpStatus === 401 || httpStatus === 403) return 'config';
  return 'permanent';
}

/** A CarrierError from a Twilio error answer (its code, or `HTTP_<status>`). */
export function twilioError(code: string | undefined, httpStatus: number): CarrierError {
  return new CarrierError(
    twilioFailureKind(code, httpStatus),
    code !== undefined ? `TWILIO_${code}` : `HTTP_${httpStatus}`,
  );
}
