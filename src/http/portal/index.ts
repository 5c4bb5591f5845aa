/**
 * @module http/portal
 * The patient portal, `/s/{token}`: a Fastify context of its own, apart from the API. No API
 * key or staff session reaches it and none is needed: the link token names the message, and
 * the patient's verified session is a cookie scoped to that link's path (HttpOnly,
 * SameSite=Strict, 15 minutes). Every POST also carries a form token (double-submit before
 * verification, derived from the session after). Pages are HTML, never cached or indexed,
 * under a CSP that allows nothing but their own stylesheet. Requests are rate-limited per
 * client address. The request log names the route pattern (`/s/:token`), never the token.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import cookie from '@fastify/cookie';
import rateLimit from '@fastify/rate-limit';
import type { Runtime } from '../../runtime/index.js';
import { AppError } from '../../errors/index.js';
import { errorSummary } from '../../dispatch/index.js';
import {
  isLinkToken,
  messagePage,
  PORTAL_CSP,
  problemPage,
  SESSION_TTL_MS,
  unavailablePage,
  verifyPage,
  MAX_REPLY_CHARS,
  type VerifyMethod,
} from '../../portal/index.js';

export const PORTAL_SESSION_COOKIE = 'tidings_portal';
export const PORTAL_FORM_COOKIE = 'tidings_portal_form';

type Form = Record<string, string>;
type Handler = (rt: Runtime, req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

/** Where the portal lives: links are `<PUBLIC_URL>/s/<token>`. */
export const PORTAL_PREFIX = '/s';

/** Every portal endpoint, below PORTAL_PREFIX (the link's token is the only parameter). */
const ROUTES: { method: 'GET' | 'POST'; url: string; handler: Handler }[] = [
  { method: 'GET', url: '/:token', handler: showLink },
  { method: 'POST', url: '/:token/verify', handler: verify },
  { method: 'POST', url: '/:token/code', handler: sendCode },
  { method: 'POST', url: '/:token/reply', handler: reply },
];

/** The portal context; register it with `{ prefix: PORTAL_PREFIX }`. */
export function portalPlugin(rt: Runtime): FastifyPluginAsync {
  const secure = rt.config.publicUrl.startsWith('https:') || rt.config.tls !== undefined;
  return async (app) => {
    await app.register(cookie);
    await app.register(rateLimit, {
      global: true,
      max: rt.config.portalRateLimit,
      timeWindow: 60_000,
      errorResponseBuilder: () => new AppError('rate_limited'),
    });
    app.decorateRequest('portalSecureCookies', secure);
    // Forms post as application/x-www-form-urlencoded; nothing else is read.
    app.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: 16 * 1024 },
      (_req, body, done) => {
        const form: Form = {};
        for (const [k, v] of new URLSearchParams(body as string)) form[k] = v;
        done(null, form);
      },
    );
    app.addHook('onSend', async (_req, res, payload) => {
      void res
        .header('content-security-policy', PORTAL_CSP)
        .header('cache-control', 'no-store')
        .header('pragma', 'no-cache')
        .header('referrer-policy', 'no-referrer')
        .header('x-robots-tag', 'noindex, nofollow')
        .header('content-type', 'text/html; charset=utf-8');
      return payload;
    });
    app.setErrorHandler((error, req, res) => {
      const code =
        error instanceof AppError ? error.code : ((error as { code?: string }).code ?? '');
      if (code === 'rate_limited' || (error as { statusCode?: number }).statusCode === 429) {
        return res.code(429).send(problemPage('rate_limited'));
      }
      if (code.startsWith('FST_ERR_CTP') || (error as { statusCode?: number }).statusCode === 400) {
        return res.code(400).send(problemPage('bad_request'));
      }
      req.log.error({ err: errorSummary(error) }, 'portal error');
      return res.code(500).send(problemPage('error'));
    });
    app.setNotFoundHandler((_req, res) => res.code(404).send(unavailablePage()));
    for (const r of ROUTES) {
      app.route({
        method: r.method,
        url: r.url,
        schema: { hide: true },
        handler: (req, res) => r.handler(rt, req, res),
      });
    }
  };
}

declare module 'fastify' {
  interface FastifyRequest {
    portalSecureCookies: boolean;
  }
}

function tokenOf(req: FastifyRequest): string | null {
  const t = (req.params as { token?: string }).token ?? '';
  return isLinkToken(t) ? t : null;
}

function formOf(req: FastifyRequest): Form {
  const b = req.body;
  if (typeof b !== 'object' || b === null) return {};
  const out: Form = {};
  for (const [k, v] of Object.entries(b as Record<string, unknown>)) {
    if (typeof v === 'string') out[k] = v;
  }
  return out;
}

/** The neutral page: unknown, expired, revoked and locked links all look the same. */
function unavailable(res: FastifyReply) {
  return res.code(404).send(unavailablePage());
}

function cookieOptions(req: FastifyRequest, token: string, maxAgeSeconds: number) {
  return {
    path: `/s/${token}`,
    httpOnly: true,
    sameSite: 'strict' as const,
    secure: req.portalSecureCookies,
    maxAge: maxAgeSeconds,
  };
}

/** The pre-verification form token (double-submit cookie); made when missing. */
function formToken(req: FastifyRequest, res: FastifyReply, token: string): string {
  const existing = req.cookies[PORTAL_FORM_COOKIE];
  if (existing && /^[A-Za-z0-9_-]{43}$/.test(existing)) return existing;
  const fresh = randomBytes(32).toString('base64url');
  void res.setCookie(PORTAL_FORM_COOKIE, fresh, cookieOptions(req, token, 3600));
  return fresh;
}

/**
 * A POST made before verification must carry the form token matching its cookie (a
 * SameSite=Strict cookie, so another site cannot supply it), and come from this origin when
 * the browser says where it came from.
 */
function formTokenOk(req: FastifyRequest, form: Form): boolean {
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== 'null') {
    try {
      if (new URL(origin).host !== req.headers.host) return false;
    } catch {
      return false;
    }
  }
  const cookieValue = req.cookies[PORTAL_FORM_COOKIE];
  return Boolean(cookieValue) && form.csrf === cookieValue;
}

function renderVerify(
  req: FastifyRequest,
  res: FastifyReply,
  token: string,
  state: { orgName: string; method: VerifyMethod; codeSent: boolean },
  extra: { error?: string; notice?: string; codeSent?: boolean; status?: number } = {},
) {
  return res.code(extra.status ?? 200).send(
    verifyPage({
      path: `/s/${token}`,
      orgName: state.orgName,
      method: state.method,
      csrf: formToken(req, res, token),
      error: extra.error,
      notice: extra.notice,
      codeSent: extra.codeSent ?? state.codeSent,
    }),
  );
}

async function showLink(rt: Runtime, req: FastifyRequest, res: FastifyReply) {
  const token = tokenOf(req);
  if (!token) return unavailable(res);
  const state = await rt.portal.open(token, req.cookies[PORTAL_SESSION_COOKIE]);
  switch (state.kind) {
    case 'unavailable':
      return unavailable(res);
    case 'verify':
      return renderVerify(req, res, token, state);
    case 'message':
      return res.send(
        messagePage({
          path: `/s/${token}`,
          orgName: state.orgName,
          body: state.body,
          replies: state.replies,
          csrf: state.csrf,
          replied: (req.query as { replied?: string }).replied === '1',
          sessionMinutes: SESSION_TTL_MS / 60_000,
        }),
      );
  }
}

async function verify(rt: Runtime, req: FastifyRequest, res: FastifyReply) {
  const token = tokenOf(req);
  if (!token) return unavailable(res);
  const form = formOf(req);
  const state = await rt.portal.open(token, undefined);
  if (state.kind !== 'verify') return unavailable(res);
  if (!formTokenOk(req, form)) {
    return renderVerify(req, res, token, state, {
      error: 'This page had expired. Please try again.',
      status: 403,
    });
  }
  const result = await rt.portal.verify(token, {
    month: form.month,
    day: form.day,
    year: form.year,
    code: form.code,
  });
  switch (result.kind) {
    case 'unavailable':
      return unavailable(res);
    case 'malformed':
      return renderVerify(req, res, token, state, {
        status: 400,
        error:
          state.method === 'dob'
            ? 'Enter your date of birth as numbers, for example 3 27 1980.'
            : 'Enter the 6-digit code from the text we sent.',
      });
    case 'failed':
      return renderVerify(req, res, token, state, {
        status: 422,
        error:
          (state.method === 'dob'
            ? 'That date of birth does not match our records.'
            : 'That code is not right or has expired.') +
          ` You have ${result.attemptsLeft} ${result.attemptsLeft === 1 ? 'try' : 'tries'} left.`,
      });
    case 'verified':
      void res.setCookie(
        PORTAL_SESSION_COOKIE,
        result.sessionToken,
        cookieOptions(req, token, result.maxAgeSeconds),
      );
      return res.code(303).header('location', `/s/${token}`).send('');
  }
}

async function sendCode(rt: Runtime, req: FastifyRequest, res: FastifyReply) {
  const token = tokenOf(req);
  if (!token) return unavailable(res);
  const form = formOf(req);
  const state = await rt.portal.open(token, undefined);
  if (state.kind !== 'verify' || state.method !== 'code') return unavailable(res);
  if (!formTokenOk(req, form)) {
    return renderVerify(req, res, token, state, {
      error: 'This page had expired. Please try again.',
      status: 403,
    });
  }
  const result = await rt.portal.sendCode(token);
  switch (result.kind) {
    case 'unavailable':
      return unavailable(res);
    case 'sent':
      rt.worker.nudge();
      return renderVerify(req, res, token, state, {
        notice: 'We texted you a code. It expires in 10 minutes.',
        codeSent: true,
      });
    case 'throttled':
      return renderVerify(req, res, token, state, {
        status: 429,
        error: 'We sent a code a moment ago. Wait a minute before asking for another.',
      });
    case 'not_sent':
      return renderVerify(req, res, token, state, {
        status: 422,
        error: 'We can’t text you a code right now. Please contact the sender.',
      });
  }
}

async function reply(rt: Runtime, req: FastifyRequest, res: FastifyReply) {
  const token = tokenOf(req);
  if (!token) return unavailable(res);
  const form = formOf(req);
  const result = await rt.portal.reply(
    token,
    req.cookies[PORTAL_SESSION_COOKIE],
    form.csrf ?? '',
    form.reply ?? '',
  );
  switch (result.kind) {
    case 'unavailable':
      return unavailable(res);
    case 'unverified':
      // The session ended: back to the link, which asks to verify again.
      return res.code(303).header('location', `/s/${token}`).send('');
    case 'csrf_failed':
      return res.code(403).send(problemPage('bad_request'));
    case 'invalid': {
      const state = await rt.portal.open(token, req.cookies[PORTAL_SESSION_COOKIE]);
      if (state.kind !== 'message') return unavailable(res);
      return res.code(400).send(
        messagePage({
          path: `/s/${token}`,
          orgName: state.orgName,
          body: state.body,
          replies: state.replies,
          csrf: state.csrf,
          error: `Write a reply of 1 to ${MAX_REPLY_CHARS} characters.`,
          sessionMinutes: SESSION_TTL_MS / 60_000,
        }),
      );
    }
    case 'replied':
      return res.code(303).header('location', `/s/${token}?replied=1`).send('');
  }
}
