/**
 * @module http/errors
 * Turns every failure into the one envelope `{ "error": { "code", "message" } }` with the
 * catalogue's status. Validation messages name the field and the rule, never the value.
 * Anything unexpected becomes a generic 500; its class goes to the log, its text does not
 * (an error's text may quote data).
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { AppError, ERRORS, type ErrorCode } from '../errors/index.js';
import { errorSummary } from '../dispatch/index.js';

export function errorBody(code: ErrorCode, message?: string) {
  return { error: { code, message: message ?? ERRORS[code].message } };
}

function sendError(reply: FastifyReply, code: ErrorCode, message?: string): FastifyReply {
  return reply.code(ERRORS[code].status).type('application/json').send(errorBody(code, message));
}

/** Fastify's own error codes that are the caller's fault, mapped to ours. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'validation_failed',
  FST_ERR_CTP_INVALID_TYPE: 'unsupported_media_type',
  FST_ERR_BAD_URL: 'validation_failed',
};

export function handleError(
  error: FastifyError | Error,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  if (error instanceof AppError) return sendError(reply, error.code, error.message);
  if (hasZodFastifySchemaValidationErrors(error)) {
    const where = (error as { validationContext?: string }).validationContext ?? 'request';
    const issues = error.validation as readonly { instancePath: string; message?: string }[];
    const detail = issues
      .slice(0, 5)
      .map((v) => {
        const field = v.instancePath.replace(/^\//, '').replace(/\//g, '.');
        return `${where}${field ? `.${field}` : ''}: ${v.message ?? 'is invalid'}`;
      })
      .join('; ');
    return sendError(reply, 'validation_failed', `The request is not valid: ${detail}.`);
  }
  const code = (error as FastifyError).code;
  const mapped = code ? FASTIFY_CODES[code] : undefined;
  if (mapped) return sendError(reply, mapped);
  const status = (error as FastifyError).statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    return sendError(reply, status === 429 ? 'rate_limited' : 'validation_failed');
  }
  request.log.error({ err: errorSummary(error) }, 'unhandled error');
  return sendError(reply, 'internal_error');
}

/**
 * Requests Node's HTTP parser refuses before Fastify sees them (bad framing, oversized
 * headers) still get the envelope, on a connection that is then closed.
 */
export function handleClientError(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const code: ErrorCode =
    error.code === 'HPE_HEADER_OVERFLOW' ? 'headers_too_large' : 'validation_failed';
  const body = JSON.stringify(errorBody(code));
  const status = ERRORS[code].status;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
      'Content-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
}

export function handleNotFound(_request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendError(reply, 'route_not_found');
}
