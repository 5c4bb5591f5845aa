/**
 * @module dispatch/worker
 * The dispatch worker: claims due messages in batches, honours each sender's rate limit,
 * submits to the carrier, records the carrier's id, retries transient failures with
 * exponential backoff and jitter up to a limit, and fails permanent ones with a reason code.
 * It also applies the carrier's delivery receipts and hands inbound texts to messaging.
 *
 * Delivery is at least once: if the process dies after the carrier accepted a message but
 * before the result was committed, the lease expires and the message is submitted again.
 * That window is the batches in flight (`batchesInFlight`, docs/durability.md).
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Db, Store } from '../store/index.js';
import { GroupCommitter } from '../store/group-commit.js';
import { appendAudit, SYSTEM_ACTOR, type AuditEntry } from '../audit/index.js';
import type {
  DispatchMessage,
  GateItem,
  GateVerdict,
  Messaging,
  StatusChange,
} from '../messaging/index.js';
import {
  CarrierError,
  type CarrierAdapter,
  type CarrierEvent,
  type ReceiptStatus,
} from '../carriers/index.js';
import type { Logger, Metrics } from '../observability/index.js';
import { isAppError } from '../errors/index.js';
import type { Organisations, Sender } from '../orgs/index.js';
import {
  claimJobs,
  completeJobs,
  countJobs,
  renewLeases,
  rescheduleJob,
  type ClaimedJob,
} from './queue.js';
import { SegmentLimiter, type LimitedSender } from './segment-limit.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { IdleWait } from '../runtime/idle.js';
import type { DispatchCandidate, DispatchHold, HeldBy } from '../consent/send-rules.js';

export interface WorkerOptions {
  batchSize: number;
  /** Claimed batches worked on at once (the next is claimed while one is out). */
  batchesInFlight: number;
  leaseMs: number;
  maxAttempts: number;
  /** How long to sleep when the queue is empty. */
  idlePollMs: number;
  /** First retry delay; doubles each attempt up to `maxBackoffMs`. */
  baseBackoffMs: number;
  maxBackoffMs: number;
  /** Failures in a row (transient or throttled) that open a carrier's circuit breaker. */
  breakerThreshold: number;
  /** How long an open breaker sends through the secondary sender before trying again. */
  breakerOpenMs: number;
  /** How long a text from a sender a risk alert paused waits before dispatch looks again. */
  pausedRecheckMs: number;
}

export const DEFAULT_WORKER_OPTIONS: WorkerOptions = {
  batchSize: 200,
  batchesInFlight: 2,
  leaseMs: 60_000,
  maxAttempts: 8,
  idlePollMs: 100,
  baseBackoffMs: 2_000,
  maxBackoffMs: 10 * 60_000,
  breakerThreshold: 5,
  breakerOpenMs: 30_000,
  pausedRecheckMs: 30_000,
};

type Outcome =
  | {
      kind: 'sent';
      job: ClaimedJob;
      carrierMessageId: string;
      carrier: string;
      /** The carrier may have it twice (resubmitted after a dropped connection). */
      possibleDuplicate?: boolean;
    }
  | { kind: 'retry'; job: ClaimedJob; dueAt: number; code: string }
  | { kind: 'failed'; job: ClaimedJob; code: string; reason: string; optedOutTo?: string }
  | { kind: 'canceled'; job: ClaimedJob; code: string }
  | { kind: 'held'; job: ClaimedJob; dueAt: number; heldBy: HeldBy }
  /** The sender's daily segment cap is spent: the message waits for the next day. */
  | { kind: 'deferred'; job: ClaimedJob; dueAt: number }
  | { kind: 'paused'; job: ClaimedJob; dueAt: number }
  | { kind: 'skip'; job: ClaimedJob };

/** Quiet hours and frequency caps, checked again before each submission (consent/send-rules). */
export interface DispatchSendRules {
  checkAtDispatch(c: DispatchCandidate): Promise<DispatchHold>;
}

/** What dispatch asks of the consent engine. */
export interface DispatchConsent {
  /** Null when the message may go now, or the code that stops it. */
  check(db: Db, items: readonly GateItem[]): Promise<GateVerdict[]>;
  /** The carrier said the recipient opted out: record it, inside `tx`. */
  carrierOptOut(
    tx: Db,
    e: { orgId: string; to: string; messageId: string; carrierCode: string },
  ): Promise<void>;
}

interface Receipt {
  carrierMessageId: string;
  status: ReceiptStatus;
  errorCode?: string | undefined;
}

/**
 * How long a submission's result or a receipt waits for others to share its commit while
 * submissions are still out. Results come back a few at a time (a send window's worth, or
 * less); without the wait each few would pay a commit of their own, which at a window of 10
 * costs more than the rest of the pipeline (docs/performance.md). With nothing else out
 * (light traffic) there is nothing to wait for, and the commit is immediate.
 */
const RECORD_LINGER_MS = 5;

/** How often, and how long apart, a receipt that found no sent message is tried again. */
const RECEIPT_RETRIES = 10;
const RECEIPT_RETRY_MS = 500;

/** Exponential backoff with jitter: a random delay in [½·d, d], d = base·2^(attempt−1). */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number): number {
  const d = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(d / 2 + Math.random() * (d / 2));
}

export class DispatchWorker {
  readonly owner = `worker-${randomUUID()}`;
  /**
   * Senders a risk alert paused (risk/RiskMonitor.isSenderPaused): their texts stay queued,
   * without counting an attempt, until an admin resumes them. Set by the runtime.
   */
  isSenderPaused: ((orgId: string, senderId: string) => Promise<boolean>) | undefined;
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly idle = new IdleWait();
  private readonly limiter: SegmentLimiter;
  /** Per sender's carrier: when open, messages go through the org's secondary sender. */
  readonly breaker: CircuitBreaker;
  private readonly outcomes: GroupCommitter<Outcome, void>;
  private readonly receipts: GroupCommitter<Receipt, boolean>;
  /** The last consent check before submission, shared by the messages reaching it together. */
  private readonly consentChecks: GroupCommitter<GateItem, GateVerdict>;
  private readonly opts: WorkerOptions;
  /** Submissions started and not yet finished (their results lingered for, see above). */
  private submitting = 0;
  private depthTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: Store,
    private readonly messaging: Messaging,
    private readonly orgs: Organisations,
    /** The adapter that sends for a sender (its configured carrier instance). */
    private readonly carrierFor: (sender: Sender) => CarrierAdapter | Promise<CarrierAdapter>,
    /** Sources of receipts and inbound messages: adapters, or a registry of them. */
    carriers: readonly Pick<CarrierAdapter, 'onEvent'>[],
    private readonly log: Logger,
    private readonly metrics: Metrics,
    opts: Partial<WorkerOptions> = {},
    private readonly consent?: DispatchConsent,
    private readonly sendRules?: DispatchSendRules,
  ) {
    this.opts = { ...DEFAULT_WORKER_OPTIONS, ...opts };
    this.limiter = new SegmentLimiter(store.db);
    this.breaker = new CircuitBreaker({
      threshold: this.opts.breakerThreshold,
      openMs: this.opts.breakerOpenMs,
    });
    const linger = () => (this.submitting > 0 ? RECORD_LINGER_MS : 0);
    this.outcomes = new GroupCommitter((b) => this.commitOutcomes(b), 500, undefined, linger);
    this.receipts = new GroupCommitter((b) => this.commitReceipts(b), 500, undefined, linger);
    this.consentChecks = new GroupCommitter(
      (items) => this.consent!.check(this.store.db, items),
      500,
    );
    for (const c of carriers) c.onEvent((e) => this.onCarrierEvent(e));
  }

  startWorker(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
    this.depthTimer = setInterval(() => {
      countJobs(this.store.db).then(
        (n) => this.metrics.queueDepth.set(n),
        () => undefined,
      );
    }, 5_000);
    this.depthTimer.unref();
    this.log.info({ owner: this.owner }, 'dispatch worker started');
  }

  /** Stops claiming, waits for in-flight submissions and their records. */
  async stopWorker(): Promise<void> {
    this.running = false;
    if (this.depthTimer) clearInterval(this.depthTimer);
    this.idle.wake();
    await this.loop;
    await this.outcomes.idle();
    await this.receipts.idle();
  }

  /** Wakes an idle worker (new messages were accepted in this process). */
  nudge(): void {
    this.idle.wake();
  }

  private async run(): Promise<void> {
    const active = new Set<Promise<void>>();
    // A batch paced by a slow sender can outlast the lease: renew it while we work, so no
    // other worker takes these jobs from a live one.
    const renewal = setInterval(() => {
      if (active.size === 0) return;
      renewLeases(this.store.db, this.owner, this.opts.leaseMs).catch((e: unknown) =>
        this.log.error({ err: errorSummary(e) }, 'renewing leases failed'),
      );
    }, this.opts.leaseMs / 3);
    try {
      while (this.running) {
        if (active.size >= this.opts.batchesInFlight) {
          await Promise.race(active);
          continue;
        }
        const claimed = await this.claim();
        if (claimed.length === 0) {
          await this.idle.sleep(this.opts.idlePollMs);
          continue;
        }
        // The next batch is claimed while this one's submissions are out, so the carrier's
        // send window does not run dry between batches.
        const work = this.work(claimed).finally(() => active.delete(work));
        active.add(work);
      }
    } finally {
      await Promise.all(active);
      clearInterval(renewal);
    }
  }

  /** Leases the next due jobs and marks their messages `sending`; none on failure. */
  private async claim(): Promise<ClaimedJob[]> {
    try {
      return await this.store.transaction(async (tx) => {
        const jobs = await claimJobs(
          tx,
          this.store.dialect,
          this.owner,
          this.opts.batchSize,
          this.opts.leaseMs,
        );
        await this.messaging.setStatusInTx(
          tx,
          jobs.map((j) => ({ orgId: j.orgId, id: j.messageId, status: 'sending' })),
        );
        return jobs;
      });
    } catch (e) {
      this.log.error({ err: errorSummary(e) }, 'claiming jobs failed');
      return [];
    }
  }

  /** Submits a claimed batch and records every outcome. Never rejects. */
  private async work(claimed: readonly ClaimedJob[]): Promise<void> {
    try {
      const pre = await this.prepare(claimed);
      this.submitting += claimed.length;
      await Promise.all(
        claimed.map((job) =>
          this.submit(job, pre)
            .finally(() => (this.submitting -= 1))
            .then((o) => this.outcomes.submit(o)),
        ),
      );
    } catch (e) {
      // The results were not recorded; the jobs are claimed again when the lease expires.
      this.log.error({ err: errorSummary(e) }, 'recording dispatch results failed');
    }
  }

  /**
   * The messages of a claimed batch, decrypted, read in one statement instead of one per
   * message. A failure here is a failure of each message's own read (`submit` reads again).
   */
  private async prepare(jobs: readonly ClaimedJob[]): Promise<Map<string, DispatchMessage>> {
    try {
      return await this.messaging.loadManyForDispatch(
        jobs.map((j) => ({ orgId: j.orgId, id: j.messageId })),
      );
    } catch (e) {
      this.log.error({ err: errorSummary(e) }, 'reading a claimed batch failed');
      return new Map();
    }
  }

  private async submit(job: ClaimedJob, pre: Map<string, DispatchMessage>): Promise<Outcome> {
    let msgTo: string | undefined;
    // Prior express consent (a recorded opt-in to the program), for the caps.
    let express = false;
    try {
      const msg =
        pre.get(job.messageId) ?? (await this.messaging.loadForDispatch(job.orgId, job.messageId));
      msgTo = msg?.to;
      if (!msg || (msg.status !== 'queued' && msg.status !== 'sending')) {
        return { kind: 'skip', job };
      }
      const senders = await this.orgs.senders(job.orgId);
      const sender = senders.find((s) => s.id === msg.senderId);
      if (!sender) return { kind: 'failed', job, code: 'sender_removed', reason: 'config' };
      if (this.isSenderPaused && (await this.isSenderPaused(job.orgId, sender.id))) {
        return { kind: 'paused', job, dueAt: Date.now() + this.opts.pausedRecheckMs };
      }
      // The sender's carrier keeps failing: send through the secondary sender, if there is one.
      let via = sender;
      if (!this.breaker.allow(sender.id)) {
        const secondary = senders.find((s) => s.isSecondary && s.id !== sender.id);
        if (secondary) via = secondary;
      }
      const capped = await this.pace(via, msg.segments);
      if (capped !== undefined) return { kind: 'deferred', job, dueAt: capped };
      // Consent is checked again as late as possible, right before the submission: an
      // opt-out committed while this message waited (in the queue or for the rate limiter)
      // stops it here. Messages reaching this point together share one read.
      if (this.consent && msg.kind !== 'consent_reply') {
        const verdict = await this.consentChecks.submit({
          orgId: job.orgId,
          toIndex: msg.toIndex,
          program: msg.program,
        });
        const refused = verdict?.refused ?? null;
        if (refused) {
          return {
            kind: 'canceled',
            job,
            code: refused === 'recipient_opted_out' ? 'opted_out' : refused,
          };
        }
        express = verdict?.express ?? false;
      }
      // Quiet hours and caps again: time has passed since acceptance, and a retry may fall
      // outside the window. Replies to STOP, HELP and START are never held.
      if (this.sendRules) {
        const hold = await this.sendRules.checkAtDispatch({
          orgId: job.orgId,
          messageId: job.messageId,
          to: msg.to,
          toIndex: msg.toIndex,
          program: msg.program,
          kind: msg.kind,
          hasExpressConsent: express,
        });
        if (hold) {
          return 'cancel' in hold
            ? { kind: 'canceled', job, code: hold.cancel }
            : { kind: 'held', job, dueAt: hold.deferTo, heldBy: hold.heldBy };
        }
      }
      const carrier = await this.carrierFor(via);
      let res;
      try {
        res = await carrier.submit({
          messageId: job.messageId,
          orgId: job.orgId,
          senderId: via.id,
          to: msg.to,
          from: via === sender ? msg.from : via.number,
          body: msg.body,
          segments: msg.segments,
        });
      } catch (e) {
        if (e instanceof CarrierError) {
          // Ids and the carrier's code only: never the number or the text.
          this.log.warn(
            {
              messageId: job.messageId,
              senderId: via.id,
              carrier: carrier.name,
              failure: e.kind,
              code: e.carrierCode,
              attempt: job.attempts,
            },
            'carrier did not take a submission',
          );
        }
        if (e instanceof CarrierError && (e.kind === 'transient' || e.kind === 'throttled')) {
          const secondary = senders.find((s) => s.isSecondary && s.id !== via.id);
          if (this.breaker.failure(via.id) === 'opened' && secondary) {
            this.auditBreaker(via, 'carrier.failover', { to: secondary.id });
          }
        }
        throw e;
      }
      if (this.breaker.success(via.id) === 'recovered') {
        this.auditBreaker(via, 'carrier.recovered', {});
      }
      return {
        kind: 'sent',
        job,
        carrierMessageId: res.carrierMessageId,
        carrier: carrier.name,
        ...(res.possibleDuplicate ? { possibleDuplicate: true } : {}),
      };
    } catch (e) {
      // Its data key was shredded: the message can never be read, so it is never sent.
      if (isAppError(e) && e.code === 'data_key_destroyed') {
        return { kind: 'failed', job, code: 'data_key_destroyed', reason: 'shredded' };
      }
      const err =
        e instanceof CarrierError ? e : new CarrierError('transient', 'INTERNAL_SUBMIT_ERROR');
      if (!(e instanceof CarrierError)) {
        this.log.error({ messageId: job.messageId, err: errorSummary(e) }, 'submit failed');
      }
      if (err.retryable && job.attempts < this.opts.maxAttempts) {
        const delay = backoffDelay(job.attempts, this.opts.baseBackoffMs, this.opts.maxBackoffMs);
        return { kind: 'retry', job, dueAt: Date.now() + delay, code: err.carrierCode };
      }
      return {
        kind: 'failed',
        job,
        code: err.retryable ? 'max_attempts' : err.kind,
        reason: err.carrierCode,
        ...(err.kind === 'opted_out' && msgTo !== undefined ? { optedOutTo: msgTo } : {}),
      };
    }
  }

  /** Records a breaker's change of state (in a small transaction of its own). */
  private auditBreaker(
    sender: Sender,
    action: 'carrier.failover' | 'carrier.recovered',
    details: Record<string, string>,
  ): void {
    this.log.warn({ senderId: sender.id, carrier: sender.carrier, action }, 'carrier breaker');
    this.store
      .transaction((tx) =>
        appendAudit(tx, this.store.dialect, [
          {
            orgId: sender.orgId,
            actor: SYSTEM_ACTOR,
            action,
            targetType: 'sender',
            targetId: sender.id,
            details: { carrier: sender.carrier, ...details },
          },
        ]),
      )
      .catch((e: unknown) => this.log.error({ err: errorSummary(e) }, 'auditing breaker failed'));
  }

  /**
   * Waits until the sender may send `segments` more (per second, across every worker); returns
   * when the next day starts instead if its daily cap is spent.
   */
  private async pace(sender: LimitedSender, segments: number): Promise<number | undefined> {
    for (;;) {
      const r = await this.limiter.reserve(sender, Math.max(1, segments));
      if (r.ok) return undefined;
      if ('deferUntil' in r) return r.deferUntil;
      await new Promise((resolve) => setTimeout(resolve, r.waitMs));
    }
  }

  private async commitOutcomes(batch: Outcome[]): Promise<void[]> {
    await this.store.transaction(async (tx) => {
      const changes: StatusChange[] = [];
      const audits: AuditEntry[] = [];
      const done: ClaimedJob[] = [];
      for (const o of batch) {
        const { orgId, messageId: id, attempts } = o.job;
        switch (o.kind) {
          case 'sent':
            changes.push({
              orgId,
              id,
              status: 'sent',
              carrierMessageId: o.carrierMessageId,
              attempts,
            });
            audits.push({
              orgId,
              actor: SYSTEM_ACTOR,
              action: 'message.sent',
              targetType: 'message',
              targetId: id,
              details: {
                attempt: attempts,
                carrier: o.carrier,
                ...(o.possibleDuplicate ? { possibleDuplicate: true } : {}),
              },
            });
            done.push(o.job);
            break;
          case 'retry':
            changes.push({ orgId, id, status: 'queued', attempts, failureCode: o.code });
            await rescheduleJob(tx, this.owner, o.job, o.dueAt);
            break;
          case 'held':
            // Not an attempt: nothing was submitted.
            changes.push({
              orgId,
              id,
              status: 'queued',
              attempts: attempts - 1,
              heldUntil: { at: o.dueAt, by: o.heldBy },
            });
            await rescheduleJob(tx, this.owner, o.job, o.dueAt, { refundAttempt: true });
            audits.push({
              orgId,
              actor: SYSTEM_ACTOR,
              action: 'message.rescheduled',
              targetType: 'message',
              targetId: id,
              details: { heldBy: o.heldBy, sendAt: o.dueAt },
            });
            break;
          case 'paused':
            // Not an attempt, and not audited per text: the pause itself is audited (risk).
            changes.push({ orgId, id, status: 'queued', attempts: attempts - 1 });
            await rescheduleJob(tx, this.owner, o.job, o.dueAt, { refundAttempt: true });
            break;
          case 'deferred':
            // Not an attempt: nothing was submitted.
            changes.push({ orgId, id, status: 'queued', attempts: attempts - 1 });
            await rescheduleJob(tx, this.owner, o.job, o.dueAt, { refundAttempt: true });
            audits.push({
              orgId,
              actor: SYSTEM_ACTOR,
              action: 'message.rescheduled',
              targetType: 'message',
              targetId: id,
              details: { heldBy: 'sender_daily_cap', sendAt: o.dueAt },
            });
            break;
          case 'failed':
            changes.push({
              orgId,
              id,
              status: 'failed',
              attempts,
              failureCode: o.code,
              failureReason: o.reason,
            });
            audits.push({
              orgId,
              actor: SYSTEM_ACTOR,
              action: 'message.failed',
              targetType: 'message',
              targetId: id,
              details: { code: o.code, attempt: attempts },
            });
            if (o.optedOutTo !== undefined && this.consent) {
              await this.consent.carrierOptOut(tx, {
                orgId,
                to: o.optedOutTo,
                messageId: id,
                carrierCode: o.reason,
              });
            }
            done.push(o.job);
            break;
          case 'canceled':
            changes.push({ orgId, id, status: 'canceled', attempts, failureCode: o.code });
            audits.push({
              orgId,
              actor: SYSTEM_ACTOR,
              action: 'message.canceled',
              targetType: 'message',
              targetId: id,
              details: { code: o.code },
            });
            done.push(o.job);
            break;
          case 'skip':
            done.push(o.job);
            break;
        }
      }
      await this.messaging.setStatusInTx(tx, changes);
      await completeJobs(tx, this.owner, done);
      await appendAudit(tx, this.store.dialect, audits);
    });
    for (const o of batch) this.metrics.dispatched.inc({ outcome: o.kind });
    return batch.map(() => undefined);
  }

  /** The listener on every adapter's event stream: applies the event, logs a failure. */
  private onCarrierEvent(e: CarrierEvent): void {
    this.applyCarrierEvent(e).catch((err: unknown) =>
      this.log.error(
        { err: errorSummary(err), event: e.type },
        e.type === 'inbound' ? 'storing inbound message failed' : 'applying receipt failed',
      ),
    );
  }

  /**
   * Applies one carrier event and resolves once it is committed — an inbound text stored
   * (after the keyword engine saw it), a receipt applied to its message — so a carrier
   * webhook answers only then, and a crash before that loses nothing the carrier thinks
   * was delivered (docs/carriers.md). Rejects when the commit fails.
   *
   * Resolves `unmatched_receipt` when a receipt still finds no sent message with its id
   * after the few seconds it is tried again (it can overtake the record of its submission):
   * the webhook then asks the carrier to deliver it again. `unknown_number`: an inbound text
   * to a number no organisation owns; `duplicate`: an inbound text already stored (the
   * carrier delivered its webhook again).
   */
  async applyCarrierEvent(
    e: CarrierEvent,
  ): Promise<'applied' | 'duplicate' | 'unknown_number' | 'unmatched_receipt'> {
    if (e.type === 'receipt') {
      const r = { carrierMessageId: e.carrierMessageId, status: e.status, errorCode: e.errorCode };
      return (await this.applyReceipt(r)) ? 'applied' : 'unmatched_receipt';
    }
    const r = await this.messaging.receiveInbound(e);
    if (!r) {
      this.log.warn('inbound message for a number no organisation owns');
      return 'unknown_number';
    }
    if (r.duplicate) return 'duplicate';
    this.metrics.inbound.inc();
    return 'applied';
  }

  /**
   * A receipt can overtake the record of its submission: it is tried again every
   * RECEIPT_RETRY_MS, RECEIPT_RETRIES times, before it counts as unmatched.
   */
  private async applyReceipt(r: Receipt): Promise<boolean> {
    for (let tries = 0; ; tries++) {
      if (await this.receipts.submit(r)) return true;
      if (tries >= RECEIPT_RETRIES) return false;
      await sleep(RECEIPT_RETRY_MS, undefined, { ref: false });
    }
  }

  private async commitReceipts(batch: Receipt[]): Promise<boolean[]> {
    return this.store.transaction(async (tx) => {
      const applied: boolean[] = [];
      const changes: StatusChange[] = [];
      const found = await this.messaging.findByCarrierIds(
        tx,
        batch.map((r) => r.carrierMessageId),
      );
      for (const r of batch) {
        const m = found.get(r.carrierMessageId);
        if (!m || m.status !== 'sent') {
          // Unknown yet (still being recorded), or already final: nothing to do now.
          applied.push(Boolean(m && m.status !== 'sending'));
          continue;
        }
        changes.push({
          orgId: m.orgId,
          id: m.id,
          status: r.status,
          ...(r.errorCode ? { failureCode: r.errorCode } : {}),
        });
        this.metrics.receipts.inc({ status: r.status });
        applied.push(true);
      }
      await this.messaging.setStatusInTx(tx, changes);
      return applied;
    });
  }
}

/** An error's class and code, never its message (which might quote data). */
export function errorSummary(e: unknown): { type: string; code?: string } {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return { type: e.name, ...(typeof code === 'string' ? { code } : {}) };
  }
  return { type: typeof e };
}
