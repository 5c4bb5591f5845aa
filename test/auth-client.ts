/**
 * A small HTTP client for tests of people's sessions: it keeps the session cookie and the
 * CSRF token the way a browser app would.
 */
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
