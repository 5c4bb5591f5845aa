/**
 * @module audit/verify
 * Proof that an audit chain is intact (45 CFR 164.312(b), 164.312(c)(1)): every event's hash
 * is recomputed, every link to the previous event checked, every signed checkpoint's
 * signature checked and compared with the chain's hash at its sequence number, and a chain
 * that ends before a signed checkpoint is reported as truncated. The same `ChainVerifier`
 * checks the database and exported files, and names the first bad sequence number.
 */
import type { Db } from '../store/index.js';
import { GENESIS_HASH, hashEvent, type ChainedFields } from './chain.js';
import { verifyMessage, type TrustedKeys } from './signing.js';

export type BreakReason =
  /** An event's stored hash is not the hash of its fields. */
  | 'hash_mismatch'
  /** An event does not point at the hash of the event before it. */
  | 'prev_hash_mismatch'
  /** An expected sequence number is missing (deleted, or rows reordered). */
  | 'sequence_gap'
  /** The chain head bookkeeping disagrees with the last event. */
  | 'head_mismatch'
  /** A signed checkpoint's hash differs from the chain's hash at that sequence number. */
  | 'checkpoint_mismatch'
  /** A checkpoint's signature does not verify. */
  | 'checkpoint_signature_invalid'
  /** A checkpoint names a signing key that is not trusted. */
  | 'checkpoint_key_unknown'
  /** The chain ends before a signed checkpoint. */
  | 'truncated'
  /** An export has no seal, or its seal does not verify or does not match its events. */
  | 'seal_missing'
  | 'seal_invalid'
  | 'seal_mismatch'
  /** An export record cannot be read. */
  | 'malformed'
  /** A record belongs to another organisation. */
  | 'org_mismatch'
  /** An export's readable time disagrees with the hashed time. */
  | 'time_mismatch';

export interface AuditBreak {
  orgId: string;
  /** The first sequence number that is wrong (or missing). */
  seq: number;
  reason: BreakReason;
  /** For `checkpoint_mismatch`: the change lies between this sequence number and `seq`. */
  sinceSeq?: number;
  /** For exported files: the line of the bad record. */
  line?: number;
}

export interface VerifyResult {
  ok: boolean;
  events: number;
  organisations: number;
  /** Checkpoints whose signature and hash were verified. */
  checkpoints: number;
  firstBreak?: AuditBreak;
}

/** A signed statement that the chain of `orgId` had hash `headHash` at `seq`. */
export interface Checkpoint {
  orgId: string;
  seq: number;
  /** When it was signed (epoch ms). */
  at: number;
  headHash: string;
  keyId: string;
  /** Ed25519 over `checkpointMessage`, base64. */
  signature: string;
}

/** What a checkpoint's signature covers. */
export function checkpointMessage(c: Omit<Checkpoint, 'signature'>): unknown[] {
  return ['tidings-audit-checkpoint-v1', c.orgId, c.seq, c.headHash, c.at, c.keyId];
}

export type ChainedEvent = ChainedFields & { hash: string };

/**
 * Walks one organisation's chain in sequence order. Feed it events with `push` and call
 * `finish` at the end; each returns the first break found, or null.
 */
export class ChainVerifier {
  private expected: number;
  private prev: string | null;
  private readonly bySeq = new Map<number, Checkpoint[]>();
  private readonly sorted: Checkpoint[];
  /** Sequence number of the last checkpoint that matched the chain (0: none). */
  private lastMatched = 0;
  events = 0;
  checkpoints = 0;
  lastHash: string | null = null;

  /**
   * @param start first sequence number to expect, and the hash the first event must point
   *   at (`null`: take the first event's `prev_hash` as given, for a chain read from the
   *   middle without an anchor).
   * @param keys trusted public keys; `null` checks checkpoint hashes but not signatures.
   */
  constructor(
    readonly orgId: string,
    checkpoints: readonly Checkpoint[],
    private readonly keys: TrustedKeys | null,
    start: { seq: number; prevHash: string | null } = { seq: 1, prevHash: GENESIS_HASH },
  ) {
    this.expected = start.seq;
    this.prev = start.prevHash;
    this.lastMatched = start.seq - 1;
    this.sorted = checkpoints.filter((c) => c.seq >= start.seq).sort((a, b) => a.seq - b.seq);
    for (const c of this.sorted) {
      const list = this.bySeq.get(c.seq);
      if (list) list.push(c);
      else this.bySeq.set(c.seq, [c]);
    }
  }

  /** The next sequence number the chain should have. */
  get nextSeq(): number {
    return this.expected;
  }

  private brk(reason: BreakReason, seq: number, extra: Partial<AuditBreak> = {}): AuditBreak {
    return { orgId: this.orgId, seq, reason, ...extra };
  }

  private checkSignature(c: Checkpoint): AuditBreak | null {
    if (c.orgId !== this.orgId) return this.brk('org_mismatch', c.seq);
    if (this.keys === null) return null;
    const key = this.keys.get(c.keyId);
    if (!key) return this.brk('checkpoint_key_unknown', c.seq);
    if (!verifyMessage(key, checkpointMessage(c), c.signature)) {
      return this.brk('checkpoint_signature_invalid', c.seq);
    }
    return null;
  }

  push(e: ChainedEvent): AuditBreak | null {
    const seq = Number(e.seq);
    if (e.org_id !== this.orgId) return this.brk('org_mismatch', this.expected);
    if (seq !== this.expected) return this.brk('sequence_gap', this.expected);
    if (this.prev !== null && e.prev_hash !== this.prev) {
      return this.brk('prev_hash_mismatch', seq);
    }
    if (hashEvent({ ...e, seq, at: Number(e.at) }) !== e.hash) {
      return this.brk('hash_mismatch', seq);
    }
    for (const c of this.bySeq.get(seq) ?? []) {
      const bad = this.checkSignature(c);
      if (bad) return bad;
      if (c.headHash !== e.hash) {
        return this.brk('checkpoint_mismatch', seq, { sinceSeq: this.lastMatched + 1 });
      }
      this.checkpoints += 1;
      this.lastMatched = seq;
    }
    this.prev = e.hash;
    this.lastHash = e.hash;
    this.expected += 1;
    this.events += 1;
    return null;
  }

  /** Checks what lies beyond the last event: a valid checkpoint there means truncation. */
  finish(): AuditBreak | null {
    for (const c of this.sorted) {
      if (c.seq < this.expected) continue;
      const bad = this.checkSignature(c);
      if (bad) return bad;
      return this.brk('truncated', this.expected);
    }
    return null;
  }
}

export interface VerifyOptions {
  /** Start at this sequence number, trusting the stored hash of the event before it. */
  fromSeq?: number | undefined;
  /**
   * The trusted public keys of an organisation. Without it, checkpoint hashes and truncation
   * are checked but not signatures.
   */
  keys?: ((orgId: string) => Promise<TrustedKeys>) | undefined;
}

const PAGE = 1000;

function checkpointOf(r: {
  org_id: string;
  seq: number;
  at: number;
  head_hash: string;
  key_id: string;
  signature: string;
}): Checkpoint {
  return {
    orgId: r.org_id,
    seq: Number(r.seq),
    at: Number(r.at),
    headHash: r.head_hash,
    keyId: r.key_id,
    signature: r.signature,
  };
}

/** How often a chain that keeps growing while it is read is followed before stopping. */
const MAX_ROUNDS = 5;

/**
 * Re-computes every chain (or one) in the database; stops at the first break.
 *
 * Works while other processes append: each organisation's checkpoints are read first, then
 * its head, and only events up to that head are checked; if the head has moved on when
 * they are done, the new events are checked too. A checkpoint beyond the head is a
 * truncation (checkpoints are only signed over events that exist), and events beyond a
 * head that did not move were written without it.
 */
export async function verifyAudit(
  db: Db,
  orgId?: string,
  opts: VerifyOptions = {},
): Promise<VerifyResult> {
  let orgs = db.selectFrom('audit_heads').select('org_id').orderBy('org_id');
  if (orgId) orgs = orgs.where('org_id', '=', orgId);
  const list = await orgs.execute();
  let events = 0;
  let checkpoints = 0;
  const from = Math.max(1, Math.floor(opts.fromSeq ?? 1));
  const result = (firstBreak?: AuditBreak): VerifyResult => ({
    ok: firstBreak === undefined,
    events,
    organisations: list.length,
    checkpoints,
    ...(firstBreak ? { firstBreak } : {}),
  });
  const readHead = async (org: string) =>
    db
      .selectFrom('audit_heads')
      .select(['seq', 'hash'])
      .where('org_id', '=', org)
      .executeTakeFirstOrThrow();
  for (const { org_id: org } of list) {
    const checkpointsFrom = async (lo: number, below?: number) =>
      (
        await db
          .selectFrom('audit_checkpoints')
          .selectAll()
          .where('org_id', '=', org)
          .where('seq', '>=', lo)
          .$if(below !== undefined, (q) => q.where('seq', '<', below!))
          .execute()
      ).map(checkpointOf);
    const cps = await checkpointsFrom(from);
    let head = await readHead(org);
    // Starting beyond the end checks only what lies there: checkpoints (truncation).
    const fromSeq = Math.min(from, Number(head.seq) + 1);
    if (fromSeq < from) cps.push(...(await checkpointsFrom(fromSeq, from)));
    let prevHash: string | null = GENESIS_HASH;
    if (fromSeq > 1) {
      const before = await db
        .selectFrom('audit_events')
        .select('hash')
        .where('org_id', '=', org)
        .where('seq', '=', fromSeq - 1)
        .executeTakeFirst();
      prevHash = before?.hash ?? null;
    }
    const keys = opts.keys ? await opts.keys(org) : null;
    const v = new ChainVerifier(org, cps, keys, { seq: fromSeq, prevHash });
    let brk: AuditBreak | null = null;
    for (let round = 1; ; round++) {
      const headSeq = Number(head.seq);
      while (!brk && v.nextSeq <= headSeq) {
        const page = await db
          .selectFrom('audit_events')
          .selectAll()
          .where('org_id', '=', org)
          .where('seq', '>=', v.nextSeq)
          .where('seq', '<=', headSeq)
          .orderBy('seq')
          .limit(PAGE)
          .execute();
        for (const e of page) {
          brk = v.push(e);
          if (brk) break;
        }
        if (page.length < PAGE) break;
      }
      if (brk) break;
      // The head must name the last event: events missing before it start the break.
      const lastSeq = v.nextSeq - 1;
      if (lastSeq < headSeq) {
        brk = v.finish() ?? { orgId: org, seq: lastSeq + 1, reason: 'head_mismatch' };
        break;
      }
      if (v.lastHash !== null && head.hash !== v.lastHash) {
        brk = v.finish() ?? { orgId: org, seq: lastSeq, reason: 'head_mismatch' };
        break;
      }
      let now = await readHead(org);
      if (Number(now.seq) === headSeq) {
        const beyond = await db
          .selectFrom('audit_events')
          .select('seq')
          .where('org_id', '=', org)
          .where('seq', '>', headSeq)
          .limit(1)
          .executeTakeFirst();
        if (!beyond) break;
        // An append commits its event and the head together: an event the head still does
        // not cover was written without it.
        now = await readHead(org);
        if (Number(now.seq) === headSeq) {
          brk = { orgId: org, seq: headSeq + 1, reason: 'head_mismatch' };
          break;
        }
      }
      if (round >= MAX_ROUNDS) break;
      head = now;
    }
    events += v.events;
    checkpoints += v.checkpoints;
    brk ??= v.finish();
    if (brk) return result(brk);
  }
  return result();
}

/**
 * Verifies events already in memory. Without `start`, the chain is taken to begin at its
 * first event (anchored at the genesis hash only when that is sequence number 1).
 */
export function verifyChain(
  orgId: string,
  events: readonly ChainedEvent[],
  checkpoints: readonly Checkpoint[],
  keys: TrustedKeys | null,
  start?: { seq: number; prevHash: string | null },
): AuditBreak | null {
  const first = events[0];
  const v = new ChainVerifier(
    orgId,
    checkpoints,
    keys,
    start ?? {
      seq: first ? Number(first.seq) : 1,
      prevHash: first && Number(first.seq) > 1 ? null : GENESIS_HASH,
    },
  );
  for (const e of events) {
    const b = v.push(e);
    if (b) return b;
  }
  return v.finish();
}
