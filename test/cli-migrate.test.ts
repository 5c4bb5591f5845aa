/**
 * `tidings migrate` on a new data directory says what it applied (and then that nothing is
 * pending), and needs no keys: it creates no master key.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';
import { runCli } from './cli-runner.js';

const VARS = ['NODE_ENV', 'TIDINGS_DATA_DIR', 'LOG_LEVEL', 'DATABASE_URL', 'TIDINGS_MASTER_KEY'];

describe('tidings migrate', () => {
  let dir: string;
  let saved: Record<string, string | undefined>;

  beforeAll(() => {
    saved = Object.fromEntries(VARS.map((v) => [v, process.env[v]]));
    for (const v of VARS) delete process.env[v];
    dir = tempDir('tidings-migrate-');
    process.env.NODE_ENV = 'test';
    process.env.TIDINGS_DATA_DIR = path.join(dir, 'data');
    process.env.LOG_LEVEL = 'silent';
  });
  afterAll(() => {
    for (const v of VARS) {
      if (saved[v] === undefined) delete process.env[v];
      else process.env[v] = saved[v];
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('reports the migrations it applied, then that none are pending', async () => {
    const first = await runCli('migrate', '--json');
    expect(first.code, first.stderr).toBe(0);
    const { applied } = JSON.parse(first.stdout) as { applied: string[] };
    expect(applied.length).toBeGreaterThan(20);
    expect(applied[0]).toMatch(/^0001/);
    expect(fs.existsSync(path.join(dir, 'data', 'master.key'))).toBe(false);
    const again = await runCli('migrate');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toBe('migrations are up to date\n');
  });
});
