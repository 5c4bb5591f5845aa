/**
 * @module cli/consent
 * `tidings consent show|record|import|export|settings` (and `classify`, from
 * cli/consent-classify): the consent ledger from the command line, e.g. to prove to an
 * auditor when and how a patient agreed or withdrew.
 */
import fs from 'node:fs';
import type { Command } from 'commander';
import type { CommandDeps } from './deps.js';
import { registerClassifyCommand } from './consent-classify.js';
import { PROGRAMS, parseIsoDateTime, type Program } from '../messaging/index.js';
import {
  CONSENT_KINDS,
  CONSENT_SOURCES,
  type ConsentKind,
  type ConsentSource,
  type ConsentView,
} from '../consent/ledger.js';
import { AppError } from '../errors/index.js';

function describe(v: ConsentView): string {
  const state = PROGRAMS.map(
    (p) =>
      `  ${p.padEnd(10)} ${v.programs[p].status.padEnd(10)} ${v.programs[p].canSend ? 'may send' : 'may NOT send'}`,
  ).join('\n');
  const history = v.history
    .map(
      (e) =>
        `  ${e.occurredAt}  ${e.kind.padEnd(11)} ${e.program.padEnd(9)} ${e.source.padEnd(11)} ${e.actor}${e.destroyed ? '  evidence destroyed (data key shredded)' : e.evidence ? `  evidence: ${e.evidence}` : ''}`,
    )
    .join('\n');
  return `${v.phone}\n${state}\nhistory:\n${history || '  (none)'}`;
}

export function addConsentCommands(cli: Command, d: CommandDeps): Command {
  const consent = cli.command('consent').description('the consent ledger');
  registerClassifyCommand(consent);
  consent
    .command('show')
    .requiredOption('--org <orgId>', 'organisation id')
    .argument('<phone>', 'the patient number')
    .option('--json', 'print JSON')
    .action((phone: string, o: { org: string; json?: boolean }) =>
      d.withRuntime(async (rt) => {
        const v = await rt.consent.show(o.org, phone);
        d.print(Boolean(o.json), v, describe(v));
      }),
    );
  consent
    .command('record')
    .requiredOption('--org <orgId>', 'organisation id')
    .requiredOption('--phone <number>', 'the patient number')
    .requiredOption('--program <program>', `${PROGRAMS.join(' | ')} | all`)
    .requiredOption('--kind <kind>', CONSENT_KINDS.join(' | '))
    .requiredOption('--source <source>', CONSENT_SOURCES.join(' | '))
    .option('--evidence <text>', 'form id, document reference, call note …')
    .option('--at <time>', 'ISO 8601 time it happened, if not now')
    .option('--json', 'print {"id"}')
    .action(
      (o: {
        org: string;
        phone: string;
        program: string;
        kind: string;
        source: string;
        evidence?: string;
        at?: string;
        json?: boolean;
      }) =>
        d.withRuntime(async (rt) => {
          let occurredAt: number | undefined;
          if (o.at !== undefined) {
            const t = parseIsoDateTime(o.at);
            if (t === null) throw new AppError('validation_failed', '--at must be ISO 8601.');
            occurredAt = t;
          }
          const id = await rt.consent.record(
            o.org,
            {
              phone: o.phone,
              program: o.program as Program | 'all',
              kind: o.kind as ConsentKind,
              source: o.source as ConsentSource,
              evidence: o.evidence,
              occurredAt,
            },
            d.actor,
          );
          d.print(Boolean(o.json), { id }, `recorded ${id}`);
        }),
    );
  consent
    .command('import')
    .requiredOption('--org <orgId>', 'organisation id')
    .requiredOption('--file <csv>', 'CSV: phone,program,kind,source[,evidence][,occurred_at]')
    .option('--skip-invalid', 'import the valid rows even if some are invalid')
    .option('--validate-only', 'report problems, import nothing')
    .option('--json', 'print the report as JSON')
    .action(
      (o: {
        org: string;
        file: string;
        skipInvalid?: boolean;
        validateOnly?: boolean;
        json?: boolean;
      }) =>
        d.withRuntime(async (rt) => {
          let csv: string;
          try {
            csv = fs.readFileSync(o.file, 'utf8');
          } catch {
            throw d.usage(`cannot read ${o.file}`);
          }
          const r = await rt.consent.importCsv(
            o.org,
            csv,
            { skipInvalid: Boolean(o.skipInvalid), validateOnly: Boolean(o.validateOnly) },
            d.actor,
          );
          const lines = r.errors
            .map((e) => `  line ${e.line}: ${e.code} — ${e.message}`)
            .join('\n');
          d.print(
            Boolean(o.json),
            r,
            `${r.rows} rows: ${r.imported} imported, ${r.errors.length} invalid${lines ? `\n${lines}` : ''}`,
          );
          if (r.errors.length > 0 && !o.skipInvalid) process.exitCode = 1;
        }),
    );
  consent
    .command('export')
    .requiredOption('--org <orgId>', 'organisation id')
    .argument('<phone>', 'the patient number')
    .option('--format <format>', 'json | csv', 'json')
    .action((phone: string, o: { org: string; format: string }) =>
      d.withRuntime(async (rt) => {
        if (o.format === 'csv') process.stdout.write(await rt.consent.exportCsv(o.org, phone));
        else if (o.format === 'json') {
          process.stdout.write(`${JSON.stringify(await rt.consent.show(o.org, phone), null, 2)}\n`);
        } else throw d.usage('--format is json or csv');
      }),
    );
  consent
    .command('policy')
    .description("set one program's consent policy")
    .requiredOption('--org <orgId>', 'organisation id')
    .requiredOption('--program <program>', PROGRAMS.join(' | '))
    .option('--require-opt-in <bool>', 'true | false')
    .option('--double-opt-in <bool>', 'true | false')
    .action((o: { org: string; program: string; requireOptIn?: string; doubleOptIn?: string }) =>
      d.withRuntime(async (rt) => {
        if (!(PROGRAMS as readonly string[]).includes(o.program))
          throw d.usage('unknown --program');
        const bool = (v: string | undefined, cur: boolean) => {
          if (v === undefined) return cur;
          if (v !== 'true' && v !== 'false') throw d.usage('give true or false');
          return v === 'true';
        };
        const cur = await rt.consent.settings(o.org);
        const p = cur.programs[o.program as Program];
        const next = await rt.consent.setSettings(
          o.org,
          {
            programs: {
              ...cur.programs,
              [o.program]: {
                requireOptIn: bool(o.requireOptIn, p.requireOptIn),
                doubleOptIn: bool(o.doubleOptIn, p.doubleOptIn),
              },
            },
          },
          d.actor,
        );
        d.print(
          false,
          null,
          `${o.program}: ${JSON.stringify(next.programs[o.program as Program])}`,
        );
      }),
    );
  return consent;
}
