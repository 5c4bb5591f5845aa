/**
 * Accuracy of the reply classifier on its labelled set (test/fixtures/replies.jsonl: real-
 * style patient replies in English and Spanish, one `{"text","intent"}` per line). Prints
 * precision and recall per intent — the figures quoted in docs/consent-classifier.md — and
 * holds them above floors the classifier meets. Run: npx vitest run test/classify.test.ts
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { classifyReply, type ReplyIntent } from '../src/consent/classify.js';

const INTENTS: readonly ReplyIntent[] = ['opt_out', 'opt_in', 'help', 'none'];
const FIXTURE = path.join(import.meta.dirname, 'fixtures', 'replies.jsonl');

interface Labelled {
  text: string;
  intent: ReplyIntent;
}

function load(): Labelled[] {
  return fs
    .readFileSync(FIXTURE, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l, i) => {
      const v = JSON.parse(l) as Partial<Labelled>;
      if (typeof v.text !== 'string' || !INTENTS.includes(v.intent as ReplyIntent)) {
        throw new Error(`replies.jsonl line ${i + 1}: want {"text","intent"}`);
      }
      return { text: v.text, intent: v.intent as ReplyIntent };
    });
}

interface Figures {
  intent: ReplyIntent;
  support: number;
  precision: number;
  recall: number;
}

function measure(rows: readonly Labelled[]): {
  accuracy: number;
  figures: Figures[];
  misses: string[];
} {
  const got = rows.map((r) => classifyReply(r.text).intent);
  const misses = rows
    .map((r, i) => ({ r, g: got[i]! }))
    .filter(({ r, g }) => r.intent !== g)
    .map(({ r, g }) => `want ${r.intent}, got ${g}: ${JSON.stringify(r.text)}`);
  const figures = INTENTS.map((intent) => {
    const tp = rows.filter((r, i) => r.intent === intent && got[i] === intent).length;
    const predicted = got.filter((g) => g === intent).length;
    const support = rows.filter((r) => r.intent === intent).length;
    return {
      intent,
      support,
      precision: predicted === 0 ? 1 : tp / predicted,
      recall: support === 0 ? 1 : tp / support,
    };
  });
  return { accuracy: (rows.length - misses.length) / rows.length, figures, misses };
}

describe('reply classifier on the labelled set', () => {
  const rows = load();

  it('is a labelled set of at least 300 distinct replies covering every intent and Spanish', () => {
    expect(rows.length).toBeGreaterThanOrEqual(300);
    expect(new Set(rows.map((r) => r.text)).size).toBe(rows.length);
    for (const intent of INTENTS) {
      expect(rows.filter((r) => r.intent === intent).length).toBeGreaterThanOrEqual(20);
    }
    expect(
      rows.filter((r) => /[áéíóúñ¿¡]|\b(?:mensajes|por favor|quiero)\b/i.test(r.text)).length,
    ).toBeGreaterThanOrEqual(40);
  });

  it('meets its accuracy floors (a missed opt-out is the costly error)', () => {
    const { accuracy, figures, misses } = measure(rows);
    const table = figures
      .map(
        (f) =>
          `  ${f.intent.padEnd(8)} n=${String(f.support).padStart(3)}  precision ${f.precision.toFixed(3)}  recall ${f.recall.toFixed(3)}`,
      )
      .join('\n');
    console.log(
      `reply classifier on ${rows.length} labelled replies: accuracy ${accuracy.toFixed(3)}\n${table}` +
        (misses.length ? `\nmisclassified:\n  ${misses.join('\n  ')}` : ''),
    );
    const of = (intent: ReplyIntent) => figures.find((f) => f.intent === intent)!;
    expect(accuracy).toBeGreaterThanOrEqual(0.97);
    expect(of('opt_out').recall).toBeGreaterThanOrEqual(0.99);
    for (const f of figures) {
      expect(f.precision, `${f.intent} precision`).toBeGreaterThanOrEqual(0.95);
      expect(f.recall, `${f.intent} recall`).toBeGreaterThanOrEqual(0.95);
    }
  });
});
