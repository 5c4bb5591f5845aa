/**
 * @module cli/audit
 * `tidings audit …`: verify the trail (database or an exported file, offline), sign
 * checkpoints on demand, print an organisation's public key, export, and the accounting of
 * disclosures for one patient. Output names ids, sequence numbers and blind indexes only.
 * See docs/security.md, "Audit".
 */
import type { CommandDeps } from './deps.js';
import type { Runtime } from '../runtime/index.js';
import fs from 'node:fs';
import { InvalidArgumentError, Option, type Command } from 'commander';
import {
  EXPORT_FORMATS,
  parsePublicKeys,
  verifyExportFile,
  type AuditEventView,
  type ExportFormat,
  type ExportRange,
  type TrustedKeys,
  type VerifyResult,
} from '../audit/index.js';
import { AppError } from '../errors/index.js';
import { parseIsoDateTime } from '../messaging/index.js';

function positiveInt(value: string): number {
  if (!/^[1-9]\d{0,14}$/.test(value)) throw new InvalidArgumentError('must be a whole number ≥ 1');
  return Number(value);
}

/** A bound: a sequence number (digits) or an ISO 8601 date-time with a zone. */
type Bound = { seq: number } | { time: number };

function bound(value: string): Bound {
  if (/^\d+$/.test(value)) return { seq: positiveInt(value) };
  const time = parseIsoDateTime(value);
  if (time === null) {
    throw new InvalidArgumentError(
      'give a sequence number or an ISO 8601 date-time with a zone, e.g. 2026-01-01T00:00:00Z',
    );
  }
  return { time };
}

function isoTime(value: string): number {
  const t = parseIsoDateTime(value);
  if (t === null) throw new InvalidArgumentError('give an ISO 8601 date-time with a zone');
  return t;
}

function readPublicKeys(file: string): TrustedKeys {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new AppError('invalid_public_key', 'The public key file cannot be read.');
  }
  return parsePublicKeys(text);
}

/** Writes to a stream, waiting until each chunk is handed on (backpressure). */
function writerTo(stream: NodeJS.WritableStream): (chunk: string) => Promise<void> {
  return (chunk) =>
    new Promise<void>((resolve, reject) => {
      if (chunk.length === 0) {
        resolve();
        return;
      }
      stream.write(chunk, (err) => (err ? reject(err) : resolve()));
    });
}

function breakLine(r: VerifyResult, what: string): string {
  const b = r.firstBreak!;
  return `${what} BROKEN at sequence ${b.seq} of ${b.orgId} (${b.reason})${
    b.sinceSeq !== undefined ? `: changed somewhere from sequence ${b.sinceSeq}` : ''
  }${b.line !== undefined ? ` [line ${b.line}]` : ''}`;
}

function eventLine(e: AuditEventView): string {
  return `${e.time}  #${e.seq}  ${e.action}  by ${e.actor.type}:${e.actor.id}  on ${e.target.type}:${e.target.id}`;
}

async function requireOrg(rt: Runtime, orgId: string): Promise<void> {
  if (!(await rt.orgs.get(orgId))) throw new AppError('not_found', 'No such organisation.');
}

export function addAuditCommands(cli: Command, d: CommandDeps): void {
  const audit = cli.command('audit').description('the audit trail');

  audit
    .command('verify')
    .description(
      'check every hash chain and signed checkpoint (or an export file, offline); exits 1 naming the first bad sequence number',
    )
    .option('--org <orgId>', 'only this organisation')
    .option('--from <seq>', 'start at this sequence number', positiveInt)
    .option('--file <path>', 'verify an export file instead of the database (needs no database)')
    .option('--public-key <pemFile>', "the organisation's public key(s), PEM; required with --file")
    .option('--json', 'print JSON')
    .action(
      async (o: {
        org?: string;
        from?: number;
        file?: string;
        publicKey?: string;
        json?: boolean;
      }) => {
        const json = Boolean(o.json);
        if (o.file !== undefined) {
          if (o.publicKey === undefined) {
            throw d.usage('--file needs --public-key: the key you obtained from the organisation');
          }
          if (o.from !== undefined) throw d.usage('--from applies to the database, not --file');
          const r = await verifyExportFile(o.file, readPublicKeys(o.publicKey));
          if (r.ok && o.org !== undefined && r.orgId !== o.org) {
            r.ok = false;
            r.firstBreak = { orgId: r.orgId ?? '?', seq: r.firstSeq ?? 1, reason: 'org_mismatch' };
          }
          if (r.ok) {
            d.print(
              json,
              r,
              `export intact: ${r.events} events${
                r.firstSeq !== null ? ` (sequence ${r.firstSeq} to ${r.lastSeq})` : ''
              } of ${r.orgId}; ${r.checkpoints} signed checkpoint(s) and the seal verified`,
            );
          } else {
            d.print(json, r, breakLine(r, 'export'));
            process.exitCode = 1;
          }
          return;
        }
        await d.withRuntime(async (rt) => {
          if (o.org !== undefined) await requireOrg(rt, o.org);
          const r = await rt.audit.verify({
            orgId: o.org,
            fromSeq: o.from,
            publicKeys: o.publicKey === undefined ? undefined : readPublicKeys(o.publicKey),
          });
          if (r.ok) {
            d.print(
              json,
              r,
              `audit chain intact: ${r.events} events in ${r.organisations} organisation(s); ${r.checkpoints} signed checkpoint(s) verified`,
            );
          } else {
            d.print(json, r, breakLine(r, 'audit chain'));
            process.exitCode = 1;
          }
        });
      },
    );

  audit
    .command('checkpoint')
    .description('sign the head of every chain (or one) now')
    .option('--org <orgId>', 'only this organisation')
    .option('--json', 'print JSON')
    .action((o: { org?: string; json?: boolean }) =>
      d.withRuntime(async (rt) => {
        if (o.org !== undefined) await requireOrg(rt, o.org);
        const runs = await rt.audit.checkpoint(o.org);
        const lines = runs.map((r) =>
          r.failure
            ? `${r.orgId}: NOT signed: the chain fails verification at sequence ${r.failure.seq} (${r.failure.reason})`
            : r.signed.length > 0
              ? `${r.orgId}: signed through sequence ${r.signed[r.signed.length - 1]} (${r.signed.length} checkpoint(s))`
              : `${r.orgId}: already signed`,
        );
        d.print(
          Boolean(o.json),
          runs,
          lines.join('\n') || 'nothing to sign: every chain head is already signed',
        );
        if (runs.some((r) => r.failure)) process.exitCode = 1;
      }),
    );

  audit
    .command('public-key')
    .description("print an organisation's checkpoint signing public key (PEM)")
    .requiredOption('--org <orgId>', 'organisation id')
    .option('--json', 'print {"orgId","keyId","algorithm","publicKey","createdAt"}')
    .action((o: { org: string; json?: boolean }) =>
      d.withRuntime(async (rt) => {
        await requireOrg(rt, o.org);
        const k = await rt.audit.publicKey(o.org);
        d.print(Boolean(o.json), k, k.publicKey.trimEnd());
      }),
    );

  audit
    .command('export')
    .description('export an organisation’s trail with its checkpoints and a signed seal')
    .requiredOption('--org <orgId>', 'organisation id')
    .option('--from <bound>', 'first sequence number, or an ISO 8601 time (inclusive)', bound)
    .option(
      '--to <bound>',
      'last sequence number (inclusive), or an ISO 8601 time (exclusive)',
      bound,
    )
    .addOption(
      new Option('--format <format>', 'file format').choices(EXPORT_FORMATS).default('jsonl'),
    )
    .option('--out <file>', 'write to this file (mode 0600) instead of standard output')
    .action((o: { org: string; from?: Bound; to?: Bound; format: ExportFormat; out?: string }) =>
      d.withRuntime(async (rt) => {
        await requireOrg(rt, o.org);
        const range: ExportRange = {};
        if (o.from) {
          if ('seq' in o.from) range.fromSeq = o.from.seq;
          else range.fromTime = o.from.time;
        }
        if (o.to) {
          if ('seq' in o.to) range.toSeq = o.to.seq;
          else range.toTime = o.to.time;
        }
        const out = o.out;
        if (out === undefined) {
          const r = await rt.audit.export(
            o.org,
            range,
            o.format,
            writerTo(process.stdout),
            d.actor,
          );
          process.stderr.write(`exported ${r.events} event(s), ${r.checkpoints} checkpoint(s)\n`);
          return;
        }
        // Owner-only, even over a file that existed with a wider mode: the trail names who
        // read which patient's records.
        const fd = fs.openSync(out, 'w', 0o600);
        fs.fchmodSync(fd, 0o600);
        const file = fs.createWriteStream('', { fd });
        const closed = new Promise<void>((resolve, reject) => {
          file.on('close', resolve);
          file.on('error', reject);
        });
        try {
          const r = await rt.audit.export(o.org, range, o.format, writerTo(file), d.actor);
          file.end();
          await closed;
          d.print(
            false,
            r,
            `exported ${r.events} event(s)${
              r.firstSeq !== null ? ` (sequence ${r.firstSeq} to ${r.lastSeq})` : ''
            } and ${r.checkpoints} checkpoint(s) to ${out}`,
          );
        } catch (e) {
          file.destroy();
          await closed.catch(() => undefined);
          fs.rmSync(out, { force: true });
          throw e;
        }
      }),
    );

  audit
    .command('patient')
    .description(
      'accounting of disclosures: who sent, viewed or received what concerning one phone number, and when',
    )
    .requiredOption('--org <orgId>', 'organisation id')
    .argument('<phone>', "the patient's phone number")
    .option('--from <time>', 'only events at or after this ISO 8601 time', isoTime)
    .option('--to <time>', 'only events before this ISO 8601 time', isoTime)
    .option('--json', 'print JSON')
    .action((phone: string, o: { org: string; from?: number; to?: number; json?: boolean }) =>
      d.withRuntime(async (rt) => {
        await requireOrg(rt, o.org);
        const r = await rt.audit.accounting(o.org, phone, { from: o.from, to: o.to }, d.actor);
        d.print(
          Boolean(o.json),
          r,
          [
            ...r.data.map(eventLine),
            r.data.length === 0 ? '(no events concern this number)' : `${r.data.length} event(s)`,
            ...(r.complete ? [] : ['(more events exist: narrow with --from and --to)']),
          ].join('\n'),
        );
      }),
    );
}
