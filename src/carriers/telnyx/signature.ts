/**
 * @module carriers/telnyx/signature
 * Telnyx webhook signatures (https://developers.telnyx.com/docs/messaging/messages/receiving-webhooks):
 * an Ed25519 signature, base64 in `telnyx-signature-ed25519`, over `${timestamp}|${rawBody}`,
 * where `telnyx-timestamp` is Unix seconds. The key is the account's public key (base64, 32
 * bytes, from the Mission Control portal). A timestamp outside the replay window is refused
 * even when the signature is good: a captured webhook cannot be played again later.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';

/** How far a webhook's timestamp may be from now. */
export const TELNYX_REPLAY_WINDOW_S = 5 * 60;

/** DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410); the raw 32-byte key follows. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** The Ed25519 key from Telnyx's base64 public key, or null when it is not one. */
export function telnyxPublicKey(base64: string): KeyObject | null {
  const raw = Buffer.from(base64, 'base64');
  if (raw.length !== 32) return null;
  try {
    return createPublicKey({
      key: Buffer.concat([ED25519_SPKI_PREFIX, raw]),
      format: 'der',
      type: 'spki',
    });
  } catch {
    return null;
  }
}

export type TelnyxVerdict = 'ok' | 'bad_signature' | 'stale' | 'no_key';

/** Checks a webhook; fails closed (no key, no signature, no timestamp → refused). */
export function verifyTelnyxSignature(args: {
  publicKey: string;
  rawBody: string;
  signature: string | undefined;
  timestamp: string | undefined;
  nowMs?: number;
  windowS?: number;
}): TelnyxVerdict {
  const key = args.publicKey ? telnyxPublicKey(args.publicKey) : null;
  if (!key) return 'no_key';
  const { signature, timestamp } = args;
  if (!signature || !timestamp || !/^\d{1,12}$/.test(timestamp)) return 'bad_signature';
  const sig = Buffer.from(signature, 'base64');
  if (sig.length !== 64) return 'bad_signature';
  const ok = verify(null, Buffer.from(`${timestamp}|${args.rawBody}`, 'utf8'), key, sig);
  if (!ok) return 'bad_signature';
  const age = Math.abs((args.nowMs ?? Date.now()) / 1000 - Number(timestamp));
  return age <= (args.windowS ?? TELNYX_REPLAY_WINDOW_S) ? 'ok' : 'stale';
}
