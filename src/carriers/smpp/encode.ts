/**
 * @module carriers/smpp/encode
 * Turns a message body into the `short_message` octets of one or more `submit_sm` PDUs, and
 * phone numbers into SMPP addresses. The `smpp` package does not split long messages (it
 * throws over 254 octets) and labels GSM text as IA5 (`data_coding` 0x01), so both are done
 * here. The split follows the same rules as the pipeline's segment maths
 * (src/messaging/segments.ts, proved equal by encode.test.ts):
 *
 * - GSM 7-bit default alphabet and extension table (3GPP TS 23.038 §6.2.1), one octet per
 *   septet, unpacked, as SMPP carries it; `data_coding` 0x00 ("SMSC Default Alphabet",
 *   SMPP v3.4 §5.2.19). 160 septets fit one message; 153 per part when concatenated; an
 *   escape and its character are never split.
 * - Anything else: UCS-2 big-endian, `data_coding` 0x08; 70 code units in one message, 67 per
 *   part; a surrogate pair is never split.
 * - Concatenation: a User Data Header with the 8-bit reference concatenation element (3GPP
 *   TS 23.040 §9.2.3.24.1: IEI 0x00, length 3, reference, total, sequence) and `esm_class`
 *   with UDHI set (0x40, SMPP v3.4 §5.2.12).
 */

/** GSM 03.38 default alphabet in code order (index = septet value; 0x1B is the escape). */
const GSM7_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u001bÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
/** GSM 03.38 extension table: character → septet after the 0x1B escape (TS 23.038 §6.2.1.1). */
const GSM7_EXTENSION: ReadonlyMap<string, number> = new Map([
  ['\f', 0x0a],
  ['^', 0x14],
  ['{', 0x28],
  ['}', 0x29],
  ['\\', 0x2f],
  ['[', 0x3c],
  ['~', 0x3d],
  [']', 0x3e],
  ['|', 0x40],
  ['€', 0x65],
]);
const ESCAPE = 0x1b;
const BASIC_CODE = new Map<string, number>();
for (let i = 0; i < GSM7_BASIC.length; i++) {
  if (i !== ESCAPE) BASIC_CODE.set(GSM7_BASIC[i]!, i);
}

export const DATA_CODING_GSM7 = 0x00;
export const DATA_CODING_UCS2 = 0x08;
export const ESM_CLASS_UDHI = 0x40;

const SINGLE_GSM7 = 160;
const MULTI_GSM7 = 153;
const SINGLE_UCS2 = 70;
const MULTI_UCS2 = 67;

export interface EncodedMessage {
  encoding: 'GSM-7' | 'UCS-2';
  dataCoding: number;
  /** One `short_message` per PDU, the UDH included when there is more than one. */
  parts: Buffer[];
}

/**
 * The GSM-7 octets of `text` (one per septet, unpacked) and the septets each character
 * takes (1, or 2 for an escaped extension character); null when the text needs UCS-2.
 */
function gsm7(text: string): { octets: number[]; widths: number[] } | null {
  const octets: number[] = [];
  const widths: number[] = [];
  for (const ch of text) {
    const basic = BASIC_CODE.get(ch);
    if (basic !== undefined) {
      octets.push(basic);
      widths.push(1);
      continue;
    }
    const ext = GSM7_EXTENSION.get(ch);
    if (ext === undefined) return null;
    octets.push(ESCAPE, ext);
    widths.push(2);
  }
  return { octets, widths };
}

/**
 * Cuts `data` into parts of at most `limit` units, never inside an indivisible item of
 * `widths[i]` units; one unit is `unitBytes` octets of `data`.
 */
function cut(data: Buffer, widths: readonly number[], limit: number, unitBytes: number): Buffer[] {
  const parts: Buffer[] = [];
  let start = 0;
  let offset = 0;
  let used = 0;
  for (const w of widths) {
    if (used + w > limit) {
      parts.push(data.subarray(start, offset));
      start = offset;
      used = 0;
    }
    used += w;
    offset += w * unitBytes;
  }
  parts.push(data.subarray(start, offset));
  return parts;
}

/** UTF-16 code units per code point of `text` (2 for a surrogate pair). */
function utf16Widths(text: string): number[] {
  const widths: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const pair = c >= 0xd800 && c <= 0xdbff && i + 1 < text.length;
    widths.push(pair ? 2 : 1);
    if (pair) i++;
  }
  return widths;
}

/**
 * Encodes `body` for SMPP. `reference` (0–255) identifies the concatenated message; the
 * caller rolls it per bind. Throws RangeError over 255 parts (the UDH cannot count more).
 */
export function encodeMessage(
  body: string,
  reference: number,
  gsmDataCoding = DATA_CODING_GSM7,
): EncodedMessage {
  const g = gsm7(body);
  let encoding: EncodedMessage['encoding'];
  let payloads: Buffer[];
  if (g) {
    encoding = 'GSM-7';
    const data = Buffer.from(g.octets);
    payloads = data.length <= SINGLE_GSM7 ? [data] : cut(data, g.widths, MULTI_GSM7, 1);
  } else {
    encoding = 'UCS-2';
    const data = Buffer.from(body, 'utf16le').swap16();
    payloads = body.length <= SINGLE_UCS2 ? [data] : cut(data, utf16Widths(body), MULTI_UCS2, 2);
  }
  const dataCoding = encoding === 'GSM-7' ? gsmDataCoding : DATA_CODING_UCS2;
  if (payloads.length === 1) return { encoding, dataCoding, parts: payloads };
  if (payloads.length > 255) throw new RangeError('message needs more than 255 parts');
  const total = payloads.length;
  const parts = payloads.map((p, i) =>
    Buffer.concat([Buffer.of(0x05, 0x00, 0x03, reference & 0xff, total, i + 1), p]),
  );
  return { encoding, dataCoding, parts };
}

/** The concatenation element of a UDH (8- or 16-bit reference), or null when there is none. */
export function readConcatenation(
  udh: readonly Buffer[],
): { reference: number; total: number; sequence: number } | null {
  for (const ie of udh) {
    // ie = [IEI, length, ...data] (TS 23.040 §9.2.3.24.1 and §9.2.3.24.8)
    if (ie[0] === 0x00 && ie[1] === 3 && ie.length >= 5) {
      return { reference: ie[2]!, total: ie[3]!, sequence: ie[4]! };
    }
    if (ie[0] === 0x08 && ie[1] === 4 && ie.length >= 6) {
      return { reference: ie.readUInt16BE(2), total: ie[4]!, sequence: ie[5]! };
    }
  }
  return null;
}

/** TON and NPI for an E.164 number: international, ISDN (SMPP v3.4 §5.2.5, §5.2.6). */
export const TON_INTERNATIONAL = 0x01;
export const NPI_E164 = 0x01;

/** An E.164 number as an SMPP address: digits only, no `+` (the TON says international). */
export function toSmppAddress(e164: string): string {
  return e164.startsWith('+') ? e164.slice(1) : e164;
}

/**
 * An SMPP address as Tidings' E.164 form. Digits are international unless the TON says
 * national (0x02); most SMSCs send international numbers without the `+`. Alphanumeric
 * addresses (TON 0x05) are returned unchanged.
 */
export function fromSmppAddress(addr: string, ton: number): string {
  const trimmed = addr.trim();
  if (ton === 0x05 || !/^\+?\d+$/.test(trimmed)) return trimmed;
  if (trimmed.startsWith('+') || ton === 0x02) return trimmed;
  return `+${trimmed}`;
}
