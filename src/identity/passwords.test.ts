import { describe, expect, it } from 'vitest';
import { checkPasswordPolicy, hashPassword, verifyPassword } from './passwords.js';

const weak = (p: string, email?: string) => {
  try {
    checkPasswordPolicy(p, email);
    return false;
  } catch (e) {
    return (e as { code?: string }).code === 'weak_password';
  }
};

describe('password policy', () => {
  it('needs at least 12 characters, counted as characters not bytes', () => {
    expect(weak('short-pass1')).toBe(true);
    expect(weak('a quiet harbour')).toBe(false);
    expect(weak('ünïcödé-fïñé')).toBe(false); // 12 characters
  });

  it('refuses common and breached passwords, also with digits tacked on', () => {
    expect(weak('password1234')).toBe(true);
    expect(weak('1qaz2wsx3edc')).toBe(true);
    expect(weak('LeaveMeAlone')).toBe(true);
    expect(weak('Password123456!')).toBe(true);
    expect(weak('iloveyou12345')).toBe(true);
  });

  it('refuses the e-mail address and its local part', () => {
    expect(weak('front.desk@clinic.example', 'front.desk@clinic.example')).toBe(true);
    expect(weak('frontdesk2024!', 'frontdesk@clinic.example')).toBe(true);
  });

  it('has no composition rules', () => {
    expect(weak('correct horse battery staple')).toBe(false);
    expect(weak('zebra lantern orchard')).toBe(false);
  });
});

describe('password hashing', () => {
  it('uses argon2id and verifies only the right password', async () => {
    const h = await hashPassword('a quiet harbour at dawn');
    expect(h.startsWith('$argon2id$')).toBe(true);
    expect(await verifyPassword(h, 'a quiet harbour at dawn')).toBe(true);
    expect(await verifyPassword(h, 'a quiet harbour at dusk')).toBe(false);
    expect(await verifyPassword('not a hash', 'x')).toBe(false);
  });
});
