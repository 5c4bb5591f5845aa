/**
 * @module bench/run
 * `npm run bench [-- --quick] [-- --scenario NAME ...]`: runs the benchmark scenarios one
 * after another, each on its own fresh temporary database, and prints one JSON line per
 * scenario to stdout — {"scenario","messages","seconds","perSecond","p50Ms","p99Ms","rssMb"}
 * plus scenario-specific fields. Progress goes to stderr. `--quick` runs smaller counts and
 * shorter load (under a minute in all). docs/performance.md explains the figures.
 */
import { parseArgs } from 'node:util';
import { note, resultLine, type ScenarioResult } from './harness.js';
import { runAccept } from './scenarios/accept.js';
import { runHttpAccept } from './scenarios/http-accept.js';
import { runDispatch, runDispatchLatency } from './scenarios/dispatch.js';
import { runGuard } from './scenarios/guard.js';
import { runRestore } from './scenarios/restore.js';
import { runDispatchSmpp, runSmppAdapter, runSmppRaw } from './scenarios/smpp.js';

type Size = 'quick' | 'full';

/** Each scenario, in the order they run, with its quick and full sizes. */
const SCENARIOS: Record<string, (size: Size) => Promise<ScenarioResult | ScenarioResult[]>> = {
  accept: (size) =>
    runAccept(
      size === 'quick'
        ? { messages: 20_000, warmup: 2_000, concurrency: 1000 }
        : { messages: 200_000, warmup: 10_000, concurrency: 1000 },
    ),
  'http-accept': (size) =>
    runHttpAccept(
      size === 'quick'
        ? { connections: 100, warmupSeconds: 2, seconds: 8 }
        : { connections: 100, warmupSeconds: 5, seconds: 30 },
    ),
  dispatch: (size) => runDispatch({ messages: size === 'quick' ? 10_000 : 100_000 }),
  // Backup, verify and restore of a database holding this many messages (issue 9).
  restore: (size) => runRestore({ messages: size === 'quick' ? 50_000 : 1_000_000 }),
  'dispatch-latency': (size) =>
    runDispatchLatency(size === 'quick' ? { rate: 500, seconds: 4 } : { rate: 1000, seconds: 20 }),
  // One line per send window (issue 6: 10 and 50).
  'smpp-raw': (size) =>
    runSmppRaw({ messages: size === 'quick' ? 20_000 : 100_000, windows: [10, 50] }),
  'smpp-adapter': (size) =>
    runSmppAdapter({ messages: size === 'quick' ? 20_000 : 100_000, windows: [10, 50] }),
  'dispatch-smpp': (size) =>
    runDispatchSmpp({ messages: size === 'quick' ? 10_000 : 50_000, windows: [10, 50] }),
  guard: (size) =>
    runGuard(
      size === 'quick' ? { scans: 100_000, warmup: 10_000 } : { scans: 1_000_000, warmup: 50_000 },
    ),
};

const USAGE = `usage: npm run bench -- [--quick] [--scenario NAME]...
scenarios: ${Object.keys(SCENARIOS).join(', ')} (default: all)`;

async function main(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: {
        quick: { type: 'boolean', default: false },
        scenario: { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (args.values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const names = (args.values.scenario ?? Object.keys(SCENARIOS)).flatMap((s) => s.split(','));
  const unknown = names.filter((n) => !(n in SCENARIOS));
  if (unknown.length > 0) {
    process.stderr.write(`unknown scenario: ${unknown.join(', ')}\n${USAGE}\n`);
    return 2;
  }
  const size: Size = args.values.quick ? 'quick' : 'full';
  let status = 0;
  const started = performance.now();
  for (const name of names) {
    try {
      for (const result of [await SCENARIOS[name]!(size)].flat()) {
        process.stdout.write(`${resultLine(result)}\n`);
        const bad = Number(result.extra?.non2xx ?? 0) + Number(result.extra?.errors ?? 0);
        if (bad > 0 || Number(result.extra?.lostAccepts ?? 0) !== 0) status = 1;
      }
    } catch (e) {
      process.stderr.write(`[bench] ${name} failed: ${(e as Error).stack ?? String(e)}\n`);
      status = 1;
    }
  }
  note(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return status;
}

process.exitCode = await main(process.argv.slice(2));
