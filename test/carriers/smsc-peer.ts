/**
 * A local SMSC for tests and benchmarks, built on the server side of the `smpp` package: it
 * listens on 127.0.0.1 (port 0), checks the bind's credentials, answers `submit_sm` with a
 * `message_id`, optionally sends a delivery receipt for each, and can be told to throttle,
 * refuse, stop answering, drop every session, or send a mobile-originated message.
 * Everything it received is kept for the test to look at.
 */
import type { AddressInfo } from 'node:net';
import * as smpp from 'smpp';

export interface PeerSubmit {
  seq: number;
  messageId: string;
  to: string;
  from: string;
  sourceTon: number;
  destTon: number;
  dataCoding: number;
  esmClass: number;
  /** Decoded text of this PDU (without the UDH). */
  text: string;
  udh: Buffer[];
  /** When the peer read it (ms since the epoch). */
  at: number;
}

export interface PeerOptions {
  systemId?: string;
  password?: string;
  /** Send a delivery receipt after each accepted submit_sm: as TLVs, as Appendix B text, or not. */
  receipts?: 'tlv' | 'text' | 'none';
  /** Milliseconds from accepting a submit_sm to its receipt (default 0: at once). */
  receiptDelayMs?: number;
  /** TLS key and certificate (PEM): the peer speaks SMPP over TLS. */
  tls?: { key: string; cert: string };
}

export class SmscPeer {
  readonly submits: PeerSubmit[] = [];
  binds = 0;
  enquireLinks = 0;
  /** Answer the next n submit_sm with ESME_RTHROTTLED. */
  throttleNext = 0;
  /** Answer the next submit_sm with this command_status. */
  refuseNextWith: number | undefined;
  /** Leave requests unanswered (the peer "hangs"). */
  silent = false;
  /** Hold submit_sm answers until released (to fill the window). */
  holdAnswers = false;
  private held: (() => void)[] = [];
  private counter = 0;
  private server!: smpp.Server;
  port = 0;
  readonly sessions = new Set<smpp.Session>();
  private readonly receivers = new Set<smpp.Session>();

  constructor(private readonly opts: PeerOptions = {}) {}

  get url(): string {
    const scheme = this.opts.tls ? 'ssmpp' : 'smpp';
    return `${scheme}://${this.opts.systemId ?? 'tidings'}:${this.opts.password ?? 'secret'}@127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.server = smpp.createServer(this.opts.tls ?? {}, (s) => this.onSession(s));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  private onSession(session: smpp.Session): void {
    this.sessions.add(session);
    session.on('error', () => undefined);
    session.on('close', () => {
      this.sessions.delete(session);
      this.receivers.delete(session);
    });
    session.on('pdu', (pdu: smpp.PDU) => this.onPdu(session, pdu));
  }

  private onPdu(session: smpp.Session, pdu: smpp.PDU): void {
    if (pdu.isResponse()) return;
    if (this.silent) return;
    switch (pdu.command) {
      case 'bind_transceiver':
      case 'bind_transmitter':
      case 'bind_receiver': {
        this.binds += 1;
        const ok =
          pdu.system_id === (this.opts.systemId ?? 'tidings') &&
          pdu.password === (this.opts.password ?? 'secret');
        session.send(pdu.response({ command_status: ok ? 0 : 0x0e, system_id: 'PEER' }));
        if (ok && pdu.command !== 'bind_transmitter') this.receivers.add(session);
        return;
      }
      case 'enquire_link':
        this.enquireLinks += 1;
        session.send(pdu.response());
        return;
      case 'unbind':
        session.send(pdu.response());
        return;
      case 'submit_sm':
        this.onSubmit(session, pdu);
        return;
      default:
        return;
    }
  }

  private onSubmit(session: smpp.Session, pdu: smpp.PDU): void {
    const answer = () => {
      if (this.throttleNext > 0) {
        this.throttleNext -= 1;
        session.send(pdu.response({ command_status: 0x58 }));
        return;
      }
      if (this.refuseNextWith !== undefined) {
        const status = this.refuseNextWith;
        this.refuseNextWith = undefined;
        session.send(pdu.response({ command_status: status }));
        return;
      }
      const messageId = `m${++this.counter}`;
      const sm = pdu.short_message as { message?: unknown; udh?: Buffer[] } | Buffer;
      const text = sm && !Buffer.isBuffer(sm) && typeof sm.message === 'string' ? sm.message : '';
      const udh = sm && !Buffer.isBuffer(sm) && Array.isArray(sm.udh) ? sm.udh : [];
      this.submits.push({
        seq: pdu.sequence_number,
        messageId,
        to: String(pdu.destination_addr),
        from: String(pdu.source_addr),
        sourceTon: Number(pdu.source_addr_ton),
        destTon: Number(pdu.dest_addr_ton),
        dataCoding: Number(pdu.data_coding),
        esmClass: Number(pdu.esm_class),
        text,
        udh,
        at: Date.now(),
      });
      session.send(pdu.response({ message_id: messageId }));
      const form = this.opts.receipts ?? 'none';
      if (form !== 'none') {
        const delay = this.opts.receiptDelayMs ?? 0;
        if (delay > 0) {
          setTimeout(() => {
            if (this.sessions.size > 0) this.sendReceipt(messageId, 'DELIVRD', form);
          }, delay).unref();
        } else {
          this.sendReceipt(messageId, 'DELIVRD', form);
        }
      }
    };
    if (this.holdAnswers) this.held.push(answer);
    else answer();
  }

  /** Answers the submissions held while `holdAnswers` was set. */
  releaseHeld(): void {
    this.holdAnswers = false;
    const held = this.held;
    this.held = [];
    for (const a of held) a();
  }

  /** Forgets the held submissions unanswered (as an SMSC that lost the session would). */
  discardHeld(): void {
    this.holdAnswers = false;
    this.held = [];
  }

  /** The texts received, concatenated parts joined (by UDH reference). */
  messages(): { to: string; from: string; body: string }[] {
    const out: { to: string; from: string; body: string }[] = [];
    const parts = new Map<
      string,
      { total: number; got: Map<number, string>; to: string; from: string }
    >();
    for (const s of this.submits) {
      const ie = s.udh.find((u) => u[0] === 0x00);
      if (!ie) {
        out.push({ to: s.to, from: s.from, body: s.text });
        continue;
      }
      const key = `${s.to}|${ie[2]}`;
      const p = parts.get(key) ?? {
        total: ie[3]!,
        got: new Map<number, string>(),
        to: s.to,
        from: s.from,
      };
      p.got.set(ie[4]!, s.text);
      parts.set(key, p);
      if (p.got.size === p.total) {
        out.push({
          to: p.to,
          from: p.from,
          body: [...p.got.entries()]
            .sort((a, b) => a[0] - b[0])
            .map(([, t]) => t)
            .join(''),
        });
        parts.delete(key);
      }
    }
    return out;
  }

  private receiver(): smpp.Session {
    const s = [...this.receivers][0];
    if (!s) throw new Error('no bound receiver session');
    return s;
  }

  /** Sends a delivery receipt for `messageId` in TLV or Appendix B text form. */
  sendReceipt(
    messageId: string,
    stat = 'DELIVRD',
    form: 'tlv' | 'text' = 'text',
    err = '000',
  ): void {
    const states: Record<string, number> = {
      DELIVRD: 2,
      EXPIRED: 3,
      UNDELIV: 5,
      REJECTD: 8,
      ENROUTE: 1,
    };
    const text = `id:${messageId} sub:001 dlvrd:${stat === 'DELIVRD' ? '001' : '000'} submit date:2612071200 done date:2612071201 stat:${stat} err:${err} text:Reminder from Lakes`;
    this.receiver().send(
      new smpp.PDU('deliver_sm', {
        esm_class: 0x04,
        source_addr: '15550000000',
        destination_addr: '15550000001',
        data_coding: 0,
        short_message: form === 'text' ? text : '',
        ...(form === 'tlv'
          ? { receipted_message_id: messageId, message_state: states[stat] ?? 7 }
          : {}),
      }),
    );
  }

  /** Sends a mobile-originated message (E.164 numbers; sent without the `+`, TON international). */
  sendInbound(from: string, to: string, body: string): void {
    this.receiver().send(
      new smpp.PDU('deliver_sm', {
        source_addr_ton: 1,
        source_addr_npi: 1,
        source_addr: from.replace(/^\+/, ''),
        dest_addr_ton: 1,
        dest_addr_npi: 1,
        destination_addr: to.replace(/^\+/, ''),
        esm_class: 0,
        data_coding: 0,
        short_message: body,
      }),
    );
  }

  /** Sends one part of a concatenated mobile-originated message (UDH, GSM-7). */
  sendInboundPart(
    from: string,
    to: string,
    text: string,
    ref: number,
    total: number,
    seq: number,
  ): void {
    this.receiver().send(
      new smpp.PDU('deliver_sm', {
        source_addr_ton: 1,
        source_addr: from.replace(/^\+/, ''),
        dest_addr_ton: 1,
        destination_addr: to.replace(/^\+/, ''),
        esm_class: 0x40,
        data_coding: 0,
        short_message: { udh: Buffer.of(0x05, 0x00, 0x03, ref, total, seq), message: text },
      }),
    );
  }

  /** Sends an enquire_link to every session (the adapter must answer it). */
  enquireAll(): Promise<number> {
    const waits = [...this.sessions].map(
      (s) =>
        new Promise<boolean>((resolve) => {
          const t = setTimeout(() => resolve(false), 2_000);
          s.send(new smpp.PDU('enquire_link', {}), () => {
            clearTimeout(t);
            resolve(true);
          });
        }),
    );
    return Promise.all(waits).then((r) => r.filter(Boolean).length);
  }

  /** Drops every session at once (as a network failure would). */
  dropAll(): void {
    for (const s of this.sessions) s.socket.destroy();
  }

  async stop(): Promise<void> {
    this.held = [];
    for (const s of this.sessions) s.socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
