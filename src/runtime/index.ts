/**
 * @module runtime
 * Wires the parts together from a configuration: store, keys, services, carriers, workers
 * and (for `serve`) the HTTP server. The CLI, the tests and the benchmarks all start
 * Tidings through here, so they run the same code a clinic does.
 */
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/index.js';
import { Store } from '../store/index.js';
import { ApiKeys, BreakGlass, Sessions, Users } from '../identity/index.js';
import {
  KeyringService,
  Organisations,
  type KeyringOptions,
  type MasterKeySource,
} from '../orgs/index.js';
import { openMasterKeys } from './master-keys.js';
import {
  Messaging,
  type AcceptResult,
  type Program,
  type SendRequest,
} from '../messaging/index.js';
import { DispatchWorker, type WorkerOptions } from '../dispatch/index.js';
import { SimulatorCarrier, type CarrierAdapter, type SimulatorOptions } from '../carriers/index.js';
import { WebhookWorker, type WebhookWorkerOptions } from '../webhooks/index.js';
import { createLogger, Metrics, type Logger } from '../observability/index.js';
import { AuditService, SYSTEM_ACTOR, type Actor } from '../audit/index.js';
import { ConsentLedger } from '../consent/ledger.js';
import { inboundConsentHook } from '../consent/inbound.js';
import { SendRules } from '../consent/send-rules.js';
import { masterKeyWrapper, subjectIndexOf } from './audit.js';
import { SecureMessages } from '../portal/index.js';
import { Templates } from '../templates/index.js';
import { parseGuardSettings, scan } from '../content-guard/index.js';
import { AppError } from '../errors/index.js';

export type Role = 'api' | 'worker' | 'all';

export interface RuntimeOptions {
  log?: Logger;
  /** PostgreSQL schema (tests). */
  pgSchema?: string;
  worker?: Partial<WorkerOptions>;
  webhooks?: Partial<WebhookWorkerOptions>;
  simulator?: Partial<SimulatorOptions>;
  /** Keyring cache and data-key activation timing (tests shorten them). */
  keyrings?: Partial<KeyringOptions>;
  /** Collect Node.js default metrics (off in tests that build many runtimes). */
  defaultMetrics?: boolean;
  /** How often the worker looks for due audit checkpoints (tests shorten it). */
  auditCheckIntervalMs?: number;
  /** Portal options (tests set its clock). */
  portal?: { now?: () => number };
}

/** A send: a text and its program, or a template (its program unless one is given). */
export type ComposeRequest = Omit<SendRequest, 'body' | 'program'> & {
  body?: string | undefined;
  program?: Program | undefined;
  template?: string | undefined;
  variables?: Readonly<Record<string, string>> | undefined;
};

export class Runtime {
  readonly metrics: Metrics;
  readonly apiKeys: ApiKeys;
  readonly users: Users;
  readonly sessions: Sessions;
  readonly breakGlass: BreakGlass;
  readonly orgs: Organisations;
  readonly messaging: Messaging;
  readonly consent: ConsentLedger;
  /** Quiet hours and frequency caps, and each organisation's settings for them. */
  readonly sendRules: SendRules;
  /** Secure messages and the patient portal. */
  readonly portal: SecureMessages;
  /** Organisation templates with typed slots (rendered for sends by messaging's callers). */
  readonly templates: Templates;
  readonly simulator: SimulatorCarrier;
  readonly worker: DispatchWorker;
  readonly webhooks: WebhookWorker;
  readonly audit: AuditService;
  private http: FastifyInstance | undefined;
  private workersStarted = false;

  private constructor(
    readonly config: Config,
    readonly log: Logger,
    readonly store: Store,
    readonly keyrings: KeyringService,
    opts: RuntimeOptions,
    masters: MasterKeySource,
  ) {
    this.metrics = new Metrics(opts.defaultMetrics ?? true);
    this.audit = new AuditService(store, masterKeyWrapper(masters), {
      policy: {
        everyEvents: config.auditCheckpointEvents,
        everyMs: config.auditCheckpointMinutes * 60_000,
      },
      checkIntervalMs: opts.auditCheckIntervalMs,
      subjectIndexOf: subjectIndexOf(keyrings, { regions: config.sendRegions }),
      log,
    });
    // The audit signing keys are wrapped by the master keys too: `tidings keys rotate`
    // re-wraps them, and a master key is retired only when none of them needs it.
    keyrings.addWrappedKeys({
      name: 'audit signing keys',
      rewrapAll: () => this.audit.signingKeys.rewrapAll(),
      countByMasterKey: () => this.audit.signingKeys.countByMasterKey(),
    });
    this.apiKeys = new ApiKeys(store);
    this.orgs = new Organisations(store, keyrings, this.apiKeys, config.defaultMps);
    this.users = new Users(store, keyrings);
    this.sessions = new Sessions(
      store,
      this.users,
      async (orgId) => (await this.orgs.get(orgId))?.sessionIdleMinutes ?? 15,
    );
    this.breakGlass = new BreakGlass(store, keyrings);
    this.messaging = new Messaging(store, keyrings, this.orgs, {
      phone: { regions: config.sendRegions },
      onBatch: (n) => this.metrics.acceptBatch.observe(n),
      gate: (tx, items) => this.consent.check(tx, items),
      onInbound: (tx, e) => consentOnInbound(tx, e),
      sendRules: (m) => this.sendRules.plan(m),
      guardSettings: async (orgId) => parseGuardSettings(await this.orgs.guardSettings(orgId)),
      // Held text becomes a secure message; the SMS is its neutral notice (issue 5).
      divert: async (orgId, actor, d) => {
        const { secureMessage, notice, replayed } = await this.portal.createSecureMessage(
          orgId,
          actor,
          {
            to: d.to,
            body: d.body,
            program: d.program,
            verify: 'code',
            from: d.from,
            idempotencyKey: d.idempotencyKey,
            requestHash: d.requestHash,
          },
        );
        return {
          message: notice,
          replayed,
          guard: {
            verdict: 'secure',
            action: 'diverted',
            categories: d.categories,
            secureMessageId: secureMessage.id,
          },
        };
      },
    });
    this.sendRules = new SendRules(
      { quietHours: config.quietHours, frequencyCaps: config.frequencyCaps },
      this.orgs,
      this.messaging,
    );
    this.consent = new ConsentLedger(store, keyrings, this.messaging, this.orgs, {
      regions: config.sendRegions,
    });
    const consentOnInbound = inboundConsentHook(this.consent, this.messaging, this.orgs);
    this.portal = new SecureMessages(store, keyrings, this.orgs, this.messaging, {
      phone: { regions: config.sendRegions },
      publicUrl: config.publicUrl,
      linkTtlHours: config.secureLinkTtlHours,
      ...opts.portal,
    });
    this.templates = new Templates(store, { phone: { regions: config.sendRegions }, scan });
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
      {
        check: (db, items) => this.consent.check(db, items),
        carrierOptOut: async (tx, e) => {
          await this.consent.recordInTx(
            tx,
            e.orgId,
            {
              phone: e.to,
              program: 'all',
              kind: 'opt_out_all',
              source: 'carrier',
              evidence: `message:${e.messageId} carrier:${e.carrierCode}`,
            },
            SYSTEM_ACTOR,
          );
        },
      },
      this.sendRules,
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
      const masters = openMasterKeys(config, log);
      const keyrings = new KeyringService(store, masters, opts.keyrings);
      return new Runtime(config, log, store, keyrings, opts, masters);
    } catch (e) {
      await store.close();
      throw e;
    }
  }

  /**
   * Sends a text, or an organisation template filled with `variables` (typed slots), through
   * the send pipeline: what `POST /v1/messages` and `tidings send` call.
   */
  async send(orgId: string, actor: Actor, input: ComposeRequest): Promise<AcceptResult> {
    const { template, variables, body, program, ...rest } = input;
    if (template === undefined) {
      if (variables !== undefined) {
        throw new AppError('validation_failed', 'variables are only used with a template.');
      }
      if (body === undefined || program === undefined) {
        throw new AppError('validation_failed', 'Give body and program, or a template.');
      }
      return this.messaging.accept(orgId, actor, { ...rest, body, program });
    }
    if (body !== undefined) {
      throw new AppError('validation_failed', 'Give either body or template, not both.');
    }
    const filled = await this.templates.render(orgId, template, variables ?? {});
    return this.messaging.accept(orgId, actor, {
      ...rest,
      body: filled.body,
      program: program ?? filled.program,
    });
  }

  /** Starts the dispatch and webhook workers and the audit checkpointer. */
  startWorkers(): void {
    this.workersStarted = true;
    this.worker.startWorker();
    this.webhooks.startWebhooks();
    this.audit.startCheckpoints();
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
      await this.audit.stopCheckpoints();
    }
    await this.simulator.close();
    await this.store.close();
  }
}
