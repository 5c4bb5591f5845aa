/**
 * `tidings migrate` on a new data directory says what it applied (and then that nothing is
 * pending), and needs no keys: it creates no master key.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliSandbox, runCli } from './cli-runner.js';

describe('tidings migrate', () => {
  const box = cliSandbox('tidings-migrate-', (dir) => ({
    TIDINGS_DATA_DIR: path.join(dir, 'data'),
  }));

  it('reports the migrations it applied, then that none are pending', async () => {
    const first = await runCli('migrate', '--json');
    expect(first.code, first.stderr).toBe(0);
    const { applied } = JSON.parse(first.stdout) as { applied: string[] };
    expect(applied.length).toBeGreaterThan(20);
    expect(applied[0]).toMatch(/^0001/);
    expect(fs.existsSync(path.join(box.dir, 'data', 'master.key'))).toBe(false);
    const again = await runCli('migrate');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toBe('migrations are up to date\n');
  });
});
