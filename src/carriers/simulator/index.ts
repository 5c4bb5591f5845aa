/**
 * @module carriers/simulator
 * An in-process carrier for development, demos and tests. Submissions succeed after a
 * configurable latency (or fail transiently at a configurable rate); a delivery receipt
 * follows a moment later. When a log file is configured, each submission appends one JSON
 * line `{"messageId","to","from","body","at"}` before the submit returns: that file is how
 * tests and operators see what "left" the system. It is a development tool: the log holds
 * message content, so never point it at a production installation's real traffic.
 */
import fs from 'node:fs';
import { randomUUID } from 'node:crypto';
import {
  CarrierError,
  type CarrierAdapter,
  type CarrierEvent,
  type CarrierListener,
  type OutboundSms,
  type SubmitResult,
} from '../types.js';

export interface SimulatorOptions {
  /** Milliseconds from submit to the delivery receipt. */
  latencyMs: number;
  /** Fraction of submissions (0–1) that fail with a transient error. */
  failureRate: number;
  /** Append-only JSON-lines file of submissions. */
  logFile?: string | undefined;
  /** Optional rule deciding a failure for a message (tests). */
  failWith?: (msg: OutboundSms) => CarrierError | undefined;
}

export class SimulatorCarrier implements CarrierAdapter {
  readonly name = 'simulator';
  private readonly listeners: CarrierListener[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly fd: number | undefined;
  private closed = false;

  constructor(private readonly opts: SimulatorOptions) {
    // It holds numbers and texts (it stands in for the phones): owner-only when created.
    this.fd = opts.logFile ? fs.openSync(opts.logFile, 'a', 0o600) : undefined;
  }

  submit(msg: OutboundSms): Promise<SubmitResult> {
    if (this.closed) return Promise.reject(new CarrierError('transient', 'SIM_CLOSED'));
    const forced = this.opts.failWith?.(msg);
    if (forced) return Promise.reject(forced);
    if (this.opts.failureRate > 0 && Math.random() < this.opts.failureRate) {
      return Promise.reject(new CarrierError('transient', 'SIM_RANDOM_FAILURE'));
    }
    const carrierMessageId = `sim-${randomUUID()}`;
    if (this.fd !== undefined) {
      const line = JSON.stringify({
        messageId: msg.messageId,
        to: msg.to,
        from: msg.from,
        body: msg.body,
        at: new Date().toISOString(),
      });
      fs.writeSync(this.fd, `${line}\n`);
    }
    this.later(this.opts.latencyMs, {
      type: 'receipt',
      carrierMessageId,
      status: 'delivered',
      at: 0,
    });
    return Promise.resolve({ carrierMessageId });
  }

  /** Injects a mobile-originated message, as a real carrier would deliver one. */
  injectInbound(from: string, to: string, body: string): void {
    this.emit({ type: 'inbound', carrierMessageId: `sim-${randomUUID()}`, from, to, body, at: 0 });
  }

  onEvent(listener: CarrierListener): void {
    this.listeners.push(listener);
  }

  private later(ms: number, event: CarrierEvent): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.emit(event);
    }, ms);
    t.unref();
    this.timers.add(t);
  }

  private emit(event: CarrierEvent): void {
    const stamped = { ...event, at: Date.now() };
    for (const l of this.listeners) l(stamped);
  }

  close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.fd !== undefined) fs.closeSync(this.fd);
    return Promise.resolve();
  }
}
