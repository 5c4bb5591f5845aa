/**
 * @module integrations/hl7v2/mllp
 * MLLP framing (HL7 v2 Minimal Lower Layer Protocol, HL7 Implementation Guide appendix C):
 * each message is `<VT> message <FS><CR>`, VT = 0x0b, FS = 0x1c, CR = 0x0d. Pure.
 */
export const VT = 0x0b;
export const FS = 0x1c;
export const CR = 0x0d;
/** A frame larger than this is refused and the connection closed (a runaway sender). */
export const MAX_FRAME_BYTES = 1024 * 1024;

export function frame(message: string): Buffer {
  return Buffer.concat([Buffer.from([VT]), Buffer.from(message, 'utf8'), Buffer.from([FS, CR])]);
}

/** Accumulates bytes and yields complete messages; bytes outside a frame are dropped. */
export class MllpDecoder {
  private buf: Buffer = Buffer.alloc(0);

  /** The messages completed by `chunk`; throws when a frame exceeds MAX_FRAME_BYTES. */
  push(chunk: Buffer): string[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: string[] = [];
    for (;;) {
      const start = this.buf.indexOf(VT);
      if (start < 0) {
        this.buf = Buffer.alloc(0);
        break;
      }
      const end = this.buf.indexOf(FS, start + 1);
      if (end < 0) {
        this.buf = this.buf.subarray(start);
        if (this.buf.length > MAX_FRAME_BYTES) throw new Error('MLLP frame too large');
        break;
      }
      out.push(this.buf.subarray(start + 1, end).toString('utf8'));
      let next = end + 1;
      if (this.buf[next] === CR) next++;
      this.buf = this.buf.subarray(next);
    }
    return out;
  }
}
