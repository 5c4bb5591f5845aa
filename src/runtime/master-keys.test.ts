import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { loadConfig } from '../config/index.js';
import { generateKey, masterKey } from '../crypto/index.js';
import {
  MASTER_KEY_FILE,
  formatMasterKeyFile,
  openMasterKeys,
  parseMasterKeyFile,
} from './master-keys.js';

const log = pino({ level: 'silent' });
const dirs: string[] = [];

function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'tidings-mk-'));
  dirs.push(d);
  return d;
}

afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('parseMasterKeyFile', () => {
  it('reads one base64 key per line, newest first, ignoring comments and blank lines', () => {
    const a = masterKey(generateKey());
    const b = masterKey(generateKey());
    const text = `# keys\n\n${a.key.toString('base64')}  # ${a.id}\r\n${b.key.toString('base64')}\n`;
    const keys = parseMasterKeyFile(text, 'TIDINGS_MASTER_KEY_FILE');
    expect(keys.map((k) => k.id)).toEqual([a.id, b.id]);
    expect(keys[0]!.key.equals(a.key)).toBe(true);
  });

  it('round-trips what formatMasterKeyFile writes', () => {
    const keys = [masterKey(generateKey()), masterKey(generateKey())];
    const parsed = parseMasterKeyFile(formatMasterKeyFile(keys), 'X');
    expect(parsed.map((k) => k.id)).toEqual(keys.map((k) => k.id));
  });

  it('names the variable and the line of a bad key, never the key itself', () => {
    const good = generateKey().toString('base64');
    const short = Buffer.alloc(16, 1).toString('base64');
    for (const [text, line] of [
      [`${good}\n${short}\n`, 2],
      [`not base64 at all!\n`, 1],
      [`# c\n${good}x\n`, 2],
    ] as const) {
      let message = '';
      try {
        parseMasterKeyFile(text, 'TIDINGS_MASTER_KEY_FILE');
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).toMatch(new RegExp(`TIDINGS_MASTER_KEY_FILE: line ${line} `));
      expect(message).not.toContain(short);
      expect(message).not.toContain(good);
    }
  });

  it('refuses an empty file and a repeated key', () => {
    expect(() => parseMasterKeyFile('# nothing\n', 'V')).toThrow(/V: the key file holds no key/);
    const k = generateKey().toString('base64');
    expect(() => parseMasterKeyFile(`${k}\n${k}\n`, 'V')).toThrow(/V: line 2 repeats/);
  });
});

describe('openMasterKeys', () => {
  it('uses TIDINGS_MASTER_KEY as a single key that cannot be generated or removed', () => {
    const key = generateKey();
    const src = openMasterKeys(
      loadConfig({ TIDINGS_DATA_DIR: tempDir(), TIDINGS_MASTER_KEY: key.toString('base64') }),
      log,
    );
    expect(src.kind).toBe('env');
    expect(src.keys().map((k) => k.id)).toEqual([masterKey(key).id]);
    expect(src.generate).toBeUndefined();
    expect(src.remove).toBeUndefined();
  });

  it('generates a development key file (mode 0600) and manages it: generate, remove', () => {
    const dir = tempDir();
    const src = openMasterKeys(loadConfig({ TIDINGS_DATA_DIR: dir }), log);
    const file = path.join(dir, MASTER_KEY_FILE);
    expect(src.kind).toBe('generated');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const first = src.keys()[0]!;
    const second = src.generate!();
    expect(src.keys().map((k) => k.id)).toEqual([second.id, first.id]);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    // Another process reading the file sees both, newest first.
    const other = openMasterKeys(loadConfig({ TIDINGS_DATA_DIR: dir }), log);
    expect(other.keys().map((k) => k.id)).toEqual([second.id, first.id]);
    expect(src.remove!(first.id)).toBe(true);
    expect(src.remove!(first.id)).toBe(false);
    expect(other.reload().map((k) => k.id)).toEqual([second.id]);
    // No temporary files are left behind.
    expect(fs.readdirSync(dir).filter((f) => f.includes('master'))).toEqual([MASTER_KEY_FILE]);
  });

  it('still reads a development key file written before key files had several keys', () => {
    const dir = tempDir();
    const key = generateKey();
    fs.writeFileSync(path.join(dir, MASTER_KEY_FILE), `${key.toString('base64')}\n`, {
      mode: 0o600,
    });
    const src = openMasterKeys(loadConfig({ TIDINGS_DATA_DIR: dir }), log);
    expect(src.keys().map((k) => k.id)).toEqual([masterKey(key).id]);
  });

  it("reads an operator's key file, picks up a key added later, and never writes it", () => {
    const dir = tempDir();
    const file = path.join(dir, 'keys');
    const a = masterKey(generateKey());
    fs.writeFileSync(file, formatMasterKeyFile([a]), { mode: 0o600 });
    const src = openMasterKeys(
      loadConfig({ TIDINGS_DATA_DIR: dir, TIDINGS_MASTER_KEY_FILE: file }),
      log,
    );
    expect(src.kind).toBe('file');
    expect(src.location).toContain('TIDINGS_MASTER_KEY_FILE');
    expect(src.generate).toBeUndefined();
    expect(src.remove).toBeUndefined();
    const b = masterKey(generateKey());
    fs.writeFileSync(file, formatMasterKeyFile([b, a]));
    expect(src.reload().map((k) => k.id)).toEqual([b.id, a.id]);
    // A broken file after start keeps the keys loaded before.
    fs.writeFileSync(file, 'garbage\n');
    expect(src.reload().map((k) => k.id)).toEqual([b.id, a.id]);
    expect(fs.existsSync(path.join(dir, MASTER_KEY_FILE))).toBe(false);
  });

  it('stops start-up naming the variable when the key file is missing or bad', () => {
    const dir = tempDir();
    const missing = path.join(dir, 'nope');
    expect(() =>
      openMasterKeys(loadConfig({ TIDINGS_DATA_DIR: dir, TIDINGS_MASTER_KEY_FILE: missing }), log),
    ).toThrow(/TIDINGS_MASTER_KEY_FILE: cannot read .*ENOENT/);
    const bad = path.join(dir, 'bad');
    fs.writeFileSync(bad, 'abc\n');
    expect(() =>
      openMasterKeys(loadConfig({ TIDINGS_DATA_DIR: dir, TIDINGS_MASTER_KEY_FILE: bad }), log),
    ).toThrow(/TIDINGS_MASTER_KEY_FILE: line 1/);
  });
});
