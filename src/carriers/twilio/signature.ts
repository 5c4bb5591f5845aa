/**
 * @module carriers/twilio/signature
 * The X-Twilio-Signature scheme (https://www.twilio.com/docs/usage/webhooks/webhooks-security):
 * HMAC-SHA1, keyed with the account's Auth Token, of the full URL Twilio called followed by
 * every POST parameter name and value, parameters sorted by name; base64. Like Twilio's own
 * helper, the URL is tried with and without the scheme's default port, since proxies differ
 * in whether they keep it.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export type FormParams = Readonly<Record<string, string | readonly string[]>>;

/** The signature Twilio computes for a request to `url` with form parameters `params`. */
export function twilioSignature(authToken: string, url: string, params: FormParams): string {
  let data = url;
  for (const key of Object.keys(params).sort()) {
    const v = params[key];
    const values = typeof v === 'string' ? [v] : [...(v ?? [])].sort();
    for (const value of values) data += key + value;
  }
  return createHmac('sha1', authToken).update(data, 'utf8').digest('base64');
}

/** The URL as given, and without and with its scheme's default port. */
function urlVariants(url: string): string[] {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return [url];
  }
  const defaultPort = u.protocol === 'https:' ? '443' : u.protocol === 'http:' ? '80' : '';
  // URL reports '' for a default port; any other port is part of what was signed.
  if (!defaultPort || u.port !== '') return [url];
  const auth = u.username ? `${u.username}${u.password ? `:${u.password}` : ''}@` : '';
  const rest = `${u.pathname}${u.search}`;
  return [
    url,
    `${u.protocol}//${auth}${u.hostname}${rest}`,
    `${u.protocol}//${auth}${u.hostname}:${defaultPort}${rest}`,
  ];
}

/**
 * Whether `signature` is Twilio's for this request. Fails closed: an empty token or a missing
 * signature is never valid.
 */
export function verifyTwilioSignature(args: {
  authToken: string;
  url: string;
  params: FormParams;
  signature: string | undefined;
}): boolean {
  const { authToken, url, params, signature } = args;
  if (!authToken || !signature) return false;
  const given = Buffer.from(signature, 'utf8');
  return urlVariants(url).some((candidate) => {
    const expected = Buffer.from(twilioSignature(authToken, candidate, params), 'utf8');
    return expected.length === given.length && timingSafeEqual(expected, given);
  });
}
