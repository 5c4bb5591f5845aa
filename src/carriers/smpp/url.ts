/**
 * @module carriers/smpp/url
 * Reads the bind URL `smpp://SYSTEM_ID:PASSWORD@HOST:PORT` (`ssmpp://` for TLS) with optional
 * query settings `window`, `mps`, `bind` (`transceiver` or `split`: a transmitter and a
 * receiver) and `system_type`. The password never leaves this module except inside the
 * returned object; `describeBind` is the only form fit for a log line or an error.
 */
import { CarrierError } from '../types.js';

export interface SmppBindSettings {
  tls: boolean;
  host: string;
  port: number;
  systemId: string;
  password: string;
  systemType: string;
  bind: 'transceiver' | 'split';
  window?: number | undefined;
  mps?: number | undefined;
}

/** Default ports: 2775 is the IANA-registered SMPP port; 3550 is the common SMPP-over-TLS one. */
const DEFAULT_PORT = { smpp: 2775, ssmpp: 3550 } as const;

/** The query settings a bind URL may carry; any other (a misspelt `windw=`) is refused. */
const SETTINGS = new Set(['window', 'mps', 'bind', 'system_type']);

function positive(v: string | null, name: string, max: number): number | undefined {
  if (v === null) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new CarrierError('config', `SMPP_URL_BAD_${name.toUpperCase()}`);
  }
  return n;
}

/** Parses a bind URL; throws CarrierError('config') naming what is wrong, never the URL. */
export function parseSmppUrl(url: string): SmppBindSettings {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new CarrierError('config', 'SMPP_URL_INVALID');
  }
  const scheme = u.protocol.replace(/:$/, '');
  if (scheme !== 'smpp' && scheme !== 'ssmpp') throw new CarrierError('config', 'SMPP_URL_SCHEME');
  if (!u.hostname) throw new CarrierError('config', 'SMPP_URL_HOST');
  const systemId = decodeURIComponent(u.username);
  const password = decodeURIComponent(u.password);
  // SMPP v3.4 §4.1.1: system_id is at most 15 octets, password at most 8 (C-Octet Strings of 16 and 9).
  if (!systemId || systemId.length > 15) throw new CarrierError('config', 'SMPP_URL_SYSTEM_ID');
  if (password.length > 8) throw new CarrierError('config', 'SMPP_URL_PASSWORD');
  for (const name of u.searchParams.keys()) {
    if (!SETTINGS.has(name)) throw new CarrierError('config', 'SMPP_URL_UNKNOWN_SETTING');
  }
  const bind = u.searchParams.get('bind') ?? 'transceiver';
  if (bind !== 'transceiver' && bind !== 'split') throw new CarrierError('config', 'SMPP_URL_BIND');
  const systemType = u.searchParams.get('system_type') ?? '';
  if (systemType.length > 12) throw new CarrierError('config', 'SMPP_URL_SYSTEM_TYPE');
  return {
    tls: scheme === 'ssmpp',
    host: u.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: u.port ? Number(u.port) : DEFAULT_PORT[scheme],
    systemId,
    password,
    systemType,
    bind,
    window: positive(u.searchParams.get('window'), 'window', 1000),
    mps: positive(u.searchParams.get('mps'), 'mps', 100_000),
  };
}

/** `smpp://HOST:PORT` with no credentials: what may be logged or shown. */
export function describeBind(s: Pick<SmppBindSettings, 'tls' | 'host' | 'port'>): string {
  return `${s.tls ? 'ssmpp' : 'smpp'}://${s.host}:${s.port}`;
}
