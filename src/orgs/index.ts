/**
 * @module orgs
 * Organisations (the tenants), their senders (the numbers they text from) and their webhook
 * settings. Owns `organisations`, `senders` and, through the keyring service, `org_keys`.
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';
import type { Selectable } from 'kysely';
import type { Db, Store } from '../store/index.js';
import type { OrganisationsTable, SendersTable } from '../store/schema.js';
import { appendAudit, type Actor, type AuditDetails } from '../audit/index.js';
import { decrypt, encrypt, rowAad } from '../crypto/index.js';
import { newId } from '../ids/index.js';
import type { ApiKeys } from '../identity/index.js';
import { AppError } from '../errors/index.js';
import type { KeyringService } from './keyrings.js';

export {
  KeyringService,
  staticMasterKeys,
  type KeyringOptions,
  type MasterKeySource,
  type MasterKeyStatus,
  type OrgKeyStatus,
  type RotationResult,
  type WrappedKeySet,
} from './keyrings.js';

export interface Sender {
  id: string;
  orgId: string;
  number: string;
  carrier: string;
  mps: number;
  isDefault: boolean;
  /** At most this many segments a day (e.g. a T-Mobile brand cap); null: none. */
  dailyCap: number | null;
  /** IANA zone whose midnight starts the cap's day; null: UTC. */
  capTimeZone: string | null;
  /** Messages fail over to this sender when their own sender's carrier keeps failing. */
  isSecondary: boolean;
  /**
   * In the organisation's pool: a message that names no sender goes out from one of the
   * pool's senders, always the same one for a recipient (sticky sender).
   */
  inPool: boolean;
}

/** What `updateSender` may change (carrier settings are replaced by adding a new sender). */
export interface SenderChanges {
  mps?: number | undefined;
  dailyCap?: number | null | undefined;
  capTimeZone?: string | null | undefined;
  /** Only `true`: another sender becomes the default by being made it. */
  isDefault?: true | undefined;
  isSecondary?: boolean | undefined;
  inPool?: boolean | undefined;
}

/** A new sender; the carrier settings are JSON validated by carriers/sender-config. */
export interface NewSender {
  number: string;
  carrier: string;
  /** Carrier settings and credentials: stored encrypted, never logged, never returned. */
  settingsJson: string | null;
  mps: number;
  dailyCap?: number | null | undefined;
  capTimeZone?: string | null | undefined;
  isDefault: boolean;
  isSecondary?: boolean | undefined;
  inPool?: boolean | undefined;
  /** What the audit event may say about the settings (nothing secret). */
  details: AuditDetails;
}

const E164 = /^\+[1-9]\d{6,14}$/;

export interface Organisation {
  id: string;
  name: string;
  webhookUrl: string | null;
  /** Automatic logoff of idle sessions, in minutes. */
  sessionIdleMinutes: number;
  createdAt: string;
}

/** How long another process's sender changes may take to be seen here. */
const SENDER_CACHE_MS = 5_000;

/**
 * A fictitious number for the default simulator sender: NANP 555-01XX numbers are reserved
 * for fiction, so a simulator sender can never be mistaken for a real line.
 */
function simulatorNumber(): string {
  return `+1${randomInt(201, 990)}55501${String(randomInt(0, 100)).padStart(2, '0')}`;
}

/** Organisation settings that other modules validate and this one stores, as JSON. */
type SettingsColumn = 'messaging_settings' | 'guard_settings';

export class Organisations {
  private readonly senderCache = new Map<string, { at: number; senders: Sender[] }>();
  private readonly webhookCache = new Map<string, { at: number; enabled: boolean }>();

  constructor(
    private readonly store: Store,
    private readonly keyrings: KeyringService,
    private readonly apiKeys: ApiKeys,
    private readonly defaultMps: number,
    /** Carrier of the default sender of a new organisation (TIDINGS_CARRIER). */
    private readonly defaultCarrier = 'simulator',
    /** Runs inside the transaction that creates an organisation (other modules' first rows). */
    private readonly onCreated?: (tx: Db, orgId: string, now: number) => Promise<void>,
  ) {}

  /** Creates an organisation with its keys, a default simulator sender and a first API key. */
  async create(
    name: string,
    actor: Actor,
  ): Promise<{ orgId: string; apiKey: string; apiKeyId: string; sender: Sender }> {
    const trimmed = name.trim();
    if (!trimmed || trimmed.length > 200) {
      throw new AppError('validation_failed', 'The name must be 1 to 200 characters.');
    }
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.store.transaction(async (tx) => {
          const now = Date.now();
          const orgId = newId('org');
          await tx
            .insertInto('organisations')
            .values({
              id: orgId,
              name: trimmed,
              webhook_url: null,
              webhook_secret_enc: null,
              created_at: now,
            })
            .execute();
          await this.keyrings.createKeys(tx, orgId, now);
          const sender: Sender = {
            id: newId('snd'),
            orgId,
            number: simulatorNumber(),
            carrier: this.defaultCarrier,
            mps: this.defaultMps,
            isDefault: true,
            dailyCap: null,
            capTimeZone: null,
            isSecondary: false,
            inPool: false,
          };
          await tx
            .insertInto('senders')
            .values({
              org_id: orgId,
              id: sender.id,
              number: sender.number,
              carrier: sender.carrier,
              mps: sender.mps,
              is_default: 1,
              in_pool: 0,
              created_at: now,
            })
            .execute();
          await appendAudit(
            tx,
            this.store.dialect,
            [
              { orgId, actor, action: 'org.created', targetType: 'organisation', targetId: orgId },
              {
                orgId,
                actor,
                action: 'sender.created',
                targetType: 'sender',
                targetId: sender.id,
                details: { carrier: this.defaultCarrier, default: true },
              },
            ],
            now,
          );
          const key = await this.apiKeys.createInTx(tx, orgId, { name: 'default' }, actor, now);
          await this.onCreated?.(tx, orgId, now);
          return { orgId, apiKey: key.apiKey, apiKeyId: key.id, sender };
        });
      } catch (e) {
        // A clash on the random simulator number is retried with another.
        if (attempt < 5 && /unique|duplicate/i.test(String(e))) continue;
        throw e;
      }
    }
  }

  /** The organisation; pass `db` when inside a transaction. */
  async get(orgId: string, db: Db = this.store.db): Promise<Organisation | null> {
    const r = await db
      .selectFrom('organisations')
      .select(['id', 'name', 'webhook_url', 'created_at', 'session_idle_minutes'])
      .where('id', '=', orgId)
      .executeTakeFirst();
    return r ? toOrganisation(r) : null;
  }

  async list(): Promise<Organisation[]> {
    const rows = await this.store.db
      .selectFrom('organisations')
      .select(['id', 'name', 'webhook_url', 'created_at', 'session_idle_minutes'])
      .orderBy('id')
      .execute();
    return rows.map(toOrganisation);
  }

  /** Sets the automatic logoff after idle minutes (1 to 60) for new and current sessions. */
  async setSessionIdleMinutes(orgId: string, minutes: number, actor: Actor): Promise<Organisation> {
    if (!Number.isInteger(minutes) || minutes < 1 || minutes > 60) {
      throw new AppError('validation_failed', 'Idle logoff is 1 to 60 minutes.');
    }
    await this.store.transaction(async (tx) => {
      const res = await tx
        .updateTable('organisations')
        .set({ session_idle_minutes: minutes })
        .where('id', '=', orgId)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) === 0)
        throw new AppError('not_found', 'No such organisation.');
      await appendAudit(tx, this.store.dialect, [
        {
          orgId,
          actor,
          action: 'org.settings_changed',
          targetType: 'organisation',
          targetId: orgId,
          details: { sessionIdleMinutes: minutes },
        },
      ]);
    });
    return (await this.get(orgId))!;
  }

  /**
   * Sets (or clears, with null) the organisation's webhook URL. A new signing secret is made
   * when none exists yet; it is returned so the caller can show it once.
   */
  async setWebhook(
    orgId: string,
    url: string | null,
    actor: Actor,
  ): Promise<{ url: string | null; secret: string | null }> {
    if (url !== null) {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        throw new AppError('validation_failed', 'The webhook URL is not a valid URL.');
      }
      if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
        throw new AppError('validation_failed', 'The webhook URL must be http or https.');
      }
    }
    const keyring = await this.keyrings.get(orgId);
    return this.store.transaction(async (tx) => {
      const row = await tx
        .selectFrom('organisations')
        .select(['webhook_secret_enc'])
        .where('id', '=', orgId)
        .executeTakeFirst();
      if (!row) throw new AppError('not_found', 'No such organisation.');
      let secret: string | null = null;
      let secretEnc = row.webhook_secret_enc;
      if (url !== null && !secretEnc) {
        secret = `whsec_${randomBytes(32).toString('base64')}`;
        secretEnc = encrypt(
          keyring,
          rowAad(orgId, 'organisations', orgId, 'webhook_secret'),
          secret,
        );
      }
      await tx
        .updateTable('organisations')
        .set({ webhook_url: url, webhook_secret_enc: secretEnc })
        .where('id', '=', orgId)
        .execute();
      this.webhookCache.delete(orgId);
      await appendAudit(tx, this.store.dialect, [
        {
          orgId,
          actor,
          action: 'org.webhook_set',
          targetType: 'organisation',
          targetId: orgId,
          details: { enabled: url !== null },
        },
      ]);
      return { url, secret };
    });
  }

  /**
   * Whether the organisation has a webhook (cached briefly: checked on every status change).
   * Inside a transaction pass its handle as `db`: on SQLite the transaction holds the one
   * connection.
   */
  async hasWebhook(orgId: string, db: Db = this.store.db): Promise<boolean> {
    const cached = this.webhookCache.get(orgId);
    if (cached && Date.now() - cached.at < SENDER_CACHE_MS) return cached.enabled;
    const row = await db
      .selectFrom('organisations')
      .select(['webhook_url'])
      .where('id', '=', orgId)
      .executeTakeFirst();
    const enabled = Boolean(row?.webhook_url);
    this.webhookCache.set(orgId, { at: Date.now(), enabled });
    return enabled;
  }

  /**
   * The webhook URL and signing secret, for the delivery worker; `previousSecret` while the
   * secret a rotation replaced is still in its grace period (the worker signs with both).
   */
  async webhookTarget(
    orgId: string,
    now = Date.now(),
  ): Promise<{ url: string; secret: string; previousSecret: string | null } | null> {
    const row = await this.store.db
      .selectFrom('organisations')
      .select([
        'webhook_url',
        'webhook_secret_enc',
        'webhook_prev_secret_enc',
        'webhook_prev_secret_until',
      ])
      .where('id', '=', orgId)
      .executeTakeFirst();
    if (!row?.webhook_url || !row.webhook_secret_enc) return null;
    const keyring = await this.keyrings.get(orgId);
    const secret = decrypt(
      keyring,
      rowAad(orgId, 'organisations', orgId, 'webhook_secret'),
      row.webhook_secret_enc,
    );
    const previousSecret =
      row.webhook_prev_secret_enc !== null && Number(row.webhook_prev_secret_until ?? 0) > now
        ? decrypt(
            keyring,
            rowAad(orgId, 'organisations', orgId, 'webhook_prev_secret'),
            row.webhook_prev_secret_enc,
          )
        : null;
    return { url: row.webhook_url, secret, previousSecret };
  }

  /** Until when the secret a rotation replaced still signs (null: none does). */
  async webhookPreviousSecretUntil(orgId: string, now = Date.now()): Promise<string | null> {
    const row = await this.store.db
      .selectFrom('organisations')
      .select(['webhook_prev_secret_enc', 'webhook_prev_secret_until'])
      .where('id', '=', orgId)
      .executeTakeFirst();
    const until = Number(row?.webhook_prev_secret_until ?? 0);
    return row?.webhook_prev_secret_enc && until > now ? new Date(until).toISOString() : null;
  }

  /**
   * Makes a new webhook signing secret and returns it (the only time it is shown). With
   * `graceMs` > 0 the replaced secret keeps signing beside the new one until then, so a
   * receiver can switch without refusing events; with 0 it stops at once (a leaked secret).
   * A secret still in an earlier grace period is dropped: at most two secrets ever sign.
   */
  async rotateWebhookSecret(
    orgId: string,
    graceMs: number,
    actor: Actor,
    now = Date.now(),
  ): Promise<{ secret: string; previousSecretValidUntil: string | null }> {
    const keyring = await this.keyrings.get(orgId);
    return this.store.transaction(async (tx) => {
      const row = await tx
        .selectFrom('organisations')
        .select(['webhook_url', 'webhook_secret_enc'])
        .where('id', '=', orgId)
        .executeTakeFirst();
      if (!row) throw new AppError('not_found', 'No such organisation.');
      if (!row.webhook_url || !row.webhook_secret_enc) throw new AppError('webhook_not_set');
      const current = decrypt(
        keyring,
        rowAad(orgId, 'organisations', orgId, 'webhook_secret'),
        row.webhook_secret_enc,
      );
      const secret = `whsec_${randomBytes(32).toString('base64')}`;
      const until = graceMs > 0 ? now + graceMs : null;
      await tx
        .updateTable('organisations')
        .set({
          webhook_secret_enc: encrypt(
            keyring,
            rowAad(orgId, 'organisations', orgId, 'webhook_secret'),
            secret,
          ),
          webhook_prev_secret_enc:
            until === null
              ? null
              : encrypt(
                  keyring,
                  rowAad(orgId, 'organisations', orgId, 'webhook_prev_secret'),
                  current,
                ),
          webhook_prev_secret_until: until,
        })
        .where('id', '=', orgId)
        .execute();
      const previousSecretValidUntil = until === null ? null : new Date(until).toISOString();
      await appendAudit(tx, this.store.dialect, [
        {
          orgId,
          actor,
          action: 'org.webhook_secret_rotated',
          targetType: 'organisation',
          targetId: orgId,
          details: { previousSecretValidUntil },
        },
      ]);
      return { secret, previousSecretValidUntil };
    });
  }

  /** The organisation's quiet-hours and frequency-cap settings (consent/send-rules), as JSON. */
  messagingSettings(orgId: string): Promise<string | null> {
    return this.settingsJson(orgId, 'messaging_settings');
  }

  /** Stores quiet-hours and frequency-cap settings validated by consent/send-rules. */
  setMessagingSettings(
    orgId: string,
    json: string,
    details: AuditDetails,
    actor: Actor,
  ): Promise<void> {
    return this.setSettingsJson(orgId, 'messaging_settings', json, details, actor);
  }

  /** The content guard's policy (content-guard GuardSettings), as JSON. */
  guardSettings(orgId: string): Promise<string | null> {
    return this.settingsJson(orgId, 'guard_settings');
  }

  /** Stores a content-guard policy validated by content-guard. */
  setGuardSettings(orgId: string, json: string, details: AuditDetails, actor: Actor) {
    return this.setSettingsJson(orgId, 'guard_settings', json, details, actor);
  }

  private async settingsJson(orgId: string, column: SettingsColumn): Promise<string | null> {
    const r = await this.store.db
      .selectFrom('organisations')
      .select(column)
      .where('id', '=', orgId)
      .executeTakeFirst();
    return r?.[column] ?? null;
  }

  /**
   * Stores settings another module validated and audits the change in the same transaction
   * (`org.settings_changed`, with `details` saying what they now are).
   */
  private async setSettingsJson(
    orgId: string,
    column: SettingsColumn,
    json: string,
    details: AuditDetails,
    actor: Actor,
  ): Promise<void> {
    await this.store.transaction(async (tx) => {
      const res = await tx
        .updateTable('organisations')
        .set({ [column]: json })
        .where('id', '=', orgId)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) === 0) {
        throw new AppError('not_found', 'No such organisation.');
      }
      await appendAudit(tx, this.store.dialect, [
        {
          orgId,
          actor,
          action: 'org.settings_changed',
          targetType: 'organisation',
          targetId: orgId,
          details,
        },
      ]);
    });
  }

  async senders(orgId: string): Promise<Sender[]> {
    const cached = this.senderCache.get(orgId);
    if (cached && Date.now() - cached.at < SENDER_CACHE_MS) return cached.senders;
    const rows = await this.store.db
      .selectFrom('senders')
      .selectAll()
      .where('org_id', '=', orgId)
      .orderBy('id')
      .execute();
    const senders = rows.map(toSender);
    this.senderCache.set(orgId, { at: Date.now(), senders });
    return senders;
  }

  /**
   * Changes a sender's limits and roles: its rate (segments per second, across all workers:
   * dispatch/segment-limit), daily cap, default, secondary, pool. Audited (`sender.updated`,
   * with what changed).
   */
  async updateSender(
    orgId: string,
    senderId: string,
    changes: SenderChanges,
    actor: Actor,
  ): Promise<Sender> {
    if (Object.values(changes).every((v) => v === undefined)) {
      throw new AppError('validation_failed', 'Nothing to change.');
    }
    const current = (await this.senders(orgId)).find((x) => x.id === senderId);
    if (!current) throw new AppError('not_found', 'No such sender.');
    const next = {
      mps: changes.mps ?? current.mps,
      dailyCap: changes.dailyCap === undefined ? current.dailyCap : changes.dailyCap,
      capTimeZone: changes.capTimeZone === undefined ? current.capTimeZone : changes.capTimeZone,
    };
    checkSenderLimits(next);
    const set = {
      mps: next.mps,
      daily_cap: next.dailyCap,
      cap_time_zone: next.capTimeZone,
      ...(changes.isDefault ? { is_default: 1 } : {}),
      ...(changes.isSecondary !== undefined ? { is_secondary: changes.isSecondary ? 1 : 0 } : {}),
      ...(changes.inPool !== undefined ? { in_pool: changes.inPool ? 1 : 0 } : {}),
    };
    const details = Object.fromEntries(
      Object.entries({
        mps: changes.mps,
        dailyCap: changes.dailyCap,
        capTimeZone: changes.capTimeZone,
        default: changes.isDefault,
        secondary: changes.isSecondary,
        pool: changes.inPool,
      }).filter(([, v]) => v !== undefined),
    ) as AuditDetails;
    await this.store.transaction(async (tx) => {
      // One default and one secondary per organisation.
      for (const [flag, col] of [
        [changes.isDefault, 'is_default'],
        [changes.isSecondary, 'is_secondary'],
      ] as const) {
        if (flag) {
          await tx
            .updateTable('senders')
            .set({ [col]: 0 })
            .where('org_id', '=', orgId)
            .where('id', '!=', senderId)
            .execute();
        }
      }
      await tx
        .updateTable('senders')
        .set(set)
        .where('org_id', '=', orgId)
        .where('id', '=', senderId)
        .execute();
      await appendAudit(tx, this.store.dialect, [
        {
          orgId,
          actor,
          action: 'sender.updated',
          targetType: 'sender',
          targetId: senderId,
          details,
        },
      ]);
    });
    this.senderCache.delete(orgId);
    const sender = (await this.senders(orgId)).find((x) => x.id === senderId);
    if (!sender) throw new AppError('not_found', 'No such sender.');
    return sender;
  }

  /**
   * Removes a sender and its carrier credentials. Refused for the default sender (make
   * another the default first) and while texts from it wait to be sent; its past messages
   * keep their number. Audited (`sender.deleted`).
   */
  async removeSender(orgId: string, senderId: string, actor: Actor): Promise<Sender> {
    const sender = (await this.senders(orgId)).find((x) => x.id === senderId);
    if (!sender) throw new AppError('not_found', 'No such sender.');
    if (sender.isDefault) throw new AppError('sender_is_default');
    await this.store.transaction(async (tx) => {
      const waiting = await tx
        .selectFrom('messages')
        .select('id')
        .where('org_id', '=', orgId)
        .where('sender_id', '=', senderId)
        .where('status', 'in', ['queued', 'sending'])
        .limit(1)
        .executeTakeFirst();
      if (waiting) throw new AppError('sender_in_use');
      await tx
        .deleteFrom('senders')
        .where('org_id', '=', orgId)
        .where('id', '=', senderId)
        .execute();
      await appendAudit(tx, this.store.dialect, [
        {
          orgId,
          actor,
          action: 'sender.deleted',
          targetType: 'sender',
          targetId: senderId,
          details: { carrier: sender.carrier },
        },
      ]);
    });
    this.senderCache.delete(orgId);
    return sender;
  }

  /**
   * Adds a sender with its carrier settings, encrypted with the organisation's data key. With
   * `isDefault` it becomes the one used when a message names no `from`. Audited
   * (`sender.created`, with `details` and never a credential).
   */
  async addSender(orgId: string, input: NewSender, actor: Actor): Promise<Sender> {
    if (!E164.test(input.number)) {
      throw new AppError('validation_failed', 'The number must be in E.164 form (+ and digits).');
    }
    const cap = input.dailyCap ?? null;
    const zone = input.capTimeZone ?? null;
    checkSenderLimits({ mps: input.mps, dailyCap: cap, capTimeZone: zone });
    const keyring = await this.keyrings.get(orgId);
    const sender: Sender = {
      id: newId('snd'),
      orgId,
      number: input.number,
      carrier: input.carrier,
      mps: input.mps,
      isDefault: input.isDefault,
      dailyCap: cap,
      capTimeZone: zone,
      isSecondary: input.isSecondary ?? false,
      inPool: input.inPool ?? false,
    };
    try {
      await this.store.transaction(async (tx) => {
        const now = Date.now();
        if (input.isDefault) {
          await tx
            .updateTable('senders')
            .set({ is_default: 0 })
            .where('org_id', '=', orgId)
            .execute();
        }
        if (sender.isSecondary) {
          await tx
            .updateTable('senders')
            .set({ is_secondary: 0 })
            .where('org_id', '=', orgId)
            .execute();
        }
        await tx
          .insertInto('senders')
          .values({
            org_id: orgId,
            id: sender.id,
            number: sender.number,
            carrier: sender.carrier,
            mps: sender.mps,
            is_default: input.isDefault ? 1 : 0,
            created_at: now,
            config_enc:
              input.settingsJson === null
                ? null
                : encrypt(keyring, senderSettingsAad(orgId, sender.id), input.settingsJson),
            daily_cap: cap,
            cap_time_zone: zone,
            is_secondary: sender.isSecondary ? 1 : 0,
            in_pool: sender.inPool ? 1 : 0,
          })
          .execute();
        await appendAudit(
          tx,
          this.store.dialect,
          [
            {
              orgId,
              actor,
              action: 'sender.created',
              targetType: 'sender',
              targetId: sender.id,
              details: {
                ...input.details,
                carrier: input.carrier,
                default: input.isDefault,
                secondary: sender.isSecondary,
                pool: sender.inPool,
              },
            },
          ],
          now,
        );
      });
    } catch (e) {
      if (/unique|duplicate/i.test(String(e))) throw new AppError('sender_number_taken');
      throw e;
    }
    this.senderCache.delete(orgId);
    return sender;
  }

  /** A sender's decrypted carrier settings (JSON), or null (simulator). For carriers only. */
  async senderSettings(orgId: string, senderId: string): Promise<string | null> {
    const row = await this.store.db
      .selectFrom('senders')
      .select(['config_enc'])
      .where('org_id', '=', orgId)
      .where('id', '=', senderId)
      .executeTakeFirst();
    if (!row?.config_enc) return null;
    const keyring = await this.keyrings.get(orgId);
    return decrypt(keyring, senderSettingsAad(orgId, senderId), row.config_enc);
  }

  /**
   * Every organisation's senders that go through a carrier (not the simulator), read afresh:
   * what a worker keeps carrier connections for (runtime/sender-carriers), however they were
   * added or removed.
   */
  async carrierSenders(): Promise<Sender[]> {
    const rows = await this.store.db
      .selectFrom('senders')
      .selectAll()
      .where('carrier', '!=', 'simulator')
      .execute();
    return rows.map(toSender);
  }

  /**
   * The sender with this id in any organisation: the one unscoped sender lookup, for carrier
   * webhooks, whose URL names the sender and whose signature proves the caller.
   */
  async senderForWebhook(senderId: string): Promise<Sender | null> {
    const r = await this.store.db
      .selectFrom('senders')
      .selectAll()
      .where('id', '=', senderId)
      .executeTakeFirst();
    return r ? toSender(r) : null;
  }

  /**
   * The sender to use: the one with number (or id) `from`; else, when the organisation has
   * a pool, the pool's sender for this recipient (sticky: rendezvous hashing keeps each
   * recipient on one number, and moves only the recipients of a sender that leaves the
   * pool); else the default.
   */
  async resolveSender(orgId: string, from: string | undefined, to?: string): Promise<Sender> {
    const senders = await this.senders(orgId);
    if (from !== undefined) {
      const s = senders.find((x) => x.number === from || x.id === from);
      if (!s) throw new AppError('unknown_sender');
      return s;
    }
    const pool = to === undefined ? [] : senders.filter((x) => x.inPool);
    if (pool.length > 0) return stickySender(pool, to!);
    const d = senders.find((x) => x.isDefault);
    if (!d) throw new AppError('no_default_sender');
    return d;
  }

  /** The sender that owns a number, across organisations (routes inbound messages). */
  async senderByNumber(number: string): Promise<Sender | null> {
    const r = await this.store.db
      .selectFrom('senders')
      .selectAll()
      .where('number', '=', number)
      .executeTakeFirst();
    return r ? toSender(r) : null;
  }
}

function toOrganisation(
  r: Pick<
    Selectable<OrganisationsTable>,
    'id' | 'name' | 'webhook_url' | 'created_at' | 'session_idle_minutes'
  >,
): Organisation {
  return {
    id: r.id,
    name: r.name,
    webhookUrl: r.webhook_url,
    sessionIdleMinutes: r.session_idle_minutes,
    createdAt: new Date(Number(r.created_at)).toISOString(),
  };
}

function toSender(r: Selectable<SendersTable>): Sender {
  return {
    id: r.id,
    orgId: r.org_id,
    number: r.number,
    carrier: r.carrier,
    mps: r.mps,
    isDefault: r.is_default === 1,
    dailyCap: r.daily_cap ?? null,
    capTimeZone: r.cap_time_zone ?? null,
    isSecondary: r.is_secondary === 1,
    inPool: r.in_pool === 1,
  };
}

/** The pool sender with the highest weight for this recipient (rendezvous hashing). */
function stickySender(pool: readonly Sender[], to: string): Sender {
  let best = pool[0]!;
  let bestWeight = -1n;
  for (const s of pool) {
    const w = createHash('sha256').update(`${s.id}|${to}`).digest().readBigUInt64BE(0);
    if (w > bestWeight) [best, bestWeight] = [s, w];
  }
  return best;
}

function checkSenderLimits(l: {
  mps: number;
  dailyCap: number | null;
  capTimeZone: string | null;
}): void {
  if (!Number.isInteger(l.mps) || l.mps < 1 || l.mps > 10_000) {
    throw new AppError('validation_failed', 'mps must be a whole number from 1 to 10000.');
  }
  if (l.dailyCap !== null && (!Number.isInteger(l.dailyCap) || l.dailyCap < 1)) {
    throw new AppError('validation_failed', 'The daily cap must be a whole number ≥ 1.');
  }
  if (l.capTimeZone !== null && !validTimeZone(l.capTimeZone)) {
    throw new AppError('validation_failed', 'The cap time zone must be an IANA zone name.');
  }
}

function senderSettingsAad(orgId: string, senderId: string): string {
  return rowAad(orgId, 'senders', senderId, 'config');
}

function validTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
