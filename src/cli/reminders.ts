/**
 * @module cli/reminders
 * `tidings reminders list|preview|settings` and `tidings hl7 listen`: appointment reminders
 * from the command line. Listing shows feed ids, send times and statuses, never a patient's
 * name or number.
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { CommandDeps } from './deps.js';
import type { ReminderView } from '../reminders/index.js';
import { facilitiesSchema, parseFacilities } from '../config/index.js';

function portOption(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('a TCP port');
  return n;
}

function facilitiesOption(value: string): Record<string, string> {
  if (!facilitiesSchema.safeParse(value).success) {
    throw new InvalidArgumentError('FACILITY=org_…[,FACILITY=org_…]');
  }
  return parseFacilities(value);
}

function line(r: ReminderView): string {
  const offset = `${Math.round(r.offsetMinutes / 60)}h`;
  return `${r.sendAt}  ${r.status.padEnd(9)}  ${offset.padStart(4)}  ${r.externalId}${r.reason ? `  (${r.reason})` : ''}`;
}

export function addReminderCommands(cli: Command, d: CommandDeps): void {
  const reminders = cli.command('reminders').description('appointment reminders');
  reminders
    .command('list')
    .description('reminders by send time: appointment feed id, send time, status')
    .requiredOption('--org <orgId>', 'organisation id')
    .option('--json', 'print JSON')
    .action((o: { org: string; json?: boolean }) =>
      d.withRuntime(async (rt) => {
        const list = await rt.reminders.listReminders(o.org);
        d.print(Boolean(o.json), list, list.map(line).join('\n') || '(none)');
      }),
    );
  reminders
    .command('preview')
    .description('what will be sent when for one appointment (id or feed id)')
    .argument('<appointment>', 'apt_… or the feed id (HL7 filler id, fhir:{id})')
    .requiredOption('--org <orgId>', 'organisation id')
    .option('--json', 'print JSON')
    .action((ref: string, o: { org: string; json?: boolean }) =>
      d.withRuntime(async (rt) => {
        const p = await rt.reminders.preview(o.org, ref);
        const human = [
          `${p.appointment.externalId}  ${p.appointment.status}  starts ${p.appointment.start}`,
          '',
          'queued:',
          ...(p.reminders.length ? p.reminders.map(line) : ['  (none)']),
          '',
          'plan as of now:',
          ...(p.plan.length
            ? p.plan.map(
                (x) =>
                  `${x.sendAt}${x.moved ? ` (moved ${x.moved} for quiet hours)` : ''}\n  ${x.body}`,
              )
            : ['  (none)']),
          ...p.skipped.map((s) => `skipped ${Math.round(s.offsetMinutes / 60)}h: ${s.reason}`),
        ].join('\n');
        d.print(Boolean(o.json), p, human);
      }),
    );
  reminders
    .command('settings')
    .description('show, or replace with --set JSON, the schedules, reply words and time zone')
    .requiredOption('--org <orgId>', 'organisation id')
    .option('--set <json>', 'ReminderSettings as JSON (see docs/integrations.md)')
    .action((o: { org: string; set?: string }) =>
      d.withRuntime(async (rt) => {
        let input: unknown;
        if (o.set !== undefined) {
          try {
            input = JSON.parse(o.set);
          } catch {
            throw d.usage('--set must be JSON');
          }
        }
        const s =
          input === undefined
            ? await rt.reminders.settings(o.org)
            : await rt.reminders.setSettings(o.org, input, d.actor);
        d.print(true, s, '');
      }),
    );

  const hl7 = cli.command('hl7').description('HL7 v2 feeds');
  hl7
    .command('listen')
    .description(
      'accept SIU and ADT messages over MLLP (until stopped), for one organisation or per sending facility',
    )
    .option('--org <orgId>', 'organisation of every message (or of facilities not listed)')
    .option(
      '--facilities <list>',
      'organisation per sending facility (MSH-4): FACILITY=org_…[,FACILITY=org_…]',
      facilitiesOption,
    )
    .requiredOption('--port <port>', 'TCP port', portOption)
    .action(async (o: { org?: string; facilities?: Record<string, string>; port: number }) => {
      if (o.org === undefined && o.facilities === undefined) {
        throw d.usage('give --org, --facilities, or both');
      }
      await d.withRuntime(async (rt) => {
        const port = await rt.startHl7Listener(o.org, o.port, o.facilities);
        process.stderr.write(`listening for HL7 v2 (MLLP) on ${rt.config.host}:${port}\n`);
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
      });
    });
}
