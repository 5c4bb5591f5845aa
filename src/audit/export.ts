/**
 * @module audit/export
 * Audit exports that can be verified offline (45 CFR 164.312(b), 164.312(c)(1)). An export
 * holds one organisation's events over a contiguous range of sequence numbers, the signed
 * checkpoints inside that range, and a closing seal: an Ed25519 signature over the range and
 * the hash of its last event, made when the export was written. With the organisation's
 * public key, `verifyExportFile` then detects any record changed, removed, added or moved,
 * and a file cut short — before or after the last checkpoint. Formats: JSON Lines (one
 * record per line) and CSV (one record per row, `record` column first). Exports hold ids,
 * codes, counts and blind indexes — never a phone number or a message body.
 */
import fs from 'node:fs';
import readline from 'node:readline';
import type { KeyObject } from 'node:crypto';
import type { Db } from '../store/index.js';
import { AppError } from '../errors/index.js';
import { GENESIS_HASH } from './chain.js';
import { csvRecord, parseCsvLine } from './csv.js';
import { seqBoundsForTime } from './query.js';
import { signMessage, verifyMessage, type PublicKeyInfo, type TrustedKeys } from './signing.js';
import {
  ChainVerifier,
  type AuditBreak,
  type ChainedEvent,
  type Checkpoint,
  type VerifyResult,
} from './verify.js';

export const EXPORT_FORMATS = ['jsonl', 'csv'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/**
 * Which events to export. Sequence bounds are inclusive. Time bounds (epoch ms) select the
 * contiguous range from the first event at or after `fromTime` to the last event before
 * `toTime`; both kinds may be combined (the range is their intersection).
 */
export interface ExportRange {
  fromSeq?: number | undefined;
  toSeq?: number | undefined;
  fromTime?: number | undefined;
  toTime?: number | undefined;
}

export interface ExportPlan {
  orgId: string;
  /** First and last sequence number exported; null for an empty export. */
  firstSeq: number | null;
  lastSeq: number | null;
  events: number;
  checkpoints: Checkpoint[];
}

/** What an export seal's signature covers. */
export function sealMessage(s: {
  orgId: string;
  firstSeq: number | null;
  lastSeq: number | null;
  lastHash: string | null;
  exportedAt: number;
  keyId: string;
}): unknown[] {
  return [
    'tidings-audit-export-v1',
    s.orgId,
    s.firstSeq,
    s.lastSeq,
    s.lastHash,
    s.exportedAt,
    s.keyId,
  ];
}

const CSV_COLUMNS = [
  'record',
  'org_id',
  'seq',
  'at',
  'time',
  'actor_type',
  'actor_id',
  'action',
  'target_type',
  'target_id',
  'details',
  'subject_index',
  'prev_hash',
  'hash',
  'key_id',
  'signature',
  'first_seq',
] as const;
const CSV_HEADER = csvRecord(CSV_COLUMNS);

/** Resolves a range to the sequence numbers it covers, as of now. */
export async function planExport(db: Db, orgId: string, range: ExportRange): Promise<ExportPlan> {
  const empty: ExportPlan = { orgId, firstSeq: null, lastSeq: null, events: 0, checkpoints: [] };
  const head = await db
    .selectFrom('audit_heads')
    .select('seq')
    .where('org_id', '=', orgId)
    .executeTakeFirst();
  let lo = Math.max(1, range.fromSeq ?? 1);
  let hi = Math.min(Number(head?.seq ?? 0), range.toSeq ?? Number.MAX_SAFE_INTEGER);
  if (range.fromTime !== undefined || range.toTime !== undefined) {
    const b = await seqBoundsForTime(db, orgId, range.fromTime, range.toTime);
    if (!b) return empty;
    lo = Math.max(lo, b.lo);
    hi = Math.min(hi, b.hi);
    if (lo > hi) return empty;
    if (range.fromTime !== undefined) {
      const first = await db
        .selectFrom('audit_events')
        .select('seq')
        .where('org_id', '=', orgId)
        .where('seq', '>=', lo)
        .where('seq', '<=', hi)
        .where('at', '>=', range.fromTime)
        .orderBy('seq')
        .limit(1)
        .executeTakeFirst();
      if (!first) return empty;
      lo = Number(first.seq);
    }
    if (range.toTime !== undefined) {
      const last = await db
        .selectFrom('audit_events')
        .select('seq')
        .where('org_id', '=', orgId)
        .where('seq', '>=', lo)
        .where('seq', '<=', hi)
        .where('at', '<', range.toTime)
        .orderBy('seq', 'desc')
        .limit(1)
        .executeTakeFirst();
      if (!last) return empty;
      hi = Number(last.seq);
    }
  }
  if (lo > hi) return empty;
  const checkpoints = (
    await db
      .selectFrom('audit_checkpoints')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('seq', '>=', lo)
      .where('seq', '<=', hi)
      .orderBy('seq')
      .execute()
  ).map((r): Checkpoint => ({
    orgId: r.org_id,
    seq: Number(r.seq),
    at: Number(r.at),
    headHash: r.head_hash,
    keyId: r.key_id,
    signature: r.signature,
  }));
  return { orgId, firstSeq: lo, lastSeq: hi, events: hi - lo + 1, checkpoints };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function checkpointRecord(format: ExportFormat, c: Checkpoint): string {
  if (format === 'jsonl') {
    return `${JSON.stringify({ record: 'checkpoint', ...c, time: iso(c.at) })}\n`;
  }
  return csvRecord([
    'checkpoint',
    c.orgId,
    c.seq,
    c.at,
    iso(c.at),
    '',
    '',
    '',
    '',
    '',
    '',
    '',
    '',
    c.headHash,
    c.keyId,
    c.signature,
    '',
  ]);
}

function eventRecord(format: ExportFormat, e: ChainedEvent): string {
  const at = Number(e.at);
  if (format === 'jsonl') {
    return `${JSON.stringify({
      record: 'event',
      orgId: e.org_id,
      seq: Number(e.seq),
      at,
      time: iso(at),
      actorType: e.actor_type,
      actorId: e.actor_id,
      action: e.action,
      targetType: e.target_type,
      targetId: e.target_id,
      details: e.details,
      subjectIndex: e.subject_index ?? null,
      prevHash: e.prev_hash,
      hash: e.hash,
    })}\n`;
  }
  return csvRecord([
    'event',
    e.org_id,
    Number(e.seq),
    at,
    iso(at),
    e.actor_type,
    e.actor_id,
    e.action,
    e.target_type,
    e.target_id,
    e.details,
    e.subject_index ?? '',
    e.prev_hash,
    e.hash,
    '',
    '',
    '',
  ]);
}

interface Seal {
  orgId: string;
  firstSeq: number | null;
  lastSeq: number | null;
  lastHash: string | null;
  exportedAt: number;
  keyId: string;
  signature: string;
}

function sealRecord(format: ExportFormat, s: Seal): string {
  if (format === 'jsonl') {
    return `${JSON.stringify({ record: 'seal', ...s, time: iso(s.exportedAt) })}\n`;
  }
  return csvRecord([
    'seal',
    s.orgId,
    s.lastSeq,
    s.exportedAt,
    iso(s.exportedAt),
    '',
    '',
    '',
    '',
    '',
    '',
    '',
    '',
    s.lastHash,
    s.keyId,
    s.signature,
    s.firstSeq,
  ]);
}

const PAGE = 1000;

/**
 * Writes the planned export through `write`, re-verifying the events as they stream (an
 * export is never sealed over a broken chain: `audit_chain_broken`, and no seal is written).
 */
export async function writeExport(
  db: Db,
  plan: ExportPlan,
  format: ExportFormat,
  signer: { info: PublicKeyInfo; privateKey: KeyObject },
  trusted: TrustedKeys,
  write: (chunk: string) => Promise<void>,
  exportedAt: number = Date.now(),
): Promise<void> {
  const { orgId } = plan;
  if (format === 'jsonl') {
    await write(
      `${JSON.stringify({
        record: 'header',
        format: 'tidings-audit-export',
        version: 1,
        orgId,
        fromSeq: plan.firstSeq,
        toSeq: plan.lastSeq,
        exportedAt: iso(exportedAt),
        signingKey: {
          keyId: signer.info.keyId,
          algorithm: signer.info.algorithm,
          publicKey: signer.info.publicKey,
        },
        note: 'Verify with the public key you obtained from the organisation, not the one above.',
      })}\n`,
    );
  } else {
    await write(CSV_HEADER);
  }
  await write(plan.checkpoints.map((c) => checkpointRecord(format, c)).join(''));
  let lastHash: string | null = null;
  if (plan.firstSeq !== null && plan.lastSeq !== null) {
    const v = new ChainVerifier(orgId, plan.checkpoints, trusted, {
      seq: plan.firstSeq,
      prevHash: plan.firstSeq === 1 ? GENESIS_HASH : null,
    });
    while (v.nextSeq <= plan.lastSeq) {
      const page = await db
        .selectFrom('audit_events')
        .selectAll()
        .where('org_id', '=', orgId)
        .where('seq', '>=', v.nextSeq)
        .where('seq', '<=', plan.lastSeq)
        .orderBy('seq')
        .limit(PAGE)
        .execute();
      if (page.length === 0) throw chainBroken(v.nextSeq);
      let chunk = '';
      for (const e of page) {
        const b = v.push(e);
        if (b) throw chainBroken(b.seq);
        chunk += eventRecord(format, e);
      }
      await write(chunk);
    }
    lastHash = v.lastHash;
  }
  const seal: Omit<Seal, 'signature'> = {
    orgId,
    firstSeq: plan.firstSeq,
    lastSeq: plan.lastSeq,
    lastHash,
    exportedAt,
    keyId: signer.info.keyId,
  };
  await write(
    sealRecord(format, { ...seal, signature: signMessage(signer.privateKey, sealMessage(seal)) }),
  );
}

function chainBroken(seq: number): AppError {
  return new AppError(
    'audit_chain_broken',
    `The audit chain fails verification at sequence ${seq}; run tidings audit verify.`,
  );
}

// ---- reading an export -------------------------------------------------------------------

type ParsedRecord =
  | { kind: 'header'; orgId: string }
  | { kind: 'checkpoint'; checkpoint: Checkpoint }
  | { kind: 'event'; event: ChainedEvent; time: string }
  | { kind: 'seal'; seal: Seal }
  | { kind: 'malformed' };

function str(v: unknown): v is string {
  return typeof v === 'string';
}

function int(v: unknown): number | null {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  if (typeof v === 'string' && /^\d{1,15}$/.test(v)) return Number(v);
  return null;
}

function parseJsonRecord(line: string): ParsedRecord {
  let o: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(line);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      return { kind: 'malformed' };
    }
    o = parsed as Record<string, unknown>;
  } catch {
    return { kind: 'malformed' };
  }
  return toRecord(o.record, {
    orgId: o.orgId,
    seq: o.seq,
    at: o.at,
    time: o.time,
    actorType: o.actorType,
    actorId: o.actorId,
    action: o.action,
    targetType: o.targetType,
    targetId: o.targetId,
    details: o.details,
    subjectIndex: o.subjectIndex,
    prevHash: o.prevHash,
    hash: o.record === 'checkpoint' ? o.headHash : o.record === 'seal' ? o.lastHash : o.hash,
    keyId: o.keyId,
    signature: o.signature,
    firstSeq: o.firstSeq,
    lastSeq: o.lastSeq,
    exportedAt: o.exportedAt,
  });
}

function parseCsvRecord(line: string): ParsedRecord {
  const f = parseCsvLine(line);
  if (!f || f.length !== CSV_COLUMNS.length) return { kind: 'malformed' };
  const col = (name: (typeof CSV_COLUMNS)[number]) => f[CSV_COLUMNS.indexOf(name)]!;
  const record = col('record');
  const nullable = (v: string) => (v === '' ? null : v);
  return toRecord(record, {
    orgId: col('org_id'),
    seq: col('seq'),
    at: col('at'),
    time: col('time'),
    actorType: col('actor_type'),
    actorId: col('actor_id'),
    action: col('action'),
    targetType: col('target_type'),
    targetId: col('target_id'),
    details: col('details'),
    subjectIndex: nullable(col('subject_index')),
    prevHash: col('prev_hash'),
    hash: col('hash'),
    keyId: col('key_id'),
    signature: col('signature'),
    firstSeq: nullable(col('first_seq')),
    // The seal row carries its last sequence number in `seq` and its time in `at`.
    lastSeq: record === 'seal' ? nullable(col('seq')) : undefined,
    exportedAt: record === 'seal' ? col('at') : undefined,
  });
}

interface Fields {
  orgId: unknown;
  seq: unknown;
  at: unknown;
  time: unknown;
  actorType: unknown;
  actorId: unknown;
  action: unknown;
  targetType: unknown;
  targetId: unknown;
  details: unknown;
  subjectIndex: unknown;
  prevHash: unknown;
  /** Event hash, checkpoint head hash or seal last hash. */
  hash: unknown;
  keyId: unknown;
  signature: unknown;
  firstSeq: unknown;
  lastSeq: unknown;
  exportedAt: unknown;
}

function toRecord(record: unknown, f: Fields): ParsedRecord {
  const bad: ParsedRecord = { kind: 'malformed' };
  if (!str(f.orgId)) return bad;
  switch (record) {
    case 'header':
      return { kind: 'header', orgId: f.orgId };
    case 'checkpoint': {
      const seq = int(f.seq);
      const at = int(f.at);
      if (seq === null || at === null || !str(f.hash) || !str(f.keyId) || !str(f.signature)) {
        return bad;
      }
      return {
        kind: 'checkpoint',
        checkpoint: {
          orgId: f.orgId,
          seq,
          at,
          headHash: f.hash,
          keyId: f.keyId,
          signature: f.signature,
        },
      };
    }
    case 'event': {
      const seq = int(f.seq);
      const at = int(f.at);
      const subject = f.subjectIndex ?? null;
      if (
        seq === null ||
        at === null ||
        !str(f.time) ||
        !str(f.actorType) ||
        !str(f.actorId) ||
        !str(f.action) ||
        !str(f.targetType) ||
        !str(f.targetId) ||
        !str(f.details) ||
        !str(f.prevHash) ||
        !str(f.hash) ||
        (subject !== null && !str(subject))
      ) {
        return bad;
      }
      return {
        kind: 'event',
        time: f.time,
        event: {
          org_id: f.orgId,
          seq,
          at,
          actor_type: f.actorType,
          actor_id: f.actorId,
          action: f.action,
          target_type: f.targetType,
          target_id: f.targetId,
          details: f.details,
          subject_index: subject,
          prev_hash: f.prevHash,
          hash: f.hash,
        },
      };
    }
    case 'seal': {
      const firstSeq = f.firstSeq === null ? null : int(f.firstSeq);
      const lastSeq = f.lastSeq === null ? null : int(f.lastSeq);
      const exportedAt = int(f.exportedAt);
      const lastHash = f.hash === null || f.hash === '' ? null : f.hash;
      if (
        (f.firstSeq !== null && firstSeq === null) ||
        (f.lastSeq !== null && lastSeq === null) ||
        exportedAt === null ||
        (lastHash !== null && !str(lastHash)) ||
        !str(f.keyId) ||
        !str(f.signature)
      ) {
        return bad;
      }
      return {
        kind: 'seal',
        seal: {
          orgId: f.orgId,
          firstSeq,
          lastSeq,
          lastHash,
          exportedAt,
          keyId: f.keyId,
          signature: f.signature,
        },
      };
    }
    default:
      return bad;
  }
}

async function* lines(file: string): AsyncGenerator<{ line: string; n: number }> {
  const rl = readline.createInterface({
    input: fs.createReadStream(file, { encoding: 'utf8' }),
    crlfDelay: Infinity,
  });
  let n = 0;
  try {
    for await (const line of rl) {
      n += 1;
      if (line.length > 0) yield { line, n };
    }
  } finally {
    rl.close();
  }
}

export interface FileVerifyResult extends VerifyResult {
  format: ExportFormat;
  orgId: string | null;
  firstSeq: number | null;
  lastSeq: number | null;
  /** The export's seal was present and verified. */
  sealed: boolean;
}

/**
 * Verifies an export file offline with the organisation's trusted public keys: the chain of
 * its events, every checkpoint in it, and its seal. Throws `audit_file_unreadable` when the
 * file cannot be read or is not an export at all; a damaged export is a failed verification.
 */
export async function verifyExportFile(file: string, keys: TrustedKeys): Promise<FileVerifyResult> {
  let format: ExportFormat | undefined;
  const parse = (line: string): ParsedRecord =>
    format === 'jsonl' ? parseJsonRecord(line) : parseCsvRecord(line);

  // Pass 1: the small records (header, checkpoints, seal).
  let orgId: string | null = null;
  const checkpoints: Checkpoint[] = [];
  const seals: Seal[] = [];
  let firstEventSeq: number | null = null;
  let headerLine = 0;
  try {
    for await (const { line, n } of lines(file)) {
      if (format === undefined) {
        if (line.startsWith('{')) format = 'jsonl';
        else if (`${line}\r\n` === CSV_HEADER) {
          format = 'csv';
          headerLine = n;
          continue;
        } else throw notAnExport();
      }
      const r = parse(line);
      switch (r.kind) {
        case 'header':
          orgId ??= r.orgId;
          break;
        case 'checkpoint':
          orgId ??= r.checkpoint.orgId;
          checkpoints.push(r.checkpoint);
          break;
        case 'event':
          orgId ??= r.event.org_id;
          firstEventSeq ??= Number(r.event.seq);
          break;
        case 'seal':
          orgId ??= r.seal.orgId;
          seals.push(r.seal);
          break;
        case 'malformed':
          break;
      }
    }
  } catch (e) {
    if (e instanceof AppError) throw e;
    throw new AppError('audit_file_unreadable', 'The export file cannot be read.');
  }
  if (format === undefined || orgId === null) throw notAnExport();

  const seal = seals.length === 1 ? seals[0]! : undefined;
  let sealOk = false;
  if (seal) {
    const key = keys.get(seal.keyId);
    sealOk =
      key !== undefined &&
      seal.orgId === orgId &&
      verifyMessage(key, sealMessage(seal), seal.signature);
  }
  const start = sealOk && seal!.firstSeq !== null ? seal!.firstSeq : (firstEventSeq ?? 1);
  const v = new ChainVerifier(orgId, checkpoints, keys, {
    seq: start,
    prevHash: start === 1 ? GENESIS_HASH : null,
  });
  const result = (firstBreak?: AuditBreak): FileVerifyResult => ({
    ok: firstBreak === undefined,
    events: v.events,
    organisations: 1,
    checkpoints: v.checkpoints,
    format,
    orgId,
    firstSeq: v.events > 0 ? start : null,
    lastSeq: v.events > 0 ? v.nextSeq - 1 : null,
    sealed: sealOk,
    ...(firstBreak ? { firstBreak } : {}),
  });

  // Pass 2: the events, in file order.
  for await (const { line, n } of lines(file)) {
    if (n === headerLine) continue;
    const r = parse(line);
    if (r.kind === 'malformed') {
      return result({ orgId, seq: v.nextSeq, reason: 'malformed', line: n });
    }
    if (r.kind !== 'event') continue;
    const b = v.push(r.event);
    if (b) return result({ ...b, line: n });
    if (r.time !== iso(Number(r.event.at))) {
      return result({ orgId, seq: Number(r.event.seq), reason: 'time_mismatch', line: n });
    }
  }
  const beyond = v.finish();
  if (beyond) return result(beyond);

  const lastSeq = v.events > 0 ? v.nextSeq - 1 : null;
  if (seals.length === 0) return result({ orgId, seq: v.nextSeq, reason: 'seal_missing' });
  if (!seal || !sealOk) return result({ orgId, seq: v.nextSeq, reason: 'seal_invalid' });
  if (seal.lastSeq !== lastSeq) {
    // Events were cut off the end (or added after it).
    const seq = Math.min(seal.lastSeq ?? 0, lastSeq ?? 0) + 1;
    return result({ orgId, seq, reason: 'seal_mismatch' });
  }
  if (seal.lastHash !== v.lastHash) {
    return result({ orgId, seq: lastSeq ?? 1, reason: 'seal_mismatch' });
  }
  return result();
}

function notAnExport(): AppError {
  return new AppError('audit_file_unreadable', 'The file is not a Tidings audit export.');
}
