/**
 * @module identity/break-glass
 * Emergency access (45 CFR 164.312(a)(2)(ii)): a person whose role does not let them read
 * secure-message content may ask for it with a written reason. It is granted at once, for a
 * short window, audited as such, and announced to the organisation's admins through the
 * webhook (`security.break_glass`). The reason may itself mention a patient, so it is stored
 * encrypted and never put in the audit trail or the webhook. Owns `break_glass_grants`.
 */
import type { Store } from '../store/index.js';
import { decrypt, encrypt, rowAad } from '../crypto/index.js';
import type { KeyringService } from '../orgs/keyrings.js';
import { appendAudit, type Actor } from '../audit/index.js';
import { enqueueWebhooks } from '../webhooks/outbox.js';
import { AppError } from '../errors/index.js';
import { newId } from '../ids/index.js';
import { BREAK_GLASS_ROLES, type Principal, type UserPrincipal } from './access.js';

export const BREAK_GLASS_DEFAULT_MINUTES = 30;
export const BREAK_GLASS_MAX_MINUTES = 120;

/**
 * Whether a reader sees secure-message content, and, when only an emergency-access grant
 * lets them, that grant's id (the read's audit event names it).
 */
export interface SecureContentAccess {
  content: boolean;
  breakGlassGrantId?: string;
}

export interface BreakGlassGrant {
  id: string;
  userId: string;
  createdAt: string;
  expiresAt: string;
  endedAt: string | null;
  /** Only in the admins' list. */
  reason?: string;
}

export class BreakGlass {
  constructor(
    private readonly store: Store,
    private readonly keyrings: KeyringService,
  ) {}

  async request(
    who: UserPrincipal,
    reason: string,
    minutes = BREAK_GLASS_DEFAULT_MINUTES,
    now = Date.now(),
  ): Promise<BreakGlassGrant> {
    const text = reason.trim();
    if (text.length < 10 || text.length > 2000) {
      throw new AppError('validation_failed', 'Give a reason of 10 to 2,000 characters.');
    }
    if (!Number.isInteger(minutes) || minutes < 1 || minutes > BREAK_GLASS_MAX_MINUTES) {
      throw new AppError(
        'validation_failed',
        `Emergency access lasts 1 to ${BREAK_GLASS_MAX_MINUTES} minutes.`,
      );
    }
    const id = newId('bg');
    const expiresAt = now + minutes * 60_000;
    const keyring = await this.keyrings.get(who.orgId);
    await this.store.transaction(async (tx) => {
      await tx
        .insertInto('break_glass_grants')
        .values({
          org_id: who.orgId,
          id,
          user_id: who.userId,
          reason_enc: encrypt(keyring, rowAad(who.orgId, 'break_glass_grants', id, 'reason'), text),
          created_at: now,
          expires_at: expiresAt,
          ended_at: null,
        })
        .execute();
      await appendAudit(tx, this.store.dialect, [
        {
          orgId: who.orgId,
          actor: { type: 'user', id: who.userId },
          action: 'breakglass.granted',
          targetType: 'break_glass',
          targetId: id,
          details: { minutes, role: who.role },
        },
      ]);
      await enqueueWebhooks(
        tx,
        [
          {
            orgId: who.orgId,
            type: 'security.break_glass',
            payload: {
              grantId: id,
              userId: who.userId,
              role: who.role,
              expiresAt: new Date(expiresAt).toISOString(),
            },
          },
        ],
        now,
      );
    });
    return {
      id,
      userId: who.userId,
      createdAt: new Date(now).toISOString(),
      expiresAt: new Date(expiresAt).toISOString(),
      endedAt: null,
    };
  }

  /**
   * Who sees secure-message content: providers; API keys that may read messages; and an
   * admin or staff member while a grant of theirs is live. Everyone else sees that a secure
   * message exists, and its status.
   */
  async contentAccess(p: Principal, now = Date.now()): Promise<SecureContentAccess> {
    if (p.kind === 'api_key') return { content: p.scopes.includes('messages:read') };
    if (p.role === 'provider') return { content: true };
    if (!BREAK_GLASS_ROLES.includes(p.role)) return { content: false };
    const grant = await this.active(p.orgId, p.userId, now);
    return grant ? { content: true, breakGlassGrantId: grant.id } : { content: false };
  }

  /** The user's live grant, if any (secure-message reads consult this). */
  async active(orgId: string, userId: string, now = Date.now()): Promise<BreakGlassGrant | null> {
    const r = await this.store.db
      .selectFrom('break_glass_grants')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('user_id', '=', userId)
      .where('expires_at', '>', now)
      .where('ended_at', 'is', null)
      .orderBy('expires_at', 'desc')
      .executeTakeFirst();
    return r ? this.view(r) : null;
  }

  /** Every grant of the organisation, newest first, with reasons (for admins). */
  async list(orgId: string, limit = 100): Promise<BreakGlassGrant[]> {
    const keyring = await this.keyrings.get(orgId);
    const rows = await this.store.db
      .selectFrom('break_glass_grants')
      .selectAll()
      .where('org_id', '=', orgId)
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      ...this.view(r),
      reason: decrypt(keyring, rowAad(orgId, 'break_glass_grants', r.id, 'reason'), r.reason_enc),
    }));
  }

  /**
   * Ends a live grant early: its holder (`holder`, their user id) or an admin (no `holder`).
   * Someone else's grant is `not_found`, as one that does not exist.
   */
  async end(
    orgId: string,
    id: string,
    actor: Actor,
    holder?: string,
    now = Date.now(),
  ): Promise<void> {
    await this.store.transaction(async (tx) => {
      const res = await tx
        .updateTable('break_glass_grants')
        .set({ ended_at: now })
        .where('org_id', '=', orgId)
        .where('id', '=', id)
        .where('ended_at', 'is', null)
        .where('expires_at', '>', now)
        .$if(holder !== undefined, (q) => q.where('user_id', '=', holder!))
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) === 0) throw new AppError('not_found', 'No such live grant.');
      await appendAudit(tx, this.store.dialect, [
        { orgId, actor, action: 'breakglass.ended', targetType: 'break_glass', targetId: id },
      ]);
    });
  }

  private view(r: {
    id: string;
    user_id: string;
    created_at: number;
    expires_at: number;
    ended_at: number | null;
  }): BreakGlassGrant {
    return {
      id: r.id,
      userId: r.user_id,
      createdAt: new Date(Number(r.created_at)).toISOString(),
      expiresAt: new Date(Number(r.expires_at)).toISOString(),
      endedAt: r.ended_at === null ? null : new Date(Number(r.ended_at)).toISOString(),
    };
  }
}
