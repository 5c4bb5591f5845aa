/**
 * @module integrations/fhir/plugin
 * The FHIR audience as its own Fastify context: API keys only, `application/fhir+json`, and
 * every error as an OperationOutcome (never the `/v1` envelope). Each route declares its
 * access like the `/v1` routes and `authorize` decides; the authorisation-matrix test walks
 * these routes too.
 */
import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Runtime } from '../../runtime/index.js';
import { authorize } from '../../identity/access.js';
import { AppError, isAppError } from '../../errors/index.js';
import { FhirProblem, operationOutcome } from './map-resources.js';
import { fhirRoutes } from './routes.js';

const BEARER = /^Bearer\s+(\S+)\s*$/i;
const FHIR_JSON = 'application/fhir+json; charset=utf-8';

function issueCode(status: number): string {
  if (status === 401) return 'login';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not-found';
  if (status === 409) return 'conflict';
  if (status === 422) return 'business-rule';
  if (status === 429) return 'throttled';
  return status >= 500 ? 'exception' : 'invalid';
}

export function fhirPlugin(rt: Runtime): FastifyPluginAsync {
  // eslint-disable-next-line @typescript-eslint/require-await -- Fastify's plugin signature
  return async (app) => {
    app.addContentTypeParser(
      ['application/fhir+json', 'application/json'],
      { parseAs: 'string', bodyLimit: 1024 * 1024 },
      (_req, body, done) => {
        try {
          done(null, JSON.parse(body as string) as unknown);
        } catch {
          done(new FhirProblem(400, 'invalid', 'The body is not valid JSON'));
        }
      },
    );
    app.setErrorHandler((error: FastifyError | Error, req: FastifyRequest, reply: FastifyReply) => {
      let status = 500;
      let code = 'exception';
      let text = 'Something went wrong on our side.';
      if (error instanceof FhirProblem) {
        status = error.status;
        code = error.code;
        text = error.message;
      } else if (isAppError(error)) {
        status = error.status;
        code = issueCode(status);
        text = `${error.code}: ${error.message}`;
      } else if (
        'statusCode' in error &&
        typeof error.statusCode === 'number' &&
        error.statusCode < 500
      ) {
        status = error.statusCode;
        code = issueCode(status);
        text = 'The request is not valid.';
      } else {
        req.log.error({ err: error.name }, 'fhir request failed');
      }
      return reply.code(status).type(FHIR_JSON).send(operationOutcome(code, text));
    });
    app.addHook('onRequest', async (req) => {
      const m = BEARER.exec(req.headers.authorization ?? '');
      if (!m?.[1]) return;
      const p = await rt.apiKeys.authenticate(m[1]);
      if (!p) throw new AppError('unauthenticated');
      req.principal = p;
    });
    for (const r of fhirRoutes) {
      const access = r.access;
      app.route({
        method: r.method,
        url: r.url,
        schema: { summary: r.summary, tags: ['FHIR'], security: [{ bearerAuth: [] }] },
        onRequest: (req, _reply, done) => {
          const decision = authorize(access, req.principal);
          done(decision === 'allow' ? undefined : new AppError(decision));
        },
        handler: async (req, reply) => {
          const out = await r.handler(rt, req, reply);
          if (reply.sent) return reply;
          return reply.type(FHIR_JSON).send(out);
        },
      });
    }
  };
}
