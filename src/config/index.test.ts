import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './index.js';

describe('loadConfig', () => {
  it('has safe defaults', () => {
    const c = loadConfig({});
    expect(c.port).toBe(3000);
    expect(c.host).toBe('127.0.0.1');
    expect(c.databaseUrl).toBeUndefined();
    expect(c.carrier).toBe('simulator');
    expect(c.publicUrl).toBe('http://127.0.0.1:3000');
    expect(c.sendRegions).toEqual(['US', 'CA']);
    expect(c.dispatchLeaseMs).toBe(60_000);
  });

  it('names the variable that is wrong', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/PORT/);
    expect(() => loadConfig({ DATABASE_URL: 'mysql://x' })).toThrow(/DATABASE_URL/);
    expect(() => loadConfig({ TIDINGS_MASTER_KEY: 'short' })).toThrow(/TIDINGS_MASTER_KEY/);
    expect(() => loadConfig({ LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL/);
    expect(() => loadConfig({ TIDINGS_CARRIER: 'pigeon' })).toThrow(/TIDINGS_CARRIER/);
    expect(() => loadConfig({ TIDINGS_SEND_REGIONS: 'us' })).toThrow(/TIDINGS_SEND_REGIONS/);
    expect(() => loadConfig({ TIDINGS_DISPATCH_LEASE_MS: '10' })).toThrow(
      /TIDINGS_DISPATCH_LEASE_MS/,
    );
  });

  it('checks the SMPP bind URL at start-up without quoting it', () => {
    for (const url of [
      'smpp://sys:longerthan8@127.0.0.1:2775',
      'smpp://127.0.0.1:2775',
      'smpp://sys:pw@127.0.0.1:2775?window=0',
      'smpp://sys:pw@127.0.0.1:2775?windw=5',
    ]) {
      const e = (() => {
        try {
          loadConfig({ TIDINGS_CARRIER: 'smpp', TIDINGS_SMPP_URL: url });
        } catch (err) {
          return err as Error;
        }
      })();
      expect(e, url).toBeInstanceOf(ConfigError);
      expect(e!.message).toMatch(/TIDINGS_SMPP_URL: .*\(SMPP_URL_[A-Z_]+\)/);
      expect(e!.message).not.toContain('longerthan8');
    }
    // The URL's window applies unless TIDINGS_SMPP_WINDOW is set.
    const url = 'smpp://sys:pw@127.0.0.1:2775?window=50';
    expect(loadConfig({ TIDINGS_CARRIER: 'smpp', TIDINGS_SMPP_URL: url }).smpp).toEqual({
      url,
      window: undefined,
    });
    expect(
      loadConfig({ TIDINGS_CARRIER: 'smpp', TIDINGS_SMPP_URL: url, TIDINGS_SMPP_WINDOW: '5' }).smpp
        ?.window,
    ).toBe(5);
  });

  it('refuses to start in production without a master key', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(ConfigError);
    const key = Buffer.alloc(32, 7).toString('base64');
    expect(loadConfig({ NODE_ENV: 'production', TIDINGS_MASTER_KEY: key }).masterKey).toBe(key);
  });

  it('accepts PostgreSQL URLs', () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://u@h/db' }).databaseUrl).toBe('postgres://u@h/db');
  });
});

describe('key and transport settings', () => {
  const key = Buffer.alloc(32, 7).toString('base64');

  it('accepts a master key file instead of TIDINGS_MASTER_KEY, but not both', () => {
    const c = loadConfig({ NODE_ENV: 'production', TIDINGS_MASTER_KEY_FILE: 'keys/master' });
    expect(c.masterKeyFile).toMatch(/[/\\]keys[/\\]master$/);
    expect(c.masterKey).toBeUndefined();
    expect(() =>
      loadConfig({ TIDINGS_MASTER_KEY: key, TIDINGS_MASTER_KEY_FILE: '/etc/tidings/keys' }),
    ).toThrow(/TIDINGS_MASTER_KEY_FILE: set either/);
  });

  it('serves HTTPS only with both TLS files, naming the one missing', () => {
    expect(loadConfig({}).tls).toBeUndefined();
    expect(() => loadConfig({ TLS_CERT_FILE: '/c.pem' })).toThrow(/TLS_KEY_FILE: required/);
    expect(() => loadConfig({ TLS_KEY_FILE: '/k.pem' })).toThrow(/TLS_CERT_FILE: required/);
    const c = loadConfig({ TLS_CERT_FILE: '/c.pem', TLS_KEY_FILE: '/k.pem' });
    expect(c.tls).toEqual({ certFile: '/c.pem', keyFile: '/k.pem' });
    expect(c.publicUrl).toBe('https://127.0.0.1:3000');
  });
});
