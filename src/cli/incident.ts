/**
 * @module cli/incident
 * `tidings incident report`: from the audit trail, every disclosure and access concerning the
 * affected patients in a time range (45 CFR 164.402–164.410, breach assessment and
 * notification), or — without a patient list — every patient-related event in the range,
 * grouped by patient (blind index), plus the security events of the range. Patients are named
 * by their line in the given file and their blind index; numbers are never printed.
 */
import fs from 'node:fs';
import type { Command } from 'commander';
import type { CommandDeps } from './deps.js';
import { AppError } from '../errors/index.js';
import { parseIsoDateTime } from '../messaging/index.js';
import { appendAudit, MAX_ACCOUNTING_EVENTS, type AuditEventView } from '../audit/index.js';
import type { Runtime } from '../runtime/index.js';
import type { Actor } from '../audit/index.js';
import { subjectIndexOf } from '../runtime/audit.js';

/** Events that matter to an incident whether or not they name a patient. */
const SECURITY_ACTIONS = new Set([
  'login.failed',
  'login.locked_out',
  'breakglass.granted',
  'breakglass.ended',
  'audit.exported',
  'audit.disclosures_read',
  'secure_message.verify_failed',
  'secure_message.locked',
  'keys.shredded',
  'user.role_changed',
  'apikey.created',
  'risk.alert_raised',
  'risk.alert_resolved',
  'risk.alert_superseded',
]);

export interface IncidentReport {
  orgId: string;
  from: string;
  to: string;
  patients: {
    /** Line in the patients file (1-based), or null when found in the trail. */
    line: number | null;
    subjectIndex: string;
    events: number;
    byAction: Record<string, number>;
    /** Everyone (actor) who touched this patient's messages. */
    actors: string[];
    data: AuditEventView[];
  }[];
  security: AuditEventView[];
  complete: boolean;
}

function tally(events: readonly AuditEventView[]): Record<string, number> {
  const r: Record<string, number> = {};
  for (const e of events) r[e.action] = (r[e.action] ?? 0) + 1;
  return r;
}

export async function incidentReport(
  rt: Runtime,
  orgId: string,
  range: { from: number; to: number },
  phones: readonly string[] | undefined,
  actor: Actor,
): Promise<IncidentReport> {
  const all: AuditEventView[] = [];
  let cursor: string | undefined;
  let complete = true;
  for (;;) {
    const page = await rt.audit.events(orgId, { ...range, cursor, limit: 200 }, actor);
    all.push(...page.data);
    if (!page.nextCursor) break;
    if (all.length >= MAX_ACCOUNTING_EVENTS) {
      complete = false;
      break;
    }
    cursor = page.nextCursor;
  }
  const bySubject = new Map<string, AuditEventView[]>();
  for (const e of all) {
    if (!e.subjectIndex || e.action.startsWith('audit.') || e.action === 'incident.report_created')
      continue;
    const l = bySubject.get(e.subjectIndex);
    if (l) l.push(e);
    else bySubject.set(e.subjectIndex, [e]);
  }
  const wanted: { line: number | null; subjectIndex: string }[] = [];
  if (phones) {
    const indexOf = subjectIndexOf(rt.keyrings, { regions: rt.config.sendRegions });
    for (const [i, p] of phones.entries()) {
      wanted.push({ line: i + 1, subjectIndex: await indexOf(orgId, p) });
    }
  } else {
    for (const s of bySubject.keys()) wanted.push({ line: null, subjectIndex: s });
  }
  const patients = wanted.map((w) => {
    const data = bySubject.get(w.subjectIndex) ?? [];
    return {
      ...w,
      events: data.length,
      byAction: tally(data),
      actors: [...new Set(data.map((e) => `${e.actor.type}:${e.actor.id}`))].sort(),
      data,
    };
  });
  const security = all.filter((e) => SECURITY_ACTIONS.has(e.action));
  await rt.store.transaction((tx) =>
    appendAudit(tx, rt.store.dialect, [
      {
        orgId,
        actor,
        action: 'incident.report_created',
        targetType: 'organisation',
        targetId: orgId,
        details: {
          from: new Date(range.from).toISOString(),
          to: new Date(range.to).toISOString(),
          patients: patients.length,
          events: all.length,
        },
      },
    ]),
  );
  return {
    orgId,
    from: new Date(range.from).toISOString(),
    to: new Date(range.to).toISOString(),
    patients,
    security,
    complete,
  };
}

export function addIncidentCommands(cli: Command, d: CommandDeps): void {
  cli
    .command('incident')
    .description('incident support (breach assessment)')
    .command('report')
    .description(
      'every disclosure and access concerning the affected patients, from the audit trail',
    )
    .requiredOption('--org <orgId>', 'organisation id')
    .requiredOption('--from <time>', 'start of the incident window (ISO 8601)')
    .requiredOption('--to <time>', 'end of the incident window (ISO 8601)')
    .option('--patients <file>', 'affected patients: one phone number per line')
    .option('--json', 'print JSON')
    .action((o: { org: string; from: string; to: string; patients?: string; json?: boolean }) =>
      d.withRuntime(async (rt) => {
        const from = parseIsoDateTime(o.from);
        const to = parseIsoDateTime(o.to);
        if (from === null || to === null || from >= to) {
          throw new AppError(
            'validation_failed',
            'Give --from before --to, in ISO 8601 with a zone.',
          );
        }
        const phones = o.patients
          ? fs
              .readFileSync(o.patients, 'utf8')
              .split(/\r?\n/)
              .map((l) => l.trim())
              .filter((l) => l && !l.startsWith('#'))
          : undefined;
        const r = await incidentReport(rt, o.org, { from, to }, phones, d.actor);
        const lines = [
          `incident report ${r.orgId}  ${r.from} – ${r.to}${r.complete ? '' : '  (INCOMPLETE: too many events)'}`,
          `${r.patients.length} patient(s); ${r.patients.filter((p) => p.events > 0).length} with events`,
        ];
        for (const p of r.patients) {
          lines.push(
            `\npatient ${p.line === null ? '' : `(line ${p.line}) `}${p.subjectIndex.slice(0, 16)}…  ${p.events} events  ${Object.entries(
              p.byAction,
            )
              .map(([a, n]) => `${a} ${n}`)
              .join(', ')}`,
          );
          if (p.actors.length) lines.push(`  accessed by: ${p.actors.join(', ')}`);
          for (const e of p.data) {
            lines.push(
              `  ${e.time}  ${e.action}  ${e.actor.type}:${e.actor.id}  ${e.target.type}:${e.target.id}`,
            );
          }
        }
        lines.push(`\nsecurity events in the window: ${r.security.length}`);
        for (const e of r.security) {
          lines.push(
            `  ${e.time}  ${e.action}  ${e.actor.type}:${e.actor.id}  ${e.target.type}:${e.target.id}`,
          );
        }
        d.print(Boolean(o.json), r, lines.join('\n'));
      }),
    );
}
