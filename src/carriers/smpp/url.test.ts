import { describe, expect, it } from 'vitest';
import { CarrierError } from '../types.js';
import { describeBind, parseSmppUrl } from './url.js';
import { SMPP_STATUS, statusKind, statusName } from './status-codes.js';

describe('SMPP bind URL', () => {
  it('reads credentials, host, port, TLS and settings', () => {
    expect(
      parseSmppUrl('ssmpp://clinic%401:p%3Ass@smsc.example.net:3551?window=50&mps=100&bind=split'),
    ).toEqual({
      tls: true,
      host: 'smsc.example.net',
      port: 3551,
      systemId: 'clinic@1',
      password: 'p:ss',
      systemType: '',
      bind: 'split',
      window: 50,
      mps: 100,
    });
    expect(parseSmppUrl('smpp://a:b@h').port).toBe(2775);
  });

  it('refuses bad URLs with a code that never quotes them', () => {
    for (const bad of [
      'http://a:b@h',
      'smpp://:pw@h',
      'smpp://a:waytoolongpw@h',
      'smpp://a:b@h?window=0',
      'smpp://a:b@h?windw=50',
      'nope',
    ]) {
      const e = (() => {
        try {
          parseSmppUrl(bad);
        } catch (err) {
          return err;
        }
      })();
      expect(e).toBeInstanceOf(CarrierError);
      expect((e as CarrierError).kind).toBe('config');
      expect((e as CarrierError).message).not.toContain('pw');
    }
  });

  it('describes a bind without its credentials', () => {
    expect(describeBind(parseSmppUrl('smpp://sys:secret@10.0.0.1:2775'))).toBe(
      'smpp://10.0.0.1:2775',
    );
  });
});

describe('SMPP status table', () => {
  it('maps each listed code to the closed set, unknown codes to transient', () => {
    expect(statusKind(0x58)).toBe('throttled');
    expect(statusKind(0x14)).toBe('throttled');
    expect(statusKind(0x0b)).toBe('invalid_recipient');
    expect(statusKind(0x0e)).toBe('config');
    expect(statusKind(0x45)).toBe('transient');
    expect(statusKind(0x66)).toBe('permanent');
    expect(statusKind(0x0499)).toBe('transient');
    expect(statusKind(0x0499, new Set([0x0499]))).toBe('opted_out');
    expect(statusName(0x58)).toBe('ESME_RTHROTTLED');
    expect(statusName(0x0499)).toBe('0x00000499');
    const names = [...SMPP_STATUS.values()].map((e) => e.name);
    expect(new Set(names).size).toBe(names.length);
  });
});
