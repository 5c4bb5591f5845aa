/**
 * @module store/migrations
 * Portable migrations, written once with Kysely's schema builder, run on start and by
 * `tidings migrate`. Every tenant-owned table's primary key starts with `org_id`, so a later
 * move to a database sharded by organisation needs no redesign. Append new migrations; never
 * edit one that has shipped.
 */
import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';

const m0001: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('organisations')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('webhook_url', 'text')
      .addColumn('webhook_secret_enc', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('org_keys')
      .addColumn('org_id', 'text', (c) => c.notNull().references('organisations.id'))
      .addColumn('key_id', 'text', (c) => c.notNull())
      .addColumn('purpose', 'text', (c) => c.notNull())
      .addColumn('wrapped', 'text', (c) => c.notNull())
      .addColumn('master_key_id', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('org_keys_pk', ['org_id', 'key_id'])
      .execute();

    await db.schema
      .createTable('api_keys')
      .addColumn('org_id', 'text', (c) => c.notNull().references('organisations.id'))
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .addColumn('prefix', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('last_used_at', 'bigint')
      .addColumn('revoked_at', 'bigint')
      .addPrimaryKeyConstraint('api_keys_pk', ['org_id', 'id'])
      .execute();
    await db.schema.createIndex('api_keys_hash').unique().on('api_keys').column('hash').execute();

    await db.schema
      .createTable('senders')
      .addColumn('org_id', 'text', (c) => c.notNull().references('organisations.id'))
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('number', 'text', (c) => c.notNull())
      .addColumn('carrier', 'text', (c) => c.notNull())
      .addColumn('mps', 'integer', (c) => c.notNull())
      .addColumn('is_default', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('senders_pk', ['org_id', 'id'])
      .execute();
    await db.schema.createIndex('senders_number').unique().on('senders').column('number').execute();

    await db.schema
      .createTable('messages')
      .addColumn('org_id', 'text', (c) => c.notNull().references('organisations.id'))
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('program', 'text', (c) => c.notNull())
      .addColumn('sender_id', 'text', (c) => c.notNull())
      .addColumn('from_number', 'text', (c) => c.notNull())
      .addColumn('to_enc', 'text', (c) => c.notNull())
      .addColumn('to_index', 'text', (c) => c.notNull())
      .addColumn('body_enc', 'text', (c) => c.notNull())
      .addColumn('segments', 'integer', (c) => c.notNull())
      .addColumn('encoding', 'text', (c) => c.notNull())
      .addColumn('send_at', 'bigint', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull())
      .addColumn('carrier_message_id', 'text')
      .addColumn('failure_code', 'text')
      .addColumn('failure_reason', 'text')
      .addColumn('idempotency_key', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addColumn('sent_at', 'bigint')
      .addColumn('delivered_at', 'bigint')
      .addPrimaryKeyConstraint('messages_pk', ['org_id', 'id'])
      .execute();
    // No index on the recipient's blind index: its keys are random, so it would dirty one page
    // per message in every accept commit (about four fifths of the write-ahead log). Listing,
    // with or without a recipient filter, walks the primary key newest first instead (ids are
    // time-ordered ULIDs). See docs/performance.md.
    await db.schema
      .createIndex('messages_carrier_id')
      .on('messages')
      .column('carrier_message_id')
      .execute();

    await db.schema
      .createTable('dispatch_jobs')
      .addColumn('org_id', 'text', (c) => c.notNull())
      .addColumn('message_id', 'text', (c) => c.notNull())
      .addColumn('due_at', 'bigint', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull())
      .addColumn('lease_owner', 'text')
      .addColumn('lease_until', 'bigint')
      .addPrimaryKeyConstraint('dispatch_jobs_pk', ['org_id', 'message_id'])
      .addForeignKeyConstraint('dispatch_jobs_message', ['org_id', 'message_id'], 'messages', [
        'org_id',
        'id',
      ])
      .execute();
    await db.schema.createIndex('dispatch_jobs_due').on('dispatch_jobs').column('due_at').execute();

    await db.schema
      .createTable('idempotency_keys')
      .addColumn('org_id', 'text', (c) => c.notNull().references('organisations.id'))
      .addColumn('key', 'text', (c) => c.notNull())
      .addColumn('request_hash', 'text', (c) => c.notNull())
      .addColumn('message_id', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('idempotency_keys_pk', ['org_id', 'key'])
      .execute();

    await db.schema
      .createTable('inbound_messages')
      .addColumn('org_id', 'text', (c) => c.notNull().references('organisations.id'))
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('sender_id', 'text', (c) => c.notNull())
      .addColumn('to_number', 'text', (c) => c.notNull())
      .addColumn('from_enc', 'text', (c) => c.notNull())
      .addColumn('from_index', 'text', (c) => c.notNull())
      .addColumn('body_enc', 'text', (c) => c.notNull())
      .addColumn('carrier_message_id', 'text')
      .addColumn('received_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('inbound_messages_pk', ['org_id', 'id'])
      .execute();

    await db.schema
      .createTable('audit_events')
      .addColumn('org_id', 'text', (c) => c.notNull())
      .addColumn('seq', 'bigint', (c) => c.notNull())
      .addColumn('at', 'bigint', (c) => c.notNull())
      .addColumn('actor_type', 'text', (c) => c.notNull())
      .addColumn('actor_id', 'text', (c) => c.notNull())
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('target_type', 'text', (c) => c.notNull())
      .addColumn('target_id', 'text', (c) => c.notNull())
      .addColumn('details', 'text', (c) => c.notNull())
      .addColumn('prev_hash', 'text', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('audit_events_pk', ['org_id', 'seq'])
      .execute();

    await db.schema
      .createTable('audit_heads')
      .addColumn('org_id', 'text', (c) => c.primaryKey())
      .addColumn('seq', 'bigint', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('webhook_deliveries')
      .addColumn('org_id', 'text', (c) => c.notNull().references('organisations.id'))
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('event_type', 'text', (c) => c.notNull())
      .addColumn('payload', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull())
      .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
      .addColumn('lease_until', 'bigint')
      .addColumn('last_status_code', 'integer')
      .addColumn('last_error', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('delivered_at', 'bigint')
      .addPrimaryKeyConstraint('webhook_deliveries_pk', ['org_id', 'id'])
      .execute();
    await db.schema
      .createIndex('webhook_deliveries_due')
      .on('webhook_deliveries')
      .columns(['status', 'next_attempt_at'])
      .execute();
  },
};

/** People, sessions, second factors, API-key scopes and emergency access (identity). */
const m0002: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('users')
      .addColumn('org_id', 'text', (c) => c.notNull().references('organisations.id'))
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('email', 'text', (c) => c.notNull())
      .addColumn('role', 'text', (c) => c.notNull())
      .addColumn('password_hash', 'text')
      .addColumn('setup_token_hash', 'text')
      .addColumn('setup_expires_at', 'bigint')
      .addColumn('totp_secret_enc', 'text')
      .addColumn('mfa_enrolled_at', 'bigint')
      .addColumn('totp_last_step', 'bigint')
      .addColumn('failed_logins', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('locked_until', 'bigint')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addColumn('disabled_at', 'bigint')
      .addPrimaryKeyConstraint('users_pk', ['org_id', 'id'])
      .execute();
    await db.schema
      .createIndex('users_org_email')
      .unique()
      .on('users')
      .columns(['org_id', 'email'])
      .execute();
    await db.schema.createIndex('users_email').on('users').column('email').execute();
    await db.schema
      .createIndex('users_setup_token')
      .unique()
      .on('users')
      .column('setup_token_hash')
      .execute();

    await db.schema
      .createTable('recovery_codes')
      .addColumn('org_id', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('code_hash', 'text', (c) => c.notNull())
      .addColumn('used_at', 'bigint')
      .addPrimaryKeyConstraint('recovery_codes_pk', ['org_id', 'user_id', 'code_hash'])
      .addForeignKeyConstraint('recovery_codes_user', ['org_id', 'user_id'], 'users', [
        'org_id',
        'id',
      ])
      .execute();

    await db.schema
      .createTable('sessions')
      .addColumn('org_id', 'text', (c) => c.notNull())
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('token_hash', 'text', (c) => c.notNull())
      .addColumn('csrf_hash', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
      .addColumn('idle_timeout_ms', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('mfa_verified_at', 'bigint')
      .addColumn('revoked_at', 'bigint')
      .addColumn('ip', 'text')
      .addPrimaryKeyConstraint('sessions_pk', ['org_id', 'id'])
      .addForeignKeyConstraint('sessions_user', ['org_id', 'user_id'], 'users', ['org_id', 'id'])
      .execute();
    await db.schema
      .createIndex('sessions_token')
      .unique()
      .on('sessions')
      .column('token_hash')
      .execute();
    await db.schema
      .createIndex('sessions_user')
      .on('sessions')
      .columns(['org_id', 'user_id'])
      .execute();

    await db.schema
      .createTable('break_glass_grants')
      .addColumn('org_id', 'text', (c) => c.notNull())
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('reason_enc', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('ended_at', 'bigint')
      .addPrimaryKeyConstraint('break_glass_grants_pk', ['org_id', 'id'])
      .addForeignKeyConstraint('break_glass_user', ['org_id', 'user_id'], 'users', ['org_id', 'id'])
      .execute();

    await db.schema
      .alterTable('organisations')
      .addColumn('session_idle_minutes', 'integer', (c) => c.notNull().defaultTo(15))
      .execute();
    await db.schema
      .alterTable('api_keys')
      .addColumn('scopes', 'text', (c) =>
        c.notNull().defaultTo('messages:send,messages:read,webhooks:write'),
      )
      .execute();
    await db.schema.alterTable('api_keys').addColumn('expires_at', 'bigint').execute();
    await db.schema.alterTable('api_keys').addColumn('created_by', 'text').execute();
  },
};

/**
 * Key lifecycle (crypto): a record of every data key destroyed on purpose (crypto-shredding),
 * so reading what it protected says so instead of looking like corruption, and the master
 * keys an operator has retired, so no server wraps a key under one again.
 */
const m0003: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('org_key_shreds')
      .addColumn('org_id', 'text', (c) => c.notNull().references('organisations.id'))
      .addColumn('key_id', 'text', (c) => c.notNull())
      .addColumn('shredded_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('org_key_shreds_pk', ['org_id', 'key_id'])
      .execute();
    // Installation-wide, not tenant-owned: a master key wraps keys of every organisation.
    await db.schema
      .createTable('master_key_retirements')
      .addColumn('master_key_id', 'text', (c) => c.primaryKey())
      .addColumn('retired_at', 'bigint', (c) => c.notNull())
      .execute();
  },
};

/**
 * Verifiable audit (audit): the patient an event concerns, as the blind index of their number,
 * so an accounting of disclosures needs no PHI; per-organisation Ed25519 signing keys (private
 * half wrapped by the master key); and the signed checkpoints of each chain. No index on
 * `subject_index`: its values are random, so an index would dirty one page per audited
 * message in every accept commit (see the note on `messages`); accounting queries walk the
 * chain in bounded windows instead. The `(org_id, at)` index grows at its right edge only.
 */
const m0004: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('audit_events').addColumn('subject_index', 'text').execute();
    await db.schema
      .createIndex('audit_events_time')
      .on('audit_events')
      .columns(['org_id', 'at'])
      .execute();
    await db.schema
      .createTable('audit_signing_keys')
      .addColumn('org_id', 'text', (c) => c.notNull())
      .addColumn('key_id', 'text', (c) => c.notNull())
      .addColumn('algorithm', 'text', (c) => c.notNull())
      .addColumn('public_key', 'text', (c) => c.notNull())
      .addColumn('private_key_wrapped', 'text', (c) => c.notNull())
      .addColumn('master_key_id', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('retired_at', 'bigint')
      .addPrimaryKeyConstraint('audit_signing_keys_pk', ['org_id', 'key_id'])
      .execute();
    await db.schema
      .createTable('audit_checkpoints')
      .addColumn('org_id', 'text', (c) => c.notNull())
      .addColumn('seq', 'bigint', (c) => c.notNull())
      .addColumn('at', 'bigint', (c) => c.notNull())
      .addColumn('head_hash', 'text', (c) => c.notNull())
      .addColumn('key_id', 'text', (c) => c.notNull())
      .addColumn('signature', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('audit_checkpoints_pk', ['org_id', 'seq'])
      .execute();
  },
};

/** The consent ledger, its derived state and policies, and the kind of each message. */
const m0005: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .alterTable('messages')
      .addColumn('kind', 'text', (c) => c.notNull().defaultTo('standard'))
      .execute();
    await db.schema
      .createTable('consent_events')
      .addColumn('org_id', 'text', (c) => c.notNull().references('organisations.id'))
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('phone_index', 'text', (c) => c.notNull())
      .addColumn('phone_enc', 'text', (c) => c.notNull())
      .addColumn('program', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('source', 'text', (c) => c.notNull())
      .addColumn('evidence_enc', 'text')
      .addColumn('actor_type', 'text', (c) => c.notNull())
      .addColumn('actor_id', 'text', (c) => c.notNull())
      .addColumn('occurred_at', 'bigint', (c) => c.notNull())
      .addColumn('recorded_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('consent_events_pk', ['org_id', 'id'])
      .execute();
    await db.schema
      .createIndex('consent_events_phone')
      .on('consent_events')
      .columns(['org_id', 'phone_index', 'id'])
      .execute();
    await db.schema
      .createTable('consent_state')
      .addColumn('org_id', 'text', (c) => c.notNull().references('organisations.id'))
      .addColumn('phone_index', 'text', (c) => c.notNull())
      .addColumn('program', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('last_event_id', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('consent_state_pk', ['org_id', 'phone_index', 'program'])
      .execute();
    await db.schema
      .createTable('consent_settings')
      .addColumn('org_id', 'text', (c) => c.primaryKey().references('organisations.id'))
      .addColumn('settings', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
  },
};

/**
 * Quiet hours and frequency caps (consent/send-rules): why and until when a message was held
 * (`messages.not_before`, `held_by`), each organisation's settings, and `send_log`, the recent
 * sends a cap counts per organisation, recipient and program, owned by messaging. One short
 * row per recipient and program, rewritten in place, rather than an index on the random
 * `to_index` of every message (see the note on `messages`).
 */
const m0006: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('messages').addColumn('not_before', 'bigint').execute();
    await db.schema.alterTable('messages').addColumn('held_by', 'text').execute();
    await db.schema.alterTable('organisations').addColumn('messaging_settings', 'text').execute();
    await db.schema
      .createTable('send_log')
      .addColumn('org_id', 'text', (c) => c.notNull())
      .addColumn('to_index', 'text', (c) => c.notNull())
      .addColumn('program', 'text', (c) => c.notNull())
      .addColumn('entries', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('send_log_pk', ['org_id', 'to_index', 'program'])
      .execute();
  },
};

/**
 * Secure messages (portal): the encrypted content behind a link, the link's one-time codes,
 * the patient's verified sessions and replies. The link token and session tokens are stored
 * only as SHA-256 hashes (globally unique, like API keys, so a link finds its organisation);
 * one-time codes only as keyed HMACs.
 */
const m0007: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('secure_messages')
      .addColumn('org_id', 'text', (c) => c.notNull().references('organisations.id'))
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('program', 'text', (c) => c.notNull())
      .addColumn('to_enc', 'text', (c) => c.notNull())
      .addColumn('to_index', 'text', (c) => c.notNull())
      .addColumn('body_enc', 'text', (c) => c.notNull())
      .addColumn('token_hash', 'text', (c) => c.notNull())
      .addColumn('verify_method', 'text', (c) => c.notNull())
      .addColumn('dob_enc', 'text')
      .addColumn('failed_attempts', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('locked', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('locked_at', 'bigint')
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('expire_after_view', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('first_viewed_at', 'bigint')
      .addColumn('revoked_at', 'bigint')
      .addColumn('notice_message_id', 'text')
      .addColumn('created_by_type', 'text', (c) => c.notNull())
      .addColumn('created_by_id', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('secure_messages_pk', ['org_id', 'id'])
      .execute();
    await db.schema
      .createIndex('secure_messages_token')
      .unique()
      .on('secure_messages')
      .column('token_hash')
      .execute();
    await db.schema
      .createIndex('secure_messages_notice')
      .on('secure_messages')
      .columns(['org_id', 'notice_message_id'])
      .execute();
    await db.schema
      .createTable('secure_message_codes')
      .addColumn('org_id', 'text', (c) => c.notNull().references('organisations.id'))
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('secure_message_id', 'text', (c) => c.notNull())
      .addColumn('code_hash', 'text', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('used_at', 'bigint')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('secure_message_codes_pk', ['org_id', 'id'])
      .execute();
    await db.schema
      .createIndex('secure_message_codes_message')
      .on('secure_message_codes')
      .columns(['org_id', 'secure_message_id', 'id'])
      .execute();
    await db.schema
      .createTable('secure_message_sessions')
      .addColumn('org_id', 'text', (c) => c.notNull().references('organisations.id'))
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('secure_message_id', 'text', (c) => c.notNull())
      .addColumn('token_hash', 'text', (c) => c.notNull())
      .addColumn('csrf_hash', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('secure_message_sessions_pk', ['org_id', 'id'])
      .execute();
    await db.schema
      .createIndex('secure_message_sessions_token')
      .unique()
      .on('secure_message_sessions')
      .column('token_hash')
      .execute();
    await db.schema
      .createTable('secure_message_replies')
      .addColumn('org_id', 'text', (c) => c.notNull().references('organisations.id'))
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('secure_message_id', 'text', (c) => c.notNull())
      .addColumn('body_enc', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('secure_message_replies_pk', ['org_id', 'id'])
      .execute();
    await db.schema
      .createIndex('secure_message_replies_message')
      .on('secure_message_replies')
      .columns(['org_id', 'secure_message_id', 'id'])
      .execute();
  },
};

/**
 * Organisation templates with typed slots (templates). Bodies are the organisation's own
 * wording, checked by the content guard when saved, so they hold no PHI and are stored in
 * clear. Names are unique within an organisation. A deleted template is removed; its
 * creation, changes and deletion stay in the audit log.
 */
const m0008: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('templates')
      .addColumn('org_id', 'text', (c) => c.notNull().references('organisations.id'))
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('body', 'text', (c) => c.notNull())
      .addColumn('program', 'text', (c) => c.notNull())
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_by', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('templates_pk', ['org_id', 'id'])
      .execute();
    await db.schema
      .createIndex('templates_org_name')
      .unique()
      .on('templates')
      .columns(['org_id', 'name'])
      .execute();
  },
};

/** Every migration, in order. Names sort lexically, as Kysely requires. */
/**
 * The content guard's policy per organisation (content-guard GuardSettings, JSON): what
 * happens to a text that would disclose health information. Null: the default (divert).
 */
const m0009: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('organisations').addColumn('guard_settings', 'text').execute();
  },
};

/**
 * Retention, legal holds, risk monitoring and backups (issue 9). `retention_policies`: each
 * organisation's retention periods (retention/policy, JSON; no row: the defaults).
 * `legal_holds`: holds that suspend destruction for one patient (by blind index) or the whole
 * organisation. `retention_runs`: what each sweep destroyed, as counts. `risk_alerts` and
 * `paused_senders`: alerts and the senders a hard threshold paused until an admin resumes
 * them. `backup_records`: installation-wide log of backups written and verified.
 */
const m0012: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('retention_policies')
      .addColumn('org_id', 'text', (c) => c.primaryKey().references('organisations.id'))
      .addColumn('settings', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('legal_holds')
      .addColumn('org_id', 'text', (c) => c.notNull().references('organisations.id'))
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('scope', 'text', (c) => c.notNull())
      .addColumn('phone_index', 'text')
      .addColumn('reason_enc', 'text', (c) => c.notNull())
      .addColumn('placed_by', 'text', (c) => c.notNull())
      .addColumn('placed_at', 'bigint', (c) => c.notNull())
      .addColumn('lifted_by', 'text')
      .addColumn('lifted_at', 'bigint')
      .addPrimaryKeyConstraint('legal_holds_pk', ['org_id', 'id'])
      .execute();
    await db.schema
      .createTable('retention_runs')
      .addColumn('org_id', 'text', (c) => c.notNull().references('organisations.id'))
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('started_at', 'bigint', (c) => c.notNull())
      .addColumn('finished_at', 'bigint')
      .addColumn('counts', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('retention_runs_pk', ['org_id', 'id'])
      .execute();
    await db.schema
      .createTable('risk_alerts')
      .addColumn('org_id', 'text', (c) => c.notNull().references('organisations.id'))
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('signal', 'text', (c) => c.notNull())
      .addColumn('severity', 'text', (c) => c.notNull())
      .addColumn('scope_type', 'text', (c) => c.notNull())
      .addColumn('scope_id', 'text', (c) => c.notNull())
      .addColumn('explanation', 'text', (c) => c.notNull())
      .addColumn('figures', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('paused_sender_ids', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('resolved_at', 'bigint')
      .addColumn('resolved_by', 'text')
      .addPrimaryKeyConstraint('risk_alerts_pk', ['org_id', 'id'])
      .execute();
    await db.schema
      .createTable('paused_senders')
      .addColumn('org_id', 'text', (c) => c.notNull().references('organisations.id'))
      .addColumn('sender_id', 'text', (c) => c.notNull())
      .addColumn('alert_id', 'text', (c) => c.notNull())
      .addColumn('paused_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('paused_senders_pk', ['org_id', 'sender_id'])
      .execute();
    await db.schema
      .createTable('backup_records')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('sha256', 'text', (c) => c.notNull())
      .addColumn('at', 'bigint', (c) => c.notNull())
      .execute();
  },
};

/**
 * Appointments and their reminders (reminders), HL7v2 feed bookkeeping (integrations/hl7v2).
 * A contact's name, number, date of birth and the appointment's provider are encrypted; the
 * MRN is kept only as a blind index, for matching a feed's patient to a contact.
 */
const m0011: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('reminder_contacts')
      .addColumn('org_id', 'text', (c) => c.notNull().references('organisations.id'))
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('name_enc', 'text')
      .addColumn('phone_enc', 'text')
      .addColumn('phone_index', 'text')
      .addColumn('dob_enc', 'text')
      .addColumn('mrn_index', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('reminder_contacts_pk', ['org_id', 'id'])
      .execute();
    await db.schema
      .createIndex('reminder_contacts_mrn')
      .on('reminder_contacts')
      .columns(['org_id', 'mrn_index'])
      .execute();
    await db.schema
      .createIndex('reminder_contacts_phone')
      .on('reminder_contacts')
      .columns(['org_id', 'phone_index'])
      .execute();
    await db.schema
      .createTable('appointments')
      .addColumn('org_id', 'text', (c) => c.notNull().references('organisations.id'))
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('external_id', 'text', (c) => c.notNull())
      .addColumn('source', 'text', (c) => c.notNull())
      .addColumn('placer_id', 'text')
      .addColumn('filler_id', 'text')
      .addColumn('fhir_id', 'text')
      .addColumn('contact_id', 'text', (c) => c.notNull())
      .addColumn('start_at', 'bigint', (c) => c.notNull())
      .addColumn('duration_minutes', 'integer')
      .addColumn('location', 'text')
      .addColumn('provider_enc', 'text')
      .addColumn('appointment_type', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('booked_at', 'bigint', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('appointments_pk', ['org_id', 'id'])
      .execute();
    await db.schema
      .createIndex('appointments_external')
      .unique()
      .on('appointments')
      .columns(['org_id', 'external_id'])
      .execute();
    await db.schema
      .createIndex('appointments_contact')
      .on('appointments')
      .columns(['org_id', 'contact_id'])
      .execute();
    await db.schema
      .createTable('reminders')
      .addColumn('org_id', 'text', (c) => c.notNull().references('organisations.id'))
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('appointment_id', 'text', (c) => c.notNull())
      .addColumn('offset_minutes', 'integer', (c) => c.notNull())
      .addColumn('send_at', 'bigint', (c) => c.notNull())
      .addColumn('plan_hash', 'text', (c) => c.notNull())
      .addColumn('message_id', 'text')
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('reason', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('reminders_pk', ['org_id', 'id'])
      .execute();
    await db.schema
      .createIndex('reminders_appointment')
      .on('reminders')
      .columns(['org_id', 'appointment_id'])
      .execute();
    await db.schema
      .createIndex('reminders_send_at')
      .on('reminders')
      .columns(['org_id', 'send_at'])
      .execute();
    await db.schema
      .createTable('reminder_settings')
      .addColumn('org_id', 'text', (c) => c.primaryKey().references('organisations.id'))
      .addColumn('settings', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('appointment_tasks')
      .addColumn('org_id', 'text', (c) => c.notNull().references('organisations.id'))
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('appointment_id', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('inbound_id', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('appointment_tasks_pk', ['org_id', 'id'])
      .execute();
    await db.schema
      .createTable('hl7_messages')
      .addColumn('org_id', 'text', (c) => c.notNull().references('organisations.id'))
      .addColumn('control_id', 'text', (c) => c.notNull())
      .addColumn('message_type', 'text', (c) => c.notNull())
      .addColumn('ack_code', 'text', (c) => c.notNull())
      .addColumn('received_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('hl7_messages_pk', ['org_id', 'control_id'])
      .execute();
    // Campaigns (campaigns): one template to a list; each recipient's number and variables
    // encrypted, with what the send pipeline answered.
    await db.schema
      .createTable('campaigns')
      .addColumn('org_id', 'text', (c) => c.notNull().references('organisations.id'))
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('template', 'text', (c) => c.notNull())
      .addColumn('filter', 'text')
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('total', 'integer', (c) => c.notNull())
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addColumn('finished_at', 'bigint')
      .addPrimaryKeyConstraint('campaigns_pk', ['org_id', 'id'])
      .execute();
    await db.schema
      .createTable('campaign_recipients')
      .addColumn('org_id', 'text', (c) => c.notNull().references('organisations.id'))
      .addColumn('campaign_id', 'text', (c) => c.notNull())
      .addColumn('seq', 'integer', (c) => c.notNull())
      .addColumn('phone_enc', 'text', (c) => c.notNull())
      .addColumn('variables_enc', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('message_id', 'text')
      .addColumn('error_code', 'text')
      .addPrimaryKeyConstraint('campaign_recipients_pk', ['org_id', 'campaign_id', 'seq'])
      .execute();
  },
};

/**
 * Carrier configuration per sender (carriers, orgs): the carrier's settings and credentials
 * as one JSON document encrypted with the organisation's data key (`config_enc`, null for
 * the simulator), a daily cap in segments and the time zone its day is counted in (T-Mobile's
 * daily brand cap resets at midnight US Pacific), and `is_secondary`: the sender messages fail
 * over to when another sender's carrier keeps failing. `sender_usage` counts the segments each
 * sender used per second and per day, shared by every worker process (dispatch/segment-limit).
 */
const m0010: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('senders').addColumn('config_enc', 'text').execute();
    await db.schema.alterTable('senders').addColumn('daily_cap', 'integer').execute();
    await db.schema.alterTable('senders').addColumn('cap_time_zone', 'text').execute();
    await db.schema.alterTable('senders').addColumn('is_secondary', 'integer').execute();
    await db.schema
      .createTable('sender_usage')
      .addColumn('org_id', 'text', (c) => c.notNull())
      .addColumn('sender_id', 'text', (c) => c.notNull())
      .addColumn('period', 'text', (c) => c.notNull())
      .addColumn('used', 'integer', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('sender_usage_pk', ['org_id', 'sender_id', 'period'])
      .execute();
  },
};

/**
 * The texting-policy acknowledgement (identity/policy-acks; 45 CFR 164.308(a)(5), security
 * awareness and training): the organisation's policy text with a version that rises on each
 * change, and every acknowledgement a user gave.
 */
const m0013: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('texting_policies')
      .addColumn('org_id', 'text', (c) => c.primaryKey().references('organisations.id'))
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('body', 'text', (c) => c.notNull())
      .addColumn('updated_by', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('policy_acks')
      .addColumn('org_id', 'text', (c) => c.notNull().references('organisations.id'))
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('acknowledged_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('policy_acks_pk', ['org_id', 'id'])
      .execute();
    await db.schema
      .createIndex('policy_acks_user')
      .on('policy_acks')
      .columns(['org_id', 'user_id', 'acknowledged_at'])
      .execute();
  },
};

/**
 * Carrier-side deletion (retention): each carrier copy of a message whose body the sweeper
 * destroyed, asked of the carrier once (retried on later sweeps while it fails).
 */
const m0014: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('carrier_deletions')
      .addColumn('org_id', 'text', (c) => c.notNull().references('organisations.id'))
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('message_id', 'text', (c) => c.notNull())
      .addColumn('sender_id', 'text', (c) => c.notNull())
      .addColumn('carrier_message_id', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('carrier_deletions_pk', ['org_id', 'kind', 'message_id'])
      .execute();
    await db.schema
      .createIndex('carrier_deletions_status')
      .on('carrier_deletions')
      .columns(['org_id', 'status', 'message_id'])
      .execute();
  },
};

/**
 * An inbound text is stored once per carrier id (Twilio MessageSid, Telnyx message id): a
 * webhook the carrier delivers again finds its row. Copies stored before this migration keep
 * their rows but lose the carrier id, all but the first, so the unique index can be built.
 */
const m0015: Migration = {
  async up(db: Kysely<unknown>) {
    await sql`
      UPDATE inbound_messages SET carrier_message_id = NULL
      WHERE carrier_message_id IS NOT NULL AND EXISTS (
        SELECT 1 FROM inbound_messages o
        WHERE o.org_id = inbound_messages.org_id
          AND o.sender_id = inbound_messages.sender_id
          AND o.carrier_message_id = inbound_messages.carrier_message_id
          AND (o.received_at < inbound_messages.received_at
            OR (o.received_at = inbound_messages.received_at AND o.id < inbound_messages.id)))
    `.execute(db);
    await db.schema
      .createIndex('inbound_messages_carrier_id')
      .on('inbound_messages')
      .columns(['org_id', 'sender_id', 'carrier_message_id'])
      .unique()
      .execute();
  },
};

/**
 * The staff inbox (issue 8): per patient number an opaque conversation id (so no number ever
 * goes in a URL), its assignee and when staff last read it.
 */
const m0016: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('conversations')
      .addColumn('org_id', 'text', (c) => c.notNull().references('organisations.id'))
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('phone_index', 'text', (c) => c.notNull())
      .addColumn('phone_enc', 'text', (c) => c.notNull())
      .addColumn('assignee_id', 'text')
      .addColumn('last_read_at', 'bigint', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('conversations_pk', ['org_id', 'id'])
      .execute();
    await db.schema
      .createIndex('conversations_phone')
      .on('conversations')
      .columns(['org_id', 'phone_index'])
      .unique()
      .execute();
  },
};

/** A critical risk alert can pause the campaign that caused it, not only senders. */
const m0021: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .alterTable('risk_alerts')
      .addColumn('paused_campaign_ids', 'text', (c) => c.notNull().defaultTo('[]'))
      .execute();
  },
};

/** Where FHIR Appointment polling stopped, so a restart asks only for what changed. */
const m0022: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('fhir_poll_cursors')
      .addColumn('org_id', 'text', (c) => c.notNull().references('organisations.id'))
      .addColumn('base_url', 'text', (c) => c.notNull())
      .addColumn('last_updated', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('fhir_poll_cursors_pk', ['org_id', 'base_url'])
      .execute();
  },
};

/**
 * One scheduled reminder per plan of an appointment: two processes re-planning the same
 * appointment at once cannot both queue it. Copies already there are canceled first.
 */
const m0023: Migration = {
  async up(db: Kysely<unknown>) {
    await sql`
      UPDATE reminders SET status = 'canceled', reason = 'duplicate'
      WHERE status = 'scheduled' AND EXISTS (
        SELECT 1 FROM reminders o
        WHERE o.org_id = reminders.org_id AND o.appointment_id = reminders.appointment_id
          AND o.plan_hash = reminders.plan_hash AND o.status = 'scheduled' AND o.id < reminders.id)
    `.execute(db);
    await db.schema
      .createIndex('reminders_scheduled_plan')
      .on('reminders')
      .columns(['org_id', 'appointment_id', 'plan_hash'])
      .unique()
      .where(sql.ref('status'), '=', 'scheduled')
      .execute();
  },
};

/** Sender pools: a message naming no sender goes from the pool, sticky per recipient. */
const m0024: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .alterTable('senders')
      .addColumn('in_pool', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
  },
};

/**
 * Webhook secret rotation: the secret a rotation replaced keeps signing (beside the new one)
 * until `webhook_prev_secret_until`, so receivers can switch without losing events.
 */
const m0026: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .alterTable('organisations')
      .addColumn('webhook_prev_secret_enc', 'text')
      .execute();
    await db.schema
      .alterTable('organisations')
      .addColumn('webhook_prev_secret_until', 'bigint')
      .execute();
  },
};

/**
 * Conversations at scale (issue 8): a patient's history is read through indexes by recipient
 * (the blind indexes of messages, inbound texts and secure messages), and the inbox lists
 * conversations by the last activity that conversations keeps on its own rows (updated in the
 * transaction that stores each text), so neither walks the organisation's messages. The
 * recipient index and the conversation upsert cost the accept commit a page or two per
 * recipient that 0001 avoided (the http-accept bench on SQLite: throughput unchanged within
 * its noise, server CPU per request about 13% higher). `conversation_backfills` records that
 * an organisation's history before this migration is in its conversation rows (done once).
 */
const m0027: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .alterTable('conversations')
      .addColumn('last_activity_at', 'bigint', (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema.alterTable('conversations').addColumn('last_inbound_at', 'bigint').execute();
    await db.schema
      .createIndex('conversations_activity')
      .on('conversations')
      .columns(['org_id', 'last_activity_at', 'id'])
      .execute();
    await db.schema
      .createIndex('messages_to')
      .on('messages')
      .columns(['org_id', 'to_index', 'id'])
      .execute();
    await db.schema
      .createIndex('inbound_messages_from')
      .on('inbound_messages')
      .columns(['org_id', 'from_index', 'id'])
      .execute();
    await db.schema
      .createIndex('secure_messages_to')
      .on('secure_messages')
      .columns(['org_id', 'to_index', 'id'])
      .execute();
    await db.schema
      .createTable('conversation_backfills')
      .addColumn('org_id', 'text', (c) => c.notNull().references('organisations.id'))
      .addColumn('done_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('conversation_backfills_pk', ['org_id'])
      .execute();
  },
};

/**
 * The inbox's "assigned to me" view, newest activity first: an index over assigned
 * conversations only, so the many unassigned ones cost nothing when a text moves them on.
 */
const m0028: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createIndex('conversations_assignee')
      .on('conversations')
      .columns(['org_id', 'assignee_id', 'last_activity_at', 'id'])
      .where(sql.ref('assignee_id'), 'is not', null)
      .execute();
  },
};

export const migrations: Record<string, Migration> = {
  '0001_foundation': m0001,
  '0002_identity': m0002,
  '0003_key_lifecycle': m0003,
  '0004_audit_checkpoints': m0004,
  '0005_consent': m0005,
  '0006_quiet_hours_caps': m0006,
  '0007_secure_messages': m0007,
  '0008_templates': m0008,
  '0009_guard_settings': m0009,
  '0010_sender_carriers': m0010,
  '0011_reminders': m0011,
  '0012_retention_risk': m0012,
  '0013_policy_acks': m0013,
  '0014_carrier_deletions': m0014,
  '0015_carrier_events': m0015,
  '0021_risk_campaigns': m0021,
  '0022_fhir_poll_cursors': m0022,
  '0023_reminder_plan_unique': m0023,
  '0024_sender_pools': m0024,
  '0016_conversations': m0016,
  '0027_conversation_indexes': m0027,
  '0026_settings': m0026,
  '0028_conversation_assignee': m0028,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: () => Promise.resolve(migrations),
};
