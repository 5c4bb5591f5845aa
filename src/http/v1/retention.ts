/**
 * @module http/v1/retention
 * The organisation's retention policy and legal holds (docs/retention.md). A patient hold
 * takes the number in the body, never the URL, and is shown by its blind index. Changes are
 * audited (`retention.policy_changed`, `legal_hold.placed`, `legal_hold.lifted`). A hold
 * whose reason is under a shredded data key lists and lifts with `reason: null, destroyed: true`.
 */
import { z } from 'zod';
import { HOLD_SCOPES, retentionPolicySchema } from '../../retention/index.js';
import { actor, errors, principal, type Access, type RouteDef } from './route-def.js';

const READ: Access = { roles: ['admin', 'auditor'], scopes: ['retention:write', 'audit:read'] };
const WRITE: Access = { roles: ['admin'], scopes: ['retention:write'] };

const policyView = z.object({
  secureViewedDays: z
    .number()
    .int()
    .describe('Secure-message content destroyed this many days after first view'),
  secureUnviewedDays: z
    .number()
    .int()
    .describe('… or this many days after creation if never viewed'),
  messageBodyDays: z
    .number()
    .int()
    .describe('Outbound and inbound bodies destroyed after this many days'),
  auditYears: z.number().int().describe('Audit events kept at least this many years (≥ 6)'),
  consentYears: z.number().int().describe('Consent ledger kept at least this many years (≥ 6)'),
});

const holdView = z.object({
  id: z.string(),
  scope: z.enum(HOLD_SCOPES),
  subjectIndex: z.string().nullable().describe('Blind index of the patient’s number'),
  reason: z.string().nullable().describe('Null when destroyed'),
  destroyed: z
    .boolean()
    .describe(
      'The reason was encrypted under a data key since shredded: it can never be read again',
    ),
  placedBy: z.string(),
  placedAt: z.string(),
  liftedBy: z.string().nullable(),
  liftedAt: z.string().nullable(),
});

const holdBody = z.object({
  scope: z.enum(HOLD_SCOPES),
  phone: z.string().min(1).max(32).optional().describe('The patient’s number (scope patient)'),
  reason: z.string().min(1).max(500).describe('The matter or reference the hold serves'),
});

const holdsQuery = z.object({ all: z.enum(['true', 'false']).optional() });
const idParams = z.object({ id: z.string().min(1).max(64) });

export const retentionRoutes: RouteDef[] = [
  {
    method: 'GET',
    url: '/v1/retention/policy',
    access: READ,
    summary: 'The retention policy of the organisation',
    schema: { response: { 200: policyView, ...errors } },
    handler: async (rt, req) => rt.retention.policy(principal(req).orgId),
  },
  {
    method: 'PUT',
    url: '/v1/retention/policy',
    access: WRITE,
    summary: 'Change the retention policy (fields left out keep their value)',
    schema: { body: retentionPolicySchema, response: { 200: policyView, ...errors } },
    handler: async (rt, req) =>
      rt.retention.setPolicy(
        principal(req).orgId,
        req.body as z.infer<typeof retentionPolicySchema>,
        actor(req),
      ),
  },
  {
    method: 'GET',
    url: '/v1/legal-holds',
    access: READ,
    summary: 'Legal holds in force (all=true: lifted ones too)',
    schema: {
      querystring: holdsQuery,
      response: { 200: z.object({ data: z.array(holdView) }), ...errors },
    },
    handler: async (rt, req) => ({
      data: await rt.retention.holds(
        principal(req).orgId,
        (req.query as z.infer<typeof holdsQuery>).all === 'true',
      ),
    }),
  },
  {
    method: 'POST',
    url: '/v1/legal-holds',
    access: WRITE,
    summary: 'Place a legal hold on a patient or the organisation',
    schema: { body: holdBody, response: { 201: holdView, ...errors } },
    handler: async (rt, req, reply) => {
      const b = req.body as z.infer<typeof holdBody>;
      const hold = await rt.retention.placeHold(principal(req).orgId, b, actor(req));
      return reply.code(201).send(hold);
    },
  },
  {
    method: 'DELETE',
    url: '/v1/legal-holds/:id',
    access: WRITE,
    summary: 'Lift a legal hold',
    schema: { params: idParams, response: { 200: holdView, ...errors } },
    handler: async (rt, req) =>
      rt.retention.liftHold(
        principal(req).orgId,
        (req.params as z.infer<typeof idParams>).id,
        actor(req),
      ),
  },
];
