/**
 * @module http/v1/senders
 * The organisation's senders: the numbers it texts from and the carrier each goes through.
 * Administrators only. Carrier credentials go in and are stored encrypted; they never come
 * back out: the view shows the carrier, the limits and the webhook paths to give the carrier.
 */
import { z } from 'zod';
import { SENDER_CARRIERS } from '../../carriers/sender-config.js';
import {
  addConfiguredSender,
  THROUGHPUT_PRESETS,
  webhookPaths,
  type ThroughputPreset,
} from '../../runtime/sender-carriers.js';
import type { Sender } from '../../orgs/index.js';
import { actor, errors, principal, type RouteDef } from './route-def.js';

const senderView = z.object({
  id: z.string(),
  number: z.string(),
  carrier: z.string(),
  mps: z.number().describe('Segments per second'),
  dailyCap: z.number().nullable().describe('Segments per day; null: none'),
  capTimeZone: z.string().nullable(),
  default: z.boolean(),
  secondary: z.boolean(),
  pool: z
    .boolean()
    .describe('In the pool: messages naming no sender go from it, sticky per recipient'),
  webhooks: z.record(z.string(), z.string()).describe('Paths under PUBLIC_URL to give the carrier'),
});

const addBody = z.object({
  number: z.string().max(20).describe('E.164'),
  carrier: z.enum(SENDER_CARRIERS),
  url: z
    .string()
    .max(500)
    .optional()
    .describe('smpp: smpp://SYSTEM_ID:PASSWORD@HOST:PORT (ssmpp:// for TLS)'),
  window: z.number().int().min(1).max(1000).optional().describe('smpp: outstanding submit_sm'),
  accountSid: z.string().max(100).optional().describe('twilio'),
  authToken: z.string().max(500).optional().describe('twilio'),
  apiKey: z.string().max(500).optional().describe('telnyx'),
  publicKey: z.string().max(200).optional().describe('telnyx: base64 Ed25519 webhook key'),
  baseUrl: z.string().max(500).optional().describe('twilio, telnyx: API base URL'),
  mps: z.number().int().min(1).max(10_000).optional().describe('Segments per second'),
  dailyCap: z.number().int().min(1).nullable().optional(),
  capTimeZone: z.string().max(64).nullable().optional(),
  default: z.boolean().optional(),
  secondary: z
    .boolean()
    .optional()
    .describe("Fail over to it when another sender's carrier keeps failing"),
  pool: z.boolean().optional().describe('Join the sender pool (sticky sender per recipient)'),
  preset: z
    .enum(THROUGHPUT_PRESETS as [ThroughputPreset, ...ThroughputPreset[]])
    .optional()
    .describe('10DLC throughput preset; explicit mps and daily cap win'),
});

const updateBody = z
  .object({
    mps: z.number().int().min(1).max(10_000).optional().describe('Segments per second'),
    dailyCap: z.number().int().min(1).nullable().optional().describe('null: no cap'),
    capTimeZone: z.string().max(64).nullable().optional(),
    default: z.literal(true).optional().describe('Make it the default sender'),
    secondary: z.boolean().optional(),
    pool: z.boolean().optional(),
  })
  .strict();

const idParams = z.object({ id: z.string().max(64) });

function view(s: Sender): z.infer<typeof senderView> {
  return {
    id: s.id,
    number: s.number,
    carrier: s.carrier,
    mps: s.mps,
    dailyCap: s.dailyCap,
    capTimeZone: s.capTimeZone,
    default: s.isDefault,
    secondary: s.isSecondary,
    pool: s.inPool,
    webhooks: webhookPaths(s),
  };
}

export const senderRoutes: RouteDef[] = [
  {
    method: 'GET',
    url: '/v1/senders',
    access: { roles: ['admin'], scopes: [] },
    summary: "The organisation's senders (never their credentials)",
    schema: { response: { 200: z.object({ senders: z.array(senderView) }), ...errors } },
    handler: async (rt, req) => ({
      senders: (await rt.orgs.senders(principal(req).orgId)).map(view),
    }),
  },
  {
    method: 'POST',
    url: '/v1/senders',
    access: { roles: ['admin'], scopes: [] },
    summary: 'Add a sender with its carrier settings (credentials stored encrypted)',
    schema: { body: addBody, response: { 201: senderView, ...errors } },
    handler: async (rt, req, reply) => {
      const b = req.body as z.infer<typeof addBody>;
      const { default: isDefault, secondary, pool, ...rest } = b;
      const { sender } = await addConfiguredSender(
        rt.orgs,
        rt.config.defaultMps,
        principal(req).orgId,
        { ...rest, isDefault, isSecondary: secondary, inPool: pool },
        actor(req),
      );
      return reply.code(201).send(view(sender));
    },
  },
  {
    method: 'PATCH',
    url: '/v1/senders/:id',
    access: { roles: ['admin'], scopes: [] },
    summary: "Change a sender's limits and roles (rate, daily cap, default, secondary, pool)",
    schema: { params: idParams, body: updateBody, response: { 200: senderView, ...errors } },
    handler: async (rt, req) => {
      const b = req.body as z.infer<typeof updateBody>;
      const { id } = req.params as z.infer<typeof idParams>;
      const sender = await rt.orgs.updateSender(
        principal(req).orgId,
        id,
        {
          mps: b.mps,
          dailyCap: b.dailyCap,
          capTimeZone: b.capTimeZone,
          isDefault: b.default,
          isSecondary: b.secondary,
          inPool: b.pool,
        },
        actor(req),
      );
      return view(sender);
    },
  },
  {
    method: 'DELETE',
    url: '/v1/senders/:id',
    access: { roles: ['admin'], scopes: [] },
    summary: 'Remove a sender and its credentials (not the default; none of its texts waiting)',
    schema: { params: idParams, response: { 204: z.null(), ...errors } },
    handler: async (rt, req, reply) => {
      const { id } = req.params as z.infer<typeof idParams>;
      await rt.removeSender(principal(req).orgId, id, actor(req));
      return reply.code(204).send(null);
    },
  },
];
