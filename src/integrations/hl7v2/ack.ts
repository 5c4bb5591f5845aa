/**
 * @module integrations/hl7v2/ack
 * The original-mode acknowledgement (HL7 v2.5.1 2.9.2): MSA-1 AA (accepted), AE (error: the
 * sender should fix and resend) or AR (rejected: unsupported or unreadable), MSA-2 echoing
 * the control id, and an ERR segment with the HL7 table 0357 code. Pure. The text in ERR
 * names a field, never a value from the message (no PHI goes back on the wire or to logs).
 */
import { DateTime } from 'luxon';
import type { Header } from './parse-message.js';

const ERROR_TEXT: Record<number, string> = {
  100: 'Segment sequence error',
  101: 'Required field missing',
  102: 'Data type error',
  103: 'Table value not found',
  200: 'Unsupported message type',
  201: 'Unsupported event code',
  207: 'Application internal error',
};

/** Escapes HL7 delimiters in our own text (HL7 v2.5.1 2.7). */
function esc(text: string): string {
  return text
    .replace(/\\/g, '\\E\\')
    .replace(/\|/g, '\\F\\')
    .replace(/\^/g, '\\S\\')
    .replace(/&/g, '\\T\\')
    .replace(/~/g, '\\R\\');
}

export function buildAck(
  h: Partial<Header>,
  code: 'AA' | 'AE' | 'AR',
  ackControlId: string,
  error?: { code: number; text: string },
  now = Date.now(),
): string {
  const ts = DateTime.fromMillis(now, { zone: 'UTC' }).toFormat('yyyyLLddHHmmss');
  const segs = [
    `MSH|^~\\&|TIDINGS|TIDINGS|${esc(h.sendingApp ?? '')}|${esc(h.sendingFacility ?? '')}|${ts}||ACK^${esc(h.event ?? '')}^ACK|${esc(ackControlId)}|P|${esc(h.version ?? '2.5.1')}`,
    `MSA|${code}|${esc(h.controlId ?? '')}`,
  ];
  if (error) {
    const sev = code === 'AA' ? 'W' : 'E';
    segs.push(
      `ERR|||${error.code}^${ERROR_TEXT[error.code] ?? 'Error'}^HL70357|${sev}||||${esc(error.text)}`,
    );
  }
  return segs.join('\r');
}
