/**
 * @module cli/retention
 * `tidings retention …` (policy, run, holds), `tidings risk …` (alerts, evaluate, resume),
 * `tidings sender resume` and `tidings compliance report`. Counts and ids only, never PHI.
 */
import { AppError } from '../errors/index.js';
import type { Command } from 'commander';
import type { CommandDeps } from './deps.js';
import { HOLD_SCOPES, type HoldScope } from '../retention/index.js';
import { complianceReport } from '../compliance/index.js';
import type { RiskAlertView } from '../risk/index.js';

/** What an alert paused, for one line of output. */
const paused = (a: RiskAlertView) => [...a.pausedSenders, ...a.pausedCampaigns].join(', ');

function intOption(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error('must be a whole number ≥ 1');
  return n;
}

export function addRetentionCommands(cli: Command, d: CommandDeps): void {
  const retention = cli
    .command('retention')
    .description('retention policy, the sweeper and legal holds (docs/retention.md)');

  retention
    .command('policy')
    .description("show, or change, an organisation's retention policy")
    .requiredOption('--org <orgId>', 'organisation id')
    .option('--secure-viewed-days <n>', 'secure content kept after first view', intOption)
    .option('--secure-unviewed-days <n>', 'secure content never viewed kept', intOption)
    .option('--message-body-days <n>', 'message bodies kept', intOption)
    .option('--audit-years <n>', 'audit events kept (≥ 6)', intOption)
    .option('--consent-years <n>', 'consent ledger kept (≥ 6)', intOption)
    .option('--json', 'print JSON')
    .action(
      (o: {
        org: string;
        secureViewedDays?: number;
        secureUnviewedDays?: number;
        messageBodyDays?: number;
        auditYears?: number;
        consentYears?: number;
        json?: boolean;
      }) =>
        d.withRuntime(async (rt) => {
          const { org, json, ...patch } = o;
          const changed = Object.values(patch).some((v) => v !== undefined);
          if (changed) {
            const { retentionPolicySchema } = await import('../retention/index.js');
            const parsed = retentionPolicySchema.safeParse(patch);
            if (!parsed.success) {
              const issue = parsed.error.issues[0];
              const field = String(issue?.path[0] ?? 'policy');
              throw new AppError(
                'validation_failed',
                /Years$/.test(field)
                  ? 'Audit events and the consent ledger must be kept at least 6 years (and at most 100).'
                  : 'Days must be a whole number from 1 to 3650.',
              );
            }
          }
          const p = changed
            ? await rt.retention.setPolicy(org, patch, d.actor)
            : await rt.retention.policy(org);
          d.print(
            Boolean(json),
            p,
            `secure content   ${p.secureViewedDays} days after first view, ${p.secureUnviewedDays} days if never viewed\n` +
              `message bodies   ${p.messageBodyDays} days (metadata kept)\n` +
              `audit events     ${p.auditYears} years or more\nconsent ledger   ${p.consentYears} years or more`,
          );
        }),
    );

  retention
    .command('run')
    .description('destroy what the policy says is due now (--dry-run: only count it)')
    .option('--org <orgId>', 'one organisation (default: all)')
    .option('--dry-run', 'report what would be destroyed; change nothing')
    .option('--json', 'print JSON')
    .action((o: { org?: string; dryRun?: boolean; json?: boolean }) =>
      d.withRuntime(async (rt) => {
        const results = await rt.retention.run({ orgId: o.org, dryRun: Boolean(o.dryRun) });
        d.print(
          Boolean(o.json),
          results,
          results
            .map(
              (r) =>
                `${r.orgId}  ${r.held ? 'ON LEGAL HOLD: nothing destroyed' : `${o.dryRun ? 'would destroy' : 'destroyed'}: ${r.counts.secureMessages} secure messages, ${r.counts.outboundBodies} outbound bodies, ${r.counts.inboundBodies} inbound bodies`}${r.patientsHeld ? `  (${r.patientsHeld} patients on hold kept)` : ''}${r.carrierDeletions ? `; carrier copies deleted ${r.carrierDeletions.deleted}, to retry ${r.carrierDeletions.retrying}, failed ${r.carrierDeletions.failed}` : ''}`,
            )
            .join('\n') || '(no organisations)',
        );
      }),
    );

  const hold = retention.command('hold').description('legal holds: suspend destruction');
  hold
    .command('place')
    .requiredOption('--org <orgId>', 'organisation id')
    .requiredOption('--scope <scope>', HOLD_SCOPES.join(' | '))
    .option('--phone <number>', 'the patient (scope patient)')
    .requiredOption('--reason <text>', 'the matter or reference')
    .option('--json', 'print JSON')
    .action((o: { org: string; scope: string; phone?: string; reason: string; json?: boolean }) =>
      d.withRuntime(async (rt) => {
        if (!(HOLD_SCOPES as readonly string[]).includes(o.scope)) {
          throw d.usage(`--scope must be ${HOLD_SCOPES.join(' or ')}`);
        }
        const h = await rt.retention.placeHold(
          o.org,
          { scope: o.scope as HoldScope, phone: o.phone, reason: o.reason },
          d.actor,
        );
        d.print(Boolean(o.json), h, `legal hold ${h.id} placed (${h.scope})`);
      }),
    );
  hold
    .command('lift')
    .requiredOption('--org <orgId>', 'organisation id')
    .requiredOption('--id <holdId>', 'hold id (hold_…)')
    .action((o: { org: string; id: string }) =>
      d.withRuntime(async (rt) => {
        await rt.retention.liftHold(o.org, o.id, d.actor);
        d.print(false, null, `legal hold ${o.id} lifted`);
      }),
    );
  hold
    .command('list')
    .requiredOption('--org <orgId>', 'organisation id')
    .option('--all', 'include lifted holds')
    .option('--json', 'print JSON')
    .action((o: { org: string; all?: boolean; json?: boolean }) =>
      d.withRuntime(async (rt) => {
        const holds = await rt.retention.holds(o.org, Boolean(o.all));
        d.print(
          Boolean(o.json),
          holds,
          holds
            .map(
              (h) =>
                `${h.id}  ${h.scope}${h.subjectIndex ? ` ${h.subjectIndex.slice(0, 16)}…` : ''}  placed ${h.placedAt} by ${h.placedBy}${h.liftedAt ? `  lifted ${h.liftedAt}` : ''}  ${h.destroyed ? '(reason destroyed: data key shredded)' : h.reason}`,
            )
            .join('\n') || '(none)',
        );
      }),
    );

  const risk = cli.command('risk').description('risk signals and alerts (docs/risk.md)');
  risk
    .command('alerts')
    .requiredOption('--org <orgId>', 'organisation id')
    .option('--open', 'only open alerts')
    .option('--json', 'print JSON')
    .action((o: { org: string; open?: boolean; json?: boolean }) =>
      d.withRuntime(async (rt) => {
        const list = await rt.risk.alerts(o.org, o.open ? { status: 'open' } : {});
        d.print(
          Boolean(o.json),
          list,
          list
            .map(
              (a) =>
                `${a.id}  ${a.severity}  ${a.signal}  ${a.scope.type}:${a.scope.id}  ${a.status}${paused(a) ? `  paused ${paused(a)}` : ''}\n  ${a.explanation}`,
            )
            .join('\n') || '(none)',
        );
      }),
    );
  risk
    .command('evaluate')
    .description('evaluate every signal now (the worker does it on a timer)')
    .option('--org <orgId>', 'one organisation (default: all)')
    .option('--json', 'print JSON')
    .action((o: { org?: string; json?: boolean }) =>
      d.withRuntime(async (rt) => {
        const raised = await rt.risk.evaluate(o.org);
        d.print(
          Boolean(o.json),
          raised,
          raised.map((a) => `${a.id}  ${a.severity}  ${a.signal}`).join('\n') || 'no new alerts',
        );
      }),
    );
  risk
    .command('resume')
    .description('resolve an alert and resume the senders and campaigns it paused')
    .requiredOption('--org <orgId>', 'organisation id')
    .requiredOption('--alert <alertId>', 'alert id (ral_…)')
    .action((o: { org: string; alert: string }) =>
      d.withRuntime(async (rt) => {
        const a = await rt.risk.resume(o.org, o.alert, d.actor);
        const resumed = [...a.resumedSenders, ...a.resumedCampaigns].join(', ') || 'none';
        const held = [
          ...a.stillPaused.map((s) => `\n${s.senderId} still paused by ${s.heldBy.join(', ')}`),
          ...a.stillPausedCampaigns.map(
            (c) => `\n${c.campaignId} still paused by ${c.heldBy.join(', ')}`,
          ),
        ];
        d.print(false, a, `alert ${a.id} resolved; resumed: ${resumed}${held.join('')}`);
      }),
    );

  const sender = cli.commands.find((c) => c.name() === 'sender');
  sender
    ?.command('resume')
    .description('resume a sender a risk alert paused')
    .requiredOption('--org <orgId>', 'organisation id')
    .requiredOption('--id <senderId>', 'sender id (snd_…)')
    .action((o: { org: string; id: string }) =>
      d.withRuntime(async (rt) => {
        const n = await rt.risk.resumeSender(o.org, o.id, d.actor);
        d.print(false, null, n > 0 ? `${o.id} resumed` : `${o.id} was not paused`);
      }),
    );

  cli
    .command('compliance')
    .description('compliance posture')
    .command('report')
    .description(
      'each HIPAA safeguard texting touches: live state, ok / attention / failing, the fix',
    )
    .requiredOption('--org <orgId>', 'organisation id')
    .option('--json', 'print JSON')
    .action((o: { org: string; json?: boolean }) =>
      d.withRuntime(async (rt) => {
        const r = await complianceReport(rt, o.org, d.actor);
        const mark = { ok: 'ok       ', attention: 'ATTENTION', failing: 'FAILING  ' };
        d.print(
          Boolean(o.json),
          r,
          [
            `compliance posture ${r.orgId}  ${r.generatedAt}  overall ${r.overall.toUpperCase()}  (${r.counts.ok} ok, ${r.counts.attention} attention, ${r.counts.failing} failing)`,
            ...r.items.map(
              (i) =>
                `${mark[i.status]}  ${i.safeguard} [${i.rule}]\n           ${i.state}${i.fix ? `\n           fix: ${i.fix}` : ''}`,
            ),
          ].join('\n'),
        );
      }),
    );
}
