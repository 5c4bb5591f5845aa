/**
 * @module web/api
 * The console's one way to the server: the same versioned API integrators use, with the
 * session cookie (HttpOnly, set by the server) and the CSRF token on every change. The
 * CSRF token is kept for the tab only (sessionStorage); no PHI is ever stored in the
 * browser, and phone numbers travel in request bodies, never in URLs.
 */

const CSRF_KEY = 'tidings.csrf';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function setCsrfToken(token: string | null): void {
  if (token === null) sessionStorage.removeItem(CSRF_KEY);
  else sessionStorage.setItem(CSRF_KEY, token);
}

export function hasCsrfToken(): boolean {
  return sessionStorage.getItem(CSRF_KEY) !== null;
}

/** A random idempotency key (crypto.randomUUID needs a secure context; this does not). */
export function idempotencyKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export interface CallOptions {
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

export async function api<T>(
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  path: string,
  body?: unknown,
  opts: CallOptions = {},
): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', ...opts.headers };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const csrf = sessionStorage.getItem(CSRF_KEY);
  if (method !== 'GET' && csrf) headers['x-csrf-token'] = csrf;
  const res = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    cache: 'no-store',
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  if (res.status === 204) return undefined as T;
  const json = (await res.json().catch(() => null)) as unknown;
  if (!res.ok) {
    const err = (json as { error?: { code?: string; message?: string } } | null)?.error;
    throw new ApiError(
      res.status,
      err?.code ?? 'http_error',
      err?.message ?? `The server answered ${res.status}.`,
    );
  }
  return json as T;
}

export type Role = 'admin' | 'provider' | 'staff' | 'auditor';
export const PROGRAMS = ['care', 'billing', 'surveys', 'marketing'] as const;
export type Program = (typeof PROGRAMS)[number];

export interface User {
  id: string;
  orgId: string;
  email: string;
  role: Role;
  mfaEnrolled: boolean;
}

export interface SessionInfo {
  id: string;
  expiresAt: string;
  idleTimeoutMinutes: number;
  mfaVerified: boolean;
}

export interface LoginResult {
  user: User;
  session: SessionInfo;
  csrfToken: string;
  next: 'enrol_mfa' | 'verify_mfa';
}
