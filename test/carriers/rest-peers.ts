/**
 * Local HTTP peers that speak the Twilio and Telnyx messaging APIs closely enough for the
 * adapters: the send endpoint with its auth, success and error answers (429, 5xx, the
 * carriers' own error codes), and helpers that build the callbacks each carrier would post,
 * signed as the carrier signs them (Twilio with the official `twilio` package's signer).
 */
import http from 'node:http';
import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import twilio from 'twilio';

export interface PeerMessage {
  to: string;
  from: string;
  body: string;
  /** Everything the adapter sent (form fields or JSON members). */
  fields: Record<string, unknown>;
  id: string;
}

export interface RestPeer {
  url: string;
  messages: PeerMessage[];
  /** Answer the next n sends with 429 (the carrier's throttling code). */
  throttle: number;
  /** Answer the next n sends with 503. */
  fail5xx: number;
  /** Refuse the next send permanently (invalid recipient). */
  refuse: boolean;
  /** Recipients the carrier answers "opted out" for. */
  optedOut: Set<string>;
  stop(): Promise<void>;
}

/** The Twilio peer also takes message DELETEs and records them. */
export interface TwilioPeer extends RestPeer {
  /** Message SIDs the adapter asked to delete, in order (including refused asks). */
  deletes: string[];
  /** Answer the next n DELETEs with 503. */
  failDeletes: number;
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function serve(
  handle: (req: http.IncomingMessage, body: string) => { status: number; json: unknown },
): Promise<{ server: http.Server; url: string }> {
  const server = http.createServer((req, res) => {
    readBody(req).then(
      (body) => {
        const r = handle(req, body);
        res.writeHead(r.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(r.json));
      },
      () => res.destroy(),
    );
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const a = server.address() as { port: number };
      resolve({ server, url: `http://127.0.0.1:${a.port}` });
    });
  });
}

function stopper(server: http.Server): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
}

/** A Twilio Programmable Messaging peer for one account. */
export async function startTwilioPeer(accountSid: string, authToken: string): Promise<TwilioPeer> {
  const expectAuth = `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}`;
  const peer: Omit<TwilioPeer, 'url' | 'stop'> = {
    deletes: [],
    failDeletes: 0,
    messages: [],
    throttle: 0,
    fail5xx: 0,
    refuse: false,
    optedOut: new Set(),
  };
  const { server, url } = await serve((req, body) => {
    const path = `/2010-04-01/Accounts/${accountSid}/Messages.json`;
    const del = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\/([^/]+)\.json$/.exec(req.url ?? '');
    if (req.method === 'DELETE' && del && del[1] === accountSid) {
      if (req.headers.authorization !== expectAuth) {
        return { status: 401, json: { code: 20003, message: 'Authenticate', status: 401 } };
      }
      const sid = decodeURIComponent(del[2]!);
      peer.deletes.push(sid);
      if (peer.failDeletes > 0) {
        peer.failDeletes -= 1;
        return { status: 503, json: { message: 'Service Unavailable' } };
      }
      const i = peer.messages.findIndex((m) => m.id === sid);
      if (i < 0) return { status: 404, json: { code: 20404, message: 'not found', status: 404 } };
      peer.messages.splice(i, 1);
      return { status: 204, json: null };
    }
    if (req.method !== 'POST' || req.url !== path) {
      return { status: 404, json: { code: 20404, message: 'not found', status: 404 } };
    }
    if (req.headers.authorization !== expectAuth) {
      return { status: 401, json: { code: 20003, message: 'Authenticate', status: 401 } };
    }
    if (peer.throttle > 0) {
      peer.throttle -= 1;
      return { status: 429, json: { code: 20429, message: 'Too Many Requests', status: 429 } };
    }
    if (peer.fail5xx > 0) {
      peer.fail5xx -= 1;
      return { status: 503, json: { message: 'Service Unavailable' } };
    }
    const f = Object.fromEntries(new URLSearchParams(body));
    if (peer.refuse) {
      peer.refuse = false;
      return { status: 400, json: { code: 21211, message: "Invalid 'To'", status: 400 } };
    }
    if (peer.optedOut.has(f.To ?? '')) {
      return { status: 400, json: { code: 21610, message: 'unsubscribed', status: 400 } };
    }
    const id = `SM${randomBytes(16).toString('hex')}`;
    peer.messages.push({ to: f.To ?? '', from: f.From ?? '', body: f.Body ?? '', fields: f, id });
    return { status: 201, json: { sid: id, status: 'queued' } };
  });
  return Object.assign(peer, { url, stop: stopper(server) });
}

/** Twilio's signature for a callback to `url`, computed by the official package. */
export function officialTwilioSignature(
  authToken: string,
  url: string,
  params: Record<string, string>,
): string {
  return twilio.getExpectedTwilioSignature(authToken, url, params);
}

/** A Telnyx Messaging API v2 peer, and the key pair it signs webhooks with. */
export async function startTelnyxPeer(apiKey: string): Promise<
  RestPeer & {
    publicKeyBase64: string;
    signWebhook: (body: string, ts?: number) => Record<string, string>;
  }
> {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(12);
  const peer: Omit<RestPeer, 'url' | 'stop'> = {
    messages: [],
    throttle: 0,
    fail5xx: 0,
    refuse: false,
    optedOut: new Set(),
  };
  const error = (status: number, code: string) => ({
    status,
    json: { errors: [{ code, title: 'error', detail: 'error' }] },
  });
  const { server, url } = await serve((req, body) => {
    if (req.method !== 'POST' || req.url !== '/v2/messages') return error(404, '10005');
    if (req.headers.authorization !== `Bearer ${apiKey}`) return error(401, '10009');
    if (peer.throttle > 0) {
      peer.throttle -= 1;
      return error(429, '10011');
    }
    if (peer.fail5xx > 0) {
      peer.fail5xx -= 1;
      return error(503, '10007');
    }
    const j = JSON.parse(body) as { to: string; from: string; text: string };
    if (peer.refuse) {
      peer.refuse = false;
      return error(422, '40310');
    }
    if (peer.optedOut.has(j.to)) return error(422, '40300');
    const id = randomBytes(16).toString('hex');
    peer.messages.push({ to: j.to, from: j.from, body: j.text, fields: j, id });
    return { status: 200, json: { data: { id, record_type: 'message' } } };
  });
  return Object.assign(peer, {
    url,
    stop: stopper(server),
    publicKeyBase64: raw.toString('base64'),
    signWebhook: (body: string, ts = Math.floor(Date.now() / 1000)) =>
      telnyxHeaders(privateKey, body, ts),
  });
}

function telnyxHeaders(key: KeyObject, body: string, ts: number): Record<string, string> {
  const sig = sign(null, Buffer.from(`${ts}|${body}`), key).toString('base64');
  return {
    'content-type': 'application/json',
    'telnyx-signature-ed25519': sig,
    'telnyx-timestamp': String(ts),
  };
}

/** A Telnyx webhook body. */
export function telnyxEvent(
  type: 'message.sent' | 'message.finalized' | 'message.received',
  payload: Record<string, unknown>,
): string {
  return JSON.stringify({
    data: {
      event_type: type,
      id: randomBytes(8).toString('hex'),
      occurred_at: new Date().toISOString(),
      payload,
      record_type: 'event',
    },
    meta: { attempt: 1, delivered_to: 'http://example.invalid' },
  });
}
