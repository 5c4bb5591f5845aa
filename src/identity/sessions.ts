/**
 * @module identity/sessions
 * Sign-in sessions of people (45 CFR 164.312(a)(2)(iii), automatic logoff): an opaque random
 * token, stored only as its SHA-256, carried in an HttpOnly SameSite=Strict cookie; a CSRF
 * token for changes made with the cookie; logoff after the organisation's idle time (default
 * 15 minutes) and after 12 hours at most; revocable one by one or all of a user's at once.
 * Owns the `sessions` table.
 */
import { randomBytes } from 'node:crypto';
import type { Store } from '../store/index.js';
import { sha256Hex } from '../crypto/index.js';
import { appendAudit, type Actor } from '../audit/index.js';
import { newId } from '../ids/index.js';
import type { UserPrincipal } from './access.js';
import type { Users, UserView } from './users.js';

export const SESSION_ABSOLUTE_MS = 12 * 3600_000;
/** `last_seen_at` is written at most this often per session. */
const TOUCH_EVERY_MS = 15_000;

export interface SessionInfo {
  id: string;
  createdAt: string;
  expiresAt: string;
  idleTimeoutMinutes: number;
  mfaVerified: boolean;
}

export interface Authenticated {
  principal: UserPrincipal;
  csrfHash: string;
}

export class Sessions {
  constructor(
    private readonly store: Store,
    private readonly users: Users,
    private readonly idleMinutes: (orgId: string) => Promise<number>,
  ) {}

  /** Opens a session for a user whose password was just checked. */
  async create(
    user: UserView,
    ip: string | null,
    now = Date.now(),
  ): Promise<{ token: string; csrfToken: string; session: SessionInfo }> {
    const id = newId('ses');
    const token = randomBytes(32).toString('base64url');
    const csrfToken = randomBytes(24).toString('base64url');
    const idleMs = (await this.idleMinutes(user.orgId)) * 60_000;
    await this.store.transaction(async (tx) => {
      await tx
        .insertInto('sessions')
        .values({
          org_id: user.orgId,
          id,
          user_id: user.id,
          token_hash: sha256Hex(token),
          csrf_hash: sha256Hex(csrfToken),
          created_at: now,
          last_seen_at: now,
          idle_timeout_ms: idleMs,
          expires_at: now + SESSION_ABSOLUTE_MS,
          mfa_verified_at: null,
          revoked_at: null,
          ip,
        })
        .execute();
      await appendAudit(tx, this.store.dialect, [
        {
          orgId: user.orgId,
          actor: { type: 'user', id: user.id },
          action: 'login.succeeded',
          targetType: 'session',
          targetId: id,
        },
      ]);
    });
    return {
      token,
      csrfToken,
      session: {
        id,
        createdAt: new Date(now).toISOString(),
        expiresAt: new Date(now + SESSION_ABSOLUTE_MS).toISOString(),
        idleTimeoutMinutes: idleMs / 60_000,
        mfaVerified: false,
      },
    };
  }

  /** The person behind a session token, or null when it is unknown, ended or timed out. */
  async authenticate(token: string, now = Date.now()): Promise<Authenticated | null> {
    if (token.length === 0 || token.length > 100) return null;
    const s = await this.store.db
      .selectFrom('sessions')
      .selectAll()
      .where('token_hash', '=', sha256Hex(token))
      .executeTakeFirst();
    if (!s || s.revoked_at !== null) return null;
    const idleEnd = Number(s.last_seen_at) + Number(s.idle_timeout_ms);
    if (now >= Number(s.expires_at) || now >= idleEnd) {
      await this.end(s.org_id, s.id, s.user_id, 'session.expired', now);
      return null;
    }
    const user = await this.users.get(s.org_id, s.user_id);
    if (!user || user.disabled) return null;
    if (now - Number(s.last_seen_at) >= TOUCH_EVERY_MS) {
      await this.store.db
        .updateTable('sessions')
        .set({ last_seen_at: now })
        .where('org_id', '=', s.org_id)
        .where('id', '=', s.id)
        .execute();
    }
    return {
      principal: {
        kind: 'user',
        orgId: s.org_id,
        userId: s.user_id,
        role: user.role,
        sessionId: s.id,
        mfaVerified: s.mfa_verified_at !== null && user.mfaEnrolled,
      },
      csrfHash: s.csrf_hash,
    };
  }

  async info(orgId: string, id: string): Promise<SessionInfo | null> {
    const s = await this.store.db
      .selectFrom('sessions')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('id', '=', id)
      .executeTakeFirst();
    if (!s) return null;
    return {
      id: s.id,
      createdAt: new Date(Number(s.created_at)).toISOString(),
      expiresAt: new Date(Number(s.expires_at)).toISOString(),
      idleTimeoutMinutes: Number(s.idle_timeout_ms) / 60_000,
      mfaVerified: s.mfa_verified_at !== null,
    };
  }

  /** Records that the session's user verified a second factor. */
  async markMfaVerified(orgId: string, id: string, now = Date.now()): Promise<void> {
    await this.store.db
      .updateTable('sessions')
      .set({ mfa_verified_at: now })
      .where('org_id', '=', orgId)
      .where('id', '=', id)
      .execute();
  }

  /** Signs out one session. */
  async logout(p: UserPrincipal, now = Date.now()): Promise<void> {
    await this.end(p.orgId, p.sessionId, p.userId, 'logout', now);
  }

  /** Ends every live session of a user (a lost or stolen device); returns how many. */
  async revokeAll(orgId: string, userId: string, actor: Actor, now = Date.now()): Promise<number> {
    return this.store.transaction(async (tx) => {
      const res = await tx
        .updateTable('sessions')
        .set({ revoked_at: now })
        .where('org_id', '=', orgId)
        .where('user_id', '=', userId)
        .where('revoked_at', 'is', null)
        .where('expires_at', '>', now)
        .executeTakeFirst();
      const n = Number(res.numUpdatedRows);
      await appendAudit(tx, this.store.dialect, [
        {
          orgId,
          actor,
          action: 'sessions.revoked',
          targetType: 'user',
          targetId: userId,
          details: { sessions: n },
        },
      ]);
      return n;
    });
  }

  private async end(
    orgId: string,
    id: string,
    userId: string,
    action: 'logout' | 'session.expired',
    now: number,
  ): Promise<void> {
    await this.store.transaction(async (tx) => {
      const res = await tx
        .updateTable('sessions')
        .set({ revoked_at: now })
        .where('org_id', '=', orgId)
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) === 0) return;
      await appendAudit(tx, this.store.dialect, [
        {
          orgId,
          actor:
            action === 'logout' ? { type: 'user', id: userId } : { type: 'system', id: 'sessions' },
          action,
          targetType: 'session',
          targetId: id,
        },
      ]);
    });
  }
}
