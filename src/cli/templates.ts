/**
 * @module cli/templates
 * `tidings template list|create|show|update|delete|preview`: an organisation's message
 * templates from the command line. Saving goes through the same checks as the API (the
 * content guard, slot types, length), and each change is audited with the CLI as actor.
 */
import type { Command } from 'commander';
import type { CommandDeps } from './deps.js';
import { PROGRAMS, type Program } from '../messaging/index.js';
import { programOption, variableOption } from './options.js';
import { SLOT_TYPES, type TemplateView } from '../templates/index.js';

function describe(t: TemplateView): string {
  return (
    `${t.id}  ${t.name}\nprogram  ${t.program}\nslots    ${t.slots.join(', ') || '(none)'}` +
    `\nupdated  ${t.updatedAt} by ${t.updatedBy}\n\n${t.body}`
  );
}

export function addTemplateCommands(cli: Command, d: CommandDeps): Command {
  const template = cli
    .command('template')
    .description(`message templates with typed slots (${SLOT_TYPES.join(', ')})`);
  template
    .command('list')
    .requiredOption('--org <orgId>', 'organisation id')
    .option('--json', 'print JSON')
    .action((o: { org: string; json?: boolean }) =>
      d.withRuntime(async (rt) => {
        const list = await rt.templates.list(o.org);
        d.print(
          Boolean(o.json),
          list,
          list.map((t) => `${t.id}  ${t.name}  ${t.program}  [${t.slots.join(',')}]`).join('\n') ||
            '(none)',
        );
      }),
    );
  template
    .command('create')
    .description('save a template (refused if the content guard finds health information)')
    .requiredOption('--org <orgId>', 'organisation id')
    .requiredOption('--name <name>', 'unique in the organisation')
    .requiredOption('--body <text>', 'text with {{slot}} placeholders')
    .option('--program <program>', PROGRAMS.join(' | '), programOption, 'care')
    .option('--json', 'print the template as JSON')
    .action((o: { org: string; name: string; body: string; program: Program; json?: boolean }) =>
      d.withRuntime(async (rt) => {
        const t = await rt.templates.create(
          o.org,
          { name: o.name, body: o.body, program: o.program },
          d.actor,
        );
        d.print(Boolean(o.json), t, `created ${t.id} (${t.slots.join(', ') || 'no slots'})`);
      }),
    );
  template
    .command('show')
    .requiredOption('--org <orgId>', 'organisation id')
    .argument('<template>', 'id (tpl_…) or name')
    .option('--json', 'print JSON')
    .action((ref: string, o: { org: string; json?: boolean }) =>
      d.withRuntime(async (rt) => {
        const t = await rt.templates.get(o.org, ref);
        d.print(Boolean(o.json), t, describe(t));
      }),
    );
  template
    .command('update')
    .description('change the name, body or program of a template')
    .requiredOption('--org <orgId>', 'organisation id')
    .argument('<template>', 'id (tpl_…) or name')
    .option('--name <name>', 'new name')
    .option('--body <text>', 'new text')
    .option('--program <program>', PROGRAMS.join(' | '), programOption)
    .option('--json', 'print the template as JSON')
    .action(
      (
        ref: string,
        o: { org: string; name?: string; body?: string; program?: Program; json?: boolean },
      ) =>
        d.withRuntime(async (rt) => {
          if (o.name === undefined && o.body === undefined && o.program === undefined) {
            throw d.usage('give at least one of --name, --body, --program');
          }
          const t = await rt.templates.update(
            o.org,
            ref,
            { name: o.name, body: o.body, program: o.program },
            d.actor,
          );
          d.print(Boolean(o.json), t, `updated ${t.id}`);
        }),
    );
  template
    .command('delete')
    .requiredOption('--org <orgId>', 'organisation id')
    .argument('<template>', 'id (tpl_…) or name')
    .option('--json', 'print {"deleted"}')
    .action((ref: string, o: { org: string; json?: boolean }) =>
      d.withRuntime(async (rt) => {
        await rt.templates.delete(o.org, ref, d.actor);
        d.print(Boolean(o.json), { deleted: ref }, `deleted ${ref}`);
      }),
    );
  template
    .command('preview')
    .description('the text a send with these variables would carry')
    .requiredOption('--org <orgId>', 'organisation id')
    .argument('<template>', 'id (tpl_…) or name')
    .option('--var <slot=value>', 'a variable (repeat for each slot)', variableOption, {})
    .option('--json', 'print {"body","segments","encoding"}')
    .action((ref: string, o: { org: string; var: Record<string, string>; json?: boolean }) =>
      d.withRuntime(async (rt) => {
        const p = await rt.templates.preview(o.org, ref, o.var);
        d.print(Boolean(o.json), p, `${p.body}\n(${p.segments} segment(s), ${p.encoding})`);
      }),
    );
  return template;
}
