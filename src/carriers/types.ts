/**
 * @module carriers/types
 * The one interface every carrier adapter implements. An adapter submits messages and
 * reports, through one event stream, delivery receipts and inbound messages. Failures are a
 * closed set, each saying whether the worker should retry; the worker decides from the kind,
 * never from message text.
 */

export type CarrierFailureKind =
  'throttled' | 'transient' | 'permanent' | 'invalid_recipient' | 'opted_out' | 'config';

/** Whether a failure of each kind is worth retrying. */
export const RETRYABLE: Readonly<Record<CarrierFailureKind, boolean>> = {
  throttled: true,
  transient: true,
  permanent: false,
  invalid_recipient: false,
  opted_out: false,
  config: false,
};

export class CarrierError extends Error {
  readonly retryable: boolean;
  constructor(
    readonly kind: CarrierFailureKind,
    /** The carrier's own code, for the record; never contains message content. */
    readonly carrierCode: string,
  ) {
    super(`carrier failure: ${kind} (${carrierCode})`);
    this.name = 'CarrierError';
    this.retryable = RETRYABLE[kind];
  }
}

export interface OutboundSms {
  messageId: string;
  orgId: string;
  senderId: string;
  to: string;
  from: string;
  body: string;
  segments: number;
}

export interface SubmitResult {
  carrierMessageId: string;
  /**
   * The carrier may hold this message twice: it was submitted again after a connection
   * dropped before the carrier answered (SMPP). Recorded, never hidden.
   */
  possibleDuplicate?: boolean;
}

export type ReceiptStatus = 'delivered' | 'failed' | 'expired';

export type CarrierEvent =
  | {
      type: 'receipt';
      carrierMessageId: string;
      status: ReceiptStatus;
      errorCode?: string;
      at: number;
    }
  | {
      type: 'inbound';
      carrierMessageId: string;
      from: string;
      to: string;
      body: string;
      at: number;
    };

export type CarrierListener = (event: CarrierEvent) => void;

export interface CarrierAdapter {
  readonly name: string;
  /** Submits one message; resolves with the carrier's id or throws a CarrierError. */
  submit(msg: OutboundSms): Promise<SubmitResult>;
  /** Registers the listener for receipts and inbound messages. */
  onEvent(listener: CarrierListener): void;
  /**
   * Opens connections ahead of the first submission, so inbound messages and receipts flow
   * (optional: adapters that connect per request have nothing to open).
   */
  start?(): void;
  /**
   * Asks the carrier to delete its own copy of a message (body and metadata) once Tidings has
   * destroyed the body (retention). Optional: only carriers with a per-message delete offer it
   * (Twilio's message DELETE; Telnyx has none). Resolves when the copy is gone or was already
   * gone; throws a CarrierError otherwise, whose `retryable` says whether to ask again.
   */
  deleteCopy?(carrierMessageId: string): Promise<void>;
  /** Releases connections and timers; pending receipts may be dropped. */
  close(): Promise<void>;
}
