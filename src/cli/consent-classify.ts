/**
 * @module cli/consent-classify
 * `tidings consent classify --jsonl`: classifies patient replies read as JSON lines
 * `{"id","text"}` on standard input with the very function the inbound path uses
 * (consent/classify), writing one line `{"id","intent"}` per input line. A line that is not
 * such an object becomes `{"id": <its id or null>, "error": "invalid_line"}` and the command
 * goes on; blank lines are skipped. No database, no configuration: it only classifies.
 * See docs/consent-classifier.md.
 */
import type { Readable, Writable } from 'node:stream';
import type { Command } from 'commander';
import { classifyReply, type ReplyIntent } from '../consent/classify.js';
import { mapJsonl, parseIdText, type JsonlRun } from './read-jsonl.js';

export type ClassifyLineResult =
  | { id: string | number; intent: ReplyIntent }
  | { id: string | number | null; error: 'invalid_line' };

export type ClassifyRun = JsonlRun;

/** The answer for one input line: its intent, or `invalid_line` with the id if it had one. */
export function classifyLine(line: string): ClassifyLineResult {
  const parsed = parseIdText(line);
  if ('error' in parsed) return parsed;
  return { id: parsed.id, intent: classifyReply(parsed.text).intent };
}

/**
 * Reads JSON lines from `input` and writes one JSON line per non-blank input line to
 * `output`, in order, honouring back-pressure. Stops early, without error, if `output` is
 * closed by its reader (e.g. `| head`).
 */
export function classifyJsonl(input: Readable, output: Writable): Promise<ClassifyRun> {
  return mapJsonl(input, output, classifyLine);
}

/** Adds `classify --jsonl` to the `consent` command. */
export function registerClassifyCommand(consent: Command): Command {
  return consent
    .command('classify')
    .description(
      'classify patient replies: JSON lines {"id","text"} on stdin → {"id","intent"} on stdout ' +
        '(opt_out, opt_in, help or none); a bad line gives {"id","error":"invalid_line"}',
    )
    .option('--jsonl', 'read and write JSON lines (the only format)')
    .action(async (o: { jsonl?: boolean }, cmd: Command) => {
      if (!o.jsonl) {
        cmd.error('tidings: give --jsonl (JSON lines {"id","text"} on standard input)', {
          exitCode: 2,
          code: 'tidings.usage',
        });
      }
      await classifyJsonl(process.stdin, process.stdout);
    });
}
