/**
 * @module cli/consent-classify
 * `tidings consent classify --jsonl`: classifies patient replies read as JSON lines
 * `{"id","text"}` on standard input with the very function the inbound path uses
 * (consent/classify), writing one line `{"id","intent"}` per input line. A line that is not
 * such an object becomes `{"id": <its id or null>, "error": "invalid_line"}` and the command
 * goes on; blank lines are skipped. No database, no configuration: it only classifies.
 * See docs/consent-classifier.md.
 */
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { Command } from 'commander';
import { classifyReply, type ReplyIntent } from '../consent/classify.js';

export type ClassifyLineResult =
  | { id: string | number; intent: ReplyIntent }
  | { id: string | number | null; error: 'invalid_line' };

export interface ClassifyRun {
  /** Non-blank input lines read. */
  lines: number;
  /** Lines answered with `error: invalid_line`. */
  invalid: number;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The answer for one input line: its intent, or `invalid_line` with the id if it had one. */
export function classifyLine(line: string): ClassifyLineResult {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { id: null, error: 'invalid_line' };
  }
  if (!isRecord(value)) return { id: null, error: 'invalid_line' };
  const raw = value.id;
  const id =
    typeof raw === 'string' || (typeof raw === 'number' && Number.isFinite(raw)) ? raw : null;
  if (id === null || typeof value.text !== 'string') return { id, error: 'invalid_line' };
  return { id, intent: classifyReply(value.text).intent };
}

/**
 * Reads JSON lines from `input` and writes one JSON line per non-blank input line to
 * `output`, in order, honouring back-pressure. Stops early, without error, if `output` is
 * closed by its reader (e.g. `| head`).
 */
export async function classifyJsonl(input: Readable, output: Writable): Promise<ClassifyRun> {
  const run: ClassifyRun = { lines: 0, invalid: 0 };
  const rl = createInterface({ input, crlfDelay: Infinity });
  const state: { closed: boolean; failure: Error | undefined } = {
    closed: false,
    failure: undefined,
  };
  const onError = (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') state.failure = e;
    state.closed = true;
    rl.close();
  };
  output.on('error', onError);
  try {
    for await (const raw of rl) {
      if (state.closed) break;
      const line = run.lines === 0 ? raw.replace(/^\uFEFF/, '') : raw;
      if (line.trim() === '') continue;
      run.lines++;
      const result = classifyLine(line);
      if ('error' in result) run.invalid++;
      if (!output.write(`${JSON.stringify(result)}\n`)) await drained(output);
    }
  } finally {
    output.off('error', onError);
  }
  if (state.failure) throw state.failure;
  return run;
}

/** Resolves when `output` can take more, or is gone. */
function drained(output: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      output.off('drain', done);
      output.off('close', done);
      output.off('error', done);
      resolve();
    };
    output.on('drain', done);
    output.on('close', done);
    output.on('error', done);
  });
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
