/**
 * @module carriers/rest
 * What the REST carriers (Twilio-style, Telnyx-style) share: a request with a deadline that
 * `close()` aborts, its answer read as JSON where it is JSON, the carrier's error code as a
 * string, and the event stream that receipts and inbound messages go out on. Each carrier's
 * folder keeps what is its own: the URL, the body, the authentication, its error table.
 */
import { CarrierError, type CarrierEvent, type CarrierListener } from './types.js';

/** A carrier's answer: its HTTP status and its JSON body (`{}` when it was not JSON). */
export interface RestAnswer {
  status: number;
  /** A 2xx status. */
  ok: boolean;
  json: Record<string, unknown>;
}

export abstract class RestCarrier {
  private readonly listeners: CarrierListener[] = [];
  private readonly inflight = new Set<AbortController>();
  private closed = false;

  /**
   * @param prefix the carrier's code prefix (`TWILIO`: `TWILIO_NETWORK`, `TWILIO_CLOSED`).
   * @param timeoutMs how long a request may take before it counts as a transient failure.
   */
  constructor(
    private readonly prefix: string,
    private readonly timeoutMs = 15_000,
  ) {}

  /**
   * Sends one request. A closed adapter, a refused or reset connection and a timeout are
   * `transient` failures (`{prefix}_CLOSED`, `{prefix}_NETWORK`): the carrier may or may not
   * have taken it. Any HTTP status resolves; the caller reads it.
   */
  protected async request(url: string, init: RequestInit): Promise<RestAnswer> {
    if (this.closed) throw new CarrierError('transient', `${this.prefix}_CLOSED`);
    const abort = new AbortController();
    this.inflight.add(abort);
    const timer = setTimeout(() => abort.abort(), this.timeoutMs);
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, { ...init, signal: abort.signal });
      text = await res.text();
    } catch {
      throw new CarrierError('transient', `${this.prefix}_NETWORK`);
    } finally {
      clearTimeout(timer);
      this.inflight.delete(abort);
    }
    let json: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed !== null && typeof parsed === 'object') json = parsed as Record<string, unknown>;
    } catch {
      // Not JSON (a proxy's error page): the status decides.
    }
    return { status: res.status, ok: res.ok, json };
  }

  onEvent(listener: CarrierListener): void {
    this.listeners.push(listener);
  }

  protected emit(event: CarrierEvent): void {
    for (const l of this.listeners) l(event);
  }

  close(): Promise<void> {
    this.closed = true;
    for (const a of this.inflight) a.abort();
    return Promise.resolve();
  }
}

/** A carrier's error code as it sends it (a number or a string), as a string. */
export function carrierCodeOf(v: unknown): string | undefined {
  return typeof v === 'string' || typeof v === 'number' ? String(v) : undefined;
}
