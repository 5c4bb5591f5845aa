/**
 * @module integrations/hl7v2/listener
 * The MLLP listener a scheduling system or interface engine sends SIU and ADT messages to.
 * Messages on one connection are handled one at a time, in order, and each gets its ACK
 * only after its change is committed. A control id already seen is acknowledged again and
 * ignored (a sender that lost our ACK resends). A malformed message gets AR, one missing a
 * field it needs AE; neither's control id is remembered (the corrected resend is taken), and
 * the connection goes on; nothing a sender does stops the listener. Logs carry control ids and
 * codes, never message content. Which organisation a message belongs to is its sending
 * facility's (MSH-4.1, from `facilities`), else the listener's `orgId`; a message neither
 * names is rejected (AR). Owns the `hl7_messages` table.
 */
import net from 'node:net';
import type { Store } from '../../store/index.js';
import type { Logger } from '../../observability/index.js';
import type { Reminders } from '../../reminders/index.js';
import type { Actor } from '../../audit/index.js';
import { newId } from '../../ids/index.js';
import { buildAck } from './ack.js';
import { frame, MllpDecoder } from './mllp.js';
import { Hl7Problem, parseHl7, START_REQUIRED, type Header } from './parse-message.js';

export interface Hl7ListenerOptions {
  /** The organisation of facilities not in `facilities`; none: those are rejected. */
  orgId: string | undefined;
  /** Sending facility (MSH-4.1) → organisation, for an engine forwarding several clinics. */
  facilities?: Readonly<Record<string, string>> | undefined;
  host: string;
  port: number;
}

const FEED_ACTOR: Actor = { type: 'system', id: 'hl7v2' };

export class Hl7Listener {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();

  constructor(
    private readonly store: Store,
    private readonly reminders: Reminders,
    private readonly log: Logger,
    readonly opts: Hl7ListenerOptions,
  ) {}

  /** Starts listening; resolves with the bound port. */
  async startHl7Listener(): Promise<number> {
    const server = net.createServer((socket) => this.accept(socket));
    server.on('error', (e) => this.log.error({ err: e.message }, 'hl7 listener error'));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const port = (server.address() as net.AddressInfo).port;
    this.log.info(
      {
        port,
        orgId: this.opts.orgId,
        facilities: Object.keys(this.opts.facilities ?? {}).length,
      },
      'hl7 mllp listener started',
    );
    return port;
  }

  async stopHl7Listener(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) =>
      this.server ? this.server.close(() => resolve()) : resolve(),
    );
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    const decoder = new MllpDecoder();
    let chain = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      let messages: string[];
      try {
        messages = decoder.push(chunk);
      } catch {
        this.log.warn('hl7 frame too large; connection closed');
        socket.destroy();
        return;
      }
      for (const text of messages) {
        chain = chain.then(async () => {
          const ack = await this.handle(text);
          if (!socket.destroyed) socket.write(frame(ack));
        });
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.sockets.delete(socket));
  }

  /** One message in, its ACK out; never throws. */
  async handle(text: string): Promise<string> {
    const ackId = newId('in').slice(3, 23);
    let header: Partial<Header> = {};
    try {
      const orgId = this.orgOf(text);
      if (!orgId) return this.refuseFacility(text, ackId);
      const zone = (await this.reminders.settings(orgId)).timeZone;
      const parsed = parseHl7(text, zone);
      header = parsed.header;
      if (parsed.kind === 'unsupported') {
        const type = ['SIU', 'ADT'].includes(parsed.header.messageType);
        return this.answer(header, 'AR', ackId, {
          code: type ? 201 : 200,
          text: `${parsed.header.messageType}^${parsed.header.event} is not handled`,
        });
      }
      const seen = await this.store.db
        .selectFrom('hl7_messages')
        .select('ack_code')
        .where('org_id', '=', orgId)
        .where('control_id', '=', parsed.header.controlId)
        .executeTakeFirst();
      if (seen) {
        this.log.info({ controlId: parsed.header.controlId }, 'hl7 duplicate ignored');
        return buildAck(header, 'AA', ackId);
      }
      if (parsed.kind === 'siu') {
        const saved = await this.reminders.upsertAppointment(orgId, FEED_ACTOR, {
          ...parsed.appointment,
          source: 'hl7',
        });
        // Nothing stored: an appointment not known here needs a start to be created (an
        // S13/S14 for one never booked through this feed). A cancel or no-show for an
        // unknown appointment has nothing to change and is accepted.
        if (!saved && parsed.appointment.status === 'booked') {
          throw new Hl7Problem(101, START_REQUIRED);
        }
      } else if (!(await this.reminders.upsertContact(orgId, parsed.patient, FEED_ACTOR))) {
        throw new Hl7Problem(102, 'PID-13/14 (phone) is not a number that can be texted');
      }
      await this.store.db
        .insertInto('hl7_messages')
        .values({
          org_id: orgId,
          control_id: parsed.header.controlId,
          message_type: `${parsed.header.messageType}^${parsed.header.event}`,
          ack_code: 'AA',
          received_at: Date.now(),
        })
        // The same message on two connections at once: both applied it (the upserts are
        // idempotent), so the second is a duplicate too, not an error. (On PostgreSQL two
        // creating the same new appointment can still collide on its key: AE 207, and the
        // sender's resend is a duplicate.)
        .onConflict((oc) => oc.columns(['org_id', 'control_id']).doNothing())
        .execute();
      this.log.info(
        { controlId: parsed.header.controlId, type: parsed.header.event },
        'hl7 message accepted',
      );
      return buildAck(header, 'AA', ackId);
    } catch (e) {
      if (e instanceof Hl7Problem) {
        return this.answer(e.header ?? header, e.ack, ackId, { code: e.code, text: e.message });
      }
      const code = (e as { code?: unknown }).code;
      this.log.error(
        { controlId: header.controlId, code: typeof code === 'string' ? code : undefined },
        'hl7 message failed',
      );
      return this.answer(header, 'AE', ackId, {
        code: 207,
        text: typeof code === 'string' ? code : 'internal error',
      });
    }
  }

  /**
   * The organisation a message belongs to: its sending facility's (MSH-4.1), else the
   * listener's. Read from the raw MSH segment, before parsing, since parsing needs the
   * organisation's time zone. The field separator is MSH's fourth character (HL7 v2.5.1 2.14.9).
   */
  private orgOf(text: string): string | undefined {
    const facilities = this.opts.facilities ?? {};
    const msh = text.replace(/^[\s\v]+/, '').split(/[\r\n]/, 1)[0] ?? '';
    if (msh.startsWith('MSH') && msh.length > 8) {
      const fields = msh.split(msh[3]!);
      const facility = (fields[3] ?? '').split(msh[4]!)[0]!.trim();
      if (facility && Object.hasOwn(facilities, facility)) return facilities[facility];
    }
    return this.opts.orgId;
  }

  /** AR for a message whose sending facility belongs to no organisation here. */
  private refuseFacility(text: string, ackId: string): string {
    let header: Partial<Header> = {};
    try {
      header = parseHl7(text, 'UTC').header;
    } catch (e) {
      header = e instanceof Hl7Problem ? (e.header ?? {}) : {};
    }
    return this.answer(header, 'AR', ackId, {
      code: 103,
      text: 'MSH-4 (sending facility) is not configured for this listener',
    });
  }

  private answer(
    header: Partial<Header>,
    code: 'AE' | 'AR',
    ackId: string,
    error: { code: number; text: string },
  ): string {
    this.log.warn(
      { controlId: header.controlId, ack: code, hl7Error: error.code },
      'hl7 message refused',
    );
    return buildAck(header, code, ackId, error);
  }
}
