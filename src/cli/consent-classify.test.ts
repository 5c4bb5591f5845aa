/**
 * `tidings consent classify --jsonl`: one output line per input line, bad lines answered
 * with `invalid_line` while the rest go on, and the command registered on `consent`.
 */
import { PassThrough, Readable, Writable } from 'node:stream';
import { Command, CommanderError } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { classifyJsonl, classifyLine, registerClassifyCommand } from './consent-classify.js';

async function run(input: string): Promise<{ out: unknown[]; lines: number; invalid: number }> {
  const chunks: string[] = [];
  const output = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  const r = await classifyJsonl(Readable.from([input]), output);
  const out = chunks
    .join('')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as unknown);
  return { out, ...r };
}

describe('classifyLine', () => {
  it.each([
    ['{"id":"a","text":"STOP"}', { id: 'a', intent: 'opt_out' }],
    ['{"id":7,"text":"help"}', { id: 7, intent: 'help' }],
    ['{"id":"b","text":"Yes","extra":1}', { id: 'b', intent: 'opt_in' }],
    ['{"id":"c","text":""}', { id: 'c', intent: 'none' }],
    ['not json', { id: null, error: 'invalid_line' }],
    ['[1,2]', { id: null, error: 'invalid_line' }],
    ['"STOP"', { id: null, error: 'invalid_line' }],
    ['{"text":"STOP"}', { id: null, error: 'invalid_line' }],
    ['{"id":"d"}', { id: 'd', error: 'invalid_line' }],
    ['{"id":"e","text":42}', { id: 'e', error: 'invalid_line' }],
    ['{"id":{"x":1},"text":"STOP"}', { id: null, error: 'invalid_line' }],
  ])('%s → %j', (line, want) => {
    expect(classifyLine(line)).toEqual(want);
  });
});

describe('classifyJsonl', () => {
  it('answers every non-blank line in order and goes on after bad ones', async () => {
    const r = await run(
      '\uFEFF{"id":"1","text":"STOP"}\r\n\n{"id":"2","text":"cancel my appointment"}\n{oops\n' +
        '{"id":"4","text":"no me manden más mensajes"}\n   \n{"id":"5","text":"Sí"}',
    );
    expect(r.out).toEqual([
      { id: '1', intent: 'opt_out' },
      { id: '2', intent: 'none' },
      { id: null, error: 'invalid_line' },
      { id: '4', intent: 'opt_out' },
      { id: '5', intent: 'opt_in' },
    ]);
    expect(r).toMatchObject({ lines: 5, invalid: 1 });
  });

  it('reads empty input as nothing to do', async () => {
    expect(await run('')).toEqual({ out: [], lines: 0, invalid: 0 });
  });

  it('honours back-pressure on a slow reader', async () => {
    const lines = Array.from({ length: 2000 }, (_, i) => `{"id":${i},"text":"stop"}`).join('\n');
    const output = new PassThrough({ highWaterMark: 64 });
    let received = '';
    const done = classifyJsonl(Readable.from([lines]), output);
    output.on('data', (c: Buffer) => {
      received += c.toString();
    });
    const r = await done;
    await new Promise((resolve) => setImmediate(resolve));
    expect(r.lines).toBe(2000);
    expect(received.trim().split('\n')).toHaveLength(2000);
  });
});

describe('registerClassifyCommand', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  function cli(): Command {
    const root = new Command('tidings').exitOverride();
    const consent = root.command('consent');
    registerClassifyCommand(consent);
    return root;
  }

  it('adds `consent classify --jsonl`, which reads stdin and writes stdout', async () => {
    const written: string[] = [];
    vi.spyOn(process, 'stdin', 'get').mockReturnValue(
      Readable.from([
        '{"id":"x","text":"Please stop texting me"}\nbad\n',
      ]) as unknown as typeof process.stdin,
    );
    vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => {
      written.push(String(c));
      return true;
    });
    await cli().parseAsync(['node', 'tidings', 'consent', 'classify', '--jsonl']);
    expect(written.join('')).toBe(
      '{"id":"x","intent":"opt_out"}\n{"id":null,"error":"invalid_line"}\n',
    );
  });

  it('refuses to run without --jsonl (usage error, exit code 2)', async () => {
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const err = await cli()
      .parseAsync(['node', 'tidings', 'consent', 'classify'])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommanderError);
    expect((err as CommanderError).exitCode).toBe(2);
  });
});
