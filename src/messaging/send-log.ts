/**
 * @module messaging/send-log
 * The history a frequency cap counts: per organisation, recipient (blind index) and program,
 * one short row in `send_log` saying how many capped messages were made in each minute, and
 * when those scheduled ahead are due. The accepting transaction appends its messages to their
 * rows and gets the rows back in one statement, decides (consent/caps) on what was there
 * before, and rewrites only the rows whose messages were not all accepted as planned, or that
 * have grown enough to be worth compacting.
 *
 * Why not an index on `messages.to_index`: its keys are random, so it would dirty one page per
 * message in every accept commit (docs/performance.md). These rows are fewer (one per
 * recipient and program, not per message) and short: a minute of messages is one token.
 *
 * A message due when it is made counts as sent at the end of its minute: later than it was,
 * by under a minute, which can only make a cap stricter. Planned times can be stale (dispatch
 * may move a message later), so before a cap refuses or defers, and at dispatch, the logged
 * minutes are looked up in `messages` itself: canceled and failed messages drop out, and the
 * others count when they were sent, or are due.
 */
import { sql } from 'kysely';
import { groupBy, type Db, type Dialect } from '../store/index.js';
import { decideCaps, rulesFor, type CapDecision, type PendingCaps } from '../consent/caps.js';

/** Entries older than this are dropped: longer than the longest cap window (7 days). */
const KEEP_MS = 8 * 24 * 3600_000;
const MINUTE = 60_000;
/** A row with more tokens than this is compacted (a minute's tokens merged) when next read. */
const COMPACT_AT = 12;

/** Statuses of a message that goes, or went, out. */
const LIVE: ReadonlySet<string> = new Set(['queued', 'sending', 'sent', 'delivered', 'read']);

/**
 * Messages in the log: `count` made in minute `minute` (epoch minutes), all due at `at`;
 * `exact` when `at` is a due time of its own (scheduled ahead, deferred or checked) rather
 * than the end of the minute. `id` is known for this batch's messages.
 */
interface Entry {
  minute: number;
  at: number;
  count: number;
  exact: boolean;
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

/** The ten ULID characters of a millisecond: ids made from then on sort from `msg_` + these. */
function ulidTime(ms: number): string {
  let out = '';
  for (let i = 0; i < 10; i++) {
    out = B32_DIGITS[ms % 32]! + out;
    ms = Math.floor(ms / 32);
  }
  return out;
}

const minuteEnd = (minute: number) => (minute + 1) * MINUTE - 1;

/** The entry of one message made as `id` and due at `at`. */
function entryOf(id: string, at: number): Entry {
  const made = madeAt(id);
  const minute = Math.floor(made / MINUTE);
  // Due when made (a few milliseconds before the id): counted at the end of the minute.
  const bucketed = at <= made && at > made - MINUTE;
  return { minute, at: bucketed ? minuteEnd(minute) : at, count: 1, exact: !bucketed, id };
}

/**
 * Tokens, separated by spaces: `minute36` (a message made that minute and due then), or
 * `minute36:due36` (one due at a time of its own: scheduled, held or deferred), either
 * followed by `*count` for several alike.
 */
function encode(e: Entry): string {
  const head = e.exact ? `${e.minute.toString(36)}:${e.at.toString(36)}` : e.minute.toString(36);
  return e.count === 1 ? head : `${head}*${e.count}`;
}

function parseEntries(text: string): Entry[] {
  const out: Entry[] = [];
  for (const t of text.split(' ')) {
    if (!t) continue;
    const star = t.indexOf('*');
    const head = star < 0 ? t : t.slice(0, star);
    const count = star < 0 ? 1 : parseInt(t.slice(star + 1), 10);
    const colon = head.indexOf(':');
    const minute = parseInt(colon < 0 ? head : head.slice(0, colon), 36);
    if (colon < 0) out.push({ minute, at: minuteEnd(minute), count, exact: false });
    else out.push({ minute, at: parseInt(head.slice(colon + 1), 36), count, exact: true });
  }
  return out;
}

/** The due time of every message in `entries` (a count of k gives k times). */
function timesOf(entries: readonly Entry[]): number[] {
  const out: number[] = [];
  for (const e of entries) for (let i = 0; i < e.count; i++) out.push(e.at);
  return out;
}

/** Merges entries alike (same minute, same due time) and drops what no rule can need. */
function compact(entries: readonly Entry[], keep: number, now: number): Entry[] {
  const cutoff = now - KEEP_MS;
  const buckets = new Map<string, Entry>();
  const out: Entry[] = [];
  for (const e of entries) {
    if (e.at <= cutoff || e.count === 0) continue;
    const key = `${e.minute}:${e.exact ? e.at : ''}`;
    const b = buckets.get(key);
    if (b) b.count += e.count;
    else {
      const copy = { ...e, id: undefined };
      buckets.set(key, copy);
      out.push(copy);
    }
  }
  // A rule allowing N needs only the N latest past messages.
  let past = 0;
  for (const e of out) if (e.at <= now) past += e.count;
  let drop = Math.max(0, past - keep);
  if (drop > 0) {
    for (const e of [...out].filter((x) => x.at <= now).sort((a, b) => a.at - b.at)) {
      const d = Math.min(drop, e.count);
      e.count -= d;
      drop -= d;
      if (drop === 0) break;
    }
  }
  return out.filter((e) => e.count > 0).sort((a, b) => a.minute - b.minute);
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
  /** The row as it was before this batch. */
  raw: string;
  /** Due times of every message the decisions see (read, checked, then this batch's). */
  times: number[];
  /** The entries, once a check needed them. */
  entries: Entry[] | null;
  /** The row must be written again (a check, a refusal, a deferral or compacting). */
  rewrite: boolean;
  /** This batch's accepted messages. */
  added: { id: string; at: number }[];
  /** Past messages a rule can still need: the largest count any rule allows. */
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

/** Replaces whole rows, one statement per organisation on SQLite. */
async function replaceRows(
  db: Db,
  dialect: Dialect,
  orgId: string,
  rows: readonly { toIndex: string; program: string; text: string }[],
  now: number,
): Promise<void> {
  if (dialect === 'sqlite') {
    const json = JSON.stringify(rows.map((r) => [r.toIndex, r.program, r.text]));
    await sql`
      insert into send_log (org_id, to_index, program, entries, updated_at)
      select ${orgId}, value ->> 0, value ->> 1, value ->> 2, ${now}
      from json_each(${json}) where true
      on conflict (org_id, to_index, program)
      do update set entries = excluded.entries, updated_at = excluded.updated_at`.execute(db);
    return;
  }
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
 * The recipient's live messages made in these minutes, with their current due times (when
 * sent, the time they were sent). One statement; canceled, failed and expired ones are left
 * out.
 */
async function lookUp(
  db: Db,
  orgId: string,
  toIndex: string,
  program: string,
  minutes: readonly number[],
): Promise<{ id: string; minute: number; at: number }[]> {
  const unique = [...new Set(minutes)];
  const out: { id: string; minute: number; at: number }[] = [];
  for (let i = 0; i < unique.length; i += 100) {
    const rows = await db
      .selectFrom('messages')
      .select(['id', 'status', 'send_at', 'sent_at'])
      .where('org_id', '=', orgId)
      .where('to_index', '=', toIndex)
      .where('program', '=', program)
      .where((eb) =>
        eb.or(
          // Ids made in a minute sort from its first millisecond's ULID prefix to the next's.
          unique
            .slice(i, i + 100)
            .map((m) =>
              eb.and([
                eb('id', '>=', `msg_${ulidTime(m * MINUTE)}`),
                eb('id', '<', `msg_${ulidTime((m + 1) * MINUTE)}`),
              ]),
            ),
        ),
      )
      .execute();
    for (const r of rows) {
      if (!LIVE.has(r.status)) continue;
      out.push({
        id: r.id,
        minute: Math.floor(madeAt(r.id) / MINUTE),
        at: Number(r.sent_at ?? r.send_at),
      });
    }
  }
  return out;
}

/** A recipient's history in one program, as dispatch checks a message against it. */
export interface CapHistory {
  /** The other messages' times as logged (planned, or the end of the minute they were made). */
  logged: number[];
  /** The other messages' times from `messages` itself: exact, but a wider read. */
  exact(): Promise<number[]>;
}

/** The history of the recipient's other messages in `program`, for dispatch. */
export async function capHistory(
  db: Db,
  orgId: string,
  toIndex: string,
  program: string,
  excludeId: string,
): Promise<CapHistory> {
  const row = await db
    .selectFrom('send_log')
    .select('entries')
    .where('org_id', '=', orgId)
    .where('to_index', '=', recipientKey(toIndex))
    .where('program', '=', program)
    .executeTakeFirst();
  if (!row) return { logged: [], exact: () => Promise.resolve([]) };
  const entries = parseEntries(row.entries);
  // Leave out the message itself: one entry of the minute its id was made.
  const own = Math.floor(madeAt(excludeId) / MINUTE);
  const mine = entries.find((e) => e.minute === own);
  if (mine) mine.count -= 1;
  return {
    logged: timesOf(entries),
    exact: async () => {
      const found = await lookUp(
        db,
        orgId,
        toIndex,
        program,
        entries.map((e) => e.minute),
      );
      return found.filter((f) => f.id !== excludeId).map((f) => f.at);
    },
  };
}

/**
 * Records that a logged message is now due at `at` (dispatch deferred it past a cap), so the
 * next checks count it when it goes. Its own small transaction: if the deferral itself is then
 * not recorded, the log only counts the message later than it goes, which is stricter.
 */
export async function relog(
  db: Db,
  dialect: Dialect,
  orgId: string,
  toIndex: string,
  program: string,
  id: string,
  at: number,
): Promise<void> {
  const key = recipientKey(toIndex);
  const row = await db
    .selectFrom('send_log')
    .select('entries')
    .where('org_id', '=', orgId)
    .where('to_index', '=', key)
    .where('program', '=', program)
    .executeTakeFirst();
  if (!row) return;
  const entries = parseEntries(row.entries);
  const minute = Math.floor(madeAt(id) / MINUTE);
  const mine = entries.find((e) => e.minute === minute);
  if (!mine) return;
  mine.count -= 1;
  entries.push({ minute, at, count: 1, exact: true });
  const text = compact(entries, Number.MAX_SAFE_INTEGER, Date.now()).map(encode).join(' ');
  await replaceRows(db, dialect, orgId, [{ toIndex: key, program, text }], Date.now());
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
  /** Writes back the rows where what was appended does not stand. */
  write(tx: Db, committed: ReadonlySet<string>, now: number): Promise<void>;
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

function newLog(raw: string, now: number): Log {
  const cutoff = now - KEEP_MS;
  const times: number[] = [];
  let tokens = 0;
  let stale = false;
  for (const t of raw.split(' ')) {
    if (!t) continue;
    tokens++;
    const star = t.indexOf('*');
    const colon = t.indexOf(':');
    const end = star < 0 ? t.length : star;
    const at =
      colon < 0 ? minuteEnd(parseInt(t.slice(0, end), 36)) : parseInt(t.slice(colon + 1, end), 36);
    if (at <= cutoff) stale = true;
    const count = star < 0 ? 1 : parseInt(t.slice(star + 1), 10);
    for (let i = 0; i < count; i++) times.push(at);
  }
  return {
    raw,
    times,
    entries: null,
    // Compact a long row, or one holding messages older than the longest window.
    rewrite: tokens > COMPACT_AT || stale,
    added: [],
    keep: 0,
  };
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
    // Only messages a count applies to are logged: a recipient with express consent is not
    // counted against the exemption's limits, and then only the body is checked.
    if (!c || rulesFor(c.caps.policy, c.hasExpressConsent).length === 0) {
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
    slot.parts.push(encode(entryOf(c.id, c.sendAt)));
    slotOf.push(slot);
  }
  for (const slot of slots.values()) slot.tail = slot.parts.join(' ');
  for (const [orgId, list] of groupBy(slots.values(), (slot) => slot.orgId)) {
    // One order for every batch, so concurrent batches lock rows alike (PostgreSQL).
    if (dialect === 'postgres') {
      list.sort((a, b) => {
        const x = `${a.toIndex}|${a.program}`;
        const y = `${b.toIndex}|${b.program}`;
        return x < y ? -1 : x > y ? 1 : 0;
      });
    }
    for (const r of await appendAndRead(tx, dialect, orgId, list, now)) {
      const slot = slots.get(`${orgId}|${r.to_index}|${r.program}`);
      if (!slot) continue;
      // What was there before this batch: the row without the tail just appended.
      const raw =
        r.entries === slot.tail ? '' : r.entries.slice(0, r.entries.length - slot.tail.length - 1);
      slot.log = newLog(raw, now);
    }
  }
  const decisions: (CapDecision | null)[] = candidates.map(() => null);
  for (let i = 0; i < candidates.length; i++) {
    const c = candidates[i];
    const slot = slotOf[i];
    if (!c) continue;
    if (!slot) {
      decisions[i] = decideCaps(c.caps, c.body, c.hasExpressConsent, [], c.sendAt);
      continue;
    }
    const log = (slot.log ??= newLog('', now));
    for (const r of c.caps.policy.allRules) if (r.max > log.keep) log.keep = r.max;
    let d = decideCaps(c.caps, c.body, c.hasExpressConsent, log.times, c.sendAt);
    if (!d.ok && d.code === 'frequency_cap_exceeded' && !log.entries && log.raw) {
      // The log holds planned times: check them against the messages before holding this one.
      const read = parseEntries(log.raw);
      const found = await lookUp(
        tx,
        c.orgId,
        c.toIndex,
        c.program,
        read.map((e) => e.minute),
      );
      const checked: Entry[] = found.map((f) => ({
        minute: f.minute,
        at: f.at,
        count: 1,
        exact: true,
      }));
      for (const a of log.added) checked.push(entryOf(a.id, a.at));
      log.entries = checked;
      log.times = timesOf(checked);
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
        const log = slot.log;
        if (!log) continue;
        const lost = log.added.some((a) => !committed.has(a.id));
        if (!log.rewrite && !lost) continue;
        const all = log.entries ?? parseEntries(log.raw);
        if (!log.entries) for (const a of log.added) all.push(entryOf(a.id, a.at));
        const kept = all.filter((e) => e.id === undefined || committed.has(e.id));
        const text = compact(kept, log.keep, at).map(encode).join(' ');
        const list = rewrites.get(slot.orgId) ?? [];
        list.push({ toIndex: slot.toIndex, program: slot.program, text });
        rewrites.set(slot.orgId, list);
      }
      for (const [orgId, rows] of rewrites) await replaceRows(db, dialect, orgId, rows, at);
    },
  };
}
