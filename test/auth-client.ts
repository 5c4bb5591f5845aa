/**
 * A small HTTP client for tests of people's sessions: it keeps the session cookie and the
 * CSRF token the way a browser app would.
 */
import { generateSync } from 'otplib';
import type { Runtime } from '../src/runtime/index.js';
import type { Role } from '../src/identity/access.js';
import { SYSTEM_ACTOR } from '../src/audit/index.js';

export interface Res<T = unknown> {
  status: number;
  headers: Headers;
  json: T;
}

export class SessionClient {
  cookie: string | undefined;
  csrf: string | undefined;
  setCookie: string | undefined;

  constructor(private readonly base: string) {}

  async call<T = Record<string, unknown>>(
    method: string,
    path: string,
    json?: unknown,
    opts: { csrf?: boolean; bearer?: string } = {},
  ): Promise<Res<T>> {
    const headers: Record<string, string> = {};
    if (json !== undefined) headers['content-type'] = 'application/json';
    if (this.cookie) headers.cookie = this.cookie;
    if (this.csrf && opts.csrf !== false) headers['x-csrf-token'] = this.csrf;
    if (opts.bearer) headers.authorization = `Bearer ${opts.bearer}`;
    const res = await fetch(this.base + path, {
      method,
      headers,
      ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
    });
    const set = res.headers.get('set-cookie');
    if (set) {
      this.setCookie = set;
      const pair = set.split(';')[0]!;
      this.cookie = pair.endsWith('=') ? undefined : pair;
    }
    const text = await res.text();
    return {
      status: res.status,
      headers: res.headers,
      json: (text ? JSON.parse(text) : null) as T,
    };
  }

  async login(email: string, password: string, org?: string): Promise<Res> {
    const res = await this.call('POST', '/v1/auth/login', {
      email,
      password,
      ...(org ? { org } : {}),
    });
    if (res.status === 200) this.csrf = (res.json as { csrfToken: string }).csrfToken;
    return res;
  }
}

export function errorCode(res: Res): string | undefined {
  return (res.json as { error?: { code?: string } } | null)?.error?.code;
}

/**
 * A new user of `role` in `orgId`, signed in with TOTP enrolled, as a browser app would be:
 * set-up link → password → sign-in → TOTP enrolment.
 */
export async function signedInUser(
  rt: Runtime,
  base: string,
  orgId: string,
  email: string,
  role: Role,
  password = 'correct horse battery staple 42',
): Promise<{ client: SessionClient; userId: string }> {
  const r = await rt.users.create(orgId, email, role, SYSTEM_ACTOR);
  const client = new SessionClient(base);
  const setup = await client.call('POST', '/v1/auth/setup', { token: r.setupToken, password });
  if (setup.status !== 200) throw new Error(`setup: ${setup.status}`);
  if ((await client.login(email, password)).status !== 200) throw new Error('login refused');
  const start = await client.call<{ secret: string }>('POST', '/v1/auth/mfa/totp');
  const code = generateSync({ secret: start.json.secret });
  const done = await client.call('POST', '/v1/auth/mfa/totp/confirm', { code });
  if (done.status !== 200) throw new Error(`totp: ${done.status}`);
  return { client, userId: r.user.id };
}
