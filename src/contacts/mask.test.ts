import { describe, expect, it } from 'vitest';
import { foldName, maskName, maskPhone, nameMatches } from './mask.js';

describe('contact masking', () => {
  it('keeps initials and the last four digits only', () => {
    expect(maskName('Ana  Lopez')).toBe('A•• L••••');
    expect(maskName('María-José Núñez')).toBe('M•••••• N••••');
    expect(maskName('')).toBe('');
    expect(maskPhone('+16175550142')).toBe('•••• 0142');
    expect(maskPhone('+16175550142')).not.toContain('617');
  });

  it('matches names by word prefixes, ignoring case and accents', () => {
    expect(foldName('José')).toBe('jose');
    expect(nameMatches('Ana Lopez', 'lop')).toBe(true);
    expect(nameMatches('Ana Lopez', 'lop an')).toBe(true);
    expect(nameMatches('José Núñez', 'jose nun')).toBe(true);
    expect(nameMatches('Ana Lopez', 'opez')).toBe(false);
    expect(nameMatches('Ana Lopez', 'lopez bob')).toBe(false);
    expect(nameMatches('Ana Lopez', '  ')).toBe(false);
  });
});
