/**
 * @module retention
 * Keep less (45 CFR 164.310(d)(2)(i), disposal; 164.316(b)(2)(i), six-year documentation
 * retention). Each organisation has a retention policy (policy.ts); a sweeper in the worker
 * destroys secure-message content and message bodies that have outlived it, in batches, each
 * batch committed with its `retention.swept` audit event (counts, never contents), so a crash
 * loses nothing and a rerun continues where the last stopped. A legal hold on a patient or
 * on the organisation suspends destruction. Audit events and the consent ledger are never
 * destroyed by Tidings. Message tables are written only through messaging's and portal's own
 * functions (`redactBodiesBefore`, `expireSecureContentBefore`).
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Store } from '../store/index.js';
import type { KeyringService } from '../orgs/index.js';
import type { Logger } from '../observability/index.js';
import { appendAudit, SYSTEM_ACTOR, type Actor } from '../audit/index.js';
import { AppError } from '../errors/index.js';
import { decrypt, encrypt, rowAad } from '../crypto/index.js';
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
  reason: string;
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

export interface SweepResult {
  orgId: string;
  dryRun: boolean;
  /** The whole organisation is under legal hold: nothing was destroyed. */
  held: boolean;
  /** Patients under legal hold whose content was kept. */
  patientsHeld: number;
  counts: SweepCounts;
}

export interface RetentionOptions {
  /** Rows a batch destroys of each kind, each batch its own transaction. */
  batchSize: number;
  sweepIntervalMs: number;
  now: () => number;
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
    const keyring = await this.keyrings.get(orgId);
    return this.view(
      row,
      decrypt(keyring, rowAad(orgId, 'legal_holds', id, 'reason'), row.reason_enc),
    );
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
    return rows.map((r) =>
      this.view(r, decrypt(keyring, rowAad(orgId, 'legal_holds', r.id, 'reason'), r.reason_enc)),
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
    reason: string,
  ): LegalHoldView {
    return {
      id: r.id,
      scope: r.scope as HoldScope,
      subjectIndex: r.phone_index,
      reason,
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
    if (!dryRun) {
      await this.store.db
        .updateTable('retention_runs')
        .set({ finished_at: this.opts.now(), counts: JSON.stringify(counts) })
        .where('org_id', '=', orgId)
        .where('id', '=', runId)
        .execute();
      this.runs.inc({ outcome: 'done' });
    }
    return { ...base, held: false };
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
