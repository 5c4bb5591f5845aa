/**
 * @module http/v1/auth
 * Signing in and out, second factors, emergency access, and the admins' management of
 * people and sessions. Sign-in endpoints are rate-limited per client address.
 */
import { z } from 'zod';
import type { FastifyRequest } from 'fastify';
import { GUARD_ACTIONS, parseGuardSettings } from '../../content-guard/index.js';
import { AppError } from '../../errors/index.js';
import { ROLES, type UserPrincipal } from '../../identity/access.js';
import { BREAK_GLASS_ROLES } from '../../identity/access.js';
import { SESSION_ABSOLUTE_MS } from '../../identity/sessions.js';
import { setupLink } from '../../identity/users.js';
import { noticeText } from '../../portal/secure-messages.js';
import { LINK_TOKEN_BYTES } from '../../portal/tokens.js';
import { SESSION_COOKIE } from '../cookie.js';
import { actor, errorEnvelope, errors, principal, type RouteDef } from './route-def.js';

const userView = z.object({
  id: z.string(),
  orgId: z.string(),
  email: z.string(),
  role: z.enum(ROLES),
  mfaEnrolled: z.boolean(),
  passwordSet: z.boolean(),
  disabled: z.boolean(),
  createdAt: z.string(),
});

const sessionView = z.object({
  id: z.string(),
  createdAt: z.string(),
  expiresAt: z.string(),
  idleTimeoutMinutes: z.number(),
  mfaVerified: z.boolean(),
});

const organisationView = z
  .object({
    id: z.string(),
    name: z.string(),
    guardPolicy: z
      .enum(GUARD_ACTIONS)
      .describe(
        'What happens to text the content guard holds: divert (secure message), reject (refused), override (as divert; a provider may send it anyway with a reason)',
      ),
    notice: z
      .string()
      .describe(
        'The neutral notice a diverted text sends by SMS, as the server builds it, with the link token shown as …',
      ),
    senders: z
      .array(
        z.object({
          id: z.string(),
          number: z.string(),
          default: z.boolean(),
          pool: z.boolean().describe('In the pool: texts naming no sender go from the pool'),
        }),
      )
      .describe('The numbers the organisation texts from (no carrier settings)'),
  })
  .describe("The user's organisation, as the console needs it to compose");

/**
 * The notice exactly as the portal words it: built with a link as long as a real one (the
 * organisation's name gives way to "your care team" when it would not fit one segment), then
 * shown with the token elided.
 */
function noticePreview(orgName: string, publicUrl: string): string {
  const base = `${publicUrl}/s/`;
  const sample = `${base}${'x'.repeat(Math.ceil((LINK_TOKEN_BYTES * 4) / 3))}`;
  return noticeText(orgName, sample).replace(sample, `${base}…`);
}

const authErrors = { 400: errorEnvelope, 401: errorEnvelope, 429: errorEnvelope };

const loginBody = z.object({
  email: z.string().min(1).max(320),
  password: z.string().min(1).max(1024),
  org: z
    .string()
    .min(1)
    .max(64)
    .optional()
    .describe('Organisation id, when the address has several'),
});

const setupBody = z.object({
  token: z.string().min(1).max(100),
  password: z.string().min(1).max(1024),
});

const codeBody = z
  .object({
    code: z.string().min(1).max(16).optional().describe('6-digit code from the authenticator'),
    recoveryCode: z.string().min(1).max(32).optional(),
  })
  .refine((b) => (b.code === undefined) !== (b.recoveryCode === undefined), {
    message: 'Give either code or recoveryCode',
  });

const confirmBody = z.object({ code: z.string().min(1).max(16) });

const breakGlassBody = z.object({
  reason: z.string().min(1).max(2000),
  minutes: z.number().int().min(1).max(120).optional(),
});

const grantView = z.object({
  id: z.string(),
  userId: z.string(),
  createdAt: z.string(),
  expiresAt: z.string(),
  endedAt: z.string().nullable(),
  reason: z.string().optional(),
});

const createUserBody = z.object({ email: z.string().min(1).max(320), role: z.enum(ROLES) });
const updateUserBody = z.object({
  role: z.enum(ROLES).optional(),
  disabled: z.boolean().optional(),
});
const idParams = z.object({ id: z.string().min(1).max(64) });
const settingsBody = z.object({ sessionIdleMinutes: z.number().int().min(1).max(60) });

function user(req: FastifyRequest): UserPrincipal {
  const p = principal(req);
  if (p.kind !== 'user') throw new AppError('forbidden');
  return p;
}

const ADMIN = { roles: ['admin'], scopes: [] } as const;

export const authRoutes: RouteDef[] = [
  {
    method: 'POST',
    url: '/v1/auth/setup',
    access: { public: true },
    rateLimited: true,
    summary: 'Set a password from a one-time set-up link',
    schema: { body: setupBody, response: { 200: userView, ...authErrors, 422: errorEnvelope } },
    handler: async (rt, req) => {
      const b = req.body as z.infer<typeof setupBody>;
      return rt.users.completeSetup(b.token, b.password);
    },
  },
  {
    method: 'POST',
    url: '/v1/auth/login',
    access: { public: true },
    rateLimited: true,
    summary: 'Sign in with e-mail address and password; sets the session cookie',
    schema: {
      body: loginBody,
      response: {
        200: z.object({
          user: userView,
          session: sessionView,
          csrfToken: z.string().describe('Send as x-csrf-token on every change'),
          next: z.enum(['enrol_mfa', 'verify_mfa']),
        }),
        ...authErrors,
      },
    },
    handler: async (rt, req, reply) => {
      const b = req.body as z.infer<typeof loginBody>;
      const u = await rt.users.checkPassword(b.email, b.password, b.org);
      const s = await rt.sessions.create(u, req.ip);
      void reply.setCookie(SESSION_COOKIE, s.token, {
        httpOnly: true,
        sameSite: 'strict',
        secure: req.protocol === 'https',
        path: '/',
        maxAge: SESSION_ABSOLUTE_MS / 1000,
      });
      return {
        user: u,
        session: s.session,
        csrfToken: s.csrfToken,
        next: u.mfaEnrolled ? 'verify_mfa' : 'enrol_mfa',
      };
    },
  },
  {
    method: 'POST',
    url: '/v1/auth/logout',
    access: { session: true },
    rateLimited: true,
    summary: 'Sign out of this session',
    schema: { response: { 204: z.null(), ...errors } },
    handler: async (rt, req, reply) => {
      await rt.sessions.logout(user(req));
      void reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return reply.code(204).send(null);
    },
  },
  {
    method: 'POST',
    url: '/v1/auth/sessions/revoke-all',
    access: { roles: ROLES, scopes: [] },
    summary: 'Sign out everywhere: end all of one’s own sessions, this one included',
    schema: { response: { 200: z.object({ revoked: z.number() }), ...errors } },
    handler: async (rt, req, reply) => {
      const p = user(req);
      const revoked = await rt.sessions.revokeAll(p.orgId, p.userId, actor(req));
      void reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return { revoked };
    },
  },
  {
    method: 'GET',
    url: '/v1/auth/session',
    access: { session: true },
    summary: 'The signed-in user, the session and their organisation',
    schema: {
      response: {
        200: z.object({ user: userView, session: sessionView, organisation: organisationView }),
        ...errors,
      },
    },
    handler: async (rt, req) => {
      const p = user(req);
      const [u, s, org, guard, senders] = await Promise.all([
        rt.users.get(p.orgId, p.userId),
        rt.sessions.info(p.orgId, p.sessionId),
        rt.orgs.get(p.orgId),
        rt.orgs.guardSettings(p.orgId),
        rt.orgs.senders(p.orgId),
      ]);
      if (!u || !s || !org) throw new AppError('unauthenticated');
      return {
        user: u,
        session: s,
        organisation: {
          id: org.id,
          name: org.name,
          guardPolicy: parseGuardSettings(guard).action,
          notice: noticePreview(org.name, rt.config.publicUrl),
          senders: senders.map((x) => ({
            id: x.id,
            number: x.number,
            default: x.isDefault,
            pool: x.inPool,
          })),
        },
      };
    },
  },
  {
    method: 'POST',
    url: '/v1/auth/mfa/totp',
    access: { session: true },
    rateLimited: true,
    summary: 'Start TOTP enrolment: returns the secret and otpauth URI',
    schema: {
      response: { 200: z.object({ secret: z.string(), otpauthUri: z.string() }), ...errors },
    },
    handler: async (rt, req) => {
      const p = user(req);
      return rt.users.startTotp(p.orgId, p.userId);
    },
  },
  {
    method: 'POST',
    url: '/v1/auth/mfa/totp/confirm',
    access: { session: true },
    rateLimited: true,
    summary: 'Confirm TOTP enrolment with a first code; returns recovery codes (shown once)',
    schema: {
      body: confirmBody,
      response: { 200: z.object({ recoveryCodes: z.array(z.string()) }), ...errors },
    },
    handler: async (rt, req) => {
      const p = user(req);
      const codes = await rt.users.confirmTotp(
        p.orgId,
        p.userId,
        (req.body as z.infer<typeof confirmBody>).code,
      );
      await rt.sessions.markMfaVerified(p.orgId, p.sessionId);
      return { recoveryCodes: codes };
    },
  },
  {
    method: 'POST',
    url: '/v1/auth/mfa/verify',
    access: { session: true },
    rateLimited: true,
    summary: 'Verify the second factor for this session (TOTP code or recovery code)',
    schema: { body: codeBody, response: { 204: z.null(), ...errors, 429: errorEnvelope } },
    handler: async (rt, req, reply) => {
      const p = user(req);
      await rt.users.verifySecondFactor(p.orgId, p.userId, req.body as z.infer<typeof codeBody>);
      await rt.sessions.markMfaVerified(p.orgId, p.sessionId);
      return reply.code(204).send(null);
    },
  },
  {
    method: 'POST',
    url: '/v1/break-glass',
    access: { roles: [...BREAK_GLASS_ROLES], scopes: [] },
    summary: 'Emergency access to secure-message content, with a written reason',
    schema: { body: breakGlassBody, response: { 201: grantView, ...errors } },
    handler: async (rt, req, reply) => {
      const b = req.body as z.infer<typeof breakGlassBody>;
      return reply.code(201).send(await rt.breakGlass.request(user(req), b.reason, b.minutes));
    },
  },
  {
    method: 'POST',
    url: '/v1/break-glass/:id/end',
    access: { roles: [...BREAK_GLASS_ROLES], scopes: [] },
    summary: 'End an emergency-access grant early (its holder, or an admin)',
    schema: { params: idParams, response: { 204: z.null(), ...errors } },
    handler: async (rt, req, reply) => {
      const p = user(req);
      await rt.breakGlass.end(
        p.orgId,
        (req.params as z.infer<typeof idParams>).id,
        actor(req),
        p.role === 'admin' ? undefined : p.userId,
      );
      return reply.code(204).send(null);
    },
  },
  {
    method: 'GET',
    url: '/v1/break-glass',
    access: ADMIN,
    summary: 'Emergency-access grants, with their reasons',
    schema: { response: { 200: z.object({ data: z.array(grantView) }), ...errors } },
    handler: async (rt, req) => ({ data: await rt.breakGlass.list(principal(req).orgId) }),
  },
  {
    method: 'GET',
    url: '/v1/users',
    access: ADMIN,
    summary: "The organisation's users",
    schema: { response: { 200: z.object({ data: z.array(userView) }), ...errors } },
    handler: async (rt, req) => ({ data: await rt.users.list(principal(req).orgId) }),
  },
  {
    method: 'POST',
    url: '/v1/users',
    access: ADMIN,
    summary: 'Create a user; returns a one-time set-up link',
    schema: {
      body: createUserBody,
      response: { 201: z.object({ user: userView, setupLink: z.string() }), ...errors },
    },
    handler: async (rt, req, reply) => {
      const b = req.body as z.infer<typeof createUserBody>;
      const r = await rt.users.create(principal(req).orgId, b.email, b.role, actor(req));
      return reply
        .code(201)
        .send({ user: r.user, setupLink: setupLink(rt.config.publicUrl, r.setupToken) });
    },
  },
  {
    method: 'PATCH',
    url: '/v1/users/:id',
    access: ADMIN,
    summary: 'Change a role, or disable or enable a user',
    schema: { params: idParams, body: updateUserBody, response: { 200: userView, ...errors } },
    handler: async (rt, req) => {
      const p = principal(req);
      const id = (req.params as z.infer<typeof idParams>).id;
      const b = req.body as z.infer<typeof updateUserBody>;
      const u = await rt.users.update(p.orgId, id, b, actor(req));
      // A disabled user is signed out everywhere at once.
      if (b.disabled) await rt.sessions.revokeAll(p.orgId, id, actor(req));
      return u;
    },
  },
  {
    method: 'POST',
    url: '/v1/users/:id/sessions/revoke',
    access: ADMIN,
    summary: "End all of a user's sessions (lost or stolen device)",
    schema: { params: idParams, response: { 200: z.object({ revoked: z.number() }), ...errors } },
    handler: async (rt, req) => {
      const p = principal(req);
      const id = (req.params as z.infer<typeof idParams>).id;
      if (!(await rt.users.get(p.orgId, id))) throw new AppError('user_not_found');
      return { revoked: await rt.sessions.revokeAll(p.orgId, id, actor(req)) };
    },
  },
  {
    method: 'POST',
    url: '/v1/users/:id/mfa/reset',
    access: ADMIN,
    summary: "Remove a user's second factor so they enrol again; ends their sessions",
    schema: { params: idParams, response: { 204: z.null(), ...errors } },
    handler: async (rt, req, reply) => {
      const p = principal(req);
      const id = (req.params as z.infer<typeof idParams>).id;
      await rt.users.resetMfa(p.orgId, id, actor(req));
      await rt.sessions.revokeAll(p.orgId, id, actor(req));
      return reply.code(204).send(null);
    },
  },
  {
    method: 'POST',
    url: '/v1/users/:id/setup-link',
    access: ADMIN,
    summary: 'Issue a new one-time set-up link (to reset a forgotten password)',
    schema: { params: idParams, response: { 200: z.object({ setupLink: z.string() }), ...errors } },
    handler: async (rt, req) => {
      const id = (req.params as z.infer<typeof idParams>).id;
      const r = await rt.users.resetSetupLink(principal(req).orgId, id, actor(req));
      return { setupLink: setupLink(rt.config.publicUrl, r.setupToken) };
    },
  },
  {
    method: 'PATCH',
    url: '/v1/settings',
    access: ADMIN,
    summary: "Change the organisation's settings (automatic logoff)",
    schema: {
      body: settingsBody,
      response: { 200: z.object({ sessionIdleMinutes: z.number() }), ...errors },
    },
    handler: async (rt, req) => {
      const b = req.body as z.infer<typeof settingsBody>;
      const o = await rt.orgs.setSessionIdleMinutes(
        principal(req).orgId,
        b.sessionIdleMinutes,
        actor(req),
      );
      return { sessionIdleMinutes: o.sessionIdleMinutes };
    },
  },
];
