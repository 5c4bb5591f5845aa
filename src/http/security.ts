/**
 * @module http/security
 * Transmission security (45 CFR 164.312(e)(1)): HTTPS with TLS 1.2 or newer when
 * `TLS_CERT_FILE` and `TLS_KEY_FILE` are set, and the security headers every response
 * carries (helmet). HSTS is sent only when this server itself speaks TLS: over plain HTTP a
 * browser ignores it, and behind a TLS-terminating proxy the proxy owns it.
 *
 * Content-Security-Policy: every response gets the strictest policy (nothing may load, be
 * framed or be submitted), which is right for JSON and errors. The one HTML page, `/docs`
 * (Swagger UI), gets a policy of its own naming exactly what it needs: its scripts and
 * styles from this origin (it has no inline script or style and needs no eval), images from
 * this origin or `data:` URIs (its icons), fetches to this origin (the OpenAPI document).
 * No third-party origin: Swagger UI's online validator stays off.
 */
import fs from 'node:fs';
import tls from 'node:tls';
import type { ServerOptions } from 'node:https';
import helmet, { type HelmetOptions } from 'helmet';
import { ConfigError, type Config } from '../config/index.js';

/** TLS 1.0 and 1.1 are deprecated (RFC 8996); NIST SP 800-52r2 requires 1.2 or newer. */
export const MIN_TLS_VERSION = 'TLSv1.2' as const;

/** One year, the value browsers' HSTS preload lists expect as a minimum. */
export const HSTS_MAX_AGE_SECONDS = 365 * 24 * 60 * 60;

type Directives = Record<string, string[]>;

/** Every response: JSON and errors load nothing and may not be framed. */
const STRICT_CSP: Directives = {
  'default-src': ["'none'"],
  'base-uri': ["'none'"],
  'form-action': ["'none'"],
  'frame-ancestors': ["'none'"],
};

/** The Swagger UI page at /docs and its assets. */
const DOCS_CSP: Directives = {
  'default-src': ["'none'"],
  'script-src': ["'self'"],
  'script-src-attr': ["'none'"],
  'style-src': ["'self'"],
  'img-src': ["'self'", 'data:'],
  'connect-src': ["'self'"],
  'font-src': ["'self'"],
  'object-src': ["'none'"],
  'base-uri': ["'none'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
};

/**
 * The staff console at /console (src/http/console.ts): its script and stylesheet from this
 * origin, fetches to this origin's API; no inline script or style attribute, no eval, no
 * third-party origin. `img-src data:` is not needed: the TOTP QR code is inline SVG.
 */
const CONSOLE_CSP: Directives = {
  'default-src': ["'none'"],
  'script-src': ["'self'"],
  'script-src-attr': ["'none'"],
  'style-src': ["'self'"],
  'img-src': ["'self'"],
  'connect-src': ["'self'"],
  'font-src': ["'self'"],
  'manifest-src': ["'self'"],
  'object-src': ["'none'"],
  'base-uri': ["'none'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
};

/** Under TLS, a stray `http:` reference is upgraded rather than loaded in the clear. */
function withUpgrade(config: Config, d: Directives): Directives {
  return config.tls ? { ...d, 'upgrade-insecure-requests': [] } : d;
}

function serialise(d: Directives): string {
  return Object.entries(d)
    .map(([k, v]) => (v.length ? `${k} ${v.join(' ')}` : k))
    .join('; ');
}

/** The Content-Security-Policy of the /docs page (for @fastify/swagger-ui's `staticCSP`). */
export function docsCsp(config: Config): string {
  return serialise(withUpgrade(config, DOCS_CSP));
}

/** The Content-Security-Policy of the staff console's page. */
export function consoleCsp(config: Config): string {
  return serialise(withUpgrade(config, CONSOLE_CSP));
}

/** Helmet's options: the headers every response carries. */
export function helmetOptions(config: Config): HelmetOptions {
  return {
    contentSecurityPolicy: { useDefaults: false, directives: withUpgrade(config, STRICT_CSP) },
    strictTransportSecurity: config.tls
      ? { maxAge: HSTS_MAX_AGE_SECONDS, includeSubDomains: false, preload: false }
      : false,
    xFrameOptions: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    crossOriginOpenerPolicy: { policy: 'same-origin' },
    crossOriginResourcePolicy: { policy: 'same-origin' },
  };
}

/**
 * The security headers, worked out once by helmet at start-up: they depend only on the
 * configuration, so each response just copies them (@fastify/helmet builds helmet's
 * middleware again for every request, which showed in the request profile).
 */
export function securityHeaders(config: Config): Record<string, string> {
  const headers: Record<string, string> = {};
  const res = {
    setHeader: (name: string, value: string) => void (headers[name.toLowerCase()] = value),
    removeHeader: (name: string) => void delete headers[name.toLowerCase()],
  };
  helmet(helmetOptions(config))(
    {} as Parameters<ReturnType<typeof helmet>>[0],
    res as unknown as Parameters<ReturnType<typeof helmet>>[1],
    () => undefined,
  );
  return headers;
}

function readPem(variable: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new ConfigError([
      `${variable}: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
    ]);
  }
}

/**
 * Fastify's `https` option when TLS is configured, else nothing. The certificate and key are
 * read and checked now, so a wrong file stops start-up with a message naming the variable.
 */
export function httpsServerOptions(config: Config): { https?: ServerOptions } {
  if (!config.tls) return {};
  const cert = readPem('TLS_CERT_FILE', config.tls.certFile);
  const key = readPem('TLS_KEY_FILE', config.tls.keyFile);
  try {
    tls.createSecureContext({ cert, key, minVersion: MIN_TLS_VERSION });
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code ?? 'invalid';
    throw new ConfigError([
      `TLS_KEY_FILE: the certificate and key cannot be used together, or are not PEM (${reason})`,
    ]);
  }
  return { https: { cert, key, minVersion: MIN_TLS_VERSION } };
}
