/**
 * @module dispatch/circuit-breaker
 * A circuit breaker per carrier account: after `threshold` failures in a row that say the
 * carrier is in trouble (transient or throttled), it opens and the worker sends through the
 * organisation's secondary sender; after `openMs` one message tries the primary again
 * (half-open) and a success closes it. Each process keeps its own breaker: it is a judgement
 * about health, not state anything depends on, so it need not be shared.
 */

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerOptions {
  threshold: number;
  openMs: number;
}

export const DEFAULT_BREAKER: BreakerOptions = { threshold: 5, openMs: 30_000 };

interface Circuit {
  state: BreakerState;
  failures: number;
  openedAt: number;
  /** When the half-open trial was let through (0: none yet). */
  trialAt: number;
}

export class CircuitBreaker {
  private readonly circuits = new Map<string, Circuit>();

  constructor(private readonly opts: BreakerOptions = DEFAULT_BREAKER) {}

  private get(key: string): Circuit {
    let c = this.circuits.get(key);
    if (!c) {
      c = { state: 'closed', failures: 0, openedAt: 0, trialAt: 0 };
      this.circuits.set(key, c);
    }
    return c;
  }

  state(key: string): BreakerState {
    return this.circuits.get(key)?.state ?? 'closed';
  }

  /** Whether a message may go to this carrier now (half-open lets one trial through). */
  allow(key: string, now = Date.now()): boolean {
    const c = this.get(key);
    if (c.state === 'closed') return true;
    if (c.state === 'open' && now - c.openedAt >= this.opts.openMs) {
      c.state = 'half_open';
      c.trialAt = 0;
    }
    // A trial that never reported (its message was canceled before sending) is replaced.
    if (c.state === 'half_open' && (c.trialAt === 0 || now - c.trialAt >= this.opts.openMs)) {
      c.trialAt = now;
      return true;
    }
    return false;
  }

  /** A submission succeeded; `recovered` when this closed an open circuit. */
  success(key: string): 'recovered' | undefined {
    const c = this.get(key);
    const was = c.state;
    c.state = 'closed';
    c.failures = 0;
    c.trialAt = 0;
    return was === 'closed' ? undefined : 'recovered';
  }

  /** A submission failed for the carrier's sake; `opened` when this opened the circuit. */
  failure(key: string, now = Date.now()): 'opened' | undefined {
    const c = this.get(key);
    c.failures += 1;
    if (c.state === 'half_open') {
      c.state = 'open';
      c.openedAt = now;
      c.trialAt = 0;
      return undefined;
    }
    if (c.state === 'closed' && c.failures >= this.opts.threshold) {
      c.state = 'open';
      c.openedAt = now;
      return 'opened';
    }
    return undefined;
  }
}
