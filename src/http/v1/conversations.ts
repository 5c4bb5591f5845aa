/**
 * @module http/v1/conversations
 * The staff inbox (issue 8): one conversation per patient number, addressed by an opaque id
 * (`cnv_…`, never the number). The list carries no bodies and a masked number; the thread is
 * an audited read with the texts both ways, and secure messages and portal replies with
 * their content only for those who may read secure content (as GET /v1/secure-messages/:id
 * decides: providers, and API keys that read messages). Replies go through POST /v1/messages.
 */
import { z } from 'zod';
import { MESSAGE_KINDS, MESSAGE_STATUSES, PROGRAMS } from '../../messaging/index.js';
import { SECURE_STATUSES } from '../../portal/index.js';
import { LIST_CURSOR, THREAD_CURSOR } from '../../conversations/index.js';
import { actor, errors, principal, type RouteDef } from './route-def.js';

/** Who reads the inbox: the people who text patients, and admins (no bodies in the list). */
const LIST = {
  roles: ['admin', 'provider', 'staff'],
  scopes: ['messages:read'],
} as const;
/** The thread carries message bodies: the roles of GET /v1/messages/:id. */
const READ = { roles: ['provider', 'staff'], scopes: ['messages:read'] } as const;
/** Working the inbox: marking read, assigning. */
const WORK = { roles: ['admin', 'provider', 'staff'], scopes: ['messages:send'] } as const;

const CONSENT_STATES = ['opted_in', 'opted_out', 'pending', 'none'] as const;

const assignee = z
  .object({ id: z.string(), email: z.string() })
  .nullable()
  .describe('The user working this conversation');

const summary = z.object({
  id: z.string().describe('Opaque conversation id (cnv_…)'),
  phoneMasked: z.string().describe('The last four digits of the number'),
  lastActivityAt: z.string(),
  lastInboundAt: z.string().nullable(),
  unread: z.number().int().describe('Inbound texts and portal replies since last read'),
  assignee,
  lastReadAt: z.string().nullable(),
});

const item = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('outbound'),
    id: z.string(),
    at: z.string(),
    status: z.enum(MESSAGE_STATUSES),
    program: z.enum(PROGRAMS),
    kind: z.enum([...MESSAGE_KINDS, 'secure_notice']),
    deliveredAt: z.string().nullable(),
    failureReason: z.string().nullable(),
    body: z
      .string()
      .optional()
      .describe('Absent for one-time codes and secure-message notices (they carry the link)'),
  }),
  z.object({ type: z.literal('inbound'), id: z.string(), at: z.string(), body: z.string() }),
  z.object({
    type: z.literal('secure'),
    id: z.string(),
    at: z.string(),
    status: z.enum(SECURE_STATUSES),
    program: z.enum(PROGRAMS),
    firstViewedAt: z.string().nullable(),
    body: z.string().optional().describe('Only for callers that may read secure content'),
  }),
  z.object({
    type: z.literal('secure_reply'),
    id: z.string(),
    at: z.string(),
    secureMessageId: z.string(),
    body: z.string().optional().describe('Only for callers that may read secure content'),
  }),
]);

const thread = summary.extend({
  phone: z.string().describe('The number in E.164 (reply with POST /v1/messages)'),
  secureContent: z.boolean().describe('Whether secure items carry their content'),
  consent: z.record(z.enum(PROGRAMS), z.enum(CONSENT_STATES)),
  items: z
    .array(item)
    .describe('One page of the history, oldest first: the newest page unless `before` is given'),
  olderCursor: z
    .string()
    .nullable()
    .describe('`before` for the page of older items; null at the beginning of the history'),
});

const listQuery = z.object({
  assigned: z.enum(['me', 'none']).optional().describe('Only mine, or only unassigned'),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z
    .string()
    .max(80)
    .regex(LIST_CURSOR)
    .optional()
    .describe('nextCursor of the previous page'),
});
const threadQuery = z.object({
  before: z
    .string()
    .max(240)
    .regex(THREAD_CURSOR)
    .optional()
    .describe('olderCursor of the previous page: the items before it'),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});
const idParams = z.object({ id: z.string().min(1).max(64) });
const assignBody = z.object({
  userId: z
    .string()
    .min(1)
    .max(64)
    .nullable()
    .describe('A user of the organisation; null unassigns'),
});

export const conversationRoutes: RouteDef[] = [
  {
    method: 'GET',
    url: '/v1/conversations',
    access: LIST,
    summary: 'Conversations by last activity, newest first, paged (no bodies)',
    schema: {
      querystring: listQuery,
      response: {
        200: z.object({ data: z.array(summary), nextCursor: z.string().nullable() }),
        ...errors,
      },
    },
    handler: async (rt, req) =>
      rt.conversations.list(
        principal(req).orgId,
        actor(req),
        req.query as z.infer<typeof listQuery>,
      ),
  },
  {
    method: 'GET',
    url: '/v1/conversations/:id',
    access: READ,
    summary:
      'One conversation, a page at a time: texts both ways, secure messages and portal replies',
    schema: { params: idParams, querystring: threadQuery, response: { 200: thread, ...errors } },
    handler: async (rt, req) =>
      rt.conversations.thread(
        principal(req).orgId,
        (req.params as z.infer<typeof idParams>).id,
        actor(req),
        await rt.breakGlass.contentAccess(principal(req)),
        req.query as z.infer<typeof threadQuery>,
      ),
  },
  {
    method: 'POST',
    url: '/v1/conversations/:id/read',
    access: WORK,
    summary: 'Mark everything received so far read',
    schema: {
      params: idParams,
      response: { 200: z.object({ id: z.string(), lastReadAt: z.string() }), ...errors },
    },
    handler: async (rt, req) =>
      rt.conversations.markRead(
        principal(req).orgId,
        (req.params as z.infer<typeof idParams>).id,
        actor(req),
      ),
  },
  {
    method: 'POST',
    url: '/v1/conversations/:id/assign',
    access: WORK,
    summary: 'Assign the conversation to a user of the organisation, or unassign it',
    schema: {
      params: idParams,
      body: assignBody,
      response: { 200: z.object({ id: z.string(), assignee }), ...errors },
    },
    handler: async (rt, req) =>
      rt.conversations.assign(
        principal(req).orgId,
        (req.params as z.infer<typeof idParams>).id,
        (req.body as z.infer<typeof assignBody>).userId,
        actor(req),
      ),
  },
];
