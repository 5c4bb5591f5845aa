/**
 * @module carriers/smpp/deliver
 * Reads a `deliver_sm` (SMPP v3.4 §4.6.1): either an SMSC delivery receipt or a
 * mobile-originated message. A receipt is flagged by `esm_class` bits 2–5 = 0001 (§5.2.12,
 * "SMSC Delivery Receipt") and carries its result in the `receipted_message_id` (§5.3.2.12)
 * and `message_state` (§5.3.2.35) TLVs, or — from most 3.4 SMSCs — only in the text form of
 * Appendix B: `id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm
 * stat:DDDDDDD err:E text: . . .`. The `text:` field quotes the start of the message: it is
 * never kept, logged or returned.
 */
import type { ReceiptStatus } from '../types.js';
import { fromSmppAddress, readConcatenation } from './encode.js';

/** `message_state` values, SMPP v3.4 §5.2.28 Table 5-6. */
const MESSAGE_STATE: Readonly<Record<number, ReceiptStatus | null>> = {
  1: null, // ENROUTE: not final
  2: 'delivered', // DELIVERED
  3: 'expired', // EXPIRED
  4: 'failed', // DELETED
  5: 'failed', // UNDELIVERABLE
  6: null, // ACCEPTED: not final (a manual intervention accepted it)
  7: 'failed', // UNKNOWN
  8: 'failed', // REJECTED
};

/** `stat:` values of the text form, SMPP v3.4 Appendix B Table B-2. */
const TEXT_STATE: Readonly<Record<string, ReceiptStatus | null>> = {
  DELIVRD: 'delivered',
  EXPIRED: 'expired',
  DELETED: 'failed',
  UNDELIV: 'failed',
  ACCEPTD: null,
  UNKNOWN: 'failed',
  REJECTD: 'failed',
  ENROUTE: null,
};

const STATE_NAME: Readonly<Record<number, string>> = {
  1: 'ENROUTE',
  2: 'DELIVRD',
  3: 'EXPIRED',
  4: 'DELETED',
  5: 'UNDELIV',
  6: 'ACCEPTD',
  7: 'UNKNOWN',
  8: 'REJECTD',
};

export type Delivered =
  | {
      type: 'receipt';
      carrierMessageId: string;
      /** null: an intermediate notification (ENROUTE, ACCEPTD), nothing to record. */
      status: ReceiptStatus | null;
      /** `UNDELIV` or `UNDELIV:err=001`: state and the SMSC's error, never text. */
      errorCode?: string;
    }
  | {
      type: 'inbound';
      from: string;
      to: string;
      body: string;
      /** Set when the message is one part of a concatenated message. */
      part?: { reference: number; total: number; sequence: number };
    }
  | { type: 'unreadable' };

/** The fields of a decoded `deliver_sm` that matter here (as the smpp package decodes them). */
export interface DeliverSmFields {
  esm_class?: unknown;
  source_addr?: unknown;
  source_addr_ton?: unknown;
  destination_addr?: unknown;
  dest_addr_ton?: unknown;
  short_message?: unknown;
  message_payload?: unknown;
  receipted_message_id?: unknown;
  message_state?: unknown;
  sar_msg_ref_num?: unknown;
  sar_total_segments?: unknown;
  sar_segment_seqnum?: unknown;
}

/**
 * The package decodes `data_coding` 0 text with the GSM table, which turns a few ASCII
 * octets into other characters; receipt text is ASCII (Appendix B), so they are turned back.
 */
const GSM_TO_ASCII: Readonly<Record<string, string>> = {
  '¡': '@',
  '¤': '$',
  Ä: '[',
  Ö: '\\',
  Ñ: ']',
  Ü: '^',
  '§': '_',
  '¿': '`',
  ä: '{',
  ö: '|',
  ñ: '}',
  ü: '~',
};

function asciiText(s: string): string {
  return s.replace(/[¡¤ÄÖÑÜ§¿äöñü]/g, (c) => GSM_TO_ASCII[c] ?? c);
}

function messageOf(field: unknown): { text: string; udh: Buffer[] } {
  if (typeof field === 'string') return { text: field, udh: [] };
  if (Buffer.isBuffer(field)) return { text: field.toString('latin1'), udh: [] };
  if (field && typeof field === 'object' && 'message' in field) {
    const f = field as { message: unknown; udh?: unknown };
    const m = f.message;
    const udh = Array.isArray(f.udh) ? f.udh.filter((b): b is Buffer => Buffer.isBuffer(b)) : [];
    if (typeof m === 'string') return { text: m, udh };
    if (Buffer.isBuffer(m)) return { text: m.toString('latin1'), udh };
  }
  return { text: '', udh: [] };
}

/** Parses the Appendix B text of a receipt: the id, the state and the error, nothing else. */
export function parseReceiptText(
  text: string,
): { id: string; stat: string; err: string | undefined } | null {
  const t = asciiText(text);
  const id = /(?:^|\s)id:(\S+)/i.exec(t)?.[1];
  const stat = /(?:^|\s)stat:(\S+)/i.exec(t)?.[1];
  if (!id || !stat) return null;
  const err = /(?:^|\s)err:(\S+)/i.exec(t)?.[1];
  return { id, stat: stat.toUpperCase(), err };
}

function int(v: unknown): number {
  return typeof v === 'number' ? v : 0;
}

/** Classifies and reads one `deliver_sm`. */
export function readDeliverSm(pdu: DeliverSmFields): Delivered {
  const esmClass = int(pdu.esm_class);
  // Message Type, bits 5–2 of esm_class (§5.2.12): 0001 = SMSC Delivery Receipt.
  const isReceipt = (esmClass & 0x3c) === 0x04;
  const short = messageOf(pdu.short_message);
  const payload = messageOf(pdu.message_payload);
  const message = short.text.length > 0 || payload.text.length === 0 ? short : payload;
  if (isReceipt) {
    const tlvId = typeof pdu.receipted_message_id === 'string' ? pdu.receipted_message_id : '';
    const parsed = parseReceiptText(message.text);
    const tlvState = typeof pdu.message_state === 'number' ? pdu.message_state : undefined;
    const id = tlvId || parsed?.id;
    if (!id) return { type: 'unreadable' };
    let status: ReceiptStatus | null | undefined;
    let stat: string | undefined;
    if (tlvState !== undefined && tlvState in MESSAGE_STATE) {
      status = MESSAGE_STATE[tlvState];
      stat = STATE_NAME[tlvState];
    } else if (parsed && parsed.stat in TEXT_STATE) {
      status = TEXT_STATE[parsed.stat];
      stat = parsed.stat;
    }
    if (status === undefined) return { type: 'unreadable' };
    const err = parsed?.err && !/^0+$/.test(parsed.err) ? parsed.err : undefined;
    return {
      type: 'receipt',
      carrierMessageId: id,
      status,
      ...(status && status !== 'delivered' && stat
        ? { errorCode: err ? `${stat}:err=${err.slice(0, 16)}` : stat }
        : {}),
    };
  }
  const from = typeof pdu.source_addr === 'string' ? pdu.source_addr : '';
  const to = typeof pdu.destination_addr === 'string' ? pdu.destination_addr : '';
  if (!from || !to) return { type: 'unreadable' };
  const part =
    readConcatenation(message.udh) ??
    (typeof pdu.sar_msg_ref_num === 'number' &&
    typeof pdu.sar_total_segments === 'number' &&
    typeof pdu.sar_segment_seqnum === 'number'
      ? {
          reference: pdu.sar_msg_ref_num,
          total: pdu.sar_total_segments,
          sequence: pdu.sar_segment_seqnum,
        }
      : null);
  return {
    type: 'inbound',
    from: fromSmppAddress(from, int(pdu.source_addr_ton)),
    to: fromSmppAddress(to, int(pdu.dest_addr_ton)),
    body: message.text,
    ...(part && part.total > 1 ? { part } : {}),
  };
}
