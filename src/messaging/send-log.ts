/**
 * @module messaging/send-log
 * The history a frequency cap counts: per organisation, recipient (blind index) and program,
 * one short row in `send_log` naming each capped message and when it is due. The accepting
 * transaction appends its messages to their rows and gets the rows back in one statement,
 * decides (consent/caps) on what was there before, and rewrites only the rows whose messages
 * were not all accepted as planned.
 *
 * Why not an index on `messages.to_index`: its keys are random, so it would dirty one page per
 * message in every accept commit (docs/performance.md). These rows are fewer (one per
 * recipient and program, not per message) and short (about 9 bytes a message), and entries
 * older than the longest window are dropped whenever a row is rewritten.
 *
 * Planned times can be stale (dispatch may move a message later), so before a cap refuses or
 * defers, and at dispatch, the entries are looked up in `messages` itself: canceled and failed
 * messages drop out, sent ones count when they were sent.
 */
import { sql } from 'kysely';
import type { Db, Dialect } from '../store/index.js';
import { decideCaps, type CapDecision, type PendingCaps } from '../consent/caps.js';

/** Entries older than this are dropped: longer than the longest cap window (7 days). */
const KEEP_MS = 8 * 24 * 3600_000;

/** Statuses of a message that goes, or went, out. */
const LIVE: ReadonlySet<string> = new Set(['queued', 'sending', 'sent', 'delivered', 'read']);

/**
 * A message in the log: the millisecond its id was made (which, with the recipient, finds it
 * among the messages) and when it is due. `id` is known for this batch's messages.
 */
interface Entry {
  made: number;
  at: number;
  id?: string;
}

const B32_DIGITS = '0123456789abcdefghjkmnpqrstvwxyz';
/** Crockford base32 digit values by character code, as ULIDs (lower-cased by ids) write them. */
const B32 = new Int8Array(128);
for (let i = 0; i < 32; i++) B32[B32_DIGITS.charCodeAt(i)] = i;

/** The millisecond a message id (`msg_` + ULID) was made, from the ULID's first ten characters. */
function madeAt(id: string): number {
  let t = 0;
  for (let i = 4; i < 14; i++) t = t * 32 + B32[id.charCodeAt(i) & 127]!;
  return t;
}

/** The ten ULID characters of a millisecond: every id made then starts `msg_` + these. */
function ulidTime(ms: number): string {
  let out = '';
  for (let i = 0; i < 10; i++) {
    out = B32_DIGITS[ms % 32]! + out;
    ms = Math.floor(ms / 32);
  }
  return out;
}

function entryOf(id: string, at: number): Entry {
  return { made: madeAt(id), at, id };
}

/**
 * The time the id was made in base 36 (8 characters), then `.` and the due time's offset from
 * it when they differ by more than a second. Most messages are due when accepted, so most
 * entries are just the 8 characters. Rounding such a due time up to the id's time
 * (milliseconds later) can only make a cap stricter: no message accepted later is due before
 * it.
 */
function encode(e: Entry): string {
  const offset = e.at - e.made;
  const head = e.made.toString(36);
  return offset <= 0 && offset > -1000 ? head : `${head}.${offset.toString(36)}`;
}

/** `encode` for a message id and due time, without building the entry. */
function encodeFor(id: string, at: number): string {
  const made = madeAt(id);
  const offset = at - made;
  const head = made.toString(36);
  return offset <= 0 && offset > -1000 ? head : `${head}.${offset.toString(36)}`;
}

function decode(text: string): Entry {
  const dot = text.indexOf('.');
  const made = parseInt(dot < 0 ? text : text.slice(0, dot), 36);
  return { made, at: dot < 0 ? made : made + parseInt(text.slice(dot + 1), 36) };
}

/** Just the due times of a row (the common case needs no more). */
function parseTimes(text: string): number[] {
  const out: number[] = [];
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf(' ', start);
    if (end < 0) end = text.length;
    if (end > start) {
      const dot = text.indexOf('.', start);
      if (dot < 0 || dot > end) out.push(parseInt(text.slice(start, end), 36));
      else {
        out.push(parseInt(text.slice(start, dot), 36) + parseInt(text.slice(dot + 1, end), 36));
      }
    }
    start = end + 1;
  }
  return out;
}

function parseEntries(text: string): Entry[] {
  const out: Entry[] = [];
  for (const part of text.split(' ')) if (part) out.push(decode(part));
  return out;
}

/**
 * The recipient as the log keys it: the first 64 bits of the blind index keep rows short. Two
 * recipients of one organisation sharing them (odds about 1 in 10^7 at a million recipients)
 * would share a history, which can only make a cap stricter.
 */
export function recipientKey(toIndex: string): string {
  return toIndex.slice(0, 16);
}

/** A recipient's log while its batch is decided. */
interface Log {
  /** As read; new entries are appended to it unless the row must be rewritten. */
  raw: string;
  /** Due times of every entry the decisions see (read, checked, then this batch's). */
  times: number[];
  /** The entries themselves, once a check or a rewrite needed them. */
  entries: Entry[] | null;
  /** Checking against the messages changed the entries read: write them all again. */
  rewrite: boolean;
  /** This batch's accepted messages. */
  added: { id: string; at: number }[];
  /** Past entries a rule can still need: the largest count any rule allows. */
  keep: number;
}

/**
 * Appends `tail` to each row (creating it when absent) and returns every row as it now is,
 * one statement per organisation. On PostgreSQL the row locks this takes make a concurrent
 * batch for the same recipient wait, then see these entries.
 */
async function appendAndRead(
  db: Db,
  dialect: Dialect,
  orgId: string,
  rows: readonly { toIndex: string; program: string; tail: string }[],
  now: number,
): Promise<{ to_index: string; program: string; entries: string }[]> {
  if (dialect === 'sqlite') {
    // One JSON parameter, not hundreds of bound values: no per-value query building.
    const json = JSON.stringify(rows.map((r) => [r.toIndex, r.program, r.tail]));
    return (
      await sql<{ to_index: string; program: string; entries: string }>`
        insert into send_log (org_id, to_index, program, entries, updated_at)
        select ${orgId}, value ->> 0, value ->> 1, value ->> 2, ${now}
        from json_each(${json}) where true
        on conflict (org_id, to_index, program)
        do update set entries = send_log.entries || ' ' || excluded.entries,
          updated_at = excluded.updated_at
        returning to_index, program, entries`.execute(db)
    ).rows;
  }
  const out: { to_index: string; program: string; entries: string }[] = [];
  for (let i = 0; i < rows.length; i += 200) {
    out.push(
      ...(await db
        .insertInto('send_log')
        .values(
          rows.slice(i, i + 200).map((r) => ({
            org_id: orgId,
            to_index: r.toIndex,
            program: r.program,
            entries: r.tail,
            updated_at: now,
          })),
        )
        .onConflict((oc) =>
          oc.columns(['org_id', 'to_index', 'program']).doUpdateSet((eb) => ({
            entries: sql<string>`send_log.entries || ' ' || excluded.entries`,
            updated_at: eb.ref('excluded.updated_at'),
          })),
        )
        .returning(['to_index', 'program', 'entries'])
        .execute()),
    );
  }
  return out;
}

/** Replaces whole rows (after a check, a refusal, a deferral or trimming). */
async function replaceRows(
  db: Db,
  orgId: string,
  rows: readonly { toIndex: string; program: string; text: string }[],
  now: number,
): Promise<void> {
  for (const r of rows) {
    await db
      .updateTable('send_log')
      .set({ entries: r.text, updated_at: now })
      .where('org_id', '=', orgId)
      .where('to_index', '=', r.toIndex)
      .where('program', '=', r.program)
      .execute();
  }
}

/**
 * Finds the logged messages of one recipient in `messages`: for each entry, its current due
 * time (when sent, the time it was sent), or nothing when it was canceled, failed or expired,
 * or is not there. One statement: every message to the recipient made in an entry's
 * millisecond. Entries of one millisecond match that millisecond's messages in turn, so two
 * made at once are both counted, and a canceled one drops out once.
 */
async function lookUp(
  db: Db,
  orgId: string,
  toIndex: string,
  entries: readonly Entry[],
): Promise<({ id: string; at: number } | null)[]> {
  if (entries.length === 0) return [];
  const made = [...new Set(entries.map((e) => e.made))];
  const rows: { id: string; status: string; send_at: number; sent_at: number | null }[] = [];
  for (let i = 0; i < made.length; i += 100) {
    rows.push(
      ...(await db
        .selectFrom('messages')
        .select(['id', 'status', 'send_at', 'sent_at'])
        .where('org_id', '=', orgId)
        .where('to_index', '=', toIndex)
        .where((eb) =>
          eb.or(
            made.slice(i, i + 100).map((ms) => {
              const prefix = `msg_${ulidTime(ms)}`;
              return eb.and([eb('id', '>=', prefix), eb('id', '<', `${prefix}~`)]);
            }),
          ),
        )
        .execute()),
    );
  }
  const byMade = new Map<number, typeof rows>();
  for (const r of rows.sort((a, b) => (a.id < b.id ? -1 : 1))) {
    const ms = madeAt(r.id);
    const list = byMade.get(ms);
    if (list) list.push(r);
    else byMade.set(ms, [r]);
  }
  return entries.map((e) => {
    const r = byMade.get(e.made)?.shift();
    if (!r || !LIVE.has(r.status)) return null;
    return { id: r.id, at: Number(r.sent_at ?? r.send_at) };
  });
}

/** The due times of the recipient's other live messages in `program`, for dispatch. */
export async function capHistory(
  db: Db,
  orgId: string,
  toIndex: string,
  program: string,
  excludeId: string,
): Promise<number[]> {
  const row = await db
    .selectFrom('send_log')
    .select('entries')
    .where('org_id', '=', orgId)
    .where('to_index', '=', recipientKey(toIndex))
    .where('program', '=', program)
    .executeTakeFirst();
  if (!row) return [];
  const found = await lookUp(db, orgId, toIndex, parseEntries(row.entries));
  return found.filter((f) => f !== null && f.id !== excludeId).map((f) => f!.at);
}

/** One message of an accepting batch that caps apply to. */
export interface CapCandidate {
  orgId: string;
  toIndex: string;
  program: string;
  id: string;
  sendAt: number;
  body: string;
  caps: PendingCaps;
  /** From the consent ledger when known; unknown applies the exemption's limits. */
  hasExpressConsent?: boolean | undefined;
}

export interface CapBatch {
  /** Per candidate (null where none was given): accepted at a time, or refused with a code. */
  decisions: (CapDecision | null)[];
  /** Writes the log rows back, with entries for the accepted messages among `committed`. */
  write(tx: Db, committed: ReadonlySet<string>, now: number): Promise<void>;
}

/**
 * Decides the caps of a batch inside its transaction: every candidate sees the history,
 * including the messages accepted before it in the same batch. The batch's messages are
 * appended to the log first, as planned; `write` then corrects the rows where that was not
 * what happened.
 */
export async function capBatchInTx(
  tx: Db,
  dialect: Dialect,
  candidates: readonly (CapCandidate | null)[],
  now: number,
): Promise<CapBatch> {
  // One slot per row the batch touches, with what it gets appended, in batch order.
  const slots = new Map<string, Slot>();
  const slotOf: (Slot | undefined)[] = [];
  for (const c of candidates) {
    if (!c) {
      slotOf.push(undefined);
      continue;
    }
    const toIndex = recipientKey(c.toIndex);
    const key = `${c.orgId}|${toIndex}|${c.program}`;
    let slot = slots.get(key);
    if (!slot) {
      slot = { orgId: c.orgId, toIndex, program: c.program, parts: [], tail: '', log: null };
      slots.set(key, slot);
    }
    slot.parts.push(encodeFor(c.id, c.sendAt));
    slotOf.push(slot);
  }
  const byOrg = new Map<string, Slot[]>();
  for (const slot of slots.values()) {
    slot.tail = slot.parts.join(' ');
    const list = byOrg.get(slot.orgId);
    if (list) list.push(slot);
    else byOrg.set(slot.orgId, [slot]);
  }
  for (const [orgId, list] of byOrg) {
    for (const r of await appendAndRead(tx, dialect, orgId, list, now)) {
      const slot = slots.get(`${orgId}|${r.to_index}|${r.program}`);
      if (!slot) continue;
      // What was there before this batch: the row without the tail just appended.
      const raw =
        r.entries === slot.tail ? '' : r.entries.slice(0, r.entries.length - slot.tail.length - 1);
      slot.log = newLog(raw);
    }
  }
  const decisions: (CapDecision | null)[] = candidates.map(() => null);
  for (let i = 0; i < candidates.length; i++) {
    const c = candidates[i];
    const slot = slotOf[i];
    if (!c || !slot) continue;
    const log = (slot.log ??= newLog(''));
    for (const r of c.caps.policy.allRules) if (r.max > log.keep) log.keep = r.max;
    let d = decideCaps(c.caps, c.body, c.hasExpressConsent, log.times, c.sendAt);
    if (!d.ok && d.code === 'frequency_cap_exceeded' && !log.rewrite && log.raw) {
      // The log holds planned times: check them against the messages before holding this one.
      const read = parseEntries(log.raw);
      const found = await lookUp(tx, c.orgId, c.toIndex, read);
      const kept: Entry[] = [];
      read.forEach((e, j) => {
        const f = found[j];
        if (f) kept.push({ ...e, at: f.at });
      });
      for (const a of log.added) kept.push(entryOf(a.id, a.at));
      log.entries = kept;
      log.times = kept.map((e) => e.at);
      log.rewrite = true;
      d = decideCaps(c.caps, c.body, c.hasExpressConsent, log.times, c.sendAt);
    }
    if (d.ok) {
      log.times.push(d.sendAt);
      log.added.push({ id: c.id, at: d.sendAt });
      log.entries?.push(entryOf(c.id, d.sendAt));
      if (d.sendAt !== c.sendAt) log.rewrite = true;
    } else {
      log.rewrite = true;
    }
    decisions[i] = d;
  }
  return {
    decisions,
    write: async (db, committed, at) => {
      const rewrites = new Map<string, { toIndex: string; program: string; text: string }[]>();
      for (const slot of slots.values()) {
        if (!slot.log) continue;
        const text = rowText(slot.log, committed, at);
        if (text === null) continue;
        const list = rewrites.get(slot.orgId) ?? [];
        list.push({ toIndex: slot.toIndex, program: slot.program, text });
        rewrites.set(slot.orgId, list);
      }
      for (const [orgId, rows] of rewrites) await replaceRows(db, orgId, rows, at);
    },
  };
}

/** A row the batch touches: what it appends, and its log once read. */
interface Slot {
  orgId: string;
  toIndex: string;
  program: string;
  parts: string[];
  tail: string;
  log: Log | null;
}

function newLog(raw: string): Log {
  return { raw, times: parseTimes(raw), entries: null, rewrite: false, added: [], keep: 0 };
}

/**
 * The row's text when it must be rewritten, or null when what was appended stands: every
 * message accepted as planned and committed, no check changed the entries, none older than
 * the longest window, and no more past entries than any rule counts (a rule allowing N needs
 * only the N latest).
 */
function rowText(log: Log, committed: ReadonlySet<string>, now: number): string | null {
  const cutoff = now - KEEP_MS;
  let past = 0;
  let stale = false;
  for (const t of log.times) {
    if (t <= cutoff) stale = true;
    else if (t <= now) past++;
  }
  const lost = log.added.filter((a) => !committed.has(a.id));
  if (!log.rewrite && !stale && past <= log.keep && lost.length === 0) return null;
  const lostIds = new Set(lost.map((a) => a.id));
  const all = log.entries ?? [
    ...parseEntries(log.raw),
    ...log.added.map((a) => entryOf(a.id, a.at)),
  ];
  const live = all.filter((e) => e.at > cutoff && !(e.id !== undefined && lostIds.has(e.id)));
  const pastOnes = live.filter((e) => e.at <= now).sort((a, b) => a.at - b.at);
  const dropped = new Set(pastOnes.slice(0, Math.max(0, pastOnes.length - log.keep)));
  return live
    .filter((e) => !dropped.has(e))
    .map(encode)
    .join(' ');
}
