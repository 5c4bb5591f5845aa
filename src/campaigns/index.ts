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
import { insertRows, type Db, type Store } from '../store/index.js';
import { appendAudit, type Actor } from '../audit/index.js';
import { decrypt, encrypt, rowAad } from '../crypto/index.js';
import { AppError, isAppError } from '../errors/index.js';
import { newId } from '../ids/index.js';
import { normalisePhone, type PhonePolicy } from '../contacts/index.js';
import type { KeyringService } from '../orgs/index.js';
import type { AcceptResult } from '../messaging/index.js';
import type { AppointmentFilter } from '../reminders/index.js';

export const CAMPAIGN_STATUSES = ['ready', 'running', 'paused', 'completed'] as const;
export type CampaignStatus = (typeof CAMPAIGN_STATUSES)[number];

/** Largest list one campaign takes. */
export const MAX_CAMPAIGN_RECIPIENTS = 100_000;
/** Recipients handed to the pipeline at once (its group commit batches them). */
const BATCH = 250;

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
      const now = Date.now();
      const r = await tx
        .updateTable('campaigns')
        .set({ status: to, updated_at: now, ...(to === 'completed' ? { finished_at: now } : {}) })
        .where('org_id', '=', orgId)
        .where('id', '=', id)
        .where('status', 'in', [...from])
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) === 0) {
        await this.row(orgId, id, tx);
        throw new AppError('campaign_state_conflict');
      }
      await appendAudit(tx, this.store.dialect, [
        {
          orgId,
          actor,
          action: 'campaign.state_changed',
          targetType: 'campaign',
          targetId: id,
          details: { status: to },
        },
      ]);
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
    const r = await this.row(orgId, id);
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
