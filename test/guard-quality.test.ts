/**
 * Quality of the content guard on its labelled set (test/fixtures/guard-messages.jsonl:
 * realistic clinic texts in English and Spanish, one `{"id","text","verdict"}` per line,
 * about half secure, with many hard negatives). Prints recall on `secure` and the
 * false-secure rate on `allow` — the figures quoted in docs/content-guard.md — and holds
 * them to the targets of issue 5 (recall ≥ 99 %, false-secure ≤ 3 %). A quality assertion,
 * not a timing one. Run: npx vitest run test/guard-quality.test.ts
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CATEGORIES, scan, type Verdict } from '../src/content-guard/index.js';

const FIXTURE = path.join(import.meta.dirname, 'fixtures', 'guard-messages.jsonl');

interface Labelled {
  id: string;
  text: string;
  verdict: Verdict;
  categories?: string[];
}

function load(): Labelled[] {
  return fs
    .readFileSync(FIXTURE, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l, i) => {
      const v = JSON.parse(l) as Partial<Labelled>;
      if (
        typeof v.id !== 'string' ||
        typeof v.text !== 'string' ||
        (v.verdict !== 'allow' && v.verdict !== 'secure')
      ) {
        throw new Error(`guard-messages.jsonl line ${i + 1}: want {"id","text","verdict"}`);
      }
      return v as Labelled;
    });
}

describe('content guard on the labelled set', () => {
  const rows = load();

  it('is a set of at least 400 distinct texts, about half secure, with Spanish', () => {
    expect(rows.length).toBeGreaterThanOrEqual(400);
    expect(new Set(rows.map((r) => r.id)).size).toBe(rows.length);
    expect(new Set(rows.map((r) => r.text)).size).toBe(rows.length);
    const secure = rows.filter((r) => r.verdict === 'secure').length;
    expect(secure / rows.length).toBeGreaterThan(0.4);
    expect(secure / rows.length).toBeLessThan(0.6);
    expect(
      rows.filter((r) => /[áéíóúñ¿¡]|\b(?:su|sus|cita)\b/i.test(r.text)).length,
    ).toBeGreaterThan(40);
    for (const r of rows) {
      for (const c of r.categories ?? []) expect(CATEGORIES as readonly string[]).toContain(c);
    }
  });

  it('meets the targets: recall on secure ≥ 99 %, false-secure on allow ≤ 3 %', () => {
    const misses: string[] = [];
    let tp = 0;
    let fp = 0;
    const secure = rows.filter((r) => r.verdict === 'secure');
    const allow = rows.filter((r) => r.verdict === 'allow');
    for (const r of secure) {
      if (scan(r.text).verdict === 'secure') tp++;
      else misses.push(`missed ${r.id}`);
    }
    for (const r of allow) {
      const got = scan(r.text);
      if (got.verdict === 'secure') {
        fp++;
        misses.push(`false-secure ${r.id}: ${got.findings.map((f) => f.category).join(',')}`);
      }
    }
    const recall = tp / secure.length;
    const falseSecure = fp / allow.length;
    console.log(
      `guard: recall ${(recall * 100).toFixed(1)}% (${tp}/${secure.length}), ` +
        `false-secure ${(falseSecure * 100).toFixed(1)}% (${fp}/${allow.length})` +
        (misses.length ? `\n${misses.join('\n')}` : ''),
    );
    expect(recall).toBeGreaterThanOrEqual(0.99);
    expect(falseSecure).toBeLessThanOrEqual(0.03);
  });
});
