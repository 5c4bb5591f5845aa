/**
 * @module portal/expire-content
 * Destroys the content of old secure messages for the retention sweeper (retention/): the
 * body and the patient's replies are overwritten with `DESTROYED_CONTENT`, and a link still
 * open is closed as `expired`. The row (who, when, status, views) stays for the audit trail.
 * Idempotent and bounded by `limit`, like messaging/redact-bodies.
 */
import type { Db } from '../store/index.js';
import { DESTROYED_CONTENT } from '../crypto/index.js';

export interface ExpireContentRequest {
  orgId: string;
  /** Content first viewed before this time is destroyed … */
  viewedBefore: number;
  /** … and content never viewed, created before this time. */
  unviewedBefore: number;
  /** Blind indexes of patients under legal hold. */
  keepIndexes: readonly string[];
  limit: number;
  dryRun?: boolean;
}

export async function expireSecureContentBefore(
  tx: Db,
  req: ExpireContentRequest,
): Promise<{ secureMessages: number }> {
  const keep = req.keepIndexes;
  const q = tx
    .selectFrom('secure_messages')
    .where('org_id', '=', req.orgId)
    .where('body_enc', '<>', DESTROYED_CONTENT)
    .where((eb) =>
      eb.or([
        eb.and([
          eb('first_viewed_at', 'is not', null),
          eb('first_viewed_at', '<', req.viewedBefore),
        ]),
        eb.and([eb('first_viewed_at', 'is', null), eb('created_at', '<', req.unviewedBefore)]),
      ]),
    )
    .$if(keep.length > 0, (x) => x.where('to_index', 'not in', keep));
  if (req.dryRun) {
    const r = await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
    return { secureMessages: Number(r?.n ?? 0) };
  }
  const ids = (await q.select('id').limit(req.limit).execute()).map((r) => r.id);
  if (ids.length === 0) return { secureMessages: 0 };
  const now = Date.now();
  await tx
    .updateTable('secure_messages')
    .set({ body_enc: DESTROYED_CONTENT, updated_at: now })
    .where('org_id', '=', req.orgId)
    .where('id', 'in', ids)
    .execute();
  await tx
    .updateTable('secure_messages')
    .set({ status: 'expired', expires_at: now })
    .where('org_id', '=', req.orgId)
    .where('id', 'in', ids)
    .where('status', 'in', ['pending', 'active', 'read'])
    .execute();
  await tx
    .updateTable('secure_message_replies')
    .set({ body_enc: DESTROYED_CONTENT })
    .where('org_id', '=', req.orgId)
    .where('secure_message_id', 'in', ids)
    .execute();
  return { secureMessages: ids.length };
}
