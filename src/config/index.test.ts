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

  it('refuses to start in production without a master key', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(ConfigError);
    const key = Buffer.alloc(32, 7).toString('base64');
    expect(loadConfig({ NODE_ENV: 'production', TIDINGS_MASTER_KEY: key }).masterKey).toBe(key);
  });

  it('accepts PostgreSQL URLs', () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://u@h/db' }).databaseUrl).toBe('postgres://u@h/db');
  });
});
