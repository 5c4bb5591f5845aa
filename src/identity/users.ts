/**
 * @module identity/users
 * The workforce: people of an organisation, each with one role, an argon2id password set
 * through a one-time link, and a TOTP second factor (RFC 6238) with single-use recovery
 * codes. Sign-in failures lock the account for a growing delay. Owns the `users` and
 * `recovery_codes` tables; sessions are in identity/sessions.
 */
import { randomBytes } from 'node:crypto';
import { generateSecret, generateURI, verifySync } from 'otplib';
import type { Selectable, Updateable } from 'kysely';
import type { Db, Store } from '../store/index.js';
import type { UsersTable } from '../store/schema.js';
import { decrypt, encrypt, rowAad, sha256Hex } from '../crypto/index.js';
import type { KeyringService } from '../orgs/keyrings.js';
import { appendAudit, type Actor, type AuditAction, type AuditEntry } from '../audit/index.js';
import { AppError } from '../errors/index.js';
import { newId } from '../ids/index.js';
import { ROLES, type Role } from './access.js';
import {
  burnVerification,
  checkPasswordPolicy,
  hashPassword,
  verifyPassword,
} from './passwords.js';

export const SETUP_LINK_TTL_MS = 72 * 3600_000;
export const RECOVERY_CODE_COUNT = 10;
/** Failed sign-ins allowed before the account starts to wait. */
export const LOCKOUT_THRESHOLD = 5;
const LOCKOUT_BASE_MS = 30_000;
const LOCKOUT_MAX_MS = 3600_000;

export interface UserView {
  id: string;
  orgId: string;
  email: string;
  role: Role;
  mfaEnrolled: boolean;
  passwordSet: boolean;
  disabled: boolean;
  createdAt: string;
}

type UserRow = Selectable<UsersTable>;

const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,190}\.[^\s@]{2,63}$/;

/**
 * Where a new user sets their password (the console's set-up page posts the token to
 * `POST /v1/auth/setup`). The token is in the fragment, so it never reaches server logs.
 */
export function setupLink(publicUrl: string, token: string): string {
  return `${publicUrl}/console/setup#token=${token}`;
}

export function normaliseEmail(email: string): string {
  const e = email.trim().toLowerCase();
  if (!EMAIL.test(e)) throw new AppError('validation_failed', 'That is not an e-mail address.');
  return e;
}

export function parseRole(role: string): Role {
  if (!(ROLES as readonly string[]).includes(role)) {
    throw new AppError('validation_failed', `The role must be one of: ${ROLES.join(', ')}.`);
  }
  return role as Role;
}

/** How long an account waits after `failures` failed attempts in a row. */
export function lockoutDelayMs(failures: number): number {
  if (failures < LOCKOUT_THRESHOLD) return 0;
  return Math.min(LOCKOUT_BASE_MS * 2 ** (failures - LOCKOUT_THRESHOLD), LOCKOUT_MAX_MS);
}

function view(r: UserRow): UserView {
  return {
    id: r.id,
    orgId: r.org_id,
    email: r.email,
    role: r.role as Role,
    mfaEnrolled: r.mfa_enrolled_at !== null,
    passwordSet: r.password_hash !== null,
    disabled: r.disabled_at !== null,
    createdAt: new Date(Number(r.created_at)).toISOString(),
  };
}

function recoveryCode(): string {
  // 10 characters of Crockford base32 (50 bits), shown as xxxxx-xxxxx.
  const alphabet = '0123456789abcdefghjkmnpqrstvwxyz';
  const bytes = randomBytes(10);
  const chars = [...bytes].map((b) => alphabet[b % 32]).join('');
  return `${chars.slice(0, 5)}-${chars.slice(5)}`;
}

function normaliseRecoveryCode(code: string): string {
  return code.trim().toLowerCase().replace(/[\s-]/g, '');
}

export class Users {
  constructor(
    private readonly store: Store,
    private readonly keyrings: KeyringService,
    private readonly issuer = 'Tidings',
  ) {}

  private async row(orgId: string, id: string, db: Db = this.store.db) {
    return db
      .selectFrom('users')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('id', '=', id)
      .executeTakeFirst();
  }

  /** Updates columns of one user row. */
  private async setFields(
    db: Db,
    orgId: string,
    id: string,
    fields: Updateable<UsersTable>,
  ): Promise<void> {
    await db
      .updateTable('users')
      .set(fields)
      .where('org_id', '=', orgId)
      .where('id', '=', id)
      .execute();
  }

  private async mustRow(orgId: string, id: string, db: Db = this.store.db): Promise<UserRow> {
    const r = await this.row(orgId, id, db);
    if (!r) throw new AppError('user_not_found');
    return r;
  }

  async get(orgId: string, id: string): Promise<UserView | null> {
    const r = await this.row(orgId, id);
    return r ? view(r) : null;
  }

  async list(orgId: string): Promise<UserView[]> {
    const rows = await this.store.db
      .selectFrom('users')
      .selectAll()
      .where('org_id', '=', orgId)
      .orderBy('id')
      .execute();
    return rows.map(view);
  }

  /** Creates a user without a password; the returned token goes in the one-time set-up link. */
  async create(
    orgId: string,
    email: string,
    role: string,
    actor: Actor,
    now = Date.now(),
  ): Promise<{ user: UserView; setupToken: string }> {
    const e = normaliseEmail(email);
    const r = parseRole(role);
    const id = newId('usr');
    const setupToken = randomBytes(32).toString('base64url');
    return this.store.transaction(async (tx) => {
      const taken = await tx
        .selectFrom('users')
        .select('id')
        .where('org_id', '=', orgId)
        .where('email', '=', e)
        .executeTakeFirst();
      if (taken) throw new AppError('email_taken');
      await tx
        .insertInto('users')
        .values({
          org_id: orgId,
          id,
          email: e,
          role: r,
          password_hash: null,
          setup_token_hash: sha256Hex(setupToken),
          setup_expires_at: now + SETUP_LINK_TTL_MS,
          totp_secret_enc: null,
          mfa_enrolled_at: null,
          totp_last_step: null,
          locked_until: null,
          created_at: now,
          updated_at: now,
          disabled_at: null,
        })
        .execute();
      await appendAudit(tx, this.store.dialect, [
        {
          orgId,
          actor,
          action: 'user.created',
          targetType: 'user',
          targetId: id,
          details: { role: r },
        },
      ]);
      return { user: view((await this.row(orgId, id, tx))!), setupToken };
    });
  }

  /** Issues a fresh set-up link (a forgotten password is reset this way, by an admin). */
  async resetSetupLink(orgId: string, id: string, actor: Actor, now = Date.now()) {
    const setupToken = randomBytes(32).toString('base64url');
    await this.store.transaction(async (tx) => {
      await this.mustRow(orgId, id, tx);
      await this.setFields(tx, orgId, id, {
        setup_token_hash: sha256Hex(setupToken),
        setup_expires_at: now + SETUP_LINK_TTL_MS,
        updated_at: now,
      });
      await appendAudit(tx, this.store.dialect, [
        { orgId, actor, action: 'user.setup_link_issued', targetType: 'user', targetId: id },
      ]);
    });
    return { setupToken };
  }

  /** Sets the password from a set-up link; the link then no longer works. */
  async completeSetup(token: string, password: string, now = Date.now()): Promise<UserView> {
    const hash = sha256Hex(token);
    const r = await this.store.db
      .selectFrom('users')
      .selectAll()
      .where('setup_token_hash', '=', hash)
      .executeTakeFirst();
    if (!r || r.disabled_at !== null || (r.setup_expires_at ?? 0) <= now) {
      throw new AppError('invalid_setup_token');
    }
    checkPasswordPolicy(password, r.email);
    const passwordHash = await hashPassword(password);
    return this.store.transaction(async (tx) => {
      const res = await tx
        .updateTable('users')
        .set({
          password_hash: passwordHash,
          setup_token_hash: null,
          setup_expires_at: null,
          failed_logins: 0,
          locked_until: null,
          updated_at: now,
        })
        .where('org_id', '=', r.org_id)
        .where('id', '=', r.id)
        .where('setup_token_hash', '=', hash)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) === 0) throw new AppError('invalid_setup_token');
      await appendAudit(tx, this.store.dialect, [
        {
          orgId: r.org_id,
          actor: { type: 'user', id: r.id },
          action: 'user.password_set',
          targetType: 'user',
          targetId: r.id,
        },
      ]);
      return view((await this.row(r.org_id, r.id, tx))!);
    });
  }

  /**
   * Checks an e-mail address and password. Every outcome is audited; failures count towards
   * the lockout. An unknown address answers like a wrong password, as slowly.
   */
  async checkPassword(
    email: string,
    password: string,
    orgId: string | undefined,
    now = Date.now(),
  ): Promise<UserView> {
    let e: string;
    try {
      e = normaliseEmail(email);
    } catch {
      await burnVerification(password);
      throw new AppError('invalid_credentials');
    }
    let q = this.store.db.selectFrom('users').selectAll().where('email', '=', e);
    if (orgId) q = q.where('org_id', '=', orgId);
    const rows = await q.limit(2).execute();
    if (rows.length > 1) throw new AppError('org_required');
    const r = rows[0];
    if (!r || r.password_hash === null || r.disabled_at !== null) {
      await burnVerification(password);
      if (r) await this.recordFailure(r, 'login.failed', now);
      throw new AppError('invalid_credentials');
    }
    if (r.locked_until !== null && r.locked_until > now) {
      await this.audit(r, 'login.locked_out');
      throw new AppError('account_locked');
    }
    if (!(await verifyPassword(r.password_hash, password))) {
      await this.recordFailure(r, 'login.failed', now);
      throw new AppError('invalid_credentials');
    }
    await this.clearFailures(r, now);
    return view(r);
  }

  /** Starts (or restarts) TOTP enrolment; returns the secret and its otpauth URI. */
  async startTotp(orgId: string, id: string): Promise<{ secret: string; otpauthUri: string }> {
    const r = await this.mustRow(orgId, id);
    if (r.mfa_enrolled_at !== null) throw new AppError('mfa_already_enrolled');
    const secret = generateSecret();
    const keyring = await this.keyrings.get(orgId);
    await this.store.transaction(async (tx) => {
      await this.setFields(tx, orgId, id, {
        totp_secret_enc: encrypt(keyring, rowAad(orgId, 'users', id, 'totp_secret'), secret),
        updated_at: Date.now(),
      });
      await this.audit(r, 'mfa.enrolment_started', tx);
    });
    return { secret, otpauthUri: generateURI({ issuer: this.issuer, label: r.email, secret }) };
  }

  /** Confirms enrolment with a first code; returns the recovery codes (shown once). */
  async confirmTotp(orgId: string, id: string, code: string, now = Date.now()): Promise<string[]> {
    const r = await this.mustRow(orgId, id);
    if (r.mfa_enrolled_at !== null) throw new AppError('mfa_already_enrolled');
    if (r.totp_secret_enc === null) throw new AppError('mfa_not_started');
    const step = await this.matchTotp(r, code, now);
    if (step === null) {
      await this.recordFailure(r, 'mfa.failed', now);
      throw new AppError('invalid_mfa_code');
    }
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, recoveryCode);
    await this.store.transaction(async (tx) => {
      await this.setFields(tx, orgId, id, {
        mfa_enrolled_at: now,
        totp_last_step: step,
        failed_logins: 0,
        updated_at: now,
      });
      await tx
        .deleteFrom('recovery_codes')
        .where('org_id', '=', orgId)
        .where('user_id', '=', id)
        .execute();
      await tx
        .insertInto('recovery_codes')
        .values(
          codes.map((c) => ({
            org_id: orgId,
            user_id: id,
            code_hash: sha256Hex(normaliseRecoveryCode(c)),
            used_at: null,
          })),
        )
        .execute();
      await this.audit(r, 'mfa.enrolled', tx);
    });
    return codes;
  }

  /**
   * Verifies a second factor: a TOTP code (never the same time step twice) or an unused
   * recovery code (then spent). Failures count towards the lockout.
   */
  async verifySecondFactor(
    orgId: string,
    id: string,
    input: { code?: string | undefined; recoveryCode?: string | undefined },
    now = Date.now(),
  ): Promise<void> {
    const r = await this.mustRow(orgId, id);
    if (r.mfa_enrolled_at === null) throw new AppError('mfa_not_started');
    if (r.locked_until !== null && r.locked_until > now) throw new AppError('account_locked');
    if (input.code !== undefined) {
      const step = await this.matchTotp(r, input.code, now);
      if (step !== null) {
        await this.store.transaction(async (tx) => {
          // Conditional on the last step, so two concurrent uses of one code cannot both win.
          const res = await tx
            .updateTable('users')
            .set({ totp_last_step: step, failed_logins: 0, locked_until: null })
            .where('org_id', '=', orgId)
            .where('id', '=', id)
            .where((eb) =>
              eb.or([eb('totp_last_step', 'is', null), eb('totp_last_step', '<', step)]),
            )
            .executeTakeFirst();
          if (Number(res.numUpdatedRows) === 0) throw new AppError('invalid_mfa_code');
          await this.audit(r, 'mfa.verified', tx, { method: 'totp' });
        });
        return;
      }
    } else if (input.recoveryCode !== undefined) {
      const hash = sha256Hex(normaliseRecoveryCode(input.recoveryCode));
      const spent = await this.store.transaction(async (tx) => {
        const res = await tx
          .updateTable('recovery_codes')
          .set({ used_at: now })
          .where('org_id', '=', orgId)
          .where('user_id', '=', id)
          .where('code_hash', '=', hash)
          .where('used_at', 'is', null)
          .executeTakeFirst();
        if (Number(res.numUpdatedRows) === 0) return false;
        await this.setFields(tx, orgId, id, { failed_logins: 0, locked_until: null });
        await this.audit(r, 'mfa.verified', tx, { method: 'recovery_code' });
        return true;
      });
      if (spent) return;
    }
    await this.recordFailure(r, 'mfa.failed', now);
    throw new AppError('invalid_mfa_code');
  }

  /** Recovery codes not yet used (a count; the codes themselves are stored only hashed). */
  async recoveryCodesLeft(orgId: string, id: string): Promise<number> {
    const r = await this.store.db
      .selectFrom('recovery_codes')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('org_id', '=', orgId)
      .where('user_id', '=', id)
      .where('used_at', 'is', null)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  /** Changes a role or disables/enables a user (admin). */
  async update(
    orgId: string,
    id: string,
    change: { role?: string | undefined; disabled?: boolean | undefined },
    actor: Actor,
    now = Date.now(),
  ): Promise<UserView> {
    const role = change.role === undefined ? undefined : parseRole(change.role);
    return this.store.transaction(async (tx) => {
      const r = await this.mustRow(orgId, id, tx);
      const entries: AuditEntry[] = [];
      if (role !== undefined && role !== r.role) {
        await this.setFields(tx, orgId, id, { role, updated_at: now });
        entries.push({
          orgId,
          actor,
          action: 'user.role_changed',
          targetType: 'user',
          targetId: id,
          details: { from: r.role, to: role },
        });
      }
      if (change.disabled !== undefined && change.disabled !== (r.disabled_at !== null)) {
        await this.setFields(tx, orgId, id, {
          disabled_at: change.disabled ? now : null,
          updated_at: now,
        });
        entries.push({
          orgId,
          actor,
          action: change.disabled ? 'user.disabled' : 'user.enabled',
          targetType: 'user',
          targetId: id,
        });
      }
      if (entries.length > 0) await appendAudit(tx, this.store.dialect, entries);
      return view((await this.row(orgId, id, tx))!);
    });
  }

  /** Removes a user's second factor so they must enrol again (admin; e.g. a lost phone). */
  async resetMfa(orgId: string, id: string, actor: Actor, now = Date.now()): Promise<void> {
    await this.store.transaction(async (tx) => {
      await this.mustRow(orgId, id, tx);
      await this.setFields(tx, orgId, id, {
        totp_secret_enc: null,
        mfa_enrolled_at: null,
        totp_last_step: null,
        updated_at: now,
      });
      await tx
        .deleteFrom('recovery_codes')
        .where('org_id', '=', orgId)
        .where('user_id', '=', id)
        .execute();
      await appendAudit(tx, this.store.dialect, [
        { orgId, actor, action: 'mfa.reset', targetType: 'user', targetId: id },
      ]);
    });
  }

  private async matchTotp(r: UserRow, code: string, now: number): Promise<number | null> {
    if (r.totp_secret_enc === null || !/^\d{6}$/.test(code.trim())) return null;
    const keyring = await this.keyrings.get(r.org_id);
    const secret = decrypt(
      keyring,
      rowAad(r.org_id, 'users', r.id, 'totp_secret'),
      r.totp_secret_enc,
    );
    const res = verifySync({
      secret,
      token: code.trim(),
      epoch: Math.floor(now / 1000),
      // One 30-second step either side, for clock drift.
      epochTolerance: 30,
      ...(r.totp_last_step !== null ? { afterTimeStep: Number(r.totp_last_step) } : {}),
    });
    return res.valid && 'timeStep' in res ? res.timeStep : null;
  }

  private async recordFailure(r: UserRow, action: AuditAction, now: number): Promise<void> {
    await this.store.transaction(async (tx) => {
      // Re-read inside the write lock, so concurrent failures all count.
      const cur = await this.mustRow(r.org_id, r.id, tx);
      const failures = cur.failed_logins + 1;
      const delay = lockoutDelayMs(failures);
      await this.setFields(tx, r.org_id, r.id, {
        failed_logins: failures,
        locked_until: delay > 0 ? now + delay : null,
      });
      await this.audit(r, action, tx, { failures, lockedForSeconds: delay / 1000 });
    });
  }

  private async clearFailures(r: UserRow, now: number): Promise<void> {
    if (r.failed_logins === 0 && r.locked_until === null) return;
    await this.setFields(this.store.db, r.org_id, r.id, {
      failed_logins: 0,
      locked_until: null,
      updated_at: now,
    });
  }

  private async audit(
    r: UserRow,
    action: AuditAction,
    tx?: Db,
    details?: Record<string, string | number | boolean | null>,
  ): Promise<void> {
    const entry = {
      orgId: r.org_id,
      actor: { type: 'user', id: r.id } as Actor,
      action,
      targetType: 'user',
      targetId: r.id,
      ...(details ? { details } : {}),
    };
    if (tx) await appendAudit(tx, this.store.dialect, [entry]);
    else await this.store.transaction((t) => appendAudit(t, this.store.dialect, [entry]));
  }
}
