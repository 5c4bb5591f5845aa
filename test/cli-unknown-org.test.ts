/**
 * A CLI command naming an organisation that does not exist is refused with `not_found` before
 * it reads or writes anything: no empty listing, no foreign-key error, and no audit trail
 * started for an organisation nobody created.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';
import { runCli } from './cli-runner.js';
import { loadConfig } from '../src/config/index.js';
import { Store } from '../src/store/index.js';

const VARS = ['NODE_ENV', 'TIDINGS_DATA_DIR', 'LOG_LEVEL', 'DATABASE_URL', 'TIDINGS_MASTER_KEY'];
const NOBODY = 'org_00000000000000000000000000';

describe('CLI commands naming an unknown organisation', () => {
  let dir: string;
  let saved: Record<string, string | undefined>;

  beforeAll(async () => {
    saved = Object.fromEntries(VARS.map((v) => [v, process.env[v]]));
    for (const v of VARS) delete process.env[v];
    dir = tempDir('tidings-unknown-org-');
    process.env.NODE_ENV = 'test';
    process.env.TIDINGS_DATA_DIR = path.join(dir, 'data');
    process.env.LOG_LEVEL = 'silent';
    process.env.TIDINGS_MASTER_KEY = randomBytes(32).toString('base64');
    expect((await runCli('org', 'create', '--name', 'Real', '--json')).code).toBe(0);
  });
  afterAll(() => {
    for (const v of VARS) {
      if (saved[v] === undefined) delete process.env[v];
      else process.env[v] = saved[v];
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses reads, writes and reports with not_found, and records nothing', async () => {
    const commands = [
      ['sender', 'list', '--org', NOBODY],
      ['apikey', 'list', '--org', NOBODY],
      ['retention', 'policy', '--org', NOBODY, '--message-body-days', '10'],
      ['send', '--org', NOBODY, '--to', '+16175550100', '--body', 'Hello'],
      [
        'incident',
        'report',
        '--org',
        NOBODY,
        '--from',
        '2026-01-01T00:00:00Z',
        '--to',
        '2026-02-01T00:00:00Z',
      ],
      ['risk', 'alerts', '--org', NOBODY],
    ];
    for (const args of commands) {
      const r = await runCli(...args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toBe('tidings: not_found: No such organisation.\n');
      expect(r.stdout).toBe('');
    }
    const store = Store.open({ dataDir: loadConfig().dataDir });
    try {
      const audited = await store.db
        .selectFrom('audit_events')
        .select('org_id')
        .where('org_id', '=', NOBODY)
        .execute();
      expect(audited).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
