/**
 * @module stats
 * The dashboard's figures (issue 8): texts per day by status, delivery and failure rates,
 * opt-outs per day and their rate, texts kept behind the portal (guard diversions) and how
 * many were opened, and open risk alerts — for an organisation, optionally one sender or one
 * program. Counts and rates only, never PHI. Each figure comes from the module that owns its
 * table (messaging, consent, portal, risk); this module only combines them.
 */
import type { Db } from '../store/index.js';
import { AppError } from '../errors/index.js';
import {
  DAY_MS,
  MESSAGE_STATUSES,
  dailyStatusCounts,
  sendersUsed,
  type MessageStatus,
} from '../messaging/index.js';
// consent/ has no single index; its parts are imported by file, as runtime/ does.
import { optOutDailyCounts } from '../consent/daily-counts.js';
import { secureDailyCounts } from '../portal/index.js';
import type { RiskAlertView } from '../risk/index.js';

/** The longest range one request may ask for (a quarter and a bit). */
export const MAX_STATS_DAYS = 93;
export const DEFAULT_STATS_DAYS = 14;

export interface StatsQuery {
  /** YYYY-MM-DD (UTC), inclusive. Default: DEFAULT_STATS_DAYS - 1 days before `to`. */
  from?: string | undefined;
  /** YYYY-MM-DD (UTC), inclusive. Default: today. */
  to?: string | undefined;
  sender?: string | undefined;
  program?: string | undefined;
}

export interface StatsDay {
  date: string;
  byStatus: Record<MessageStatus, number>;
  total: number;
  optOuts: number;
  /** Texts kept behind the portal (content-guard diversions and secure sends). */
  secureSent: number;
  /** Of those, opened by the patient. */
  secureOpened: number;
}

export interface StatsView {
  from: string;
  to: string;
  sender: string | null;
  program: string | null;
  days: StatsDay[];
  totals: {
    messages: number;
    byStatus: Record<MessageStatus, number>;
    /** Delivered (or read) of those that reached a carrier's answer: sent, delivered, read, failed. */
    deliveryRate: number | null;
    failureRate: number | null;
    optOuts: number;
    /** Opt-outs per text delivered. */
    optOutRate: number | null;
    guardDiversions: number;
    portalOpened: number;
    portalOpenRate: number | null;
    openRiskAlerts: { total: number; critical: number; warning: number };
  };
  /** Senders the organisation's texts went from in the range (for the sender filter). */
  senders: { id: string; number: string }[];
}

export interface StatsSources {
  db: Db;
  openAlerts: (orgId: string) => Promise<RiskAlertView[]>;
  now?: () => number;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

function parseDay(value: string, name: string): number {
  const m = DATE.exec(value);
  const t = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
  if (!m || Number.isNaN(t) || new Date(t).toISOString().slice(0, 10) !== value) {
    throw new AppError('validation_failed', `${name} must be a date, YYYY-MM-DD.`);
  }
  return t;
}

function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function emptyStatuses(): Record<MessageStatus, number> {
  return Object.fromEntries(MESSAGE_STATUSES.map((s) => [s, 0])) as Record<MessageStatus, number>;
}

function rate(part: number, whole: number): number | null {
  return whole > 0 ? part / whole : null;
}

export async function dashboardStats(
  src: StatsSources,
  orgId: string,
  q: StatsQuery,
): Promise<StatsView> {
  const today = Math.floor((src.now ?? Date.now)() / DAY_MS) * DAY_MS;
  const last = q.to !== undefined ? parseDay(q.to, 'to') : today;
  const first =
    q.from !== undefined ? parseDay(q.from, 'from') : last - (DEFAULT_STATS_DAYS - 1) * DAY_MS;
  if (first > last) throw new AppError('validation_failed', 'from must not be after to.');
  if ((last - first) / DAY_MS + 1 > MAX_STATS_DAYS) {
    throw new AppError('validation_failed', `The range may cover at most ${MAX_STATS_DAYS} days.`);
  }
  const range = { from: first, to: last + DAY_MS, senderId: q.sender, program: q.program };
  const [statuses, optOuts, secure, senders, alerts] = await Promise.all([
    dailyStatusCounts(src.db, orgId, range),
    optOutDailyCounts(src.db, orgId, range),
    secureDailyCounts(src.db, orgId, range),
    sendersUsed(src.db, orgId, { from: range.from, to: range.to }),
    src.openAlerts(orgId),
  ]);

  const days: StatsDay[] = [];
  const index = new Map<number, StatsDay>();
  for (let t = first; t <= last; t += DAY_MS) {
    const d: StatsDay = {
      date: isoDay(t),
      byStatus: emptyStatuses(),
      total: 0,
      optOuts: 0,
      secureSent: 0,
      secureOpened: 0,
    };
    days.push(d);
    index.set(t / DAY_MS, d);
  }
  const byStatus = emptyStatuses();
  for (const c of statuses) {
    const d = index.get(c.day);
    if (!d || !(c.status in byStatus)) continue;
    const s = c.status as MessageStatus;
    d.byStatus[s] += c.count;
    d.total += c.count;
    byStatus[s] += c.count;
  }
  for (const c of optOuts) {
    const d = index.get(c.day);
    if (d) d.optOuts += c.count;
  }
  for (const c of secure) {
    const d = index.get(c.day);
    if (!d) continue;
    d.secureSent += c.created;
    d.secureOpened += c.opened;
  }

  const messages = days.reduce((n, d) => n + d.total, 0);
  const delivered = byStatus.delivered + byStatus.read;
  const answered = delivered + byStatus.sent + byStatus.failed;
  const optOutTotal = days.reduce((n, d) => n + d.optOuts, 0);
  const secureSent = days.reduce((n, d) => n + d.secureSent, 0);
  const secureOpened = days.reduce((n, d) => n + d.secureOpened, 0);
  const relevant = alerts.filter(
    (a) => q.sender === undefined || a.scope.type !== 'sender' || a.scope.id === q.sender,
  );
  return {
    from: isoDay(first),
    to: isoDay(last),
    sender: q.sender ?? null,
    program: q.program ?? null,
    days,
    totals: {
      messages,
      byStatus,
      deliveryRate: rate(delivered, answered),
      failureRate: rate(byStatus.failed, answered),
      optOuts: optOutTotal,
      optOutRate: rate(optOutTotal, delivered),
      guardDiversions: secureSent,
      portalOpened: secureOpened,
      portalOpenRate: rate(secureOpened, secureSent),
      openRiskAlerts: {
        total: relevant.length,
        critical: relevant.filter((a) => a.severity === 'critical').length,
        warning: relevant.filter((a) => a.severity === 'warning').length,
      },
    },
    senders,
  };
}
