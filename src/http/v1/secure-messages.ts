/**
 * @module http/v1/secure-messages
 * Secure messages: send one (its content stays encrypted behind a portal link; the patient
 * gets a neutral notice), read its status, revoke it, read the patient's replies.
 */
import { z } from 'zod';
import { MESSAGE_STATUSES, PROGRAMS } from '../../messaging/index.js';
import {
  MAX_BODY_CHARS,
  MAX_EXPIRES_HOURS,
  SECURE_STATUSES,
  VERIFY_METHODS,
} from '../../portal/index.js';
import { actor, errors, principal, type RouteDef } from './route-def.js';
import { BREAK_GLASS_ROLES } from '../../identity/access.js';

const secureView = z.object({
  id: z.string(),
  status: z.enum(SECURE_STATUSES),
  program: z.enum(PROGRAMS),
  verify: z.enum(VERIFY_METHODS),
  expiresAt: z.string(),
  expireAfterView: z.boolean(),
  firstViewedAt: z.string().nullable().describe('When the patient first read it in the portal'),
  revokedAt: z.string().nullable(),
  lockedAt: z.string().nullable().describe('Set when five verifications failed'),
  failedAttempts: z.number().int(),
  noticeMessageId: z
    .string()
    .nullable()
    .describe('The neutral notice text (GET /v1/messages/{id})'),
  replies: z.number().int().describe('How many replies the patient sent'),
  createdAt: z.string(),
  to: z.string().optional().describe('Only for callers that may read PHI'),
  body: z.string().optional().describe('Only for callers that may read PHI'),
});

const createBody = z.object({
  to: z.string().min(1).max(32).describe('Recipient phone number; normalised to E.164'),
  body: z.string().min(1).max(MAX_BODY_CHARS).describe('The content; never sent as SMS'),
  program: z.enum(PROGRAMS),
  verify: z.enum(VERIFY_METHODS).describe('How the patient proves who they are'),
  dob: z.string().max(10).optional().describe('YYYY-MM-DD; required with verify: dob'),
  expiresInHours: z
    .number()
    .int()
    .min(1)
    .max(MAX_EXPIRES_HOURS)
    .optional()
    .describe('Link lifetime (default TIDINGS_SECURE_LINK_TTL_HOURS, 168)'),
  expireAfterView: z
    .boolean()
    .optional()
    .describe('Close the content when the first verified session that read it ends'),
  from: z.string().min(1).max(64).optional().describe('Sender number or id for the notice'),
});

const createResponse = secureView.extend({
  notice: z.object({
    id: z.string(),
    status: z.enum(MESSAGE_STATUSES),
    sendAt: z.string(),
    notBefore: z.string().nullable(),
  }),
});

const idParams = z.object({ id: z.string().min(1).max(64) });
const idempotencyHeaders = z.object({
  'idempotency-key': z.string().min(1).max(255).optional(),
});

const repliesResponse = z.object({
  data: z.array(z.object({ id: z.string(), body: z.string(), createdAt: z.string() })),
});

export const secureMessageRoutes: RouteDef[] = [
  {
    method: 'POST',
    url: '/v1/secure-messages',
    access: { roles: ['provider'], scopes: ['secure:send'] },
    summary: 'Send a secure message: content behind a portal link, a neutral notice by SMS',
    schema: {
      body: createBody,
      headers: idempotencyHeaders,
      response: { 201: createResponse, ...errors },
    },
    handler: async (rt, req, reply) => {
      const b = req.body as z.infer<typeof createBody>;
      const key = (req.headers as z.infer<typeof idempotencyHeaders>)['idempotency-key'];
      const res = await rt.portal.createSecureMessage(principal(req).orgId, actor(req), {
        ...b,
        idempotencyKey: key,
      });
      if (res.replayed) void reply.header('idempotent-replayed', 'true');
      rt.worker.nudge();
      return reply.code(201).send({
        ...res.secureMessage,
        notice: {
          id: res.notice.id,
          status: res.notice.status,
          sendAt: res.notice.sendAt,
          notBefore: res.notice.notBefore,
        },
      });
    },
  },
  {
    method: 'GET',
    url: '/v1/secure-messages/:id',
    access: {
      roles: ['admin', 'provider', 'staff', 'auditor'],
      scopes: ['secure:send', 'messages:read'],
    },
    summary: 'Status of a secure message (with its content for providers)',
    schema: { params: idParams, response: { 200: secureView, ...errors } },
    handler: async (rt, req) =>
      rt.portal.getSecureMessage(
        principal(req).orgId,
        (req.params as z.infer<typeof idParams>).id,
        actor(req),
        await rt.breakGlass.contentAccess(principal(req)),
      ),
  },
  {
    method: 'POST',
    url: '/v1/secure-messages/:id/revoke',
    access: { roles: ['admin', 'provider', 'staff'], scopes: ['secure:send'] },
    summary: 'Revoke a secure message: its link stops working at once',
    schema: { params: idParams, response: { 200: secureView, ...errors } },
    handler: async (rt, req) =>
      rt.portal.revokeSecureMessage(
        principal(req).orgId,
        (req.params as z.infer<typeof idParams>).id,
        actor(req),
      ),
  },
  {
    method: 'GET',
    url: '/v1/secure-messages/:id/replies',
    access: { roles: ['provider', ...BREAK_GLASS_ROLES], scopes: ['messages:read'] },
    summary:
      "The patient's replies from the portal, oldest first (admin and staff: with emergency access)",
    schema: { params: idParams, response: { 200: repliesResponse, ...errors } },
    handler: async (rt, req) => ({
      data: await rt.portal.listReplies(
        principal(req).orgId,
        (req.params as z.infer<typeof idParams>).id,
        actor(req),
        await rt.breakGlass.contentAccess(principal(req)),
      ),
    }),
  },
];
