/**
 * @module cli/campaigns
 * `tidings campaign create|run|pause|report`: one template to a CSV list, sent through the
 * pipeline with a progress bar on stderr and the final report on stdout.
 */
import fs from 'node:fs';
import type { Command } from 'commander';
import type { CommandDeps } from './deps.js';
import type { CampaignProgress, CampaignView } from '../campaigns/index.js';
import type { AppointmentFilter } from '../reminders/index.js';

function bar(p: CampaignProgress): string {
  const done = p.total - p.pending;
  const width = 30;
  const filled = p.total === 0 ? width : Math.round((done / p.total) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${p.total}`;
}

function report(c: CampaignView): string {
  const p = c.progress;
  return [
    `${c.id}  ${c.name}  ${c.status}`,
    `recipients            ${p.total}`,
    `queued                ${p.queued}`,
    `sent                  ${p.sent}`,
    `delivered             ${p.delivered}`,
    `failed                ${p.failed}`,
    `suppressed by consent ${p.suppressedByConsent}`,
    `diverted by guard     ${p.divertedByGuard}`,
    ...(p.pending > 0 ? [`not yet sent          ${p.pending}`] : []),
  ].join('\n');
}

export function addCampaignCommands(cli: Command, d: CommandDeps): void {
  const campaign = cli.command('campaign').description('one template to a list of recipients');
  campaign
    .command('create')
    .requiredOption('--org <orgId>', 'organisation id')
    .requiredOption('--name <name>', 'what the campaign is for')
    .requiredOption('--template <template>', 'template id or name')
    .option('--csv <file>', 'CSV with a phone column and one column per template slot')
    .option('--filter <json>', 'or a saved filter: {from, to, location, appointmentType, statuses}')
    .option('--var <slot=value...>', 'with --filter: a value for a slot other than firstName')
    .option('--json', 'print JSON')
    .action(
      (o: {
        org: string;
        name: string;
        template: string;
        csv?: string;
        filter?: string;
        var?: string[];
        json?: boolean;
      }) =>
        d.withRuntime(async (rt) => {
          if ((o.csv === undefined) === (o.filter === undefined)) {
            throw d.usage('give either --csv FILE or --filter JSON');
          }
          const base = { name: o.name, template: o.template };
          let c: CampaignView;
          if (o.csv !== undefined) {
            c = await rt.campaigns.create(o.org, d.actor, {
              ...base,
              csv: fs.readFileSync(o.csv, 'utf8'),
            });
          } else {
            let filter: AppointmentFilter;
            try {
              filter = JSON.parse(o.filter!) as AppointmentFilter;
            } catch {
              throw d.usage('--filter must be JSON');
            }
            const variables: Record<string, string> = {};
            for (const v of o.var ?? []) {
              const k = v.indexOf('=');
              if (k < 1) throw d.usage('--var takes slot=value');
              variables[v.slice(0, k)] = v.slice(k + 1);
            }
            c = await rt.campaigns.create(o.org, d.actor, { ...base, filter, variables });
          }
          d.print(Boolean(o.json), c, report(c));
        }),
    );
  campaign
    .command('run')
    .description('send (or resume) a campaign, with a progress bar; a running server dispatches')
    .argument('<campaign>', 'cmp_…')
    .requiredOption('--org <orgId>', 'organisation id')
    .option('--json', 'print the report as JSON')
    .action((id: string, o: { org: string; json?: boolean }) =>
      d.withRuntime(async (rt) => {
        const tty = process.stderr.isTTY;
        const c = await rt.campaigns.run(o.org, id, d.actor, (p) => {
          process.stderr.write(tty ? `\r${bar(p)}` : `${bar(p)}\n`);
        });
        if (tty) process.stderr.write('\n');
        d.print(Boolean(o.json), c, report(c));
      }),
    );
  campaign
    .command('pause')
    .argument('<campaign>', 'cmp_…')
    .requiredOption('--org <orgId>', 'organisation id')
    .action((id: string, o: { org: string }) =>
      d.withRuntime(async (rt) => {
        await rt.campaigns.pause(o.org, id, d.actor);
        d.print(false, null, `paused ${id}`);
      }),
    );
  campaign
    .command('report')
    .argument('<campaign>', 'cmp_…')
    .requiredOption('--org <orgId>', 'organisation id')
    .option('--json', 'print JSON')
    .action((id: string, o: { org: string; json?: boolean }) =>
      d.withRuntime(async (rt) => {
        const c = await rt.campaigns.get(o.org, id);
        d.print(Boolean(o.json), c, report(c));
      }),
    );
}
