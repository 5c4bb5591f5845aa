/**
 * @module http/v1/route-def
 * The shape of one API endpoint: method, path, who may call it, schema, handler. Each area
 * keeps its routes in a file of its own; `http` registers them all and refuses a route that
 * declares no access.
 */
import { z } from 'zod';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Runtime } from '../../runtime/index.js';
import { AppError } from '../../errors/index.js';
import type { Actor } from '../../audit/index.js';
import { actorOf, type Access, type Principal } from '../../identity/access.js';

export type { Access } from '../../identity/access.js';

export interface RouteDef {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  access: Access;
  summary: string;
  /** Sign-in endpoints: limited per client address (TIDINGS_AUTH_RATE_LIMIT a minute). */
  rateLimited?: true;
  /** Bytes, when a route takes more than the default 64 KiB (file imports). */
  bodyLimit?: number;
  schema: {
    body?: z.ZodType;
    querystring?: z.ZodType;
    params?: z.ZodType;
    headers?: z.ZodType;
    response?: Record<number, z.ZodType>;
  };
  handler: (rt: Runtime, req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
}

export const errorEnvelope = z.object({
  error: z.object({ code: z.string(), message: z.string() }),
});

/** The error responses every authenticated route may give. */
export const errors = {
  400: errorEnvelope,
  401: errorEnvelope,
  403: errorEnvelope,
  404: errorEnvelope,
  409: errorEnvelope,
  422: errorEnvelope,
};

/** The authenticated caller (the access check has already run). */
export function principal(req: FastifyRequest): Principal {
  if (!req.principal) throw new AppError('unauthenticated');
  return req.principal;
}

/** The caller as an audit actor. */
export function actor(req: FastifyRequest): Actor {
  return actorOf(principal(req));
}
