/**
 * @module identity/api-keys
 * API keys for integrators (45 CFR 164.312(d), person or entity authentication): 192 random
 * bits, shown once, stored only as a SHA-256 hash (a high-entropy secret needs no slow
 * hash), revocable at once. Owns the `api_keys` table.
 */
import { randomBytes } from 'node:crypto';
import type { Db, Store } from '../store/index.js';
import { sha256Hex } from '../crypto/index.js';
import { appendAudit, type Actor } from '../audit/index.js';
import { newId } from '../ids/index.js';

export interface ApiKeyInfo {
  id: string;
  orgId: string;
  name: string;
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export interface ApiKeyPrincipal {
  orgId: string;
  keyId: string;
}

const LAST_USED_GRANULARITY_MS = 60_000;
/**
 * How long a successful look-up is trusted without asking the database again. Revoking a key
 * takes effect at once in the process that revokes it, and within this time in every other
 * process (a second API server, or the server when the CLI revoked the key).
 */
export const AUTH_CACHE_MS = 5_000;
const AUTH_CACHE_MAX = 10_000;

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(Number(ms)).toISOString();
}

export class ApiKeys {
  /** When each key's `last_used_at` was last written, so a busy key is written once a minute. */
  private readonly touched = new Map<string, number>();
  /** Recently authenticated keys by hash of the secret (never the secret itself). */
  private readonly recent = new Map<string, ApiKeyPrincipal & { until: number }>();

  constructor(private readonly store: Store) {}

  /** Creates a key inside `tx` and audits it; the secret is returned only here. */
  async createInTx(
    tx: Db,
    orgId: string,
    name: string,
    actor: Actor,
    now = Date.now(),
  ): Promise<{ id: string; apiKey: string }> {
    const id = newId('key');
    const apiKey = `tid_${randomBytes(24).toString('base64url')}`;
    await tx
      .insertInto('api_keys')
      .values({
        org_id: orgId,
        id,
        name,
        hash: sha256Hex(apiKey),
        prefix: apiKey.slice(0, 10),
        created_at: now,
        last_used_at: null,
        revoked_at: null,
      })
      .execute();
    await appendAudit(tx, this.store.dialect, [
      { orgId, actor, action: 'apikey.created', targetType: 'api_key', targetId: id },
    ]);
    return { id, apiKey };
  }

  async create(orgId: string, name: string, actor: Actor): Promise<{ id: string; apiKey: string }> {
    return this.store.transaction((tx) => this.createInTx(tx, orgId, name, actor));
  }

  async list(orgId: string): Promise<ApiKeyInfo[]> {
    const rows = await this.store.db
      .selectFrom('api_keys')
      .selectAll()
      .where('org_id', '=', orgId)
      .orderBy('id')
      .execute();
    return rows.map((r) => ({
      id: r.id,
      orgId: r.org_id,
      name: r.name,
      prefix: r.prefix,
      createdAt: new Date(Number(r.created_at)).toISOString(),
      lastUsedAt: iso(r.last_used_at),
      revokedAt: iso(r.revoked_at),
    }));
  }

  /** Revokes a key; returns false when the organisation has no such active key. */
  async revoke(orgId: string, keyId: string, actor: Actor): Promise<boolean> {
    return this.store.transaction(async (tx) => {
      const res = await tx
        .updateTable('api_keys')
        .set({ revoked_at: Date.now() })
        .where('org_id', '=', orgId)
        .where('id', '=', keyId)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) === 0) return false;
      for (const [hash, p] of this.recent) if (p.keyId === keyId) this.recent.delete(hash);
      await appendAudit(tx, this.store.dialect, [
        { orgId, actor, action: 'apikey.revoked', targetType: 'api_key', targetId: keyId },
      ]);
      return true;
    });
  }

  /** The organisation and key a presented secret belongs to, or null if unknown or revoked. */
  async authenticate(apiKey: string): Promise<ApiKeyPrincipal | null> {
    if (!apiKey.startsWith('tid_') || apiKey.length > 100) return null;
    const hash = sha256Hex(apiKey);
    const now = Date.now();
    const hit = this.recent.get(hash);
    if (hit && hit.until > now) return { orgId: hit.orgId, keyId: hit.keyId };
    const row = await this.store.db
      .selectFrom('api_keys')
      .select(['org_id', 'id', 'revoked_at'])
      .where('hash', '=', hash)
      .executeTakeFirst();
    if (!row || row.revoked_at !== null) {
      this.recent.delete(hash);
      return null;
    }
    if (this.recent.size >= AUTH_CACHE_MAX) this.recent.clear();
    this.recent.set(hash, { orgId: row.org_id, keyId: row.id, until: now + AUTH_CACHE_MS });
    const last = this.touched.get(row.id) ?? 0;
    if (now - last > LAST_USED_GRANULARITY_MS) {
      this.touched.set(row.id, now);
      await this.store.db
        .updateTable('api_keys')
        .set({ last_used_at: now })
        .where('org_id', '=', row.org_id)
        .where('id', '=', row.id)
        .execute();
    }
    return { orgId: row.org_id, keyId: row.id };
  }
}
