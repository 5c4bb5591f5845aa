/**
 * @module http/carriers
 * Carrier webhooks, a context of their own under `/carriers`: no API key or session, no
 * cookies; each request is proved by the carrier's own signature, checked against the secret
 * of the sender named in the path, and refused when anything is missing (fail closed).
 *
 *   POST /carriers/twilio/:senderId/status   Twilio status callback   X-Twilio-Signature
 *   POST /carriers/twilio/:senderId/inbound  Twilio inbound message   X-Twilio-Signature
 *   POST /carriers/telnyx/:senderId          Telnyx message.* events  Ed25519 + timestamp
 *
 * A verified webhook is handed to the sender's adapter; the events it yields are applied by
 * the dispatch worker (receipts) or passed to messaging and the consent engine (inbound),
 * and the carrier gets its 2xx only once they are committed. A carrier does not deliver a
 * webhook again after a 2xx, so a crash before the commit must leave it unanswered, and a
 * failed commit answers 503 (`carrier_event_not_recorded`) so the carrier retries. A receipt
 * that overtakes the record of its submission is tried again for a few seconds; if it still
 * matches no sent message it is answered 503 too. Redelivered inbound texts are stored once
 * (by carrier id). Requests are rate-limited per client address
 * (TIDINGS_CARRIER_WEBHOOK_RATE_LIMIT a minute).
 * The signed URL is the one this server was called at; with TIDINGS_TRUST_PROXY=on it is
 * rebuilt from X-Forwarded-Proto and X-Forwarded-Host.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import type { Runtime } from '../../runtime/index.js';
import { AppError } from '../../errors/index.js';
import {
  TwilioCarrier,
  verifyTwilioSignature,
  type FormParams,
} from '../../carriers/twilio/index.js';
import { TelnyxCarrier, verifyTelnyxSignature } from '../../carriers/telnyx/index.js';
import { errorSummary } from '../../dispatch/index.js';

export { CARRIER_WEBHOOK_PREFIX } from '../../runtime/sender-carriers.js';

/** Twilio's empty TwiML answer: acknowledges an inbound message without replying to it. */
const EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>';

function first(h: string | string[] | undefined): string | undefined {
  const v = Array.isArray(h) ? h[0] : h;
  return v?.split(',')[0]?.trim() || undefined;
}

/** The URL the carrier called (and signed). */
export function signedUrl(req: FastifyRequest, trustProxy: boolean): string {
  const proto = (trustProxy && first(req.headers['x-forwarded-proto'])) || req.protocol;
  const host = (trustProxy && first(req.headers['x-forwarded-host'])) || req.headers.host || '';
  return `${proto}://${host}${req.url}`;
}

function formParams(body: unknown): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  if (typeof body !== 'string') return out;
  for (const [k, v] of new URLSearchParams(body)) {
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

interface SenderParams {
  senderId: string;
}

export function carrierWebhookPlugin(rt: Runtime): FastifyPluginAsync {
  return async (app) => {
    await app.register(rateLimit, {
      global: true,
      max: rt.config.carrierWebhookRateLimit,
      timeWindow: 60_000,
      errorResponseBuilder: () => new AppError('rate_limited'),
    });
    // Signatures cover the exact bytes sent: keep the raw body, parse it here.
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser(
      ['application/json', 'application/x-www-form-urlencoded'],
      { parseAs: 'string', bodyLimit: 64 * 1024 },
      (_req, body, done) => done(null, body),
    );

    const refuse = (req: FastifyRequest, senderId: string, reason: string): AppError => {
      req.log.warn({ senderId, reason }, 'carrier webhook refused');
      return new AppError('carrier_signature_invalid');
    };

    /**
     * Feeds a verified webhook to its adapter and applies what it yields, resolving once that
     * is committed; otherwise throws `carrier_event_not_recorded` (503: deliver it again).
     */
    const record = async (req: FastifyRequest, feed: () => boolean): Promise<void> => {
      const { events } = rt.senderCarriers.captureEvents(feed);
      for (const e of events) {
        let outcome;
        try {
          outcome = await rt.worker.applyCarrierEvent(e);
        } catch (err) {
          req.log.error({ err: errorSummary(err), event: e.type }, 'carrier event not recorded');
          throw new AppError('carrier_event_not_recorded');
        }
        if (outcome === 'unmatched_receipt') {
          req.log.warn({ event: e.type }, 'receipt matches no sent message');
          throw new AppError('carrier_event_not_recorded');
        }
      }
    };

    const twilio = async (req: FastifyRequest, kind: 'status' | 'inbound') => {
      const { senderId } = req.params as SenderParams;
      const found = await rt.senderCarriers.forWebhook(senderId, 'twilio');
      const settings = found?.entry.settings;
      const adapter = found?.entry.adapter;
      if (settings?.carrier !== 'twilio' || !(adapter instanceof TwilioCarrier)) {
        throw refuse(req, senderId, 'no_twilio_sender');
      }
      const params: FormParams = formParams(req.body);
      const ok = verifyTwilioSignature({
        authToken: settings.authToken,
        url: signedUrl(req, rt.config.trustProxy),
        params,
        signature: first(req.headers['x-twilio-signature']),
      });
      if (!ok) throw refuse(req, senderId, 'bad_signature');
      await record(req, () =>
        kind === 'status' ? adapter.acceptStatusCallback(params) : adapter.acceptInbound(params),
      );
    };

    app.post('/twilio/:senderId/status', { schema: { hide: true } }, async (req, reply) => {
      await twilio(req, 'status');
      return reply.code(204).send();
    });
    app.post('/twilio/:senderId/inbound', { schema: { hide: true } }, async (req, reply) => {
      await twilio(req, 'inbound');
      return reply.type('text/xml').send(EMPTY_TWIML);
    });
    app.post('/telnyx/:senderId', { schema: { hide: true } }, async (req, reply) => {
      const { senderId } = req.params as SenderParams;
      const found = await rt.senderCarriers.forWebhook(senderId, 'telnyx');
      const settings = found?.entry.settings;
      const adapter = found?.entry.adapter;
      if (settings?.carrier !== 'telnyx' || !(adapter instanceof TelnyxCarrier)) {
        throw refuse(req, senderId, 'no_telnyx_sender');
      }
      const raw = typeof req.body === 'string' ? req.body : '';
      const verdict = verifyTelnyxSignature({
        publicKey: settings.publicKey,
        rawBody: raw,
        signature: first(req.headers['telnyx-signature-ed25519']),
        timestamp: first(req.headers['telnyx-timestamp']),
      });
      if (verdict !== 'ok') throw refuse(req, senderId, verdict);
      let body: unknown;
      try {
        body = JSON.parse(raw);
      } catch {
        throw new AppError('invalid_json');
      }
      await record(req, () => adapter.acceptWebhook(body));
      return reply.code(200).send({ received: true });
    });
    return Promise.resolve();
  };
}
