/**
 * @module audit
 * Append-only, hash-chained audit log (45 CFR 164.312(b), audit controls; 164.312(c)(1),
 * integrity). Each organisation has its own chain: every event carries its sequence number,
 * the previous event's hash and its own SHA-256 over a canonical encoding, so any edit,
 * deletion or reordering breaks verification at a named sequence number. Events are
 * appended in the caller's transaction, so an event exists exactly when its change does.
 * Details never carry PHI: ids, counts and codes only.
 */
import { createHash } from 'node:crypto';
import { insertRows, type Db, type Dialect } from '../store/index.js';

/** Every audited action, with the rule it serves. */
export const AUDIT_ACTIONS = {
  'org.created': '164.312(b)',
  'org.webhook_set': '164.312(b)',
  'apikey.created': '164.312(d)',
  'apikey.revoked': '164.312(d)',
  'sender.created': '164.312(b)',
  'sender.updated': '164.312(b)',
  'message.accepted': '164.312(b)',
  'message.canceled': '164.312(b)',
  'message.sent': '164.312(b)',
  'message.failed': '164.312(b)',
  'message.read': '164.312(b)',
  'message.listed': '164.312(b)',
  'inbound.received': '164.312(b)',
} as const;

export type AuditAction = keyof typeof AUDIT_ACTIONS;
export type ActorType = 'api_key' | 'user' | 'system' | 'patient' | 'cli';

export interface Actor {
  readonly type: ActorType;
  readonly id: string;
}

export const SYSTEM_ACTOR: Actor = { type: 'system', id: 'tidings' };

export type AuditDetails = Readonly<Record<string, string | number | boolean | null>>;

export interface AuditEntry {
  orgId: string;
  actor: Actor;
  action: AuditAction;
  targetType: string;
  targetId: string;
  details?: AuditDetails;
}

export const GENESIS_HASH = '0'.repeat(64);

interface ChainedFields {
  org_id: string;
  seq: number;
  at: number;
  actor_type: string;
  actor_id: string;
  action: string;
  target_type: string;
  target_id: string;
  details: string;
  prev_hash: string;
}

/** Details as canonical JSON: keys sorted, so the same details always hash the same. */
function canonicalDetails(details: AuditDetails | undefined): string {
  const d = details ?? {};
  return JSON.stringify(
    Object.fromEntries(
      Object.keys(d)
        .sort()
        .map((k) => [k, d[k]]),
    ),
  );
}

/** SHA-256 over a fixed-order JSON array of every chained field. */
export function hashEvent(e: ChainedFields): string {
  const canonical = JSON.stringify([
    'tidings-audit-v1',
    e.org_id,
    Number(e.seq),
    Number(e.at),
    e.actor_type,
    e.actor_id,
    e.action,
    e.target_type,
    e.target_id,
    e.details,
    e.prev_hash,
  ]);
  return createHash('sha256').update(canonical, 'utf8').digest('hex');
}

/**
 * Appends events inside the caller's transaction. The chain head row of each organisation is
 * locked (`FOR UPDATE` on PostgreSQL; SQLite's write transaction already serialises), so
 * concurrent writers in many processes extend one unbroken chain.
 */
export async function appendAudit(
  tx: Db,
  dialect: Dialect,
  entries: readonly AuditEntry[],
  at: number = Date.now(),
): Promise<void> {
  const byOrg = new Map<string, AuditEntry[]>();
  for (const e of entries) {
    const list = byOrg.get(e.orgId);
    if (list) list.push(e);
    else byOrg.set(e.orgId, [e]);
  }
  for (const [orgId, list] of byOrg) {
    await tx
      .insertInto('audit_heads')
      .values({ org_id: orgId, seq: 0, hash: GENESIS_HASH })
      .onConflict((oc) => oc.column('org_id').doNothing())
      .execute();
    let q = tx.selectFrom('audit_heads').select(['seq', 'hash']).where('org_id', '=', orgId);
    if (dialect === 'postgres') q = q.forUpdate();
    const head = await q.executeTakeFirstOrThrow();
    let seq = Number(head.seq);
    let prev = head.hash;
    const rows = list.map((e) => {
      seq += 1;
      const fields: ChainedFields = {
        org_id: orgId,
        seq,
        at,
        actor_type: e.actor.type,
        actor_id: e.actor.id,
        action: e.action,
        target_type: e.targetType,
        target_id: e.targetId,
        details: canonicalDetails(e.details),
        prev_hash: prev,
      };
      prev = hashEvent(fields);
      return { ...fields, hash: prev };
    });
    await insertRows(tx, 'audit_events', rows);
    await tx
      .updateTable('audit_heads')
      .set({ seq, hash: prev })
      .where('org_id', '=', orgId)
      .execute();
  }
}

export interface AuditBreak {
  orgId: string;
  seq: number;
  reason: 'hash_mismatch' | 'prev_hash_mismatch' | 'sequence_gap' | 'head_mismatch';
}

export interface VerifyResult {
  ok: boolean;
  events: number;
  organisations: number;
  firstBreak?: AuditBreak;
}

/** Re-computes every chain; stops at the first broken event. */
export async function verifyAudit(db: Db, orgId?: string): Promise<VerifyResult> {
  let heads = db.selectFrom('audit_heads').select(['org_id', 'seq', 'hash']).orderBy('org_id');
  if (orgId) heads = heads.where('org_id', '=', orgId);
  let events = 0;
  const list = await heads.execute();
  for (const head of list) {
    let expectedSeq = 1;
    let prev = GENESIS_HASH;
    for (;;) {
      const page = await db
        .selectFrom('audit_events')
        .selectAll()
        .where('org_id', '=', head.org_id)
        .where('seq', '>=', expectedSeq)
        .orderBy('seq')
        .limit(1000)
        .execute();
      if (page.length === 0) break;
      for (const e of page) {
        const seq = Number(e.seq);
        const brk = (reason: AuditBreak['reason'], at: number): VerifyResult => ({
          ok: false,
          events,
          organisations: list.length,
          firstBreak: { orgId: head.org_id, seq: at, reason },
        });
        if (seq !== expectedSeq) return brk('sequence_gap', expectedSeq);
        if (e.prev_hash !== prev) return brk('prev_hash_mismatch', seq);
        if (hashEvent({ ...e, seq, at: Number(e.at) }) !== e.hash) return brk('hash_mismatch', seq);
        prev = e.hash;
        expectedSeq += 1;
        events += 1;
      }
    }
    if (Number(head.seq) !== expectedSeq - 1 || head.hash !== prev) {
      return {
        ok: false,
        events,
        organisations: list.length,
        firstBreak: { orgId: head.org_id, seq: expectedSeq, reason: 'head_mismatch' },
      };
    }
  }
  return { ok: true, events, organisations: list.length };
}
