/**
 * `tidings guard check`: one JSON line `{"id","verdict","findings"}` per input line, bad
 * lines answered with an error while the rest go on, and the single-text form.
 */
import { Readable, Writable } from 'node:stream';
import { Command } from 'commander';
import { describe, expect, it, vi } from 'vitest';
import { addGuardCommands, guardJsonl, guardLine } from './guard.js';

async function run(input: string): Promise<{ out: unknown[]; lines: number; invalid: number }> {
  const chunks: string[] = [];
  const output = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  const r = await guardJsonl(Readable.from([input]), output);
  const out = chunks
    .join('')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as unknown);
  return { out, ...r };
}

describe('guardLine', () => {
  it('answers with exactly id, verdict and findings', () => {
    expect(guardLine('{"id":"a","text":"See you Monday at 9!"}')).toEqual({
      id: 'a',
      verdict: 'allow',
      findings: [],
    });
    const r = guardLine('{"id":7,"text":"Your A1C was 9.1"}');
    expect(Object.keys(r)).toEqual(['id', 'verdict', 'findings']);
    expect(r).toMatchObject({ id: 7, verdict: 'secure' });
  });

  it.each([
    ['not json', { id: null, error: 'invalid_line' }],
    ['{"text":"hi"}', { id: null, error: 'invalid_line' }],
    ['{"id":"b","text":42}', { id: 'b', error: 'invalid_line' }],
    ['{"id":"c","text":""}', { id: 'c', error: 'guard_text_invalid' }],
    [`{"id":"d","text":"${'x'.repeat(10_001)}"}`, { id: 'd', error: 'guard_text_too_long' }],
  ])('%s → error', (line, want) => expect(guardLine(line)).toEqual(want));
});

describe('guardJsonl', () => {
  it('answers every non-blank line in order and goes on after bad ones', async () => {
    const r = await run(
      '\uFEFF{"id":"1","text":"Your results were normal."}\r\n\n{oops\n' +
        '{"id":"3","text":"Flu shots available for all patients."}\n',
    );
    expect(r.out).toMatchObject([
      { id: '1', verdict: 'secure' },
      { id: null, error: 'invalid_line' },
      { id: '3', verdict: 'allow', findings: [] },
    ]);
    expect(r).toMatchObject({ lines: 3, invalid: 1 });
  });
});

describe('guard check', () => {
  it('prints JSON with --json and a readable answer otherwise', async () => {
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      const cli = new Command('tidings').exitOverride();
      addGuardCommands(cli);
      await cli.parseAsync(['guard', 'check', '--json', 'Your A1C was 9.1'], { from: 'user' });
      await cli.parseAsync(['guard', 'check', 'See you Monday at 9!'], { from: 'user' });
      const printed = write.mock.calls.map((c) => String(c[0]));
      expect(JSON.parse(printed[0]!)).toMatchObject({ verdict: 'secure' });
      expect(printed[1]).toMatch(/^allow/);
    } finally {
      write.mockRestore();
    }
  });
});
