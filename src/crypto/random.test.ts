import { describe, expect, it } from 'vitest';
import { randomPoolBytes, randomUnit } from './random.js';

describe('random pool', () => {
  it('hands out fresh bytes every time, across refills', () => {
    const seen = new Set<string>();
    // 12-byte IVs, well past several refills of the 64 KiB pool.
    for (let i = 0; i < 20_000; i++) {
      const iv = randomPoolBytes(12);
      expect(iv.length).toBe(12);
      seen.add(iv.toString('hex'));
    }
    expect(seen.size).toBe(20_000);
  });

  it('returns buffers the caller owns', () => {
    const a = randomPoolBytes(16);
    const copy = Buffer.from(a);
    randomPoolBytes(16);
    expect(a.equals(copy)).toBe(true);
    expect(a.buffer.byteLength).toBeLessThan(64 * 1024);
  });

  it('gives uniform numbers in [0, 1)', () => {
    const buckets = new Array<number>(10).fill(0);
    let min = 1;
    let max = 0;
    for (let i = 0; i < 50_000; i++) {
      const u = randomUnit();
      min = Math.min(min, u);
      max = Math.max(max, u);
      buckets[Math.floor(u * 10)]!++;
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    for (const b of buckets) expect(Math.abs(b - 5_000)).toBeLessThan(500);
  });

  it('refuses requests larger than the pool', () => {
    expect(() => randomPoolBytes(64 * 1024 + 1)).toThrow(RangeError);
  });
});
