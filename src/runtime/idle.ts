/**
 * @module runtime/idle
 * The pause of a polling worker that found nothing to do: it sleeps until its poll interval
 * has passed or until someone wakes it (new work accepted in this process, or shutdown).
 */
export class IdleWait {
  private waker: (() => void) | undefined;

  /** Resolves after `ms`, or at once when `wake()` is called meanwhile. */
  sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waker = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waker = done;
    });
  }

  /** Ends the current sleep, if any. */
  wake(): void {
    this.waker?.();
  }
}
