/**
 * @module runtime/sender-carriers
 * One carrier adapter per configured sender: built on first use from the sender's decrypted
 * settings (carriers/sender-config), kept for the life of the process, and closed with it.
 * Every adapter's receipts and inbound messages flow into one event stream that the dispatch
 * worker listens to, exactly as the simulator's do. Carrier webhooks (http/carriers) find
 * here the sender's adapter and the secret that verifies its signatures.
 */
import {
  CarrierError,
  type CarrierAdapter,
  type CarrierEvent,
  type CarrierListener,
  type SimulatorCarrier,
} from '../carriers/index.js';
import {
  CarrierSettingsError,
  describeCarrierSettings,
  parseCarrierSettings,
  type CarrierSettings,
  type CarrierSettingsInput,
} from '../carriers/sender-config.js';
import { AppError } from '../errors/index.js';
import type { Actor } from '../audit/index.js';
import { TwilioCarrier } from '../carriers/twilio/index.js';
import { TelnyxCarrier } from '../carriers/telnyx/index.js';
import { createSmppAdapter, parseSmppUrl } from '../carriers/smpp/index.js';
import type { Organisations, Sender } from '../orgs/index.js';
import type { Logger } from '../observability/index.js';
import { TEN_DLC_PRESETS, perSecond } from '../dispatch/index.js';

/** The path under which carrier webhooks are served (http/carriers). */
export const CARRIER_WEBHOOK_PREFIX = '/carriers';

export function twilioStatusPath(senderId: string): string {
  return `${CARRIER_WEBHOOK_PREFIX}/twilio/${senderId}/status`;
}
export function twilioInboundPath(senderId: string): string {
  return `${CARRIER_WEBHOOK_PREFIX}/twilio/${senderId}/inbound`;
}
export function telnyxWebhookPath(senderId: string): string {
  return `${CARRIER_WEBHOOK_PREFIX}/telnyx/${senderId}`;
}

/** How often a worker looks for senders added or removed by another process (startBinds). */
const SWEEP_MS = 5_000;

interface Entry {
  adapter: CarrierAdapter;
  settings: CarrierSettings | null;
}

export class SenderCarriers {
  private readonly entries = new Map<string, Promise<Entry>>();
  private readonly listeners: CarrierListener[] = [];
  /** Set while a webhook feeds its adapter (captureEvents). */
  private captured: CarrierEvent[] | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;

  constructor(
    private readonly orgs: Organisations,
    /**
     * Undefined when the installation sends through a real carrier (TIDINGS_CARRIER): a
     * sender still on the simulator then fails its texts (`SIMULATOR_OFF`) instead of
     * reporting them delivered when nothing reached a phone.
     */
    private readonly simulator: SimulatorCarrier | undefined,
    private readonly publicUrl: string,
    /**
     * Process-wide adapters by carrier name (TIDINGS_CARRIER=smpp's bind): a sender of that
     * carrier with no settings of its own uses it. The runtime owns them (events, close).
     */
    private readonly globals: ReadonlyMap<string, CarrierAdapter> = new Map(),
    /** For the binds of SMPP senders (connection state, never content or credentials). */
    private readonly log?: Logger,
  ) {}

  /** Receipts and inbound messages of every sender's adapter (not the simulator's). */
  onEvent(listener: CarrierListener): void {
    this.listeners.push(listener);
  }

  /**
   * Runs a webhook's hand-off to its adapter (`accept…`, which emits synchronously) and
   * returns the events it emitted instead of passing them to the listeners: the webhook
   * applies them itself (DispatchWorker.applyCarrierEvent) and answers the carrier only once
   * they are committed.
   */
  captureEvents<T>(feed: () => T): { result: T; events: CarrierEvent[] } {
    const events: CarrierEvent[] = [];
    const outer = this.captured;
    this.captured = events;
    try {
      return { result: feed(), events };
    } finally {
      this.captured = outer;
    }
  }

  /** The adapter that sends for `sender`. */
  async forSender(sender: Sender): Promise<CarrierAdapter> {
    if (sender.carrier === 'simulator') return this.simulator ?? SIMULATOR_OFF;
    return (await this.entry(sender)).adapter;
  }

  /**
   * Opens the binds of every SMPP sender with settings of its own, so their inbound messages
   * and receipts flow before the first send (`startWorkers`); then, every few seconds, opens
   * those of senders added by another process (the CLI, another server) and closes the
   * connections of senders removed by one. A failed pass is reported to `onError`.
   */
  startBinds(onError: (e: unknown) => void): void {
    if (this.sweeper) return;
    const pass = () => {
      if (this.sweeping) return;
      this.sweeping = this.sweep(onError)
        .catch(onError)
        .finally(() => (this.sweeping = undefined));
    };
    pass();
    this.sweeper = setInterval(pass, SWEEP_MS);
    this.sweeper.unref();
  }

  private async sweep(onError: (e: unknown) => void): Promise<void> {
    const senders = await this.orgs.carrierSenders();
    const live = new Set(senders.map((s) => s.id));
    for (const id of [...this.entries.keys()]) if (!live.has(id)) await this.forget(id);
    // One sender whose settings cannot be read does not keep the others' binds closed.
    for (const s of senders) if (s.carrier === 'smpp') await this.entry(s).catch(onError);
  }

  /** The sender's adapter and settings, for verifying and feeding a webhook. */
  async forWebhook(
    senderId: string,
    carrier: 'twilio' | 'telnyx',
  ): Promise<{ sender: Sender; entry: Entry } | null> {
    const sender = await this.orgs.senderForWebhook(senderId);
    // Only a sender of the carrier the path names: an unsigned request builds nothing else.
    if (!sender || sender.carrier !== carrier) return null;
    return { sender, entry: await this.entry(sender) };
  }

  private entry(sender: Sender): Promise<Entry> {
    let e = this.entries.get(sender.id);
    if (!e) {
      e = this.build(sender);
      this.entries.set(sender.id, e);
      // A failed build (e.g. a key not yet readable) is tried again next time.
      e.catch(() => this.entries.delete(sender.id));
    }
    return e;
  }

  private async build(sender: Sender): Promise<Entry> {
    const json = await this.orgs.senderSettings(sender.orgId, sender.id);
    const settings = json ? (JSON.parse(json) as CarrierSettings) : null;
    const global = settings === null ? this.globals.get(sender.carrier) : undefined;
    if (global) return { adapter: global, settings: null };
    const adapter = this.adapterFor(sender, settings);
    adapter.onEvent((event) => {
      if (this.captured) this.captured.push(event);
      else for (const l of this.listeners) l(event);
    });
    return { adapter, settings };
  }

  private adapterFor(sender: Sender, s: CarrierSettings | null): CarrierAdapter {
    if (s?.carrier === 'twilio' && sender.carrier === 'twilio') {
      return new TwilioCarrier({
        accountSid: s.accountSid,
        authToken: s.authToken,
        baseUrl: s.baseUrl,
        statusCallbackUrl: this.publicUrl + twilioStatusPath(sender.id),
      });
    }
    if (s?.carrier === 'telnyx' && sender.carrier === 'telnyx') {
      return new TelnyxCarrier({
        apiKey: s.apiKey,
        baseUrl: s.baseUrl,
        webhookUrl: this.publicUrl + telnyxWebhookPath(sender.id),
      });
    }
    if (s?.carrier === 'smpp' && sender.carrier === 'smpp') {
      // Pacing is the worker's (segments per second, across processes): the bind is unpaced.
      const adapter = createSmppAdapter({
        name: 'smpp',
        connection: {
          host: s.host,
          port: s.port,
          tls: s.tls,
          systemId: s.systemId,
          password: s.password,
          systemType: s.systemType,
          bind: s.bind,
        },
        window: s.window,
        ...(this.log ? { log: this.log.child({ sender: sender.id }) } : {}),
      });
      adapter.start();
      return adapter;
    }
    return new UnconfiguredCarrier(sender.carrier, 'CARRIER_NOT_CONFIGURED');
  }

  /** Closes a removed sender's adapter in this process (workers elsewhere within SWEEP_MS). */
  async forget(senderId: string): Promise<void> {
    const e = this.entries.get(senderId);
    this.entries.delete(senderId);
    const entry = await e?.catch(() => undefined);
    if (entry && ![...this.globals.values()].includes(entry.adapter)) await entry.adapter.close();
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    await this.sweeping;
    const all = await Promise.allSettled([...this.entries.values()]);
    this.entries.clear();
    const globals = new Set(this.globals.values());
    await Promise.all(
      all.flatMap((r) =>
        r.status === 'fulfilled' && !globals.has(r.value.adapter) ? [r.value.adapter.close()] : [],
      ),
    );
  }
}

/** A sender whose carrier cannot be used here: every submission fails as `config`, `code`. */
class UnconfiguredCarrier implements CarrierAdapter {
  constructor(
    readonly name: string,
    private readonly code: string,
  ) {}
  submit(): Promise<never> {
    return Promise.reject(new CarrierError('config', this.code));
  }
  onEvent(): void {}
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const SIMULATOR_OFF = new UnconfiguredCarrier('simulator', 'SIMULATOR_OFF');

/** What `tidings sender add` and `POST /v1/senders` take. */
export interface AddSenderInput extends CarrierSettingsInput {
  number: string;
  mps?: number | undefined;
  dailyCap?: number | null | undefined;
  capTimeZone?: string | null | undefined;
  isDefault?: boolean | undefined;
  /** Messages fail over to this sender when their own sender's carrier keeps failing. */
  isSecondary?: boolean | undefined;
  /** In the pool: messages naming no sender go from the pool, sticky per recipient. */
  inPool?: boolean | undefined;
  /** A 10DLC throughput preset; explicit mps / daily cap / zone win over it. */
  preset?: ThroughputPreset | undefined;
}

export type ThroughputPreset = keyof typeof TEN_DLC_PRESETS;
export const THROUGHPUT_PRESETS = Object.keys(TEN_DLC_PRESETS) as ThroughputPreset[];

/**
 * Validates a sender's carrier settings and adds it (credentials encrypted by orgs). Returns
 * the sender and the webhook paths to give the carrier.
 */
export async function addConfiguredSender(
  orgs: Organisations,
  defaultMps: number,
  orgId: string,
  input: AddSenderInput,
  actor: Actor,
): Promise<{ sender: Sender; webhooks: Record<string, string> }> {
  let settings: CarrierSettings | null;
  try {
    settings = parseCarrierSettings(input);
  } catch (e) {
    if (e instanceof CarrierSettingsError)
      throw new AppError('invalid_carrier_settings', e.message);
    throw e;
  }
  // An SMPP URL's `mps=` is the sender's rate (segments a second, each one PDU), paced by the
  // worker across processes like `mps`; the bind itself is unpaced.
  const urlMps =
    settings?.carrier === 'smpp' && input.url ? parseSmppUrl(input.url).mps : undefined;
  if (urlMps !== undefined && input.mps !== undefined && urlMps !== input.mps) {
    throw new AppError(
      'invalid_carrier_settings',
      "The URL's mps and the sender's mps differ: give the rate once.",
    );
  }
  const p: { segmentsPerMinute?: number; dailyCap?: number; capTimeZone?: string } | undefined =
    input.preset === undefined ? undefined : TEN_DLC_PRESETS[input.preset];
  if (input.preset !== undefined && !p) {
    throw new AppError('invalid_carrier_settings', 'Unknown throughput preset.');
  }
  const sender = await orgs.addSender(
    orgId,
    {
      number: input.number,
      carrier: input.carrier,
      settingsJson: settings ? JSON.stringify(settings) : null,
      mps:
        input.mps ?? urlMps ?? (p?.segmentsPerMinute ? perSecond(p.segmentsPerMinute) : defaultMps),
      dailyCap: input.dailyCap ?? p?.dailyCap ?? null,
      capTimeZone: input.capTimeZone ?? p?.capTimeZone ?? null,
      isDefault: input.isDefault ?? false,
      isSecondary: input.isSecondary ?? false,
      inPool: input.inPool ?? false,
      details: describeCarrierSettings(settings),
    },
    actor,
  );
  return { sender, webhooks: webhookPaths(sender) };
}

/** The paths (under PUBLIC_URL) a carrier calls for this sender. */
export function webhookPaths(sender: Sender): Record<string, string> {
  switch (sender.carrier) {
    case 'twilio':
      return { status: twilioStatusPath(sender.id), inbound: twilioInboundPath(sender.id) };
    case 'telnyx':
      return { events: telnyxWebhookPath(sender.id) };
    default:
      return {};
  }
}
