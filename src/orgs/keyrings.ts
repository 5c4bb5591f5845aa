/**
 * @module orgs/keyrings
 * Persists each organisation's data and blind-index keys, wrapped by the master key, in
 * `org_keys`, and hands unwrapped keyrings to crypto. Unwrapped keys live only in memory.
 */
import type { Db, Store } from '../store/index.js';
import { generateKey, keyId, unwrapKey, wrapKey, type Keyring } from '../crypto/index.js';

export class KeyringService {
  private readonly cache = new Map<string, Keyring>();
  private readonly masterId: string;

  constructor(
    private readonly store: Store,
    private readonly master: Buffer,
  ) {
    this.masterId = keyId(master);
  }

  /** Creates an organisation's first data key and its blind-index key, inside `tx`. */
  async createKeys(tx: Db, orgId: string, now: number): Promise<void> {
    const rows = (['data', 'index'] as const).map((purpose) => {
      const key = generateKey();
      const kid = `${purpose === 'data' ? 'dk' : 'ix'}_${keyId(key)}`;
      return {
        org_id: orgId,
        key_id: kid,
        purpose,
        wrapped: wrapKey(this.master, key, `${orgId}|${kid}`),
        master_key_id: this.masterId,
        created_at: now,
      };
    });
    await tx.insertInto('org_keys').values(rows).execute();
  }

  /** The organisation's keyring; the newest data key is the active one. */
  async get(orgId: string): Promise<Keyring> {
    const cached = this.cache.get(orgId);
    if (cached) return cached;
    const rows = await this.store.db
      .selectFrom('org_keys')
      .selectAll()
      .where('org_id', '=', orgId)
      .orderBy('created_at')
      .orderBy('key_id')
      .execute();
    const dataKeys = new Map<string, Buffer>();
    let indexKey: Buffer | undefined;
    let activeKeyId: string | undefined;
    for (const r of rows) {
      if (r.master_key_id !== this.masterId) {
        throw new Error(
          `organisation keys were wrapped by master key ${r.master_key_id}, not the configured one`,
        );
      }
      const key = unwrapKey(this.master, r.wrapped, `${orgId}|${r.key_id}`);
      if (r.purpose === 'index') indexKey = key;
      else {
        dataKeys.set(r.key_id, key);
        activeKeyId = r.key_id;
      }
    }
    if (!indexKey || !activeKeyId) throw new Error(`no keys for organisation ${orgId}`);
    const keyring: Keyring = { orgId, activeKeyId, dataKeys, indexKey };
    this.cache.set(orgId, keyring);
    return keyring;
  }
}
