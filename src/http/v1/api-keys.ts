/**
 * @module http/v1/api-keys
 * The organisation's API keys for integrators (identity/api-keys), managed by admins in
 * person: a new key's secret is in the create answer only, never again (the list shows its
 * prefix); revoking takes effect at once. Creating and revoking are audited
 * (`apikey.created`, `apikey.revoked`). No API key may manage keys: a leaked key cannot
 * mint itself successors.
 */
import { z } from 'zod';
import { SCOPES } from '../../identity/access.js';
import type { ApiKeyInfo } from '../../identity/index.js';
import { AppError } from '../../errors/index.js';
import { actor, errors, principal, type Access, type RouteDef } from './route-def.js';

const ADMIN: Access = { roles: ['admin'], scopes: [] };

const keyView = z.object({
  id: z.string(),
  name: z.string(),
  prefix: z.string().describe('The first characters of the key, to tell keys apart'),
  scopes: z.array(z.enum(SCOPES)),
  createdBy: z.string().nullable(),
  createdAt: z.string(),
  expiresAt: z.string().nullable(),
  lastUsedAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
});

const createBody = z.object({
  name: z.string().trim().min(1).max(100).describe('What the key is for, e.g. "EHR feed"'),
  scopes: z
    .array(z.enum(SCOPES))
    .min(1)
    .max(SCOPES.length)
    .optional()
    .describe('Defaults to messages:send, messages:read, webhooks:write'),
  expiresAt: z.iso.datetime({ offset: true }).optional().describe('When the key stops working'),
});

const idParams = z.object({ id: z.string().min(1).max(64) });

function view(k: ApiKeyInfo): z.infer<typeof keyView> {
  return {
    id: k.id,
    name: k.name,
    prefix: k.prefix,
    scopes: k.scopes,
    createdBy: k.createdBy,
    createdAt: k.createdAt,
    expiresAt: k.expiresAt,
    lastUsedAt: k.lastUsedAt,
    revokedAt: k.revokedAt,
  };
}

export const apiKeyRoutes: RouteDef[] = [
  {
    method: 'GET',
    url: '/v1/api-keys',
    access: ADMIN,
    summary: "The organisation's API keys (never their secrets)",
    schema: { response: { 200: z.object({ data: z.array(keyView) }), ...errors } },
    handler: async (rt, req) => {
      return { data: (await rt.apiKeys.list(principal(req).orgId)).map(view) };
    },
  },
  {
    method: 'POST',
    url: '/v1/api-keys',
    access: ADMIN,
    summary: 'Create an API key; the key itself is in this answer only',
    schema: {
      body: createBody,
      response: {
        201: z.object({
          key: keyView,
          apiKey: z.string().describe('The secret: shown once, store it now'),
        }),
        ...errors,
      },
    },
    handler: async (rt, req, reply) => {
      const orgId = principal(req).orgId;
      const b = req.body as z.infer<typeof createBody>;
      const created = await rt.apiKeys.create(
        orgId,
        {
          name: b.name,
          scopes: b.scopes,
          expiresAt: b.expiresAt === undefined ? undefined : Date.parse(b.expiresAt),
        },
        actor(req),
      );
      const info = (await rt.apiKeys.list(orgId)).find((k) => k.id === created.id);
      if (!info) throw new AppError('not_found', 'No such API key.');
      return reply.code(201).send({ key: view(info), apiKey: created.apiKey });
    },
  },
  {
    method: 'DELETE',
    url: '/v1/api-keys/:id',
    access: ADMIN,
    summary: 'Revoke an API key at once',
    schema: { params: idParams, response: { 204: z.null(), ...errors } },
    handler: async (rt, req, reply) => {
      const id = (req.params as z.infer<typeof idParams>).id;
      if (!(await rt.apiKeys.revoke(principal(req).orgId, id, actor(req)))) {
        throw new AppError('not_found', 'No such active API key.');
      }
      return reply.code(204).send(null);
    },
  },
];
