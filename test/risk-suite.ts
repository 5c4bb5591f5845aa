/**
 * The set-up the risk-review tests share: for one describe block, a runtime with its workers
 * started (quick retries; a paused sender's texts looked at again every 200 ms), and a second
 * RiskMonitor over the same database standing in for another worker process.
 */
import { afterAll, beforeAll } from 'vitest';
import { Registry } from 'prom-client';
import { pino } from 'pino';
import { openTestRuntime, type TestRuntime } from './helpers.js';
import { RiskMonitor } from '../src/risk/index.js';
import { appendAudit } from '../src/audit/index.js';
import type { Dialect } from '../src/store/index.js';

export interface RiskSuite {
  /** The runtime (set once the block's beforeAll has run). */
  readonly t: TestRuntime;
  /** Another worker process: its own monitor, sharing only the database. */
  otherProcess(): RiskMonitor;
  /** Records one emergency-access grant in `orgId`'s audit trail (the break_glass_use signal). */
  grantBreakGlass(orgId: string): Promise<void>;
}

export function riskSuite(dialect: Dialect): RiskSuite {
  let t: TestRuntime | undefined;
  beforeAll(async () => {
    t = await openTestRuntime({
      dialect,
      runtime: {
        worker: { idlePollMs: 20, baseBackoffMs: 50, maxBackoffMs: 200, pausedRecheckMs: 200 },
      },
    });
    t.rt.startWorkers();
  });
  afterAll(async () => t?.cleanup());
  return {
    get t() {
      if (!t) throw new Error('riskSuite: used before its beforeAll ran');
      return t;
    },
    otherProcess: () =>
      new RiskMonitor(t!.rt.store, pino({ level: 'silent' }), new Registry(), {
        pauseCacheMs: 0,
      }),
    grantBreakGlass: (orgId) =>
      t!.rt.store.transaction((tx) =>
        appendAudit(tx, t!.rt.store.dialect, [
          {
            orgId,
            actor: { type: 'user', id: 'usr_test' },
            action: 'breakglass.granted',
            targetType: 'break_glass',
            targetId: 'bg_test',
            details: { minutes: 30, role: 'clinician' },
          },
        ]),
      ),
  };
}
