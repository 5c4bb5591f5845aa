/**
 * @module observability
 * Logging (pino) and metrics (prom-client). Log lines carry ids, codes and counts only —
 * never a phone number or a message body; metric labels are small closed sets (program,
 * status, outcome), never ids or numbers.
 */
import { pino, type Logger, type DestinationStream } from 'pino';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { LogLevel } from '../config/index.js';

export type { Logger } from 'pino';

/**
 * Creates the process logger. Fields that could carry PHI are redacted as a second line of
 * defence; the first is that no code passes them to the logger.
 */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'tidings' },
      redact: {
        paths: ['to', 'from', 'body', 'text', 'phone', '*.to', '*.from', '*.body', '*.text'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}

export class Metrics {
  readonly registry = new Registry();
  readonly accepted = new Counter({
    name: 'tidings_messages_accepted_total',
    help: 'Messages durably accepted, by program.',
    labelNames: ['program'] as const,
    registers: [this.registry],
  });
  readonly refused = new Counter({
    name: 'tidings_messages_refused_total',
    help: 'Send requests refused, by error code.',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly acceptBatch = new Histogram({
    name: 'tidings_accept_batch_size',
    help: 'Messages committed per accept transaction (group commit).',
    buckets: [1, 2, 5, 10, 25, 50, 100, 200, 500],
    registers: [this.registry],
  });
  readonly dispatched = new Counter({
    name: 'tidings_dispatch_results_total',
    help: 'Carrier submissions by outcome (sent, retry, failed, skipped).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly receipts = new Counter({
    name: 'tidings_delivery_receipts_total',
    help: 'Delivery receipts applied, by status.',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });
  readonly inbound = new Counter({
    name: 'tidings_inbound_messages_total',
    help: 'Inbound messages received.',
    registers: [this.registry],
  });
  readonly webhooks = new Counter({
    name: 'tidings_webhook_deliveries_total',
    help: 'Webhook delivery attempts by outcome (delivered, retry, failed).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'tidings_dispatch_queue_depth',
    help: 'Messages waiting in the dispatch queue (sampled).',
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'tidings_http_request_duration_seconds',
    help: 'HTTP request duration by route pattern and status class.',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  constructor(collectDefaults = true) {
    if (collectDefaults) collectDefaultMetrics({ register: this.registry, prefix: 'tidings_' });
  }
}
