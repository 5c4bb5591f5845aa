/**
 * @module carriers/telnyx
 * A Telnyx-style REST adapter: `POST {base}/v2/messages` with a bearer API key and a JSON
 * body; the sender's webhook URL receives `message.sent`, `message.finalized` (the delivery
 * receipt) and `message.received` (inbound). Webhooks are Ed25519-signed (./signature.ts,
 * checked by http/carriers) and fed into the adapter's event stream here. Telnyx keeps no
 * message content when the messaging profile's redaction setting is on; that is a profile
 * setting, not a per-message parameter (docs/carriers.md).
 */
import type { CarrierAdapter, OutboundSms, ReceiptStatus, SubmitResult } from '../types.js';
import { carrierCodeOf, RestCarrier } from '../rest.js';
import { telnyxError } from './errors.js';

export { TELNYX_ERROR_KINDS, telnyxFailureKind } from './errors.js';
export {
  TELNYX_REPLAY_WINDOW_S,
  telnyxPublicKey,
  verifyTelnyxSignature,
  type TelnyxVerdict,
} from './signature.js';

export const TELNYX_DEFAULT_BASE_URL = 'https://api.telnyx.com';

export interface TelnyxOptions {
  apiKey: string;
  /** Default https://api.telnyx.com; tests point it at a local peer. */
  baseUrl?: string | undefined;
  /** Where Telnyx posts this sender's webhooks (omitted: the messaging profile's). */
  webhookUrl?: string | undefined;
  timeoutMs?: number | undefined;
  /** Logs ids and carrier codes only, never numbers, text or credentials. */
  log?: { debug(obj: object, msg: string): void } | undefined;
}

/** message.finalized `to[].status` values that are final receipts. */
const FINAL_STATUS: Readonly<Record<string, ReceiptStatus>> = {
  delivered: 'delivered',
  delivery_failed: 'failed',
  sending_failed: 'failed',
  expired: 'expired',
};

interface TelnyxWebhook {
  data?: {
    event_type?: unknown;
    payload?: {
      id?: unknown;
      text?: unknown;
      from?: { phone_number?: unknown };
      to?: { phone_number?: unknown; status?: unknown }[];
      errors?: { code?: unknown }[];
    };
  };
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export class TelnyxCarrier extends RestCarrier implements CarrierAdapter {
  readonly name = 'telnyx';
  private readonly endpoint: string;

  constructor(private readonly opts: TelnyxOptions) {
    super('TELNYX', opts.timeoutMs);
    this.endpoint = `${(opts.baseUrl ?? TELNYX_DEFAULT_BASE_URL).replace(/\/+$/, '')}/v2/messages`;
  }

  async submit(msg: OutboundSms): Promise<SubmitResult> {
    const body: Record<string, unknown> = { from: msg.from, to: msg.to, text: msg.body };
    if (this.opts.webhookUrl) {
      body.webhook_url = this.opts.webhookUrl;
      body.use_profile_webhooks = false;
    }
    const res = await this.request(this.endpoint, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${this.opts.apiKey}`,
        'content-type': 'application/json',
        accept: 'application/json',
      },
      body: JSON.stringify(body),
    });
    const json = res.json as { data?: { id?: unknown }; errors?: { code?: unknown }[] };
    const id = str(json.data?.id);
    if (res.ok && id) return { carrierMessageId: id };
    const err = telnyxError(carrierCodeOf(json.errors?.[0]?.code), res.ok ? 502 : res.status);
    this.opts.log?.debug(
      { messageId: msg.messageId, kind: err.kind, code: err.carrierCode },
      'telnyx refused a submission',
    );
    throw err;
  }

  /**
   * A verified webhook body. `message.finalized` becomes a receipt, `message.received` an
   * inbound message; `message.sent` adds nothing the worker does not know. Returns whether
   * the body was understood.
   */
  acceptWebhook(body: unknown): boolean {
    const data = (body as TelnyxWebhook | null)?.data;
    const type = str(data?.event_type);
    const p = data?.payload;
    const id = str(p?.id);
    if (!type || !p || !id) return false;
    if (type === 'message.sent') return true;
    if (type === 'message.finalized') {
      const status = FINAL_STATUS[str(p.to?.[0]?.status) ?? ''];
      if (!status) return true; // delivery_unconfirmed: no receipt to give
      const code = carrierCodeOf(p.errors?.[0]?.code);
      this.emit({
        type: 'receipt',
        carrierMessageId: id,
        status,
        ...(code ? { errorCode: `TELNYX_${code}` } : {}),
        at: Date.now(),
      });
      return true;
    }
    if (type === 'message.received') {
      const from = str(p.from?.phone_number);
      const to = str(p.to?.[0]?.phone_number);
      if (!from || !to) return false;
      this.emit({
        type: 'inbound',
        carrierMessageId: id,
        from,
        to,
        body: str(p.text) ?? '',
        at: Date.now(),
      });
      return true;
    }
    return false;
  }
}
