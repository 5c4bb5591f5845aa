/**
 * @module webhooks
 * Outbound status and inbound-message webhooks: the outbox and its delivery worker.
 */
export { enqueueWebhooks, type OutboxEvent, type WebhookEventType } from './outbox.js';
export { WebhookWorker, DEFAULT_WEBHOOK_OPTIONS, type WebhookWorkerOptions } from './worker.js';
