/**
 * @module portal/tokens
 * The secrets of the portal and the patient's answers, as pure functions: link and session
 * tokens, one-time codes, and dates of birth as a patient types them. No I/O.
 */
import { createHash, createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';

/**
 * 18 random bytes = 144 bits, above the 128 bits OWASP asks of a session identifier, so a
 * link cannot be guessed; base64url keeps it short and safe in a URL path (24 characters).
 */
export const LINK_TOKEN_BYTES = 18;
const LINK_TOKEN = /^[A-Za-z0-9_-]{24}$/;

/** One-time codes: 6 digits (NIST SP 800-63B 5.1.3 out-of-band secret, at least 6 digits). */
export const CODE_DIGITS = 6;

export function newLinkToken(): string {
  return randomBytes(LINK_TOKEN_BYTES).toString('base64url');
}

/** Whether a string could be a link token at all (checked before any lookup). */
export function isLinkToken(value: string): boolean {
  return LINK_TOKEN.test(value);
}

/** A session token (256 bits). */
export function newSessionToken(): string {
  return randomBytes(32).toString('base64url');
}

/** How tokens are stored: SHA-256, hex. A token has enough entropy that no salt is needed. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * The form token of a session, derived from the session token (the synchronizer-token
 * pattern without storing the plaintext): only someone holding the cookie can compute it.
 */
export function csrfFor(sessionToken: string): string {
  return createHmac('sha256', sessionToken).update('tidings-portal-csrf').digest('base64url');
}

/** A uniformly random 6-digit code, leading zeros kept. */
export function newCode(): string {
  return String(randomInt(0, 10 ** CODE_DIGITS)).padStart(CODE_DIGITS, '0');
}

/** A code as the patient typed it (spaces and dashes allowed), or null when it cannot be one. */
export function normaliseCode(input: string): string | null {
  const digits = input.replace(/[\s-]/g, '');
  return new RegExp(`^\\d{${CODE_DIGITS}}$`).test(digits) ? digits : null;
}

/** Constant-time comparison of two hex or text strings. */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * A date of birth as `YYYY-MM-DD`, or null when it is not a real date between 1900 and
 * `today` (epoch ms). Used for the API's `dob`.
 */
export function parseDob(value: string, today: number): string | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value.trim());
  if (!m) return null;
  return dobOf(Number(m[1]), Number(m[2]), Number(m[3]), today);
}

/** The date of birth a patient typed as month, day and year fields, or null. */
export function dobFromParts(
  month: string,
  day: string,
  year: string,
  today: number,
): string | null {
  const clean = (s: string) => s.trim();
  if (![month, day].every((s) => /^\d{1,2}$/.test(clean(s))) || !/^\d{4}$/.test(clean(year))) {
    return null;
  }
  return dobOf(Number(clean(year)), Number(clean(month)), Number(clean(day)), today);
}

function dobOf(y: number, m: number, d: number, today: number): string | null {
  if (y < 1900 || m < 1 || m > 12 || d < 1) return null;
  if (d > new Date(Date.UTC(y, m, 0)).getUTCDate()) return null;
  const iso = `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
  // Born no later than today (UTC, a day of slack for time zones).
  if (Date.UTC(y, m - 1, d) > today + 24 * 3600 * 1000) return null;
  return iso;
}
