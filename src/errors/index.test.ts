import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERRORS } from './index.js';

describe('error catalogue', () => {
  const doc = fs.readFileSync(path.resolve(import.meta.dirname, '../../docs/errors.md'), 'utf8');
  const documented = new Map(
    [...doc.matchAll(/^\|\s*`([a-z_]+)`\s*\|\s*(\d{3})\s*\|/gm)].map((m) => [m[1], Number(m[2])]),
  );

  it('documents every code with its status in docs/errors.md', () => {
    for (const [code, def] of Object.entries(ERRORS)) {
      expect(documented.get(code), code).toBe(def.status);
    }
  });

  it('documents no code that does not exist', () => {
    for (const code of documented.keys()) expect(Object.keys(ERRORS)).toContain(code);
  });

  it('uses snake_case codes and PHI-free sentences', () => {
    for (const [code, def] of Object.entries(ERRORS)) {
      expect(code).toMatch(/^[a-z]+(_[a-z]+)*$/);
      expect(def.message).toMatch(/^[A-Z].*\.$/);
      expect(def.message).not.toMatch(/\d{4}/);
    }
  });
});
