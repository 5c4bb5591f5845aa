/**
 * @module runtime/master-keys
 * Where the master keys (key-encryption keys) come from, newest first:
 *
 * - `TIDINGS_MASTER_KEY`: one key, base64 (it cannot be rotated in place; move to a file);
 * - `TIDINGS_MASTER_KEY_FILE`: an operator's key file, one base64 key per line, newest first
 *   (`#` starts a comment). Tidings only reads it, again whenever it meets a key it lacks, so
 *   a server picks up a key added to the file without a restart;
 * - neither, outside production: `<data dir>/master.key`, a file in the same format that
 *   Tidings generates and manages itself (`tidings keys rotate` adds to it, `tidings keys
 *   retire` removes from it).
 *
 * Files are replaced atomically and flushed to disk before anything is wrapped with a new
 * key: a crash must never leave data wrapped by a key that was not yet stored. Errors name
 * the variable and the line, never a key.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { ConfigError, type Config } from '../config/index.js';
import { generateKey, masterKey, type MasterKey } from '../crypto/index.js';
import { staticMasterKeys, type MasterKeySource } from '../orgs/index.js';
import type { Logger } from '../observability/index.js';
import { mkdirPrivate } from '../store/sqlite.js';

/** The development key file, in the data directory. */
export const MASTER_KEY_FILE = 'master.key';

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Parses a key file: one base64 key per line, newest first; blank lines and `#…` ignored. */
export function parseMasterKeyFile(text: string, variable: string): MasterKey[] {
  const keys: MasterKey[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').replace(/#.*$/, '').trim();
    if (!line) continue;
    const bytes = BASE64.test(line) ? Buffer.from(line, 'base64') : Buffer.alloc(0);
    if (bytes.length !== 32) {
      throw new ConfigError([`${variable}: line ${i + 1} is not a 32-byte base64 key`]);
    }
    const m = masterKey(bytes);
    if (keys.some((k) => k.id === m.id)) {
      throw new ConfigError([`${variable}: line ${i + 1} repeats master key ${m.id}`]);
    }
    keys.push(m);
  }
  if (keys.length === 0) throw new ConfigError([`${variable}: the key file holds no key`]);
  return keys;
}

/** The key file text for `keys`, newest first, each line followed by its (public) id. */
export function formatMasterKeyFile(keys: readonly MasterKey[]): string {
  return [
    '# Tidings master keys (key-encryption keys), newest first: the first wraps new keys,',
    '# every one can unwrap. Keep this file secret (mode 0600). See docs/operations.md.',
    ...keys.map((k) => `${k.key.toString('base64')}  # ${k.id}`),
    '',
  ].join('\n');
}

/** Writes `text` to a new temporary file beside `file`, flushed to disk; returns its path. */
function writeTemp(file: string, text: string): string {
  const tmp = path.join(
    path.dirname(file),
    `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`,
  );
  const fd = fs.openSync(tmp, 'wx', 0o600);
  try {
    fs.writeSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return tmp;
}

function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Replaces `file` with `text` atomically and durably (temporary file, fsync, rename). */
function replaceDurably(file: string, text: string): void {
  const tmp = writeTemp(file, text);
  try {
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDir(path.dirname(file));
}

/** Creates `file` with `text` durably unless it exists; false when another process won. */
function createDurably(file: string, text: string): boolean {
  const tmp = writeTemp(file, text);
  try {
    fs.linkSync(tmp, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  fsyncDir(path.dirname(file));
  return true;
}

/** Master keys read from a key file; a generated (development) file can also be changed. */
class KeyFileSource implements MasterKeySource {
  private current: MasterKey[];
  readonly generate?: () => MasterKey;
  readonly remove?: (id: string) => boolean;

  constructor(
    readonly kind: 'file' | 'generated',
    private readonly file: string,
    private readonly variable: string,
    private readonly log: Logger,
  ) {
    this.current = this.read();
    if (kind === 'generated') {
      this.generate = () => {
        const m = masterKey(generateKey());
        const next = [m, ...this.read()];
        replaceDurably(this.file, formatMasterKeyFile(next));
        this.current = next;
        this.log.warn({ file: this.file, masterKeyId: m.id }, 'generated a new master key');
        return m;
      };
      this.remove = (id) => {
        const now = this.read();
        const next = now.filter((k) => k.id !== id);
        if (next.length === now.length || next.length === 0) return false;
        replaceDurably(this.file, formatMasterKeyFile(next));
        this.current = next;
        return true;
      };
    }
  }

  get location(): string {
    return this.kind === 'file' ? `${this.variable} (${this.file})` : this.file;
  }

  keys(): readonly MasterKey[] {
    return this.current;
  }

  reload(): readonly MasterKey[] {
    try {
      this.current = this.read();
    } catch (e) {
      // Keep serving with the keys we have (a file being replaced by hand, say); say why.
      this.log.error(
        { file: this.file, reason: e instanceof ConfigError ? e.problems.join('; ') : String(e) },
        'could not re-read the master key file; keeping the keys loaded before',
      );
    }
    return this.current;
  }

  private read(): MasterKey[] {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'error';
      throw new ConfigError([`${this.variable}: cannot read ${this.file} (${code})`]);
    }
    return parseMasterKeyFile(text, this.variable);
  }
}

/**
 * The configured master keys. Outside production, with neither variable set, a development
 * key file is generated once into the data directory (mode 0600) with a warning.
 */
export function openMasterKeys(config: Config, log: Logger): MasterKeySource {
  if (config.masterKey) {
    return staticMasterKeys(
      'TIDINGS_MASTER_KEY',
      masterKey(Buffer.from(config.masterKey, 'base64')),
    );
  }
  if (config.masterKeyFile) {
    const source = new KeyFileSource('file', config.masterKeyFile, 'TIDINGS_MASTER_KEY_FILE', log);
    const mode = fs.statSync(config.masterKeyFile).mode;
    if (mode & 0o077) {
      log.warn(
        { file: config.masterKeyFile },
        'the master key file can be read by other users: chmod 600 it',
      );
    }
    return source;
  }
  if (config.env === 'production') {
    throw new ConfigError([
      'TIDINGS_MASTER_KEY: required when NODE_ENV=production (or set TIDINGS_MASTER_KEY_FILE)',
    ]);
  }
  const file = path.join(config.dataDir, MASTER_KEY_FILE);
  // Owner-only when created here, like the key file and the database (docs/security.md).
  mkdirPrivate(config.dataDir);
  if (
    !fs.existsSync(file) &&
    createDurably(file, formatMasterKeyFile([masterKey(generateKey())]))
  ) {
    log.warn(
      { file },
      'generated a development master key; use TIDINGS_MASTER_KEY_FILE (and keep it safe) in production',
    );
  }
  return new KeyFileSource('generated', file, file, log);
}
