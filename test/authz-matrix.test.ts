/**
 * The authorisation matrix. Every route the server registers under /v1 must be in the route
 * table with a declared access; then every route is called as every kind of caller — nobody,
 * each role with a verified second factor, a person without one, and an API key holding each
 * single scope — and the answer must match the declaration: the allowed get past the access
 * check (any answer but 401/403), the rest get 403 (401 when unauthenticated).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RouteOptions } from 'fastify';
import { openTestRuntime, type TestRuntime } from './helpers.js';
import { routes } from '../src/http/v1/index.js';
import {
  authorize,
  ROLES,
  SCOPES,
  type Principal,
  type Role,
  type Scope,
} from '../src/identity/access.js';
import { SYSTEM_ACTOR } from '../src/audit/index.js';
import { buildHttp } from '../src/http/index.js';
import { fhirRoutes } from '../src/integrations/fhir/index.js';

const ACTOR = { type: 'cli' as const, id: 'matrix' };

type Caller =
  | { label: string; kind: 'none' }
  | { label: string; kind: 'user'; role: Role; mfa: boolean }
  | { label: string; kind: 'key'; scope: Scope };

const callers: Caller[] = [
  { label: 'nobody', kind: 'none' },
  ...ROLES.map((role) => ({ label: role, kind: 'user' as const, role, mfa: true })),
  ...ROLES.map((role) => ({
    label: `${role} without MFA`,
    kind: 'user' as const,
    role,
    mfa: false,
  })),
  ...SCOPES.map((scope) => ({ label: `key ${scope}`, kind: 'key' as const, scope })),
];

describe('authorisation matrix', () => {
  let t: TestRuntime;
  let base: string;
  let orgId: string;
  const users = new Map<Role, { id: string; email: string }>();
  const keys = new Map<Scope, string>();

  beforeAll(async () => {
    t = await openTestRuntime({ env: { TIDINGS_AUTH_RATE_LIMIT: '10000' } });
    orgId = (await t.rt.orgs.create('Matrix Clinic', SYSTEM_ACTOR)).orgId;
    for (const role of ROLES) {
      const r = await t.rt.users.create(orgId, `${role}@matrix.example`, role, ACTOR);
      users.set(role, { id: r.user.id, email: r.user.email });
    }
    for (const scope of SCOPES) {
      keys.set(
        scope,
        (await t.rt.apiKeys.create(orgId, { name: scope, scopes: [scope] }, ACTOR)).apiKey,
      );
    }
    base = await t.rt.listen();
  });
  afterAll(async () => t?.cleanup());

  it('has every served /v1 route in the table, each with declared access', async () => {
    const served = await servedRoutes(t);
    const table = new Set(routes.map((r) => `${r.method} ${r.url}`));
    const v1 = served.filter((r) => r.url.startsWith('/v1/'));
    expect(v1.length).toBeGreaterThan(10);
    for (const r of v1) {
      expect(
        table.has(`${r.method} ${r.url}`),
        `${r.method} ${r.url} is not in the route table`,
      ).toBe(true);
    }
    for (const r of routes) expect(r.access, `${r.method} ${r.url}`).toBeTruthy();
  });

  it('serves the allowed and refuses everyone else, on every route', async () => {
    const failures: string[] = [];
    for (const route of routes) {
      for (const caller of callers) {
        const { headers, principal } = await credentials(caller);
        const expected = authorize(route.access, principal);
        const path = route.url.replace(/:(\w+)/g, 'matrix-missing');
        const hasBody = route.method !== 'GET' && route.method !== 'DELETE';
        const res = await fetch(base + path, {
          method: route.method,
          headers: { ...headers, ...(hasBody ? { 'content-type': 'application/json' } : {}) },
          ...(hasBody ? { body: '{}' } : {}),
        });
        const text = await res.text();
        // Downloads (e.g. the audit export, JSON Lines or CSV) are not one JSON document.
        const isJson = res.headers.get('content-type')?.startsWith('application/json') ?? false;
        const code =
          text && isJson
            ? ((JSON.parse(text) as { error?: { code?: string } }).error?.code ?? '')
            : '';
        const want =
          expected === 'allow'
            ? 'not 401/403'
            : expected === 'unauthenticated'
              ? '401 unauthenticated'
              : `403 ${expected}`;
        const ok =
          expected === 'allow'
            ? res.status !== 401 && res.status !== 403
            : expected === 'unauthenticated'
              ? res.status === 401 && code === 'unauthenticated'
              : res.status === 403 && code === expected;
        if (!ok)
          failures.push(
            `${route.method} ${route.url} as ${caller.label}: want ${want}, got ${res.status} ${code}`,
          );
      }
    }
    expect(failures).toEqual([]);
  }, 120_000);

  it('declares at least one refused caller on every non-public route', () => {
    for (const route of routes) {
      if ('public' in route.access) continue;
      const refused = callers
        .filter((c) => c.kind !== 'none')
        .some((c) => {
          const p = principalOf(c);
          return authorize(route.access, p) !== 'allow';
        });
      expect(refused, `${route.method} ${route.url} admits everyone`).toBe(true);
    }
  });

  // The FHIR audience (/fhir): API keys only; refusals come back as an OperationOutcome.
  it('has every served /fhir route in the FHIR table, and enforces its access', async () => {
    const served = (await servedRoutes(t)).filter((r) => r.url.startsWith('/fhir'));
    const table = new Set(fhirRoutes.map((r) => `${r.method} ${r.url}`));
    expect(served.length).toBeGreaterThan(0);
    for (const r of served) expect(table.has(`${r.method} ${r.url}`), r.url).toBe(true);
    const failures: string[] = [];
    for (const route of fhirRoutes) {
      for (const caller of callers) {
        const { headers, principal } = await credentials(caller);
        const allowed = authorize(route.access, principal) === 'allow';
        const path = route.url.replace(/:(\w+)/g, 'matrix-missing');
        const hasBody = route.method !== 'GET';
        const res = await fetch(base + path, {
          method: route.method,
          headers: { ...headers, ...(hasBody ? { 'content-type': 'application/fhir+json' } : {}) },
          ...(hasBody ? { body: '{}' } : {}),
        });
        const body = (await res.json()) as { resourceType?: string };
        const refused = res.status === 401 || res.status === 403;
        if (allowed === refused || (refused && body.resourceType !== 'OperationOutcome')) {
          failures.push(`${route.method} ${route.url} as ${caller.label}: got ${res.status}`);
        }
        if (caller.kind === 'user' && !refused) {
          failures.push(`${route.method} ${route.url} admits a person (${caller.label})`);
        }
      }
    }
    expect(failures).toEqual([]);
  }, 120_000);

  function principalOf(c: Caller): Principal | undefined {
    if (c.kind === 'none') return undefined;
    if (c.kind === 'key') return { kind: 'api_key', orgId, keyId: 'k', scopes: [c.scope] };
    return { kind: 'user', orgId, userId: 'u', role: c.role, sessionId: 's', mfaVerified: c.mfa };
  }

  /** Headers that authenticate as `c`, with a fresh session for people (calls may end it). */
  async function credentials(
    c: Caller,
  ): Promise<{ headers: Record<string, string>; principal: Principal | undefined }> {
    if (c.kind === 'none') return { headers: {}, principal: undefined };
    if (c.kind === 'key') {
      return {
        headers: { authorization: `Bearer ${keys.get(c.scope)}` },
        principal: principalOf(c),
      };
    }
    const u = (await t.rt.users.get(orgId, users.get(c.role)!.id))!;
    const s = await t.rt.sessions.create(u, null);
    if (c.mfa) {
      // Stand-in for a verified TOTP code; the enrolment flow itself is tested in auth.test.ts.
      await t.rt.store.db
        .updateTable('users')
        .set({ mfa_enrolled_at: Date.now() })
        .where('id', '=', u.id)
        .execute();
      await t.rt.sessions.markMfaVerified(orgId, s.session.id);
    }
    return {
      headers: { cookie: `tidings_session=${s.token}`, 'x-csrf-token': s.csrfToken },
      principal: principalOf(c),
    };
  }
});

/** Method and URL of every route the server registers, seen by an onRoute hook. */
async function servedRoutes(t: TestRuntime): Promise<{ method: string; url: string }[]> {
  const found: { method: string; url: string }[] = [];
  const app = await buildHttp(t.rt, (opts: RouteOptions) => {
    const methods = Array.isArray(opts.method) ? opts.method : [opts.method];
    for (const m of methods) if (m !== 'HEAD') found.push({ method: m, url: opts.url });
  });
  await app.close();
  return found;
}
