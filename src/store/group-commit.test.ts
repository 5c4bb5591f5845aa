import { describe, expect, it } from 'vitest';
import { GroupCommitter } from './group-commit.js';

describe('GroupCommitter', () => {
  it('commits items that arrive together in one batch, in order', async () => {
    const batches: number[][] = [];
    const gc = new GroupCommitter<number, number>(async (items) => {
      batches.push(items);
      return items.map((i) => i * 2);
    });
    const results = await Promise.all([1, 2, 3, 4].map((i) => gc.submit(i)));
    expect(results).toEqual([2, 4, 6, 8]);
    expect(batches).toEqual([[1, 2, 3, 4]]);
  });

  it('forms the next batch from items arriving while one commits, capped in size', async () => {
    const batches: number[] = [];
    const gc = new GroupCommitter<number, void>(async (items) => {
      batches.push(items.length);
      await new Promise((r) => setTimeout(r, 10));
      return items.map(() => undefined);
    }, 3);
    const first = gc.submit(0);
    await new Promise((r) => setImmediate(r));
    const rest = Array.from({ length: 7 }, (_, i) => gc.submit(i + 1));
    await Promise.all([first, ...rest]);
    expect(batches).toEqual([1, 3, 3, 1]);
    await gc.idle();
  });

  it('rejects every item of a failed batch and recovers', async () => {
    let fail = true;
    const gc = new GroupCommitter<number, number>(async (items) => {
      if (fail) throw new Error('disk full');
      return items;
    });
    const failed = await Promise.allSettled([gc.submit(1), gc.submit(2)]);
    expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    expect(await gc.submit(3)).toBe(3);
  });

  it('with a linger, waits for items arriving over several turns, or until maxBatch wait', async () => {
    const batches: number[][] = [];
    const committer = (lingerMs: number) =>
      new GroupCommitter<number, void>(
        async (items) => {
          batches.push(items);
          return items.map(() => undefined);
        },
        4,
        undefined,
        () => lingerMs,
      );
    const gc = committer(1_000);
    const a = gc.submit(1);
    await new Promise((r) => setTimeout(r, 5));
    const b = gc.submit(2);
    await Promise.all([a, b]);
    // Several turns of the event loop apart, yet one commit; without the linger, two.
    expect(batches).toEqual([[1, 2]]);
    // A full batch is committed at once: waiting out this linger would time the test out.
    const full = committer(600_000);
    await Promise.all([3, 4, 5, 6].map((i) => full.submit(i)));
    expect(batches).toEqual([
      [1, 2],
      [3, 4, 5, 6],
    ]);
    await full.idle();
  });
});
