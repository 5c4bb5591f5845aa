/**
 * @module crypto/random
 * Cryptographically secure random bytes, drawn from a pool refilled in large blocks. A
 * `randomBytes` call per IV or id costs a system call each; the hot accept path needs several
 * per message. Every byte is handed out once and never reused.
 */
import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 64 * 1024;
const pool = Buffer.allocUnsafeSlow(POOL_BYTES);
let offset = POOL_BYTES;

/** `n` fresh random bytes (n ≤ 64 KiB), in a buffer the caller owns. */
export function randomPoolBytes(n: number): Buffer {
  if (n > POOL_BYTES) throw new RangeError(`at most ${POOL_BYTES} bytes at a time`);
  if (offset + n > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const out = Buffer.from(pool.subarray(offset, offset + n));
  // Wipe what was handed out so it can never be handed out again, even by mistake.
  pool.fill(0, offset, offset + n);
  offset += n;
  return out;
}

/** A uniform number in [0, 1) with 32 random bits, for libraries that take a PRNG function. */
export function randomUnit(): number {
  return randomPoolBytes(4).readUInt32BE(0) / 0x1_0000_0000;
}
