/**
 * @module carriers
 * Carrier adapters behind one interface; one folder per carrier.
 */
import type { CarrierFailureKind } from './types.js';
import { TWILIO_ERROR_KINDS, TWILIO_FILTERING_CODES } from './twilio/errors.js';
import { TELNYX_ERROR_KINDS, TELNYX_FILTERING_CODES } from './telnyx/errors.js';

export * from './types.js';
export { SimulatorCarrier, type SimulatorOptions } from './simulator/index.js';
export { SmppCarrier, createSmppAdapter, type SmppOptions, type SmppStats } from './smpp/index.js';

/**
 * A carrier's codes as messages record them: the adapter's `carrierCode` (prefixed) on a
 * refused submission, and the bare code a delivery receipt carries.
 */
function recorded(prefix: string, codes: readonly string[]): string[] {
  return codes.flatMap((c) => [c, `${prefix}_${c}`]);
}

function ofKind(table: Readonly<Record<string, CarrierFailureKind>>, kind: CarrierFailureKind) {
  return Object.keys(table).filter((c) => table[c] === kind);
}

/** Codes meaning a carrier filtered or blocked a text as spam (risk signal `carrier_filtering`). */
export const CARRIER_FILTERING_CODES: readonly string[] = [
  ...recorded('TWILIO', TWILIO_FILTERING_CODES),
  ...recorded('TELNYX', TELNYX_FILTERING_CODES),
];

/** Codes meaning a carrier held texts back for throughput or a daily cap (`carrier_cap_errors`). */
export const CARRIER_CAP_CODES: readonly string[] = [
  ...recorded('TWILIO', ofKind(TWILIO_ERROR_KINDS, 'throttled')),
  ...recorded('TELNYX', ofKind(TELNYX_ERROR_KINDS, 'throttled')),
  'ESME_RTHROTTLED',
  'ESME_RMSGQFUL',
  'HTTP_429',
];
