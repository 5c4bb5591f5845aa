/**
 * @module audit/service
 * The audit trail as the CLI, the API and the worker use it: checkpoints (scheduled and on
 * demand), verification, public keys, the auditor's event list, the accounting of
 * disclosures for one patient, and exports. Every read of the trail is itself audited
 * (`audit.read`, `audit.disclosures_read`, `audit.exported`), with counts only.
 */
import type { Store } from '../store/index.js';
import type { Logger } from '../observability/index.js';
import { AppError } from '../errors/index.js';
import { appendAudit, type Actor, type AuditEntry } from './index.js';
import {
  AuditSigningKeys,
  type KeyWrapper,
  type PublicKeyInfo,
  type TrustedKeys,
} from './signing.js';
import {
  Checkpointer,
  createCheckpoints,
  type CheckpointPolicy,
  type CheckpointRun,
} from './checkpoints.js';
import { verifyAudit, type VerifyResult } from './verify.js';
import {
  listEvents,
  parseCursor,
  type AuditEventView,
  type EventFilter,
  type EventPage,
} from './query.js';
import { planExport, writeExport, type ExportFormat, type ExportRange } from './export.js';

export interface AuditServiceOptions {
  policy: CheckpointPolicy;
  /** How often the worker looks for checkpoints that are due (at most `policy.everyMs`). */
  checkIntervalMs?: number;
  /**
   * The blind index of a patient's phone number in an organisation (normalised the way
   * messaging stores it). Throws a coded AppError for a number that cannot be one.
   */
  subjectIndexOf: (orgId: string, phone: string) => Promise<string>;
  log: Logger;
}

/** How often, by default, the worker looks for due checkpoints. */
export const DEFAULT_CHECK_INTERVAL_MS = 30_000;

/** Events the accounting of disclosures (CLI) lists, at most. */
export const MAX_ACCOUNTING_EVENTS = 100_000;

export type EventQuery = Omit<EventFilter, 'subjectIndex'>;

export class AuditService {
  readonly signingKeys: AuditSigningKeys;
  private readonly checkpointer: Checkpointer;

  constructor(
    private readonly store: Store,
    wrapper: KeyWrapper,
    private readonly opts: AuditServiceOptions,
  ) {
    this.signingKeys = new AuditSigningKeys(store, wrapper);
    const interval = Math.min(
      opts.checkIntervalMs ?? DEFAULT_CHECK_INTERVAL_MS,
      opts.policy.everyMs,
    );
    this.checkpointer = new Checkpointer(() => this.runCheckpoints(), interval, opts.log);
  }

  /** Starts signing checkpoints on a timer (worker role). */
  startCheckpoints(): void {
    this.checkpointer.startCheckpoints();
  }

  async stopCheckpoints(): Promise<void> {
    await this.checkpointer.stopCheckpoints();
  }

  /** Signs every checkpoint the policy says is due. */
  runCheckpoints(now?: number): Promise<CheckpointRun[]> {
    return createCheckpoints(this.store, this.signingKeys, this.opts.policy, {
      ...(now !== undefined ? { now } : {}),
    });
  }

  /** Signs the current head of every organisation (or one) now, if it has unsigned events. */
  checkpoint(orgId?: string): Promise<CheckpointRun[]> {
    return createCheckpoints(this.store, this.signingKeys, this.opts.policy, {
      orgId,
      force: true,
    });
  }

  /**
   * Verifies the chain and every checkpoint. Signatures are checked with `publicKeys` when
   * given (keys an auditor holds), otherwise with the keys only the master key opens.
   */
  verify(opts: {
    orgId?: string | undefined;
    fromSeq?: number | undefined;
    publicKeys?: TrustedKeys | undefined;
  }): Promise<VerifyResult> {
    const pinned = opts.publicKeys;
    return verifyAudit(this.store.db, opts.orgId, {
      fromSeq: opts.fromSeq,
      keys: pinned ? () => Promise.resolve(pinned) : (org) => this.signingKeys.trusted(org),
    });
  }

  /**
   * Verifies one organisation's chain and checkpoints for a person or key who asked (console,
   * API), and records that they did (`audit.verified`, with the outcome and the first bad
   * sequence number, if any). The record is appended after the check, so it never hides a
   * break it could itself have caused.
   */
  async verifyFor(orgId: string, actor: Actor): Promise<VerifyResult> {
    const result = await this.verify({ orgId });
    await this.record({
      orgId,
      actor,
      action: 'audit.verified',
      targetType: 'audit_log',
      targetId: orgId,
      details: {
        ok: result.ok,
        events: result.events,
        checkpoints: result.checkpoints,
        ...(result.firstBreak
          ? { breakSeq: result.firstBreak.seq, reason: result.firstBreak.reason }
          : {}),
      },
    });
    return result;
  }

  publicKey(orgId: string): Promise<PublicKeyInfo> {
    return this.signingKeys.publicKey(orgId);
  }

  private async record(entry: AuditEntry): Promise<void> {
    await this.store.transaction((tx) => appendAudit(tx, this.store.dialect, [entry]));
  }

  private checkQuery(q: EventQuery): void {
    if (q.cursor !== undefined && parseCursor(q.cursor) === null) {
      throw new AppError('validation_failed', 'cursor must be a nextCursor from an earlier page.');
    }
    if (q.from !== undefined && q.to !== undefined && q.from >= q.to) {
      throw new AppError('validation_failed', 'from must be before to.');
    }
    if (!Number.isInteger(q.limit) || q.limit < 1) {
      throw new AppError('validation_failed', 'limit must be a positive whole number.');
    }
  }

  /** One page of the organisation's events, newest first; audited as `audit.read`. */
  async events(orgId: string, q: EventQuery, actor: Actor): Promise<EventPage> {
    this.checkQuery(q);
    const page = await listEvents(this.store.db, orgId, q);
    await this.record({
      orgId,
      actor,
      action: 'audit.read',
      targetType: 'audit_log',
      targetId: orgId,
      details: { count: page.data.length },
    });
    return page;
  }

  /**
   * One page of the events concerning one patient (who sent, viewed or received what, when),
   * newest first. The number is used only to compute its blind index. Audited as
   * `audit.disclosures_read`, with the patient's blind index as its subject.
   */
  async disclosures(orgId: string, phone: string, q: EventQuery, actor: Actor): Promise<EventPage> {
    this.checkQuery(q);
    const subjectIndex = await this.opts.subjectIndexOf(orgId, phone);
    const page = await listEvents(this.store.db, orgId, { ...q, subjectIndex });
    await this.recordDisclosureRead(orgId, subjectIndex, page.data.length, actor);
    return page;
  }

  /** Every event concerning one patient (up to MAX_ACCOUNTING_EVENTS), newest first. */
  async accounting(
    orgId: string,
    phone: string,
    range: { from?: number | undefined; to?: number | undefined },
    actor: Actor,
  ): Promise<{ data: AuditEventView[]; complete: boolean }> {
    this.checkQuery({ ...range, limit: 1 });
    const subjectIndex = await this.opts.subjectIndexOf(orgId, phone);
    const data: AuditEventView[] = [];
    let cursor: string | undefined;
    let complete = true;
    for (;;) {
      const page = await listEvents(this.store.db, orgId, {
        ...range,
        subjectIndex,
        cursor,
        limit: 1000,
      });
      data.push(...page.data);
      if (page.nextCursor === null) break;
      if (data.length >= MAX_ACCOUNTING_EVENTS) {
        complete = false;
        break;
      }
      cursor = page.nextCursor;
    }
    await this.recordDisclosureRead(orgId, subjectIndex, data.length, actor);
    return { data, complete };
  }

  private recordDisclosureRead(
    orgId: string,
    subjectIndex: string,
    count: number,
    actor: Actor,
  ): Promise<void> {
    return this.record({
      orgId,
      actor,
      action: 'audit.disclosures_read',
      targetType: 'patient',
      targetId: `phone:${subjectIndex.slice(0, 16)}`,
      subjectIndex,
      details: { count },
    });
  }

  /**
   * Writes an export of the organisation's trail through `write`. The export is audited
   * (`audit.exported`, with its range and counts) before the first byte is written, so no
   * export leaves unrecorded.
   */
  async export(
    orgId: string,
    range: ExportRange,
    format: ExportFormat,
    write: (chunk: string) => Promise<void>,
    actor: Actor,
  ): Promise<{
    events: number;
    checkpoints: number;
    firstSeq: number | null;
    lastSeq: number | null;
  }> {
    if (range.fromSeq !== undefined && range.toSeq !== undefined && range.fromSeq > range.toSeq) {
      throw new AppError('validation_failed', 'The export range ends before it starts.');
    }
    if (
      range.fromTime !== undefined &&
      range.toTime !== undefined &&
      range.fromTime >= range.toTime
    ) {
      throw new AppError('validation_failed', 'The export range ends before it starts.');
    }
    const signer = await this.signingKeys.activeKey(orgId);
    const plan = await planExport(this.store.db, orgId, range);
    const counts = {
      events: plan.events,
      checkpoints: plan.checkpoints.length,
      firstSeq: plan.firstSeq,
      lastSeq: plan.lastSeq,
    };
    await this.record({
      orgId,
      actor,
      action: 'audit.exported',
      targetType: 'audit_log',
      targetId: orgId,
      details: { ...counts, format },
    });
    await writeExport(
      this.store.db,
      plan,
      format,
      signer,
      await this.signingKeys.trusted(orgId),
      write,
    );
    return counts;
  }
}
