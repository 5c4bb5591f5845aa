/**
 * Runs the `tidings` CLI in this process (no build needed) and captures what it prints and
 * its exit code. Tests set TIDINGS_DATA_DIR / DATABASE_URL in process.env first.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, vi } from 'vitest';
import { main } from '../src/cli/main.js';
import { tempDir } from './helpers.js';

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

/** What a CLI test may set: cleared for it, so the machine's own settings never leak in. */
const CLI_VARS = [
  'NODE_ENV',
  'TIDINGS_DATA_DIR',
  'LOG_LEVEL',
  'DATABASE_URL',
  'TIDINGS_MASTER_KEY',
  'TIDINGS_MASTER_KEY_FILE',
  'TIDINGS_BACKUP_PASSPHRASE',
  'TIDINGS_QUIET_HOURS',
];

/**
 * For the describe block it is called in: a fresh directory (removed afterwards) and the
 * environment the CLI reads — CLI_VARS cleared, then NODE_ENV=test, LOG_LEVEL=silent and what
 * `env(dir)` gives — put back as it was afterwards. `dir` is readable once beforeAll ran.
 */
export function cliSandbox(
  prefix: string,
  env: (dir: string) => Record<string, string> = () => ({}),
): { readonly dir: string } {
  let dir: string | undefined;
  let saved: Record<string, string | undefined> = {};
  beforeAll(() => {
    dir = tempDir(prefix);
    const set = { NODE_ENV: 'test', LOG_LEVEL: 'silent', ...env(dir) };
    const names = [...new Set([...CLI_VARS, ...Object.keys(set)])];
    saved = Object.fromEntries(names.map((v) => [v, process.env[v]]));
    for (const v of CLI_VARS) delete process.env[v];
    Object.assign(process.env, set);
  });
  afterAll(() => {
    for (const [v, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[v];
      else process.env[v] = value;
    }
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });
  return {
    get dir() {
      if (!dir) throw new Error('cliSandbox: used before its beforeAll ran');
      return dir;
    },
  };
}
