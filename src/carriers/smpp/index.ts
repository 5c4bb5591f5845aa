/**
 * @module carriers/smpp
 * SMPP 3.4 carrier adapter (a direct bind to a carrier's SMSC) behind the carrier interface.
 *
 * - One `bind_transceiver`, or a `bind_transmitter` and a `bind_receiver` (`bind=split`),
 *   over TCP or TLS (`ssmpp://`), kept alive and re-bound with backoff (./link.ts).
 * - A send window: at most `window` (default 10) `submit_sm` unanswered at once, each with a
 *   response timer; optional pacing to `mps` PDUs a second.
 * - ESME_RTHROTTLED / ESME_RMSGQFUL slow the adapter down (the PDU waits and goes again);
 *   they fail a submission only when its deadline passes while still throttled.
 * - Long bodies are split with a concatenation UDH; GSM-7 goes as `data_coding` 0x00 and
 *   UCS-2 as 0x08 (./encode.ts). A message's carrier id is its first part's `message_id`;
 *   the receipts of all its parts are combined into one.
 * - `deliver_sm` receipts (TLVs or Appendix B text) and mobile-originated messages (parts
 *   joined) become events (./deliver.ts); STOP handling belongs to the consent engine,
 *   which sees inbound messages before anything else does.
 * - A `submit_sm` written but unanswered when the session dropped is submitted again once
 *   re-bound; the submission resolves with `possibleDuplicate: true`, and a warning with the
 *   message id is logged, so the record shows the carrier may have it twice.
 * - Failures map to the closed set through one table (./status-codes.ts).
 *
 * Log lines carry message ids, codes and counts only: never the system id, password, a
 * number or a body.
 */
import { randomUUID } from 'node:crypto';
import type { ConnectionOptions } from 'node:tls';
import * as smpp from 'smpp';
import {
  CarrierError,
  type CarrierAdapter,
  type CarrierEvent,
  type CarrierListener,
  type OutboundSms,
  type ReceiptStatus,
  type SubmitResult,
} from '../types.js';
import {
  encodeMessage,
  ESM_CLASS_UDHI,
  NPI_E164,
  TON_INTERNATIONAL,
  toSmppAddress,
  DATA_CODING_GSM7,
} from './encode.js';
import { readDeliverSm, type DeliverSmFields } from './deliver.js';
import { SmppLink, type BindRole, type LinkTimings, type SmppLog } from './link.js';
import { isThrottle, statusKind, statusName } from './status-codes.js';
import { describeBind, parseSmppUrl, type SmppBindSettings } from './url.js';

export { parseSmppUrl, describeBind, type SmppBindSettings } from './url.js';
export { SMPP_STATUS, statusKind, statusName } from './status-codes.js';
export { encodeMessage } from './encode.js';
export { parseReceiptText, readDeliverSm } from './deliver.js';
export type { SmppLog } from './link.js';

export interface SmppOptions {
  /** `smpp://SYSTEM_ID:PASSWORD@HOST:PORT[?window=N&mps=N&bind=split&system_type=X]`. */
  url?: string;
  /** The same as parts (a sender's stored settings); used when `url` is not given. */
  connection?: {
    host: string;
    port: number;
    tls: boolean;
    systemId: string;
    password: string;
    systemType?: string;
    bind?: 'transceiver' | 'split';
  };
  /** Adapter name the worker knows it by (default `smpp`). */
  name?: string;
  /** Outstanding `submit_sm` at most (default: the URL's `window`, else 10). */
  window?: number;
  /** `submit_sm` PDUs a second at most (default: the URL's `mps`, else unpaced). */
  mps?: number;
  log?: SmppLog;
  /** Extra TLS options for `ssmpp://` (e.g. `ca` for a private CA). */
  tlsOptions?: ConnectionOptions;
  enquireLinkMs?: number;
  responseTimeoutMs?: number;
  reconnectInitialMs?: number;
  reconnectMaxMs?: number;
  /** A submission not accepted within this long fails (retryably). */
  submitDeadlineMs?: number;
  throttleInitialMs?: number;
  throttleMaxMs?: number;
  /** `data_coding` for GSM-7 text: 0x00 (default); 0x01 only for SMSCs that ask for IA5. */
  gsmDataCoding?: number;
  /** Vendor `command_status` values (0x0400–0x04FF) that mean "recipient opted out". */
  optOutStatusCodes?: number[];
  /** How long the parts of an inbound concatenated message are waited for. */
  inboundPartsTimeoutMs?: number;
}

export interface SmppStats {
  submitted: number;
  possibleDuplicates: number;
  throttled: number;
  reconnects: number;
}

const DEFAULTS = {
  window: 10,
  enquireLinkMs: 30_000,
  responseTimeoutMs: 10_000,
  reconnectInitialMs: 1_000,
  reconnectMaxMs: 30_000,
  submitDeadlineMs: 30_000,
  throttleInitialMs: 200,
  throttleMaxMs: 5_000,
  inboundPartsTimeoutMs: 120_000,
};
/** Receipt correlation for the parts of multipart messages: at most this many parts. */
const MAX_TRACKED_PARTS = 400_000;
const MAX_INBOUND_ASSEMBLIES = 10_000;

const SILENT: SmppLog = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** The receipts of a multipart message's parts, combined into one for its first part's id. */
interface PartReceipts {
  first: string | undefined;
  remaining: number;
  status: ReceiptStatus;
  errorCode?: string | undefined;
}

interface Job {
  msg: OutboundSms;
  receipts: PartReceipts | undefined;
  parts: Buffer[];
  dataCoding: number;
  ids: (string | undefined)[];
  remaining: number;
  possibleDuplicate: boolean;
  settled: boolean;
  deadline: NodeJS.Timeout;
  resolve: (r: SubmitResult) => void;
  reject: (e: CarrierError) => void;
}

interface PartSend {
  job: Job;
  index: number;
}

interface Assembly {
  parts: (string | undefined)[];
  received: number;
  timer: NodeJS.Timeout;
  from: string;
  to: string;
}

/** Receipt severity: the combined status of a multipart message is its worst part's. */
const SEVERITY: Record<ReceiptStatus, number> = { delivered: 0, expired: 1, failed: 2 };

export class SmppCarrier implements CarrierAdapter {
  readonly name: string;
  private readonly bind: SmppBindSettings;
  private readonly window: number;
  private readonly spacingMs: number;
  private readonly opts: typeof DEFAULTS & SmppOptions;
  private readonly log: SmppLog;
  private readonly optOut: ReadonlySet<number>;
  private readonly tx: SmppLink<PartSend>;
  private readonly rx: SmppLink<PartSend> | undefined;
  private readonly listeners: CarrierListener[] = [];
  private readonly queue: PartSend[] = [];
  private readonly jobs = new Set<Job>();
  private inFlight = 0;
  private nextSendAt = 0;
  private throttledUntil = 0;
  private throttleDelay: number;
  private pumpTimer: NodeJS.Timeout | undefined;
  private reference = Math.floor(Math.random() * 256);
  private started = false;
  private closed = false;
  /** Set while the SMSC refuses the bind's credentials: new submissions fail at once. */
  private refusedWith: number | undefined;
  /** Part id → the combined receipt of its message (multipart messages only). */
  private readonly partOf = new Map<string, PartReceipts>();
  private readonly assemblies = new Map<string, Assembly>();
  private readonly counters: SmppStats = {
    submitted: 0,
    possibleDuplicates: 0,
    throttled: 0,
    reconnects: 0,
  };

  constructor(options: SmppOptions) {
    this.opts = { ...DEFAULTS, ...stripUndefined(options) };
    this.name = options.name ?? 'smpp';
    this.bind = bindSettings(options);
    this.window = options.window ?? this.bind.window ?? DEFAULTS.window;
    const mps = options.mps ?? this.bind.mps;
    this.spacingMs = mps ? 1000 / mps : 0;
    this.log = options.log ?? SILENT;
    this.optOut = new Set(options.optOutStatusCodes ?? []);
    this.throttleDelay = this.opts.throttleInitialMs;
    const timings: LinkTimings = {
      enquireLinkMs: this.opts.enquireLinkMs,
      responseTimeoutMs: this.opts.responseTimeoutMs,
      reconnectInitialMs: this.opts.reconnectInitialMs,
      reconnectMaxMs: this.opts.reconnectMaxMs,
    };
    const link = (role: BindRole) =>
      new SmppLink<PartSend>(role, this.bind, timings, options.tlsOptions, this.log, {
        bound: () => {
          if (role !== 'receiver') this.refusedWith = undefined;
          this.log.info(
            { carrier: this.name, role, peer: describeBind(this.bind), window: this.window },
            'smpp bound',
          );
          if (role !== 'receiver') this.pump();
        },
        down: (reason, unanswered) => this.onDown(role, reason, unanswered),
        deliver: (pdu) => this.onDeliver(pdu as DeliverSmFields),
        bindRefused: (status) => this.onBindRefused(role, status),
      });
    if (this.bind.bind === 'split') {
      this.tx = link('transmitter');
      this.rx = link('receiver');
    } else {
      this.tx = link('transceiver');
    }
  }

  /** Opens the bind(s) now, so inbound messages and receipts flow before the first send. */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.tx.start();
    this.rx?.start();
  }

  stats(): SmppStats {
    return { ...this.counters };
  }

  onEvent(listener: CarrierListener): void {
    this.listeners.push(listener);
  }

  submit(msg: OutboundSms): Promise<SubmitResult> {
    if (this.closed) return Promise.reject(new CarrierError('transient', 'SMPP_CLOSED'));
    if (this.refusedWith !== undefined) {
      return Promise.reject(new CarrierError('config', statusName(this.refusedWith)));
    }
    let encoded;
    try {
      this.reference = (this.reference + 1) & 0xff;
      encoded = encodeMessage(
        msg.body,
        this.reference,
        this.opts.gsmDataCoding ?? DATA_CODING_GSM7,
      );
    } catch {
      return Promise.reject(new CarrierError('permanent', 'SMPP_MESSAGE_TOO_LONG'));
    }
    this.start();
    return new Promise<SubmitResult>((resolve, reject) => {
      const job: Job = {
        msg,
        receipts:
          encoded.parts.length > 1
            ? { first: undefined, remaining: encoded.parts.length, status: 'delivered' }
            : undefined,
        parts: encoded.parts,
        dataCoding: encoded.dataCoding,
        ids: encoded.parts.map(() => undefined),
        remaining: encoded.parts.length,
        possibleDuplicate: false,
        settled: false,
        deadline: setTimeout(() => this.expire(job), this.opts.submitDeadlineMs),
        resolve,
        reject,
      };
      this.jobs.add(job);
      for (let index = 0; index < job.parts.length; index++) this.queue.push({ job, index });
      this.pump();
    });
  }

  /** Sends queued parts while the window, the pacing and any throttling allow. */
  private pump(): void {
    if (this.closed) return;
    while (this.queue.length > 0 && this.inFlight < this.window && this.tx.isBound) {
      const now = Date.now();
      const wait = Math.max(this.throttledUntil, this.nextSendAt) - now;
      if (wait > 0) {
        this.schedulePump(wait);
        return;
      }
      const send = this.queue.shift()!;
      if (send.job.settled) continue;
      if (this.spacingMs > 0) this.nextSendAt = Math.max(now, this.nextSendAt) + this.spacingMs;
      const { job, index } = send;
      const pdu = new smpp.PDU('submit_sm', {
        source_addr_ton: TON_INTERNATIONAL,
        source_addr_npi: NPI_E164,
        source_addr: toSmppAddress(job.msg.from),
        dest_addr_ton: TON_INTERNATIONAL,
        dest_addr_npi: NPI_E164,
        destination_addr: toSmppAddress(job.msg.to),
        esm_class: job.parts.length > 1 ? ESM_CLASS_UDHI : 0,
        // SMPP v3.4 §5.2.17: 0x01 = SMSC delivery receipt requested on success or failure.
        registered_delivery: 0x01,
        data_coding: job.dataCoding,
        short_message: job.parts[index],
      });
      if (!this.tx.request(pdu, send, (resp) => this.onSubmitResp(send, resp))) {
        this.queue.unshift(send);
        return;
      }
      this.inFlight += 1;
      this.counters.submitted += 1;
    }
  }

  private schedulePump(ms: number): void {
    if (this.pumpTimer) return;
    this.pumpTimer = setTimeout(() => {
      this.pumpTimer = undefined;
      this.pump();
    }, ms);
  }

  private onSubmitResp(send: PartSend, resp: smpp.PDU): void {
    this.inFlight -= 1;
    const { job, index } = send;
    const status = resp.command_status;
    if (status === 0) {
      this.throttleDelay = this.opts.throttleInitialMs;
      if (!job.settled) {
        const id = typeof resp.message_id === 'string' ? resp.message_id : '';
        job.ids[index] = id;
        // Registered as each part is accepted: an SMSC may send a part's receipt before it
        // has answered the other parts.
        if (job.receipts) this.trackPart(id, job.receipts);
        job.remaining -= 1;
        if (job.remaining === 0) this.accepted(job);
      }
    } else if (isThrottle(status)) {
      // Slow down, never fail: the part waits at the head of the queue (issue 6).
      this.counters.throttled += 1;
      if (!job.settled) this.queue.unshift(send);
      if (this.throttledUntil <= Date.now()) {
        this.log.info(
          { carrier: this.name, status: statusName(status), delayMs: this.throttleDelay },
          'smpp peer throttling: slowing down',
        );
      }
      this.throttledUntil = Math.max(this.throttledUntil, Date.now() + this.throttleDelay);
      this.throttleDelay = Math.min(this.opts.throttleMaxMs, this.throttleDelay * 2);
    } else if (!job.settled) {
      this.settle(job);
      job.reject(new CarrierError(statusKind(status, this.optOut), statusName(status)));
    }
    this.pump();
  }

  private accepted(job: Job): void {
    this.settle(job);
    const carrierMessageId = job.ids[0] ?? '';
    if (job.receipts) {
      job.receipts.first = carrierMessageId;
      this.maybeEmitCombined(job.receipts);
    }
    if (job.possibleDuplicate) {
      this.counters.possibleDuplicates += 1;
      this.log.warn(
        { carrier: this.name, messageId: job.msg.messageId, carrierMessageId },
        'smpp submission possibly duplicated: resubmitted after the session dropped unanswered',
      );
      resolveWith(job, { carrierMessageId, possibleDuplicate: true });
      return;
    }
    resolveWith(job, { carrierMessageId });
  }

  private settle(job: Job): void {
    job.settled = true;
    clearTimeout(job.deadline);
    this.jobs.delete(job);
  }

  private expire(job: Job): void {
    if (job.settled) return;
    this.settle(job);
    const throttled = this.throttledUntil > Date.now();
    job.reject(
      throttled
        ? new CarrierError('throttled', 'ESME_RTHROTTLED')
        : new CarrierError('transient', this.tx.isBound ? 'SMPP_TIMEOUT' : 'SMPP_NOT_BOUND'),
    );
  }

  private onDown(role: BindRole, reason: string, unanswered: PartSend[]): void {
    if (role !== 'receiver') {
      this.inFlight -= unanswered.length;
      // Written, never answered: the SMSC may or may not have it. Send again (first, in
      // order) and mark the message, so the record says it may have gone twice.
      const again = unanswered.filter((s) => !s.job.settled);
      for (const s of again) s.job.possibleDuplicate = true;
      this.queue.unshift(...again);
      if (again.length > 0) {
        this.log.warn(
          {
            carrier: this.name,
            unanswered: again.length,
            messageIds: [...new Set(again.map((s) => s.job.msg.messageId))].slice(0, 50),
          },
          'smpp submissions unanswered when the session dropped: will resubmit',
        );
      }
    }
    if (this.closed) return;
    this.counters.reconnects += 1;
    this.log.warn({ carrier: this.name, role, reason }, 'smpp session down: reconnecting');
  }

  private onBindRefused(role: BindRole, status: number): void {
    const kind = statusKind(status);
    this.log.error({ carrier: this.name, role, status: statusName(status) }, 'smpp bind refused');
    // Wrong credentials will not fix themselves: fail what waits, as a configuration error.
    if (kind === 'config' && role !== 'receiver') {
      this.refusedWith = status;
      for (const job of [...this.jobs]) {
        this.settle(job);
        job.reject(new CarrierError('config', statusName(status)));
      }
      this.queue.length = 0;
    }
  }

  private onDeliver(pdu: DeliverSmFields): void {
    const d = readDeliverSm(pdu);
    switch (d.type) {
      case 'unreadable':
        this.log.warn({ carrier: this.name }, 'smpp deliver_sm not understood: ignored');
        return;
      case 'receipt':
        if (d.status) this.onReceipt(d.carrierMessageId, d.status, d.errorCode);
        return;
      case 'inbound':
        if (d.part) this.assemble(d.from, d.to, d.body, d.part);
        else this.emit({ type: 'inbound', carrierMessageId: inboundId(), ...pick(d), at: 0 });
        return;
    }
  }

  private trackPart(id: string, receipts: PartReceipts): void {
    this.partOf.set(id, receipts);
    while (this.partOf.size > MAX_TRACKED_PARTS) {
      const oldest = this.partOf.keys().next().value as string;
      this.partOf.delete(oldest);
    }
  }

  private onReceipt(id: string, status: ReceiptStatus, errorCode: string | undefined): void {
    const combined = this.partOf.get(id);
    if (!combined) {
      this.emit({
        type: 'receipt',
        carrierMessageId: id,
        status,
        ...(errorCode ? { errorCode } : {}),
        at: 0,
      });
      return;
    }
    this.partOf.delete(id);
    if (SEVERITY[status] > SEVERITY[combined.status]) {
      combined.status = status;
      combined.errorCode = errorCode;
    }
    combined.remaining -= 1;
    this.maybeEmitCombined(combined);
  }

  /** Once every part has its receipt and the message its id, one receipt for the message. */
  private maybeEmitCombined(c: PartReceipts): void {
    if (c.remaining > 0 || c.first === undefined) return;
    this.emit({
      type: 'receipt',
      carrierMessageId: c.first,
      status: c.status,
      ...(c.errorCode ? { errorCode: c.errorCode } : {}),
      at: 0,
    });
  }

  /** Joins the parts of a concatenated inbound message; on timeout, what arrived is passed on. */
  private assemble(
    from: string,
    to: string,
    body: string,
    part: { reference: number; total: number; sequence: number },
  ): void {
    const key = `${from}|${to}|${part.reference}|${part.total}`;
    let a = this.assemblies.get(key);
    if (!a) {
      if (this.assemblies.size >= MAX_INBOUND_ASSEMBLIES) {
        const [oldest] = this.assemblies.keys();
        if (oldest !== undefined) this.finishAssembly(oldest);
      }
      const timer = setTimeout(() => this.finishAssembly(key), this.opts.inboundPartsTimeoutMs);
      timer.unref();
      a = { parts: new Array<string | undefined>(part.total), received: 0, timer, from, to };
      this.assemblies.set(key, a);
    }
    const i = part.sequence - 1;
    if (i >= 0 && i < a.parts.length && a.parts[i] === undefined) {
      a.parts[i] = body;
      a.received += 1;
    }
    if (a.received === a.parts.length) this.finishAssembly(key);
  }

  private finishAssembly(key: string): void {
    const a = this.assemblies.get(key);
    if (!a) return;
    this.assemblies.delete(key);
    clearTimeout(a.timer);
    if (a.received < a.parts.length) {
      this.log.warn(
        { carrier: this.name, received: a.received, total: a.parts.length },
        'smpp inbound message incomplete: passing on the parts received',
      );
    }
    this.emit({
      type: 'inbound',
      carrierMessageId: inboundId(),
      from: a.from,
      to: a.to,
      body: a.parts.map((p) => p ?? '').join(''),
      at: 0,
    });
  }

  private emit(event: CarrierEvent): void {
    const stamped = { ...event, at: Date.now() };
    for (const l of this.listeners) {
      // A listener's failure must not reach the socket's read loop (it would crash it).
      try {
        l(stamped);
      } catch {
        this.log.error({ carrier: this.name, event: event.type }, 'carrier event listener failed');
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.pumpTimer) clearTimeout(this.pumpTimer);
    for (const job of [...this.jobs]) {
      this.settle(job);
      job.reject(new CarrierError('transient', 'SMPP_CLOSED'));
    }
    this.queue.length = 0;
    for (const key of [...this.assemblies.keys()]) this.finishAssembly(key);
    await Promise.all([this.tx.stop(), this.rx?.stop()]);
  }
}

function bindSettings(o: SmppOptions): SmppBindSettings {
  if (o.url !== undefined) return parseSmppUrl(o.url);
  const c = o.connection;
  if (!c) throw new CarrierError('config', 'SMPP_NO_URL');
  return {
    tls: c.tls,
    host: c.host,
    port: c.port,
    systemId: c.systemId,
    password: c.password,
    systemType: c.systemType ?? '',
    bind: c.bind ?? 'transceiver',
  };
}

function resolveWith(job: Job, r: SubmitResult): void {
  job.resolve(r);
}

function pick(d: { from: string; to: string; body: string }) {
  return { from: d.from, to: d.to, body: d.body };
}

function inboundId(): string {
  return `smpp-in-${randomUUID()}`;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The factory the runtime and per-sender wiring use. */
export function createSmppAdapter(options: SmppOptions): SmppCarrier {
  return new SmppCarrier(options);
}
