/**
 * @module carriers/smpp/link
 * One SMPP session kept bound: connect (TCP or TLS), bind, keep alive, answer the peer, time
 * out requests, and reconnect with backoff. The `smpp` package only encodes and decodes PDUs
 * over a socket; everything here is what it leaves to its user:
 *
 * - every request gets a response timer — a peer that stops answering drops the session
 *   (and its unanswered requests are handed back), instead of leaking callbacks;
 * - `enquire_link` (SMPP v3.4 §4.11) is sent when the link is idle, and the peer's own
 *   `enquire_link` and `unbind` (§4.2) are answered;
 * - requests the adapter does not support get `generic_nack` with ESME_RINVCMDID (§4.3).
 *
 * Responses are matched by sequence number here, not through the package's callback table,
 * so nothing is left behind when a session dies.
 */
import * as smpp from 'smpp';
import type { ConnectionOptions } from 'node:tls';
import type { SmppBindSettings } from './url.js';

export type BindRole = 'transceiver' | 'transmitter' | 'receiver';

/** What the adapter logs through; pino's Logger fits. */
export interface SmppLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface LinkTimings {
  /** Send enquire_link after this long without traffic from the peer. */
  enquireLinkMs: number;
  /** A request (bind, submit_sm, enquire_link) unanswered this long drops the session. */
  responseTimeoutMs: number;
  /** First reconnect delay; doubles (with jitter) up to `reconnectMaxMs`. */
  reconnectInitialMs: number;
  reconnectMaxMs: number;
}

export interface LinkHandlers<T> {
  bound(): void;
  /** The session ended; `unanswered` are the tags of requests written but never answered. */
  down(reason: string, unanswered: T[]): void;
  /** A `deliver_sm` from the peer (already answered with `deliver_sm_resp`). */
  deliver(pdu: smpp.PDU): void;
  bindRefused(status: number): void;
}

interface Pending<T> {
  tag: T | undefined;
  onResponse: (pdu: smpp.PDU) => void;
  timer: NodeJS.Timeout;
}

/** SMPP v3.4 §5.2.4: interface_version 0x34 says the ESME speaks 3.4. */
const INTERFACE_VERSION = 0x34;
const ESME_RINVCMDID = 0x0003;
/** Requests the peer may send that need no response (§4.12: alert_notification). */
const NO_RESPONSE = new Set(['alert_notification']);

export class SmppLink<T> {
  private session: smpp.Session | undefined;
  private readonly pending = new Map<number, Pending<T>>();
  private state: 'idle' | 'connecting' | 'bound' | 'stopped' = 'idle';
  private retryDelay: number;
  private retryTimer: NodeJS.Timeout | undefined;
  private keepAlive: NodeJS.Timeout | undefined;
  private lastHeard = 0;
  private enquiring = false;
  private corked = false;

  constructor(
    readonly role: BindRole,
    private readonly bind: SmppBindSettings,
    private readonly timings: LinkTimings,
    private readonly tlsOptions: ConnectionOptions | undefined,
    private readonly log: SmppLog,
    private readonly handlers: LinkHandlers<T>,
  ) {
    this.retryDelay = timings.reconnectInitialMs;
  }

  get isBound(): boolean {
    return this.state === 'bound';
  }

  /** Requests written and not yet answered. */
  get outstanding(): number {
    return this.pending.size;
  }

  start(): void {
    if (this.state !== 'idle') return;
    this.connect();
  }

  private connect(): void {
    this.state = 'connecting';
    const options = {
      host: this.bind.host,
      port: this.bind.port,
      tls: this.bind.tls,
      ...(this.bind.tls ? { servername: this.bind.host, ...this.tlsOptions } : {}),
    };
    const session = smpp.connect(options as smpp.SessionOptions);
    this.session = session;
    // No Nagle delay, but the PDUs written in one tick leave together (see write()): one
    // segment per burst, without waiting for an ACK on the last PDUs of a window.
    session.socket.setNoDelay(true);
    session.on(this.bind.tls ? 'secureConnect' : 'connect', () => this.sendBind(session));
    session.on('pdu', (pdu: smpp.PDU) => this.onPdu(session, pdu));
    session.on('close', () => this.drop(session, 'connection closed'));
    session.on('error', (e: unknown) => {
      const code = (e as { code?: unknown }).code;
      // The error's message may quote the peer's address or data: log its code only.
      this.log.warn(
        { carrier: 'smpp', role: this.role, code: typeof code === 'string' ? code : 'ERROR' },
        'smpp socket error',
      );
      this.drop(session, 'socket error');
    });
  }

  private sendBind(session: smpp.Session): void {
    const command = `bind_${this.role}`;
    const pdu = new smpp.PDU(command, {
      system_id: this.bind.systemId,
      password: this.bind.password,
      system_type: this.bind.systemType,
      interface_version: INTERFACE_VERSION,
    });
    this.write(session, pdu, undefined, (resp) => {
      if (resp.command_status !== 0) {
        this.handlers.bindRefused(resp.command_status);
        this.drop(session, 'bind refused');
        return;
      }
      this.state = 'bound';
      this.retryDelay = this.timings.reconnectInitialMs;
      this.lastHeard = Date.now();
      this.keepAlive = setInterval(() => this.checkAlive(session), this.timings.enquireLinkMs / 2);
      this.keepAlive.unref();
      this.handlers.bound();
    });
  }

  /** Writes a request on the bound session; false when the link cannot take it now. */
  request(pdu: smpp.PDU, tag: T, onResponse: (pdu: smpp.PDU) => void): boolean {
    if (this.state !== 'bound' || !this.session) return false;
    return this.write(this.session, pdu, tag, onResponse);
  }

  private write(
    session: smpp.Session,
    pdu: smpp.PDU,
    tag: T | undefined,
    onResponse: (pdu: smpp.PDU) => void,
  ): boolean {
    if (!this.corked) {
      this.corked = true;
      session.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        session.socket.uncork();
      });
    }
    if (!session.send(pdu)) {
      this.drop(session, 'socket not writable');
      return false;
    }
    const timer = setTimeout(
      () => this.drop(session, `no response to ${pdu.command}`),
      this.timings.responseTimeoutMs,
    );
    this.pending.set(pdu.sequence_number, { tag, onResponse, timer });
    return true;
  }

  private onPdu(session: smpp.Session, pdu: smpp.PDU): void {
    if (session !== this.session) return;
    this.lastHeard = Date.now();
    if (pdu.isResponse()) {
      const p = this.pending.get(pdu.sequence_number);
      if (!p) return; // a late answer to a request already given up on
      this.pending.delete(pdu.sequence_number);
      clearTimeout(p.timer);
      p.onResponse(pdu);
      return;
    }
    switch (pdu.command) {
      case 'enquire_link':
        session.send(pdu.response());
        return;
      case 'deliver_sm':
        // Answered first: the SMSC redelivers what is not acknowledged (§4.6.2), and what
        // follows (recording it) is the adapter's listener's job.
        session.send(pdu.response({ message_id: '' }));
        this.handlers.deliver(pdu);
        return;
      case 'unbind':
        session.send(pdu.response());
        this.log.info({ carrier: 'smpp', role: this.role }, 'smpp peer unbound');
        // Let the response leave before the socket goes.
        session.close();
        return;
      default:
        if (NO_RESPONSE.has(pdu.command)) return;
        session.send(
          new smpp.PDU('generic_nack', {
            sequence_number: pdu.sequence_number,
            command_status: ESME_RINVCMDID,
          }),
        );
    }
  }

  private checkAlive(session: smpp.Session): void {
    if (session !== this.session || this.state !== 'bound' || this.enquiring) return;
    if (Date.now() - this.lastHeard < this.timings.enquireLinkMs) return;
    this.enquiring = true;
    this.write(session, new smpp.PDU('enquire_link', {}), undefined, () => {
      this.enquiring = false;
    });
  }

  private drop(session: smpp.Session, reason: string): void {
    if (session !== this.session) return;
    this.session = undefined;
    if (this.keepAlive) clearInterval(this.keepAlive);
    this.keepAlive = undefined;
    this.enquiring = false;
    const unanswered: T[] = [];
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      if (p.tag !== undefined) unanswered.push(p.tag);
    }
    this.pending.clear();
    session.removeAllListeners('pdu');
    session.on('error', () => undefined);
    session.destroy();
    const wasStopped = this.state === 'stopped';
    if (!wasStopped) this.state = 'connecting';
    this.handlers.down(reason, unanswered);
    if (wasStopped) return;
    const delay = Math.round(this.retryDelay * (0.75 + Math.random() * 0.5));
    this.retryDelay = Math.min(this.timings.reconnectMaxMs, this.retryDelay * 2);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.state !== 'stopped') this.connect();
    }, delay);
  }

  /** Unbinds (waiting briefly for the answer) and closes; no reconnect afterwards. */
  async stop(): Promise<void> {
    const session = this.session;
    const wasBound = this.state === 'bound';
    this.state = 'stopped';
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (!session) return;
    if (wasBound) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(1_000, this.timings.responseTimeoutMs));
        const sent = this.write(session, new smpp.PDU('unbind', {}), undefined, () => {
          clearTimeout(timer);
          resolve();
        });
        if (!sent) {
          clearTimeout(timer);
          resolve();
        }
      });
    }
    this.drop(session, 'closed');
  }
}
