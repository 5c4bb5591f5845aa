/**
 * @module crypto
 * Envelope encryption at rest (45 CFR 164.312(a)(2)(iv)): each organisation has AES-256-GCM
 * data keys, each wrapped by one of a keyring of versioned master keys (key-encryption keys,
 * see orgs/keyrings). Every ciphertext names the key that made it, so keys can rotate
 * without re-reading old rows, and binds the row it belongs to as associated data, so a
 * ciphertext copied into another row fails to decrypt. Phone lookups use a keyed HMAC blind
 * index, never the plaintext. Keys are handed in; this module looks nothing up.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { AppError } from '../errors/index.js';
import { randomPoolBytes } from './random.js';

const ALG = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const FORMAT = 'v1';

export class DecryptionError extends Error {
  constructor(reason: string) {
    super(`Decryption failed: ${reason}`);
    this.name = 'DecryptionError';
  }
}

/** The keys of one organisation, unwrapped, as crypto needs them. */
export interface Keyring {
  readonly orgId: string;
  /** Key used for new ciphertexts. */
  readonly activeKeyId: string;
  /** Every data key that may appear in a stored ciphertext, by id. */
  readonly dataKeys: ReadonlyMap<string, Buffer>;
  /** Key of the blind index; stable for the organisation's life so lookups keep working. */
  readonly indexKey: Buffer;
  /** Data keys destroyed on purpose (crypto-shredding): what they protected is gone. */
  readonly shreddedKeyIds?: ReadonlySet<string>;
}

/** A key-encryption key and its id (see `keyId`), which every key it wraps records. */
export interface MasterKey {
  readonly id: string;
  readonly key: Buffer;
}

export function masterKey(key: Buffer): MasterKey {
  if (key.length !== 32) throw new Error('a master key must be 32 bytes');
  return { id: keyId(key), key };
}

export function generateKey(): Buffer {
  return randomBytes(32);
}

/** A short, non-secret id for a key: the first 16 hex digits of its SHA-256. */
export function keyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

function seal(key: Buffer, aad: string, plaintext: Buffer): Buffer {
  const iv = randomPoolBytes(IV_BYTES);
  const cipher = createCipheriv(ALG, key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]);
}

function open(key: Buffer, aad: string, sealed: Buffer): Buffer {
  if (sealed.length < IV_BYTES + TAG_BYTES) throw new DecryptionError('ciphertext too short');
  const iv = sealed.subarray(0, IV_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  const decipher = createDecipheriv(ALG, key, iv);
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([
      decipher.update(sealed.subarray(IV_BYTES, -TAG_BYTES)),
      decipher.final(),
    ]);
  } catch {
    throw new DecryptionError('authentication failed');
  }
}

/** Associated data binding a ciphertext to its organisation, table, row and column. */
export function rowAad(orgId: string, table: string, rowId: string, column: string): string {
  return `${orgId}|${table}|${rowId}|${column}`;
}

/** Encrypts text under the keyring's active key: `v1:<keyId>:<base64(iv‖ciphertext‖tag)>`. */
export function encrypt(keyring: Keyring, aad: string, plaintext: string): string {
  const key = keyring.dataKeys.get(keyring.activeKeyId);
  if (!key) throw new Error('active data key missing from keyring');
  const sealed = seal(key, aad, Buffer.from(plaintext, 'utf8'));
  return `${FORMAT}:${keyring.activeKeyId}:${sealed.toString('base64')}`;
}

/**
 * What the retention sweeper writes over content it destroys (message bodies, secure-message
 * content): not ciphertext, so nothing remains to decrypt. `decrypt` reads it as the empty
 * text, so every reader keeps working on the metadata that stays.
 */
export const DESTROYED_CONTENT = 'destroyed:retention';

export function decrypt(keyring: Keyring, aad: string, ciphertext: string): string {
  if (ciphertext === DESTROYED_CONTENT) return '';
  const [format, kid, payload] = ciphertext.split(':');
  if (format !== FORMAT || !kid || payload === undefined) {
    throw new DecryptionError('unknown format');
  }
  const key = keyring.dataKeys.get(kid);
  if (!key) {
    // A shredded key is an expected end of life (retention), not a fault: the caller gets a
    // coded error instead of a 500.
    if (keyring.shreddedKeyIds?.has(kid)) throw new AppError('data_key_destroyed');
    throw new DecryptionError('unknown key');
  }
  return open(key, aad, Buffer.from(payload, 'base64')).toString('utf8');
}

/**
 * `decrypt`, or null when the ciphertext's data key was shredded (`tidings keys shred`): for
 * records that must stay usable after one encrypted field became unreadable (the consent
 * ledger, legal holds). Such a record shows the field as `null` with `destroyed: true`. Only
 * the shredded key is absorbed; any other failure still throws, and nothing is read that the
 * key protected, so shredding stays final.
 */
export function decryptUnlessShredded(
  keyring: Keyring,
  aad: string,
  ciphertext: string,
): string | null {
  const kid = ciphertext.split(':')[1];
  if (kid !== undefined && keyring.shreddedKeyIds?.has(kid)) return null;
  return decrypt(keyring, aad, ciphertext);
}

/** Keyed blind index for equality lookups (HMAC-SHA256, hex). */
export function blindIndex(keyring: Keyring, value: string): string {
  return createHmac('sha256', keyring.indexKey).update(value, 'utf8').digest('hex');
}

/** Wraps a key under the master key; the organisation and key id are bound as AAD. */
export function wrapKey(master: Buffer, key: Buffer, aad: string): string {
  return seal(master, aad, key).toString('base64');
}

export function unwrapKey(master: Buffer, wrapped: string, aad: string): Buffer {
  return open(master, aad, Buffer.from(wrapped, 'base64'));
}

/** SHA-256 of a string, hex. */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}
