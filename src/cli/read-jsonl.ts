/**
 * @module cli/read-jsonl
 * What every `--jsonl` command shares: reading JSON lines `{"id","text"}` from standard
 * input and writing one JSON line per non-blank input line, in order, honouring
 * back-pressure and stopping quietly when the reader goes away (`| head`). Used by
 * `consent classify` and `guard check`.
 */
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';

export interface JsonlRun {
  /** Non-blank input lines read. */
  lines: number;
  /** Lines answered with an error. */
  invalid: number;
}

/** An input line's id and text, or the id (if any) of a line that is not such an object. */
export type IdText =
  { id: string | number; text: string } | { id: string | number | null; error: 'invalid_line' };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parses one line `{"id","text"}`; the id is a string or a finite number. */
export function parseIdText(line: string): IdText {
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
  return { id, text: value.text };
}

/**
 * Reads JSON lines from `input` and writes `answer(line)` as one JSON line per non-blank
 * input line to `output`. An answer with an `error` field counts as invalid.
 */
export async function mapJsonl(
  input: Readable,
  output: Writable,
  answer: (line: string) => object,
): Promise<JsonlRun> {
  const run: JsonlRun = { lines: 0, invalid: 0 };
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
      const result = answer(line);
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
