/**
 * @module cli/keys
 * `tidings keys …`: the master keys (status, rotation, retirement) and each organisation's
 * data keys (rotation, crypto-shredding). Prints key ids and counts, never key material.
 * See docs/operations.md, "Keys".
 */
import type { CommandDeps } from './deps.js';
import type { Command } from 'commander';
import type { MasterKeyStatus } from '../orgs/index.js';

/** Every wrapped key a master key is needed for. */
function uses(m: MasterKeyStatus): number {
  return m.dataKeys + m.indexKeys + m.otherKeys;
}

function masterLine(m: MasterKeyStatus): string {
  const state = m.retiredAt
    ? `retired ${m.retiredAt}`
    : m.newest
      ? 'newest: wraps new keys'
      : m.configured
        ? 'older'
        : uses(m) > 0
          ? 'MISSING: not configured on this server'
          : 'not configured';
  const other = m.otherKeys > 0 ? `  audit signing keys ${m.otherKeys}` : '';
  return `  ${m.id}  data keys ${m.dataKeys}  index keys ${m.indexKeys}${other}  (${state})`;
}

export function addKeyCommands(cli: Command, d: CommandDeps): void {
  const keys = cli
    .command('keys')
    .description('master keys (key-encryption keys) and organisation data keys');

  keys
    .command('status')
    .description('each master key and how many wrapped keys use it; or one organisation’s keys')
    .option('--org <orgId>', "show this organisation's data keys instead")
    .option('--json', 'print JSON')
    .action((o: { org?: string; json?: boolean }) =>
      d.withRuntime(async (rt) => {
        if (o.org) {
          const s = await rt.keyrings.orgStatus(o.org);
          d.print(
            Boolean(o.json),
            s,
            [
              `organisation ${s.orgId}`,
              ...s.dataKeys.map(
                (k) => `  ${k.keyId}  ${k.state}  created ${k.createdAt}  master ${k.masterKeyId}`,
              ),
              `  ${s.indexKey.keyId}  blind index  created ${s.indexKey.createdAt}  master ${s.indexKey.masterKeyId}`,
              ...s.shredded.map((k) => `  ${k.keyId}  shredded ${k.shreddedAt}`),
            ].join('\n'),
          );
          return;
        }
        const source = rt.keyrings.masterSource;
        const masterKeys = await rt.keyrings.status();
        d.print(
          Boolean(o.json),
          { source, masterKeys },
          [`master keys from ${source.location}:`, ...masterKeys.map(masterLine)].join('\n'),
        );
        if (masterKeys.some((m) => !m.configured && uses(m) > 0)) {
          process.exitCode = 1;
        }
      }),
    );

  keys
    .command('rotate')
    .description(
      're-wrap every organisation key under the newest master key (a new one is generated in development)',
    )
    .option('--json', 'print JSON')
    .action((o: { json?: boolean }) =>
      d.withRuntime(async (rt) => {
        const r = await rt.keyrings.rotateMaster(d.actor);
        const source = rt.keyrings.masterSource;
        const unused = (await rt.keyrings.status()).filter(
          (m) => m.configured && !m.newest && !m.retiredAt && uses(m) === 0,
        );
        const lines: string[] = [];
        if (r.generated)
          lines.push(`generated master key ${r.masterKeyId} into ${source.location}`);
        if (r.dataKeys + r.indexKeys + r.otherKeys === 0 && !r.generated) {
          lines.push(
            `nothing to re-wrap: every key is already wrapped by ${r.masterKeyId}, the newest master key` +
              (source.kind === 'file'
                ? ` (to rotate, put a new key first in ${source.location})`
                : source.kind === 'env'
                  ? ' (TIDINGS_MASTER_KEY holds one key: move to TIDINGS_MASTER_KEY_FILE to rotate)'
                  : ''),
          );
        } else {
          lines.push(
            `re-wrapped ${r.dataKeys} data key(s) and ${r.indexKeys} index key(s) of ${r.organisations} organisation(s) under master key ${r.masterKeyId}`,
          );
          if (r.otherKeys > 0) lines.push(`re-wrapped ${r.otherKeys} audit signing key(s)`);
        }
        if (r.remaining > 0) {
          lines.push(
            `${r.remaining} key(s) are still under an older master key (written meanwhile by a server without the new key): run this again`,
          );
          process.exitCode = 1;
        }
        for (const m of unused) {
          lines.push(`master key ${m.id} is no longer used: tidings keys retire --id ${m.id}`);
        }
        d.print(Boolean(o.json), r, lines.join('\n'));
      }),
    );

  keys
    .command('retire')
    .description('retire a master key that no wrapped key uses any more')
    .requiredOption('--id <masterKeyId>', 'master key id (from tidings keys status)')
    .option('--json', 'print JSON')
    .action((o: { id: string; json?: boolean }) =>
      d.withRuntime(async (rt) => {
        const r = await rt.keyrings.retireMaster(o.id, d.actor);
        const source = rt.keyrings.masterSource;
        d.print(
          Boolean(o.json),
          r,
          (r.alreadyRetired
            ? `master key ${r.masterKeyId} was already retired`
            : `retired master key ${r.masterKeyId}`) +
            (r.removedFromFile
              ? `; removed it from ${source.location}`
              : source.kind === 'file'
                ? `; now delete its line from ${source.location} on every server`
                : ''),
        );
      }),
    );

  keys
    .command('rotate-data')
    .description('give an organisation a new data key (older data stays readable)')
    .requiredOption('--org <orgId>', 'organisation id')
    .option('--json', 'print JSON')
    .action((o: { org: string; json?: boolean }) =>
      d.withRuntime(async (rt) => {
        const r = await rt.keyrings.rotateData(o.org, d.actor);
        d.print(
          Boolean(o.json),
          { orgId: o.org, ...r },
          `new data key ${r.keyId} for ${o.org}; it becomes the active key at ${r.activatesAt}`,
        );
      }),
    );

  keys
    .command('shred')
    .description('destroy a data key for good: everything encrypted under it becomes unreadable')
    .requiredOption('--org <orgId>', 'organisation id')
    .requiredOption('--key <keyId>', 'data key id (dk_…, from tidings keys status --org)')
    .option('--yes', 'confirm: this cannot be undone')
    .option('--json', 'print JSON')
    .action((o: { org: string; key: string; yes?: boolean; json?: boolean }) =>
      d.withRuntime(async (rt) => {
        if (!o.yes) {
          throw d.usage('shredding destroys data for good: add --yes to confirm');
        }
        const r = await rt.keyrings.shredDataKey(o.org, o.key, d.actor);
        d.print(
          Boolean(o.json),
          r,
          r.alreadyShredded
            ? `data key ${r.keyId} of ${r.orgId} was already shredded`
            : `shredded data key ${r.keyId} of ${r.orgId}: what it encrypted can no longer be read`,
        );
      }),
    );
}
