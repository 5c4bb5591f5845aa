/**
 * Types for the parts of the `smpp` package (0.5.x, plain JavaScript) that Tidings uses: the
 * PDU codec and the session/server over a socket. Only what the adapter and its tests call.
 */
declare module 'smpp' {
  import { EventEmitter } from 'node:events';
  import type { Server as NetServer, Socket } from 'node:net';
  import type { TlsOptions } from 'node:tls';

  /** A decoded PDU: header fields plus the command's parameters and TLVs by name. */
  export class PDU {
    constructor(command: string, options?: Record<string, unknown>);
    command: string;
    command_id: number;
    command_status: number;
    sequence_number: number;
    [field: string]: unknown;
    isResponse(): boolean;
    response(options?: Record<string, unknown>): PDU;
    toBuffer(): Buffer;
    static fromBuffer(buffer: Buffer): PDU | false;
  }

  export interface SessionOptions {
    host?: string;
    port?: number;
    tls?: boolean;
    socket?: Socket;
    [option: string]: unknown;
  }

  export class Session extends EventEmitter {
    constructor(options: SessionOptions);
    socket: Socket;
    server?: Server;
    /** Writes a PDU (a sequence number is assigned to requests); false if not writable. */
    send(pdu: PDU, responseCallback?: (pdu: PDU) => void, sendCallback?: () => void): boolean;
    close(callback?: () => void): void;
    destroy(callback?: () => void): void;
    pause(): void;
    resume(): void;
    [command: string]: unknown;
  }

  export class Server extends NetServer {
    sessions: Session[];
  }

  export function createServer(
    options: TlsOptions | Record<string, never>,
    listener?: (session: Session) => void,
  ): Server;
  export function connect(options: SessionOptions, listener?: () => void): Session;

  export const errors: Record<string, number>;
  export const consts: Record<string, Record<string, number>>;
}
