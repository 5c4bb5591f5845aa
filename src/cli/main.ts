/**
 * @module cli
 * The `tidings` command for operators: serve, migrate, organisations, API keys, sending,
 * the simulator, and audit verification. Every command but `serve` logs to stderr, so its
 * standard output can be piped (`--json`).
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { pino } from 'pino';
import { ConfigError, loadConfig } from '../config/index.js';
import { Runtime, type Role } from '../runtime/index.js';
import { Store } from '../store/index.js';
import type { Sender } from '../orgs/index.js';
import {
  addConfiguredSender,
  THROUGHPUT_PRESETS,
  type ThroughputPreset,
} from '../runtime/sender-carriers.js';
import { createLogger } from '../observability/index.js';
import { AppError } from '../errors/index.js';
import type { Actor } from '../audit/index.js';
import { PROGRAMS, parseIsoDateTime, type Program } from '../messaging/index.js';
import { DEFAULT_SCOPES, ROLES, SCOPES, parseScopes } from '../identity/index.js';
import { setupLink } from '../identity/users.js';
import { addKeyCommands } from './keys.js';
import { addAuditCommands } from './audit.js';
import { addConsentCommands } from './consent.js';
import { addTemplateCommands } from './templates.js';
import { addGuardCommands } from './guard.js';
import { addBackupCommands } from './backup.js';
import { addRetentionCommands } from './retention.js';
import { addIncidentCommands } from './incident.js';
import { addReminderCommands } from './reminders.js';
import { addCampaignCommands } from './campaigns.js';
import { programOption, variableOption } from './options.js';

const CLI_ACTOR: Actor = { type: 'cli', id: 'operator' };

class UsageError extends Error {}

function positiveWhole(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number ≥ 1');
  return n;
}

/** One sender on one line: id, number, carrier, rate and roles (never credentials). */
function senderLine(s: Sender): string {
  const roles = [
    s.isDefault && 'default',
    s.isSecondary && 'secondary',
    s.inPool && 'pool',
    s.dailyCap !== null && `cap ${s.dailyCap}/day`,
  ].filter(Boolean);
  return `${s.id}  ${s.number}  ${s.carrier}  ${s.mps}/s${roles.map((r) => `  ${r}`).join('')}`;
}

/** An ISO 8601 time given on the command line, as epoch ms. */
function cliTime(value: string): number {
  const t = parseIsoDateTime(value);
  if (t === null) throw new AppError('validation_failed', 'Give the time in ISO 8601.');
  return t;
}

function print(json: boolean, value: unknown, human: string): void {
  process.stdout.write(json ? `${JSON.stringify(value)}\n` : `${human}\n`);
}

/** Opens a runtime for a one-shot command, logging to stderr, and closes it afterwards. */
/** The organisation the running command names with `--org` (set before its action runs). */
let namedOrg: string | undefined;

async function withRuntime<T>(fn: (rt: Runtime) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const log = createLogger(
    config.logLevel === 'info' ? 'warn' : config.logLevel,
    pino.destination(2),
  );
  const rt = await Runtime.open(config, { log, defaultMetrics: false });
  try {
    // Every command refuses an organisation that does not exist before it reads or writes
    // anything for it (no empty listings, foreign-key errors or audit trails for no one).
    if (namedOrg !== undefined && !(await rt.orgs.get(namedOrg))) {
      throw new AppError('not_found', 'No such organisation.');
    }
    return await fn(rt);
  } finally {
    await rt.close();
  }
}

async function serve(role: Role): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  const rt = await Runtime.open(config, { log });
  if (config.quietHours === 'off') {
    log.warn('TIDINGS_QUIET_HOURS=off: texts go out at any hour (for development and tests only)');
  }
  if (!config.frequencyCaps) {
    log.warn('TIDINGS_FREQUENCY_CAPS=off: no frequency caps (for development and tests only)');
  }
  try {
    if (role !== 'api') rt.startWorkers();
    if (role !== 'worker') {
      const address = await rt.listen();
      log.info({ address, role }, 'tidings listening');
      if (config.hl7) {
        await rt.startHl7Listener(config.hl7.orgId, config.hl7.port, config.hl7.facilities);
      }
    } else {
      log.info({ role }, 'tidings worker running');
    }
  } catch (e) {
    // A server that cannot start (unreadable TLS files, port taken) stops its workers and
    // exits rather than running on headless.
    await rt.close();
    throw e;
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    rt.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

export function buildCli(): Command {
  const cli = new Command('tidings')
    .description('Tidings: text patients without leaking protected health information')
    // A wrong flag or value reads like every other refusal (`tidings: CODE: …`), with a
    // pointer to the command's help instead of all of it.
    .configureOutput({
      outputError: (text, write) => write(`tidings: usage_error: ${text.replace(/^error: /, '')}`),
    })
    .showHelpAfterError('(add --help to the command for its options)')
    .exitOverride()
    .hook('preAction', (_root, command) => {
      const org: unknown = command.opts().org;
      namedOrg = typeof org === 'string' ? org : undefined;
    });

  cli
    .command('serve')
    .description('run the API server and the workers')
    .addOption(
      new Option('--role <role>', 'what this process runs')
        .choices(['api', 'worker', 'all'])
        .default('all'),
    )
    .action((o: { role: Role }) => serve(o.role));

  cli
    .command('migrate')
    .description('apply pending database migrations')
    .option('--json', 'print the names applied as JSON')
    .action(async (o: { json?: boolean }) => {
      // The store alone: migrating needs no keys (and makes none).
      const config = loadConfig();
      const store = Store.open({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
      try {
        const applied = await store.migrate();
        print(
          Boolean(o.json),
          { applied },
          applied.length > 0
            ? `applied ${applied.length} migrations (${applied[0]} … ${applied.at(-1)})`
            : 'migrations are up to date',
        );
      } finally {
        await store.close();
      }
    });

  const org = cli.command('org').description('organisations');
  org
    .command('create')
    .description('create an organisation with a simulator sender and an API key')
    .requiredOption('--name <name>', 'organisation name')
    .option('--json', 'print {"orgId","apiKey"} as JSON')
    .action((o: { name: string; json?: boolean }) =>
      withRuntime(async (rt) => {
        const r = await rt.orgs.create(o.name, CLI_ACTOR);
        print(
          Boolean(o.json),
          { orgId: r.orgId, apiKey: r.apiKey },
          `organisation ${r.orgId}\nsender       ${r.sender.number} (simulator, default)\napi key      ${r.apiKey}\n(the API key is shown once; store it now)`,
        );
      }),
    );
  org
    .command('list')
    .description('list organisations')
    .option('--json', 'print JSON')
    .action((o: { json?: boolean }) =>
      withRuntime(async (rt) => {
        const list = await rt.orgs.list();
        print(Boolean(o.json), list, list.map((x) => `${x.id}  ${x.name}`).join('\n') || '(none)');
      }),
    );
  org
    .command('set-quiet-hours')
    .description("set the organisation's quiet-hours window and the programs it never holds")
    .requiredOption('--org <orgId>', 'organisation id')
    .requiredOption(
      '--window <HH:MM-HH:MM>',
      "recipients' local hours, within the installation's (or `default` for the installation's)",
    )
    .option('--exempt <programs>', 'comma-separated programs quiet hours never hold, or `none`')
    .option('--json', 'print the settings as JSON')
    .action((o: { org: string; window: string; exempt?: string; json?: boolean }) =>
      withRuntime(async (rt) => {
        const current = await rt.sendRules.settings(o.org);
        const exemptPrograms =
          o.exempt === undefined
            ? current.quietHours.exemptPrograms
            : o.exempt === 'none' || o.exempt === ''
              ? []
              : o.exempt.split(',').map((p) => programOption(p.trim()));
        const v = await rt.sendRules.setQuietHours(
          o.org,
          { window: o.window === 'default' ? null : o.window, exemptPrograms },
          CLI_ACTOR,
        );
        print(
          Boolean(o.json),
          v.quietHours,
          `quiet hours ${v.quietHours.effectiveWindow} (recipient's local time)` +
            `\nexempt      ${v.quietHours.exemptPrograms.join(', ') || '(none)'}`,
        );
      }),
    );
  org
    .command('set-webhook')
    .description('set (or --clear) the URL that receives status and inbound webhooks')
    .requiredOption('--org <orgId>', 'organisation id')
    .option('--url <url>', 'webhook URL (http or https)')
    .option('--clear', 'remove the webhook')
    .option('--json', 'print JSON')
    .action((o: { org: string; url?: string; clear?: boolean; json?: boolean }) =>
      withRuntime(async (rt) => {
        if (Boolean(o.url) === Boolean(o.clear))
          throw new UsageError('give exactly one of --url or --clear');
        const r = await rt.orgs.setWebhook(o.org, o.url ?? null, CLI_ACTOR);
        print(
          Boolean(o.json),
          r,
          r.url === null
            ? 'webhook cleared'
            : `webhook ${r.url}${r.secret ? `\nsigning secret ${r.secret} (shown once)` : ' (signing secret unchanged)'}`,
        );
      }),
    );

  const apikey = cli.command('apikey').description('API keys');
  apikey
    .command('create')
    .requiredOption('--org <orgId>', 'organisation id')
    .option('--name <name>', 'what the key is for', 'default')
    .option('--scopes <list>', `comma-separated: ${SCOPES.join(', ')}`, DEFAULT_SCOPES.join(','))
    .option('--expires <time>', 'ISO 8601 time after which the key stops working')
    .option('--json', 'print {"id","apiKey"} as JSON')
    .action((o: { org: string; name: string; scopes: string; expires?: string; json?: boolean }) =>
      withRuntime(async (rt) => {
        if (!(await rt.orgs.get(o.org))) throw new AppError('not_found', 'No such organisation.');
        const k = await rt.apiKeys.create(
          o.org,
          {
            name: o.name,
            scopes: parseScopes(o.scopes),
            expiresAt: o.expires === undefined ? undefined : cliTime(o.expires),
          },
          CLI_ACTOR,
        );
        print(Boolean(o.json), k, `api key ${k.id}\n${k.apiKey}\n(shown once; store it now)`);
      }),
    );
  apikey
    .command('list')
    .requiredOption('--org <orgId>', 'organisation id')
    .option('--json', 'print JSON')
    .action((o: { org: string; json?: boolean }) =>
      withRuntime(async (rt) => {
        const keys = await rt.apiKeys.list(o.org);
        print(
          Boolean(o.json),
          keys,
          keys
            .map(
              (k) =>
                `${k.id}  ${k.prefix}…  ${k.name}  [${k.scopes.join(',')}]  by ${
                  k.createdBy ?? '?'
                }  last used ${k.lastUsedAt ?? 'never'}  ${
                  k.revokedAt
                    ? `revoked ${k.revokedAt}`
                    : k.expiresAt
                      ? `expires ${k.expiresAt}`
                      : 'active'
                }`,
            )
            .join('\n') || '(none)',
        );
      }),
    );
  apikey
    .command('revoke')
    .requiredOption('--org <orgId>', 'organisation id')
    .requiredOption('--id <keyId>', 'key id (key_…)')
    .action((o: { org: string; id: string }) =>
      withRuntime(async (rt) => {
        if (!(await rt.apiKeys.revoke(o.org, o.id, CLI_ACTOR))) {
          throw new AppError('not_found', 'No such active API key.');
        }
        print(false, null, `revoked ${o.id}`);
      }),
    );

  const user = cli.command('user').description('people who sign in (console and API sessions)');
  user
    .command('create')
    .requiredOption('--org <orgId>', 'organisation id')
    .requiredOption('--email <email>', 'e-mail address (unique in the organisation)')
    .requiredOption('--role <role>', ROLES.join(' | '))
    .option('--json', 'print {"user","setupLink"} as JSON')
    .action((o: { org: string; email: string; role: string; json?: boolean }) =>
      withRuntime(async (rt) => {
        if (!(await rt.orgs.get(o.org))) throw new AppError('not_found', 'No such organisation.');
        const r = await rt.users.create(o.org, o.email, o.role, CLI_ACTOR);
        const link = setupLink(rt.config.publicUrl, r.setupToken);
        print(
          Boolean(o.json),
          { user: r.user, setupLink: link },
          `user ${r.user.id} (${r.user.role})\nset-up link (one use, 72 hours):\n${link}`,
        );
      }),
    );
  user
    .command('list')
    .requiredOption('--org <orgId>', 'organisation id')
    .option('--json', 'print JSON')
    .action((o: { org: string; json?: boolean }) =>
      withRuntime(async (rt) => {
        const users = await rt.users.list(o.org);
        print(
          Boolean(o.json),
          users,
          users
            .map(
              (u) =>
                `${u.id}  ${u.email}  ${u.role}  ${u.mfaEnrolled ? 'mfa' : 'no-mfa'}${u.disabled ? '  disabled' : ''}`,
            )
            .join('\n') || '(none)',
        );
      }),
    );
  user
    .command('set-role')
    .requiredOption('--org <orgId>', 'organisation id')
    .requiredOption('--id <userId>', 'user id')
    .requiredOption('--role <role>', ROLES.join(' | '))
    .action((o: { org: string; id: string; role: string }) =>
      withRuntime(async (rt) => {
        const u = await rt.users.update(o.org, o.id, { role: o.role }, CLI_ACTOR);
        print(false, u, `user ${u.id} is now ${u.role}`);
      }),
    );
  for (const [name, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    user
      .command(name)
      .requiredOption('--org <orgId>', 'organisation id')
      .requiredOption('--id <userId>', 'user id')
      .action((o: { org: string; id: string }) =>
        withRuntime(async (rt) => {
          await rt.users.update(o.org, o.id, { disabled }, CLI_ACTOR);
          if (disabled) await rt.sessions.revokeAll(o.org, o.id, CLI_ACTOR);
          print(false, null, `user ${o.id} ${disabled ? 'disabled and signed out' : 'enabled'}`);
        }),
      );
  }
  user
    .command('revoke-sessions')
    .description('sign a user out everywhere (lost or stolen device)')
    .requiredOption('--org <orgId>', 'organisation id')
    .requiredOption('--id <userId>', 'user id')
    .action((o: { org: string; id: string }) =>
      withRuntime(async (rt) => {
        if (!(await rt.users.get(o.org, o.id))) throw new AppError('user_not_found');
        const n = await rt.sessions.revokeAll(o.org, o.id, CLI_ACTOR);
        print(false, null, `${n} session(s) ended`);
      }),
    );
  user
    .command('reset-mfa')
    .description("remove a user's second factor; they enrol again at next sign-in")
    .requiredOption('--org <orgId>', 'organisation id')
    .requiredOption('--id <userId>', 'user id')
    .action((o: { org: string; id: string }) =>
      withRuntime(async (rt) => {
        await rt.users.resetMfa(o.org, o.id, CLI_ACTOR);
        await rt.sessions.revokeAll(o.org, o.id, CLI_ACTOR);
        print(false, null, `second factor of ${o.id} removed; sessions ended`);
      }),
    );
  user
    .command('setup-link')
    .description('issue a new one-time set-up link (forgotten password)')
    .requiredOption('--org <orgId>', 'organisation id')
    .requiredOption('--id <userId>', 'user id')
    .action((o: { org: string; id: string }) =>
      withRuntime(async (rt) => {
        const r = await rt.users.resetSetupLink(o.org, o.id, CLI_ACTOR);
        print(false, null, setupLink(rt.config.publicUrl, r.setupToken));
      }),
    );

  const sender = cli.command('sender').description('the numbers an organisation texts from');
  sender
    .command('list')
    .requiredOption('--org <orgId>', 'organisation id')
    .option('--json', 'print JSON')
    .action((o: { org: string; json?: boolean }) =>
      withRuntime(async (rt) => {
        const list = await rt.orgs.senders(o.org);
        print(Boolean(o.json), list, list.map(senderLine).join('\n') || '(none)');
      }),
    );
  sender
    .command('add')
    .description('add a sender (credentials are stored encrypted and never shown again)')
    .requiredOption('--org <orgId>', 'organisation id')
    .requiredOption('--number <e164>', 'the number, in E.164 (+1…)')
    .addOption(
      new Option('--carrier <carrier>', 'carrier')
        .choices(['simulator', 'smpp', 'twilio', 'telnyx'])
        .makeOptionMandatory(),
    )
    .option('--url <url>', 'smpp: smpp://SYSTEM_ID:PASSWORD@HOST:PORT (ssmpp:// for TLS)')
    .option('--window <n>', 'smpp: outstanding submit_sm (default 10)', positiveWhole)
    .option('--mps <n>', 'segments per second', positiveWhole)
    .option('--daily-cap <n>', 'segments per day', positiveWhole)
    .option('--cap-time-zone <zone>', "IANA zone of the daily cap's midnight")
    .addOption(
      new Option('--preset <preset>', '10DLC throughput preset (segments)').choices(
        THROUGHPUT_PRESETS,
      ),
    )
    .option('--account-sid <sid>', 'twilio: account SID')
    .option('--auth-token <token>', 'twilio: auth token')
    .option('--api-key <key>', 'telnyx: API key')
    .option('--public-key <base64>', 'telnyx: webhook public key (base64)')
    .option('--base-url <url>', 'twilio, telnyx: API base URL')
    .option('--default', 'use it when a message names no sender')
    .option('--secondary', "fail over to it when another sender's carrier keeps failing")
    .option('--pool', 'in the pool: messages naming no sender go from it, sticky per recipient')
    .option('--json', 'print JSON')
    .action(
      (o: {
        org: string;
        number: string;
        carrier: 'simulator' | 'smpp' | 'twilio' | 'telnyx';
        url?: string;
        window?: number;
        mps?: number;
        dailyCap?: number;
        capTimeZone?: string;
        preset?: ThroughputPreset;
        accountSid?: string;
        authToken?: string;
        apiKey?: string;
        publicKey?: string;
        baseUrl?: string;
        default?: boolean;
        secondary?: boolean;
        pool?: boolean;
        json?: boolean;
      }) =>
        withRuntime(async (rt) => {
          const { json, org, default: isDefault, secondary, pool, ...input } = o;
          const r = await addConfiguredSender(
            rt.orgs,
            rt.config.defaultMps,
            org,
            {
              ...input,
              isDefault: Boolean(isDefault),
              isSecondary: Boolean(secondary),
              inPool: Boolean(pool),
            },
            CLI_ACTOR,
          );
          const hooks = Object.entries(r.webhooks)
            .map(([k, p]) => `\n${k} webhook  ${rt.config.publicUrl}${p}`)
            .join('');
          print(
            Boolean(json),
            { ...r.sender, webhooks: r.webhooks },
            `${senderLine(r.sender)}${hooks}`,
          );
        }),
    );
  sender
    .command('update')
    .description("change a sender's limits and roles (carrier settings: add a new sender)")
    .requiredOption('--org <orgId>', 'organisation id')
    .requiredOption('--id <senderId>', 'sender id (snd_…)')
    .option('--mps <n>', 'segments per second, shared by all workers', positiveWhole)
    // "none" stays a word here: commander would turn a null from the parser into ''.
    .option('--daily-cap <n>', 'segments per day, or "none"', (v): number | 'none' =>
      v === 'none' ? v : positiveWhole(v),
    )
    .option('--cap-time-zone <zone>', 'IANA zone of the daily cap\'s midnight, or "none"')
    .option('--default', 'use it when a message names no sender (and no pool applies)')
    .option('--secondary', "fail over to it when another sender's carrier keeps failing")
    .option('--no-secondary', 'no longer the failover sender')
    .option('--pool', 'join the pool: messages naming no sender go from it, sticky per recipient')
    .option('--no-pool', 'leave the pool')
    .option('--json', 'print JSON')
    .action(
      (o: {
        org: string;
        id: string;
        mps?: number;
        dailyCap?: number | 'none';
        capTimeZone?: string;
        default?: boolean;
        secondary?: boolean;
        pool?: boolean;
        json?: boolean;
      }) =>
        withRuntime(async (rt) => {
          const s = await rt.orgs.updateSender(
            o.org,
            o.id,
            {
              mps: o.mps,
              dailyCap: o.dailyCap === 'none' ? null : o.dailyCap,
              capTimeZone: o.capTimeZone === 'none' ? null : o.capTimeZone,
              isDefault: o.default ? true : undefined,
              isSecondary: o.secondary,
              inPool: o.pool,
            },
            CLI_ACTOR,
          );
          print(Boolean(o.json), s, senderLine(s));
        }),
    );
  sender
    .command('remove')
    .description('remove a sender and its credentials (not the default; none of its texts waiting)')
    .requiredOption('--org <orgId>', 'organisation id')
    .requiredOption('--id <senderId>', 'sender id (snd_…)')
    .action((o: { org: string; id: string }) =>
      withRuntime(async (rt) => {
        const s = await rt.removeSender(o.org, o.id, CLI_ACTOR);
        print(false, null, `removed ${s.id} (${s.number})`);
      }),
    );

  cli
    .command('send')
    .description('send a text through the pipeline (a running server dispatches it)')
    .requiredOption('--org <orgId>', 'organisation id')
    .requiredOption('--to <number>', 'recipient')
    .option('--body <text>', 'message text')
    .option('--template <ref>', 'a template id or name, instead of --body')
    .option('--var <slot=value>', 'a template slot (repeatable)', variableOption, {})
    .option(
      '--program <program>',
      `${PROGRAMS.join('|')} (default: care, or the template's)`,
      programOption,
    )
    .option('--from <sender>', 'sender number or id')
    .option('--json', 'print the message as JSON')
    .action(
      (o: {
        org: string;
        to: string;
        body?: string;
        template?: string;
        var: Record<string, string>;
        program?: Program;
        from?: string;
        json?: boolean;
      }) =>
        withRuntime(async (rt) => {
          const r = await rt.send(o.org, CLI_ACTOR, {
            to: o.to,
            from: o.from,
            ...(o.template === undefined
              ? { body: o.body, program: o.program ?? 'care' }
              : { template: o.template, variables: o.var, program: o.program }),
          });
          print(
            Boolean(o.json),
            r.message,
            `queued ${r.message.id} (${r.message.segments} segment(s), ${r.message.encoding})` +
              (r.message.heldBy ? `\nnot before ${r.message.notBefore} (${r.message.heldBy})` : ''),
          );
        }),
    );

  const sim = cli.command('sim').description('the simulator carrier');
  sim
    .command('inbound')
    .description('deliver a text from a patient to one of your simulator numbers')
    .requiredOption('--from <number>', 'the patient number')
    .requiredOption('--to <number>', 'your sender number')
    .requiredOption('--text <text>', 'the text')
    .action((o: { from: string; to: string; text: string }) =>
      withRuntime(async (rt) => {
        const r = await rt.messaging.receiveInbound({ from: o.from, to: o.to, body: o.text });
        if (!r) throw new AppError('unknown_sender', 'No organisation owns that number.');
        print(false, null, `received ${r.id}`);
      }),
    );

  addAuditCommands(cli, {
    withRuntime,
    print,
    usage: (m) => new UsageError(m),
    actor: CLI_ACTOR,
  });

  addKeyCommands(cli, {
    withRuntime,
    print,
    usage: (m) => new UsageError(m),
    actor: CLI_ACTOR,
  });

  addConsentCommands(cli, {
    withRuntime,
    print,
    usage: (m) => new UsageError(m),
    actor: CLI_ACTOR,
  });

  addTemplateCommands(cli, {
    withRuntime,
    print,
    usage: (m) => new UsageError(m),
    actor: CLI_ACTOR,
  });

  addGuardCommands(cli);

  for (const add of [addBackupCommands, addRetentionCommands, addIncidentCommands]) {
    add(cli, { withRuntime, print, usage: (m) => new UsageError(m), actor: CLI_ACTOR });
  }

  addReminderCommands(cli, {
    withRuntime,
    print,
    usage: (m) => new UsageError(m),
    actor: CLI_ACTOR,
  });
  addCampaignCommands(cli, {
    withRuntime,
    print,
    usage: (m) => new UsageError(m),
    actor: CLI_ACTOR,
  });

  return cli;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildCli().parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode;
      return;
    }
    if (e instanceof ConfigError || e instanceof UsageError) {
      process.stderr.write(`tidings: ${e.message}\n`);
      process.exitCode = 2;
      return;
    }
    if (e instanceof AppError) {
      process.stderr.write(`tidings: ${e.code}: ${e.message}\n`);
      process.exitCode = 1;
      return;
    }
    process.stderr.write(
      `tidings: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}\n`,
    );
    process.exitCode = 1;
  }
}
