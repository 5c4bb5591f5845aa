/**
 * @module dispatch/rate-limit
 * Per-sender rate limit (messages per second) as a token bucket with a one-second burst.
 * It paces this process only. The dispatch worker uses dispatch/segment-limit instead, which
 * counts segments and holds across worker processes; this one stays for in-process pacing.
 */

interface Bucket {
  tokens: number;
  updated: number;
}

export class SenderRateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  /** Resolves when one message may be sent from `senderId` at `mps` per second. */
  take(senderId: string, mps: number, now = Date.now()): Promise<void> {
    const delay = this.reserve(senderId, mps, now);
    if (delay <= 0) return Promise.resolve();
    return new Promise((resolve) => setTimeout(resolve, delay));
  }

  /** Reserves a token and returns how many milliseconds to wait for it. */
  reserve(senderId: string, mps: number, now = Date.now()): number {
    let b = this.buckets.get(senderId);
    if (!b) {
      b = { tokens: mps, updated: now };
      this.buckets.set(senderId, b);
    }
    b.tokens = Math.min(mps, b.tokens + ((now - b.updated) / 1000) * mps);
    b.updated = now;
    b.tokens -= 1;
    if (b.tokens >= 0) return 0;
    // In debt: wait until the bucket has refilled to zero.
    return Math.ceil((-b.tokens / mps) * 1000);
  }
}
