/**
 * @module retention
 * Keep less (45 CFR 164.310(d)(2)(i), disposal; 164.316(b)(2)(i), six-year documentation
 * retention). Each organisation has a retention policy (policy.ts); a sweeper in the worker
 * destroys secure-message content and message bodies that have outlived it, in batches, each
 * batch committed with its `retention.swept` audit event (counts, never contents), so a crash
 * loses nothing and a rerun continues where the last stopped. A legal hold on a patient or
 * on the organisation suspends destruction. Audit events and the consent ledger are never
 * destroyed by Tidings. Message tables are written only through messaging's and portal's own
 * functions (`redactBodiesBefore`, `expireSecureContentBefore`). A hold whose reason was
 * encrypted under a since-shredded data key still lists and lifts (crypto decryptUnlessShredded).
 *
 * Where a sender's carrier can delete its own copy of a message (`deleteCopy`: Twilio), each
 * destroyed message's carrier copy is recorded in `carrier_deletions` in the same batch, then
 * asked of the carrier after the local destruction, so a carrier outage never keeps a body
 * here. A failed ask stays pending and is asked again on the next sweep (up to
 * MAX_CARRIER_DELETE_ATTEMPTS); each batch of answers is audited with counts
 * (`retention.carrier_deleted`).
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Store } from '../store/index.js';
import type { KeyringService } from '../orgs/index.js';
import type { Logger } from '../observability/index.js';
import { CarrierError, type CarrierAdapter } from '../carriers/index.js';
import { appendAudit, SYSTEM_ACTOR, type Actor } from '../audit/index.js';
import { AppError } from '../errors/index.js';
import { decryptUnlessShredded, encrypt, rowAad, type Keyring } from '../crypto/index.js';
import { newId } from '../ids/index.js';
import { redactBodiesBefore } from '../messaging/index.js';
import { expireSecureContentBefore } from '../portal/index.js';
import {
  mergeRetentionPolicy,
  parseRetentionPolicy,
  retentionCutoffs,
  type RetentionPolicy,
  type RetentionPolicyPatch,
} from './policy.js';

export * from './policy.js';

export const HOLD_SCOPES = ['patient', 'organisation'] as const;
export type HoldScope = (typeof HOLD_SCOPES)[number];

export interface LegalHoldView {
  id: string;
  scope: HoldScope;
  /** Blind index of the patient's number (never the number). */
  subjectIndex: string | null;
  /** Null when the data key it was encrypted under has been shredded (`destroyed`). */
  reason: string | null;
  /** The reason was encrypted under a shredded data key and can never be read again. */
  destroyed: boolean;
  placedBy: string;
  placedAt: string;
  liftedBy: string | null;
  liftedAt: string | null;
}

export interface SweepCounts {
  secureMessages: number;
  outboundBodies: number;
  inboundBodies: number;
}

/** What the carriers were asked in one sweep: copies deleted, to ask again, given up, not possible. */
export interface CarrierDeletionCounts {
  deleted: number;
  retrying: number;
  failed: number;
  unsupported: number;
}

/** Asks after which a carrier copy that still cannot be deleted is recorded as `failed`. */
export const MAX_CARRIER_DELETE_ATTEMPTS = 10;
/** Carrier deletions in flight at once (one HTTP request each). */
const CARRIER_DELETE_CONCURRENCY = 8;

export interface SweepResult {
  orgId: string;
  dryRun: boolean;
  /** The whole organisation is under legal hold: nothing was destroyed. */
  held: boolean;
  /** Patients under legal hold whose content was kept. */
  patientsHeld: number;
  counts: SweepCounts;
  /** Carrier copies of destroyed messages asked to be deleted (absent on a dry run). */
  carrierDeletions?: CarrierDeletionCounts;
}

export interface RetentionOptions {
  /** Rows a batch destroys of each kind, each batch its own transaction. */
  batchSize: number;
  sweepIntervalMs: number;
  now: () => number;
  /**
   * The adapter of a sender, to ask its carrier to delete copies (null: none). Without it
   * carrier copies are recorded but nobody is asked.
   */
  carrierFor?: (orgId: string, senderId: string) => Promise<CarrierAdapter | null>;
}

const actorString = (a: Actor) => `${a.type}:${a.id}`;

export class Retention {
  private readonly opts: RetentionOptions;
  private timer: NodeJS.Timeout | undefined;
  private first: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private readonly destroyed: Counter<'kind'>;
  private readonly runs: Counter<'outcome'>;
  private readonly lastRun: Gauge;
  private readonly carrierAsks: Counter<'outcome'>;

  constructor(
    private readonly store: Store,
    private readonly keyrings: KeyringService,
    private readonly subjectIndexOf: (orgId: string, phone: string) => Promise<string>,
    private readonly log: Logger,
    registry: Registry,
    opts: Partial<RetentionOptions> = {},
  ) {
    this.opts = { batchSize: 1000, sweepIntervalMs: 3600_000, now: Date.now, ...opts };
    this.destroyed = new Counter({
      name: 'tidings_retention_destroyed_total',
      help: 'Content destroyed by the retention sweeper, by kind.',
      labelNames: ['kind'] as const,
      registers: [registry],
    });
    this.runs = new Counter({
      name: 'tidings_retention_sweeps_total',
      help: 'Retention sweeps of an organisation, by outcome (done, held, error).',
      labelNames: ['outcome'] as const,
      registers: [registry],
    });
    this.carrierAsks = new Counter({
      name: 'tidings_retention_carrier_deletions_total',
      help: 'Carrier copies of destroyed messages asked to be deleted, by outcome (deleted, retrying, failed).',
      labelNames: ['outcome'] as const,
      registers: [registry],
    });
    this.lastRun = new Gauge({
      name: 'tidings_retention_last_sweep_timestamp_seconds',
      help: 'When the retention sweeper last finished a pass over every organisation.',
      registers: [registry],
    });
  }

  async policy(orgId: string): Promise<RetentionPolicy> {
    const r = await this.store.db
      .selectFrom('retention_policies')
      .select('settings')
      .where('org_id', '=', orgId)
      .executeTakeFirst();
    return parseRetentionPolicy(r?.settings);
  }

  async setPolicy(
    orgId: string,
    patch: RetentionPolicyPatch,
    actor: Actor,
  ): Promise<RetentionPolicy> {
    const next = mergeRetentionPolicy(await this.policy(orgId), patch);
    const now = this.opts.now();
    await this.store.transaction(async (tx) => {
      await tx
        .insertInto('retention_policies')
        .values({ org_id: orgId, settings: JSON.stringify(next), updated_at: now })
        .onConflict((oc) =>
          oc.column('org_id').doUpdateSet({ settings: JSON.stringify(next), updated_at: now }),
        )
        .execute();
      await appendAudit(tx, this.store.dialect, [
        {
          orgId,
          actor,
          action: 'retention.policy_changed',
          targetType: 'retention_policy',
          targetId: orgId,
          details: { ...next },
        },
      ]);
    });
    return next;
  }

  /** Places a hold on one patient (by their number) or on the whole organisation. */
  async placeHold(
    orgId: string,
    input: { scope: HoldScope; phone?: string | undefined; reason: string },
    actor: Actor,
  ): Promise<LegalHoldView> {
    if (input.scope === 'patient' && !input.phone) {
      throw new AppError('validation_failed', 'A hold on a patient needs their phone number.');
    }
    if (input.scope === 'organisation' && input.phone) {
      throw new AppError('validation_failed', 'A hold on the organisation takes no phone number.');
    }
    const index = input.scope === 'patient' ? await this.subjectIndexOf(orgId, input.phone!) : null;
    const keyring = await this.keyrings.get(orgId);
    const id = newId('hold');
    const now = this.opts.now();
    const row = {
      org_id: orgId,
      id,
      scope: input.scope,
      phone_index: index,
      reason_enc: encrypt(keyring, rowAad(orgId, 'legal_holds', id, 'reason'), input.reason),
      placed_by: actorString(actor),
      placed_at: now,
      lifted_by: null,
      lifted_at: null,
    };
    await this.store.transaction(async (tx) => {
      await tx.insertInto('legal_holds').values(row).execute();
      await appendAudit(tx, this.store.dialect, [
        {
          orgId,
          actor,
          action: 'legal_hold.placed',
          targetType: 'legal_hold',
          targetId: id,
          details: { scope: input.scope },
          subjectIndex: index ?? undefined,
        },
      ]);
    });
    return this.view(row, input.reason);
  }

  /**
   * Lifts a hold, found by its id alone: a hold whose reason can no longer be read (its data
   * key was shredded) is lifted like any other, and shows `destroyed`.
   */
  async liftHold(orgId: string, id: string, actor: Actor): Promise<LegalHoldView> {
    const now = this.opts.now();
    const row = await this.store.transaction(async (tx) => {
      const r = await tx
        .selectFrom('legal_holds')
        .selectAll()
        .where('org_id', '=', orgId)
        .where('id', '=', id)
        .where('lifted_at', 'is', null)
        .executeTakeFirst();
      if (!r) throw new AppError('legal_hold_not_found');
      await tx
        .updateTable('legal_holds')
        .set({ lifted_at: now, lifted_by: actorString(actor) })
        .where('org_id', '=', orgId)
        .where('id', '=', id)
        .execute();
      await appendAudit(tx, this.store.dialect, [
        {
          orgId,
          actor,
          action: 'legal_hold.lifted',
          targetType: 'legal_hold',
          targetId: id,
          details: { scope: r.scope },
          subjectIndex: r.phone_index ?? undefined,
        },
      ]);
      return { ...r, lifted_at: now, lifted_by: actorString(actor) };
    });
    return this.view(row, this.reasonOf(await this.keyrings.get(orgId), row));
  }

  /** Holds of the organisation, newest first (`all`: lifted ones too). */
  async holds(orgId: string, all = false): Promise<LegalHoldView[]> {
    const rows = await this.store.db
      .selectFrom('legal_holds')
      .selectAll()
      .where('org_id', '=', orgId)
      .$if(!all, (q) => q.where('lifted_at', 'is', null))
      .orderBy('id', 'desc')
      .execute();
    const keyring = await this.keyrings.get(orgId);
    return rows.map((r) => this.view(r, this.reasonOf(keyring, r)));
  }

  /** Holds in force (for counts: decrypts nothing, so shredded keys do not matter). */
  async holdCount(orgId: string): Promise<number> {
    const r = await this.store.db
      .selectFrom('legal_holds')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('org_id', '=', orgId)
      .where('lifted_at', 'is', null)
      .executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  /** A hold's reason, or null if its data key was shredded. */
  private reasonOf(
    keyring: Keyring,
    r: { org_id: string; id: string; reason_enc: string },
  ): string | null {
    return decryptUnlessShredded(
      keyring,
      rowAad(r.org_id, 'legal_holds', r.id, 'reason'),
      r.reason_enc,
    );
  }

  private view(
    r: {
      id: string;
      scope: string;
      phone_index: string | null;
      placed_by: string;
      placed_at: number;
      lifted_by: string | null;
      lifted_at: number | null;
    },
    reason: string | null,
  ): LegalHoldView {
    return {
      id: r.id,
      scope: r.scope as HoldScope,
      subjectIndex: r.phone_index,
      reason,
      destroyed: reason === null,
      placedBy: r.placed_by,
      placedAt: new Date(Number(r.placed_at)).toISOString(),
      liftedBy: r.lifted_by,
      liftedAt: r.lifted_at === null ? null : new Date(Number(r.lifted_at)).toISOString(),
    };
  }

  /**
   * One pass of the sweeper over one organisation or all: destroys what the policy says is
   * due, batch by batch, or (`dryRun`) counts it and changes nothing.
   */
  async run(opts: { orgId?: string | undefined; dryRun?: boolean } = {}): Promise<SweepResult[]> {
    const orgIds = opts.orgId
      ? [opts.orgId]
      : (await this.store.db.selectFrom('organisations').select('id').execute()).map((o) => o.id);
    const results: SweepResult[] = [];
    for (const orgId of orgIds) {
      try {
        results.push(await this.sweepOrg(orgId, Boolean(opts.dryRun)));
      } catch (e) {
        this.runs.inc({ outcome: 'error' });
        throw e;
      }
    }
    if (!opts.dryRun) this.lastRun.set(this.opts.now() / 1000);
    return results;
  }

  private async sweepOrg(orgId: string, dryRun: boolean): Promise<SweepResult> {
    const holds = await this.store.db
      .selectFrom('legal_holds')
      .select(['scope', 'phone_index'])
      .where('org_id', '=', orgId)
      .where('lifted_at', 'is', null)
      .execute();
    const keep = [
      ...new Set(holds.map((h) => h.phone_index).filter((x): x is string => x !== null)),
    ];
    const counts: SweepCounts = { secureMessages: 0, outboundBodies: 0, inboundBodies: 0 };
    const base = { orgId, dryRun, patientsHeld: keep.length, counts };
    if (holds.some((h) => h.scope === 'organisation')) {
      this.runs.inc({ outcome: 'held' });
      return { ...base, held: true };
    }
    const now = this.opts.now();
    const cut = retentionCutoffs(await this.policy(orgId), now);
    const limit = this.opts.batchSize;
    const runId = newId('ret');
    if (!dryRun) {
      await this.store.db
        .insertInto('retention_runs')
        .values({ org_id: orgId, id: runId, started_at: now, finished_at: null, counts: '{}' })
        .execute();
    }
    for (;;) {
      const batch = await this.store.transaction(async (tx) => {
        const sec = await expireSecureContentBefore(tx, {
          orgId,
          viewedBefore: cut.secureViewedBefore,
          unviewedBefore: cut.secureUnviewedBefore,
          keepIndexes: keep,
          limit,
          dryRun,
        });
        const bodies = await redactBodiesBefore(tx, {
          orgId,
          before: cut.bodiesBefore,
          keepIndexes: keep,
          limit,
          dryRun,
        });
        if (!dryRun && bodies.carrierCopies.length > 0) {
          await tx
            .insertInto('carrier_deletions')
            .values(
              bodies.carrierCopies.map((c) => ({
                org_id: orgId,
                kind: c.kind,
                message_id: c.messageId,
                sender_id: c.senderId,
                carrier_message_id: c.carrierMessageId,
                status: 'pending',
                attempts: 0,
                updated_at: now,
              })),
            )
            .onConflict((oc) => oc.columns(['org_id', 'kind', 'message_id']).doNothing())
            .execute();
        }
        const b: SweepCounts = {
          secureMessages: sec.secureMessages,
          outboundBodies: bodies.outbound,
          inboundBodies: bodies.inbound,
        };
        const total = b.secureMessages + b.outboundBodies + b.inboundBodies;
        if (!dryRun && total > 0) {
          await appendAudit(tx, this.store.dialect, [
            {
              orgId,
              actor: SYSTEM_ACTOR,
              action: 'retention.swept',
              targetType: 'retention_run',
              targetId: runId,
              details: { ...b, patientsHeld: keep.length },
            },
          ]);
        }
        return b;
      });
      counts.secureMessages += batch.secureMessages;
      counts.outboundBodies += batch.outboundBodies;
      counts.inboundBodies += batch.inboundBodies;
      if (dryRun) break;
      this.destroyed.inc({ kind: 'secure_message' }, batch.secureMessages);
      this.destroyed.inc({ kind: 'outbound_body' }, batch.outboundBodies);
      this.destroyed.inc({ kind: 'inbound_body' }, batch.inboundBodies);
      if (
        batch.secureMessages < limit &&
        batch.outboundBodies < limit &&
        batch.inboundBodies < limit
      ) {
        break;
      }
    }
    if (dryRun) return { ...base, held: false };
    // After the local destruction is committed: a carrier outage never keeps a body here.
    const carrierDeletions = await this.askCarriers(orgId, runId);
    await this.store.db
      .updateTable('retention_runs')
      .set({ finished_at: this.opts.now(), counts: JSON.stringify(counts) })
      .where('org_id', '=', orgId)
      .where('id', '=', runId)
      .execute();
    this.runs.inc({ outcome: 'done' });
    return { ...base, held: false, carrierDeletions };
  }

  /**
   * Asks each sender's carrier to delete its copies of destroyed messages still pending, in
   * batches; each copy at most once a sweep. Each batch's answers are committed with one
   * `retention.carrier_deleted` audit event (counts only).
   */
  private async askCarriers(orgId: string, runId: string): Promise<CarrierDeletionCounts> {
    const total: CarrierDeletionCounts = { deleted: 0, retrying: 0, failed: 0, unsupported: 0 };
    const carrierFor = this.opts.carrierFor;
    if (!carrierFor) return total;
    const adapters = new Map<string, Promise<CarrierAdapter | null>>();
    const adapterOf = (senderId: string) => {
      let a = adapters.get(senderId);
      if (!a) {
        a = carrierFor(orgId, senderId).catch(() => null);
        adapters.set(senderId, a);
      }
      return a;
    };
    let after = '';
    for (;;) {
      const rows = await this.store.db
        .selectFrom('carrier_deletions')
        .select(['kind', 'message_id', 'sender_id', 'carrier_message_id', 'attempts'])
        .where('org_id', '=', orgId)
        .where('status', '=', 'pending')
        .where('message_id', '>', after)
        .orderBy('message_id')
        .limit(this.opts.batchSize)
        .execute();
      if (rows.length === 0) break;
      after = rows[rows.length - 1]!.message_id;
      const outcomes: { row: (typeof rows)[number]; status: string; attempts: number }[] = [];
      for (let i = 0; i < rows.length; i += CARRIER_DELETE_CONCURRENCY) {
        const chunk = rows.slice(i, i + CARRIER_DELETE_CONCURRENCY);
        await Promise.all(
          chunk.map(async (row) => {
            const adapter = await adapterOf(row.sender_id);
            if (!adapter?.deleteCopy) {
              outcomes.push({ row, status: 'unsupported', attempts: row.attempts });
              return;
            }
            const attempts = Number(row.attempts) + 1;
            try {
              await adapter.deleteCopy(row.carrier_message_id);
              outcomes.push({ row, status: 'deleted', attempts });
            } catch (e) {
              const again =
                (!(e instanceof CarrierError) || e.retryable) &&
                attempts < MAX_CARRIER_DELETE_ATTEMPTS;
              outcomes.push({ row, status: again ? 'pending' : 'failed', attempts });
            }
          }),
        );
      }
      const b: CarrierDeletionCounts = { deleted: 0, retrying: 0, failed: 0, unsupported: 0 };
      for (const o of outcomes) {
        if (o.status === 'pending') b.retrying += 1;
        else b[o.status as 'deleted' | 'failed' | 'unsupported'] += 1;
      }
      const now = this.opts.now();
      await this.store.transaction(async (tx) => {
        for (const o of outcomes) {
          await tx
            .updateTable('carrier_deletions')
            .set({ status: o.status, attempts: o.attempts, updated_at: now })
            .where('org_id', '=', orgId)
            .where('kind', '=', o.row.kind)
            .where('message_id', '=', o.row.message_id)
            .execute();
        }
        if (b.deleted + b.retrying + b.failed > 0) {
          await appendAudit(tx, this.store.dialect, [
            {
              orgId,
              actor: SYSTEM_ACTOR,
              action: 'retention.carrier_deleted',
              targetType: 'retention_run',
              targetId: runId,
              details: { ...b },
            },
          ]);
        }
      });
      for (const k of ['deleted', 'retrying', 'failed', 'unsupported'] as const) total[k] += b[k];
      this.carrierAsks.inc({ outcome: 'deleted' }, b.deleted);
      this.carrierAsks.inc({ outcome: 'retrying' }, b.retrying);
      this.carrierAsks.inc({ outcome: 'failed' }, b.failed);
      if (b.retrying + b.failed > 0) {
        this.log.warn({ orgId, ...b }, 'carrier did not delete some message copies');
      }
    }
    return total;
  }

  /** The last finished sweep of an organisation, or null. */
  async lastSweep(orgId: string): Promise<{ finishedAt: number; counts: SweepCounts } | null> {
    const r = await this.store.db
      .selectFrom('retention_runs')
      .select(['finished_at', 'counts'])
      .where('org_id', '=', orgId)
      .where('finished_at', 'is not', null)
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    return r
      ? { finishedAt: Number(r.finished_at), counts: JSON.parse(r.counts) as SweepCounts }
      : null;
  }

  /** Starts sweeping on a timer (worker role); the first pass runs soon after start. */
  startSweeper(): void {
    if (this.timer) return;
    const tick = () => {
      if (this.running) return;
      this.running = this.run()
        .catch((e: unknown) =>
          this.log.error({ err: e instanceof Error ? e.name : 'error' }, 'retention sweep failed'),
        )
        .finally(() => (this.running = undefined));
    };
    this.timer = setInterval(tick, this.opts.sweepIntervalMs);
    this.timer.unref();
    this.first = setTimeout(tick, Math.min(5_000, this.opts.sweepIntervalMs));
    this.first.unref();
  }

  async stopSweeper(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.first) clearTimeout(this.first);
    this.timer = undefined;
    await this.running;
  }
}
