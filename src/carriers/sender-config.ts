/**
 * @module carriers/sender-config
 * A sender's carrier settings: what `tidings sender add` and `POST /v1/senders` take for each
 * carrier, validated here and stored by orgs as one JSON document encrypted with the
 * organisation's data key. The credentials in it are never logged and never returned;
 * `describeCarrierSettings` gives the parts that are safe to show.
 */
import { z } from 'zod';
import { CarrierError } from './types.js';
import { parseSmppUrl, type SmppBindSettings } from './smpp/url.js';

export const SENDER_CARRIERS = ['simulator', 'smpp', 'twilio', 'telnyx'] as const;
export type SenderCarrier = (typeof SENDER_CARRIERS)[number];

const httpUrl = z
  .string()
  .max(500)
  .refine((v) => /^https?:\/\/[^\s]+$/.test(v) && URL.canParse(v), 'must be an http(s) URL');

export interface SmppSettings {
  carrier: 'smpp';
  host: string;
  port: number;
  tls: boolean;
  systemId: string;
  password: string;
  systemType: string;
  bind: 'transceiver' | 'split';
  /** Outstanding submit_sm allowed (issue 6 default 10). */
  window: number;
}

export interface TwilioSettings {
  carrier: 'twilio';
  accountSid: string;
  authToken: string;
  baseUrl?: string | undefined;
}

export interface TelnyxSettings {
  carrier: 'telnyx';
  apiKey: string;
  /** Base64 Ed25519 public key that signs this account's webhooks. */
  publicKey: string;
  baseUrl?: string | undefined;
}

export type CarrierSettings = SmppSettings | TwilioSettings | TelnyxSettings;

/** What a caller gives for a sender's carrier (CLI flags or API body). */
export interface CarrierSettingsInput {
  carrier: SenderCarrier;
  url?: string | undefined;
  window?: number | undefined;
  accountSid?: string | undefined;
  authToken?: string | undefined;
  apiKey?: string | undefined;
  publicKey?: string | undefined;
  baseUrl?: string | undefined;
}

export class CarrierSettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CarrierSettingsError';
  }
}

const secret = (name: string) =>
  z
    .string({ error: `${name} is required` })
    .min(1, `${name} is required`)
    .max(500);

/**
 * Parses `smpp://SYSTEM_ID:PASSWORD@HOST:PORT` (`ssmpp://` for TLS) with carriers/smpp's
 * parser; `window` (default 10) is the outstanding `submit_sm` allowed.
 */
export function smppSettings(url: string, window?: number): SmppSettings {
  let b: SmppBindSettings;
  try {
    b = parseSmppUrl(url);
  } catch (e) {
    if (e instanceof CarrierError) {
      // Its code names the part that is wrong (SMPP_URL_HOST …), never the URL.
      throw new CarrierSettingsError(`The SMPP URL is not valid (${e.carrierCode}).`);
    }
    throw e;
  }
  const w = window ?? b.window ?? 10;
  if (!Number.isInteger(w) || w < 1 || w > 1000) {
    throw new CarrierSettingsError('The window must be a whole number from 1 to 1000.');
  }
  return {
    carrier: 'smpp',
    host: b.host,
    port: b.port,
    tls: b.tls,
    systemId: b.systemId,
    password: b.password,
    systemType: b.systemType,
    bind: b.bind,
    window: w,
  };
}

/** Which settings each carrier takes; one given for another carrier is refused, not ignored. */
const SETTINGS_OF: Record<SenderCarrier, readonly (keyof CarrierSettingsInput)[]> = {
  simulator: [],
  smpp: ['url', 'window'],
  twilio: ['accountSid', 'authToken', 'baseUrl'],
  telnyx: ['apiKey', 'publicKey', 'baseUrl'],
};
const ALL_SETTINGS = [...new Set(Object.values(SETTINGS_OF).flat())];

/** Validates what a caller gave into the settings stored for a sender (null: simulator). */
export function parseCarrierSettings(input: CarrierSettingsInput): CarrierSettings | null {
  const foreign = ALL_SETTINGS.find(
    (k) => input[k] !== undefined && !SETTINGS_OF[input.carrier].includes(k),
  );
  if (foreign) {
    throw new CarrierSettingsError(`${foreign} is not a setting of a ${input.carrier} sender.`);
  }
  switch (input.carrier) {
    case 'simulator':
      return null;
    case 'smpp':
      if (!input.url) throw new CarrierSettingsError('An SMPP sender needs --url.');
      return smppSettings(input.url, input.window);
    case 'twilio': {
      const r = z
        .object({
          accountSid: secret('account SID').regex(
            /^AC[0-9a-fA-F]{32}$/,
            'the account SID is AC and 32 hexadecimal digits (Twilio Console → Account Info)',
          ),
          authToken: secret('auth token'),
          baseUrl: httpUrl.optional(),
        })
        .safeParse(input);
      if (!r.success) throw new CarrierSettingsError(r.error.issues[0]?.message ?? 'invalid');
      return { carrier: 'twilio', ...r.data };
    }
    case 'telnyx': {
      const r = z
        .object({
          apiKey: secret('API key'),
          publicKey: secret('public key').refine(
            (v) => Buffer.from(v, 'base64').length === 32,
            'the public key must be 32 bytes, base64 (Mission Control → Keys & Credentials)',
          ),
          baseUrl: httpUrl.optional(),
        })
        .safeParse(input);
      if (!r.success) throw new CarrierSettingsError(r.error.issues[0]?.message ?? 'invalid');
      return { carrier: 'telnyx', ...r.data };
    }
  }
}

/** The parts of a sender's settings that are safe to show: never a password, token or key. */
export function describeCarrierSettings(
  s: CarrierSettings | null,
): Record<string, string | number | boolean> {
  if (!s) return {};
  switch (s.carrier) {
    case 'smpp':
      return { host: s.host, port: s.port, tls: s.tls, window: s.window };
    case 'twilio':
      return { accountSid: s.accountSid, ...(s.baseUrl ? { baseUrl: s.baseUrl } : {}) };
    case 'telnyx':
      return s.baseUrl ? { baseUrl: s.baseUrl } : {};
  }
}
