/**
 * @module orgs/keyrings
 * The key hierarchy of 45 CFR 164.312(a)(2)(iv): each organisation's data keys and its
 * separate blind-index key live in `org_keys`, each wrapped by one of a keyring of versioned
 * master keys (key-encryption keys) and naming the master key that wrapped it. Unwrapped keys
 * live only in memory. This module also runs the key lifecycle: re-wrapping every key under a
 * new master key (online, one transaction per organisation), retiring a master key nothing
 * uses any more, rotating an organisation's data key, and crypto-shredding a data key.
 *
 * Several processes share one database, so a cached keyring is re-checked against
 * `org_keys` every few seconds, and a new data key becomes the active one only after a delay
 * longer than that: by the time anything is encrypted under it, every process has loaded it.
 */
import { appendAudit, type Actor } from '../audit/index.js';
import {
  generateKey,
  keyId,
  unwrapKey,
  wrapKey,
  type Keyring,
  type MasterKey,
} from '../crypto/index.js';
import { AppError } from '../errors/index.js';
import type { Db, Store } from '../store/index.js';

/**
 * Where the master keys come from, newest first. The newest wraps new keys; any of them may
 * unwrap. Runtime implements it over `TIDINGS_MASTER_KEY`, `TIDINGS_MASTER_KEY_FILE` or the
 * generated development key file.
 */
export interface MasterKeySource {
  /** `env`: one key in a variable; `file`: an operator's key file; `generated`: Tidings' own. */
  readonly kind: 'env' | 'file' | 'generated';
  /** The variable or file the keys come from, for messages (never the keys). */
  readonly location: string;
  /** The keys as last loaded, newest first; never empty. */
  keys(): readonly MasterKey[];
  /** Reads the source again (an operator may have added a key) and returns the keys. */
  reload(): readonly MasterKey[];
  /** Generated sources only: makes a new key and puts it first. */
  readonly generate?: () => MasterKey;
  /** Generated sources only: removes a key from the source; false when it was not there. */
  readonly remove?: (id: string) => boolean;
}

/** Fixed master keys, newest first (an environment variable, or tests). */
export function staticMasterKeys(location: string, ...keys: MasterKey[]): MasterKeySource {
  if (keys.length === 0) throw new Error('at least one master key is needed');
  return { kind: 'env', location, keys: () => keys, reload: () => keys };
}

/**
 * Keys another part keeps wrapped by the master keys (the audit signing keys), so that a
 * rotation re-wraps them too and a master key is retired only when none of them needs it.
 */
export interface WrappedKeySet {
  /** What they are, for messages: e.g. `audit signing keys`. */
  readonly name: string;
  /** How many of them each master key wraps, by master key id. */
  countByMasterKey(): Promise<ReadonlyMap<string, number>>;
  /** Re-wraps every one under the newest master key; returns how many were re-wrapped. */
  rewrapAll(): Promise<number>;
}

export interface KeyringOptions {
  /** How long a cached keyring is trusted before it is re-checked against the database. */
  cacheMs: number;
  /** How long after its creation a new data key becomes the active one (> cacheMs). */
  activationDelayMs: number;
}

export const DEFAULT_KEYRING_OPTIONS: KeyringOptions = {
  cacheMs: 5_000,
  activationDelayMs: 10_000,
};

export interface MasterKeyStatus {
  id: string;
  /** This process has the key (it is in the configured keyring). */
  configured: boolean;
  /** New keys are wrapped with it. */
  newest: boolean;
  /** Wrapped data and blind-index keys that name it. */
  dataKeys: number;
  indexKeys: number;
  /** Keys of other parts it wraps (audit signing keys). */
  otherKeys: number;
  retiredAt: string | null;
}

export interface RotationResult {
  masterKeyId: string;
  /** A new key was generated into the development key file. */
  generated: boolean;
  organisations: number;
  dataKeys: number;
  indexKeys: number;
  /** Keys of other parts re-wrapped (audit signing keys). */
  otherKeys: number;
  /** Keys still under an older master key afterwards (written meanwhile by a stale server). */
  remaining: number;
}

export type DataKeyState = 'active' | 'pending' | 'previous';

export interface OrgKeyStatus {
  orgId: string;
  dataKeys: { keyId: string; state: DataKeyState; masterKeyId: string; createdAt: string }[];
  indexKey: { keyId: string; masterKeyId: string; createdAt: string };
  shredded: { keyId: string; shreddedAt: string }[];
}

interface DataKeyMeta {
  id: string;
  createdAt: number;
}

interface Entry {
  checkedAt: number;
  /** The key ids in `org_keys` when loaded, in order: tells whether anything changed. */
  signature: string;
  /** Every unwrapped key of the organisation (data and index), by id. */
  keys: Map<string, Buffer>;
  dataKeys: Map<string, Buffer>;
  /** Data keys, oldest first. */
  order: DataKeyMeta[];
  indexKey: Buffer;
  shredded: Set<string>;
  keyring?: Keyring;
}

interface KeyRow {
  key_id: string;
  purpose: 'data' | 'index';
  wrapped: string;
  master_key_id: string;
  created_at: number;
}

/** Associated data of a wrapped key: the organisation and key id, unchanged by re-wrapping. */
function wrapAad(orgId: string, kid: string): string {
  return `${orgId}|${kid}`;
}

function iso(ms: number): string {
  return new Date(Number(ms)).toISOString();
}

export class KeyringService {
  private readonly cache = new Map<string, Entry>();
  private readonly loading = new Map<string, Promise<Entry>>();
  private readonly others: WrappedKeySet[] = [];
  private readonly opts: KeyringOptions;

  constructor(
    private readonly store: Store,
    private readonly masters: MasterKeySource,
    opts: Partial<KeyringOptions> = {},
  ) {
    this.opts = { ...DEFAULT_KEYRING_OPTIONS, ...opts };
  }

  /** Where the master keys come from (`env`, `file` or `generated`) and which they are. */
  get masterSource(): Pick<MasterKeySource, 'kind' | 'location'> {
    return { kind: this.masters.kind, location: this.masters.location };
  }

  /** Registers keys another part wraps with the master keys (see WrappedKeySet). */
  addWrappedKeys(set: WrappedKeySet): void {
    this.others.push(set);
  }

  /** Creates an organisation's first data key and its blind-index key, inside `tx`. */
  async createKeys(tx: Db, orgId: string, now: number): Promise<void> {
    const master = await this.wrappingKey(tx);
    const rows = (['data', 'index'] as const).map((purpose) =>
      this.newKeyRow(master, orgId, purpose, now),
    );
    await tx.insertInto('org_keys').values(rows).execute();
  }

  /**
   * The organisation's keyring; the newest data key past its activation delay is active.
   * It may query the database (every `cacheMs`), so never call it inside a transaction: on
   * SQLite the transaction holds the only connection.
   */
  async get(orgId: string): Promise<Keyring> {
    const now = Date.now();
    let entry = this.cache.get(orgId);
    if (!entry || now - entry.checkedAt >= this.opts.cacheMs) {
      let pending = this.loading.get(orgId);
      if (!pending) {
        pending = this.load(orgId, entry).finally(() => this.loading.delete(orgId));
        this.loading.set(orgId, pending);
      }
      entry = await pending;
    }
    return this.keyringOf(orgId, entry, now);
  }

  /**
   * Re-wraps every key not yet under the newest master key with it, one transaction per
   * organisation, each audited as `keys.rotated` with counts. The keys themselves (data and
   * blind-index) do not change, so nothing else is re-encrypted and lookups keep working.
   * On a generated (development) key file a new master key is generated first; otherwise
   * the operator has put the new key first in the key file.
   */
  async rotateMaster(actor: Actor): Promise<RotationResult> {
    const generated = this.masters.generate ? this.masters.generate() : undefined;
    const newest = await this.wrappingKey(this.store.db);
    const orgIds = await this.store.db
      .selectFrom('org_keys')
      .select('org_id')
      .distinct()
      .where('master_key_id', '<>', newest.id)
      .orderBy('org_id')
      .execute();
    const result: RotationResult = {
      masterKeyId: newest.id,
      generated: generated !== undefined,
      organisations: 0,
      dataKeys: 0,
      indexKeys: 0,
      otherKeys: 0,
      remaining: 0,
    };
    for (const { org_id: orgId } of orgIds) {
      const counts = await this.store.transaction(async (tx) => {
        let q = tx
          .selectFrom('org_keys')
          .select(['key_id', 'purpose', 'wrapped', 'master_key_id', 'created_at'])
          .where('org_id', '=', orgId)
          .where('master_key_id', '<>', newest.id);
        if (this.store.dialect === 'postgres') q = q.forUpdate();
        const rows = await q.execute();
        const previous = new Set<string>();
        let dataKeys = 0;
        let indexKeys = 0;
        for (const r of rows) {
          const key = this.unwrap(orgId, r);
          await tx
            .updateTable('org_keys')
            .set({
              wrapped: wrapKey(newest.key, key, wrapAad(orgId, r.key_id)),
              master_key_id: newest.id,
            })
            .where('org_id', '=', orgId)
            .where('key_id', '=', r.key_id)
            .where('master_key_id', '=', r.master_key_id)
            .execute();
          previous.add(r.master_key_id);
          if (r.purpose === 'index') indexKeys += 1;
          else dataKeys += 1;
        }
        if (rows.length > 0) {
          await appendAudit(tx, this.store.dialect, [
            {
              orgId,
              actor,
              action: 'keys.rotated',
              targetType: 'organisation',
              targetId: orgId,
              details: {
                masterKeyId: newest.id,
                previousMasterKeyIds: [...previous].sort().join(','),
                dataKeys,
                indexKeys,
              },
            },
          ]);
        }
        return { dataKeys, indexKeys };
      });
      if (counts.dataKeys + counts.indexKeys > 0) result.organisations += 1;
      result.dataKeys += counts.dataKeys;
      result.indexKeys += counts.indexKeys;
    }
    for (const set of this.others) result.otherKeys += await set.rewrapAll();
    const left = await this.store.db
      .selectFrom('org_keys')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('master_key_id', '<>', newest.id)
      .executeTakeFirst();
    result.remaining = Number(left?.n ?? 0);
    for (const [id, n] of await this.otherCounts()) if (id !== newest.id) result.remaining += n;
    return result;
  }

  /** Every master key this server has or the database names, with how many keys use it. */
  async status(): Promise<MasterKeyStatus[]> {
    const configured = this.masters.reload();
    const counts = await this.store.db
      .selectFrom('org_keys')
      .select(['master_key_id', 'purpose', (eb) => eb.fn.countAll().as('n')])
      .groupBy(['master_key_id', 'purpose'])
      .execute();
    const retirements = await this.store.db
      .selectFrom('master_key_retirements')
      .selectAll()
      .execute();
    const byId = new Map<string, MasterKeyStatus>();
    const entry = (id: string): MasterKeyStatus => {
      let s = byId.get(id);
      if (!s) {
        s = {
          id,
          configured: false,
          newest: false,
          dataKeys: 0,
          indexKeys: 0,
          otherKeys: 0,
          retiredAt: null,
        };
        byId.set(id, s);
      }
      return s;
    };
    configured.forEach((m, i) => Object.assign(entry(m.id), { configured: true, newest: i === 0 }));
    for (const c of counts) {
      const s = entry(c.master_key_id);
      if (c.purpose === 'index') s.indexKeys += Number(c.n);
      else s.dataKeys += Number(c.n);
    }
    for (const [id, n] of await this.otherCounts()) entry(id).otherKeys += n;
    for (const r of retirements) entry(r.master_key_id).retiredAt = iso(r.retired_at);
    const position = new Map(configured.map((m, i) => [m.id, i]));
    return [...byId.values()].sort(
      (a, b) =>
        (position.get(a.id) ?? Infinity) - (position.get(b.id) ?? Infinity) ||
        a.id.localeCompare(b.id),
    );
  }

  /**
   * Retires a master key once nothing uses it: it is recorded as retired (so no server wraps
   * with it again), removed from a generated key file, and audited in every organisation.
   * The newest key and a key that still wraps anything are refused.
   */
  async retireMaster(
    id: string,
    actor: Actor,
  ): Promise<{ masterKeyId: string; alreadyRetired: boolean; removedFromFile: boolean }> {
    const configured = this.masters.reload();
    if (configured[0]?.id === id) throw new AppError('master_key_active');
    // Counted first: on SQLite the transaction below holds the only connection.
    const otherUses = (await this.otherCounts()).get(id) ?? 0;
    const alreadyRetired = await this.store.transaction(async (tx) => {
      const used = await tx
        .selectFrom('org_keys')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('master_key_id', '=', id)
        .executeTakeFirst();
      const n = Number(used?.n ?? 0) + otherUses;
      if (n > 0) {
        throw new AppError(
          'master_key_in_use',
          `Master key ${id} still wraps ${n} key(s): run tidings keys rotate first.`,
        );
      }
      const retired = await tx
        .selectFrom('master_key_retirements')
        .select('master_key_id')
        .where('master_key_id', '=', id)
        .executeTakeFirst();
      if (retired) return true;
      if (!configured.some((m) => m.id === id)) {
        throw new AppError('not_found', 'No such master key.');
      }
      const now = Date.now();
      await tx
        .insertInto('master_key_retirements')
        .values({ master_key_id: id, retired_at: now })
        .execute();
      const orgs = await tx.selectFrom('organisations').select('id').orderBy('id').execute();
      await appendAudit(
        tx,
        this.store.dialect,
        orgs.map((o) => ({
          orgId: o.id,
          actor,
          action: 'keys.master_retired' as const,
          targetType: 'master_key',
          targetId: id,
        })),
        now,
      );
      return false;
    });
    const removedFromFile = this.masters.remove ? this.masters.remove(id) : false;
    return { masterKeyId: id, alreadyRetired, removedFromFile };
  }

  /**
   * Gives the organisation a new data key. It becomes the active one after the activation
   * delay; what older keys encrypted stays readable (every ciphertext names its key).
   */
  async rotateData(orgId: string, actor: Actor): Promise<{ keyId: string; activatesAt: string }> {
    const now = Date.now();
    const kid = await this.store.transaction(async (tx) => {
      await this.requireOrg(tx, orgId);
      const row = this.newKeyRow(await this.wrappingKey(tx), orgId, 'data', now);
      await tx.insertInto('org_keys').values(row).execute();
      await appendAudit(
        tx,
        this.store.dialect,
        [
          {
            orgId,
            actor,
            action: 'keys.data_rotated',
            targetType: 'data_key',
            targetId: row.key_id,
            details: { activatesAt: iso(now + this.opts.activationDelayMs) },
          },
        ],
        now,
      );
      return row.key_id;
    });
    this.cache.delete(orgId);
    return { keyId: kid, activatesAt: iso(now + this.opts.activationDelayMs) };
  }

  /**
   * Crypto-shredding: destroys a data key (its wrapped row goes, and this process forgets
   * it), so everything encrypted under it can never be read again; reading it gives
   * `data_key_destroyed`. Other processes forget it within the cache time. The active key
   * and newer ones are refused (rotate first). Shredding a key already shredded does nothing.
   */
  async shredDataKey(
    orgId: string,
    kid: string,
    actor: Actor,
  ): Promise<{ orgId: string; keyId: string; alreadyShredded: boolean }> {
    const now = Date.now();
    const alreadyShredded = await this.store.transaction(async (tx) => {
      await this.requireOrg(tx, orgId);
      const rows = await tx
        .selectFrom('org_keys')
        .select(['key_id', 'purpose', 'created_at'])
        .where('org_id', '=', orgId)
        .orderBy('created_at')
        .orderBy('key_id')
        .execute();
      const row = rows.find((r) => r.key_id === kid);
      if (!row) {
        const shred = await tx
          .selectFrom('org_key_shreds')
          .select('key_id')
          .where('org_id', '=', orgId)
          .where('key_id', '=', kid)
          .executeTakeFirst();
        if (shred) return true;
        throw new AppError('not_found', 'No such data key in that organisation.');
      }
      if (row.purpose !== 'data') {
        throw new AppError(
          'validation_failed',
          'Only data keys can be shredded; the blind-index key stays for the life of the organisation.',
        );
      }
      const order = rows
        .filter((r) => r.purpose === 'data')
        .map((r) => ({ id: r.key_id, createdAt: Number(r.created_at) }));
      const active = this.activeOf(order, now);
      const pos = order.findIndex((k) => k.id === kid);
      if (pos >= order.findIndex((k) => k.id === active)) throw new AppError('data_key_active');
      await tx
        .deleteFrom('org_keys')
        .where('org_id', '=', orgId)
        .where('key_id', '=', kid)
        .execute();
      await tx
        .insertInto('org_key_shreds')
        .values({ org_id: orgId, key_id: kid, shredded_at: now })
        .execute();
      await appendAudit(
        tx,
        this.store.dialect,
        [
          {
            orgId,
            actor,
            action: 'keys.shredded',
            targetType: 'data_key',
            targetId: kid,
          },
        ],
        now,
      );
      return false;
    });
    this.cache.delete(orgId);
    return { orgId, keyId: kid, alreadyShredded };
  }

  /** The organisation's keys (ids, states and dates; never key material). */
  async orgStatus(orgId: string): Promise<OrgKeyStatus> {
    const rows = await this.store.db
      .selectFrom('org_keys')
      .select(['key_id', 'purpose', 'master_key_id', 'created_at'])
      .where('org_id', '=', orgId)
      .orderBy('created_at')
      .orderBy('key_id')
      .execute();
    const index = rows.find((r) => r.purpose === 'index');
    if (!index) throw new AppError('not_found', 'No such organisation.');
    const data = rows.filter((r) => r.purpose === 'data');
    const active = this.activeOf(
      data.map((r) => ({ id: r.key_id, createdAt: Number(r.created_at) })),
      Date.now(),
    );
    const activePos = data.findIndex((r) => r.key_id === active);
    const shreds = await this.store.db
      .selectFrom('org_key_shreds')
      .select(['key_id', 'shredded_at'])
      .where('org_id', '=', orgId)
      .orderBy('shredded_at')
      .execute();
    return {
      orgId,
      dataKeys: data.map((r, i) => ({
        keyId: r.key_id,
        state: i === activePos ? 'active' : i > activePos ? 'pending' : 'previous',
        masterKeyId: r.master_key_id,
        createdAt: iso(r.created_at),
      })),
      indexKey: {
        keyId: index.key_id,
        masterKeyId: index.master_key_id,
        createdAt: iso(index.created_at),
      },
      shredded: shreds.map((s) => ({ keyId: s.key_id, shreddedAt: iso(s.shredded_at) })),
    };
  }

  /** How many keys of other parts each master key wraps. */
  private async otherCounts(): Promise<Map<string, number>> {
    const total = new Map<string, number>();
    for (const set of this.others) {
      for (const [id, n] of await set.countByMasterKey()) total.set(id, (total.get(id) ?? 0) + n);
    }
    return total;
  }

  private async requireOrg(tx: Db, orgId: string): Promise<void> {
    const org = await tx
      .selectFrom('organisations')
      .select('id')
      .where('id', '=', orgId)
      .executeTakeFirst();
    if (!org) throw new AppError('not_found', 'No such organisation.');
  }

  private newKeyRow(master: MasterKey, orgId: string, purpose: 'data' | 'index', now: number) {
    const key = generateKey();
    const kid = `${purpose === 'data' ? 'dk' : 'ix'}_${keyId(key)}`;
    return {
      org_id: orgId,
      key_id: kid,
      purpose,
      wrapped: wrapKey(master.key, key, wrapAad(orgId, kid)),
      master_key_id: master.id,
      created_at: now,
    };
  }

  /**
   * The master key to wrap with: the newest, after re-reading the source (an operator may
   * have added one since start). A retired key is never used again.
   */
  private async wrappingKey(db: Db): Promise<MasterKey> {
    const newest = this.masters.reload()[0];
    if (!newest) throw new AppError('master_key_missing');
    const retired = await db
      .selectFrom('master_key_retirements')
      .select('master_key_id')
      .where('master_key_id', '=', newest.id)
      .executeTakeFirst();
    if (retired) throw new AppError('master_key_retired');
    return newest;
  }

  private masterById(id: string): MasterKey {
    const find = (keys: readonly MasterKey[]) => keys.find((m) => m.id === id);
    const m = find(this.masters.keys()) ?? find(this.masters.reload());
    if (!m) {
      throw new AppError(
        'master_key_missing',
        `Master key ${id} wraps keys in the database but is not configured on this server.`,
      );
    }
    return m;
  }

  private unwrap(orgId: string, r: Pick<KeyRow, 'key_id' | 'wrapped' | 'master_key_id'>): Buffer {
    return unwrapKey(this.masterById(r.master_key_id).key, r.wrapped, wrapAad(orgId, r.key_id));
  }

  /** Newest data key created at least the activation delay ago; the oldest if none is. */
  private activeOf(order: readonly DataKeyMeta[], now: number): string | undefined {
    let active = order[0];
    for (const k of order) if (k.createdAt <= now - this.opts.activationDelayMs) active = k;
    return active?.id;
  }

  private keyringOf(orgId: string, e: Entry, now: number): Keyring {
    const activeKeyId = this.activeOf(e.order, now);
    if (!activeKeyId) throw new AppError('not_found', 'No such organisation.');
    if (e.keyring?.activeKeyId !== activeKeyId) {
      e.keyring = {
        orgId,
        activeKeyId,
        dataKeys: e.dataKeys,
        indexKey: e.indexKey,
        shreddedKeyIds: e.shredded,
      };
    }
    return e.keyring;
  }

  /** Loads (or re-checks) an organisation's keys; unchanged keys are not unwrapped again. */
  private async load(orgId: string, prev: Entry | undefined): Promise<Entry> {
    const checkedAt = Date.now();
    const rows: KeyRow[] = await this.store.db
      .selectFrom('org_keys')
      .select(['key_id', 'purpose', 'wrapped', 'master_key_id', 'created_at'])
      .where('org_id', '=', orgId)
      .orderBy('created_at')
      .orderBy('key_id')
      .execute();
    const signature = rows.map((r) => r.key_id).join(',');
    if (prev && prev.signature === signature) {
      prev.checkedAt = checkedAt;
      return prev;
    }
    const shreds = await this.store.db
      .selectFrom('org_key_shreds')
      .select('key_id')
      .where('org_id', '=', orgId)
      .execute();
    const keys = new Map<string, Buffer>();
    const dataKeys = new Map<string, Buffer>();
    const order: DataKeyMeta[] = [];
    let indexKey: Buffer | undefined;
    for (const r of rows) {
      const key = prev?.keys.get(r.key_id) ?? this.unwrap(orgId, r);
      keys.set(r.key_id, key);
      if (r.purpose === 'index') indexKey = key;
      else {
        dataKeys.set(r.key_id, key);
        order.push({ id: r.key_id, createdAt: Number(r.created_at) });
      }
    }
    if (!indexKey || order.length === 0) throw new AppError('not_found', 'No such organisation.');
    const entry: Entry = {
      checkedAt,
      signature,
      keys,
      dataKeys,
      order,
      indexKey,
      shredded: new Set(shreds.map((s) => s.key_id)),
    };
    this.cache.set(orgId, entry);
    return entry;
  }
}
