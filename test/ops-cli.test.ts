/**
 * Issue 9's commands end to end through the CLI's entry point, on SQLite: retention policy,
 * run (dry run and real), legal holds, backup / verify / restore (refusing a non-empty target),
 * risk alerts, the incident report and the compliance report. Nothing printed holds a phone
 * number or a message body.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { cliSandbox, runCli, type CliRun as Run } from './cli-runner.js';

const PHONE = '+16175553001';

async function tidings(...args: string[]): Promise<Run> {
  const r = await runCli(...args);
  // `send` prints the message it queued; every command of this issue prints no number or body.
  if (args[0] !== 'send') {
    expect(r.stdout + r.stderr).not.toContain('6175553001');
    expect(r.stdout + r.stderr).not.toContain('See you Tuesday');
  }
  return r;
}

function json<T>(r: Run): T {
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
}

describe('tidings retention, backup, restore, risk, incident, compliance', () => {
  const box = cliSandbox('tidings-ops-cli-', (dir) => ({
    TIDINGS_DATA_DIR: path.join(dir, 'data'),
    TIDINGS_QUIET_HOURS: 'off',
    TIDINGS_MASTER_KEY: randomBytes(32).toString('base64'),
  }));
  let orgId: string;

  beforeAll(async () => {
    orgId = json<{ orgId: string }>(
      await tidings('org', 'create', '--name', 'Ops', '--json'),
    ).orgId;
    json(
      await tidings(
        'send',
        '--org',
        orgId,
        '--to',
        PHONE,
        '--body',
        'See you Tuesday. Reply STOP to opt out.',
        '--json',
      ),
    );
  });

  it('shows and changes the retention policy, refusing audit under six years', async () => {
    const p = json<{ messageBodyDays: number }>(
      await tidings('retention', 'policy', '--org', orgId, '--json'),
    );
    expect(p.messageBodyDays).toBe(90);
    const q = json<{ messageBodyDays: number }>(
      await tidings('retention', 'policy', '--org', orgId, '--message-body-days', '60', '--json'),
    );
    expect(q.messageBodyDays).toBe(60);
    const short = await tidings('retention', 'policy', '--org', orgId, '--audit-years', '2');
    expect(short.code).toBe(1);
    expect(short.stderr).toMatch(/^tidings: validation_failed: .*at least 6 years/);
  });

  it('runs the sweeper dry and for real, and places, lists and lifts holds', async () => {
    const dry = json<{ counts: { outboundBodies: number } }[]>(
      await tidings('retention', 'run', '--dry-run', '--json'),
    );
    expect(dry[0]!.counts.outboundBodies).toBe(0);
    expect((await tidings('retention', 'run')).stdout).toMatch(/destroyed: 0 secure messages/);
    const h = json<{ id: string }>(
      await tidings(
        'retention',
        'hold',
        'place',
        '--org',
        orgId,
        '--scope',
        'patient',
        '--phone',
        PHONE,
        '--reason',
        'Matter 7',
        '--json',
      ),
    );
    expect((await tidings('retention', 'hold', 'list', '--org', orgId)).stdout).toContain(h.id);
    expect((await tidings('retention', 'hold', 'lift', '--org', orgId, '--id', h.id)).code).toBe(0);
    const again = await tidings('retention', 'hold', 'lift', '--org', orgId, '--id', h.id);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('legal_hold_not_found');
  });

  it('backs up, verifies, and restores only into an empty data directory', async () => {
    const file = path.join(box.dir, 'snap.tdb');
    const b = json<{ sha256: string }>(await tidings('backup', '--out', file, '--json'));
    const v = json<{ ok: boolean; sha256: string }>(
      await tidings('backup', 'verify', file, '--json'),
    );
    expect(v).toMatchObject({ ok: true, sha256: b.sha256 });
    const refused = await tidings('restore', '--in', file);
    expect(refused.stderr).toContain('restore_target_not_empty');
    process.env.TIDINGS_DATA_DIR = path.join(box.dir, 'restored');
    try {
      const r = json<{ auditVerified: boolean; counts: { messages: number } }>(
        await tidings('restore', '--in', file, '--json'),
      );
      expect(r).toMatchObject({ auditVerified: true, counts: { messages: 1 } });
    } finally {
      process.env.TIDINGS_DATA_DIR = path.join(box.dir, 'data');
    }
  });

  it('lists risk alerts and writes incident and compliance reports', async () => {
    expect((await tidings('risk', 'evaluate', '--org', orgId)).code).toBe(0);
    expect(json<unknown[]>(await tidings('risk', 'alerts', '--org', orgId, '--json'))).toEqual([]);
    const patients = path.join(box.dir, 'patients.txt');
    fs.writeFileSync(patients, `${PHONE}\n`);
    const inc = json<{
      patients: { line: number; events: number; byAction: Record<string, number> }[];
    }>(
      await tidings(
        'incident',
        'report',
        '--org',
        orgId,
        '--from',
        '2020-01-01T00:00:00Z',
        '--to',
        '2100-01-01T00:00:00Z',
        '--patients',
        patients,
        '--json',
      ),
    );
    expect(inc.patients[0]).toMatchObject({ line: 1 });
    expect(inc.patients[0]!.byAction['message.accepted']).toBe(1);
    expect(inc.patients[0]!.byAction['legal_hold.placed']).toBe(1);
    const c = json<{ items: { id: string; status: string; state: string }[] }>(
      await tidings('compliance', 'report', '--org', orgId, '--json'),
    );
    const byId = new Map(c.items.map((i) => [i.id, i]));
    expect(byId.get('transmission_security')).toMatchObject({ status: 'failing' });
    expect(byId.get('transmission_security')!.state).toContain('TLS off');
    expect(byId.get('contingency_backup')).toMatchObject({ status: 'ok' });
    expect(byId.get('audit_controls')).toMatchObject({ status: 'ok' });
    expect(byId.get('quiet_hours')).toMatchObject({ status: 'failing' });
    const human = await tidings('compliance', 'report', '--org', orgId);
    expect(human.stdout).toMatch(/FAILING .*Transmission security/);
  });
});
