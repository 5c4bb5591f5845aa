/**
 * @module cli/guard
 * `tidings guard check "TEXT"` (readable, or `--json`) and `tidings guard check --jsonl`:
 * the content guard's verdict from the command line — the very `scan` the send pipeline
 * and `POST /v1/guard/check` use. JSON lines `{"id","text"}` on standard input give one
 * line `{"id","verdict","findings"}` each; a line that is not such an object gives
 * `{"id","error":"invalid_line"}`, a text the guard refuses gives its error code, and the
 * command goes on. No database, no configuration. See docs/content-guard.md.
 */
import type { Readable, Writable } from 'node:stream';
import type { Command } from 'commander';
import { AppError } from '../errors/index.js';
import { checkText, scan, type Finding, type Verdict } from '../content-guard/index.js';
import { mapJsonl, parseIdText, type JsonlRun } from './read-jsonl.js';

export type GuardLineResult =
  | { id: string | number; verdict: Verdict; findings: Finding[] }
  | { id: string | number | null; error: string };

/** The answer for one input line. */
export function guardLine(line: string): GuardLineResult {
  const parsed = parseIdText(line);
  if ('error' in parsed) return parsed;
  try {
    const { verdict, findings } = scan(checkText(parsed.text));
    return { id: parsed.id, verdict, findings };
  } catch (e) {
    if (e instanceof AppError) return { id: parsed.id, error: e.code };
    throw e;
  }
}

/** Checks every JSON line of `input`, writing one JSON line per input line to `output`. */
export function guardJsonl(input: Readable, output: Writable): Promise<JsonlRun> {
  return mapJsonl(input, output, guardLine);
}

function describe(verdict: Verdict, findings: readonly Finding[]): string {
  if (verdict === 'allow') return 'allow: may go as plain SMS';
  const lines = findings.map((f) =>
    f.start === f.end
      ? `  ${f.category.padEnd(11)} the sender's name`
      : `  ${f.category.padEnd(11)} characters ${f.start}–${f.end}`,
  );
  return `secure: goes behind the secure portal\n${lines.join('\n')}`;
}

/** Adds `guard check` to the CLI. */
export function addGuardCommands(cli: Command): Command {
  const guard = cli.command('guard').description('the content guard (PHI detection)');
  guard
    .command('check')
    .description(
      'check a text: allow (plain SMS) or secure, with finding categories and offsets; ' +
        '--jsonl reads {"id","text"} lines on stdin and writes {"id","verdict","findings"}',
    )
    .argument('[text]', 'the text to check')
    .option('--json', 'print {"verdict","findings"} as JSON')
    .option('--jsonl', 'read and write JSON lines instead of one text')
    .option('--sender <name>', 'the sender or clinic name the recipient sees')
    .action(
      async (
        text: string | undefined,
        o: { json?: boolean; jsonl?: boolean; sender?: string },
        cmd: Command,
      ) => {
        if (o.jsonl) {
          if (text !== undefined) {
            cmd.error('tidings: give either TEXT or --jsonl, not both', {
              exitCode: 2,
              code: 'tidings.usage',
            });
          }
          await guardJsonl(process.stdin, process.stdout);
          return;
        }
        if (text === undefined) {
          cmd.error('tidings: give the TEXT to check, or --jsonl', {
            exitCode: 2,
            code: 'tidings.usage',
          });
        }
        const result = scan(checkText(text), o.sender ? { senderName: o.sender } : {});
        process.stdout.write(
          o.json ? `${JSON.stringify(result)}\n` : `${describe(result.verdict, result.findings)}\n`,
        );
      },
    );
  return guard;
}
