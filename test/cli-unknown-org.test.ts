/**
 * A CLI command naming an organisation that does not exist is refused with `not_found` before
 * it reads or writes anything: no empty listing, no foreign-key error, and no audit trail
 * started for an organisation nobody created.
 */
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { cliSandbox, runCli } from './cli-runner.js';
import { loadConfig } from '../src/config/index.js';
import { Store } from '../src/store/index.js';

const NOBODY = 'org_00000000000000000000000000';

describe('CLI commands naming an unknown organisation', () => {
  cliSandbox('tidings-unknown-org-', (dir) => ({
    TIDINGS_DATA_DIR: path.join(dir, 'data'),
    TIDINGS_MASTER_KEY: randomBytes(32).toString('base64'),
  }));

  beforeAll(async () => {
    expect((await runCli('org', 'create', '--name', 'Real', '--json')).code).toBe(0);
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
