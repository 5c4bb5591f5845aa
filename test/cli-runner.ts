/**
 * Runs the `tidings` CLI in this process (no build needed) and captures what it prints and
 * its exit code. Tests set TIDINGS_DATA_DIR / DATABASE_URL in process.env first.
 */
import { vi } from 'vitest';
import { main } from '../src/cli/main.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCli(...args: string[]): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const capture = (into: string[]) => (chunk: string | Uint8Array, a?: unknown, b?: unknown) => {
    into.push(String(chunk));
    const done = typeof a === 'function' ? a : typeof b === 'function' ? b : undefined;
    if (done) queueMicrotask(() => (done as () => void)());
    return true;
  };
  const o = vi.spyOn(process.stdout, 'write').mockImplementation(capture(out));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation(capture(err));
  process.exitCode = undefined;
  try {
    await main(['node', 'tidings', ...args]);
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { code, stdout: out.join(''), stderr: err.join('') };
}
