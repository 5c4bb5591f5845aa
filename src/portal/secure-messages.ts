/**
 * @module portal/secure-messages
 * Secure messages: content kept encrypted behind a link, and the patient's side of it —
 * verification by date of birth or a texted code, short verified sessions, views, replies,
 * locking after too many failures, expiry and revocation. Owns `secure_messages`,
 * `secure_message_codes`, `secure_message_sessions` and `secure_message_replies`.
 *
 * Texts (the neutral notice with the link, and one-time codes) go through messaging's
 * normal accept path, so consent, quiet hours and caps apply to them like any other text.
 */
import type { Selectable } from 'kysely';
import type { Db, Store } from '../store/index.js';
import type { SecureMessagesTable } from '../store/schema.js';
import { appendAudit, type Actor, type AuditEntry } from '../audit/index.js';
import { blindIndex, decrypt, encrypt, rowAad, sha256Hex, type Keyring } from '../crypto/index.js';
import { AppError } from '../errors/index.js';
import type { SecureContentAccess } from '../identity/index.js';
import { newId } from '../ids/index.js';
import { normalisePhone, type PhonePolicy } from '../contacts/index.js';
import type { KeyringService, Organisations } from '../orgs/index.js';
import { PROGRAMS, type MessageView, type Messaging, type Program } from '../messaging/index.js';
import { enqueueWebhooks, type OutboxEvent } from '../webhooks/index.js';
import { scan } from '../content-guard/index.js';
import {
  csrfFor,
  dobFromParts,
  hashToken,
  isLinkToken,
  newCode,
  newLinkToken,
  newSessionToken,
  normaliseCode,
  parseDob,
  sameSecret,
} from './tokens.js';

export const VERIFY_METHODS = ['dob', 'code'] as const;
export type VerifyMethod = (typeof VERIFY_METHODS)[number];

export const SECURE_STATUSES = [
  'pending',
  'active',
  'read',
  'expired',
  'locked',
  'revoked',
  'canceled',
] as const;
export type SecureStatus = (typeof SECURE_STATUSES)[number];

/** Failed verifications (date of birth or code) after which a link locks for good. */
export const MAX_FAILED_VERIFICATIONS = 5;
/** A texted code works for 10 minutes and for 3 guesses (NIST SP 800-63B 5.1.3.2). */
export const CODE_TTL_MS = 10 * 60_000;
export const CODE_MAX_ATTEMPTS = 3;
/** At most one code a minute, and 5 an hour, per link: codes cost money and annoy. */
export const CODE_MIN_INTERVAL_MS = 60_000;
export const CODES_PER_HOUR = 5;
/** A verified session lasts 15 minutes (the automatic logoff of 164.312(a)(2)(iii)). */
export const SESSION_TTL_MS = 15 * 60_000;
export const MAX_BODY_CHARS = 20_000;
export const MAX_REPLY_CHARS = 2_000;
export const MAX_EXPIRES_HOURS = 24 * 90;

export interface SecureMessageInput {
  to: string;
  body: string;
  program: Program;
  verify: VerifyMethod;
  /** `YYYY-MM-DD`; required for `verify: 'dob'`. */
  dob?: string | undefined;
  /** Hours until the link stops working (default: the server's TIDINGS_SECURE_LINK_TTL_HOURS). */
  expiresInHours?: number | undefined;
  /** The content closes once the first verified session that opened it ends. */
  expireAfterView?: boolean | undefined;
  /** Sender number or id for the notice; the default sender if absent. */
  from?: string | undefined;
  /** Idempotency-Key for the notice text (see messaging). */
  idempotencyKey?: string | undefined;
  /** The hash the Idempotency-Key stays bound to (a send the guard diverted keeps its own). */
  requestHash?: string | undefined;
}

/**
 * A secure message built and encrypted but not stored: `noticeBody` is the neutral text to
 * send (it carries the link), `recordSecureMessageInTx` stores it.
 */
export interface PreparedSecureMessage {
  readonly id: string;
  readonly orgId: string;
  readonly actor: Actor;
  /** The recipient, normalised to E.164. */
  readonly to: string;
  readonly program: Program;
  /** The neutral notice SMS: the organisation's name and the link, nothing else. */
  readonly noticeBody: string;
  /** The link, `<PUBLIC_URL>/s/<token>` (appears only in the notice). */
  readonly link: string;
  readonly row: Selectable<SecureMessagesTable>;
}

export interface SecureMessageView {
  id: string;
  status: SecureStatus;
  program: Program;
  verify: VerifyMethod;
  expiresAt: string;
  expireAfterView: boolean;
  firstViewedAt: string | null;
  revokedAt: string | null;
  lockedAt: string | null;
  failedAttempts: number;
  noticeMessageId: string | null;
  replies: number;
  createdAt: string;
  /** Only for callers that may read PHI. */
  to?: string;
  body?: string;
}

export interface ReplyView {
  id: string;
  body: string;
  createdAt: string;
}

/** What the portal shows for a link. */
export type PortalState =
  | { kind: 'unavailable' }
  | {
      kind: 'verify';
      orgName: string;
      method: VerifyMethod;
      /** A code was texted in the last CODE_TTL_MS. */
      codeSent: boolean;
    }
  | {
      kind: 'message';
      orgName: string;
      body: string;
      replies: string[];
      csrf: string;
      secureMessageId: string;
    };

export type VerifyResult =
  | { kind: 'unavailable' }
  /** The input was not a date or a 6-digit code: nothing counted. */
  | { kind: 'malformed' }
  | { kind: 'failed'; attemptsLeft: number }
  | { kind: 'verified'; sessionToken: string; maxAgeSeconds: number };

export type SendCodeResult =
  | { kind: 'unavailable' }
  | { kind: 'sent' }
  | { kind: 'throttled' }
  /** The text could not go now (opted out, quiet hours, caps …): nothing was sent. */
  | { kind: 'not_sent' };

export type ReplyResult =
  | { kind: 'unavailable' }
  | { kind: 'unverified' }
  | { kind: 'csrf_failed' }
  | { kind: 'invalid' }
  | { kind: 'replied'; replyId: string };

export interface PortalOptions {
  phone: PhonePolicy;
  /** `PUBLIC_URL`, without a trailing slash: links are `<publicUrl>/s/<token>`. */
  publicUrl: string;
  /** Default link lifetime (TIDINGS_SECURE_LINK_TTL_HOURS). */
  linkTtlHours: number;
  /** The clock for expiry, codes and sessions (tests move it). */
  now?: () => number;
  /**
   * Runs inside the transaction that stores a portal reply: the conversations module's
   * last-activity upsert (`to` is the patient's number, `toIndex` its blind index).
   */
  onReply?: (
    tx: Db,
    e: { orgId: string; toIndex: string; to: string; at: number; keyring: Keyring },
  ) => Promise<void>;
}

type Row = Selectable<SecureMessagesTable>;

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(Number(ms)).toISOString();
}

/**
 * How a text from the portal names the organisation: by its name, or null (say "your care
 * team") when the name itself would disclose something about the recipient ("Valley Oncology").
 */
export function senderLabel(orgName: string): string | null {
  const name = orgName.trim();
  return name.length > 0 && scan(name).verdict === 'allow' ? name : null;
}

/**
 * The neutral notice: who it is from, the link, and how to opt out. It stays within one
 * 160-character segment with the STOP instruction, the conditions of the FCC's healthcare
 * exemption for care texts to numbers with no recorded opt-in (docs/consent.md); a name that
 * would not fit gives way to "your care team".
 */
export function noticeText(orgName: string, link: string): string {
  const text = (from: string) =>
    `You have a new message from ${from}. View it securely: ${link} Reply STOP to opt out.`;
  const named = senderLabel(orgName);
  const withName = named === null ? null : text(named);
  return withName !== null && withName.length <= 160 ? withName : text('your care team');
}

/** The patient, as an audit actor: by the blind index of their number, never the number. */
function patientActor(row: Pick<Row, 'to_index'>): Actor {
  return { type: 'patient', id: `phone:${row.to_index.slice(0, 16)}` };
}

export class SecureMessages {
  private readonly now: () => number;

  constructor(
    private readonly store: Store,
    private readonly keyrings: KeyringService,
    private readonly orgs: Organisations,
    private readonly messaging: Messaging,
    private readonly opts: PortalOptions,
  ) {
    this.now = opts.now ?? Date.now;
  }

  // ---------------------------------------------------------------------------------------
  // Staff and integrators

  /**
   * Validates and encrypts a secure message and builds its notice, touching nothing: bad
   * input throws a coded AppError. Runs outside any transaction (it reads the keyring, the
   * organisation and its senders).
   */
  async prepareSecureMessage(
    orgId: string,
    actor: Actor,
    input: SecureMessageInput,
  ): Promise<PreparedSecureMessage> {
    if (!(PROGRAMS as readonly string[]).includes(input.program)) {
      throw new AppError('validation_failed', `program must be one of ${PROGRAMS.join(', ')}.`);
    }
    if (typeof input.body !== 'string' || input.body.trim().length === 0) {
      throw new AppError('validation_failed', 'body must be a non-empty string.');
    }
    if (input.body.length > MAX_BODY_CHARS) {
      throw new AppError(
        'validation_failed',
        `body may have at most ${MAX_BODY_CHARS} characters.`,
      );
    }
    if (!(VERIFY_METHODS as readonly string[]).includes(input.verify)) {
      throw new AppError('validation_failed', 'verify must be dob or code.');
    }
    const now = this.now();
    let dob: string | null = null;
    if (input.verify === 'dob') {
      dob = input.dob === undefined ? null : parseDob(input.dob, now);
      if (dob === null) throw new AppError('date_of_birth_required');
    } else if (input.dob !== undefined) {
      throw new AppError('validation_failed', 'dob is only used with verify: dob.');
    }
    const hours = input.expiresInHours ?? this.opts.linkTtlHours;
    if (!Number.isInteger(hours) || hours < 1 || hours > MAX_EXPIRES_HOURS) {
      throw new AppError(
        'validation_failed',
        `expiresInHours must be a whole number from 1 to ${MAX_EXPIRES_HOURS}.`,
      );
    }
    const to = normalisePhone(input.to, this.opts.phone);
    await this.orgs.resolveSender(orgId, input.from);
    const org = await this.orgs.get(orgId);
    if (!org) throw new AppError('not_found', 'No such organisation.');
    const keyring = await this.keyrings.get(orgId);
    const id = newId('sec');
    const token = newLinkToken();
    const link = `${this.opts.publicUrl}/s/${token}`;
    const aad = (col: string) => rowAad(orgId, 'secure_messages', id, col);
    const row: Row = {
      org_id: orgId,
      id,
      status: 'pending',
      program: input.program,
      to_enc: encrypt(keyring, aad('to'), to),
      to_index: blindIndex(keyring, to),
      body_enc: encrypt(keyring, aad('body'), input.body),
      token_hash: hashToken(token),
      verify_method: input.verify,
      dob_enc: dob === null ? null : encrypt(keyring, aad('dob'), dob),
      failed_attempts: 0,
      locked: 0,
      locked_at: null,
      expires_at: now + hours * 3600_000,
      expire_after_view: input.expireAfterView ? 1 : 0,
      first_viewed_at: null,
      revoked_at: null,
      notice_message_id: null,
      created_by_type: actor.type,
      created_by_id: actor.id,
      created_at: now,
      updated_at: now,
    };
    return {
      id,
      orgId,
      actor,
      to,
      program: input.program,
      noticeBody: noticeText(org.name, link),
      link,
      row,
    };
  }

  /**
   * Stores a prepared secure message, active, with its audit event, inside the caller's
   * transaction — the send pipeline calls this in the transaction that stores the notice
   * message `noticeMessageId`. Uses only `tx` (safe on SQLite's single connection).
   */
  async recordSecureMessageInTx(
    tx: Db,
    prepared: PreparedSecureMessage,
    noticeMessageId: string | null,
    status: 'active' | 'pending' = 'active',
  ): Promise<void> {
    const now = this.now();
    await tx
      .insertInto('secure_messages')
      .values({ ...prepared.row, status, notice_message_id: noticeMessageId, updated_at: now })
      .execute();
    await appendAudit(tx, this.store.dialect, [
      {
        orgId: prepared.orgId,
        actor: prepared.actor,
        action: 'secure_message.created',
        targetType: 'secure_message',
        targetId: prepared.id,
        details: {
          program: prepared.program,
          verify: prepared.row.verify_method,
          expiresAt: prepared.row.expires_at,
          expireAfterView: prepared.row.expire_after_view === 1,
          noticeMessageId,
        },
        subjectIndex: prepared.row.to_index,
      },
    ]);
  }

  /**
   * Creates a secure message and sends its neutral notice through the send pipeline
   * (consent, quiet hours and caps apply). The secure message is stored first, `pending`,
   * so a link is never texted that points nowhere; it becomes `active` once the notice is
   * accepted. A refused notice (opted out …) cancels it (audited) and the refusal is thrown.
   * With an Idempotency-Key, a repeated request (same key, same input) answers with the
   * first request's secure message and notice, `replayed: true`.
   */
  async createSecureMessage(
    orgId: string,
    actor: Actor,
    input: SecureMessageInput,
  ): Promise<{ secureMessage: SecureMessageView; notice: MessageView; replayed: boolean }> {
    const prepared = await this.prepareSecureMessage(orgId, actor, input);
    await this.store.transaction((tx) =>
      this.recordSecureMessageInTx(tx, prepared, null, 'pending'),
    );
    let notice: MessageView;
    let replayed: boolean;
    // The key is bound to the request as made, not to the notice (whose link is new each time).
    const requestHash =
      input.requestHash ??
      (input.idempotencyKey === undefined
        ? undefined
        : sha256Hex(
            JSON.stringify([
              'secure',
              prepared.to,
              input.body,
              input.program,
              input.verify,
              input.dob ?? null,
              input.expiresInHours ?? null,
              input.expireAfterView ?? false,
              input.from ?? null,
            ]),
          ));
    try {
      ({ message: notice, replayed } = await this.messaging.accept(
        orgId,
        actor,
        {
          to: prepared.to,
          body: prepared.noticeBody,
          program: prepared.program,
          from: input.from,
          idempotencyKey: input.idempotencyKey,
        },
        // Built safe here: the link and a name the guard allows.
        { guard: 'checked', ...(requestHash ? { requestHash } : {}) },
      ));
    } catch (e) {
      await this.cancelPending(prepared, e instanceof AppError ? e.code : 'internal_error');
      throw e;
    }
    if (replayed) {
      // An earlier request with this key made the notice: answer with its secure message.
      await this.cancelPending(prepared, 'idempotent_replay');
      const original = await this.store.db
        .selectFrom('secure_messages')
        .select('id')
        .where('org_id', '=', orgId)
        .where('notice_message_id', '=', notice.id)
        .executeTakeFirst();
      if (!original) throw new AppError('idempotency_key_reused');
      return { secureMessage: await this.view(orgId, original.id, false), notice, replayed };
    }
    await this.store.db
      .updateTable('secure_messages')
      .set({ status: 'active', notice_message_id: notice.id, updated_at: this.now() })
      .where('org_id', '=', orgId)
      .where('id', '=', prepared.id)
      .execute();
    const view = await this.view(orgId, prepared.id, false);
    return { secureMessage: view, notice, replayed: false };
  }

  /** A pending secure message whose notice was refused (or replayed): canceled, audited. */
  private async cancelPending(prepared: PreparedSecureMessage, code: string): Promise<void> {
    const { orgId, actor } = prepared;
    await this.store.transaction(async (tx) => {
      await tx
        .updateTable('secure_messages')
        .set({ status: 'canceled', updated_at: this.now() })
        .where('org_id', '=', orgId)
        .where('id', '=', prepared.id)
        .execute();
      await appendAudit(tx, this.store.dialect, [
        {
          orgId,
          actor,
          action: 'secure_message.notice_refused',
          targetType: 'secure_message',
          targetId: prepared.id,
          details: { code },
          subjectIndex: prepared.row.to_index,
        },
      ]);
    });
  }

  /** One secure message; with the body and recipient only when `withBody`. Audited. */
  async getSecureMessage(
    orgId: string,
    id: string,
    actor: Actor,
    access: SecureContentAccess,
  ): Promise<SecureMessageView> {
    const withBody = access.content;
    const view = await this.view(orgId, id, withBody);
    const row = await this.row(orgId, id);
    await this.store.transaction((tx) =>
      appendAudit(tx, this.store.dialect, [
        {
          orgId,
          actor,
          action: 'secure_message.read',
          targetType: 'secure_message',
          targetId: id,
          details: {
            withBody,
            ...(access.breakGlassGrantId ? { breakGlass: access.breakGlassGrantId } : {}),
          },
          subjectIndex: row?.to_index,
        },
      ]),
    );
    return view;
  }

  /** Revokes a secure message: the link stops working at once and open sessions end. */
  async revokeSecureMessage(orgId: string, id: string, actor: Actor): Promise<SecureMessageView> {
    const now = this.now();
    const noticeId = await this.store.transaction(async (tx) => {
      const row = await tx
        .selectFrom('secure_messages')
        .selectAll()
        .where('org_id', '=', orgId)
        .where('id', '=', id)
        .executeTakeFirst();
      if (!row) throw new AppError('secure_message_not_found');
      const status = this.statusOf(row, now);
      if (status !== 'active' && status !== 'read' && status !== 'pending') {
        throw new AppError('secure_message_closed');
      }
      await tx
        .updateTable('secure_messages')
        .set({ status: 'revoked', revoked_at: now, updated_at: now })
        .where('org_id', '=', orgId)
        .where('id', '=', id)
        .execute();
      await tx
        .deleteFrom('secure_message_sessions')
        .where('org_id', '=', orgId)
        .where('secure_message_id', '=', id)
        .execute();
      await appendAudit(tx, this.store.dialect, [
        {
          orgId,
          actor,
          action: 'secure_message.revoked',
          targetType: 'secure_message',
          targetId: id,
          subjectIndex: row.to_index,
        },
      ]);
      return row.notice_message_id;
    });
    // A notice still waiting to go is canceled too; one already claimed or sent stays.
    if (noticeId) {
      await this.messaging.cancel(orgId, noticeId, actor).catch((e: unknown) => {
        if (!(e instanceof AppError)) throw e;
      });
    }
    return this.view(orgId, id, false);
  }

  /** The patient's replies, oldest first. Audited. */
  async listReplies(
    orgId: string,
    id: string,
    actor: Actor,
    access: SecureContentAccess,
  ): Promise<ReplyView[]> {
    const row = await this.row(orgId, id);
    if (!row) throw new AppError('secure_message_not_found');
    // Admin and staff reach this route, but see replies only with emergency access; that a
    // secure message exists they may know (they see its status).
    if (!access.content) throw new AppError('forbidden');
    const keyring = await this.keyrings.get(orgId);
    const replies = await this.replyRows(orgId, id);
    await this.store.transaction((tx) =>
      appendAudit(tx, this.store.dialect, [
        {
          orgId,
          actor,
          action: 'secure_message.replies_read',
          targetType: 'secure_message',
          targetId: id,
          details: {
            count: replies.length,
            ...(access.breakGlassGrantId ? { breakGlass: access.breakGlassGrantId } : {}),
          },
          subjectIndex: row.to_index,
        },
      ]),
    );
    return replies.map((r) => ({
      id: r.id,
      body: decrypt(keyring, rowAad(orgId, 'secure_message_replies', r.id, 'body'), r.body_enc),
      createdAt: new Date(Number(r.created_at)).toISOString(),
    }));
  }

  // ---------------------------------------------------------------------------------------
  // The patient, through the portal (identified by the link token only)

  /**
   * What the portal shows for a link: the neutral "not available" page, the verification
   * form, or — with a live verified session — the message (an audited view; the first one
   * marks the message and its notice read and fires `secure_message.read`).
   */
  async open(token: string, sessionToken: string | undefined): Promise<PortalState> {
    const row = await this.liveRow(token);
    if (!row) return { kind: 'unavailable' };
    const orgName = (await this.orgs.get(row.org_id))?.name ?? '';
    const session = sessionToken ? await this.session(row, sessionToken) : null;
    if (!session) {
      const codeSent =
        row.verify_method === 'code' && (await this.lastCodeAt(row)) > this.now() - CODE_TTL_MS;
      return {
        kind: 'verify',
        // Before verification the page says no more than the notice did.
        orgName: senderLabel(orgName) ?? 'your care team',
        method: row.verify_method as VerifyMethod,
        codeSent,
      };
    }
    const keyring = await this.keyrings.get(row.org_id);
    const body = decrypt(
      keyring,
      rowAad(row.org_id, 'secure_messages', row.id, 'body'),
      row.body_enc,
    );
    await this.recordView(row);
    const replies = (await this.replyRows(row.org_id, row.id)).map((r) =>
      decrypt(keyring, rowAad(row.org_id, 'secure_message_replies', r.id, 'body'), r.body_enc),
    );
    return {
      kind: 'message',
      orgName,
      body,
      replies,
      csrf: csrfFor(sessionToken!),
      secureMessageId: row.id,
    };
  }

  /**
   * Checks a date of birth (`dob` as month, day, year fields) or a one-time code. A wrong
   * answer counts toward the lock; the fifth locks the link (audited, `secure_message.locked`
   * webhook). A right one starts a verified session.
   */
  async verify(
    token: string,
    answer: { month?: string; day?: string; year?: string; code?: string },
  ): Promise<VerifyResult> {
    const row = await this.liveRow(token);
    if (!row) return { kind: 'unavailable' };
    const now = this.now();
    const keyring = await this.keyrings.get(row.org_id);
    let ok: boolean;
    let codeId: string | null = null;
    if (row.verify_method === 'dob') {
      const given = dobFromParts(answer.month ?? '', answer.day ?? '', answer.year ?? '', now);
      if (given === null) return { kind: 'malformed' };
      const stored = row.dob_enc
        ? decrypt(keyring, rowAad(row.org_id, 'secure_messages', row.id, 'dob'), row.dob_enc)
        : null;
      ok = stored !== null && sameSecret(given, stored);
    } else {
      const code = normaliseCode(answer.code ?? '');
      if (code === null) return { kind: 'malformed' };
      const live = await this.store.db
        .selectFrom('secure_message_codes')
        .select(['id', 'code_hash'])
        .where('org_id', '=', row.org_id)
        .where('secure_message_id', '=', row.id)
        .where('used_at', 'is', null)
        .where('expires_at', '>', now)
        .where('attempts', '<', CODE_MAX_ATTEMPTS)
        .orderBy('id', 'desc')
        .executeTakeFirst();
      ok = live !== undefined && sameSecret(this.codeHash(keyring, row.id, code), live.code_hash);
      codeId = live?.id ?? null;
    }
    if (ok) {
      const sessionToken = newSessionToken();
      await this.store.transaction(async (tx) => {
        if (codeId) {
          await tx
            .updateTable('secure_message_codes')
            .set({ used_at: now })
            .where('org_id', '=', row.org_id)
            .where('id', '=', codeId)
            .execute();
        }
        await tx
          .updateTable('secure_messages')
          .set({ failed_attempts: 0, updated_at: now })
          .where('org_id', '=', row.org_id)
          .where('id', '=', row.id)
          .execute();
        await tx
          .insertInto('secure_message_sessions')
          .values({
            org_id: row.org_id,
            id: newId('pss'),
            secure_message_id: row.id,
            token_hash: hashToken(sessionToken),
            csrf_hash: hashToken(csrfFor(sessionToken)),
            expires_at: now + SESSION_TTL_MS,
            created_at: now,
          })
          .execute();
        await appendAudit(tx, this.store.dialect, [
          {
            orgId: row.org_id,
            actor: patientActor(row),
            action: 'secure_message.verified',
            targetType: 'secure_message',
            targetId: row.id,
            details: { method: row.verify_method },
            subjectIndex: row.to_index,
          },
        ]);
      });
      return { kind: 'verified', sessionToken, maxAgeSeconds: SESSION_TTL_MS / 1000 };
    }
    return this.recordFailure(row, codeId, now);
  }

  /** Texts a one-time code to the number the link was sent to (for `verify: 'code'`). */
  async sendCode(token: string): Promise<SendCodeResult> {
    const row = await this.liveRow(token);
    if (!row || row.verify_method !== 'code') return { kind: 'unavailable' };
    const now = this.now();
    const recent = await this.store.db
      .selectFrom('secure_message_codes')
      .select(['created_at'])
      .where('org_id', '=', row.org_id)
      .where('secure_message_id', '=', row.id)
      .where('created_at', '>', now - 3600_000)
      .execute();
    const last = Math.max(0, ...recent.map((r) => Number(r.created_at)));
    if (recent.length >= CODES_PER_HOUR || last > now - CODE_MIN_INTERVAL_MS) {
      return { kind: 'throttled' };
    }
    const keyring = await this.keyrings.get(row.org_id);
    const org = await this.orgs.get(row.org_id);
    const to = decrypt(keyring, rowAad(row.org_id, 'secure_messages', row.id, 'to'), row.to_enc);
    const code = newCode();
    const actor = patientActor(row);
    let sent: MessageView;
    try {
      sent = (
        await this.messaging.accept(
          row.org_id,
          actor,
          {
            to,
            body: `Your ${senderLabel(org?.name ?? '') ?? 'care team'} code is ${code}. It expires in 10 minutes. Don't share it.`,
            program: row.program as Program,
          },
          { guard: 'checked', kind: 'verification_code' },
        )
      ).message;
    } catch (e) {
      if (e instanceof AppError) return { kind: 'not_sent' };
      throw e;
    }
    if (sent.heldBy !== null) {
      // Held for later by quiet hours or a cap: a code that arrives hours later is useless.
      await this.messaging.cancel(row.org_id, sent.id, actor).catch(() => undefined);
      return { kind: 'not_sent' };
    }
    await this.store.transaction(async (tx) => {
      await tx
        .insertInto('secure_message_codes')
        .values({
          org_id: row.org_id,
          id: newId('otp'),
          secure_message_id: row.id,
          code_hash: this.codeHash(keyring, row.id, code),
          attempts: 0,
          expires_at: now + CODE_TTL_MS,
          used_at: null,
          created_at: now,
        })
        .execute();
      await appendAudit(tx, this.store.dialect, [
        {
          orgId: row.org_id,
          actor,
          action: 'secure_message.code_sent',
          targetType: 'secure_message',
          targetId: row.id,
          details: { messageId: sent.id },
          subjectIndex: row.to_index,
        },
      ]);
    });
    return { kind: 'sent' };
  }

  /** Stores the patient's reply (encrypted), audited, with a `secure_message.replied` webhook. */
  async reply(
    token: string,
    sessionToken: string | undefined,
    csrf: string,
    text: string,
  ): Promise<ReplyResult> {
    const row = await this.liveRow(token);
    if (!row) return { kind: 'unavailable' };
    const session = sessionToken ? await this.session(row, sessionToken) : null;
    if (!session) return { kind: 'unverified' };
    if (!sameSecret(hashToken(csrf), session.csrf_hash)) return { kind: 'csrf_failed' };
    const body = text.trim();
    if (body.length === 0 || body.length > MAX_REPLY_CHARS) return { kind: 'invalid' };
    const keyring = await this.keyrings.get(row.org_id);
    const id = newId('srp');
    const now = this.now();
    await this.store.transaction(async (tx) => {
      await tx
        .insertInto('secure_message_replies')
        .values({
          org_id: row.org_id,
          id,
          secure_message_id: row.id,
          body_enc: encrypt(
            keyring,
            rowAad(row.org_id, 'secure_message_replies', id, 'body'),
            body,
          ),
          created_at: now,
        })
        .execute();
      await appendAudit(tx, this.store.dialect, [
        {
          orgId: row.org_id,
          actor: patientActor(row),
          action: 'secure_message.replied',
          targetType: 'secure_message',
          targetId: row.id,
          details: { replyId: id },
          subjectIndex: row.to_index,
        },
      ]);
      await this.webhook(tx, row.org_id, 'secure_message.replied', {
        secureMessageId: row.id,
        replyId: id,
      });
      await this.opts.onReply?.(tx, {
        orgId: row.org_id,
        toIndex: row.to_index,
        to: decrypt(keyring, rowAad(row.org_id, 'secure_messages', row.id, 'to'), row.to_enc),
        at: now,
        keyring,
      });
    });
    return { kind: 'replied', replyId: id };
  }

  // ---------------------------------------------------------------------------------------

  private async row(orgId: string, id: string): Promise<Row | undefined> {
    return this.store.db
      .selectFrom('secure_messages')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('id', '=', id)
      .executeTakeFirst();
  }

  private replyRows(orgId: string, id: string) {
    return this.store.db
      .selectFrom('secure_message_replies')
      .select(['id', 'body_enc', 'created_at'])
      .where('org_id', '=', orgId)
      .where('secure_message_id', '=', id)
      .orderBy('id')
      .execute();
  }

  /** The status as callers see it: stored, or `expired` once the link's time has passed. */
  private statusOf(row: Row, now: number): SecureStatus {
    const s = row.status as SecureStatus;
    if ((s === 'active' || s === 'read') && now >= Number(row.expires_at)) return 'expired';
    return s;
  }

  private async view(orgId: string, id: string, withBody: boolean): Promise<SecureMessageView> {
    const row = await this.row(orgId, id);
    if (!row) throw new AppError('secure_message_not_found');
    const replies = await this.store.db
      .selectFrom('secure_message_replies')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('org_id', '=', orgId)
      .where('secure_message_id', '=', id)
      .executeTakeFirst();
    const v: SecureMessageView = {
      id: row.id,
      status: this.statusOf(row, this.now()),
      program: row.program as Program,
      verify: row.verify_method as VerifyMethod,
      expiresAt: new Date(Number(row.expires_at)).toISOString(),
      expireAfterView: row.expire_after_view === 1,
      firstViewedAt: iso(row.first_viewed_at),
      revokedAt: iso(row.revoked_at),
      lockedAt: iso(row.locked_at),
      failedAttempts: Number(row.failed_attempts),
      noticeMessageId: row.notice_message_id,
      replies: Number(replies?.n ?? 0),
      createdAt: new Date(Number(row.created_at)).toISOString(),
    };
    if (withBody) {
      const keyring = await this.keyrings.get(orgId);
      v.to = decrypt(keyring, rowAad(orgId, 'secure_messages', id, 'to'), row.to_enc);
      v.body = decrypt(keyring, rowAad(orgId, 'secure_messages', id, 'body'), row.body_enc);
    }
    return v;
  }

  /** The link's row when it may be used now: known, active or read, not expired. */
  private async liveRow(token: string): Promise<Row | null> {
    if (!isLinkToken(token)) return null;
    const row = await this.store.db
      .selectFrom('secure_messages')
      .selectAll()
      .where('token_hash', '=', hashToken(token))
      .executeTakeFirst();
    if (!row) return null;
    const s = this.statusOf(row, this.now());
    return s === 'active' || s === 'read' ? row : null;
  }

  private async session(row: Row, sessionToken: string) {
    const s = await this.store.db
      .selectFrom('secure_message_sessions')
      .select(['id', 'csrf_hash', 'expires_at'])
      .where('token_hash', '=', hashToken(sessionToken))
      .where('org_id', '=', row.org_id)
      .where('secure_message_id', '=', row.id)
      .executeTakeFirst();
    return s && Number(s.expires_at) > this.now() ? s : null;
  }

  private async lastCodeAt(row: Row): Promise<number> {
    const r = await this.store.db
      .selectFrom('secure_message_codes')
      .select(['created_at'])
      .where('org_id', '=', row.org_id)
      .where('secure_message_id', '=', row.id)
      .orderBy('id', 'desc')
      .executeTakeFirst();
    return r ? Number(r.created_at) : 0;
  }

  /**
   * A code as stored: HMAC under the organisation's blind-index key, bound to the message.
   * Six digits are easy to enumerate, so a plain hash would not protect a leaked table.
   */
  private codeHash(keyring: Keyring, secureMessageId: string, code: string): string {
    return blindIndex(keyring, `portal-code|${secureMessageId}|${code}`);
  }

  private async recordFailure(row: Row, codeId: string | null, now: number): Promise<VerifyResult> {
    return this.store.transaction(async (tx) => {
      if (codeId) {
        await tx
          .updateTable('secure_message_codes')
          .set((eb) => ({ attempts: eb('attempts', '+', 1) }))
          .where('org_id', '=', row.org_id)
          .where('id', '=', codeId)
          .execute();
      }
      await tx
        .updateTable('secure_messages')
        .set((eb) => ({ failed_attempts: eb('failed_attempts', '+', 1), updated_at: now }))
        .where('org_id', '=', row.org_id)
        .where('id', '=', row.id)
        .execute();
      const after = await tx
        .selectFrom('secure_messages')
        .select(['failed_attempts', 'locked'])
        .where('org_id', '=', row.org_id)
        .where('id', '=', row.id)
        .executeTakeFirstOrThrow();
      const failed = Number(after.failed_attempts);
      const audits: AuditEntry[] = [
        {
          orgId: row.org_id,
          actor: patientActor(row),
          action: 'secure_message.verify_failed',
          targetType: 'secure_message',
          targetId: row.id,
          details: { method: row.verify_method, failedAttempts: failed },
          subjectIndex: row.to_index,
        },
      ];
      const lockNow = failed >= MAX_FAILED_VERIFICATIONS && Number(after.locked) === 0;
      if (lockNow) {
        await tx
          .updateTable('secure_messages')
          .set({ locked: 1, locked_at: now, status: 'locked', updated_at: now })
          .where('org_id', '=', row.org_id)
          .where('id', '=', row.id)
          .execute();
        await tx
          .deleteFrom('secure_message_sessions')
          .where('org_id', '=', row.org_id)
          .where('secure_message_id', '=', row.id)
          .execute();
        audits.push({
          orgId: row.org_id,
          actor: patientActor(row),
          action: 'secure_message.locked',
          targetType: 'secure_message',
          targetId: row.id,
          details: { failedAttempts: failed },
          subjectIndex: row.to_index,
        });
        await this.webhook(tx, row.org_id, 'secure_message.locked', {
          secureMessageId: row.id,
          failedAttempts: failed,
        });
      }
      await appendAudit(tx, this.store.dialect, audits);
      if (failed >= MAX_FAILED_VERIFICATIONS) return { kind: 'unavailable' } as const;
      return { kind: 'failed', attemptsLeft: MAX_FAILED_VERIFICATIONS - failed } as const;
    });
  }

  /** Audits a patient's view; the first one also marks everything read. */
  private async recordView(row: Row): Promise<void> {
    const now = this.now();
    // The notice's status, read before the transaction (messaging reads on its own handle).
    const notice =
      row.first_viewed_at === null && row.notice_message_id
        ? await this.messaging.loadForDispatch(row.org_id, row.notice_message_id)
        : null;
    await this.store.transaction(async (tx) => {
      const first = await tx
        .updateTable('secure_messages')
        .set({
          first_viewed_at: now,
          status: 'read',
          updated_at: now,
          // Expire-after-view: the content stays open only for the session that first read it.
          ...(row.expire_after_view === 1
            ? { expires_at: Math.min(Number(row.expires_at), now + SESSION_TTL_MS) }
            : {}),
        })
        .where('org_id', '=', row.org_id)
        .where('id', '=', row.id)
        .where('first_viewed_at', 'is', null)
        .executeTakeFirst();
      const isFirst = Number(first.numUpdatedRows) > 0;
      await appendAudit(tx, this.store.dialect, [
        {
          orgId: row.org_id,
          actor: patientActor(row),
          action: 'secure_message.viewed',
          targetType: 'secure_message',
          targetId: row.id,
          details: { first: isFirst },
          subjectIndex: row.to_index,
        },
      ]);
      if (!isFirst) return;
      if (notice && (notice.status === 'sent' || notice.status === 'delivered')) {
        await this.messaging.setStatusInTx(tx, [
          { orgId: row.org_id, id: row.notice_message_id!, status: 'read' },
        ]);
      }
      await this.webhook(tx, row.org_id, 'secure_message.read', {
        secureMessageId: row.id,
        noticeMessageId: row.notice_message_id,
        at: new Date(now).toISOString(),
      });
    });
  }

  private async webhook(
    tx: Db,
    orgId: string,
    type: OutboxEvent['type'],
    payload: Record<string, unknown>,
  ): Promise<void> {
    if (await this.orgs.hasWebhook(orgId, tx)) {
      await enqueueWebhooks(tx, [{ orgId, type, payload }]);
    }
  }
}
