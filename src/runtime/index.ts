/**
 * @module runtime
 * Wires the parts together from a configuration: store, keys, services, carriers, workers
 * and (for `serve`) the HTTP server. The CLI, the tests and the benchmarks all start
 * Tidings through here, so they run the same code a clinic does.
 */
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/index.js';
import { Store } from '../store/index.js';
import { ApiKeys, BreakGlass, PolicyAcks, Sessions, Users } from '../identity/index.js';
import {
  KeyringService,
  Organisations,
  type KeyringOptions,
  type MasterKeySource,
  type Sender,
} from '../orgs/index.js';
import { openMasterKeys } from './master-keys.js';
import {
  Messaging,
  type AcceptResult,
  type Program,
  type SendRequest,
} from '../messaging/index.js';
import { DispatchWorker, type WorkerOptions } from '../dispatch/index.js';
import {
  SimulatorCarrier,
  createSmppAdapter,
  type CarrierAdapter,
  type SimulatorOptions,
  type SmppCarrier,
  type SmppOptions,
} from '../carriers/index.js';
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
import { Retention } from '../retention/index.js';
import { RiskMonitor } from '../risk/index.js';
import { SenderCarriers } from './sender-carriers.js';
import { errorSummary } from '../dispatch/index.js';
import { parseTemplate } from '../templates/index.js';
import { PatientContacts, Reminders } from '../reminders/index.js';
import { Hl7Listener } from '../integrations/hl7v2/index.js';
import { FhirPoller } from '../integrations/fhir/index.js';
import { Campaigns } from '../campaigns/index.js';
import { Conversations } from '../conversations/index.js';

export type Role = 'api' | 'worker' | 'all';

export interface RuntimeOptions {
  log?: Logger;
  /** PostgreSQL schema (tests). */
  pgSchema?: string;
  worker?: Partial<WorkerOptions>;
  webhooks?: Partial<WebhookWorkerOptions>;
  simulator?: Partial<SimulatorOptions>;
  /** Options for the TIDINGS_SMPP_URL bind (tests shorten its timers). */
  smpp?: Partial<SmppOptions>;
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
  readonly policyAcks: PolicyAcks;
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
  /** Appointments and reminders (issue 7). */
  readonly reminders: Reminders;
  /** The feeds' patients as the console finds, shows (masked) and reveals them (issue 8). */
  readonly contacts: PatientContacts;
  /** One template to a list, through the send pipeline (issue 7). */
  readonly campaigns: Campaigns;
  /** The staff inbox: one conversation per patient number (issue 8). */
  readonly conversations: Conversations;
  readonly simulator: SimulatorCarrier;
  /** The process-wide SMPP bind (TIDINGS_SMPP_URL), used by senders of carrier `smpp`. */
  readonly smpp: SmppCarrier | undefined;
  /** Each configured sender's carrier adapter (Twilio, Telnyx, SMPP), built on first use. */
  readonly senderCarriers: SenderCarriers;
  readonly worker: DispatchWorker;
  readonly webhooks: WebhookWorker;
  readonly audit: AuditService;
  /** Retention policy, legal holds and the sweeper (issue 9). */
  readonly retention: Retention;
  /** Risk signals, alerts and paused senders (issue 9). */
  readonly risk: RiskMonitor;
  private http: FastifyInstance | undefined;
  private hl7: Hl7Listener | undefined;
  private fhirPoller: FhirPoller | undefined;
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
    this.orgs = new Organisations(
      store,
      keyrings,
      this.apiKeys,
      config.defaultMps,
      config.carrier,
      // A new organisation's conversations are kept from its first text: nothing to backfill.
      (tx, orgId, now) => this.conversations.markBackfilled(tx, orgId, now),
    );
    this.users = new Users(store, keyrings);
    this.policyAcks = new PolicyAcks(store, (orgId) => this.users.list(orgId));
    this.sessions = new Sessions(
      store,
      this.users,
      async (orgId) => (await this.orgs.get(orgId))?.sessionIdleMinutes ?? 15,
    );
    this.breakGlass = new BreakGlass(store, keyrings);
    this.messaging = new Messaging(store, keyrings, this.orgs, {
      phone: { regions: config.sendRegions },
      onBatch: (n) => this.metrics.acceptBatch.observe(n),
      // The inbox's last activity, in the transaction that commits the batch (conversations).
      onAccepted: (tx, texts) =>
        this.conversations.touch(
          tx,
          texts.map((t) => ({
            orgId: t.orgId,
            index: t.toIndex,
            phone: t.to,
            at: t.at,
            inbound: false,
            keyring: t.keyring,
          })),
        ),
      gate: (tx, items) => this.consent.check(tx, items),
      // The consent engine first (STOP wins), then replies to reminders (C, R …).
      onInbound: async (tx, e) => {
        await consentOnInbound(tx, e);
        await this.reminders.onInbound(tx, e);
        await this.conversations.touch(tx, [
          {
            orgId: e.orgId,
            index: e.fromIndex,
            phone: e.from,
            at: e.receivedAt,
            inbound: true,
            keyring: e.keyring,
          },
        ]);
      },
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
      onReply: (tx, e) =>
        this.conversations.touch(tx, [
          {
            orgId: e.orgId,
            index: e.toIndex,
            phone: e.to,
            at: e.at,
            inbound: true,
            keyring: e.keyring,
          },
        ]),
      ...opts.portal,
    });
    this.templates = new Templates(store, { phone: { regions: config.sendRegions }, scan });
    this.reminders = new Reminders(store, keyrings, {
      phone: { regions: config.sendRegions },
      accept: (orgId, actor, req) => this.messaging.accept(orgId, actor, req),
      cancelMessage: (orgId, id, actor) => this.messaging.cancel(orgId, id, actor),
      messageStatuses: (orgId, ids) => this.messaging.statuses(orgId, ids),
      nextOpening: (orgId, phone, program, t) =>
        this.sendRules.nextOpening(orgId, { phone }, program, t),
      render: (orgId, template, variables) => this.templates.render(orgId, template, variables),
      templateSlots: async (orgId, template) =>
        parseTemplate((await this.templates.get(orgId, template)).body).slots,
      orgName: async (orgId) => (await this.orgs.get(orgId))?.name ?? 'Your clinic',
      hasWebhook: (orgId, tx) => this.orgs.hasWebhook(orgId, tx),
    });
    this.contacts = new PatientContacts(store, keyrings, { regions: config.sendRegions });
    this.campaigns = new Campaigns(store, keyrings, {
      phone: { regions: config.sendRegions },
      send: (orgId, actor, req) => this.send(orgId, actor, req),
      templateSlots: async (orgId, template) =>
        parseTemplate((await this.templates.get(orgId, template)).body).slots,
      messageStatuses: (orgId, ids) => this.messaging.statuses(orgId, ids),
      recipientsFor: (orgId, filter) => this.reminders.recipientsFor(orgId, filter),
      render: (orgId, template, variables) => this.templates.render(orgId, template, variables),
      gate: (db, items) => this.consent.check(db, items),
    });
    this.conversations = new Conversations(store, keyrings, {
      user: (orgId, id) => this.users.get(orgId, id),
      consentOf: async (orgId, phone) => {
        const { programs } = await this.consent.show(orgId, phone);
        return {
          care: programs.care.status,
          billing: programs.billing.status,
          surveys: programs.surveys.status,
          marketing: programs.marketing.status,
        };
      },
    });
    this.simulator = new SimulatorCarrier({
      latencyMs: config.simulator.latencyMs,
      failureRate: config.simulator.failureRate,
      logFile: config.simulator.logFile,
      ...opts.simulator,
    });
    this.smpp = config.smpp
      ? createSmppAdapter({
          url: config.smpp.url,
          ...(config.smpp.window !== undefined ? { window: config.smpp.window } : {}),
          log: log.child({ part: 'carriers' }),
          ...opts.smpp,
        })
      : undefined;
    const globals = new Map<string, CarrierAdapter>(this.smpp ? [['smpp', this.smpp]] : []);
    this.senderCarriers = new SenderCarriers(
      this.orgs,
      config.carrier === 'simulator' ? this.simulator : undefined,
      config.publicUrl,
      globals,
      log.child({ part: 'carriers' }),
    );
    const carriers: CarrierAdapter[] = [this.simulator, ...globals.values()];
    this.worker = new DispatchWorker(
      store,
      this.messaging,
      this.orgs,
      (sender) => this.senderCarriers.forSender(sender),
      [...carriers, this.senderCarriers],
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
    const phoneIndex = subjectIndexOf(keyrings, { regions: config.sendRegions });
    this.retention = new Retention(store, keyrings, phoneIndex, log, this.metrics.registry, {
      sweepIntervalMs: config.retentionSweepMinutes * 60_000,
      // Carrier copies of destroyed bodies are deleted through the sender's own adapter.
      carrierFor: async (orgId, senderId) => {
        const sender = (await this.orgs.senders(orgId)).find((s) => s.id === senderId);
        return sender ? this.senderCarriers.forSender(sender) : null;
      },
    });
    this.risk = new RiskMonitor(store, log, this.metrics.registry, {
      checkIntervalMs: config.riskCheckMinutes * 60_000,
      campaigns: this.campaigns,
    });
    // A critical risk alert pauses senders; dispatch holds their texts until resumed.
    this.worker.isSenderPaused = (orgId, senderId) => this.risk.isSenderPaused(orgId, senderId);
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
    // Bind now, so inbound messages and receipts flow before the first send.
    this.smpp?.start();
    // Senders with SMPP settings of their own bind too (runtime/sender-carriers).
    this.senderCarriers.startBinds((e: unknown) =>
      this.log.error({ err: errorSummary(e) }, 'opening SMPP binds failed'),
    );
    this.webhooks.startWebhooks();
    this.audit.startCheckpoints();
    this.retention.startSweeper();
    this.risk.startMonitor();
    this.conversations.startBackfill(
      async () => (await this.orgs.list()).map((o) => o.id),
      (e: unknown) => this.log.error({ err: errorSummary(e) }, 'conversation backfill failed'),
    );
    if (this.config.fhirPoll) {
      this.fhirPoller = new FhirPoller(this.store, this.reminders, this.log, this.config.fhirPoll);
      this.fhirPoller.startFhirPoller();
    }
  }

  /** Starts the HTTP server on the configured host and port; returns its address. */
  async listen(): Promise<string> {
    const { buildHttp } = await import('../http/index.js');
    this.http = await buildHttp(this);
    return this.http.listen({ host: this.config.host, port: this.config.port });
  }

  /** Removes a sender (orgs) and closes its carrier connection in this process. */
  async removeSender(orgId: string, senderId: string, actor: Actor): Promise<Sender> {
    const sender = await this.orgs.removeSender(orgId, senderId, actor);
    await this.senderCarriers.forget(senderId);
    return sender;
  }

  /**
   * Starts the HL7 v2 MLLP listener (HL7_MLLP_PORT, or `tidings hl7 listen`) for one
   * organisation's feed (HL7_MLLP_ORG) and/or several by sending facility
   * (HL7_MLLP_FACILITIES); returns the bound port.
   */
  async startHl7Listener(
    orgId: string | undefined,
    port: number,
    facilities: Readonly<Record<string, string>> = {},
  ): Promise<number> {
    for (const id of [orgId, ...Object.values(facilities)]) {
      if (id !== undefined && !(await this.orgs.get(id))) {
        throw new AppError('not_found', 'No such organisation.');
      }
    }
    this.hl7 = new Hl7Listener(this.store, this.reminders, this.log, {
      orgId,
      facilities,
      host: this.config.host,
      port,
    });
    return this.hl7.startHl7Listener();
  }

  /** Stops accepting, drains what was accepted, stops workers, closes the store. */
  async close(): Promise<void> {
    await this.hl7?.stopHl7Listener();
    await this.http?.close();
    await this.campaigns.stopCampaigns();
    await this.messaging.flush();
    if (this.workersStarted) {
      await this.worker.stopWorker();
      await this.webhooks.stopWebhooks();
      await this.audit.stopCheckpoints();
      await this.retention.stopSweeper();
      await this.risk.stopMonitor();
      await this.fhirPoller?.stopFhirPoller();
      await this.conversations.stopBackfill();
    }
    await this.simulator.close();
    await this.smpp?.close();
    await this.senderCarriers.close();
    await this.store.close();
  }
}
