/**
 * @module compliance
 * The compliance posture report: for each HIPAA safeguard texting touches, the live state of
 * this installation and organisation, marked ok / attention / failing, with the fix. A
 * starting point for the risk analysis of 45 CFR 164.308(a)(1)(ii)(A), not a certification.
 * Reading it is audited (`compliance.report_read`). Figures only, never PHI: it decrypts
 * nothing, so it still works after a data key was shredded.
 */
import type { Runtime } from '../runtime/index.js';
import { appendAudit, type Actor } from '../audit/index.js';
import { MIN_RECORD_YEARS } from '../retention/index.js';

export type PostureStatus = 'ok' | 'attention' | 'failing';

export interface PostureItem {
  id: string;
  safeguard: string;
  /** The rule it serves, e.g. 45 CFR 164.312(d). */
  rule: string;
  status: PostureStatus;
  /** The live state in one sentence. */
  state: string;
  /** What to do; null when ok. */
  fix: string | null;
}

export interface PostureReport {
  orgId: string;
  generatedAt: string;
  overall: PostureStatus;
  counts: Record<PostureStatus, number>;
  items: PostureItem[];
}

const DAY = 86_400_000;
const days = (ms: number) => Math.floor(ms / DAY);
const RANK: Record<PostureStatus, number> = { ok: 0, attention: 1, failing: 2 };

export async function complianceReport(
  rt: Runtime,
  orgId: string,
  actor: Actor,
  now = Date.now(),
): Promise<PostureReport> {
  const db = rt.store.db;
  const items: PostureItem[] = [];
  const add = (i: PostureItem) => items.push(i);
  const org = await rt.orgs.get(orgId);
  const users = (await rt.users.list(orgId)).filter((u) => !u.disabled);

  // Access control and unique user identification.
  const byRole = new Map<string, number>();
  for (const u of users) byRole.set(u.role, (byRole.get(u.role) ?? 0) + 1);
  const keys = (await rt.apiKeys.list(orgId)).filter((k) => !k.revokedAt);
  const admins = byRole.get('admin') ?? 0;
  add({
    id: 'access_control',
    safeguard: 'Access control (roles and scopes)',
    rule: '45 CFR 164.312(a)(1)',
    status: admins > 3 ? 'attention' : 'ok',
    state: `${users.length} active users (${[...byRole].map(([r, n]) => `${n} ${r}`).join(', ') || 'none'}); ${keys.length} active API keys`,
    fix: admins > 3 ? 'Reduce the number of admins to those who administer Tidings.' : null,
  });
  add({
    id: 'unique_users',
    safeguard: 'Unique user identification',
    rule: '45 CFR 164.312(a)(2)(i)',
    status: users.length > 0 ? 'ok' : 'attention',
    state:
      users.length > 0
        ? `every person signs in as themselves (${users.length} named users)`
        : 'no named users: only API keys act for this organisation',
    fix:
      users.length > 0 ? null : 'Create a user per person (tidings user create); never share keys.',
  });

  // Authentication: MFA enrolment.
  const noMfa = users.filter((u) => !u.mfaEnrolled).length;
  add({
    id: 'mfa',
    safeguard: 'Person or entity authentication (second factor)',
    rule: '45 CFR 164.312(d)',
    status: noMfa === 0 ? 'ok' : noMfa === users.length ? 'failing' : 'attention',
    state:
      noMfa === 0
        ? `MFA enrolled for all ${users.length} users`
        : `${noMfa} of ${users.length} users have not enrolled a second factor (they reach nothing until they do)`,
    fix: noMfa === 0 ? null : 'Ask those users to sign in and enrol an authenticator app.',
  });

  // Emergency access.
  const grants = await db
    .selectFrom('break_glass_grants')
    .select(['created_at', 'expires_at', 'ended_at'])
    .where('org_id', '=', orgId)
    .where('created_at', '>=', now - 30 * DAY)
    .execute();
  const activeGrants = grants.filter((g) => g.ended_at === null && Number(g.expires_at) > now);
  add({
    id: 'emergency_access',
    safeguard: 'Emergency access procedure (break-glass)',
    rule: '45 CFR 164.312(a)(2)(ii)',
    status: activeGrants.length > 0 ? 'attention' : 'ok',
    state: `${grants.length} break-glass grants in the last 30 days, ${activeGrants.length} active now`,
    fix:
      activeGrants.length > 0
        ? 'Review each active grant and end it when the emergency is over.'
        : null,
  });

  // Automatic logoff.
  const idle = org?.sessionIdleMinutes ?? 15;
  add({
    id: 'automatic_logoff',
    safeguard: 'Automatic logoff',
    rule: '45 CFR 164.312(a)(2)(iii)',
    status: idle <= 15 ? 'ok' : idle <= 30 ? 'attention' : 'failing',
    state: `idle sessions end after ${idle} minutes`,
    fix: idle <= 15 ? null : 'Set the idle timeout to 15 minutes or less.',
  });

  // Encryption at rest: where the master key lives and how old the keys are.
  const source = rt.keyrings.masterSource;
  const status = await rt.keyrings.status();
  const newest = status.find((m) => m.newest);
  const since = newest
    ? await db
        .selectFrom('org_keys')
        .select((eb) => eb.fn.min('created_at').as('t'))
        .where('master_key_id', '=', newest.id)
        .executeTakeFirst()
    : undefined;
  const masterAge = since?.t ? days(now - Number(since.t)) : 0;
  const generated = source.kind === 'generated';
  add({
    id: 'encryption_at_rest',
    safeguard: 'Encryption at rest (AES-256-GCM under a master key)',
    rule: '45 CFR 164.312(a)(2)(iv)',
    status: generated ? 'failing' : masterAge > 365 ? 'attention' : 'ok',
    state: `master key from ${source.kind === 'env' ? 'TIDINGS_MASTER_KEY' : source.kind === 'file' ? 'a key file' : 'a development key generated in the data directory'}; in use for ${masterAge} days`,
    fix: generated
      ? 'Set TIDINGS_MASTER_KEY_FILE to a key kept apart from the data (docs/operations.md).'
      : masterAge > 365
        ? 'Rotate the master key: tidings keys rotate.'
        : null,
  });

  // Transmission security.
  const https = rt.config.publicUrl.startsWith('https://');
  add({
    id: 'transmission_security',
    safeguard: 'Transmission security (TLS)',
    rule: '45 CFR 164.312(e)(1)',
    status: rt.config.tls ? 'ok' : https ? 'attention' : 'failing',
    state: rt.config.tls
      ? 'TLS on: served over HTTPS'
      : https
        ? 'TLS off here: the public address is HTTPS, so a proxy must terminate TLS'
        : 'TLS off: served over plain HTTP',
    fix: rt.config.tls
      ? null
      : https
        ? 'Confirm the proxy terminates TLS 1.2+ and that nothing reaches Tidings over the network in clear.'
        : 'Set TLS_CERT_FILE and TLS_KEY_FILE, or put Tidings behind a TLS proxy and set PUBLIC_URL to https.',
  });

  // Audit controls and integrity.
  const v = await rt.audit.verify({ orgId });
  add({
    id: 'audit_controls',
    safeguard: 'Audit controls (hash-chained trail)',
    rule: '45 CFR 164.312(b)',
    status: v.ok ? 'ok' : 'failing',
    state: v.ok
      ? `audit chain verified just now (${v.events} events, ${v.checkpoints} signed checkpoints)`
      : `audit chain FAILS verification at event ${v.firstBreak?.seq ?? '?'}`,
    fix: v.ok ? null : 'Run tidings audit verify and treat the break as a security incident.',
  });
  add({
    id: 'integrity',
    safeguard: 'Integrity (signed checkpoints)',
    rule: '45 CFR 164.312(c)(1)',
    status: v.checkpoints > 0 || v.events === 0 ? 'ok' : 'attention',
    state: `${v.checkpoints} signed checkpoints verified`,
    fix:
      v.checkpoints > 0 || v.events === 0
        ? null
        : 'Run the worker (it signs checkpoints) or tidings audit checkpoint.',
  });

  // Contingency plan: backups.
  const lastVerified = await db
    .selectFrom('backup_records')
    .select('at')
    .where('kind', '=', 'verified')
    .orderBy('at', 'desc')
    .limit(1)
    .executeTakeFirst();
  const backupAge = lastVerified ? days(now - Number(lastVerified.at)) : null;
  add({
    id: 'contingency_backup',
    safeguard: 'Data backup and disaster recovery',
    rule: '45 CFR 164.308(a)(7)(ii)(A)-(B)',
    status:
      backupAge === null
        ? 'failing'
        : backupAge <= 7
          ? 'ok'
          : backupAge <= 30
            ? 'attention'
            : 'failing',
    state:
      backupAge === null
        ? 'no verified backup on record'
        : `last verified backup ${backupAge === 0 ? 'today' : `${backupAge} days ago`}`,
    fix:
      backupAge !== null && backupAge <= 7
        ? null
        : 'Schedule tidings backup --out FILE daily and tidings backup verify FILE after each (docs/backup.md).',
  });

  // Workforce policy acknowledgement (identity/policy-acks): current = the current text,
  // acknowledged within the last year.
  const acks = await rt.policyAcks.statuses(orgId);
  const overdue = acks.users.filter((u) => u.overdue).length;
  const policySet = acks.version !== null;
  const acksOk = policySet && overdue === 0;
  add({
    id: 'workforce_policy',
    safeguard: 'Workforce security awareness and policy acknowledgement',
    rule: '45 CFR 164.308(a)(5)',
    status: acksOk ? 'ok' : 'attention',
    state: !policySet
      ? 'no texting policy set'
      : overdue === 0
        ? `all ${acks.users.length} active users acknowledged texting policy version ${acks.version} within the last year`
        : `${overdue} ${overdue === 1 ? 'user' : 'users'} overdue on policy acknowledgement (version ${acks.version})`,
    fix: !policySet
      ? 'Set your texting policy (PUT /v1/policy) and ask every user to acknowledge it.'
      : overdue === 0
        ? null
        : 'Ask the overdue users (GET /v1/policy/acknowledgements) to read and acknowledge the policy (POST /v1/policy/acknowledge).',
  });

  // Retention.
  const policy = await rt.retention.policy(orgId);
  const sweep = await rt.retention.lastSweep(orgId);
  // A count only: the hold reasons stay encrypted (and may be under a shredded key).
  const holds = await rt.retention.holdCount(orgId);
  const sweepAge = sweep ? days(now - sweep.finishedAt) : null;
  // An organisation younger than the sweeper's period has not been swept yet: not overdue.
  const orgAge = org ? days(now - Date.parse(org.createdAt)) : null;
  const sweepOverdue = sweepAge === null ? orgAge === null || orgAge > 2 : sweepAge > 2;
  const recordsOk =
    policy.auditYears >= MIN_RECORD_YEARS && policy.consentYears >= MIN_RECORD_YEARS;
  add({
    id: 'retention',
    safeguard: 'Retention and disposal',
    rule: '45 CFR 164.316(b)(2)(i); 164.310(d)(2)(i)',
    status: !recordsOk ? 'failing' : sweepOverdue ? 'attention' : 'ok',
    state: `message bodies destroyed after ${policy.messageBodyDays} days, secure content ${policy.secureViewedDays} days after viewing (${policy.secureUnviewedDays} unviewed); audit and consent kept ${Math.min(policy.auditYears, policy.consentYears)}+ years; ${holds} legal holds; last sweep ${sweepAge === null ? (sweepOverdue ? 'never' : 'not yet (a new organisation; the worker sweeps hourly)') : sweepAge === 0 ? 'today' : `${sweepAge} days ago`}`,
    fix: sweepOverdue
      ? 'Run a worker (tidings serve) so the sweeper runs, or tidings retention run.'
      : null,
  });

  // Consent and quiet hours.
  const consent = await db
    .selectFrom('consent_state')
    .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
    .where('org_id', '=', orgId)
    .groupBy('status')
    .execute();
  add({
    id: 'consent',
    safeguard: 'Consent to text (TCPA) and opt-out',
    rule: 'TCPA 47 CFR 64.1200',
    status: 'ok',
    state: `consent ledger: ${consent.map((c) => `${Number(c.n)} ${c.status}`).join(', ') || 'no entries yet'}; STOP is honoured at acceptance and again at dispatch`,
    fix: null,
  });
  const quiet = rt.config.quietHours;
  const hhmm = (m: number) =>
    `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
  add({
    id: 'quiet_hours',
    safeguard: 'Quiet hours and frequency caps',
    rule: 'TCPA 47 CFR 64.1200(c)(1)',
    status: quiet === 'off' || !rt.config.frequencyCaps ? 'failing' : 'ok',
    state:
      quiet === 'off'
        ? 'quiet hours OFF: texts go at any hour'
        : `texts reach recipients ${hhmm(quiet.start)}–${hhmm(quiet.end)} their local time; frequency caps ${rt.config.frequencyCaps ? 'on' : 'OFF'}`,
    fix:
      quiet === 'off' || !rt.config.frequencyCaps
        ? 'Unset TIDINGS_QUIET_HOURS=off and TIDINGS_FREQUENCY_CAPS=off.'
        : null,
  });

  // Risk monitoring.
  const open = await rt.risk.alerts(orgId, { status: 'open' });
  const paused = await rt.risk.pausedSenders(orgId);
  const critical = open.filter((a) => a.severity === 'critical').length;
  add({
    id: 'activity_review',
    safeguard: 'Information system activity review (risk alerts)',
    rule: '45 CFR 164.308(a)(1)(ii)(D)',
    status: critical > 0 || paused.length > 0 ? 'failing' : open.length > 0 ? 'attention' : 'ok',
    state: `${open.length} open risk alerts (${critical} critical); ${paused.length} senders paused`,
    fix:
      open.length > 0
        ? 'Review GET /v1/risk/alerts and resume paused senders once resolved.'
        : null,
  });

  const counts: Record<PostureStatus, number> = { ok: 0, attention: 0, failing: 0 };
  for (const i of items) counts[i.status]++;
  const overall = items.reduce<PostureStatus>(
    (w, i) => (RANK[i.status] > RANK[w] ? i.status : w),
    'ok',
  );
  await rt.store.transaction((tx) =>
    appendAudit(tx, rt.store.dialect, [
      {
        orgId,
        actor,
        action: 'compliance.report_read',
        targetType: 'organisation',
        targetId: orgId,
        details: { ...counts },
      },
    ]),
  );
  return { orgId, generatedAt: new Date(now).toISOString(), overall, counts, items };
}
