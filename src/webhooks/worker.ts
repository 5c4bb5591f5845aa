/**
 * @module webhooks/worker
 * Delivers the outbox to organisations' webhook URLs, signed per the Standard Webhooks
 * convention (`webhook-id`, `webhook-timestamp`, `webhook-signature` headers; two signatures
 * while a rotated-out secret is in its grace period), retried with exponential backoff and
 * jitter, and recorded (attempts, last HTTP status, outcome).
 */
import { Webhook } from 'standardwebhooks';
import type { Store } from '../store/index.js';
import type { Logger, Metrics } from '../observability/index.js';
import type { Organisations } from '../orgs/index.js';
import type { Messaging } from '../messaging/index.js';
import { backoffDelay } from '../dispatch/index.js';
import { IdleWait } from '../runtime/idle.js';

export interface WebhookWorkerOptions {
  batchSize: number;
  leaseMs: number;
  maxAttempts: number;
  idlePollMs: number;
  baseBackoffMs: number;
  maxBackoffMs: number;
  timeoutMs: number;
}

export const DEFAULT_WEBHOOK_OPTIONS: WebhookWorkerOptions = {
  batchSize: 50,
  leaseMs: 60_000,
  maxAttempts: 10,
  idlePollMs: 250,
  baseBackoffMs: 5_000,
  maxBackoffMs: 3_600_000,
  timeoutMs: 10_000,
};

interface Delivery {
  org_id: string;
  id: string;
  event_type: string;
  payload: string;
  attempts: number;
  created_at: number;
}

export class WebhookWorker {
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly idle = new IdleWait();
  private readonly opts: WebhookWorkerOptions;

  constructor(
    private readonly store: Store,
    private readonly orgs: Organisations,
    private readonly messaging: Messaging,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    opts: Partial<WebhookWorkerOptions> = {},
  ) {
    this.opts = { ...DEFAULT_WEBHOOK_OPTIONS, ...opts };
  }

  startWebhooks(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stopWebhooks(): Promise<void> {
    this.running = false;
    this.idle.wake();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (this.running) {
      let batch: Delivery[] = [];
      try {
        batch = await this.claim();
      } catch (e) {
        this.log.error({ err: (e as Error).name }, 'claiming webhook deliveries failed');
      }
      if (batch.length === 0) {
        await this.idle.sleep(this.opts.idlePollMs);
        continue;
      }
      await Promise.all(batch.map((d) => this.deliver(d)));
    }
  }

  private async claim(): Promise<Delivery[]> {
    const now = Date.now();
    return this.store.transaction(async (tx) => {
      let q = tx
        .selectFrom('webhook_deliveries')
        .select(['org_id', 'id', 'event_type', 'payload', 'attempts', 'created_at'])
        .where('status', '=', 'pending')
        .where('next_attempt_at', '<=', now)
        .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
        .orderBy('next_attempt_at')
        .limit(this.opts.batchSize);
      if (this.store.dialect === 'postgres') q = q.forUpdate().skipLocked();
      const rows = await q.execute();
      for (const r of rows) {
        await tx
          .updateTable('webhook_deliveries')
          .set({ lease_until: now + this.opts.leaseMs })
          .where('org_id', '=', r.org_id)
          .where('id', '=', r.id)
          .execute();
      }
      return rows;
    });
  }

  /** The JSON body of an event; an inbound message's text and number are read here. */
  private async body(d: Delivery): Promise<string | null> {
    const stored = JSON.parse(d.payload) as Record<string, unknown>;
    let data: Record<string, unknown> = stored;
    if (d.event_type === 'message.inbound') {
      const inbound = await this.messaging.inbound(d.org_id, String(stored.inboundId));
      if (!inbound) return null;
      data = { ...inbound };
    }
    return JSON.stringify({
      type: d.event_type,
      timestamp: new Date(Number(d.created_at)).toISOString(),
      data,
    });
  }

  private async deliver(d: Delivery): Promise<void> {
    const attempts = d.attempts + 1;
    let statusCode: number | null = null;
    let error: string | null = null;
    let outcome: 'delivered' | 'retry' | 'failed' | 'dropped';
    try {
      const target = await this.orgs.webhookTarget(d.org_id);
      const body = target ? await this.body(d) : null;
      if (!target || body === null) {
        outcome = 'dropped';
      } else {
        const timestamp = new Date();
        // During a rotation's grace period the replaced secret signs too: Standard Webhooks
        // sends space-separated signatures, and a receiver accepts any one it can verify.
        const signature = [target.secret, target.previousSecret]
          .filter((s): s is string => s !== null)
          .map((s) => new Webhook(s).sign(d.id, timestamp, body))
          .join(' ');
        const res = await fetch(target.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'Tidings-Webhooks/1',
            'webhook-id': d.id,
            'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
            'webhook-signature': signature,
          },
          body,
          signal: AbortSignal.timeout(this.opts.timeoutMs),
          redirect: 'manual',
        });
        statusCode = res.status;
        await res.body?.cancel();
        if (res.status >= 200 && res.status < 300) outcome = 'delivered';
        else {
          error = `http_${res.status}`;
          outcome = attempts >= this.opts.maxAttempts ? 'failed' : 'retry';
        }
      }
    } catch (e) {
      error = e instanceof Error && e.name === 'TimeoutError' ? 'timeout' : 'connection_error';
      outcome = attempts >= this.opts.maxAttempts ? 'failed' : 'retry';
    }
    const now = Date.now();
    await this.store.db
      .updateTable('webhook_deliveries')
      .set({
        attempts,
        lease_until: null,
        last_status_code: statusCode,
        last_error: error,
        status: outcome === 'retry' ? 'pending' : outcome,
        ...(outcome === 'delivered' ? { delivered_at: now } : {}),
        ...(outcome === 'retry'
          ? {
              next_attempt_at:
                now + backoffDelay(attempts, this.opts.baseBackoffMs, this.opts.maxBackoffMs),
            }
          : {}),
      })
      .where('org_id', '=', d.org_id)
      .where('id', '=', d.id)
      .execute();
    this.metrics.webhooks.inc({ outcome });
    if (outcome !== 'delivered') {
      this.log.warn(
        { deliveryId: d.id, orgId: d.org_id, attempts, error, outcome },
        'webhook not delivered',
      );
    }
  }

  /** Recent deliveries of an organisation, newest first (for the API). */
  async list(orgId: string, limit = 50): Promise<Record<string, unknown>[]> {
    const rows = await this.store.db
      .selectFrom('webhook_deliveries')
      .select([
        'id',
        'event_type',
        'status',
        'attempts',
        'last_status_code',
        'last_error',
        'created_at',
        'delivered_at',
        'next_attempt_at',
      ])
      .where('org_id', '=', orgId)
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      id: r.id,
      type: r.event_type,
      status: r.status,
      attempts: r.attempts,
      lastStatusCode: r.last_status_code,
      lastError: r.last_error,
      createdAt: new Date(Number(r.created_at)).toISOString(),
      deliveredAt: r.delivered_at === null ? null : new Date(Number(r.delivered_at)).toISOString(),
      nextAttemptAt: new Date(Number(r.next_attempt_at)).toISOString(),
    }));
  }
}
