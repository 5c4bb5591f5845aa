/**
 * @module audit/checkpoints
 * Signed checkpoints (45 CFR 164.312(c)(1), integrity): every `everyEvents` events, and
 * whenever an event has waited `everyMinutes` without one, the head of each organisation's
 * chain is signed with its Ed25519 key. An auditor holding an older checkpoint (or the
 * public key) can then prove the log was neither rewritten nor truncated since. Before
 * signing, the events since the previous checkpoint are re-verified, so a checkpoint never
 * vouches for a chain that was already broken. Runs in the worker role on a cheap, unref'd
 * timer, and on demand (`tidings audit checkpoint`).
 */
import { sql } from 'kysely';
import type { Store } from '../store/index.js';
import type { Logger } from '../observability/index.js';
import { GENESIS_HASH } from './chain.js';
import type { AuditSigningKeys } from './signing.js';
import { signMessage, verifyMessage } from './signing.js';
import { ChainVerifier, checkpointMessage, type AuditBreak, type Checkpoint } from './verify.js';

export interface CheckpointPolicy {
  /** Sign at every multiple of this many events. */
  everyEvents: number;
  /** Sign the head when its oldest unsigned event is this old (ms). */
  everyMs: number;
}

export interface CheckpointRun {
  orgId: string;
  /** Sequence numbers signed in this run. */
  signed: number[];
  /** Why nothing was signed: the chain since the last checkpoint is broken. */
  failure?: AuditBreak;
}

export interface CheckpointOptions {
  /** Only this organisation. */
  orgId?: string | undefined;
  /** Sign each head now, whatever the policy says (on demand). */
  force?: boolean;
  now?: number;
}

const PAGE = 1000;

interface Unsigned {
  orgId: string;
  seq: number;
  /** Sequence number of the latest checkpoint (0: none). */
  checkpointSeq: number;
  /** Time of the first event after it, if there is one. */
  oldestUnsignedAt: number | null;
}

/**
 * Every organisation (or one) whose head differs from its latest checkpoint, in one query:
 * index lookups per organisation, so a tick with nothing to do stays cheap.
 */
async function unsignedHeads(store: Store, orgId: string | undefined): Promise<Unsigned[]> {
  const only = orgId === undefined ? sql`` : sql`where h.org_id = ${orgId}`;
  const { rows } = await sql<{
    org_id: string;
    seq: number | string;
    cp_seq: number | string;
    oldest_at: number | string | null;
  }>`
    select x.org_id, x.seq, x.cp_seq,
      (select e.at from audit_events e
        where e.org_id = x.org_id and e.seq = x.cp_seq + 1) as oldest_at
    from (
      select h.org_id, h.seq,
        coalesce((select max(c.seq) from audit_checkpoints c where c.org_id = h.org_id), 0)
          as cp_seq
      from audit_heads h ${only}
    ) x
    where x.seq <> x.cp_seq
    order by x.org_id`.execute(store.db);
  return rows.map((r) => ({
    orgId: r.org_id,
    seq: Number(r.seq),
    checkpointSeq: Number(r.cp_seq),
    oldestUnsignedAt: r.oldest_at === null ? null : Number(r.oldest_at),
  }));
}

/**
 * Signs what the policy (or `force`) asks for, for every organisation or one. Safe to run in
 * many processes at once: each organisation's inserts are serialised and idempotent.
 */
export async function createCheckpoints(
  store: Store,
  keys: AuditSigningKeys,
  policy: CheckpointPolicy,
  opts: CheckpointOptions = {},
): Promise<CheckpointRun[]> {
  const now = opts.now ?? Date.now();
  const runs: CheckpointRun[] = [];
  for (const h of await unsignedHeads(store, opts.orgId)) {
    if (h.seq < h.checkpointSeq) {
      // The chain ends before a signed checkpoint: never sign over a truncation.
      runs.push({
        orgId: h.orgId,
        signed: [],
        failure: { orgId: h.orgId, seq: h.seq + 1, reason: 'truncated' },
      });
      continue;
    }
    const n = policy.everyEvents;
    const due =
      Boolean(opts.force) ||
      Math.floor(h.seq / n) > Math.floor(h.checkpointSeq / n) ||
      (h.oldestUnsignedAt !== null && h.oldestUnsignedAt <= now - policy.everyMs);
    if (!due) continue;
    runs.push(await checkpointOrg(store, keys, policy, h.orgId, Boolean(opts.force), now));
  }
  return runs;
}

async function checkpointOrg(
  store: Store,
  keys: AuditSigningKeys,
  policy: CheckpointPolicy,
  orgId: string,
  force: boolean,
  now: number,
): Promise<CheckpointRun> {
  // The key first: making it appends an event, which this run then covers.
  const key = await keys.activeKey(orgId);
  const [h] = await unsignedHeads(store, orgId);
  if (!h || h.seq <= h.checkpointSeq) return { orgId, signed: [] };
  const targets: number[] = [];
  const firstMultiple = (Math.floor(h.checkpointSeq / policy.everyEvents) + 1) * policy.everyEvents;
  for (let s = firstMultiple; s <= h.seq; s += policy.everyEvents) targets.push(s);
  const headDue =
    force || (h.oldestUnsignedAt !== null && h.oldestUnsignedAt <= now - policy.everyMs);
  if (headDue && targets[targets.length - 1] !== h.seq) targets.push(h.seq);
  if (targets.length === 0) return { orgId, signed: [] };

  // Re-verify the events since the last checkpoint, anchored at that checkpoint's signed hash.
  let prevHash = GENESIS_HASH;
  if (h.checkpointSeq > 0) {
    const last = await store.db
      .selectFrom('audit_checkpoints')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('seq', '=', h.checkpointSeq)
      .executeTakeFirstOrThrow();
    const trusted = await keys.trusted(orgId);
    const lastCp: Checkpoint = {
      orgId,
      seq: Number(last.seq),
      at: Number(last.at),
      headHash: last.head_hash,
      keyId: last.key_id,
      signature: last.signature,
    };
    const lastKey = trusted.get(lastCp.keyId);
    if (!lastKey || !verifyMessage(lastKey, checkpointMessage(lastCp), lastCp.signature)) {
      return {
        orgId,
        signed: [],
        failure: {
          orgId,
          seq: lastCp.seq,
          reason: lastKey ? 'checkpoint_signature_invalid' : 'checkpoint_key_unknown',
        },
      };
    }
    prevHash = lastCp.headHash;
  }
  const until = targets[targets.length - 1]!;
  const wanted = new Set(targets);
  const hashes = new Map<number, string>();
  const v = new ChainVerifier(orgId, [], null, { seq: h.checkpointSeq + 1, prevHash });
  while (v.nextSeq <= until) {
    const page = await store.db
      .selectFrom('audit_events')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('seq', '>=', v.nextSeq)
      .where('seq', '<=', until)
      .orderBy('seq')
      .limit(PAGE)
      .execute();
    if (page.length === 0) {
      return {
        orgId,
        signed: [],
        failure: { orgId, seq: v.nextSeq, reason: 'sequence_gap' },
      };
    }
    for (const e of page) {
      const failure = v.push(e);
      if (failure) return { orgId, signed: [], failure };
      if (wanted.has(Number(e.seq))) hashes.set(Number(e.seq), e.hash);
    }
  }

  const rows = targets.map((seq) => {
    const c: Omit<Checkpoint, 'signature'> = {
      orgId,
      seq,
      at: now,
      headHash: hashes.get(seq)!,
      keyId: key.info.keyId,
    };
    return {
      org_id: orgId,
      seq,
      at: now,
      head_hash: c.headHash,
      key_id: c.keyId,
      signature: signMessage(key.privateKey, checkpointMessage(c)),
    };
  });
  const signed = await store.transaction(async (tx) => {
    if (store.dialect === 'postgres') {
      await sql`select pg_advisory_xact_lock(hashtext('tidings.audit.checkpoint'), hashtext(${orgId}))`.execute(
        tx,
      );
    }
    // Another process may have signed meanwhile: keep only what is still ahead of it.
    const latest = await tx
      .selectFrom('audit_checkpoints')
      .select((e) => e.fn.max('seq').as('m'))
      .where('org_id', '=', orgId)
      .executeTakeFirst();
    const after = latest?.m == null ? 0 : Number(latest.m);
    const fresh = rows.filter((r) => r.seq > after);
    if (fresh.length > 0) {
      await tx
        .insertInto('audit_checkpoints')
        .values(fresh)
        .onConflict((oc) => oc.columns(['org_id', 'seq']).doNothing())
        .execute();
    }
    return fresh.map((r) => r.seq);
  });
  return { orgId, signed };
}

/**
 * Runs `createCheckpoints` on a timer in the worker role. The timer is unref'd (it never
 * keeps a process alive) and each tick costs one indexed query when nothing is due.
 */
export class Checkpointer {
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private running = false;

  constructor(
    private readonly tick: () => Promise<CheckpointRun[]>,
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  startCheckpoints(): void {
    if (this.running) return;
    this.running = true;
    this.schedule();
  }

  async stopCheckpoints(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.inFlight;
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.inFlight = this.runOnce().finally(() => {
        this.inFlight = undefined;
        this.schedule();
      });
    }, this.intervalMs);
    this.timer.unref();
  }

  private async runOnce(): Promise<void> {
    try {
      for (const r of await this.tick()) {
        if (r.failure) {
          this.log.error(
            { orgId: r.orgId, seq: r.failure.seq, reason: r.failure.reason },
            'audit chain fails verification; not signing a checkpoint',
          );
        } else if (r.signed.length > 0) {
          this.log.info(
            { orgId: r.orgId, seq: r.signed[r.signed.length - 1], count: r.signed.length },
            'audit checkpoint signed',
          );
        }
      }
    } catch (e) {
      this.log.error({ err: (e as Error).name }, 'audit checkpointing failed');
    }
  }
}
