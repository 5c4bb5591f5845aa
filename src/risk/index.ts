/**
 * @module risk
 * Notice trouble before carriers or auditors do (45 CFR 164.308(a)(1)(ii)(D), information
 * system activity review; 164.308(a)(6), security incidents). The worker evaluates signals
 * over rolling windows per organisation, sender, program and campaign (signals.ts holds the
 * thresholds); a
 * signal over its threshold raises an alert with a severity, a plain-language explanation and
 * the figures behind it, audited, sent to the organisation's webhook (`risk.alert`) and listed
 * at `GET /v1/risk/alerts`. A critical alert pauses what caused it until an admin resumes
 * the alert: a campaign (it stops handing out texts after its current batch), or senders
 * (dispatch consults `isSenderPaused` before each submission and holds their texts; nothing
 * is lost). A sender several critical alerts paused stays paused until the last of them is
 * resolved (derived from `risk_alerts` and `paused_senders`, so every process agrees); likewise
 * a campaign stays paused while any open critical alert on it is open. Resolving an alert is
 * audited (`risk.alert_resolved`), and so is being superseded (`risk.alert_superseded`). While
 * an alert is open the same signal and scope raise no other of equal or lower severity; a
 * higher one raises a new alert that supersedes it (closed in the same transaction, status
 * `superseded` in the table, shown as resolved by `alert:<id>`). Resolving an alert
 * restarts its signal's window for that scope at the resolution time, read from
 * `risk_alerts` by every process: what the admin reviewed does not raise it (or pause)
 * again, a new burst does. Being superseded is not a review: it restarts nothing. Every
 * signal is a Prometheus gauge.
 */
import { Gauge, type Registry } from 'prom-client';
import { sql } from 'kysely';
import type { Db, Store } from '../store/index.js';
import type { Logger } from '../observability/index.js';
import { appendAudit, SYSTEM_ACTOR, type Actor, type AuditEntry } from '../audit/index.js';
import { enqueueWebhooks } from '../webhooks/index.js';
import { AppError, isAppError } from '../errors/index.js';
import { CARRIER_CAP_CODES, CARRIER_FILTERING_CODES } from '../carriers/index.js';
import type { CampaignRiskFigures } from '../campaigns/index.js';
import { newId } from '../ids/index.js';
import { encodeTime } from 'ulid';
import {
  countSignalFinding,
  failureFinding,
  optOutFinding,
  spikeFinding,
  type CountSignal,
  type Figures,
  type Finding,
  type ScopeType,
  type Severity,
  type Signal,
} from './signals.js';

export * from './signals.js';

export interface RiskAlertView {
  id: string;
  signal: Signal;
  severity: Severity;
  scope: { type: ScopeType; id: string };
  explanation: string;
  figures: Figures;
  /** `resolved` also for an alert a more severe one superseded (`supersededBy`). */
  status: 'open' | 'resolved';
  /** Senders this alert paused (critical alerts), including those another alert also paused. */
  pausedSenders: string[];
  /**
   * Campaigns this alert paused (critical alerts on a campaign), or holds paused: raised while
   * another open alert on it held it, or left holding it when that one was resolved.
   */
  pausedCampaigns: string[];
  createdAt: string;
  resolvedAt: string | null;
  /** `type:id` of who resolved it; `alert:ral_…` when a more severe alert superseded it. */
  resolvedBy: string | null;
  /** The more severe alert on the same signal and scope that closed this one, if any. */
  supersededBy: string | null;
}

/** What resuming an alert did: the alert, resolved, and what it let go. */
export interface RiskResumeResult extends RiskAlertView {
  /** Senders this alert paused that may send again: no other open alert holds them. */
  resumedSenders: string[];
  /**
   * Senders this alert paused that stay paused, each with the open critical alerts that still
   * hold it (resume those to let it send).
   */
  stillPaused: { senderId: string; heldBy: string[] }[];
  /** Campaigns this alert paused that were started again: no other open alert holds them. */
  resumedCampaigns: string[];
  /**
   * Campaigns this alert paused that stay paused, each with the open critical alerts on that
   * campaign that still hold it (resume those to start it again).
   */
  stillPausedCampaigns: { campaignId: string; heldBy: string[] }[];
}

/** What risk monitoring needs of campaigns (the campaigns module owns them). */
export interface RiskCampaigns {
  riskFigures(orgId: string, since: number): Promise<CampaignRiskFigures[]>;
  pauseInTx(tx: Db, orgId: string, id: string, actor: Actor, alertId: string): Promise<boolean>;
  start(orgId: string, id: string, actor: Actor): Promise<unknown>;
}

export interface RiskOptions {
  checkIntervalMs: number;
  now: () => number;
  /** How long dispatch trusts its cached view of paused senders. */
  pauseCacheMs: number;
  campaigns?: RiskCampaigns | undefined;
}

const HOUR = 3600_000;
const DAY = 24 * HOUR;

/** Severity order: an open alert deduplicates findings of its severity or lower. */
const RANK: Readonly<Record<string, number>> = { info: 0, warning: 1, critical: 2 };
const rank = (severity: string) => RANK[severity] ?? 0;

/** `risk_alerts.status` of an alert a more severe one on the same signal and scope closed. */
const SUPERSEDED = 'superseded';

/** Count signals read from the audit trail, and the action each counts. */
const AUDITED = {
  guard_diversions: 'secure_message.created',
  guard_rejections: 'guard.rejected',
  portal_verification_failures: 'secure_message.verify_failed',
  portal_lockouts: 'secure_message.locked',
  break_glass_use: 'breakglass.granted',
} as const satisfies Partial<Record<CountSignal, string>>;
const AUDITED_SIGNALS = Object.keys(AUDITED) as (keyof typeof AUDITED)[];

/** One signal on one scope: what alerts are deduplicated and resolutions remembered by. */
const scopeKey = (f: { signal: string; scopeType: string; scopeId: string }) =>
  JSON.stringify([f.signal, f.scopeType, f.scopeId]);

const sum = <K extends string>(rows: readonly Record<K, unknown>[], k: K) =>
  rows.reduce((a, r) => a + Number(r[k]), 0);

export class RiskMonitor {
  private readonly opts: RiskOptions;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private readonly gauge: Gauge<'signal'>;
  private readonly alertsOpen: Gauge<'severity'>;
  private pausedCache: { at: number; set: Set<string> } | undefined;
  private pausedRead: Promise<void> | undefined;

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    registry: Registry,
    opts: Partial<RiskOptions> = {},
  ) {
    this.opts = { checkIntervalMs: 5 * 60_000, now: Date.now, pauseCacheMs: 2_000, ...opts };
    this.gauge = new Gauge({
      name: 'tidings_risk_signal',
      help: 'Latest value of each risk signal, worst across organisations and senders (rates as fractions, others as counts).',
      labelNames: ['signal'] as const,
      registers: [registry],
    });
    this.alertsOpen = new Gauge({
      name: 'tidings_risk_alerts_open',
      help: 'Open risk alerts, by severity.',
      labelNames: ['severity'] as const,
      registers: [registry],
    });
  }

  /**
   * Evaluates every signal for one organisation or all; raises and returns new alerts. A
   * signal whose alert for the same scope was resolved within the window is measured again
   * counting only what happened after the resolution (`remeasure`): what the admin reviewed
   * does not raise it again. Derived from `risk_alerts`, so every process agrees.
   */
  async evaluate(orgId?: string): Promise<RiskAlertView[]> {
    const orgIds = orgId
      ? [orgId]
      : (await this.store.db.selectFrom('organisations').select('id').execute()).map((o) => o.id);
    const worst = new Map<Signal, number>();
    const note = (s: Signal, v: number) => worst.set(s, Math.max(worst.get(s) ?? 0, v));
    const raised: RiskAlertView[] = [];
    for (const id of orgIds) {
      const now = this.opts.now();
      const findings = await this.findings(id, now, note);
      const reviewed =
        findings.length > 0 ? await this.resolutions(id, now) : new Map<string, number>();
      for (const f of findings) {
        const since = reviewed.get(scopeKey(f));
        const g = since === undefined ? f : await this.remeasure(id, now, f, since);
        if (!g) continue;
        const a = await this.raise(id, g, now, since ?? now - DAY);
        if (a) raised.push(a);
      }
    }
    for (const [s, v] of worst) this.gauge.set({ signal: s }, v);
    await this.refreshOpenGauge();
    return raised;
  }

  /**
   * When an alert was last resolved, per signal and scope, for alerts resolved within the
   * window (an older resolution is before the window starts anyway).
   */
  private async resolutions(orgId: string, now: number): Promise<Map<string, number>> {
    const rows = await this.store.db
      .selectFrom('risk_alerts')
      .select(['signal', 'scope_type', 'scope_id', (eb) => eb.fn.max('resolved_at').as('at')])
      .where('org_id', '=', orgId)
      .where('status', '=', 'resolved')
      .where('resolved_at', '>', now - DAY)
      .groupBy(['signal', 'scope_type', 'scope_id'])
      .execute();
    return new Map(
      rows.map((r) => [
        scopeKey({ signal: r.signal, scopeType: r.scope_type, scopeId: r.scope_id }),
        Number(r.at),
      ]),
    );
  }

  /**
   * A finding measured again counting only what happened after `since` (when an alert on the
   * same signal and scope was resolved): opt-outs recorded, and texts that failed, after it
   * (against the texts delivered or attempted in the whole window); texts accepted in the
   * last hour after it; counted events after it. A campaign's figures cover its texts handed
   * out after it. Null when that is under the threshold.
   */
  private async remeasure(
    orgId: string,
    now: number,
    f: Finding,
    since: number,
  ): Promise<Finding | null> {
    const scope = { type: f.scopeType, id: f.scopeId };
    const after = since + 1; // times are whole milliseconds: strictly after the resolution
    if (f.scopeType === 'campaign') {
      const c = (await this.opts.campaigns?.riskFigures(orgId, after))?.find(
        (x) => x.campaignId === f.scopeId,
      );
      if (!c) return null;
      return f.signal === 'opt_out_rate'
        ? optOutFinding(scope, c.optOuts, c.delivered, since)
        : failureFinding(scope, c.failed, c.attempted, since);
    }
    switch (f.signal) {
      case 'opt_out_rate': {
        const rows = await this.optOutsByProgram(orgId, after);
        const of = (p: string) => Number(rows.find((r) => r.program === p)?.n ?? 0);
        const n =
          f.scopeType === 'program'
            ? of(f.scopeId) + of('all')
            : rows.reduce((a, r) => a + Number(r.n), 0);
        return optOutFinding(scope, n, f.figures.delivered ?? 0, since);
      }
      case 'delivery_failure_rate':
      case 'volume_spike': {
        if (f.signal === 'volume_spike' && since < now - HOUR) return f;
        const [s] = await this.senderFigures(orgId, now, { after: since, senderId: f.scopeId });
        if (!s) return null;
        return f.signal === 'volume_spike'
          ? spikeFinding(f.scopeId, Number(s.last_hour), Number(s.before), since)
          : failureFinding(scope, Number(s.failed), Number(s.attempted), since);
      }
      case 'carrier_opt_outs': {
        const rows = await this.senderFigures(orgId, now, { after: since });
        return countSignalFinding(f.signal, orgId, sum(rows, 'carrier_opt_outs'), since);
      }
      case 'carrier_filtering':
      case 'carrier_cap_errors': {
        const c = await this.carrierCodes(orgId, now, since);
        return countSignalFinding(f.signal, orgId, c[f.signal], since);
      }
      case 'logins_many_addresses':
        return countSignalFinding(
          f.signal,
          orgId,
          await this.maxLoginAddresses(orgId, after),
          since,
        );
      case 'guard_diversions':
      case 'guard_rejections':
      case 'portal_verification_failures':
      case 'portal_lockouts':
      case 'break_glass_use': {
        const counts = await this.auditCounts(orgId, after);
        return countSignalFinding(f.signal, orgId, counts(AUDITED[f.signal]), since);
      }
    }
  }

  private async findings(
    orgId: string,
    now: number,
    note: (s: Signal, v: number) => void,
  ): Promise<Finding[]> {
    const db = this.store.db;
    const dayAgo = now - DAY;
    const out: Finding[] = [];
    const push = (f: Finding | null) => f && out.push(f);

    // Opt-outs against delivered texts, last 24 h, for the organisation and per program (an
    // opt-out of every program counts against each).
    const optOuts = await this.optOutsByProgram(orgId, dayAgo);
    const delivered = await db
      .selectFrom('messages')
      .select(['program', (eb) => eb.fn.countAll<number>().as('n')])
      .where('org_id', '=', orgId)
      .where('delivered_at', '>=', dayAgo)
      .groupBy('program')
      .execute();
    const optOutsOf = (p: string) => Number(optOuts.find((r) => r.program === p)?.n ?? 0);
    const nOpt = optOuts.reduce((a, r) => a + Number(r.n), 0);
    const nDel = delivered.reduce((a, r) => a + Number(r.n), 0);
    note('opt_out_rate', nDel > 0 ? nOpt / nDel : 0);
    push(optOutFinding({ type: 'organisation', id: orgId }, nOpt, nDel));
    if (delivered.length > 1) {
      for (const d of delivered) {
        const n = optOutsOf(d.program) + optOutsOf('all');
        push(optOutFinding({ type: 'program', id: d.program }, n, Number(d.n)));
      }
    }

    // Per sender: failures and volume, over messages updated / created in the last 24 h.
    const perSender = await this.senderFigures(orgId, now);
    for (const s of perSender) {
      const failed = Number(s.failed);
      const attempted = Number(s.attempted);
      note('delivery_failure_rate', attempted > 0 ? failed / attempted : 0);
      push(failureFinding({ type: 'sender', id: s.sender_id }, failed, attempted));
      const lastHour = Number(s.last_hour);
      note('volume_spike', lastHour / Math.max(1, Number(s.before) / 24));
      push(spikeFinding(s.sender_id, lastHour, Number(s.before)));
    }
    const carrierOptOuts = sum(perSender, 'carrier_opt_outs');
    note('carrier_opt_outs', carrierOptOuts);
    push(countSignalFinding('carrier_opt_outs', orgId, carrierOptOuts));

    // Carrier filtering (spam blocks) and throughput / daily cap refusals, by carrier code.
    const coded = await this.carrierCodes(orgId, now);
    note('carrier_filtering', coded.carrier_filtering);
    note('carrier_cap_errors', coded.carrier_cap_errors);
    push(countSignalFinding('carrier_filtering', orgId, coded.carrier_filtering));
    push(countSignalFinding('carrier_cap_errors', orgId, coded.carrier_cap_errors));

    // Per campaign: opt-outs and failures among the texts it sent.
    for (const c of (await this.opts.campaigns?.riskFigures(orgId, dayAgo)) ?? []) {
      const scope = { type: 'campaign', id: c.campaignId } as const;
      push(optOutFinding(scope, c.optOuts, c.delivered));
      push(failureFinding(scope, c.failed, c.attempted));
    }

    // From the audit trail: guard diversions, portal verification failures and lockouts,
    // break-glass use (each counted over the last 24 h).
    const count = await this.auditCounts(orgId, dayAgo);
    for (const signal of AUDITED_SIGNALS) {
      const n = count(AUDITED[signal]);
      note(signal, n);
      push(countSignalFinding(signal, orgId, n));
    }

    // Sign-ins from many addresses: the most distinct addresses one user's sessions came from.
    const maxIps = await this.maxLoginAddresses(orgId, dayAgo);
    note('logins_many_addresses', maxIps);
    push(countSignalFinding('logins_many_addresses', orgId, maxIps));
    return out;
  }

  /** Opt-outs recorded from `from`, per program (`all`: an opt-out of every program). */
  private optOutsByProgram(orgId: string, from: number) {
    return this.store.db
      .selectFrom('consent_events')
      .select(['program', (eb) => eb.fn.countAll<number>().as('n')])
      .where('org_id', '=', orgId)
      .where('recorded_at', '>=', from)
      .where('kind', 'like', 'opt_out%')
      .groupBy('program')
      .execute();
  }

  /**
   * Per sender, over the texts created in the last 25 hours: failed (with `after`: only those
   * whose failure was recorded after it), attempted, refused by the carrier as opted out
   * (likewise), accepted in the last hour (with `after`: and after it), and before that.
   */
  private senderFigures(orgId: string, now: number, o: { after?: number; senderId?: string } = {}) {
    const after = o.after ?? -1;
    return this.store.db
      .selectFrom('messages')
      .select([
        'sender_id',
        sql<number>`sum(case when status = 'failed' and updated_at > ${after} then 1 else 0 end)`.as(
          'failed',
        ),
        sql<number>`sum(case when status in ('sent','delivered','read','failed') then 1 else 0 end)`.as(
          'attempted',
        ),
        sql<number>`sum(case when (failure_code = 'opted_out' or failure_code = 'opt_out') and updated_at > ${after} then 1 else 0 end)`.as(
          'carrier_opt_outs',
        ),
        sql<number>`sum(case when created_at >= ${now - HOUR} and created_at > ${after} then 1 else 0 end)`.as(
          'last_hour',
        ),
        sql<number>`sum(case when created_at < ${now - HOUR} then 1 else 0 end)`.as('before'),
      ])
      .where('org_id', '=', orgId)
      .where('id', '>=', `msg_${encodeTimeLower(now - DAY - HOUR)}`)
      .$if(o.senderId !== undefined, (q) => q.where('sender_id', '=', o.senderId!))
      .groupBy('sender_id')
      .execute();
  }

  /**
   * Texts of the last 24 hours carriers blocked as spam or held back for caps, by carrier
   * code (with `after`: only those that failed after it).
   */
  private async carrierCodes(
    orgId: string,
    now: number,
    after?: number,
  ): Promise<Record<'carrier_filtering' | 'carrier_cap_errors', number>> {
    const codes = [...CARRIER_FILTERING_CODES, ...CARRIER_CAP_CODES];
    const coded = await this.store.db
      .selectFrom('messages')
      .select(['failure_code', 'failure_reason'])
      .where('org_id', '=', orgId)
      .where('id', '>=', `msg_${encodeTimeLower(now - DAY)}`)
      .where((eb) => eb.or([eb('failure_code', 'in', codes), eb('failure_reason', 'in', codes)]))
      .$if(after !== undefined, (q) => q.where('updated_at', '>', after!))
      .execute();
    const isOne = (set: readonly string[]) => (r: (typeof coded)[number]) =>
      set.includes(r.failure_code ?? '') || set.includes(r.failure_reason ?? '');
    return {
      carrier_filtering: coded.filter(isOne(CARRIER_FILTERING_CODES)).length,
      carrier_cap_errors: coded.filter(isOne(CARRIER_CAP_CODES)).length,
    };
  }

  /** Audited actions the signals count, from `from`. */
  private async auditCounts(orgId: string, from: number): Promise<(action: string) => number> {
    const actions = await this.store.db
      .selectFrom('audit_events')
      .select(['action', (eb) => eb.fn.countAll<number>().as('n')])
      .where('org_id', '=', orgId)
      .where('at', '>=', from)
      .where(
        'action',
        'in',
        AUDITED_SIGNALS.map((signal) => AUDITED[signal]),
      )
      .groupBy('action')
      .execute();
    return (a) => Number(actions.find((x) => x.action === a)?.n ?? 0);
  }

  /** The most distinct addresses one user's sessions came from, from `from`. */
  private async maxLoginAddresses(orgId: string, from: number): Promise<number> {
    const ips = await this.store.db
      .selectFrom('sessions')
      .select(['user_id', (eb) => eb.fn.count<number>('ip').distinct().as('n')])
      .where('org_id', '=', orgId)
      .where('created_at', '>=', from)
      .groupBy('user_id')
      .execute();
    return Math.max(0, ...ips.map((r) => Number(r.n)));
  }

  /**
   * Records an alert unless one for the same signal and scope, of the same or a higher
   * severity, is still open from the last 24 hours, or one was resolved after `measuredFrom`
   * (the finding predates that review; the next evaluation measures again). Open alerts of a
   * lower severity on that signal and scope are superseded: closed in the same transaction
   * (status `superseded`, resolved by `alert:<new id>`) and named in the new alert's audit
   * event and webhook payload (`supersedes`). A critical alert pauses the sender (or, for an
   * organisation-wide signal, every sender that texted in the window), also one another open
   * alert already paused: each holds it until resolved. Audited and sent to the webhook in
   * one transaction, serialised with `resume` per signal and scope, and with every resume
   * of the organisation's senders.
   */
  private async raise(
    orgId: string,
    f: Finding,
    now: number,
    measuredFrom: number,
  ): Promise<RiskAlertView | null> {
    return this.store.transaction(async (tx) => {
      await this.lockScope(tx, orgId, f);
      const existing = await tx
        .selectFrom('risk_alerts')
        .select(['id', 'severity', 'status', 'created_at'])
        .where('org_id', '=', orgId)
        .where('signal', '=', f.signal)
        .where('scope_type', '=', f.scopeType)
        .where('scope_id', '=', f.scopeId)
        .where((eb) =>
          eb.or([
            eb('status', '=', 'open'),
            eb.and([eb('status', '=', 'resolved'), eb('resolved_at', '>', measuredFrom)]),
          ]),
        )
        .orderBy('id')
        .execute();
      // Resolved after this finding's window began: measured again next time.
      if (existing.some((a) => a.status === 'resolved')) return null;
      // An open alert of the last 24 hours at least as severe: deduplicated.
      const dedup = existing.some(
        (a) => Number(a.created_at) >= now - DAY && rank(a.severity) >= rank(f.severity),
      );
      if (dedup) return null;
      // Open alerts of a lower severity: this one supersedes them (escalation).
      const superseded = existing.filter((a) => rank(a.severity) < rank(f.severity));
      const supersedes = superseded.map((a) => a.id);
      let paused: string[] = [];
      let pausedCampaigns: string[] = [];
      const id = newId('ral');
      if (f.severity === 'critical' && f.scopeType === 'campaign') {
        await this.lockPauses(tx, orgId);
        const done = await this.opts.campaigns?.pauseInTx(tx, orgId, f.scopeId, SYSTEM_ACTOR, id);
        // Already paused by another open alert on it: this one holds it too (`resume`).
        const joined =
          !done && (await this.campaignHoldersInTx(tx, orgId, [f.scopeId], id, true)).length > 0;
        if (done || joined) pausedCampaigns = [f.scopeId];
      } else if (f.severity === 'critical') {
        await this.lockPauses(tx, orgId);
        paused =
          f.scopeType === 'sender'
            ? [f.scopeId]
            : (
                await tx
                  .selectFrom('messages')
                  .select('sender_id')
                  .distinct()
                  .where('org_id', '=', orgId)
                  .where('id', '>=', `msg_${encodeTimeLower(now - DAY)}`)
                  .$if(f.scopeType === 'program', (q) => q.where('program', '=', f.scopeId))
                  .execute()
              ).map((r) => r.sender_id);
      }
      const row = {
        org_id: orgId,
        id,
        signal: f.signal,
        severity: f.severity,
        scope_type: f.scopeType,
        scope_id: f.scopeId,
        explanation: superseded.length
          ? `${f.explanation} Escalated from the ${superseded.map((a) => `${a.severity} ${a.id}`).join(', ')} (now closed).`
          : f.explanation,
        figures: JSON.stringify(f.figures),
        status: 'open',
        paused_sender_ids: JSON.stringify(paused),
        paused_campaign_ids: JSON.stringify(pausedCampaigns),
        created_at: now,
        resolved_at: null,
        resolved_by: null,
      };
      await tx.insertInto('risk_alerts').values(row).execute();
      if (supersedes.length > 0) {
        await tx
          .updateTable('risk_alerts')
          .set({ status: SUPERSEDED, resolved_at: now, resolved_by: `alert:${id}` })
          .where('org_id', '=', orgId)
          .where('id', 'in', supersedes)
          .where('status', '=', 'open')
          .execute();
      }
      const audits: AuditEntry[] = [
        {
          orgId,
          actor: SYSTEM_ACTOR,
          action: 'risk.alert_raised',
          targetType: 'risk_alert',
          targetId: id,
          details: {
            signal: f.signal,
            severity: f.severity,
            scope: f.scopeType,
            ...f.figures,
            ...(pausedCampaigns.length ? { pausedCampaign: f.scopeId } : {}),
            ...(supersedes.length ? { supersedes: supersedes.join(',') } : {}),
          },
        },
      ];
      for (const old of superseded) {
        audits.push({
          orgId,
          actor: SYSTEM_ACTOR,
          action: 'risk.alert_superseded',
          targetType: 'risk_alert',
          targetId: old.id,
          details: {
            supersededBy: id,
            signal: f.signal,
            severity: old.severity,
            scope: f.scopeType,
          },
        });
      }
      for (const senderId of paused) {
        // Already paused (by another open alert): the row stays, and this alert holds the
        // sender too (`holders`). `paused_at` never ends up after this alert was raised, even
        // if another process's clock ran ahead.
        await tx
          .insertInto('paused_senders')
          .values({ org_id: orgId, sender_id: senderId, alert_id: id, paused_at: now })
          .onConflict((oc) =>
            oc
              .columns(['org_id', 'sender_id'])
              .doUpdateSet({ paused_at: now })
              .where('paused_senders.paused_at', '>', now),
          )
          .execute();
        audits.push({
          orgId,
          actor: SYSTEM_ACTOR,
          action: 'risk.sender_paused',
          targetType: 'sender',
          targetId: senderId,
          details: { alert: id, signal: f.signal },
        });
      }
      await appendAudit(tx, this.store.dialect, audits, now);
      const view = toView(row);
      const org = await tx
        .selectFrom('organisations')
        .select('webhook_url')
        .where('id', '=', orgId)
        .executeTakeFirst();
      if (org?.webhook_url) {
        const payload = { ...view, ...(supersedes.length ? { supersedes } : {}) };
        await enqueueWebhooks(tx, [{ orgId, type: 'risk.alert', payload }], now);
      }
      this.pausedCache = undefined;
      this.log.warn(
        {
          orgId,
          alertId: id,
          signal: f.signal,
          severity: f.severity,
          ...(supersedes.length ? { supersedes } : {}),
        },
        'risk alert',
      );
      return view;
    });
  }

  /**
   * Serialises raising and resolving alerts of one signal and scope across processes (a
   * transaction-scoped advisory lock on PostgreSQL; SQLite's write transaction already
   * serialises), so an evaluation racing a resume sees the resolution or is seen by it.
   */
  private async lockScope(
    tx: Db,
    orgId: string,
    f: { signal: string; scopeType: string; scopeId: string },
  ): Promise<void> {
    if (this.store.dialect !== 'postgres') return;
    await sql`select pg_advisory_xact_lock(hashtext('tidings.risk.alert'), hashtext(${`${orgId}/${scopeKey(f)}`}))`.execute(
      tx,
    );
  }

  /**
   * Serialises pausing and resuming an organisation's senders across processes (PostgreSQL;
   * SQLite's write transaction already serialises): a resume that finds no other alert
   * holding a sender cannot miss one raised at the same moment for another scope. Taken after
   * `lockScope`, never before it.
   */
  private async lockPauses(tx: Db, orgId: string): Promise<void> {
    if (this.store.dialect !== 'postgres') return;
    await sql`select pg_advisory_xact_lock(hashtext('tidings.risk.pause'), hashtext(${orgId}))`.execute(
      tx,
    );
  }

  async alerts(
    orgId: string,
    filter: { status?: 'open' | 'resolved' | undefined; limit?: number | undefined } = {},
  ): Promise<RiskAlertView[]> {
    const rows = await this.store.db
      .selectFrom('risk_alerts')
      .selectAll()
      .where('org_id', '=', orgId)
      .$if(filter.status === 'open', (q) => q.where('status', '=', 'open'))
      .$if(filter.status === 'resolved', (q) => q.where('status', 'in', ['resolved', SUPERSEDED]))
      .orderBy('id', 'desc')
      .limit(filter.limit ?? 100)
      .execute();
    return rows.map(toView);
  }

  /**
   * Resolves an alert and resumes what it paused (admin): each sender it paused that no other
   * open alert holds (the others stay paused, and the result names the alerts holding them),
   * and each campaign it paused that no other open critical alert on that campaign holds, if
   * that is still paused (one an admin already restarted or that ended is left as it is).
   * Resolving is audited (`risk.alert_resolved`, with the actor) in the same transaction.
   * Resuming an alert already resolved (or superseded) resolves nothing again; its senders
   * and campaigns are looked at as above, so the result still says which alerts hold them.
   */
  async resume(orgId: string, alertId: string, actor: Actor): Promise<RiskResumeResult> {
    const now = this.opts.now();
    const { view, senders, campaigns } = await this.store.transaction(async (tx) => {
      const read = () =>
        tx
          .selectFrom('risk_alerts')
          .selectAll()
          .where('org_id', '=', orgId)
          .where('id', '=', alertId)
          .executeTakeFirst();
      const found = await read();
      if (!found) throw new AppError('risk_alert_not_found');
      await this.lockScope(tx, orgId, {
        signal: found.signal,
        scopeType: found.scope_type,
        scopeId: found.scope_id,
      });
      await this.lockPauses(tx, orgId);
      const r = (await read())!; // as of the lock: a raise may have superseded it meanwhile
      const senders = await this.releaseSendersInTx(tx, orgId, r, actor, now);
      const campaigns = await this.releaseCampaignsInTx(tx, orgId, r);
      if (r.status !== 'open') return { view: toView(r), senders, campaigns };
      // The resolution time is where the signal's window starts again for this scope
      // (`evaluate`): what was reviewed does not raise the alert again.
      const by = `${actor.type}:${actor.id}`;
      await tx
        .updateTable('risk_alerts')
        .set({ status: 'resolved', resolved_at: now, resolved_by: by })
        .where('org_id', '=', orgId)
        .where('id', '=', alertId)
        .where('status', '=', 'open')
        .execute();
      await appendAudit(
        tx,
        this.store.dialect,
        [
          {
            orgId,
            actor,
            action: 'risk.alert_resolved',
            targetType: 'risk_alert',
            targetId: alertId,
            details: {
              signal: r.signal,
              severity: r.severity,
              scope: r.scope_type,
              resumedSenders: senders.resumedSenders.length,
              stillPausedSenders: senders.stillPaused.length,
              releasedCampaigns: campaigns.release.length,
              stillPausedCampaigns: campaigns.stillPausedCampaigns.length,
            },
          },
        ],
        now,
      );
      return {
        view: toView({ ...r, status: 'resolved', resolved_at: now, resolved_by: by }),
        senders,
        campaigns,
      };
    });
    const resumedCampaigns: string[] = [];
    for (const campaignId of campaigns.release) {
      await this.opts.campaigns?.start(orgId, campaignId, actor).then(
        () => resumedCampaigns.push(campaignId),
        (e: unknown) => {
          if (!isAppError(e) || e.code !== 'campaign_state_conflict') throw e;
        },
      );
    }
    await this.refreshOpenGauge();
    return {
      ...view,
      ...senders,
      resumedCampaigns,
      stillPausedCampaigns: campaigns.stillPausedCampaigns,
    };
  }

  /** Resumes one paused sender, whatever paused it (admin, CLI `tidings sender resume`). */
  async resumeSender(orgId: string, senderId: string, actor: Actor): Promise<number> {
    return this.store.transaction(async (tx) => {
      await this.lockPauses(tx, orgId);
      const rows = await tx
        .selectFrom('paused_senders')
        .select(['sender_id', 'alert_id'])
        .where('org_id', '=', orgId)
        .where('sender_id', '=', senderId)
        .execute();
      await this.unpauseInTx(tx, orgId, rows, actor, this.opts.now());
      return rows.length;
    });
  }

  /**
   * The senders a resolved alert lets go. A paused sender is held by every open critical
   * alert that paused it since it was last paused (`paused_at`: a sender resumed by hand is
   * let go by the alerts open then). Of the senders alert `a` paused (and any row naming
   * it), those no other alert holds are resumed (audited); the rest stay paused, their row
   * naming an alert that still holds them. Under `lockPauses`.
   */
  private async releaseSendersInTx(
    tx: Db,
    orgId: string,
    a: { id: string; paused_sender_ids: string },
    actor: Actor,
    now: number,
  ): Promise<Pick<RiskResumeResult, 'resumedSenders' | 'stillPaused'>> {
    const listed = JSON.parse(a.paused_sender_ids) as string[];
    const rows = await tx
      .selectFrom('paused_senders')
      .select(['sender_id', 'alert_id', 'paused_at'])
      .where('org_id', '=', orgId)
      .where((eb) =>
        eb.or([
          eb('alert_id', '=', a.id),
          ...(listed.length > 0 ? [eb('sender_id', 'in', listed)] : []),
        ]),
      )
      .orderBy('sender_id')
      .execute();
    if (rows.length === 0) return { resumedSenders: [], stillPaused: [] };
    const others = (
      await tx
        .selectFrom('risk_alerts')
        .select(['id', 'paused_sender_ids', 'created_at'])
        .where('org_id', '=', orgId)
        .where('status', '=', 'open')
        .where('severity', '=', 'critical')
        .where('id', '!=', a.id)
        .where('paused_sender_ids', '!=', '[]')
        .orderBy('id')
        .execute()
    ).map((o) => ({
      id: o.id,
      at: Number(o.created_at),
      senders: new Set(JSON.parse(o.paused_sender_ids) as string[]),
    }));
    const free: typeof rows = [];
    const stillPaused: RiskResumeResult['stillPaused'] = [];
    for (const r of rows) {
      const heldBy = others
        .filter((o) => o.senders.has(r.sender_id) && o.at >= Number(r.paused_at))
        .map((o) => o.id);
      if (heldBy.length === 0) {
        free.push(r);
        continue;
      }
      stillPaused.push({ senderId: r.sender_id, heldBy });
      if (!heldBy.includes(r.alert_id)) {
        await tx
          .updateTable('paused_senders')
          .set({ alert_id: heldBy[0]! })
          .where('org_id', '=', orgId)
          .where('sender_id', '=', r.sender_id)
          .execute();
      }
    }
    await this.unpauseInTx(
      tx,
      orgId,
      free.map((r) => ({ sender_id: r.sender_id, alert_id: a.id })),
      actor,
      now,
    );
    return { resumedSenders: free.map((r) => r.sender_id), stillPaused };
  }

  /**
   * The campaigns a resolved alert lets go. A paused campaign is held by every open critical
   * alert on that campaign (whether it paused it or was raised while it was paused). Of the
   * campaigns alert `a` paused, those no other such alert holds are to be started (`release`);
   * the rest stay paused, and each alert still holding one lists it in its
   * `paused_campaign_ids`, so that whichever of them is resolved last starts it. Under
   * `lockPauses`.
   */
  private async releaseCampaignsInTx(
    tx: Db,
    orgId: string,
    a: { id: string; paused_campaign_ids: string },
  ): Promise<{
    release: string[];
    stillPausedCampaigns: RiskResumeResult['stillPausedCampaigns'];
  }> {
    const listed = JSON.parse(a.paused_campaign_ids) as string[];
    if (listed.length === 0) return { release: [], stillPausedCampaigns: [] };
    const holders = await this.campaignHoldersInTx(tx, orgId, listed, a.id, false);
    const release: string[] = [];
    const stillPausedCampaigns: RiskResumeResult['stillPausedCampaigns'] = [];
    for (const campaignId of listed) {
      const held = holders.filter((h) => h.scope_id === campaignId);
      if (held.length === 0) {
        release.push(campaignId);
        continue;
      }
      stillPausedCampaigns.push({ campaignId, heldBy: held.map((h) => h.id) });
      for (const h of held) {
        const theirs = JSON.parse(h.paused_campaign_ids) as string[];
        if (theirs.includes(campaignId)) continue;
        await tx
          .updateTable('risk_alerts')
          .set({ paused_campaign_ids: JSON.stringify([...theirs, campaignId]) })
          .where('org_id', '=', orgId)
          .where('id', '=', h.id)
          .execute();
      }
    }
    return { release, stillPausedCampaigns };
  }

  /**
   * Open critical alerts on these campaigns other than `except`, oldest first (with
   * `pausing`: only those listing their campaign as paused).
   */
  private async campaignHoldersInTx(
    tx: Db,
    orgId: string,
    campaignIds: readonly string[],
    except: string,
    pausing: boolean,
  ) {
    const rows = await tx
      .selectFrom('risk_alerts')
      .select(['id', 'scope_id', 'paused_campaign_ids'])
      .where('org_id', '=', orgId)
      .where('status', '=', 'open')
      .where('severity', '=', 'critical')
      .where('scope_type', '=', 'campaign')
      .where('scope_id', 'in', [...campaignIds])
      .where('id', '!=', except)
      .orderBy('id')
      .execute();
    return pausing
      ? rows.filter((r) => (JSON.parse(r.paused_campaign_ids) as string[]).includes(r.scope_id))
      : rows;
  }

  /** Deletes the pauses of these senders and audits each resume with its alert. */
  private async unpauseInTx(
    tx: Db,
    orgId: string,
    rows: readonly { sender_id: string; alert_id: string }[],
    actor: Actor,
    now: number,
  ): Promise<void> {
    if (rows.length === 0) return;
    await tx
      .deleteFrom('paused_senders')
      .where('org_id', '=', orgId)
      .where(
        'sender_id',
        'in',
        rows.map((r) => r.sender_id),
      )
      .execute();
    await appendAudit(
      tx,
      this.store.dialect,
      rows.map((r) => ({
        orgId,
        actor,
        action: 'risk.sender_resumed' as const,
        targetType: 'sender',
        targetId: r.sender_id,
        details: { alert: r.alert_id },
      })),
      now,
    );
    this.pausedCache = undefined;
  }

  /** Paused senders of an organisation (ids). */
  async pausedSenders(orgId: string): Promise<string[]> {
    const rows = await this.store.db
      .selectFrom('paused_senders')
      .select('sender_id')
      .where('org_id', '=', orgId)
      .execute();
    return rows.map((r) => r.sender_id);
  }

  /**
   * Whether dispatch must hold texts from this sender. Read from the database (shared by
   * every worker process), cached for `pauseCacheMs` so a busy worker asks once per moment.
   */
  async isSenderPaused(orgId: string, senderId: string): Promise<boolean> {
    const now = Date.now();
    if (!this.pausedCache || now - this.pausedCache.at > this.opts.pauseCacheMs) {
      // One read however many submissions ask at once (a batch asks for each message).
      this.pausedRead ??= this.store.db
        .selectFrom('paused_senders')
        .select(['org_id', 'sender_id'])
        .execute()
        .then((rows) => {
          this.pausedCache = {
            at: now,
            set: new Set(rows.map((r) => `${r.org_id}/${r.sender_id}`)),
          };
        })
        .finally(() => (this.pausedRead = undefined));
      await this.pausedRead;
    }
    return this.pausedCache!.set.has(`${orgId}/${senderId}`);
  }

  private async refreshOpenGauge(): Promise<void> {
    const rows = await this.store.db
      .selectFrom('risk_alerts')
      .select(['severity', (eb) => eb.fn.countAll<number>().as('n')])
      .where('status', '=', 'open')
      .groupBy('severity')
      .execute();
    for (const s of ['warning', 'critical'] as const) {
      this.alertsOpen.set({ severity: s }, Number(rows.find((r) => r.severity === s)?.n ?? 0));
    }
  }

  startMonitor(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.evaluate()
        .catch((e: unknown) =>
          this.log.error({ err: e instanceof Error ? e.name : 'error' }, 'risk evaluation failed'),
        )
        .finally(() => (this.running = undefined));
    }, this.opts.checkIntervalMs);
    this.timer.unref();
  }

  async stopMonitor(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}

function encodeTimeLower(at: number): string {
  return encodeTime(Math.max(0, at), 10).toLowerCase();
}

function toView(r: {
  id: string;
  signal: string;
  severity: string;
  scope_type: string;
  scope_id: string;
  explanation: string;
  figures: string;
  status: string;
  paused_sender_ids: string;
  paused_campaign_ids: string;
  created_at: number;
  resolved_at: number | null;
  resolved_by: string | null;
}): RiskAlertView {
  const superseded = r.status === SUPERSEDED;
  return {
    id: r.id,
    signal: r.signal as Signal,
    severity: r.severity as Severity,
    scope: { type: r.scope_type as ScopeType, id: r.scope_id },
    explanation: r.explanation,
    figures: JSON.parse(r.figures) as Figures,
    status: r.status === 'open' ? 'open' : 'resolved',
    pausedSenders: JSON.parse(r.paused_sender_ids) as string[],
    pausedCampaigns: JSON.parse(r.paused_campaign_ids) as string[],
    createdAt: new Date(Number(r.created_at)).toISOString(),
    resolvedAt: r.resolved_at === null ? null : new Date(Number(r.resolved_at)).toISOString(),
    resolvedBy: r.resolved_by,
    supersededBy:
      superseded && r.resolved_by?.startsWith('alert:')
        ? r.resolved_by.slice('alert:'.length)
        : null,
  };
}
