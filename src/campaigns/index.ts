/**
 * @module campaigns
 * One template to a list (issue 7, "Campaigns"): flu clinic days, office moves. The list
 * arrives as CSV (a `phone` column and one column per template slot) and is stored
 * encrypted. Running a campaign hands each recipient to the send pipeline, so consent, the
 * content guard, quiet hours, caps and sender rate limits apply exactly as to any text; a
 * refusal is recorded per recipient, never retried. A run checks between batches whether the
 * campaign was paused; a resumed campaign carries on with the recipients still pending (each
 * send carries an Idempotency-Key, so a recipient interrupted mid-batch is not texted twice).
 * Owns `campaigns` and `campaign_recipients`.
 */
import { parse as parseCsv } from 'csv-parse/sync';
import { sql } from 'kysely';
import { insertRows, type Db, type Store } from '../store/index.js';
import { appendAudit, type Actor } from '../audit/index.js';
import { blindIndex, decrypt, encrypt, rowAad } from '../crypto/index.js';
import { AppError, isAppError } from '../errors/index.js';
import { newId } from '../ids/index.js';
import { normalisePhone, type PhonePolicy } from '../contacts/index.js';
import type { KeyringService } from '../orgs/index.js';
import {
  countSegments,
  type AcceptResult,
  type GateItem,
  type GateVerdict,
  type Program,
} from '../messaging/index.js';
import type { AppointmentFilter } from '../reminders/index.js';

export const CAMPAIGN_STATUSES = ['ready', 'running', 'paused', 'completed'] as const;
export type CampaignStatus = (typeof CAMPAIGN_STATUSES)[number];

/** Largest list one campaign takes. */
export const MAX_CAMPAIGN_RECIPIENTS = 100_000;
/** Recipients handed to the pipeline at once (its group commit batches them). */
const BATCH = 250;
/** Rows with a problem that a list check names one by one (the rest are only counted). */
export const MAX_PROBLEMS_LISTED = 200;
/** Campaigns one listing returns at most. */
export const MAX_CAMPAIGNS_LISTED = 200;

export interface CampaignProgress {
  total: number;
  /** Not yet handed to the pipeline. */
  pending: number;
  /** Accepted and waiting in the queue (or being sent). */
  queued: number;
  sent: number;
  delivered: number;
  /** Failed at the carrier, expired, refused for another reason, or not a usable number. */
  failed: number;
  suppressedByConsent: number;
  divertedByGuard: number;
}

export interface CampaignView {
  id: string;
  name: string;
  template: string;
  status: CampaignStatus;
  total: number;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
  progress: CampaignProgress;
}

export interface CampaignDeps {
  phone: PhonePolicy;
  send: (
    orgId: string,
    actor: Actor,
    req: {
      to: string;
      template: string;
      variables: Record<string, string>;
      idempotencyKey: string;
    },
  ) => Promise<AcceptResult>;
  templateSlots: (orgId: string, template: string) => Promise<readonly string[]>;
  /** The patients a saved filter selects (reminders' appointments). */
  recipientsFor: (
    orgId: string,
    filter: AppointmentFilter,
  ) => Promise<{ phone: string; firstName: string }[]>;
  messageStatuses: (orgId: string, ids: readonly string[]) => Promise<Map<string, string>>;
  /** The template filled with one row's values, as a send would carry it (typed slots). */
  render: (
    orgId: string,
    template: string,
    variables: Record<string, string>,
  ) => Promise<{ body: string; program: Program }>;
  /** The consent engine's verdict per number and program (the pipeline's own gate). */
  gate: (db: Db, items: readonly GateItem[]) => Promise<GateVerdict[]>;
}

/** One row of a list that would not be texted, and why (a code; never the row's values). */
export interface ListProblem {
  /** The data row, counting from 1 after the header row. */
  row: number;
  /**
   * `invalid_phone_number` (or another phone code), `missing_value` (an empty slot column),
   * a template variable code, or a consent code (`recipient_opted_out`, `consent_required`).
   */
  code: string;
  /** The slot, for `missing_value`. */
  slot: string | null;
}

/** What a list would do before a campaign is created from it (nothing is stored). */
export interface ListCheck {
  total: number;
  /** Rows that would be handed to the send pipeline and accepted. */
  valid: number;
  /** Rows with an unusable number or slot value: they would fail. */
  invalid: number;
  /** Rows whose number may not be texted in the template's program. */
  suppressedByConsent: number;
  /** Template slots with no column: the list would be refused. */
  missingColumns: string[];
  program: Program | null;
  /** The first rows with a problem, in order (at most MAX_PROBLEMS_LISTED). */
  problems: ListProblem[];
  /** The text the first valid row would receive. */
  preview: { row: number; body: string; segments: number; encoding: string } | null;
}

export interface CampaignRiskFigures {
  campaignId: string;
  attempted: number;
  failed: number;
  delivered: number;
  optOuts: number;
}

const CONSENT_CODES = new Set(['recipient_opted_out', 'consent_required']);
const iso = (t: number | null) => (t === null ? null : new Date(Number(t)).toISOString());

export class Campaigns {
  private readonly runs = new Map<string, Promise<void>>();
  private closing = false;

  constructor(
    private readonly store: Store,
    private readonly keyrings: KeyringService,
    private readonly deps: CampaignDeps,
  ) {}

  /**
   * Creates a campaign from CSV (header row; `phone` plus one column per template slot), or
   * from a saved filter over appointments (their patients; `variables` fill the template's
   * other slots, the same for everyone). The filter is kept with the campaign.
   */
  async create(
    orgId: string,
    actor: Actor,
    input: { name: string; template: string } & (
      | { csv: string }
      | { filter: AppointmentFilter; variables?: Record<string, string> | undefined }
    ),
  ): Promise<CampaignView> {
    const name = input.name.trim();
    if (!name || name.length > 200) {
      throw new AppError('validation_failed', 'name must be 1 to 200 characters.');
    }
    const slots = await this.deps.templateSlots(orgId, input.template);
    let rows: Record<string, string>[];
    if ('filter' in input) {
      const people = await this.deps.recipientsFor(orgId, input.filter);
      rows = people.map((p) => ({ ...input.variables, phone: p.phone, firstName: p.firstName }));
      if (rows.length === 0) {
        throw new AppError('validation_failed', 'The filter selects no one with a number.');
      }
    } else {
      rows = this.parseList(input.csv);
    }
    if (!('phone' in rows[0]!)) {
      throw new AppError('validation_failed', 'The list needs a header row with a phone column.');
    }
    return this.insert(orgId, actor, { ...input, name }, slots, rows);
  }

  /**
   * Checks a CSV list against a template without storing anything: each row's number, each
   * slot's value (typed, as a send would render it) and the number's consent in the
   * template's program; with the text the first good row would get. Audited with counts.
   */
  async check(
    orgId: string,
    actor: Actor,
    input: { template: string; csv: string },
  ): Promise<ListCheck> {
    const slots = await this.deps.templateSlots(orgId, input.template);
    const rows = this.parseList(input.csv);
    if (!('phone' in rows[0]!)) {
      throw new AppError('validation_failed', 'The list needs a header row with a phone column.');
    }
    if (rows.length > MAX_CAMPAIGN_RECIPIENTS) {
      throw new AppError('validation_failed', `At most ${MAX_CAMPAIGN_RECIPIENTS} recipients.`);
    }
    const result: ListCheck = {
      total: rows.length,
      valid: 0,
      invalid: 0,
      suppressedByConsent: 0,
      missingColumns: slots.filter((s) => !(s in rows[0]!)),
      program: null,
      problems: [],
      preview: null,
    };
    const problem = (row: number, code: string, slot: string | null = null) => {
      if (result.problems.length < MAX_PROBLEMS_LISTED) result.problems.push({ row, code, slot });
    };
    const keyring = await this.keyrings.get(orgId);
    const good: {
      row: number;
      index: string;
      rendered: Awaited<ReturnType<CampaignDeps['render']>>;
    }[] = [];
    for (const [seq, r] of rows.entries()) {
      const row = seq + 1;
      let phone: string;
      try {
        phone = normalisePhone(r.phone ?? '', this.deps.phone);
      } catch (e) {
        result.invalid++;
        problem(row, isAppError(e) ? e.code : 'invalid_phone_number');
        continue;
      }
      if (result.missingColumns.length > 0) continue;
      const empty = slots.find((s) => (r[s] ?? '').trim() === '');
      if (empty !== undefined) {
        result.invalid++;
        problem(row, 'missing_value', empty);
        continue;
      }
      const vars = Object.fromEntries(slots.map((s) => [s, r[s] ?? '']));
      try {
        const rendered = await this.deps.render(orgId, input.template, vars);
        good.push({ row, index: blindIndex(keyring, phone), rendered });
      } catch (e) {
        if (!isAppError(e) || !e.code.startsWith('template_variable')) throw e;
        result.invalid++;
        problem(row, e.code);
      }
    }
    const consentOf = new Map<number, string | null>();
    for (let i = 0; i < good.length; i += 500) {
      const chunk = good.slice(i, i + 500);
      const verdicts = await this.deps.gate(
        this.store.db,
        chunk.map((g) => ({ orgId, toIndex: g.index, program: g.rendered.program })),
      );
      chunk.forEach((g, j) => consentOf.set(g.row, verdicts[j]?.refused ?? null));
    }
    for (const g of good) {
      result.program ??= g.rendered.program;
      const refused = consentOf.get(g.row) ?? null;
      if (refused) {
        result.suppressedByConsent++;
        problem(g.row, refused);
        continue;
      }
      result.valid++;
      if (!result.preview) {
        const seg = countSegments(g.rendered.body);
        result.preview = {
          row: g.row,
          body: g.rendered.body,
          segments: seg.segments,
          encoding: seg.encoding,
        };
      }
    }
    result.problems.sort((a, b) => a.row - b.row);
    await this.store.transaction((tx) =>
      appendAudit(tx, this.store.dialect, [
        {
          orgId,
          actor,
          action: 'campaign.list_checked',
          targetType: 'campaign',
          targetId: '*',
          details: {
            template: input.template,
            total: result.total,
            valid: result.valid,
            invalid: result.invalid,
            suppressed: result.suppressedByConsent,
          },
        },
      ]),
    );
    return result;
  }

  /** The organisation's campaigns, newest first, with their progress. */
  async list(orgId: string, limit = 50): Promise<CampaignView[]> {
    const rows = await this.store.db
      .selectFrom('campaigns')
      .select('id')
      .where('org_id', '=', orgId)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(Math.min(Math.max(1, limit), MAX_CAMPAIGNS_LISTED))
      .execute();
    return Promise.all(rows.map((r) => this.get(orgId, r.id)));
  }

  private parseList(csv: string): Record<string, string>[] {
    let rows: Record<string, string>[];
    try {
      rows = parseCsv<Record<string, string>>(csv, {
        columns: (h: string[]) => h.map((c) => c.trim()),
        skip_empty_lines: true,
        trim: true,
        bom: true,
      });
    } catch {
      throw new AppError('validation_failed', 'The list is not valid CSV with a header row.');
    }
    if (rows.length === 0) {
      throw new AppError('validation_failed', 'The list needs a header row with a phone column.');
    }
    return rows;
  }

  private async insert(
    orgId: string,
    actor: Actor,
    input: { name: string; template: string; filter?: AppointmentFilter },
    slots: readonly string[],
    rows: Record<string, string>[],
  ): Promise<CampaignView> {
    const name = input.name.trim();
    const missing = slots.filter((s) => !(s in rows[0]!));
    if (missing.length > 0) {
      throw new AppError('validation_failed', `The list needs columns ${missing.join(', ')}.`);
    }
    if (rows.length > MAX_CAMPAIGN_RECIPIENTS) {
      throw new AppError('validation_failed', `At most ${MAX_CAMPAIGN_RECIPIENTS} recipients.`);
    }
    const keyring = await this.keyrings.get(orgId);
    const id = newId('cmp');
    const now = Date.now();
    const recipients = rows.map((r, seq) => {
      let phone = '';
      let status = 'pending';
      let error: string | null = null;
      try {
        phone = normalisePhone(r.phone ?? '', this.deps.phone);
      } catch (e) {
        status = 'invalid';
        error = isAppError(e) ? e.code : 'invalid_phone_number';
      }
      const vars = Object.fromEntries(slots.map((s) => [s, r[s] ?? '']));
      const aad = (col: string) => rowAad(orgId, 'campaign_recipients', `${id}:${seq}`, col);
      return {
        org_id: orgId,
        campaign_id: id,
        seq,
        phone_enc: encrypt(keyring, aad('phone'), phone),
        variables_enc: encrypt(keyring, aad('variables'), JSON.stringify(vars)),
        status,
        message_id: null,
        error_code: error,
      };
    });
    await this.store.transaction(async (tx) => {
      await tx
        .insertInto('campaigns')
        .values({
          org_id: orgId,
          id,
          name,
          template: input.template,
          filter: input.filter ? JSON.stringify(input.filter) : null,
          status: 'ready',
          total: rows.length,
          created_by: `${actor.type}:${actor.id}`,
          created_at: now,
          updated_at: now,
          finished_at: null,
        })
        .execute();
      for (let i = 0; i < recipients.length; i += 1000) {
        await insertRows(tx, 'campaign_recipients', recipients.slice(i, i + 1000));
      }
      await appendAudit(tx, this.store.dialect, [
        {
          orgId,
          actor,
          action: 'campaign.created',
          targetType: 'campaign',
          targetId: id,
          details: { recipients: rows.length, template: input.template },
        },
      ]);
    });
    return this.get(orgId, id);
  }

  private async row(orgId: string, id: string, db: Db = this.store.db) {
    const r = await db
      .selectFrom('campaigns')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('id', '=', id)
      .executeTakeFirst();
    if (!r) throw new AppError('campaign_not_found');
    return r;
  }

  private async setStatus(
    orgId: string,
    id: string,
    actor: Actor,
    from: readonly CampaignStatus[],
    to: CampaignStatus,
  ): Promise<void> {
    await this.store.transaction(async (tx) => {
      if (!(await this.setStatusInTx(tx, orgId, id, actor, from, to))) {
        await this.row(orgId, id, tx);
        throw new AppError('campaign_state_conflict');
      }
    });
  }

  /** Moves a campaign from one of `from` to `to`, audited; false if it was in no `from`. */
  private async setStatusInTx(
    tx: Db,
    orgId: string,
    id: string,
    actor: Actor,
    from: readonly CampaignStatus[],
    to: CampaignStatus,
    details: Record<string, string> = {},
  ): Promise<boolean> {
    const now = Date.now();
    const r = await tx
      .updateTable('campaigns')
      .set({ status: to, updated_at: now, ...(to === 'completed' ? { finished_at: now } : {}) })
      .where('org_id', '=', orgId)
      .where('id', '=', id)
      .where('status', 'in', [...from])
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) return false;
    await appendAudit(tx, this.store.dialect, [
      {
        orgId,
        actor,
        action: 'campaign.state_changed',
        targetType: 'campaign',
        targetId: id,
        details: { status: to, ...details },
      },
    ]);
    return true;
  }

  /**
   * Pauses a ready or running campaign inside the caller's transaction (a critical risk
   * alert); false if it was not running. The run stops after its current batch.
   */
  pauseInTx(tx: Db, orgId: string, id: string, actor: Actor, alertId: string): Promise<boolean> {
    return this.setStatusInTx(tx, orgId, id, actor, ['ready', 'running'], 'paused', {
      alert: alertId,
    });
  }

  /** Pauses a ready or running campaign: the run stops after its current batch. */
  pause(orgId: string, id: string, actor: Actor): Promise<void> {
    return this.setStatus(orgId, id, actor, ['ready', 'running'], 'paused');
  }

  /**
   * Runs a ready or paused campaign to the end (or until paused), calling `onProgress` after
   * each batch. Resolves when it stops.
   */
  async run(
    orgId: string,
    id: string,
    actor: Actor,
    onProgress?: (p: CampaignProgress) => void | Promise<void>,
  ): Promise<CampaignView> {
    await this.setStatus(orgId, id, actor, ['ready', 'paused'], 'running');
    const c = await this.row(orgId, id);
    const keyring = await this.keyrings.get(orgId);
    for (;;) {
      const status = (await this.row(orgId, id)).status;
      if (status !== 'running' || this.closing) break;
      const batch = await this.store.db
        .selectFrom('campaign_recipients')
        .selectAll()
        .where('org_id', '=', orgId)
        .where('campaign_id', '=', id)
        .where('status', '=', 'pending')
        .orderBy('seq', 'asc')
        .limit(BATCH)
        .execute();
      if (batch.length === 0) {
        await this.setStatus(orgId, id, actor, ['running'], 'completed');
        break;
      }
      const outcomes = await Promise.all(
        batch.map(async (r) => {
          const aad = (col: string) => rowAad(orgId, 'campaign_recipients', `${id}:${r.seq}`, col);
          try {
            const res = await this.deps.send(orgId, actor, {
              to: decrypt(keyring, aad('phone'), r.phone_enc),
              template: c.template,
              variables: JSON.parse(decrypt(keyring, aad('variables'), r.variables_enc)) as Record<
                string,
                string
              >,
              idempotencyKey: `campaign:${id}:${r.seq}`,
            });
            const diverted = res.guard?.verdict === 'secure' && res.guard.action === 'diverted';
            return {
              seq: r.seq,
              status: diverted ? 'diverted' : 'queued',
              message_id: res.message.id,
              error_code: null,
            };
          } catch (e) {
            if (!isAppError(e)) throw e;
            return {
              seq: r.seq,
              status: CONSENT_CODES.has(e.code) ? 'suppressed' : 'refused',
              message_id: null,
              error_code: e.code,
            };
          }
        }),
      );
      await this.store.transaction(async (tx) => {
        for (const o of outcomes) {
          await tx
            .updateTable('campaign_recipients')
            .set({ status: o.status, message_id: o.message_id, error_code: o.error_code })
            .where('org_id', '=', orgId)
            .where('campaign_id', '=', id)
            .where('seq', '=', o.seq)
            .execute();
        }
      });
      await onProgress?.(await this.progress(orgId, id));
    }
    return this.get(orgId, id);
  }

  /** Starts `run` in the background (API); a second start while it runs is refused. */
  async start(orgId: string, id: string, actor: Actor): Promise<CampaignView> {
    const key = `${orgId}:${id}`;
    let r = await this.row(orgId, id);
    const stopping = this.runs.get(key);
    if (stopping && r.status === 'paused') {
      // Resumed right after a pause: the paused run is finishing its batch; let it end.
      await stopping;
      r = await this.row(orgId, id);
    }
    if (this.runs.has(key) || (r.status !== 'ready' && r.status !== 'paused')) {
      throw new AppError('campaign_state_conflict');
    }
    const p = this.run(orgId, id, actor)
      .then(
        () => undefined,
        () => undefined, // the recipients' outcomes are stored; a failed run can be resumed
      )
      .finally(() => this.runs.delete(key));
    this.runs.set(key, p);
    return this.get(orgId, id);
  }

  /**
   * What risk monitoring weighs per campaign (counts only): of the texts each campaign
   * handed to the pipeline since `since`, how many were attempted, failed, delivered, and
   * how many of their recipients opted out after being texted. Only campaigns running,
   * paused, or changed since then are counted.
   */
  async riskFigures(orgId: string, since: number): Promise<CampaignRiskFigures[]> {
    const rows = await this.store.db
      .selectFrom('campaigns as c')
      .innerJoin('campaign_recipients as r', (j) =>
        j.onRef('r.org_id', '=', 'c.org_id').onRef('r.campaign_id', '=', 'c.id'),
      )
      .innerJoin('messages as m', (j) =>
        j.onRef('m.org_id', '=', 'r.org_id').onRef('m.id', '=', 'r.message_id'),
      )
      .select([
        'c.id',
        sql<number>`sum(case when m.status = 'failed' then 1 else 0 end)`.as('failed'),
        sql<number>`sum(case when m.status in ('sent','delivered','read','failed') then 1 else 0 end)`.as(
          'attempted',
        ),
        sql<number>`sum(case when m.delivered_at is not null then 1 else 0 end)`.as('delivered'),
        sql<number>`sum(case when exists (
          select 1 from consent_events e
          where e.org_id = m.org_id and e.phone_index = m.to_index
            and e.kind like 'opt_out%' and e.recorded_at >= m.created_at
        ) then 1 else 0 end)`.as('opt_outs'),
      ])
      .where('c.org_id', '=', orgId)
      .where((eb) => eb.or([eb('c.status', '=', 'running'), eb('c.updated_at', '>=', since)]))
      .where('m.created_at', '>=', since)
      .groupBy('c.id')
      .execute();
    return rows.map((r) => ({
      campaignId: r.id,
      attempted: Number(r.attempted),
      failed: Number(r.failed),
      delivered: Number(r.delivered),
      optOuts: Number(r.opt_outs),
    }));
  }

  /** Stops background runs after their current batch (runtime close). */
  async stopCampaigns(): Promise<void> {
    this.closing = true;
    await Promise.allSettled([...this.runs.values()]);
  }

  /** Counts by outcome, with carrier outcomes of the accepted messages. */
  async progress(orgId: string, id: string): Promise<CampaignProgress> {
    const rows = await this.store.db
      .selectFrom('campaign_recipients')
      .select(['status', 'message_id'])
      .where('org_id', '=', orgId)
      .where('campaign_id', '=', id)
      .execute();
    const p: CampaignProgress = {
      total: rows.length,
      pending: 0,
      queued: 0,
      sent: 0,
      delivered: 0,
      failed: 0,
      suppressedByConsent: 0,
      divertedByGuard: 0,
    };
    const ids: string[] = [];
    for (const r of rows) {
      if (r.status === 'pending') p.pending++;
      else if (r.status === 'suppressed') p.suppressedByConsent++;
      else if (r.status === 'refused' || r.status === 'invalid') p.failed++;
      else {
        if (r.status === 'diverted') p.divertedByGuard++;
        if (r.message_id) ids.push(r.message_id);
      }
    }
    const statuses = await this.deps.messageStatuses(orgId, ids);
    for (const m of ids) {
      const s = statuses.get(m);
      if (s === 'delivered' || s === 'read') {
        p.sent++;
        p.delivered++;
      } else if (s === 'sent') p.sent++;
      else if (s === 'failed' || s === 'expired' || s === 'canceled') p.failed++;
      else p.queued++;
    }
    return p;
  }

  async get(orgId: string, id: string): Promise<CampaignView> {
    const r = await this.row(orgId, id);
    return {
      id: r.id,
      name: r.name,
      template: r.template,
      status: r.status as CampaignStatus,
      total: r.total,
      createdBy: r.created_by,
      createdAt: iso(r.created_at)!,
      updatedAt: iso(r.updated_at)!,
      finishedAt: iso(r.finished_at),
      progress: await this.progress(orgId, id),
    };
  }
}
