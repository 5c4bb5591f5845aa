/**
 * @module dispatch/queue
 * The durable dispatch queue (`dispatch_jobs`): one row per message waiting to be submitted,
 * holding ids and times only, never content. A claim takes a lease that expires, so a job
 * claimed by a process that died is claimed again once the lease runs out. On PostgreSQL
 * claims use `FOR UPDATE SKIP LOCKED`, so many workers never take the same job; on SQLite
 * the write transaction is the single writer.
 */
import { idsByOrg, insertRows, type Db, type Dialect } from '../store/index.js';

export interface JobKey {
  orgId: string;
  messageId: string;
}

export interface ClaimedJob extends JobKey {
  attempts: number;
}

export async function enqueueJobs(
  tx: Db,
  jobs: readonly (JobKey & { dueAt: number })[],
): Promise<void> {
  await insertRows(
    tx,
    'dispatch_jobs',
    jobs.map((j) => ({
      org_id: j.orgId,
      message_id: j.messageId,
      due_at: j.dueAt,
      attempts: 0,
      lease_owner: null,
      lease_until: null,
    })),
  );
}

/** Claims up to `limit` due jobs for `owner`, leased until `now + leaseMs`. */
export async function claimJobs(
  tx: Db,
  dialect: Dialect,
  owner: string,
  limit: number,
  leaseMs: number,
  now = Date.now(),
): Promise<ClaimedJob[]> {
  let q = tx
    .selectFrom('dispatch_jobs')
    .select(['org_id', 'message_id', 'attempts'])
    .where('due_at', '<=', now)
    .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
    .orderBy('due_at')
    .limit(limit);
  if (dialect === 'postgres') q = q.forUpdate().skipLocked();
  const rows = await q.execute();
  if (rows.length === 0) return [];
  // One UPDATE per organisation and chunk, not one per job: each job's attempts go up by one.
  const claimed = rows.map((r) => ({
    orgId: r.org_id,
    messageId: r.message_id,
    attempts: r.attempts + 1,
  }));
  for (const [orgId, ids] of idsByOrg(claimed, (j) => j.messageId)) {
    await tx
      .updateTable('dispatch_jobs')
      .set((eb) => ({
        lease_owner: owner,
        lease_until: now + leaseMs,
        attempts: eb('attempts', '+', 1),
      }))
      .where('org_id', '=', orgId)
      .where('message_id', 'in', ids)
      .execute();
  }
  return claimed;
}

/**
 * Removes finished jobs (sent, failed for good, or canceled) that `owner` still holds; a job
 * another worker has since claimed is left to that worker.
 */
export async function completeJobs(tx: Db, owner: string, jobs: readonly JobKey[]): Promise<void> {
  for (const [orgId, ids] of idsByOrg(jobs, (j) => j.messageId)) {
    await tx
      .deleteFrom('dispatch_jobs')
      .where('org_id', '=', orgId)
      .where('message_id', 'in', ids)
      .where('lease_owner', '=', owner)
      .execute();
  }
}

/**
 * Releases `owner`'s lease on a job and makes it due again at `dueAt` (a retry). With
 * `refundAttempt`, the claim does not count as an attempt (quiet hours held the message).
 */
export async function rescheduleJob(
  tx: Db,
  owner: string,
  job: JobKey,
  dueAt: number,
  opts: { refundAttempt?: boolean } = {},
): Promise<void> {
  await tx
    .updateTable('dispatch_jobs')
    .set((eb) => ({
      due_at: dueAt,
      lease_owner: null,
      lease_until: null,
      ...(opts.refundAttempt ? { attempts: eb('attempts', '-', 1) } : {}),
    }))
    .where('org_id', '=', job.orgId)
    .where('message_id', '=', job.messageId)
    .where('lease_owner', '=', owner)
    .execute();
}

/** Extends every lease `owner` holds (a worker still busy with its batch is alive). */
export async function renewLeases(
  db: Db,
  owner: string,
  leaseMs: number,
  now = Date.now(),
): Promise<void> {
  await db
    .updateTable('dispatch_jobs')
    .set({ lease_until: now + leaseMs })
    .where('lease_owner', '=', owner)
    .where('lease_until', '>=', now)
    .execute();
}

/** Deletes a job only if no worker holds a live lease on it; true when deleted. */
export async function removeUnclaimedJob(tx: Db, job: JobKey, now = Date.now()): Promise<boolean> {
  const res = await tx
    .deleteFrom('dispatch_jobs')
    .where('org_id', '=', job.orgId)
    .where('message_id', '=', job.messageId)
    .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
    .executeTakeFirst();
  return Number(res.numDeletedRows) > 0;
}

export async function countJobs(db: Db): Promise<number> {
  const r = await db
    .selectFrom('dispatch_jobs')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}
