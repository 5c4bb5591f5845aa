/**
 * @module store/group-commit
 * Group commit: work items that arrive together share one transaction, and each caller's
 * promise settles only after that transaction has committed (or failed). One fsync then
 * serves hundreds of messages instead of one, which is what lets the durable accept path
 * keep up with the HTTP API. Items arriving while a batch commits form the next batch.
 */

interface Pending<T, R> {
  item: T;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}

export class GroupCommitter<T, R> {
  private queue: Pending<T, R>[] = [];
  private running = false;
  private scheduled = false;
  private idleWaiters: (() => void)[] = [];
  private lingerTimer: NodeJS.Timeout | undefined;

  /**
   * @param commit writes a whole batch in one transaction and returns one result per item,
   *   in order; if it throws, every item of the batch is rejected with that error.
   * @param lingerMs how long the first item of a batch waits for others before the commit
   *   (unless `maxBatch` are waiting sooner), asked when that item arrives. 0: only those
   *   that arrive in the same turn of the event loop join it, for callers whose latency
   *   matters (an API request waits on it).
   */
  constructor(
    private readonly commit: (items: T[]) => Promise<R[]>,
    private readonly maxBatch = 500,
    private readonly onBatch?: (size: number) => void,
    private readonly lingerMs: () => number = () => 0,
  ) {}

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.running) return;
      if (this.lingerTimer && this.queue.length >= this.maxBatch) {
        // A full batch need not wait for the rest of the linger.
        clearTimeout(this.lingerTimer);
        this.lingerTimer = undefined;
        setImmediate(() => void this.drain());
      } else if (!this.scheduled) {
        this.scheduled = true;
        const linger = this.lingerMs();
        if (linger > 0) {
          this.lingerTimer = setTimeout(() => {
            this.lingerTimer = undefined;
            void this.drain();
          }, linger);
        } else {
          // Let every request already read from the sockets in this turn join the batch.
          setImmediate(() => void this.drain());
        }
      }
    });
  }

  /** Resolves once nothing is queued or committing. */
  idle(): Promise<void> {
    if (!this.running && !this.scheduled && this.queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private async drain(): Promise<void> {
    this.scheduled = false;
    if (this.running) return;
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.maxBatch);
        this.onBatch?.(batch.length);
        try {
          const results = await this.commit(batch.map((p) => p.item));
          batch.forEach((p, i) => p.resolve(results[i] as R));
        } catch (e) {
          for (const p of batch) p.reject(e);
        }
      }
    } finally {
      this.running = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}
