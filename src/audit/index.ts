/**
 * @module audit
 * Append-only, hash-chained audit log (45 CFR 164.312(b), audit controls; 164.312(c)(1),
 * integrity). Each organisation has its own chain: every event carries its sequence number,
 * the previous event's hash and its own SHA-256 over a canonical encoding, so any edit,
 * deletion or reordering breaks verification at a named sequence number. Events are
 * appended in the caller's transaction, so an event exists exactly when its change does.
 * Details never carry PHI: ids, counts and codes only; an event about a patient names them
 * by the blind index of their number. Beside this file: the hash encoding (chain.ts), the
 * Ed25519 signing keys (signing.ts), signed checkpoints (checkpoints.ts), verification
 * (verify.ts), exports (export.ts), the auditor's queries (query.ts) and the service the CLI,
 * API and worker use (service.ts).
 */
import { groupBy, insertRows, type Db, type Dialect } from '../store/index.js';
import { GENESIS_HASH, hashEvent, type ChainedFields } from './chain.js';

export { GENESIS_HASH, hashEvent, type ChainedFields } from './chain.js';

/** Every audited action, with the rule it serves. */
export const AUDIT_ACTIONS = {
  'org.created': '164.312(b)',
  'org.webhook_set': '164.312(b)',
  /** A new webhook signing secret; the old one signs until the time named, if any. */
  'org.webhook_secret_rotated': '164.312(b)',
  'apikey.created': '164.312(d)',
  'apikey.revoked': '164.312(d)',
  'sender.created': '164.312(b)',
  'sender.updated': '164.312(b)',
  'sender.deleted': '164.312(b)',
  /** A carrier kept failing: its messages moved to the organisation's secondary sender. */
  'carrier.failover': '164.312(b)',
  /** The primary carrier answered again: messages went back to it. */
  'carrier.recovered': '164.312(b)',
  'message.accepted': '164.312(b)',
  /** The content guard refused a text (policy `reject`): its categories, never the text. */
  'guard.rejected': '164.312(b)',
  'message.canceled': '164.312(b)',
  'message.rescheduled': '164.312(b)',
  'message.sent': '164.312(b)',
  'message.failed': '164.312(b)',
  'message.read': '164.312(b)',
  'message.listed': '164.312(b)',
  'inbound.received': '164.312(b)',
  'keys.rotated': '164.312(a)(2)(iv)',
  'keys.data_rotated': '164.312(a)(2)(iv)',
  'keys.master_retired': '164.312(a)(2)(iv)',
  'keys.shredded': '164.310(d)(2)(i)',
  'user.created': '164.308(a)(4)',
  'user.setup_link_issued': '164.308(a)(4)',
  'user.password_set': '164.312(d)',
  'user.role_changed': '164.308(a)(4)',
  'user.disabled': '164.308(a)(3)(ii)(C)',
  'user.enabled': '164.308(a)(4)',
  'login.succeeded': '164.308(a)(5)(ii)(C)',
  'login.failed': '164.308(a)(5)(ii)(C)',
  'login.locked_out': '164.308(a)(5)(ii)(C)',
  logout: '164.312(a)(2)(iii)',
  'session.expired': '164.312(a)(2)(iii)',
  'sessions.revoked': '164.312(a)(1)',
  'mfa.enrolment_started': '164.312(d)',
  'mfa.enrolled': '164.312(d)',
  'mfa.verified': '164.312(d)',
  'mfa.failed': '164.312(d)',
  'mfa.reset': '164.312(d)',
  'org.settings_changed': '164.312(b)',
  'breakglass.granted': '164.312(a)(2)(ii)',
  'consent.recorded': 'TCPA 47 CFR 64.1200',
  'consent.settings_changed': 'TCPA 47 CFR 64.1200',
  'consent.imported': 'TCPA 47 CFR 64.1200',
  'breakglass.ended': '164.312(a)(2)(ii)',
  'audit.read': '164.312(b)',
  'audit.exported': '164.312(b)',
  /** Someone checked the organisation's chain from the console or API (the result is in details). */
  'audit.verified': '164.312(c)(1)',
  'audit.disclosures_read': '164.528',
  'audit.signing_key_created': '164.312(c)(1)',
  // Secure messages and the patient portal (portal/).
  'secure_message.created': '164.312(b)',
  'secure_message.notice_refused': '164.312(b)',
  'secure_message.read': '164.312(b)',
  'secure_message.replies_read': '164.312(b)',
  'secure_message.revoked': '164.312(b)',
  'secure_message.code_sent': '164.312(d)',
  'secure_message.verify_failed': '164.312(d)',
  'secure_message.verified': '164.312(d)',
  'secure_message.locked': '164.312(d)',
  'secure_message.viewed': '164.312(b)',
  'secure_message.replied': '164.312(b)',
  // Organisation templates (templates/): who changed the texts patients receive.
  'template.created': '164.312(b)',
  'template.updated': '164.312(b)',
  'template.deleted': '164.312(b)',
  // Retention, legal hold, risk, backups, incident and posture reports (issue 9).
  'retention.policy_changed': '164.316(b)(2)(i)',
  'retention.swept': '164.310(d)(2)(i)',
  'retention.carrier_deleted': '164.310(d)(2)(i)',
  'policy.changed': '164.308(a)(5)',
  'policy.acknowledged': '164.308(a)(5)',
  'legal_hold.placed': '164.316(b)(2)(i)',
  'legal_hold.lifted': '164.316(b)(2)(i)',
  'risk.alert_raised': '164.308(a)(1)(ii)(D)',
  /** An admin resolved (resumed) an alert: the actor, and counts of what it let go. */
  'risk.alert_resolved': '164.308(a)(1)(ii)(D)',
  /** A more severe alert on the same signal and scope closed this one (`supersededBy`). */
  'risk.alert_superseded': '164.308(a)(1)(ii)(D)',
  'risk.sender_paused': '164.308(a)(6)(ii)',
  'risk.sender_resumed': '164.308(a)(6)(ii)',
  'backup.created': '164.308(a)(7)(ii)(A)',
  'backup.restored': '164.308(a)(7)(ii)(B)',
  'incident.report_created': '164.308(a)(6)(ii)',
  'compliance.report_read': '164.308(a)(8)',
  // Appointments and reminders (reminders/): feeds that create them, replies that change them.
  'appointment.upserted': '164.312(b)',
  'appointment.status_changed': '164.312(b)',
  'appointment.listed': '164.312(b)',
  'appointment.read': '164.312(b)',
  'appointment.tasks_listed': '164.312(b)',
  'appointment.task_done': '164.312(b)',
  'reminders.settings_changed': '164.312(b)',
  'campaign.created': '164.312(b)',
  'campaign.state_changed': '164.312(b)',
  // Patients in the console (reminders/patient-contacts): searches, masked reads, reveals.
  'contact.searched': '164.312(b)',
  'contact.read': '164.312(b)',
  'contact.revealed': '164.312(b)',
  'campaign.list_checked': '164.312(b)',
  // The staff inbox (conversations/): threads read, marked read, assigned.
  'conversation.listed': '164.312(b)',
  'conversation.read': '164.312(b)',
  'conversation.marked_read': '164.312(b)',
  'conversation.assigned': '164.312(b)',
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
  /**
   * Blind index of the patient's number the event concerns (never the number), so an
   * accounting of disclosures (45 CFR 164.528) can find it. Part of the event's hash.
   */
  subjectIndex?: string | undefined;
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
  for (const [orgId, list] of groupBy(entries, (e) => e.orgId)) {
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
        subject_index: e.subjectIndex ?? null,
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

export {
  verifyAudit,
  verifyChain,
  type AuditBreak,
  type BreakReason,
  type VerifyOptions,
  type VerifyResult,
} from './verify.js';
export {
  AuditService,
  DEFAULT_CHECK_INTERVAL_MS,
  MAX_ACCOUNTING_EVENTS,
  type AuditServiceOptions,
  type EventQuery,
} from './service.js';
export {
  parsePublicKeys,
  signingKeyId,
  SIGNING_ALGORITHM,
  type KeyWrapper,
  type PublicKeyInfo,
  type TrustedKeys,
} from './signing.js';
export { type Checkpoint } from './verify.js';
export { type CheckpointPolicy, type CheckpointRun } from './checkpoints.js';
export { type AuditEventView, type EventPage } from './query.js';
export {
  EXPORT_FORMATS,
  verifyExportFile,
  type ExportFormat,
  type ExportRange,
  type FileVerifyResult,
} from './export.js';
