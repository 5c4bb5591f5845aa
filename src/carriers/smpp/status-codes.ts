/**
 * @module carriers/smpp/status-codes
 * The one table from SMPP `command_status` values to Tidings' closed set of carrier failure
 * kinds. Values and names are those of SMPP v3.4 (Issue 1.2), §5.1.3 "command_status",
 * Table 5-2 "SMPP Error Codes"; 0x00FE and 0x00FF come from SMPP v5.0 §4.7.6 Table 4-45,
 * which many 3.4 SMSCs also send. Codes 0x0400–0x04FF are vendor-specific (§5.1.3): a carrier
 * that signals an opt-out with one of them is configured per adapter (`optOutStatusCodes`).
 */
import type { CarrierFailureKind } from '../types.js';

interface StatusEntry {
  name: string;
  kind: CarrierFailureKind;
}

/**
 * `throttled` codes are not failures to the adapter: it slows down and submits again (issue
 * 6); they surface as `throttled` only when a submission's deadline passes while throttled.
 */
export const SMPP_STATUS: ReadonlyMap<number, StatusEntry> = new Map<number, StatusEntry>([
  // §5.1.3 Table 5-2: the SMSC is busy — slow down, never fail the message.
  [0x0014, { name: 'ESME_RMSGQFUL', kind: 'throttled' }], // Message Queue Full
  [0x0058, { name: 'ESME_RTHROTTLED', kind: 'throttled' }], // Throttling error (ESME exceeded allowed message limits)
  // Temporary conditions at the SMSC or downstream: retry later.
  [0x0004, { name: 'ESME_RINVBNDSTS', kind: 'transient' }], // Incorrect BIND Status for given command (session is being re-bound)
  [0x0008, { name: 'ESME_RSYSERR', kind: 'transient' }], // System Error
  [0x0045, { name: 'ESME_RSUBMITFAIL', kind: 'transient' }], // submit_sm or submit_multi failed
  [0x0064, { name: 'ESME_RX_T_APPN', kind: 'transient' }], // ESME Receiver Temporary App Error Code
  [0x00fe, { name: 'ESME_RDELIVERYFAILURE', kind: 'transient' }], // Delivery Failure (v5.0)
  [0x00ff, { name: 'ESME_RUNKNOWNERR', kind: 'transient' }], // Unknown Error (v5.0)
  // The destination address itself is wrong: retrying cannot help.
  [0x000b, { name: 'ESME_RINVDSTADR', kind: 'invalid_recipient' }], // Invalid Dest Addr
  [0x0033, { name: 'ESME_RINVNUMDESTS', kind: 'invalid_recipient' }], // Invalid number of destinations
  // The bind or the sender is misconfigured: an operator must act (never retried).
  [0x000a, { name: 'ESME_RINVSRCADR', kind: 'config' }], // Invalid Source Address
  [0x000d, { name: 'ESME_RBINDFAIL', kind: 'config' }], // Bind Failed
  [0x000e, { name: 'ESME_RINVPASWD', kind: 'config' }], // Invalid Password
  [0x000f, { name: 'ESME_RINVSYSID', kind: 'config' }], // Invalid System ID
  [0x0048, { name: 'ESME_RINVSRCTON', kind: 'config' }], // Invalid Source address TON
  [0x0049, { name: 'ESME_RINVSRCNPI', kind: 'config' }], // Invalid Source address NPI
  [0x0050, { name: 'ESME_RINVDSTTON', kind: 'config' }], // Invalid Destination address TON
  [0x0051, { name: 'ESME_RINVDSTNPI', kind: 'config' }], // Invalid Destination address NPI
  [0x0053, { name: 'ESME_RINVSYSTYP', kind: 'config' }], // Invalid system_type field
  // The PDU as built was refused: sending it again unchanged would be refused again.
  [0x0001, { name: 'ESME_RINVMSGLEN', kind: 'permanent' }], // Message Length is invalid
  [0x0002, { name: 'ESME_RINVCMDLEN', kind: 'permanent' }], // Command Length is invalid
  [0x0003, { name: 'ESME_RINVCMDID', kind: 'permanent' }], // Invalid Command ID
  [0x0006, { name: 'ESME_RINVPRTFLG', kind: 'permanent' }], // Priority Flag is invalid
  [0x0007, { name: 'ESME_RINVREGDLVFLG', kind: 'permanent' }], // Registered Delivery Flag is invalid
  [0x0043, { name: 'ESME_RINVESMCLASS', kind: 'permanent' }], // Invalid esm_class field data
  [0x0061, { name: 'ESME_RINVSCHED', kind: 'permanent' }], // Invalid Scheduled Delivery Time
  [0x0062, { name: 'ESME_RINVEXPIRY', kind: 'permanent' }], // Invalid message validity period
  [0x0065, { name: 'ESME_RX_P_APPN', kind: 'permanent' }], // ESME Receiver Permanent App Error Code
  [0x0066, { name: 'ESME_RX_R_APPN', kind: 'permanent' }], // ESME Receiver Reject Message Error Code
  [0x00c0, { name: 'ESME_RINVOPTPARSTREAM', kind: 'permanent' }], // Error in the optional part of the PDU Body
  [0x00c1, { name: 'ESME_ROPTPARNOTALLWD', kind: 'permanent' }], // Optional Parameter not allowed
  [0x00c2, { name: 'ESME_RINVPARLEN', kind: 'permanent' }], // Invalid Parameter Length
  [0x00c3, { name: 'ESME_RMISSINGOPTPARAM', kind: 'permanent' }], // Expected Optional Parameter missing
  [0x00c4, { name: 'ESME_RINVOPTPARAMVAL', kind: 'permanent' }], // Invalid Optional Parameter Value
]);

export const ESME_ROK = 0x0000;
export const ESME_RTHROTTLED = 0x0058;
export const ESME_RMSGQFUL = 0x0014;

/** `ESME_RTHROTTLED` or `0x00000123` for codes the table does not name. */
export function statusName(status: number): string {
  return SMPP_STATUS.get(status)?.name ?? `0x${status.toString(16).padStart(8, '0')}`;
}

/**
 * The failure kind of a non-zero `command_status`. Codes not in the table (reserved or
 * vendor-specific) are `transient`: the worker retries them a bounded number of times, which
 * costs at most a few duplicates of a refusal, where `permanent` could lose a message to a
 * vendor's temporary condition.
 */
export function statusKind(
  status: number,
  optOutStatusCodes: ReadonlySet<number> = new Set(),
): CarrierFailureKind {
  if (optOutStatusCodes.has(status)) return 'opted_out';
  return SMPP_STATUS.get(status)?.kind ?? 'transient';
}

/** Whether a submission answered with `status` should be slowed down and sent again. */
export function isThrottle(status: number): boolean {
  return status === ESME_RTHROTTLED || status === ESME_RMSGQFUL;
}
