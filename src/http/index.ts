/**
 * @module http
 * The Fastify application. Audiences are separate encapsulated plugins, each with its own
 * authentication: the integrators' API under `/v1` (API keys), the patient portal under `/s`
 * (link token and a verified patient session; see http/portal) and the operations endpoints
 * (`/healthz`, `/readyz`, `/metrics`, `/openapi.json`, `/docs`). Request logs carry the
 * route pattern, never the URL (a query string could carry data).
 */
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyPluginAsync,
  type RouteOptions,
} from 'fastify';
import { timingSafeEqual } from 'node:crypto';
import cookie from '@fastify/cookie';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { Runtime } from '../runtime/index.js';
import { authorize, type Access, type Principal } from '../identity/access.js';
import { AppError } from '../errors/index.js';
import { sha256Hex } from '../crypto/index.js';
import { handleClientError, handleError, handleNotFound } from './errors.js';
import { docsCsp, httpsServerOptions, securityHeaders } from './security.js';
import { routes } from './v1/index.js';
import { PORTAL_PREFIX, portalPlugin } from './portal/index.js';
import { SESSION_COOKIE } from './cookie.js';
import { fhirPlugin } from '../integrations/fhir/index.js';
import { CARRIER_WEBHOOK_PREFIX, carrierWebhookPlugin } from './carriers/index.js';
import { CONSOLE_PREFIX, consolePlugin } from './console.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
    /** SHA-256 of the session's CSRF token, when the caller came with a session cookie. */
    csrfHash?: string;
  }
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function csrfMatches(header: string | string[] | undefined, expected: string): boolean {
  if (typeof header !== 'string' || header.length === 0 || header.length > 100) return false;
  const a = Buffer.from(sha256Hex(header), 'hex');
  const b = Buffer.from(expected, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

function declaresAccess(a: unknown): a is Access {
  if (typeof a !== 'object' || a === null) return false;
  return 'public' in a || 'session' in a || ('roles' in a && 'scopes' in a);
}

/**
 * The versioned API. A caller is an API key (`Authorization: Bearer`) or a person's session;
 * each route's declared access decides, before validation, whether the caller may go on.
 */
function apiPlugin(rt: Runtime): FastifyPluginAsync {
  return async (app) => {
    await app.register(cookie);
    await app.register(rateLimit, {
      global: false,
      errorResponseBuilder: () => new AppError('rate_limited'),
    });
    // CSV files (consent imports) arrive as text; routes that take none refuse a string body.
    app.addContentTypeParser('text/csv', { parseAs: 'string' }, (_req, body, done) => {
      done(null, body);
    });
    app.addHook('onRequest', async (req, reply) => {
      // API answers may carry PHI: no browser or proxy may keep a copy.
      void reply.header('cache-control', 'no-store');
      const m = BEARER.exec(req.headers.authorization ?? '');
      if (m?.[1]) {
        const p = await rt.apiKeys.authenticate(m[1]);
        if (!p) throw new AppError('unauthenticated');
        req.principal = p;
        return;
      }
      const token = req.cookies[SESSION_COOKIE];
      if (token) {
        const s = await rt.sessions.authenticate(token);
        if (s) {
          req.principal = s.principal;
          req.csrfHash = s.csrfHash;
        }
      }
    });
    const typed = app.withTypeProvider<ZodTypeProvider>();
    for (const r of routes) {
      if (!declaresAccess(r.access)) {
        throw new Error(`route ${r.method} ${r.url} declares no access`);
      }
      const access = r.access;
      typed.route({
        method: r.method,
        url: r.url,
        schema: {
          ...r.schema,
          summary: r.summary,
          ...('public' in access ? {} : { security: [{ bearerAuth: [] }, { sessionCookie: [] }] }),
        },
        ...(r.rateLimited
          ? { config: { rateLimit: { max: rt.config.authRateLimit, timeWindow: 60_000 } } }
          : {}),
        ...(r.bodyLimit ? { bodyLimit: r.bodyLimit } : {}),
        // Before the body is read: a caller without access learns nothing about its input.
        onRequest: (req, _reply, done) => {
          const decision = authorize(access, req.principal);
          if (decision !== 'allow') return done(new AppError(decision));
          // A change made with a session cookie must also carry the session's CSRF token.
          if (
            req.csrfHash !== undefined &&
            !('public' in access) &&
            !SAFE_METHODS.has(req.method) &&
            !csrfMatches(req.headers['x-csrf-token'], req.csrfHash)
          ) {
            return done(new AppError('csrf_failed'));
          }
          done();
        },
        handler: (req, reply) => r.handler(rt, req, reply),
      });
    }
  };
}

/** Health, readiness, metrics and API documentation. */
function opsPlugin(rt: Runtime): FastifyPluginAsync {
  return (app) => {
    app.get('/healthz', { schema: { hide: true } }, () => ({ status: 'ok' }));
    app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
      const ok = await rt.store.ping();
      return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'unavailable' });
    });
    app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
      return reply.type(rt.metrics.registry.contentType).send(await rt.metrics.registry.metrics());
    });
    app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());
    return Promise.resolve();
  };
}

/** Builds the app; `onRoute` (for tests) sees every route as it is registered. */
export async function buildHttp(
  rt: Runtime,
  onRoute?: (route: RouteOptions) => void,
): Promise<FastifyInstance> {
  const logger: FastifyBaseLogger = rt.log;
  const app = Fastify({
    loggerInstance: logger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
    trustProxy: false,
    return503OnClosing: true,
    // Malformed URLs and the like get our envelope, not Fastify's (which quotes the URL).
    frameworkErrors: (error, request, reply) => {
      handleError(error, request, reply);
    },
    clientErrorHandler: handleClientError,
    // HTTPS (TLS 1.2+) when TLS_CERT_FILE and TLS_KEY_FILE are set.
    ...httpsServerOptions(rt.config),
  });
  if (onRoute) app.addHook('onRoute', onRoute);
  // JSON only: a text/plain body is refused with 415 rather than parsed.
  app.removeContentTypeParser('text/plain');
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(handleError);
  app.setNotFoundHandler(handleNotFound);

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    const seconds = reply.elapsedTime / 1000;
    rt.metrics.httpDuration.observe(
      { route, method: req.method, status: `${Math.floor(reply.statusCode / 100)}xx` },
      seconds,
    );
    if (reply.statusCode >= 500 || rt.log.isLevelEnabled('debug')) {
      req.log.info(
        {
          method: req.method,
          route,
          status: reply.statusCode,
          ms: Math.round(reply.elapsedTime),
        },
        'request',
      );
    }
  });

  // Security headers (and HSTS under TLS) on every response, before any route exists.
  // Every response carries the security headers; a route may replace one (the /docs page and
  // the portal set their own Content-Security-Policy).
  const headers = securityHeaders(rt.config);
  app.addHook('onRequest', (_req, reply, done) => {
    void reply.headers(headers);
    done();
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Tidings API',
        version: '1',
        description:
          'Send texts to patients without putting PHI in SMS. Errors are `{ "error": { "code", "message" } }`; see docs/errors.md.',
      },
      servers: [{ url: rt.config.publicUrl }],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer' },
          sessionCookie: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE },
        },
      },
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: docsCsp(rt.config) });
  await app.register(opsPlugin(rt));
  await app.register(apiPlugin(rt));
  // FHIR R4 (/fhir/…): API keys only, errors as OperationOutcome.
  await app.register(fhirPlugin(rt));
  // The patient portal (/s/{token}): its own context, cookies, rate limit and error pages.
  await app.register(portalPlugin(rt), { prefix: PORTAL_PREFIX });
  // Carrier webhooks (/carriers/…): no API auth; each carrier's own signature, fail closed.
  await app.register(carrierWebhookPlugin(rt), { prefix: CARRIER_WEBHOOK_PREFIX });
  // The staff console (web/, built into dist/console): static files; it calls /v1 like anyone.
  await app.register(consolePlugin(rt.config), { prefix: CONSOLE_PREFIX });
  await app.ready();
  return app;
}
