/**
 * Transmission security over real sockets: HTTPS with a certificate made by `openssl` for the
 * test, TLS 1.1 refused while 1.2 and 1.3 are served, HSTS only under TLS, helmet's security
 * headers on every response (including errors), the strictest Content-Security-Policy on
 * JSON, and a /docs page whose own policy lets Swagger UI load from this origin and nothing
 * else.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openTestRuntime, tempDir, type TestRuntime } from './helpers.js';
import { ConfigError } from '../src/config/index.js';

const ACTOR = { type: 'cli' as const, id: 'test' };

interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  protocol?: string | null;
}

/** Makes a self-signed certificate for 127.0.0.1 and localhost with the openssl CLI. */
function makeCertificate(dir: string, name: string): { cert: string; key: string } {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

function httpsGet(url: string, ca: Buffer, opts: https.RequestOptions = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca, ...opts }, (res) => {
      const protocol = (res.socket as tls.TLSSocket).getProtocol();
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          protocol,
        }),
      );
    });
    req.on('error', reject);
  });
}

/** Opens a TLS connection restricted to one protocol version; resolves with the outcome. */
function handshake(
  port: number,
  version: tls.SecureVersion,
): Promise<{ ok: true; protocol: string | null } | { ok: false; code: string }> {
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      minVersion: version,
      maxVersion: version,
      // OpenSSL 3 disables TLS < 1.2 at its default security level: lower it so this client
      // really offers the old version and any refusal comes from the server.
      ciphers: 'DEFAULT@SECLEVEL=0',
      rejectUnauthorized: false,
    });
    socket.once('secureConnect', () => {
      const protocol = socket.getProtocol();
      socket.end();
      resolve({ ok: true, protocol });
    });
    socket.once('error', (e: NodeJS.ErrnoException) => {
      socket.destroy();
      resolve({ ok: false, code: e.code ?? e.message });
    });
  });
}

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'x-dns-prefetch-control': 'off',
  'x-permitted-cross-domain-policies': 'none',
};

function expectSecurityHeaders(headers: Headers | Res['headers'], what: string): void {
  const get = (h: string) =>
    headers instanceof Headers ? headers.get(h) : (headers[h] as string | undefined);
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
    expect(get(name), `${name} on ${what}`).toBe(value);
  }
  expect(get('x-powered-by'), what).toBeFalsy();
  expect(get('content-security-policy'), what).toBeTruthy();
}

describe('HTTPS', () => {
  let t: TestRuntime;
  let base: string;
  let ca: Buffer;
  let port: number;
  let certDir: string;

  beforeAll(async () => {
    certDir = tempDir('tidings-tls-');
    const { cert, key } = makeCertificate(certDir, 'server');
    ca = fs.readFileSync(cert);
    t = await openTestRuntime({
      env: { PORT: '0', TLS_CERT_FILE: cert, TLS_KEY_FILE: key },
    });
    base = await t.rt.listen();
    port = Number(new URL(base).port);
  });

  afterAll(async () => {
    await t?.cleanup();
    fs.rmSync(certDir, { recursive: true, force: true });
  });

  it('serves HTTPS on the configured address and defaults PUBLIC_URL to https', async () => {
    expect(base).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(t.config.publicUrl).toMatch(/^https:/);
    const res = await httpsGet(`${base}/healthz`, ca);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ status: 'ok' });
    expect(['TLSv1.2', 'TLSv1.3']).toContain(res.protocol);
  });

  it('sends HSTS and the security headers on every response, errors included', async () => {
    const org = await t.rt.orgs.create('TLS Clinic', ACTOR);
    for (const [url, headers, status] of [
      ['/healthz', {}, 200],
      ['/openapi.json', {}, 200],
      ['/nowhere', {}, 404],
      ['/v1/messages', {}, 401],
      ['/v1/messages', { authorization: `Bearer ${org.apiKey}` }, 200],
    ] as const) {
      const res = await httpsGet(`${base}${url}`, ca, { headers });
      expect(res.status, url).toBe(status);
      expect(res.headers['strict-transport-security'], url).toBe('max-age=31536000');
      expectSecurityHeaders(res.headers, url);
      expect(res.headers['content-security-policy'], url).toContain('upgrade-insecure-requests');
    }
  });

  it('accepts TLS 1.2 and 1.3 and refuses TLS 1.1', async () => {
    expect(await handshake(port, 'TLSv1.3')).toEqual({ ok: true, protocol: 'TLSv1.3' });
    expect(await handshake(port, 'TLSv1.2')).toEqual({ ok: true, protocol: 'TLSv1.2' });
    const old = await handshake(port, 'TLSv1.1');
    expect(old.ok).toBe(false);
    // The server answered with a protocol_version alert: the client did offer TLS 1.1.
    expect(old).toMatchObject({ code: expect.stringMatching(/ALERT_PROTOCOL_VERSION/) as string });
  });

  it('(control) the same client does speak TLS 1.1 to a server that allows it', async () => {
    const { cert, key } = makeCertificate(certDir, 'control');
    const server = tls.createServer({
      cert: fs.readFileSync(cert),
      key: fs.readFileSync(key),
      minVersion: 'TLSv1',
      ciphers: 'DEFAULT@SECLEVEL=0',
    });
    server.on('secureConnection', (s) => s.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const p = (server.address() as { port: number }).port;
      expect(await handshake(p, 'TLSv1.1')).toEqual({ ok: true, protocol: 'TLSv1.1' });
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

describe('TLS configuration errors stop start-up naming the variable', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir('tidings-tls-bad-');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function listenError(env: Record<string, string>): Promise<unknown> {
    const t = await openTestRuntime({ env: { PORT: '0', ...env } });
    try {
      await t.rt.listen();
      return undefined;
    } catch (e) {
      return e;
    } finally {
      await t.cleanup();
    }
  }

  it('refuses a missing certificate file', async () => {
    const { key } = makeCertificate(dir, 'a');
    const e = await listenError({
      TLS_CERT_FILE: path.join(dir, 'missing.crt'),
      TLS_KEY_FILE: key,
    });
    expect(e).toBeInstanceOf(ConfigError);
    expect(String(e)).toMatch(/TLS_CERT_FILE: cannot read .*ENOENT/);
  });

  it('refuses a key that does not belong to the certificate, without quoting either', async () => {
    const a = makeCertificate(dir, 'b');
    const b = makeCertificate(dir, 'c');
    const e = await listenError({ TLS_CERT_FILE: a.cert, TLS_KEY_FILE: b.key });
    expect(e).toBeInstanceOf(ConfigError);
    expect(String(e)).toMatch(/TLS_KEY_FILE: the certificate and key cannot be used together/);
    expect(String(e)).not.toMatch(/BEGIN/);
  });
});

describe('plain HTTP', () => {
  let t: TestRuntime;
  let base: string;

  beforeAll(async () => {
    t = await openTestRuntime({ env: { PORT: '0' } });
    base = await t.rt.listen();
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  it('sends the security headers but no HSTS, on successes and errors', async () => {
    for (const [url, status] of [
      ['/healthz', 200],
      ['/readyz', 200],
      ['/metrics', 200],
      ['/openapi.json', 200],
      ['/nowhere', 404],
      ['/v1/messages', 401],
      ['/docs', 200],
    ] as const) {
      const res = await fetch(`${base}${url}`);
      expect(res.status, url).toBe(status);
      expect(res.headers.get('strict-transport-security'), url).toBeNull();
      expectSecurityHeaders(res.headers, url);
      expect(res.headers.get('content-security-policy'), url).not.toContain(
        'upgrade-insecure-requests',
      );
      await res.arrayBuffer();
    }
  });

  it('gives JSON responses the strictest Content-Security-Policy', async () => {
    const res = await fetch(`${base}/v1/messages`);
    expect(res.headers.get('content-security-policy')).toBe(
      "default-src 'none';base-uri 'none';form-action 'none';frame-ancestors 'none'",
    );
  });

  it('serves /docs with a policy that allows Swagger UI from this origin only', async () => {
    const page = await fetch(`${base}/docs`);
    const html = await page.text();
    const csp = page.headers.get('content-security-policy') ?? '';
    const directives = new Map(
      csp
        .split(';')
        .map((d) => d.trim().split(/\s+/))
        .filter((d) => d[0])
        .map(([name, ...values]) => [name!, values]),
    );
    expect(directives.get('default-src')).toEqual(["'none'"]);
    expect(directives.get('script-src')).toEqual(["'self'"]);
    expect(directives.get('style-src')).toEqual(["'self'"]);
    expect(directives.get('img-src')).toEqual(["'self'", 'data:']);
    expect(directives.get('connect-src')).toEqual(["'self'"]);
    expect(directives.get('frame-ancestors')).toEqual(["'none'"]);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:|\*/);

    // The page itself needs nothing the policy forbids: no inline script, style or handler.
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attrs, body] of scripts) {
      expect(attrs).toMatch(/\ssrc="/);
      expect(body!.trim()).toBe('');
    }
    expect(html).not.toMatch(/<style\b/i);
    expect(html).not.toMatch(/\sstyle=/i);
    expect(html).not.toMatch(/\son[a-z]+=/i);

    // Every asset it references comes from this origin and loads under the same policy.
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThanOrEqual(5);
    for (const ref of refs) {
      const url = new URL(ref, `${base}/docs`);
      expect(url.origin, ref).toBe(new URL(base).origin);
      const asset = await fetch(url);
      expect(asset.status, ref).toBe(200);
      expect(asset.headers.get('content-security-policy'), ref).toBe(csp);
      expectSecurityHeaders(asset.headers, ref);
      await asset.arrayBuffer();
    }

    // Swagger UI's start-up script fetches the document from this origin, validator off.
    const init = await (await fetch(`${base}/docs/static/swagger-initializer.js`)).text();
    expect(init).toMatch(/validatorUrl: null/);
    expect(init).toMatch(/resolveUrl\('\.\/json'\)/);
    const code = init
      .split('\n')
      .filter((l) => !l.trim().startsWith('//'))
      .join('\n');
    expect(code).not.toMatch(/https?:\/\//);
    const doc = await fetch(`${base}/docs/json`);
    expect(doc.status).toBe(200);
    expect(((await doc.json()) as { openapi: string }).openapi).toBe('3.1.0');
  });
});

describe('tidings serve', () => {
  it('stops with exit code 2 naming the variable when a TLS file is unreadable', async () => {
    const { main } = await import('../src/cli/main.js');
    const dir = tempDir('tidings-serve-tls-');
    const vars = [
      'NODE_ENV',
      'TIDINGS_DATA_DIR',
      'LOG_LEVEL',
      'PORT',
      'TLS_CERT_FILE',
      'TLS_KEY_FILE',
      'DATABASE_URL',
    ];
    const saved = Object.fromEntries(vars.map((v) => [v, process.env[v]]));
    Object.assign(process.env, {
      NODE_ENV: 'test',
      TIDINGS_DATA_DIR: dir,
      LOG_LEVEL: 'silent',
      PORT: '0',
      TLS_CERT_FILE: path.join(dir, 'missing.crt'),
      TLS_KEY_FILE: path.join(dir, 'missing.key'),
    });
    delete process.env.DATABASE_URL;
    const err: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => {
      err.push(String(c));
      return true;
    });
    try {
      await main(['node', 'tidings', 'serve']);
      expect(process.exitCode).toBe(2);
      expect(err.join('')).toMatch(/TLS_CERT_FILE: cannot read .*missing\.crt \(ENOENT\)/);
    } finally {
      spy.mockRestore();
      process.exitCode = undefined;
      for (const v of vars) {
        if (saved[v] === undefined) delete process.env[v];
        else process.env[v] = saved[v];
      }
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
