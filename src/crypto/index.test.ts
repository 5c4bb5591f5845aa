import { describe, expect, it } from 'vitest';
import {
  blindIndex,
  decrypt,
  DecryptionError,
  encrypt,
  generateKey,
  keyId,
  rowAad,
  unwrapKey,
  wrapKey,
  type Keyring,
} from './index.js';

function keyring(orgId = 'org_a'): Keyring {
  const k = generateKey();
  return {
    orgId,
    activeKeyId: `dk_${keyId(k)}`,
    dataKeys: new Map([[`dk_${keyId(k)}`, k]]),
    indexKey: generateKey(),
  };
}

describe('envelope encryption', () => {
  const ring = keyring();
  const aad = rowAad('org_a', 'messages', 'msg_1', 'body');

  it('round-trips and names its key', () => {
    const c = encrypt(ring, aad, 'Your results are ready');
    expect(c.startsWith(`v1:${ring.activeKeyId}:`)).toBe(true);
    expect(c).not.toContain('results');
    expect(decrypt(ring, aad, c)).toBe('Your results are ready');
  });

  it('uses a fresh IV each time', () => {
    expect(encrypt(ring, aad, 'x')).not.toBe(encrypt(ring, aad, 'x'));
  });

  it('refuses a ciphertext moved to another row or tampered with', () => {
    const c = encrypt(ring, aad, 'hello');
    expect(() => decrypt(ring, rowAad('org_a', 'messages', 'msg_2', 'body'), c)).toThrow(
      DecryptionError,
    );
    const [v, kid, payload] = c.split(':');
    const bytes = Buffer.from(payload!, 'base64');
    bytes[bytes.length - 1]! ^= 1;
    expect(() => decrypt(ring, aad, `${v}:${kid}:${bytes.toString('base64')}`)).toThrow(
      DecryptionError,
    );
    expect(() => decrypt(ring, aad, 'v2:x:y')).toThrow(DecryptionError);
    expect(() => decrypt(keyring(), aad, c)).toThrow(DecryptionError);
  });

  it('still decrypts old ciphertexts after a new active key is added', () => {
    const old = encrypt(ring, aad, 'before rotation');
    const k2 = generateKey();
    const rotated: Keyring = {
      ...ring,
      activeKeyId: 'dk_new',
      dataKeys: new Map([...ring.dataKeys, ['dk_new', k2]]),
    };
    expect(decrypt(rotated, aad, old)).toBe('before rotation');
    expect(encrypt(rotated, aad, 'after').startsWith('v1:dk_new:')).toBe(true);
  });

  it('wraps keys under the master key, bound to their owner', () => {
    const master = generateKey();
    const k = generateKey();
    const w = wrapKey(master, k, 'org_a|dk_1');
    expect(unwrapKey(master, w, 'org_a|dk_1').equals(k)).toBe(true);
    expect(() => unwrapKey(master, w, 'org_b|dk_1')).toThrow(DecryptionError);
    expect(() => unwrapKey(generateKey(), w, 'org_a|dk_1')).toThrow(DecryptionError);
  });

  it('makes a stable, keyed blind index', () => {
    expect(blindIndex(ring, '+16175550123')).toBe(blindIndex(ring, '+16175550123'));
    expect(blindIndex(ring, '+16175550123')).not.toBe(blindIndex(ring, '+16175550124'));
    expect(blindIndex(keyring(), '+16175550123')).not.toBe(blindIndex(ring, '+16175550123'));
  });
});
