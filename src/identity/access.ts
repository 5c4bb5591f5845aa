/**
 * @module identity/access
 * Who may do what (45 CFR 164.312(a)(1), access control). Every HTTP route declares an
 * `Access`; `authorize` is the one place that compares it with the caller. People act
 * through a role, integrators through an API key's scopes; a person reaches nothing beyond
 * their own session until they have verified a second factor in it.
 */

export const ROLES = ['admin', 'provider', 'staff', 'auditor'] as const;
export type Role = (typeof ROLES)[number];
/** The roles that may ask for emergency access (providers read secure content anyway). */
export const BREAK_GLASS_ROLES: readonly Role[] = ['admin', 'staff'];

export const SCOPES = [
  'messages:send',
  'messages:read',
  'consent:write',
  'consent:read',
  'audit:read',
  'secure:send',
  'webhooks:write',
  'templates:read',
  'templates:write',
  // Appointments from EHR feeds (FHIR) and their reminders (issue 7).
  'appointments:read',
  'appointments:write',
  // Retention policy and legal holds; risk alerts (issue 9).
  'retention:write',
  'risk:read',
] as const;
export type Scope = (typeof SCOPES)[number];

/** Scopes of a key created without naming any (the key `tidings org create` prints). */
export const DEFAULT_SCOPES: readonly Scope[] = [
  'messages:send',
  'messages:read',
  'webhooks:write',
];

export interface ApiKeyPrincipal {
  kind: 'api_key';
  orgId: string;
  keyId: string;
  scopes: readonly Scope[];
}

export interface UserPrincipal {
  kind: 'user';
  orgId: string;
  userId: string;
  role: Role;
  sessionId: string;
  /** A second factor was verified in this session. */
  mfaVerified: boolean;
}

export type Principal = ApiKeyPrincipal | UserPrincipal;

/**
 * - `public`: no credentials (signing in, setting a password from a set-up link);
 * - `session`: any signed-in person, also before the second factor (enrolling it, signing out);
 * - roles and scopes: people with one of `roles` and a verified second factor, and API keys
 *   holding one of `scopes`. An empty list admits no one of that kind.
 */
export type Access =
  | { readonly public: true }
  | { readonly session: true }
  | { readonly roles: readonly Role[]; readonly scopes: readonly Scope[] };

export type Decision = 'allow' | 'unauthenticated' | 'mfa_required' | 'forbidden';

export function authorize(access: Access, who: Principal | undefined): Decision {
  if ('public' in access) return 'allow';
  if (!who) return 'unauthenticated';
  if ('session' in access) return who.kind === 'user' ? 'allow' : 'forbidden';
  if (who.kind === 'api_key') {
    return access.scopes.some((s) => who.scopes.includes(s)) ? 'allow' : 'forbidden';
  }
  if (!access.roles.includes(who.role)) return 'forbidden';
  return who.mfaVerified ? 'allow' : 'mfa_required';
}

export function actorOf(who: Principal): { type: 'api_key' | 'user'; id: string } {
  return who.kind === 'api_key'
    ? { type: 'api_key', id: who.keyId }
    : { type: 'user', id: who.userId };
}
