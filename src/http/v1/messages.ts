/**
 * @module http/v1/messages
 * Sending and reading messages, and the organisation's status webhook.
 */
import { z } from 'zod';
import { MESSAGE_STATUSES, PROGRAMS } from '../../messaging/index.js';
import { AppError } from '../../errors/index.js';
import { CATEGORIES } from '../../content-guard/index.js';
import { MAX_VARIABLE_CHARS } from '../../templates/index.js';
import { actor, errors, principal, type RouteDef } from './route-def.js';

const messageView = z.object({
  id: z.string(),
  status: z.enum(MESSAGE_STATUSES),
  to: z.string().describe('Recipient in E.164'),
  from: z.string().describe('Sender number used'),
  program: z.enum(PROGRAMS),
  segments: z.number().int(),
  encoding: z.enum(['GSM-7', 'UCS-2']),
  sendAt: z.string(),
  attempts: z.number().int(),
  carrierMessageId: z.string().nullable(),
  failureCode: z.string().nullable(),
  failureReason: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  sentAt: z.string().nullable(),
  deliveredAt: z.string().nullable(),
  notBefore: z
    .string()
    .nullable()
    .describe('Set when quiet hours or a frequency cap moved the message later: when it may go'),
  heldBy: z.enum(['quiet_hours', 'frequency_cap']).nullable(),
  body: z.string().optional(),
});

const sendBody = z.object({
  to: z.string().min(1).max(32).describe('Recipient phone number; normalised to E.164'),
  body: z
    .string()
    .min(1)
    .max(5000)
    .optional()
    .describe('Text of the message (at most 10 segments); or give template'),
  template: z
    .string()
    .min(1)
    .max(100)
    .optional()
    .describe('Id or name of an organisation template, filled with variables'),
  variables: z
    .record(z.string().max(64), z.string().max(MAX_VARIABLE_CHARS))
    .optional()
    .describe('The template slots, by name (each checked against its type)'),
  program: z.enum(PROGRAMS).optional().describe('Required with body; a template has its own'),
  from: z
    .string()
    .min(1)
    .max(64)
    .optional()
    .describe('Sender number or id; default sender if absent'),
  sendAt: z.string().max(40).optional().describe('ISO 8601 time to send at'),
  override: z
    .object({ reason: z.string().trim().min(10).max(500) })
    .optional()
    .describe(
      'A provider sends text the content guard holds as plain SMS anyway, with a written reason (audited; only under the guard policy override)',
    ),
});

const guardOutcome = z
  .object({
    verdict: z.enum(['allow', 'secure']),
    action: z.enum(['diverted', 'overridden']).optional(),
    categories: z.array(z.enum(CATEGORIES)).optional(),
    secureMessageId: z
      .string()
      .optional()
      .describe('Diverted: the secure message; the SMS sent is its neutral notice'),
  })
  .describe('What the content guard did with the text');

const sendResponse = messageView.extend({ guard: guardOutcome.optional() });

const idempotencyHeaders = z.object({
  'idempotency-key': z.string().min(1).max(255).optional(),
});

const idParams = z.object({ id: z.string().min(1).max(64) });

const listQuery = z.object({
  status: z.enum(MESSAGE_STATUSES).optional(),
  program: z.enum(PROGRAMS).optional(),
  cursor: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
});

const searchBody = listQuery.extend({
  to: z.string().min(1).max(32).optional().describe('Recipient (kept out of the URL: it is PHI)'),
  limit: z.number().int().min(1).max(100).default(50),
});

const listResponse = z.object({ data: z.array(messageView), nextCursor: z.string().nullable() });

const webhookBody = z.object({ url: z.url().max(2000).nullable() });
const webhookView = z.object({
  url: z.string().nullable(),
  previousSecretValidUntil: z
    .string()
    .nullable()
    .describe('Until when the secret replaced by the last rotation also signs; null: it does not'),
});
/** How long a rotated-out webhook secret keeps signing beside the new one. */
const WEBHOOK_SECRET_GRACE_MS = 24 * 3_600_000;
const rotateBody = z.object({
  keepPrevious: z
    .boolean()
    .optional()
    .describe('Default true: the old secret also signs for 24 hours. False: it stops at once'),
});
const rotatedView = z.object({
  secret: z.string().describe('The new signing secret (whsec_…): shown only here'),
  previousSecretValidUntil: z.string().nullable(),
});

export const messageRoutes: RouteDef[] = [
  {
    method: 'POST',
    url: '/v1/messages',
    access: { roles: ['provider', 'staff'], scopes: ['messages:send'] },
    summary: 'Send a text message',
    schema: {
      body: sendBody,
      headers: idempotencyHeaders,
      response: { 202: sendResponse, ...errors },
    },
    handler: async (rt, req, reply) => {
      const p = principal(req);
      const body = req.body as z.infer<typeof sendBody>;
      // Only a provider, in person, may send held text as plain SMS.
      if (body.override && (p.kind !== 'user' || p.role !== 'provider')) {
        throw new AppError('guard_override_not_allowed');
      }
      const key = (req.headers as z.infer<typeof idempotencyHeaders>)['idempotency-key'];
      try {
        const res = await rt.send(p.orgId, actor(req), { ...body, idempotencyKey: key });
        if (res.replayed) void reply.header('idempotent-replayed', 'true');
        else rt.metrics.accepted.inc({ program: res.message.program });
        rt.worker.nudge();
        return reply.code(202).send(res.guard ? { ...res.message, guard: res.guard } : res.message);
      } catch (e) {
        if (e instanceof AppError) rt.metrics.refused.inc({ code: e.code });
        throw e;
      }
    },
  },
  {
    method: 'GET',
    url: '/v1/messages',
    access: { roles: ['admin', 'provider', 'staff'], scopes: ['messages:read'] },
    summary: 'List messages, newest first',
    schema: { querystring: listQuery, response: { 200: listResponse, ...errors } },
    handler: async (rt, req) => {
      const p = principal(req);
      return rt.messaging.list(p.orgId, req.query as z.infer<typeof listQuery>, actor(req));
    },
  },
  {
    method: 'POST',
    url: '/v1/messages/search',
    access: { roles: ['admin', 'provider', 'staff'], scopes: ['messages:read'] },
    summary: 'List messages to one recipient',
    schema: { body: searchBody, response: { 200: listResponse, ...errors } },
    handler: async (rt, req) => {
      const p = principal(req);
      return rt.messaging.list(p.orgId, req.body as z.infer<typeof searchBody>, actor(req));
    },
  },
  {
    method: 'GET',
    url: '/v1/messages/:id',
    access: { roles: ['provider', 'staff'], scopes: ['messages:read'] },
    summary: 'Read one message',
    schema: { params: idParams, response: { 200: messageView, ...errors } },
    handler: async (rt, req) => {
      const p = principal(req);
      return rt.messaging.get(p.orgId, (req.params as z.infer<typeof idParams>).id, actor(req));
    },
  },
  {
    method: 'POST',
    url: '/v1/messages/:id/cancel',
    access: { roles: ['provider', 'staff'], scopes: ['messages:send'] },
    summary: 'Cancel a queued message',
    schema: { params: idParams, response: { 200: messageView, ...errors } },
    handler: async (rt, req) => {
      const p = principal(req);
      return rt.messaging.cancel(p.orgId, (req.params as z.infer<typeof idParams>).id, actor(req));
    },
  },
  {
    method: 'GET',
    url: '/v1/webhook',
    access: { roles: ['admin'], scopes: ['webhooks:write'] },
    summary: 'The status webhook URL (its signing secret is shown only when first made)',
    schema: { response: { 200: webhookView, ...errors } },
    handler: async (rt, req) => {
      const orgId = principal(req).orgId;
      const org = await rt.orgs.get(orgId);
      if (!org) throw new AppError('not_found', 'No such organisation.');
      return {
        url: org.webhookUrl,
        previousSecretValidUntil: await rt.orgs.webhookPreviousSecretUntil(orgId),
      };
    },
  },
  {
    method: 'POST',
    url: '/v1/webhook/rotate-secret',
    access: { roles: ['admin'], scopes: ['webhooks:write'] },
    summary:
      'Make a new signing secret, shown only in this answer; the old one also signs for 24 hours (keepPrevious: false stops it at once)',
    schema: { body: rotateBody.nullish(), response: { 200: rotatedView, ...errors } },
    handler: async (rt, req) => {
      const keepPrevious = (req.body as z.infer<typeof rotateBody> | null | undefined)
        ?.keepPrevious;
      return rt.orgs.rotateWebhookSecret(
        principal(req).orgId,
        keepPrevious === false ? 0 : WEBHOOK_SECRET_GRACE_MS,
        actor(req),
      );
    },
  },
  {
    method: 'PUT',
    url: '/v1/webhook',
    access: { roles: ['admin'], scopes: ['webhooks:write'] },
    summary: 'Set or clear the status webhook',
    schema: { body: webhookBody, response: { ...errors } },
    handler: async (rt, req) => {
      const p = principal(req);
      const { url } = req.body as z.infer<typeof webhookBody>;
      return rt.orgs.setWebhook(p.orgId, url, actor(req));
    },
  },
  {
    method: 'GET',
    url: '/v1/webhook/deliveries',
    access: { roles: ['admin'], scopes: ['webhooks:write'] },
    summary: 'Recent webhook deliveries',
    schema: { response: { ...errors } },
    handler: async (rt, req) => ({ data: await rt.webhooks.list(principal(req).orgId) }),
  },
];
