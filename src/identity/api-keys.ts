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
import { AppError } from '../errors/index.js';
import { DEFAULT_SCOPES, SCOPES, type ApiKeyPrincipal, type Scope } from './access.js';

export interface ApiKeyInfo {
  id: string;
  orgId: string;
  name: string;
  prefix: string;
  scopes: Scope[];
  createdBy: string | null;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export interface NewApiKey {
  name: string;
  /** Defaults to DEFAULT_SCOPES. */
  scopes?: readonly Scope[] | undefined;
  /** Epoch ms after which the key no longer works; none when absent. */
  expiresAt?: number | undefined;
}

/** Parses a comma-separated scope list, refusing unknown scopes with `validation_failed`. */
export function parseScopes(text: string): Scope[] {
  const scopes = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (scopes.length === 0 || unknown.length > 0) {
    throw new AppError(
      'validation_failed',
      `Scopes must be a comma-separated list of: ${SCOPES.join(', ')}.`,
    );
  }
  return [...new Set(scopes)] as Scope[];
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
  private readonly recent = new Map<string, { principal: ApiKeyPrincipal; until: number }>();

  constructor(private readonly store: Store) {}

  /** Creates a key inside `tx` and audits it; the secret is returned only here. */
  async createInTx(
    tx: Db,
    orgId: string,
    spec: NewApiKey,
    actor: Actor,
    now = Date.now(),
  ): Promise<{ id: string; apiKey: string }> {
    const name = spec.name.trim();
    if (name.length === 0 || name.length > 100) {
      throw new AppError('validation_failed', 'A key name has 1 to 100 characters.');
    }
    if (spec.expiresAt !== undefined && !(spec.expiresAt > now)) {
      throw new AppError('validation_failed', 'A key must expire in the future.');
    }
    const scopes = parseScopes((spec.scopes ?? DEFAULT_SCOPES).join(','));
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
        scopes: scopes.join(','),
        expires_at: spec.expiresAt ?? null,
        created_by: `${actor.type}:${actor.id}`,
        created_at: now,
        last_used_at: null,
        revoked_at: null,
      })
      .execute();
    await appendAudit(tx, this.store.dialect, [
      {
        orgId,
        actor,
        action: 'apikey.created',
        targetType: 'api_key',
        targetId: id,
        details: { scopes: scopes.join(','), expiresAt: spec.expiresAt ?? null },
      },
    ]);
    return { id, apiKey };
  }

  async create(
    orgId: string,
    spec: NewApiKey,
    actor: Actor,
  ): Promise<{ id: string; apiKey: string }> {
    return this.store.transaction((tx) => this.createInTx(tx, orgId, spec, actor));
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
      scopes: r.scopes.split(',') as Scope[],
      createdBy: r.created_by,
      createdAt: new Date(Number(r.created_at)).toISOString(),
      expiresAt: iso(r.expires_at),
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
      for (const [hash, c] of this.recent) {
        if (c.principal.keyId === keyId) this.recent.delete(hash);
      }
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
    if (hit && hit.until > now) return hit.principal;
    const row = await this.store.db
      .selectFrom('api_keys')
      .select(['org_id', 'id', 'revoked_at', 'expires_at', 'scopes'])
      .where('hash', '=', hash)
      .executeTakeFirst();
    if (!row || row.revoked_at !== null || (row.expires_at !== null && row.expires_at <= now)) {
      this.recent.delete(hash);
      return null;
    }
    const principal: ApiKeyPrincipal = {
      kind: 'api_key',
      orgId: row.org_id,
      keyId: row.id,
      scopes: row.scopes.split(',') as Scope[],
    };
    if (this.recent.size >= AUTH_CACHE_MAX) this.recent.clear();
    // Trusted until the cache time passes, or the key expires, whichever is first.
    const until = Math.min(now + AUTH_CACHE_MS, row.expires_at ?? Infinity);
    this.recent.set(hash, { principal, until });
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
    return principal;
  }
}
