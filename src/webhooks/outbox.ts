/**
 * @module webhooks/outbox
 * The outbox of events to POST to organisations' webhooks (`webhook_deliveries`). Events are
 * written in the same transaction as the change they announce, so none is lost or sent for
 * a change that rolled back. A stored payload carries ids and statuses only; PHI (an inbound
 * message's text and number) is read and decrypted when the event is delivered.
 */
import { insertRows, type Db } from '../store/index.js';
import { newId } from '../ids/index.js';

export type WebhookEventType =
  | 'message.status'
  | 'message.inbound'
  | 'security.break_glass'
  | 'risk.alert'
  | 'secure_message.read'
  | 'secure_message.locked'
  | 'secure_message.replied'
  | 'appointment.confirmed'
  | 'appointment.reschedule_requested';

export interface OutboxEvent {
  orgId: string;
  type: WebhookEventType;
  /** JSON-serialisable, without PHI. */
  payload: Record<string, unknown>;
}

export async function enqueueWebhooks(
  tx: Db,
  events: readonly OutboxEvent[],
  now = Date.now(),
): Promise<void> {
  await insertRows(
    tx,
    'webhook_deliveries',
    events.map((e) => ({
      org_id: e.orgId,
      id: newId('wh'),
      event_type: e.type,
      payload: JSON.stringify(e.payload),
      status: 'pending',
      attempts: 0,
      next_attempt_at: now,
      lease_until: null,
      last_status_code: null,
      last_error: null,
      created_at: now,
      delivered_at: null,
    })),
  );
}
