/**
 * @module carriers/twilio
 * A Twilio-style REST adapter: `POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`,
 * form-encoded, HTTP basic auth (Account SID : Auth Token), with a `StatusCallback` URL for
 * delivery receipts. Every message asks Twilio to keep no content
 * (`ContentRetention=discard`) and to obfuscate the numbers (`AddressRetention=obfuscate`).
 * Status callbacks and inbound messages arrive as signed webhooks (http/carriers verifies
 * them with ./signature.ts) and are fed into the adapter's event stream here.
 */
import {
  CarrierError,
  type CarrierAdapter,
  type OutboundSms,
  type ReceiptStatus,
  type SubmitResult,
} from '../types.js';
import { carrierCodeOf, RestCarrier } from '../rest.js';
import { twilioError } from './errors.js';
import type { FormParams } from './signature.js';

export { TWILIO_ERROR_KINDS, twilioFailureKind } from './errors.js';
export { twilioSignature, verifyTwilioSignature, type FormParams } from './signature.js';

export const TWILIO_DEFAULT_BASE_URL = 'https://api.twilio.com';

export interface TwilioOptions {
  accountSid: string;
  authToken: string;
  /** Default https://api.twilio.com; tests point it at a local peer. */
  baseUrl?: string | undefined;
  /** Where Twilio posts status callbacks for this sender (omitted: no receipts). */
  statusCallbackUrl?: string | undefined;
  /** Milliseconds before a submission counts as a transient failure. */
  timeoutMs?: number | undefined;
  /** Logs ids and carrier codes only, never numbers, text or credentials. */
  log?: { debug(obj: object, msg: string): void } | undefined;
}

/** Twilio's MessageStatus values that are final, as receipt statuses. */
const FINAL_STATUS: Readonly<Record<string, ReceiptStatus>> = {
  delivered: 'delivered',
  undelivered: 'failed',
  failed: 'failed',
  canceled: 'failed',
};

function one(params: FormParams, key: string): string | undefined {
  const v = params[key];
  return typeof v === 'string' ? v : v?.[0];
}

export class TwilioCarrier extends RestCarrier implements CarrierAdapter {
  readonly name = 'twilio';
  private readonly endpoint: string;
  private readonly messagesBase: string;
  private readonly auth: string;

  constructor(private readonly opts: TwilioOptions) {
    super('TWILIO', opts.timeoutMs);
    const base = (opts.baseUrl ?? TWILIO_DEFAULT_BASE_URL).replace(/\/+$/, '');
    this.messagesBase = `${base}/2010-04-01/Accounts/${encodeURIComponent(opts.accountSid)}/Messages`;
    this.endpoint = `${this.messagesBase}.json`;
    this.auth = `Basic ${Buffer.from(`${opts.accountSid}:${opts.authToken}`).toString('base64')}`;
  }

  async submit(msg: OutboundSms): Promise<SubmitResult> {
    const form = new URLSearchParams({
      To: msg.to,
      From: msg.from,
      Body: msg.body,
      ContentRetention: 'discard',
      AddressRetention: 'obfuscate',
    });
    if (this.opts.statusCallbackUrl) form.set('StatusCallback', this.opts.statusCallbackUrl);
    const res = await this.request(this.endpoint, {
      method: 'POST',
      headers: {
        authorization: this.auth,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: form.toString(),
    });
    if (res.ok && typeof res.json.sid === 'string') return { carrierMessageId: res.json.sid };
    const err = twilioError(carrierCodeOf(res.json.code), res.ok ? 502 : res.status);
    this.opts.log?.debug(
      { messageId: msg.messageId, kind: err.kind, code: err.carrierCode },
      'twilio refused a submission',
    );
    throw err;
  }

  /**
   * A verified status callback: final statuses become receipts; `queued`, `sending`, `sent`
   * and the like say nothing the worker does not know already.
   */
  acceptStatusCallback(params: FormParams): boolean {
    const id = one(params, 'MessageSid') ?? one(params, 'SmsSid');
    const status = FINAL_STATUS[one(params, 'MessageStatus') ?? one(params, 'SmsStatus') ?? ''];
    if (!id || !status) return false;
    const errorCode = one(params, 'ErrorCode');
    this.emit({
      type: 'receipt',
      carrierMessageId: id,
      status,
      ...(errorCode ? { errorCode: `TWILIO_${errorCode}` } : {}),
      at: Date.now(),
    });
    return true;
  }

  /** A verified inbound message. */
  acceptInbound(params: FormParams): boolean {
    const id = one(params, 'MessageSid') ?? one(params, 'SmsSid');
    const from = one(params, 'From');
    const to = one(params, 'To');
    if (!id || !from || !to) return false;
    this.emit({
      type: 'inbound',
      carrierMessageId: id,
      from,
      to,
      body: one(params, 'Body') ?? '',
      at: Date.now(),
    });
    return true;
  }

  /**
   * `DELETE {base}/2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}.json`: Twilio
   * answers 204; 404 means the copy is already gone. Twilio refuses (20009) to delete a
   * message still in flight; that, like throttling and 5xx, is worth asking again.
   */
  async deleteCopy(carrierMessageId: string): Promise<void> {
    const res = await this.request(
      `${this.messagesBase}/${encodeURIComponent(carrierMessageId)}.json`,
      { method: 'DELETE', headers: { authorization: this.auth, accept: 'application/json' } },
    );
    if (res.ok || res.status === 404) return;
    const code = carrierCodeOf(res.json.code);
    const err =
      code === '20009'
        ? new CarrierError('transient', 'TWILIO_20009')
        : twilioError(code, res.status);
    this.opts.log?.debug({ kind: err.kind, code: err.carrierCode }, 'twilio refused a deletion');
    throw err;
  }
}
