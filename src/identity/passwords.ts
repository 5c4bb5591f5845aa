/**
 * @module identity/passwords
 * Password hashing and policy (NIST SP 800-63B): argon2id; at least 12 characters; refused if
 * on a bundled list of about 49,000 common and breached passwords (the MIT-licensed list of
 * zxcvbn-ts), or if it is just the user's e-mail address or the product name. No composition
 * rules beyond that.
 */
import argon2 from 'argon2';
import { dictionary } from '@zxcvbn-ts/language-common';
import { AppError } from '../errors/index.js';

export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 256;

// OWASP's argon2id baseline: 19 MiB, 2 iterations, 1 lane.
const ARGON2 = {
  type: argon2.argon2id as 2,
  memoryCost: 19 * 1024,
  timeCost: 2,
  parallelism: 1,
};

let common: ReadonlySet<string> | undefined;
function commonPasswords(): ReadonlySet<string> {
  common ??= new Set(
    (dictionary as Record<string, string[]>)['passwords-common']!.map((p) => p.toLowerCase()),
  );
  return common;
}

/** Throws `weak_password` unless `password` meets the policy. */
export function checkPasswordPolicy(password: string, email?: string): void {
  const length = [...password].length;
  if (length < MIN_PASSWORD_LENGTH || length > MAX_PASSWORD_LENGTH) {
    throw new AppError('weak_password');
  }
  const lower = password.toLowerCase();
  const list = commonPasswords();
  // A listed password with digits or symbols tacked on ("password123456!") is no better.
  const stem = lower.replace(/[\d\W_]+$/u, '');
  const local = email?.toLowerCase().split('@')[0] ?? '';
  if (
    list.has(lower) ||
    (stem.length >= 4 && list.has(stem)) ||
    lower === email?.toLowerCase() ||
    (local.length >= 4 && stem === local) ||
    stem === 'tidings'
  ) {
    throw new AppError('weak_password');
  }
}

export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, ARGON2);
}

export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false;
  }
}

let dummy: Promise<string> | undefined;
/** Spends the time of one verification, so an unknown account answers as slowly as a known one. */
export async function burnVerification(password: string): Promise<void> {
  dummy ??= hashPassword('not a real password, only for timing');
  await verifyPassword(await dummy, password);
}
