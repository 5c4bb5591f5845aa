/**
 * @module audit/signing
 * The Ed25519 keys that sign audit checkpoints and export seals (45 CFR 164.312(c)(1),
 * integrity). Each organisation has its own key pair, made the first time it is needed: the
 * private half is stored only wrapped by the master key, the public half can be handed to an
 * auditor, who can then check any checkpoint or export of that organisation without trusting
 * the database it came from. Per organisation rather than per installation so an
 * organisation's evidence stays verifiable if it moves to another installation or shard,
 * and so every row of the table starts with `org_id` like every other tenant table.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { sql } from 'kysely';
import type { Store } from '../store/index.js';
import { AppError } from '../errors/index.js';
import { appendAudit, SYSTEM_ACTOR } from './index.js';

export const SIGNING_ALGORITHM = 'Ed25519';

/**
 * Wraps and unwraps key material with the installation's master key (crypto's wrapKey).
 * Handed in by the runtime, so audit never looks a key up itself.
 */
export interface KeyWrapper {
  /** Wraps `key` with the newest master key, naming it. */
  wrap(key: Buffer, aad: string): { wrapped: string; masterKeyId: string };
  /** Unwraps `wrapped`, made by the master key `masterKeyId`. */
  unwrap(wrapped: string, aad: string, masterKeyId: string): Buffer;
}

/** Public keys an auditor trusts, by key id. */
export type TrustedKeys = ReadonlyMap<string, KeyObject>;

export interface PublicKeyInfo {
  orgId: string;
  keyId: string;
  algorithm: typeof SIGNING_ALGORITHM;
  /** SubjectPublicKeyInfo, PEM. */
  publicKey: string;
  createdAt: string;
}

interface ActiveKey {
  info: PublicKeyInfo;
  privateKey: KeyObject;
}

/** A key's id: `ask_` and the first 16 hex digits of the SHA-256 of its public key (DER). */
export function signingKeyId(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return `ask_${createHash('sha256').update(der).digest('hex').slice(0, 16)}`;
}

/** Signs a canonical message (a JSON array) with Ed25519; base64. */
export function signMessage(privateKey: KeyObject, message: readonly unknown[]): string {
  return sign(null, Buffer.from(JSON.stringify(message), 'utf8'), privateKey).toString('base64');
}

export function verifyMessage(
  publicKey: KeyObject,
  message: readonly unknown[],
  signature: string,
): boolean {
  if (typeof signature !== 'string' || !/^[A-Za-z0-9+/]+=*$/.test(signature)) return false;
  try {
    return verify(
      null,
      Buffer.from(JSON.stringify(message), 'utf8'),
      publicKey,
      Buffer.from(signature, 'base64'),
    );
  } catch {
    return false;
  }
}

const PEM_BLOCK = /-----BEGIN PUBLIC KEY-----[\s\S]*?-----END PUBLIC KEY-----/g;

/** The Ed25519 public keys in PEM text (one or more blocks), by key id. */
export function parsePublicKeys(pem: string): TrustedKeys {
  const blocks = pem.match(PEM_BLOCK) ?? [];
  if (blocks.length === 0) {
    throw new AppError('invalid_public_key', 'No PEM public key block found.');
  }
  const keys = new Map<string, KeyObject>();
  for (const block of blocks) {
    let key: KeyObject;
    try {
      key = createPublicKey(block);
    } catch {
      throw new AppError('invalid_public_key');
    }
    if (key.asymmetricKeyType !== 'ed25519') {
      throw new AppError('invalid_public_key', 'The public key is not an Ed25519 key.');
    }
    keys.set(signingKeyId(key), key);
  }
  return keys;
}

/** Associated data binding a wrapped private key to its organisation and key id. */
function wrapAad(orgId: string, keyId: string): string {
  return `${orgId}|audit_signing_keys|${keyId}`;
}

/** Persists and hands out each organisation's signing keys. Unwrapped keys live in memory only. */
export class AuditSigningKeys {
  private readonly active = new Map<string, ActiveKey>();

  constructor(
    private readonly store: Store,
    private readonly wrapper: KeyWrapper,
  ) {}

  /** The organisation's current signing key, created (and audited) on first use. */
  async activeKey(orgId: string): Promise<ActiveKey> {
    const cached = this.active.get(orgId);
    if (cached) return cached;
    let row = await this.store.db
      .selectFrom('audit_signing_keys')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('retired_at', 'is', null)
      .orderBy('created_at', 'desc')
      .orderBy('key_id', 'desc')
      .executeTakeFirst();
    if (!row) {
      row = await this.store.transaction(async (tx) => {
        // Two processes may need the first key at once: one makes it, the other uses it.
        if (this.store.dialect === 'postgres') {
          await sql`select pg_advisory_xact_lock(hashtext('tidings.audit.signing_key'), hashtext(${orgId}))`.execute(
            tx,
          );
        }
        const existing = await tx
          .selectFrom('audit_signing_keys')
          .selectAll()
          .where('org_id', '=', orgId)
          .where('retired_at', 'is', null)
          .executeTakeFirst();
        if (existing) return existing;
        const pair = generateKeyPairSync('ed25519');
        const keyId = signingKeyId(pair.publicKey);
        const now = Date.now();
        const { wrapped, masterKeyId } = this.wrapper.wrap(
          pair.privateKey.export({ type: 'pkcs8', format: 'der' }),
          wrapAad(orgId, keyId),
        );
        const created = {
          org_id: orgId,
          key_id: keyId,
          algorithm: SIGNING_ALGORITHM,
          public_key: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
          private_key_wrapped: wrapped,
          master_key_id: masterKeyId,
          created_at: now,
          retired_at: null,
        };
        await tx.insertInto('audit_signing_keys').values(created).execute();
        await appendAudit(
          tx,
          this.store.dialect,
          [
            {
              orgId,
              actor: SYSTEM_ACTOR,
              action: 'audit.signing_key_created',
              targetType: 'audit_signing_key',
              targetId: keyId,
              details: { algorithm: SIGNING_ALGORITHM },
            },
          ],
          now,
        );
        return created;
      });
    }
    const privateKey = this.unwrap(row);
    const key: ActiveKey = {
      info: {
        orgId,
        keyId: row.key_id,
        algorithm: SIGNING_ALGORITHM,
        publicKey: createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString(),
        createdAt: new Date(Number(row.created_at)).toISOString(),
      },
      privateKey,
    };
    this.active.set(orgId, key);
    return key;
  }

  /** The public key an auditor should hold for the organisation. */
  async publicKey(orgId: string): Promise<PublicKeyInfo> {
    return (await this.activeKey(orgId)).info;
  }

  /**
   * Every key the organisation has signed with, current and retired. The public halves are
   * derived from the private keys, which only the master key opens: a public key written
   * into the table by someone without the master key is not trusted.
   */
  async trusted(orgId: string): Promise<TrustedKeys> {
    const rows = await this.store.db
      .selectFrom('audit_signing_keys')
      .selectAll()
      .where('org_id', '=', orgId)
      .execute();
    const keys = new Map<string, KeyObject>();
    for (const r of rows) {
      let publicKey: KeyObject;
      try {
        publicKey = createPublicKey(this.unwrap(r));
      } catch {
        continue; // not openable with our master key: not ours, so not trusted
      }
      if (signingKeyId(publicKey) === r.key_id) keys.set(r.key_id, publicKey);
    }
    return keys;
  }

  /** How many signing keys each master key wraps (a master key is retired only at zero). */
  async countByMasterKey(): Promise<ReadonlyMap<string, number>> {
    const rows = await this.store.db
      .selectFrom('audit_signing_keys')
      .select(['master_key_id', (eb) => eb.fn.countAll().as('n')])
      .groupBy('master_key_id')
      .execute();
    return new Map(rows.map((r) => [r.master_key_id, Number(r.n)]));
  }

  /**
   * Re-wraps every signing key under the newest master key (part of a master key rotation:
   * afterwards the old master key wraps none of them). Returns how many were re-wrapped.
   */
  async rewrapAll(): Promise<number> {
    const rows = await this.store.db.selectFrom('audit_signing_keys').selectAll().execute();
    let n = 0;
    for (const r of rows) {
      const der = this.unwrap(r).export({ type: 'pkcs8', format: 'der' });
      const { wrapped, masterKeyId } = this.wrapper.wrap(der, wrapAad(r.org_id, r.key_id));
      if (masterKeyId === r.master_key_id) continue;
      await this.store.db
        .updateTable('audit_signing_keys')
        .set({ private_key_wrapped: wrapped, master_key_id: masterKeyId })
        .where('org_id', '=', r.org_id)
        .where('key_id', '=', r.key_id)
        .where('master_key_id', '=', r.master_key_id)
        .execute();
      n += 1;
    }
    return n;
  }

  private unwrap(row: {
    org_id: string;
    key_id: string;
    private_key_wrapped: string;
    master_key_id: string;
  }): KeyObject {
    const der = this.wrapper.unwrap(
      row.private_key_wrapped,
      wrapAad(row.org_id, row.key_id),
      row.master_key_id,
    );
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  }
}
