/**
 * @module consent/ledger
 * The consent ledger: an append-only list of events per organisation, number (blind index)
 * and program — `opt_in`, `opt_out`, `opt_out_all`, `confirmed` — each with its source,
 * evidence, time and who recorded it. The state per (number, program) is derived from the
 * whole history and rewritten in the same transaction as every event, so the send path reads
 * one small table. An opt-out cancels, in that same transaction, everything still queued to
 * the number. Owns `consent_events`, `consent_state` and `consent_settings`. The ledger stays
 * readable as proof after a data key is shredded: an event whose evidence was encrypted under
 * it shows its other fields, with `evidence: null` and `destroyed: true`.
 */
import type { Db, Store } from '../store/index.js';
import { blindIndex, decryptUnlessShredded, encrypt, rowAad } from '../crypto/index.js';
import type { KeyringService } from '../orgs/keyrings.js';
import { appendAudit, type Actor } from '../audit/index.js';
import { AppError, type ErrorCode } from '../errors/index.js';
import { newId } from '../ids/index.js';
import { normalisePhone, type PhonePolicy } from '../contacts/index.js';
import {
  PROGRAMS,
  parseIsoDateTime,
  type GateVerdict,
  type Messaging,
  type Program,
} from '../messaging/index.js';
import { parse as parseCsv } from 'csv-parse/sync';
import type { Organisations } from '../orgs/index.js';
import {
  EMPTY_CUSTOM_KEYWORDS,
  validateCustomKeywords,
  type CustomKeywords,
} from './custom-keywords.js';

export const CONSENT_KINDS = ['opt_in', 'opt_out', 'opt_out_all', 'confirmed'] as const;
export type ConsentKind = (typeof CONSENT_KINDS)[number];

export const CONSENT_SOURCES = [
  'sms_keyword',
  'sms_reply',
  'web_form',
  'in_person',
  'paper',
  'phone_call',
  'ehr',
  'api',
  'staff',
  'carrier',
] as const;
export type ConsentSource = (typeof CONSENT_SOURCES)[number];

/** Per (number, program): absent means nothing recorded. */
export type ConsentStatus = 'opted_in' | 'opted_out' | 'pending';

export interface ProgramPolicy {
  /** A message of this program needs a recorded opt-in first. */
  requireOptIn: boolean;
  /** An opt-in counts only once the patient has replied YES to a confirmation text. */
  doubleOptIn: boolean;
}

export interface ConsentSettings {
  programs: Record<Program, ProgramPolicy>;
  /**
   * Off (the default): any opt-out stops every program of the organisation. On: a reply that
   * names a program ("no more surveys") stops only that program.
   */
  perProgramKeywords: boolean;
  helpText: string;
  optOutText: string;
  optInText: string;
  confirmPromptText: string;
  /** The organisation's own keywords on top of the standard set (consent/custom-keywords). */
  keywords: CustomKeywords;
}

export const DEFAULT_SETTINGS: ConsentSettings = {
  programs: {
    care: { requireOptIn: false, doubleOptIn: false },
    billing: { requireOptIn: false, doubleOptIn: false },
    surveys: { requireOptIn: true, doubleOptIn: false },
    marketing: { requireOptIn: true, doubleOptIn: true },
  },
  perProgramKeywords: false,
  helpText:
    '{org}: appointment and care texts. Msg&data rates may apply. Reply STOP to opt out. For help, call your clinic.',
  optOutText:
    '{org}: you are unsubscribed and will receive no more texts. Reply START to resubscribe.',
  optInText: '{org}: you are subscribed again. Reply STOP to opt out, HELP for help.',
  confirmPromptText: '{org}: reply YES to confirm you want texts from us. Reply STOP to opt out.',
  keywords: EMPTY_CUSTOM_KEYWORDS,
};

export interface ConsentEventInput {
  phone: string;
  program: Program | 'all';
  kind: ConsentKind;
  source: ConsentSource;
  /** Inbound message id, form id, document reference, staff user … (stored encrypted). */
  evidence?: string | undefined;
  /** When it happened, if not now (epoch ms; not in the future). */
  occurredAt?: number | undefined;
}

export interface ImportReport {
  rows: number;
  imported: number;
  skipped: number;
  errors: { line: number; code: ErrorCode; message: string }[];
}

export const IMPORT_COLUMNS = ['phone', 'program', 'kind', 'source', 'evidence', 'occurred_at'];
export const MAX_IMPORT_ROWS = 50_000;

export interface ConsentEventView {
  id: string;
  program: Program | 'all';
  kind: ConsentKind;
  source: ConsentSource;
  /** Null when none was recorded, or when it is `destroyed`. */
  evidence: string | null;
  /** Evidence was recorded, but under a data key since shredded: it can never be read again. */
  destroyed: boolean;
  actor: string;
  occurredAt: string;
  recordedAt: string;
}

export interface ConsentView {
  phone: string;
  /** Per program: whether a message may be sent now, and the recorded state. */
  programs: Record<Program, { status: ConsentStatus | 'none'; canSend: boolean }>;
  history: ConsentEventView[];
}

interface Row {
  id: string;
  program: string;
  kind: string;
  occurred_at: number;
}

/** Replays a number's events (oldest first) into its state per program. */
export function deriveState(
  events: readonly Pick<Row, 'program' | 'kind'>[],
  settings: ConsentSettings,
): Map<Program, ConsentStatus> {
  const state = new Map<Program, ConsentStatus>();
  // What an opt-out interrupted: START brings each program back to it.
  const beforeOptOut = new Map<Program, ConsentStatus | undefined>();
  for (const e of events) {
    const targets = e.program === 'all' ? PROGRAMS : [e.program as Program];
    for (const p of targets) {
      const cur = state.get(p);
      const set = (s: ConsentStatus | undefined) => (s ? state.set(p, s) : state.delete(p));
      switch (e.kind as ConsentKind) {
        case 'opt_out':
        case 'opt_out_all':
          if (cur !== 'opted_out') beforeOptOut.set(p, cur === 'pending' ? undefined : cur);
          set('opted_out');
          break;
        case 'opt_in':
          if (e.program === 'all') {
            // A keyword such as START: lifts opt-outs; it is no new consent to a program the
            // patient never agreed to.
            if (cur === 'opted_out') set(beforeOptOut.get(p));
          } else {
            set(settings.programs[p].doubleOptIn ? 'pending' : 'opted_in');
          }
          break;
        case 'confirmed':
          if (cur === 'pending' || e.program !== 'all') set('opted_in');
          break;
      }
    }
  }
  return state;
}

/** Why a message of `program` may not go to a number in `status` now, or null. */
export function refusal(
  status: ConsentStatus | undefined,
  policy: ProgramPolicy,
): ErrorCode | null {
  if (status === 'opted_out') return 'recipient_opted_out';
  if (policy.requireOptIn && status !== 'opted_in') return 'consent_required';
  return null;
}

const SETTINGS_CACHE_MS = 5_000;

export class ConsentLedger {
  private readonly settingsCache = new Map<string, { s: ConsentSettings; until: number }>();

  constructor(
    private readonly store: Store,
    private readonly keyrings: KeyringService,
    private readonly messaging: Messaging,
    private readonly orgs: Organisations,
    private readonly phone: PhonePolicy,
  ) {}

  async settings(orgId: string, db: Db = this.store.db): Promise<ConsentSettings> {
    const hit = this.settingsCache.get(orgId);
    if (hit && hit.until > Date.now()) return hit.s;
    const r = await db
      .selectFrom('consent_settings')
      .select('settings')
      .where('org_id', '=', orgId)
      .executeTakeFirst();
    const stored = r ? (JSON.parse(r.settings) as Partial<ConsentSettings>) : {};
    const s: ConsentSettings = {
      ...DEFAULT_SETTINGS,
      ...stored,
      programs: { ...DEFAULT_SETTINGS.programs, ...stored.programs },
      keywords: { ...EMPTY_CUSTOM_KEYWORDS, ...stored.keywords },
    };
    this.settingsCache.set(orgId, { s, until: Date.now() + SETTINGS_CACHE_MS });
    return s;
  }

  async setSettings(
    orgId: string,
    change: Partial<ConsentSettings>,
    actor: Actor,
  ): Promise<ConsentSettings> {
    const cur = await this.settings(orgId);
    const next: ConsentSettings = {
      ...cur,
      ...change,
      programs: { ...cur.programs, ...change.programs },
      keywords: validateCustomKeywords({ ...cur.keywords, ...change.keywords }),
    };
    for (const t of ['helpText', 'optOutText', 'optInText', 'confirmPromptText'] as const) {
      if (next[t].trim().length === 0 || next[t].length > 320) {
        throw new AppError('validation_failed', `${t} must have 1 to 320 characters.`);
      }
    }
    const now = Date.now();
    await this.store.transaction(async (tx) => {
      await tx.deleteFrom('consent_settings').where('org_id', '=', orgId).execute();
      await tx
        .insertInto('consent_settings')
        .values({ org_id: orgId, settings: JSON.stringify(next), updated_at: now })
        .execute();
      await appendAudit(tx, this.store.dialect, [
        {
          orgId,
          actor,
          action: 'consent.settings_changed',
          targetType: 'organisation',
          targetId: orgId,
          details: {
            perProgramKeywords: next.perProgramKeywords,
            optInRequired: PROGRAMS.filter((p) => next.programs[p].requireOptIn).join(','),
            doubleOptIn: PROGRAMS.filter((p) => next.programs[p].doubleOptIn).join(','),
            customOptOutKeywords: next.keywords.optOut.length,
            customHelpKeywords: next.keywords.help.length,
            customOptInKeywords: next.keywords.optIn.length,
          },
        },
      ]);
    });
    this.settingsCache.delete(orgId);
    return next;
  }

  /** Records an event from the API, CLI or an import; returns its id. */
  async record(orgId: string, input: ConsentEventInput, actor: Actor): Promise<string> {
    const phone = normalisePhone(input.phone, this.phone);
    this.validate(input);
    // Read what the transaction needs first: on SQLite one connection serves both.
    await this.keyrings.get(orgId);
    const org = await this.orgs.get(orgId);
    if (!org) throw new AppError('not_found', 'No such organisation.');
    const sender = await this.orgs.resolveSender(orgId, undefined);
    return this.store.transaction(async (tx) => {
      const r = await this.apply(tx, orgId, { ...input, phone }, actor, Date.now());
      // A new opt-in to a double opt-in program: ask the patient to confirm with YES.
      if (PROGRAMS.some((p) => r.after.get(p) === 'pending' && r.before.get(p) !== 'pending')) {
        const settings = await this.settings(orgId, tx);
        await this.messaging.enqueueSystemInTx(tx, {
          orgId,
          to: phone,
          body: settings.confirmPromptText.replaceAll('{org}', org.name),
          program: 'care',
          sender,
        });
      }
      return r.id;
    });
  }

  private validate(input: ConsentEventInput): void {
    if (!(CONSENT_KINDS as readonly string[]).includes(input.kind)) {
      throw new AppError('validation_failed', `kind must be one of ${CONSENT_KINDS.join(', ')}.`);
    }
    if (!(CONSENT_SOURCES as readonly string[]).includes(input.source)) {
      throw new AppError(
        'validation_failed',
        `source must be one of ${CONSENT_SOURCES.join(', ')}.`,
      );
    }
    if (input.program !== 'all' && !(PROGRAMS as readonly string[]).includes(input.program)) {
      throw new AppError(
        'validation_failed',
        `program must be one of ${PROGRAMS.join(', ')} or all.`,
      );
    }
    if (input.kind === 'opt_out_all' && input.program !== 'all') {
      throw new AppError('validation_failed', 'opt_out_all applies to program all.');
    }
    if (input.evidence !== undefined && input.evidence.length > 500) {
      throw new AppError('validation_failed', 'evidence has at most 500 characters.');
    }
    if (input.occurredAt !== undefined && input.occurredAt > Date.now() + 60_000) {
      throw new AppError('validation_failed', 'A consent event cannot happen in the future.');
    }
  }

  /**
   * Appends an event and brings the state up to date inside `tx`; an opt-out also cancels
   * what is still queued to the number. Returns the event id and whether the state changed.
   */
  async recordInTx(
    tx: Db,
    orgId: string,
    input: ConsentEventInput,
    actor: Actor,
    now = Date.now(),
  ): Promise<string> {
    return (await this.apply(tx, orgId, input, actor, now)).id;
  }

  private async apply(
    tx: Db,
    orgId: string,
    input: ConsentEventInput,
    actor: Actor,
    now: number,
  ): Promise<{
    id: string;
    before: Map<Program, ConsentStatus>;
    after: Map<Program, ConsentStatus>;
  }> {
    this.validate(input);
    const keyring = await this.keyrings.get(orgId);
    const index = blindIndex(keyring, input.phone);
    const id = newId('cev');
    const settings = await this.settings(orgId, tx);
    const before = await this.stateOf(tx, orgId, index);
    await tx
      .insertInto('consent_events')
      .values({
        org_id: orgId,
        id,
        phone_index: index,
        phone_enc: encrypt(keyring, rowAad(orgId, 'consent_events', id, 'phone'), input.phone),
        program: input.program,
        kind: input.kind,
        source: input.source,
        evidence_enc:
          input.evidence === undefined
            ? null
            : encrypt(keyring, rowAad(orgId, 'consent_events', id, 'evidence'), input.evidence),
        actor_type: actor.type,
        actor_id: actor.id,
        occurred_at: input.occurredAt ?? now,
        recorded_at: now,
      })
      .execute();
    const events = await tx
      .selectFrom('consent_events')
      .select(['id', 'program', 'kind', 'occurred_at'])
      .where('org_id', '=', orgId)
      .where('phone_index', '=', index)
      .orderBy('occurred_at')
      .orderBy('id')
      .execute();
    const after = deriveState(events, settings);
    await tx
      .deleteFrom('consent_state')
      .where('org_id', '=', orgId)
      .where('phone_index', '=', index)
      .execute();
    if (after.size > 0) {
      await tx
        .insertInto('consent_state')
        .values(
          [...after].map(([program, status]) => ({
            org_id: orgId,
            phone_index: index,
            program,
            status,
            last_event_id: id,
            updated_at: now,
          })),
        )
        .execute();
    }
    const stopped = PROGRAMS.filter((p) => after.get(p) === 'opted_out');
    let canceled = 0;
    if (stopped.length > 0) {
      const ids = await this.messaging.cancelQueuedToInTx(
        tx,
        orgId,
        index,
        stopped.length === PROGRAMS.length ? 'all' : stopped,
        'opted_out',
        now,
      );
      canceled = ids.length;
    }
    await appendAudit(tx, this.store.dialect, [
      {
        orgId,
        actor,
        action: 'consent.recorded',
        targetType: 'consent_event',
        targetId: id,
        details: { kind: input.kind, program: input.program, source: input.source, canceled },
        subjectIndex: index,
      },
    ]);
    return { id, before, after };
  }

  /**
   * State, and a full history with evidence, for one number. Evidence under a shredded data
   * key shows as null with `destroyed: true`; every other field of the event still shows.
   */
  async show(orgId: string, phoneInput: string): Promise<ConsentView> {
    const phone = normalisePhone(phoneInput, this.phone);
    const keyring = await this.keyrings.get(orgId);
    const index = blindIndex(keyring, phone);
    const settings = await this.settings(orgId);
    const state = await this.stateOf(this.store.db, orgId, index);
    const rows = await this.store.db
      .selectFrom('consent_events')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('phone_index', '=', index)
      .orderBy('occurred_at')
      .orderBy('id')
      .execute();
    const programs = Object.fromEntries(
      PROGRAMS.map((p) => {
        const status = state.get(p);
        return [
          p,
          { status: status ?? 'none', canSend: refusal(status, settings.programs[p]) === null },
        ];
      }),
    ) as ConsentView['programs'];
    return {
      phone,
      programs,
      history: rows.map((r) => {
        const evidence =
          r.evidence_enc === null
            ? null
            : decryptUnlessShredded(
                keyring,
                rowAad(orgId, 'consent_events', r.id, 'evidence'),
                r.evidence_enc,
              );
        return {
          id: r.id,
          program: r.program as Program | 'all',
          kind: r.kind as ConsentKind,
          source: r.source as ConsentSource,
          evidence,
          destroyed: r.evidence_enc !== null && evidence === null,
          actor: `${r.actor_type}:${r.actor_id}`,
          occurredAt: new Date(Number(r.occurred_at)).toISOString(),
          recordedAt: new Date(Number(r.recorded_at)).toISOString(),
        };
      }),
    };
  }

  /**
   * For each message about to be accepted or sent, null when consent allows it, or the code
   * that refuses it. One query for the whole batch.
   */
  async check(
    db: Db,
    items: readonly { orgId: string; toIndex: string; program: Program }[],
  ): Promise<GateVerdict[]> {
    if (items.length === 0) return [];
    const indexes = [...new Set(items.map((i) => i.toIndex))];
    const orgs = [...new Set(items.map((i) => i.orgId))];
    const rows: { org_id: string; phone_index: string; program: string; status: string }[] = [];
    for (let i = 0; i < indexes.length; i += 500) {
      rows.push(
        ...(await db
          .selectFrom('consent_state')
          .select(['org_id', 'phone_index', 'program', 'status'])
          .where('org_id', 'in', orgs)
          .where('phone_index', 'in', indexes.slice(i, i + 500))
          .execute()),
      );
    }
    const status = new Map(
      rows.map((r) => [`${r.org_id}|${r.phone_index}|${r.program}`, r.status as ConsentStatus]),
    );
    const settings = new Map<string, ConsentSettings>();
    for (const o of orgs) settings.set(o, await this.settings(o, db));
    return items.map((i) => {
      const st = status.get(`${i.orgId}|${i.toIndex}|${i.program}`);
      return {
        refused: refusal(st, settings.get(i.orgId)!.programs[i.program]),
        express: st === 'opted_in',
      };
    });
  }

  /**
   * Imports consent events from CSV (header: phone, program, kind, source, evidence,
   * occurred_at; the last two optional). Every row is validated first; with any invalid row
   * nothing is imported unless `skipInvalid`. `validateOnly` reports without importing.
   */
  async importCsv(
    orgId: string,
    csv: string,
    opts: { skipInvalid?: boolean; validateOnly?: boolean },
    actor: Actor,
  ): Promise<ImportReport> {
    let records: string[][];
    try {
      records = parseCsv(csv, {
        skip_empty_lines: true,
        trim: true,
        bom: true,
        relax_column_count: true,
      });
    } catch {
      throw new AppError('validation_failed', 'The file is not valid CSV.');
    }
    const header = (records[0] ?? []).map((h) => h.toLowerCase());
    const col = (name: string) => header.indexOf(name);
    for (const required of ['phone', 'program', 'kind', 'source']) {
      if (col(required) < 0) {
        throw new AppError(
          'validation_failed',
          `The header must name: ${IMPORT_COLUMNS.join(', ')}.`,
        );
      }
    }
    const rows = records.slice(1);
    if (rows.length > MAX_IMPORT_ROWS) {
      throw new AppError('validation_failed', `At most ${MAX_IMPORT_ROWS} rows per import.`);
    }
    const report: ImportReport = { rows: rows.length, imported: 0, skipped: 0, errors: [] };
    const valid: ConsentEventInput[] = [];
    rows.forEach((r, i) => {
      const line = i + 2;
      const get = (name: string) => {
        const c = col(name);
        const v = c >= 0 ? r[c] : undefined;
        return v === undefined || v === '' ? undefined : v;
      };
      try {
        const at = get('occurred_at');
        const occurredAt = at === undefined ? undefined : parseIsoDateTime(at);
        if (occurredAt === null) {
          throw new AppError('validation_failed', 'occurred_at must be an ISO 8601 date-time.');
        }
        const input: ConsentEventInput = {
          phone: normalisePhone(get('phone') ?? '', this.phone),
          program: (get('program') ?? '') as Program | 'all',
          kind: (get('kind') ?? '') as ConsentKind,
          source: (get('source') ?? '') as ConsentSource,
          evidence: get('evidence'),
          occurredAt,
        };
        this.validate(input);
        valid.push(input);
      } catch (e) {
        if (!(e instanceof AppError)) throw e;
        report.errors.push({ line, code: e.code, message: e.message });
      }
    });
    report.skipped = report.errors.length;
    if (opts.validateOnly || (report.errors.length > 0 && !opts.skipInvalid)) return report;
    await this.keyrings.get(orgId); // before the transaction (one SQLite connection)
    const now = Date.now();
    await this.store.transaction(async (tx) => {
      for (const input of valid) await this.apply(tx, orgId, input, actor, now);
      await appendAudit(tx, this.store.dialect, [
        {
          orgId,
          actor,
          action: 'consent.imported',
          targetType: 'organisation',
          targetId: orgId,
          details: { rows: rows.length, imported: valid.length, skipped: report.skipped },
        },
      ]);
    });
    report.imported = valid.length;
    return report;
  }

  /**
   * Every event of the organisation for one number, as CSV (for an auditor). The last column,
   * `destroyed`, is `true` where the evidence was under a shredded data key (the cell is empty).
   */
  async exportCsv(orgId: string, phone: string): Promise<string> {
    const v = await this.show(orgId, phone);
    const head =
      'phone,event_id,program,kind,source,evidence,actor,occurred_at,recorded_at,destroyed';
    const cell = (x: string | null) => {
      const s = x ?? '';
      return /[",\n\r]/.test(s) || /^[=+\-@]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
    };
    return (
      [
        head,
        ...v.history.map((e) =>
          [
            v.phone,
            e.id,
            e.program,
            e.kind,
            e.source,
            e.evidence,
            e.actor,
            e.occurredAt,
            e.recordedAt,
            String(e.destroyed),
          ]
            .map(cell)
            .join(','),
        ),
      ].join('\n') + '\n'
    );
  }

  /** Records an event and reports how the state changed (for the inbound path). */
  async applyInTx(
    tx: Db,
    orgId: string,
    input: ConsentEventInput,
    actor: Actor,
    now = Date.now(),
  ): Promise<{ before: Map<Program, ConsentStatus>; after: Map<Program, ConsentStatus> }> {
    return this.apply(tx, orgId, input, actor, now);
  }

  async stateOf(db: Db, orgId: string, index: string): Promise<Map<Program, ConsentStatus>> {
    const rows = await db
      .selectFrom('consent_state')
      .select(['program', 'status'])
      .where('org_id', '=', orgId)
      .where('phone_index', '=', index)
      .execute();
    return new Map(rows.map((r) => [r.program as Program, r.status as ConsentStatus]));
  }
}
