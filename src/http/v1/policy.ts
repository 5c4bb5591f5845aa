/**
 * @module http/v1/policy
 * The organisation's texting policy and each user's acknowledgement of it (45 CFR
 * 164.308(a)(5); docs/compliance.md). Everyone signed in reads and acknowledges it (also
 * before enrolling a second factor: it comes before first use); only admins set it and see
 * who is overdue. Setting and acknowledging are audited.
 */
import { z } from 'zod';
import { MAX_POLICY_LENGTH } from '../../identity/index.js';
import { AppError } from '../../errors/index.js';
import { actor, errors, principal, type Access, type RouteDef } from './route-def.js';

const SIGNED_IN: Access = { session: true };
const ADMIN: Access = { roles: ['admin'], scopes: [] };

const policyView = z.object({
  version: z.number().int().describe('Rises each time the text changes'),
  text: z.string(),
  updatedBy: z.string(),
  updatedAt: z.string(),
});

const standingView = z
  .object({
    acknowledgedAt: z.string().nullable().describe('The caller’s latest acknowledgement'),
    dueAt: z.string().nullable(),
    due: z.boolean().describe('The caller must acknowledge the current text before going on'),
  })
  .describe('The signed-in caller’s own standing');

const ackView = z.object({
  version: z.number().int(),
  acknowledgedAt: z.string(),
  dueAt: z.string().describe('When the acknowledgement lapses (one year later)'),
});

const statusView = z.object({
  userId: z.string(),
  email: z.string(),
  role: z.string(),
  acknowledgedVersion: z.number().int().nullable(),
  acknowledgedAt: z.string().nullable(),
  dueAt: z.string().nullable(),
  overdue: z.boolean(),
});

export const policyRoutes: RouteDef[] = [
  {
    method: 'GET',
    url: '/v1/policy',
    access: SIGNED_IN,
    summary: 'The organisation’s texting policy',
    schema: { response: { 200: policyView.extend({ mine: standingView }), ...errors } },
    handler: async (rt, req) => {
      const who = principal(req);
      const p = await rt.policyAcks.get(who.orgId);
      if (!p) throw new AppError('policy_not_set');
      const mine = who.kind === 'user' ? await rt.policyAcks.standing(who.orgId, who.userId) : null;
      return { ...p, mine: mine ?? { acknowledgedAt: null, dueAt: null, due: true } };
    },
  },
  {
    method: 'PUT',
    url: '/v1/policy',
    access: ADMIN,
    summary: 'Set the texting policy (a changed text asks every user to acknowledge it again)',
    schema: {
      body: z.object({ text: z.string().min(1).max(MAX_POLICY_LENGTH) }),
      response: { 200: policyView, ...errors },
    },
    handler: async (rt, req) =>
      rt.policyAcks.set(principal(req).orgId, (req.body as { text: string }).text, actor(req)),
  },
  {
    method: 'POST',
    url: '/v1/policy/acknowledge',
    access: SIGNED_IN,
    summary: 'Acknowledge the texting policy (the version read)',
    schema: {
      body: z.object({
        version: z
          .number()
          .int()
          .positive()
          .optional()
          .describe('The version read; refused if the text has changed since'),
      }),
      response: { 200: ackView, ...errors },
    },
    handler: async (rt, req) => {
      const who = principal(req);
      if (who.kind !== 'user') throw new AppError('forbidden');
      const body = req.body as { version?: number };
      return rt.policyAcks.acknowledge(who.orgId, who.userId, body.version);
    },
  },
  {
    method: 'GET',
    url: '/v1/policy/acknowledgements',
    access: ADMIN,
    summary: 'Every active user’s acknowledgement of the texting policy, overdue first',
    schema: {
      response: {
        200: z.object({
          version: z.number().int().nullable(),
          overdue: z.number().int(),
          data: z.array(statusView),
        }),
        ...errors,
      },
    },
    handler: async (rt, req) => {
      const s = await rt.policyAcks.statuses(principal(req).orgId);
      return {
        version: s.version,
        overdue: s.users.filter((u) => u.overdue).length,
        data: s.users,
      };
    },
  },
];
