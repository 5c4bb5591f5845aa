/**
 * @module runtime
 * Wires the parts together from a configuration: store, keys, services, carriers, workers
 * and (for `serve`) the HTTP server. The CLI, the tests and the benchmarks all start
 * Tidings through here, so they run the same code a clinic does.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/index.js';
import { Store } from '../store/index.js';
import { generateKey } from '../crypto/index.js';
import { ApiKeys } from '../identity/index.js';
import { KeyringService, Organisations } from '../orgs/index.js';
import { Messaging } from '../messaging/index.js';
import { DispatchWorker, type WorkerOptions } from '../dispatch/index.js';
import { SimulatorCarrier, type CarrierAdapter, type SimulatorOptions } from '../carriers/index.js';
import { WebhookWorker, type WebhookWorkerOptions } from '../webhooks/index.js';
import { createLogger, Metrics, type Logger } from '../observability/index.js';

export type Role = 'api' | 'worker' | 'all';

const MASTER_KEY_FILE = 'master.key';

/**
 * The master key: from `TIDINGS_MASTER_KEY`, or (outside production) a development key
 * generated once into the data directory with mode 0600.
 */
export function loadMasterKey(config: Config, log: Logger): Buffer {
  if (config.masterKey) return Buffer.from(config.masterKey, 'base64');
  if (config.env === 'production') throw new Error('TIDINGS_MASTER_KEY is required in production');
  const file = path.join(config.dataDir, MASTER_KEY_FILE);
  fs.mkdirSync(config.dataDir, { recursive: true });
  try {
    const key = Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64');
    if (key.length !== 32) throw new Error(`${file} does not hold a 32-byte base64 key`);
    return key;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const key = generateKey();
  try {
    fs.writeFileSync(file, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (e) {
    // Another process created it first: use theirs.
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return loadMasterKey(config, log);
    throw e;
  }
  log.warn(
    { file },
    'generated a development master key; set TIDINGS_MASTER_KEY (and keep it safe) for production',
  );
  return key;
}

export interface RuntimeOptions {
  log?: Logger;
  /** PostgreSQL schema (tests). */
  pgSchema?: string;
  worker?: Partial<WorkerOptions>;
  webhooks?: Partial<WebhookWorkerOptions>;
  simulator?: Partial<SimulatorOptions>;
  /** Collect Node.js default metrics (off in tests that build many runtimes). */
  defaultMetrics?: boolean;
}

export class Runtime {
  readonly metrics: Metrics;
  readonly apiKeys: ApiKeys;
  readonly orgs: Organisations;
  readonly messaging: Messaging;
  readonly simulator: SimulatorCarrier;
  readonly worker: DispatchWorker;
  readonly webhooks: WebhookWorker;
  private http: FastifyInstance | undefined;
  private workersStarted = false;

  private constructor(
    readonly config: Config,
    readonly log: Logger,
    readonly store: Store,
    readonly keyrings: KeyringService,
    opts: RuntimeOptions,
  ) {
    this.metrics = new Metrics(opts.defaultMetrics ?? true);
    this.apiKeys = new ApiKeys(store);
    this.orgs = new Organisations(store, keyrings, this.apiKeys, config.defaultMps);
    this.messaging = new Messaging(store, keyrings, this.orgs, {
      phone: { regions: config.sendRegions },
      onBatch: (n) => this.metrics.acceptBatch.observe(n),
    });
    this.simulator = new SimulatorCarrier({
      latencyMs: config.simulator.latencyMs,
      failureRate: config.simulator.failureRate,
      logFile: config.simulator.logFile,
      ...opts.simulator,
    });
    const carriers: Record<string, CarrierAdapter> = { simulator: this.simulator };
    this.worker = new DispatchWorker(
      store,
      this.messaging,
      this.orgs,
      (name) => {
        const c = carriers[name];
        if (!c) throw new Error(`no carrier adapter named ${name}`);
        return c;
      },
      Object.values(carriers),
      log,
      this.metrics,
      { maxAttempts: config.maxAttempts, leaseMs: config.dispatchLeaseMs, ...opts.worker },
    );
    this.webhooks = new WebhookWorker(
      store,
      this.orgs,
      this.messaging,
      log,
      this.metrics,
      opts.webhooks,
    );
  }

  /** Opens the store, applies migrations and builds the services (nothing is started). */
  static async open(config: Config, opts: RuntimeOptions = {}): Promise<Runtime> {
    const log = opts.log ?? createLogger(config.logLevel);
    const store = Store.open({
      databaseUrl: config.databaseUrl,
      dataDir: config.dataDir,
      ...(opts.pgSchema ? { pgSchema: opts.pgSchema } : {}),
    });
    try {
      const applied = await store.migrate();
      if (applied.length > 0) log.info({ migrations: applied }, 'migrations applied');
      const keyrings = new KeyringService(store, loadMasterKey(config, log));
      return new Runtime(config, log, store, keyrings, opts);
    } catch (e) {
      await store.close();
      throw e;
    }
  }

  /** Starts the dispatch and webhook workers. */
  startWorkers(): void {
    this.workersStarted = true;
    this.worker.startWorker();
    this.webhooks.startWebhooks();
  }

  /** Starts the HTTP server on the configured host and port; returns its address. */
  async listen(): Promise<string> {
    const { buildHttp } = await import('../http/index.js');
    this.http = await buildHttp(this);
    return this.http.listen({ host: this.config.host, port: this.config.port });
  }

  /** Stops accepting, drains what was accepted, stops workers, closes the store. */
  async close(): Promise<void> {
    await this.http?.close();
    await this.messaging.flush();
    if (this.workersStarted) {
      await this.worker.stopWorker();
      await this.webhooks.stopWebhooks();
    }
    await this.simulator.close();
    await this.store.close();
  }
}
