/**
 * @module identity/policy-acks
 * The texting-policy acknowledgement (45 CFR 164.308(a)(5), security awareness and training):
 * an admin sets the organisation's texting policy; every user acknowledges it before first
 * use, again when its text changes (the version rises) and again every year. Setting and
 * acknowledging are audited (`policy.changed`, `policy.acknowledged`); admins see who is
 * overdue, and the compliance report counts them.
 */
import type { Store } from '../store/index.js';
import { appendAudit, type Actor } from '../audit/index.js';
import { AppError } from '../errors/index.js';
import { newId } from '../ids/index.js';

/** An acknowledgement lasts a year; annual refresher training is the usual HIPAA practice. */
export const POLICY_ACK_VALID_MS = 365 * 86_400_000;
export const MAX_POLICY_LENGTH = 20_000;

export interface TextingPolicyView {
  version: number;
  text: string;
  updatedBy: string;
  updatedAt: string;
}

export interface PolicyAckStatus {
  userId: string;
  email: string;
  role: string;
  /** The version last acknowledged, or null. */
  acknowledgedVersion: number | null;
  acknowledgedAt: string | null;
  /** When the acknowledgement lapses (a year after it was given), or null. */
  dueAt: string | null;
  /** No acknowledgement of the current text within the last year. */
  overdue: boolean;
}

interface UserLike {
  id: string;
  email: string;
  role: string;
  disabled: boolean;
}

const iso = (ms: number) => new Date(ms).toISOString();

export class PolicyAcks {
  constructor(
    private readonly store: Store,
    private readonly listUsers: (orgId: string) => Promise<UserLike[]>,
    private readonly now: () => number = Date.now,
  ) {}

  /** The organisation's texting policy, or null when none was set. */
  async get(orgId: string): Promise<TextingPolicyView | null> {
    const r = await this.store.db
      .selectFrom('texting_policies')
      .selectAll()
      .where('org_id', '=', orgId)
      .executeTakeFirst();
    return r
      ? {
          version: Number(r.version),
          text: r.body,
          updatedBy: r.updated_by,
          updatedAt: iso(Number(r.updated_at)),
        }
      : null;
  }

  /** Sets the policy text; a changed text gets a new version, which every user acknowledges. */
  async set(orgId: string, text: string, actor: Actor): Promise<TextingPolicyView> {
    const body = text.trim();
    if (body.length === 0 || body.length > MAX_POLICY_LENGTH) {
      throw new AppError(
        'validation_failed',
        `The policy text takes 1 to ${MAX_POLICY_LENGTH} characters.`,
      );
    }
    const now = this.now();
    const by = `${actor.type}:${actor.id}`;
    return this.store.transaction(async (tx) => {
      const cur = await tx
        .selectFrom('texting_policies')
        .selectAll()
        .where('org_id', '=', orgId)
        .executeTakeFirst();
      if (cur && cur.body === body) {
        return {
          version: Number(cur.version),
          text: cur.body,
          updatedBy: cur.updated_by,
          updatedAt: iso(Number(cur.updated_at)),
        };
      }
      const version = cur ? Number(cur.version) + 1 : 1;
      const row = { org_id: orgId, version, body, updated_by: by, updated_at: now };
      if (cur) {
        await tx
          .updateTable('texting_policies')
          .set({ version, body, updated_by: by, updated_at: now })
          .where('org_id', '=', orgId)
          .execute();
      } else {
        await tx.insertInto('texting_policies').values(row).execute();
      }
      await appendAudit(tx, this.store.dialect, [
        {
          orgId,
          actor,
          action: 'policy.changed',
          targetType: 'texting_policy',
          targetId: orgId,
          details: { version, length: body.length },
        },
      ]);
      return { version, text: body, updatedBy: by, updatedAt: iso(now) };
    });
  }

  /**
   * Records that `userId` acknowledged the current policy. `version` is the one the user
   * read: acknowledging a text that has since changed is refused.
   */
  async acknowledge(
    orgId: string,
    userId: string,
    version: number | undefined,
  ): Promise<{ version: number; acknowledgedAt: string; dueAt: string }> {
    const now = this.now();
    return this.store.transaction(async (tx) => {
      const cur = await tx
        .selectFrom('texting_policies')
        .select('version')
        .where('org_id', '=', orgId)
        .executeTakeFirst();
      if (!cur) throw new AppError('policy_not_set');
      const v = Number(cur.version);
      if (version !== undefined && version !== v) throw new AppError('policy_version_mismatch');
      await tx
        .insertInto('policy_acks')
        .values({
          org_id: orgId,
          id: newId('pack'),
          user_id: userId,
          version: v,
          acknowledged_at: now,
        })
        .execute();
      await appendAudit(tx, this.store.dialect, [
        {
          orgId,
          actor: { type: 'user', id: userId },
          action: 'policy.acknowledged',
          targetType: 'texting_policy',
          targetId: orgId,
          details: { version: v },
        },
      ]);
      return { version: v, acknowledgedAt: iso(now), dueAt: iso(now + POLICY_ACK_VALID_MS) };
    });
  }

  /**
   * One user's standing with the current policy: their latest acknowledgement and whether it
   * is due (none of the current text within the last year). Null when no policy is set.
   */
  async standing(
    orgId: string,
    userId: string,
  ): Promise<{ acknowledgedAt: string | null; dueAt: string | null; due: boolean } | null> {
    const policy = await this.get(orgId);
    if (!policy) return null;
    const a = await this.store.db
      .selectFrom('policy_acks')
      .select(['version', 'acknowledged_at'])
      .where('org_id', '=', orgId)
      .where('user_id', '=', userId)
      .orderBy('acknowledged_at', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (!a) return { acknowledgedAt: null, dueAt: null, due: true };
    const at = Number(a.acknowledged_at);
    return {
      acknowledgedAt: iso(at),
      dueAt: iso(at + POLICY_ACK_VALID_MS),
      due: Number(a.version) !== policy.version || at + POLICY_ACK_VALID_MS <= this.now(),
    };
  }

  /** Every active user's acknowledgement state, overdue first. */
  async statuses(orgId: string): Promise<{ version: number | null; users: PolicyAckStatus[] }> {
    const now = this.now();
    const policy = await this.get(orgId);
    const users = (await this.listUsers(orgId)).filter((u) => !u.disabled);
    const acks = await this.store.db
      .selectFrom('policy_acks')
      .select(['user_id', 'version', 'acknowledged_at'])
      .where('org_id', '=', orgId)
      .orderBy('acknowledged_at', 'desc')
      .execute();
    const latest = new Map<string, { version: number; at: number }>();
    for (const a of acks) {
      if (!latest.has(a.user_id)) {
        latest.set(a.user_id, { version: Number(a.version), at: Number(a.acknowledged_at) });
      }
    }
    const out = users.map((u): PolicyAckStatus => {
      const a = latest.get(u.id);
      const current =
        policy !== null &&
        a !== undefined &&
        a.version === policy.version &&
        a.at + POLICY_ACK_VALID_MS > now;
      return {
        userId: u.id,
        email: u.email,
        role: u.role,
        acknowledgedVersion: a?.version ?? null,
        acknowledgedAt: a ? iso(a.at) : null,
        dueAt: a ? iso(a.at + POLICY_ACK_VALID_MS) : null,
        overdue: !current,
      };
    });
    out.sort((x, y) => Number(y.overdue) - Number(x.overdue) || x.email.localeCompare(y.email));
    return { version: policy?.version ?? null, users: out };
  }
}
