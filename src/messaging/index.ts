/**
 * @module messaging
 * The send pipeline: validate → persist encrypted → audit → durable queue, answering only
 * after the commit. The same pipeline serves the API, the CLI and (later) reminders and EHR
 * feeds. Also owns message status transitions and inbound messages. Owns the `messages`,
 * `idempotency_keys` and `inbound_messages` tables.
 */
import { idsByOrg, insertRows, type Store, type Db } from '../store/index.js';
import { GroupCommitter } from '../store/group-commit.js';
import { appendAudit, SYSTEM_ACTOR, type Actor, type AuditEntry } from '../audit/index.js';
import { blindIndex, decrypt, encrypt, rowAad, sha256Hex, type Keyring } from '../crypto/index.js';
import { AppError, type ErrorCode } from '../errors/index.js';
import { newId } from '../ids/index.js';
import { normalisePhone, normaliseReportedPhone, type PhonePolicy } from '../contacts/index.js';
import type { KeyringService, Organisations } from '../orgs/index.js';
import { enqueueJobs, removeUnclaimedJob } from '../dispatch/queue.js';
import { enqueueWebhooks, type OutboxEvent } from '../webhooks/outbox.js';
import { countSegments, type Encoding } from './segments.js';
import { sql, type Selectable } from 'kysely';
import type { MessagesTable } from '../store/schema.js';
import type { AcceptPlan, HeldBy } from '../consent/send-rules.js';
import type { PendingCaps } from '../consent/caps.js';
import { capBatchInTx, capHistory, relog, type CapCandidate, type CapHistory } from './send-log.js';
import { categoriesOf, scan, type Category, type GuardSettings } from '../content-guard/index.js';

export { countSegments, type Encoding, type SegmentInfo } from './segments.js';
export {
  inboundCountSince,
  textHistoryPage,
  textPage,
  type TextPageRequest,
  type HistoryItem,
  type ThreadInbound,
  type ThreadOutbound,
} from './conversation-activity.js';
export {
  FINAL_MESSAGE_STATUSES,
  idFloorAt,
  redactBodiesBefore,
  type CarrierCopy,
  type RedactBodiesRequest,
  type RedactBodiesResult,
} from './redact-bodies.js';
export {
  dailyStatusCounts,
  sendersUsed,
  DAY_MS,
  type DailyCountRange,
  type DailyStatusCount,
  type SenderSeen,
} from './daily-counts.js';

export const PROGRAMS = ['care', 'billing', 'surveys', 'marketing'] as const;
export type Program = (typeof PROGRAMS)[number];

export const MESSAGE_STATUSES = [
  'queued',
  'sending',
  'sent',
  'delivered',
  'read',
  'failed',
  'expired',
  'canceled',
] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

export const MAX_SEGMENTS = 10;
export const MAX_IDEMPOTENCY_KEY = 255;
/** How far ahead a message may be scheduled. */
const MAX_SCHEDULE_MS = 365 * 24 * 3600 * 1000;

export interface SendRequest {
  to: string;
  body: string;
  program: Program;
  from?: string | undefined;
  sendAt?: string | undefined;
  idempotencyKey?: string | undefined;
  /**
   * A provider's written reason to send text the content guard holds as plain SMS anyway
   * (only where the organisation's guard policy is `override`; the caller checks the role).
   */
  override?: { reason: string } | undefined;
}

/** How a send path calls `accept`, beyond the request itself. */
export interface AcceptOptions {
  /**
   * `checked`: the text was built safe by its caller (the portal's neutral notice and its
   * one-time code), so the guard does not scan it again.
   */
  guard?: 'checked';
  /** The request hash an Idempotency-Key is bound to (a diverted send keeps the original's). */
  requestHash?: string;
  /** `verification_code`: a portal code the patient asked for (see MESSAGE_KINDS). */
  kind?: 'verification_code';
}

/** What the content guard did with a message's text. */
export type GuardOutcome =
  | { verdict: 'allow' }
  | {
      verdict: 'secure';
      /** `diverted`: the SMS is the neutral notice of `secureMessageId`. */
      action: 'diverted' | 'overridden';
      categories: Category[];
      secureMessageId?: string;
    };

export interface MessageView {
  id: string;
  status: MessageStatus;
  to: string;
  from: string;
  program: Program;
  segments: number;
  encoding: Encoding;
  sendAt: string;
  attempts: number;
  carrierMessageId: string | null;
  failureCode: string | null;
  failureReason: string | null;
  createdAt: string;
  updatedAt: string;
  sentAt: string | null;
  deliveredAt: string | null;
  /**
   * Set when quiet hours or a frequency cap moved the message later than asked: the time it
   * may go (`sendAt` is then the same time), and what moved it.
   */
  notBefore: string | null;
  heldBy: HeldBy | null;
  body?: string;
}

/** A message as the dispatch worker needs it, decrypted. */
export interface DispatchMessage {
  status: MessageStatus;
  to: string;
  body: string;
  from: string;
  senderId: string;
  segments: number;
  program: Program;
  toIndex: string;
  kind: MessageKind;
}

export interface AcceptResult {
  message: MessageView;
  /** True when an earlier request with the same Idempotency-Key made this message. */
  replayed: boolean;
  /** What the content guard did (absent on replays and texts built safe by their caller). */
  guard?: GuardOutcome;
}

/** A send the content guard held, handed to the portal to become a secure message. */
export interface DivertRequest {
  to: string;
  body: string;
  program: Program;
  from?: string | undefined;
  idempotencyKey?: string | undefined;
  /** The original request's hash, which its Idempotency-Key stays bound to. */
  requestHash: string;
  categories: Category[];
}

/** Messages a filtered list examines per page, at most. */
export const LIST_SCAN_WINDOW = 5000;

export interface ListFilter {
  status?: MessageStatus | undefined;
  program?: Program | undefined;
  to?: string | undefined;
  cursor?: string | undefined;
  limit: number;
}

export interface InboundView {
  id: string;
  from: string;
  to: string;
  body: string;
  receivedAt: string;
}

/** A prepared message waiting for its batch to commit. */
interface PendingAccept {
  orgId: string;
  actor: Actor;
  /** Fetched before the batch's transaction (never fetch one inside it). */
  keyring: Keyring;
  row: Selectable<MessagesTable>;
  requestHash: string;
  view: MessageView;
  /** Frequency caps to apply in the accepting transaction (consent/send-rules). */
  caps: PendingCaps | null;
  body: string;
  /** Held text a provider sent anyway: audited with the message. */
  override?: { reason: string; categories: Category[] };
}

type AcceptOutcome =
  { ok: true } | { ok: false; lostTo: string } | { ok: false; refused: ErrorCode };

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(Number(ms)).toISOString();
}

const ISO_DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):(\d{2}))$/;

/** Epoch ms of a strict ISO 8601 date-time with zone; null for anything else (e.g. Feb 30). */
export function parseIsoDateTime(value: string): number | null {
  const m = ISO_DATE_TIME.exec(value);
  if (!m) return null;
  const [y, mo, d, h, mi, s = '0', oh = '0', om = '0'] = m.slice(1).map((x) => x ?? '0');
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (year < 2000 || month < 1 || month > 12 || day < 1 || day > daysInMonth) return null;
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59 || Number(oh) > 23 || Number(om) > 59) {
    return null;
  }
  const t = Date.parse(value);
  return Number.isNaN(t) ? null : t;
}

function isProgram(v: unknown): v is Program {
  return typeof v === 'string' && (PROGRAMS as readonly string[]).includes(v);
}

/**
 * `standard`: everything clinics send. `consent_reply`: the answer to STOP, HELP or START,
 * which consent, quiet hours and caps never hold back. `verification_code`: a one-time code
 * the patient has just asked for in the portal, which quiet hours and caps never hold (the
 * patient is waiting for it, and the notice that brought them there may have used the day's
 * exemption allowance); consent still applies, at acceptance and at dispatch.
 */
export const MESSAGE_KINDS = ['standard', 'consent_reply', 'verification_code'] as const;
export type MessageKind = (typeof MESSAGE_KINDS)[number];

/** A message about to be committed, as the consent gate sees it. */
export interface GateItem {
  orgId: string;
  toIndex: string;
  program: Program;
}

/** The consent engine's answer for one message. */
export interface GateVerdict {
  /** Null to accept, or the code to refuse with. */
  refused: ErrorCode | null;
  /** The recipient's recorded opt-in to the program (prior express consent). */
  express: boolean;
}

/** What the inbound hook is given, inside the transaction that stores the reply. */
export interface InboundEvent {
  orgId: string;
  inboundId: string;
  /** The organisation's number the text was sent to (replies go out from it). */
  sender: { id: string; number: string };
  from: string;
  fromIndex: string;
  body: string;
  receivedAt: number;
  /** The organisation's keyring, fetched before the transaction (never fetch one in it). */
  keyring: Keyring;
}

/** A text committed to a recipient (the inbox keeps its last activity from these). */
export interface AcceptedText {
  orgId: string;
  toIndex: string;
  /** The number (E.164): a conversation seen for the first time stores it encrypted. */
  to: string;
  at: number;
  /** The organisation's keyring, fetched before the transaction. */
  keyring: Keyring;
}

export interface MessagingOptions {
  phone: PhonePolicy;
  /**
   * Runs inside the transaction that commits accepted texts (a whole batch at once, or one
   * system reply): the conversations module's last-activity upsert.
   */
  onAccepted?: (tx: Db, texts: readonly AcceptedText[]) => Promise<void>;
  /** Called with each committed batch size (metrics). */
  onBatch?: (size: number) => void;
  /**
   * Decides, inside the accepting transaction, whether each message may be accepted (the
   * consent engine); returns null to accept or the error code to refuse it with.
   */
  gate?: (tx: Db, items: readonly GateItem[]) => Promise<GateVerdict[]>;
  /** Runs inside the transaction that stores an inbound text, before anything else sees it. */
  onInbound?: (tx: Db, e: InboundEvent) => Promise<void>;
  /**
   * Quiet hours and frequency caps (consent/send-rules): when each message may go, and the
   * caps its accepting transaction applies. Absent: every message goes when asked.
   */
  sendRules?: (m: {
    orgId: string;
    to: string;
    program: Program;
    sendAt: number;
    /** A reply to STOP, HELP or START: never held (consent replies use enqueueSystemInTx). */
    exempt?: Exclude<MessageKind, 'standard'>;
  }) => Promise<AcceptPlan>;
  /** The organisation's content-guard policy. Absent: the default, divert. */
  guardSettings?: (orgId: string) => Promise<GuardSettings>;
  /**
   * Turns a held text into a secure message and sends its neutral notice (through `accept`
   * again, with `guard: 'checked'`). Absent: held texts are refused.
   */
  divert?: (orgId: string, actor: Actor, req: DivertRequest) => Promise<AcceptResult>;
}

export class Messaging {
  private readonly committer: GroupCommitter<PendingAccept, AcceptOutcome>;

  constructor(
    private readonly store: Store,
    private readonly keyrings: KeyringService,
    private readonly orgs: Organisations,
    private readonly opts: MessagingOptions,
  ) {
    this.committer = new GroupCommitter((batch) => this.commitBatch(batch), 500, opts.onBatch);
  }

  /**
   * Accepts a message: validates it, and returns once the encrypted message, its audit event
   * and its queue entry are durably committed. Throws AppError for bad input.
   */
  async accept(
    orgId: string,
    actor: Actor,
    req: SendRequest,
    options: AcceptOptions = {},
  ): Promise<AcceptResult> {
    if (!isProgram(req.program)) {
      throw new AppError('validation_failed', `program must be one of ${PROGRAMS.join(', ')}.`);
    }
    if (typeof req.body !== 'string' || req.body.length === 0) {
      throw new AppError('validation_failed', 'body must be a non-empty string.');
    }
    const info = countSegments(req.body);
    if (info.segments > MAX_SEGMENTS) throw new AppError('body_too_long');
    const key = req.idempotencyKey;
    if (key !== undefined && (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY)) {
      throw new AppError(
        'validation_failed',
        `Idempotency-Key must be 1 to ${MAX_IDEMPOTENCY_KEY} characters.`,
      );
    }
    const now = Date.now();
    let sendAt = now;
    if (req.sendAt !== undefined) {
      const t = parseIsoDateTime(req.sendAt);
      if (t === null) {
        throw new AppError(
          'validation_failed',
          'sendAt must be an ISO 8601 date-time with a time zone, e.g. 2026-12-01T15:00:00Z.',
        );
      }
      if (t > now + MAX_SCHEDULE_MS) {
        throw new AppError('validation_failed', 'sendAt may be at most one year ahead.');
      }
      sendAt = Math.max(t, now);
    }
    const to = normalisePhone(req.to, this.opts.phone);
    const sender = await this.orgs.resolveSender(orgId, req.from, to);
    const requestHash =
      options.requestHash ??
      sha256Hex(JSON.stringify([to, req.body, req.program, sender.id, req.sendAt ?? null]));

    if (key !== undefined) {
      const replay = await this.replay(orgId, key, requestHash);
      if (replay) return replay;
    }

    // The content guard: text that would disclose health information never leaves as SMS.
    let guard: GuardOutcome | undefined;
    if (options.guard !== 'checked') {
      const checked = await this.guard(orgId, actor, req, to, requestHash);
      if ('message' in checked) return checked;
      guard = checked;
    }

    // Quiet hours: outside the recipient's window the message waits for the next opening.
    const plan = await this.opts.sendRules?.({
      orgId,
      to,
      program: req.program,
      sendAt,
      ...(options.kind ? { exempt: options.kind } : {}),
    });
    if (plan) sendAt = plan.sendAt;
    const keyring = await this.keyrings.get(orgId);
    const id = newId('msg');
    const row: Selectable<MessagesTable> = {
      org_id: orgId,
      id,
      status: 'queued',
      program: req.program,
      sender_id: sender.id,
      from_number: sender.number,
      to_enc: encrypt(keyring, rowAad(orgId, 'messages', id, 'to'), to),
      to_index: blindIndex(keyring, to),
      body_enc: encrypt(keyring, rowAad(orgId, 'messages', id, 'body'), req.body),
      segments: info.segments,
      encoding: info.encoding,
      send_at: sendAt,
      attempts: 0,
      carrier_message_id: null,
      failure_code: null,
      failure_reason: null,
      idempotency_key: key ?? null,
      kind: options.kind ?? 'standard',
      created_at: now,
      updated_at: now,
      sent_at: null,
      delivered_at: null,
      not_before: plan?.heldBy ? sendAt : null,
      held_by: plan?.heldBy ?? null,
    };
    const view = this.toView(row, to);
    const outcome = await this.committer.submit({
      orgId,
      actor,
      keyring,
      row,
      requestHash,
      view,
      caps: plan?.caps ?? null,
      body: req.body,
      ...(guard?.verdict === 'secure' && req.override
        ? { override: { reason: req.override.reason, categories: guard.categories } }
        : {}),
    });
    if (outcome.ok) {
      // A frequency cap may have moved the row later (defer mode): answer with it as stored.
      const moved = row.held_by === 'frequency_cap';
      return {
        message: moved ? this.toView(row, to) : view,
        replayed: false,
        ...(guard ? { guard } : {}),
      };
    }
    if ('refused' in outcome) throw new AppError(outcome.refused);
    // Another request with the same key committed first: answer as a replay of it.
    const replay = await this.replay(orgId, outcome.lostTo, requestHash);
    if (!replay) throw new Error('idempotency key vanished');
    return replay;
  }

  /**
   * Scans the text. Allowed: the outcome to report. Held: refused (policy `reject`, or no
   * portal), sent anyway (policy `override` with a provider's reason, audited with the
   * message), or diverted into a secure message, whose result is returned.
   */
  private async guard(
    orgId: string,
    actor: Actor,
    req: SendRequest,
    to: string,
    requestHash: string,
  ): Promise<GuardOutcome | AcceptResult> {
    const result = scan(req.body);
    if (result.verdict === 'allow') {
      if (req.override) {
        throw new AppError('validation_failed', 'override is only for text the guard holds.');
      }
      return { verdict: 'allow' };
    }
    const categories = categoriesOf(result.findings);
    const settings = (await this.opts.guardSettings?.(orgId)) ?? { action: 'divert' };
    if (req.override) {
      if (settings.action !== 'override') throw new AppError('guard_override_not_allowed');
      return { verdict: 'secure', action: 'overridden', categories };
    }
    if (settings.action === 'reject' || !this.opts.divert) {
      // Recorded for risk monitoring (many refusals: an integration sending PHI in plain SMS).
      await this.store.transaction((tx) =>
        appendAudit(tx, this.store.dialect, [
          {
            orgId,
            actor,
            action: 'guard.rejected',
            targetType: 'organisation',
            targetId: orgId,
            details: { categories: categories.join(',') },
          },
        ]),
      );
      throw new AppError(
        'content_requires_secure',
        `The text discloses health information (${categories.join(', ')}): send it as a secure message.`,
      );
    }
    const diverted = await this.opts.divert(orgId, actor, {
      to,
      body: req.body,
      program: req.program,
      from: req.from,
      idempotencyKey: req.idempotencyKey,
      requestHash,
      categories,
    });
    return diverted;
  }

  /** Waits until every accepted message is committed (shutdown, benchmarks). */
  flush(): Promise<void> {
    return this.committer.idle();
  }

  private async replay(
    orgId: string,
    key: string,
    requestHash: string,
  ): Promise<AcceptResult | null> {
    const existing = await this.store.db
      .selectFrom('idempotency_keys')
      .select(['request_hash', 'message_id'])
      .where('org_id', '=', orgId)
      .where('key', '=', key)
      .executeTakeFirst();
    if (!existing) return null;
    if (existing.request_hash !== requestHash) throw new AppError('idempotency_key_reused');
    const message = await this.find(orgId, existing.message_id);
    if (!message) throw new Error('idempotent message missing');
    return { message, replayed: true };
  }

  /** Writes one batch of accepted messages in a single transaction. */
  private async commitBatch(batch: PendingAccept[]): Promise<AcceptOutcome[]> {
    return this.store.transaction(async (tx) => {
      const outcomes: AcceptOutcome[] = batch.map(() => ({ ok: true }));
      // Whether each recipient gave prior express consent to the program (recorded opt-in).
      const express: boolean[] = batch.map(() => false);
      if (this.opts.gate) {
        // Consent is decided in the same transaction as the insert, so an opt-out committed
        // before this batch is always seen.
        const verdicts = await this.opts.gate(
          tx,
          batch.map((p) => ({
            orgId: p.orgId,
            toIndex: p.row.to_index,
            program: p.row.program as Program,
          })),
        );
        verdicts.forEach((v, i) => {
          if (v.refused !== null) outcomes[i] = { ok: false, refused: v.refused };
          express[i] = v.express;
        });
      }
      // Frequency caps, decided in this transaction so two batches never both take the last
      // slot; refused here, a message never gets an idempotency key.
      const capped = batch.some((p, i) => p.caps && outcomes[i]!.ok)
        ? await capBatchInTx(
            tx,
            this.store.dialect,
            batch.map((p, i): CapCandidate | null =>
              p.caps && outcomes[i]!.ok
                ? {
                    orgId: p.orgId,
                    toIndex: p.row.to_index,
                    program: p.row.program,
                    id: p.row.id,
                    sendAt: p.row.send_at,
                    body: p.body,
                    caps: p.caps,
                    // Without a recorded opt-in the FCC exemption's limits apply (consent/caps).
                    hasExpressConsent: express[i],
                  }
                : null,
            ),
            Date.now(),
          )
        : null;
      capped?.decisions.forEach((d, i) => {
        if (!d) return;
        if (!d.ok) outcomes[i] = { ok: false, refused: d.code };
        else if (d.deferred) {
          const row = batch[i]!.row;
          row.send_at = d.sendAt;
          row.not_before = d.sendAt;
          row.held_by = 'frequency_cap';
        }
      });
      const keyed = batch
        .map((p, i) => ({ p, i }))
        .filter(({ p, i }) => outcomes[i]!.ok && p.row.idempotency_key !== null);
      if (keyed.length > 0) {
        // Within the batch the first request with a key wins; across batches and processes
        // the primary key decides: a key that is already stored is lost to that request.
        const seen = new Set<string>();
        const fresh: typeof keyed = [];
        for (const k of keyed) {
          const id = `${k.p.orgId}\u0000${k.p.row.idempotency_key}`;
          if (seen.has(id)) outcomes[k.i] = { ok: false, lostTo: k.p.row.idempotency_key! };
          else {
            seen.add(id);
            fresh.push(k);
          }
        }
        for (const k of fresh) {
          const inserted = await tx
            .insertInto('idempotency_keys')
            .values({
              org_id: k.p.orgId,
              key: k.p.row.idempotency_key!,
              request_hash: k.p.requestHash,
              message_id: k.p.row.id,
              created_at: k.p.row.created_at,
            })
            .onConflict((oc) => oc.columns(['org_id', 'key']).doNothing())
            .returning('key')
            .executeTakeFirst();
          if (!inserted) outcomes[k.i] = { ok: false, lostTo: k.p.row.idempotency_key! };
        }
      }
      const winners = batch.filter((_, i) => outcomes[i]!.ok);
      await capped?.write(tx, new Set(winners.map((p) => p.row.id)), Date.now());
      await insertRows(
        tx,
        'messages',
        winners.map((p) => p.row),
        200,
      );
      await enqueueJobs(
        tx,
        winners.map((p) => ({ orgId: p.orgId, messageId: p.row.id, dueAt: p.row.send_at })),
      );
      if (this.opts.onAccepted && winners.length > 0) {
        await this.opts.onAccepted(
          tx,
          winners.map((p) => ({
            orgId: p.orgId,
            toIndex: p.row.to_index,
            to: p.view.to,
            at: Number(p.row.created_at),
            keyring: p.keyring,
          })),
        );
      }
      await appendAudit(
        tx,
        this.store.dialect,
        winners.map((p): AuditEntry => ({
          orgId: p.orgId,
          actor: p.actor,
          action: 'message.accepted',
          targetType: 'message',
          targetId: p.row.id,
          details: {
            program: p.row.program,
            segments: p.row.segments,
            sender: p.row.sender_id,
            ...(p.row.held_by ? { heldBy: p.row.held_by, notBefore: p.row.not_before } : {}),
            ...(p.override
              ? {
                  guardOverride: p.override.categories.join(','),
                  overrideReason: p.override.reason,
                }
              : {}),
          },
          subjectIndex: p.row.to_index,
        })),
      );
      return outcomes;
    });
  }

  private toView(r: Selectable<MessagesTable>, to: string, body?: string): MessageView {
    return {
      id: r.id,
      status: r.status as MessageStatus,
      to,
      from: r.from_number,
      program: r.program as Program,
      segments: r.segments,
      encoding: r.encoding as Encoding,
      sendAt: new Date(Number(r.send_at)).toISOString(),
      attempts: r.attempts,
      carrierMessageId: r.carrier_message_id,
      failureCode: r.failure_code,
      failureReason: r.failure_reason,
      createdAt: new Date(Number(r.created_at)).toISOString(),
      updatedAt: new Date(Number(r.updated_at)).toISOString(),
      sentAt: iso(r.sent_at),
      deliveredAt: iso(r.delivered_at),
      notBefore: iso(r.not_before),
      heldBy: (r.held_by as HeldBy | null) ?? null,
      ...(body !== undefined ? { body } : {}),
    };
  }

  private decryptTo(keyring: Keyring, r: Selectable<MessagesTable>): string {
    return decrypt(keyring, rowAad(r.org_id, 'messages', r.id, 'to'), r.to_enc);
  }

  /** The message without its body, or null (no audit: internal use). */
  private async find(orgId: string, id: string): Promise<MessageView | null> {
    const r = await this.store.db
      .selectFrom('messages')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('id', '=', id)
      .executeTakeFirst();
    if (!r) return null;
    return this.toView(r, this.decryptTo(await this.keyrings.get(orgId), r));
  }

  /** Reads one message with its body; audited as a view. */
  async get(orgId: string, id: string, actor: Actor): Promise<MessageView> {
    const r = await this.store.db
      .selectFrom('messages')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('id', '=', id)
      .executeTakeFirst();
    if (!r) throw new AppError('message_not_found');
    const keyring = await this.keyrings.get(orgId);
    const body = decrypt(keyring, rowAad(orgId, 'messages', id, 'body'), r.body_enc);
    await this.store.transaction((tx) =>
      appendAudit(tx, this.store.dialect, [
        {
          orgId,
          actor,
          action: 'message.read',
          targetType: 'message',
          targetId: id,
          subjectIndex: r.to_index,
        },
      ]),
    );
    return this.toView(r, this.decryptTo(keyring, r), body);
  }

  /** Lists messages newest first, without bodies; audited with the count returned. */
  async list(
    orgId: string,
    filter: ListFilter,
    actor: Actor,
  ): Promise<{ data: MessageView[]; nextCursor: string | null }> {
    const keyring = await this.keyrings.get(orgId);
    const toIndex = filter.to
      ? blindIndex(keyring, normalisePhone(filter.to, this.opts.phone))
      : undefined;
    // By recipient, the index on (org, to_index, id) finds every match however old. Other
    // filters look at no more than LIST_SCAN_WINDOW of the newest messages below the cursor,
    // so one request never walks a large history; a short page with a cursor means "keep
    // going".
    const filtered = !toIndex && Boolean(filter.status ?? filter.program);
    let window = this.store.db
      .selectFrom('messages')
      .selectAll()
      .where('org_id', '=', orgId)
      .orderBy('id', 'desc')
      .limit(filtered ? LIST_SCAN_WINDOW : filter.limit + 1);
    if (toIndex) window = window.where('to_index', '=', toIndex);
    if (toIndex && filter.status) window = window.where('status', '=', filter.status);
    if (toIndex && filter.program) window = window.where('program', '=', filter.program);
    if (filter.cursor) window = window.where('id', '<', filter.cursor);
    let q = this.store.db
      .selectFrom(window.as('m'))
      .selectAll()
      .orderBy('id', 'desc')
      .limit(filter.limit + 1);
    if (filter.status) q = q.where('status', '=', filter.status);
    if (filter.program) q = q.where('program', '=', filter.program);
    const rows = await q.execute();
    let nextCursor = rows.length > filter.limit ? (rows[filter.limit - 1]?.id ?? null) : null;
    if (filtered && nextCursor === null) {
      // Fewer matches than asked for: more may lie beyond the window, if it was full.
      let last = this.store.db
        .selectFrom('messages')
        .select('id')
        .where('org_id', '=', orgId)
        .orderBy('id', 'desc')
        .offset(LIST_SCAN_WINDOW - 1)
        .limit(1);
      if (filter.cursor) last = last.where('id', '<', filter.cursor);
      nextCursor = (await last.executeTakeFirst())?.id ?? null;
    }
    const page = rows.slice(0, filter.limit);
    await this.store.transaction((tx) =>
      appendAudit(tx, this.store.dialect, [
        {
          orgId,
          actor,
          action: 'message.listed',
          targetType: 'message',
          targetId: '*',
          details: { count: page.length },
          subjectIndex: toIndex,
        },
      ]),
    );
    return {
      data: page.map((r) => this.toView(r, this.decryptTo(keyring, r))),
      nextCursor,
    };
  }

  /** Cancels a message no worker has claimed yet. */
  async cancel(orgId: string, id: string, actor: Actor): Promise<MessageView> {
    await this.store.transaction(async (tx) => {
      const r = await tx
        .selectFrom('messages')
        .select(['status', 'to_index'])
        .where('org_id', '=', orgId)
        .where('id', '=', id)
        .executeTakeFirst();
      if (!r) throw new AppError('message_not_found');
      if (r.status !== 'queued' || !(await removeUnclaimedJob(tx, { orgId, messageId: id }))) {
        throw new AppError('message_not_cancelable');
      }
      await this.setStatusInTx(tx, [
        { orgId, id, status: 'canceled', failureCode: 'canceled_by_client' },
      ]);
      await appendAudit(tx, this.store.dialect, [
        {
          orgId,
          actor,
          action: 'message.canceled',
          targetType: 'message',
          targetId: id,
          subjectIndex: r.to_index,
        },
      ]);
    });
    const view = await this.find(orgId, id);
    if (!view) throw new AppError('message_not_found');
    return view;
  }

  /**
   * Queues a message from Tidings itself (a consent reply) inside `tx`: encrypted, audited and
   * queued like any other, but never held by consent, quiet hours or caps.
   */
  async enqueueSystemInTx(
    tx: Db,
    m: {
      orgId: string;
      to: string;
      body: string;
      program: Program;
      sender: { id: string; number: string };
    },
    now = Date.now(),
  ): Promise<string> {
    const sender = m.sender;
    // Cached by the caller before its transaction began (see the callers).
    const keyring = await this.keyrings.get(m.orgId);
    const id = newId('msg');
    const info = countSegments(m.body);
    const toIndex = blindIndex(keyring, m.to);
    await tx
      .insertInto('messages')
      .values({
        org_id: m.orgId,
        id,
        status: 'queued',
        program: m.program,
        sender_id: sender.id,
        from_number: sender.number,
        to_enc: encrypt(keyring, rowAad(m.orgId, 'messages', id, 'to'), m.to),
        to_index: toIndex,
        body_enc: encrypt(keyring, rowAad(m.orgId, 'messages', id, 'body'), m.body),
        segments: info.segments,
        encoding: info.encoding,
        send_at: now,
        attempts: 0,
        carrier_message_id: null,
        failure_code: null,
        failure_reason: null,
        idempotency_key: null,
        kind: 'consent_reply',
        created_at: now,
        updated_at: now,
        sent_at: null,
        delivered_at: null,
      })
      .execute();
    await enqueueJobs(tx, [{ orgId: m.orgId, messageId: id, dueAt: now }]);
    await this.opts.onAccepted?.(tx, [{ orgId: m.orgId, toIndex, to: m.to, at: now, keyring }]);
    await appendAudit(tx, this.store.dialect, [
      {
        orgId: m.orgId,
        actor: SYSTEM_ACTOR,
        action: 'message.accepted',
        targetType: 'message',
        targetId: id,
        details: {
          program: m.program,
          segments: info.segments,
          sender: sender.id,
          kind: 'consent_reply',
        },
        subjectIndex: toIndex,
      },
    ]);
    return id;
  }

  /**
   * Cancels, inside `tx`, every message still waiting to be sent to a recipient (all
   * programs, or those named), with `failureCode`. It walks the queue, not the message
   * history, so its cost follows the backlog. A job a worker holds right now is left to the
   * worker, which checks consent again before it submits. Returns the canceled ids.
   */
  async cancelQueuedToInTx(
    tx: Db,
    orgId: string,
    toIndex: string,
    programs: readonly Program[] | 'all',
    failureCode: string,
    now = Date.now(),
  ): Promise<string[]> {
    let q = tx
      .selectFrom('dispatch_jobs as j')
      .innerJoin('messages as m', (join) =>
        join.onRef('m.org_id', '=', 'j.org_id').onRef('m.id', '=', 'j.message_id'),
      )
      .select(['m.id as id'])
      .where('j.org_id', '=', orgId)
      .where('m.to_index', '=', toIndex)
      .where('m.status', '=', 'queued')
      .where('m.kind', '=', 'standard')
      .where((eb) => eb.or([eb('j.lease_until', 'is', null), eb('j.lease_until', '<', now)]));
    if (programs !== 'all') q = q.where('m.program', 'in', [...programs]);
    // On PostgreSQL the jobs are locked here, skipping those a worker's claim or its record
    // of a result holds (left to the worker, as above). Without the lock this transaction
    // deleted a job and then updated its message, while a worker recording a result had
    // updated the message and then deleted the job: a deadlock that failed the opt-out.
    if (this.store.dialect === 'postgres') q = q.forUpdate(['j']).skipLocked();
    const ids = (await q.execute()).map((r) => r.id);
    if (ids.length === 0) return [];
    for (let i = 0; i < ids.length; i += 500) {
      await tx
        .deleteFrom('dispatch_jobs')
        .where('org_id', '=', orgId)
        .where('message_id', 'in', ids.slice(i, i + 500))
        .execute();
    }
    await this.setStatusInTx(
      tx,
      ids.map((id) => ({ orgId, id, status: 'canceled' as const, failureCode })),
      now,
    );
    return ids;
  }

  /**
   * A recipient's other messages in a program, as a frequency cap counts them at dispatch:
   * their logged times, and (when a cap is close) their exact ones from the messages. Reads
   * only the capped history (send-log) and messages by id range: there is no index on the
   * recipient.
   */
  capHistory(
    orgId: string,
    toIndex: string,
    program: Program,
    excludeId: string,
  ): Promise<CapHistory> {
    return capHistory(this.store.db, orgId, toIndex, program, excludeId);
  }

  /** Dispatch deferred a capped message to `at`: count it then from now on. */
  relogCap(orgId: string, toIndex: string, program: Program, id: string, at: number) {
    return this.store.transaction((tx) =>
      relog(tx, this.store.dialect, orgId, toIndex, program, id, at),
    );
  }

  /** The message as the dispatch worker needs it: decrypted recipient and body. */
  async loadForDispatch(orgId: string, id: string): Promise<DispatchMessage | null> {
    return (await this.loadManyForDispatch([{ orgId, id }])).get(id) ?? null;
  }

  /**
   * The messages of a claimed batch, decrypted, in one query per organisation and 500 ids
   * (the dispatch worker's batch), by id; a missing one is absent.
   */
  async loadManyForDispatch(
    refs: readonly { orgId: string; id: string }[],
  ): Promise<Map<string, DispatchMessage>> {
    const out = new Map<string, DispatchMessage>();
    for (const [orgId, ids] of idsByOrg(refs, (r) => r.id)) {
      const keyring = await this.keyrings.get(orgId);
      const rows = await this.store.db
        .selectFrom('messages')
        .selectAll()
        .where('org_id', '=', orgId)
        .where('id', 'in', ids)
        .execute();
      for (const r of rows) {
        out.set(r.id, {
          status: r.status as MessageStatus,
          to: this.decryptTo(keyring, r),
          body: decrypt(keyring, rowAad(orgId, 'messages', r.id, 'body'), r.body_enc),
          from: r.from_number,
          senderId: r.sender_id,
          segments: r.segments,
          program: r.program as Program,
          toIndex: r.to_index,
          kind: r.kind as MessageKind,
        });
      }
    }
    return out;
  }

  /**
   * Applies status changes inside `tx` and queues a `message.status` webhook for each
   * organisation that has one. The single place message status is written.
   */
  async setStatusInTx(tx: Db, changes: readonly StatusChange[], now = Date.now()): Promise<void> {
    const events: OutboxEvent[] = [];
    // Changes that write the same values (a claimed batch going to `sending`, receipts going
    // to `delivered`, a batch going to `sent` but for each one's carrier id) are one
    // statement per organisation and 500 ids.
    const groups = new Map<
      string,
      { orgId: string; set: Record<string, unknown>; ids: string[]; carrierIds: string[] }
    >();
    for (const c of changes) {
      const set = {
        status: c.status,
        updated_at: now,
        ...(c.failureCode !== undefined ? { failure_code: c.failureCode } : {}),
        ...(c.failureReason !== undefined ? { failure_reason: c.failureReason } : {}),
        ...(c.attempts !== undefined ? { attempts: c.attempts } : {}),
        ...(c.heldUntil !== undefined
          ? { send_at: c.heldUntil.at, not_before: c.heldUntil.at, held_by: c.heldUntil.by }
          : {}),
        ...(c.status === 'sent' ? { sent_at: now } : {}),
        ...(c.status === 'delivered' ? { delivered_at: now } : {}),
      };
      const withCarrierId = c.carrierMessageId !== undefined;
      const key = `${c.orgId}|${withCarrierId}|${JSON.stringify(set)}`;
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { orgId: c.orgId, set, ids: [], carrierIds: [] }));
      g.ids.push(c.id);
      if (withCarrierId) g.carrierIds.push(c.carrierMessageId!);
      if (c.status !== 'sending' && (await this.orgs.hasWebhook(c.orgId, tx))) {
        events.push({
          orgId: c.orgId,
          type: 'message.status',
          payload: {
            messageId: c.id,
            status: c.status,
            ...(c.failureCode ? { failureCode: c.failureCode } : {}),
            at: new Date(now).toISOString(),
          },
        });
      }
    }
    for (const g of groups.values()) {
      for (let i = 0; i < g.ids.length; i += 500) {
        const ids = g.ids.slice(i, i + 500);
        const carrierIds = g.carrierIds.slice(i, i + 500);
        await tx
          .updateTable('messages')
          .set(g.set)
          .$if(carrierIds.length > 0, (q) =>
            q.set({
              carrier_message_id: sql<string>`case id ${sql.join(
                ids.map((id, k) => sql`when ${id} then ${carrierIds[k]}`),
                sql` `,
              )} end`,
            }),
          )
          .where('org_id', '=', g.orgId)
          .$if(ids.length === 1, (q) => q.where('id', '=', ids[0]!))
          .$if(ids.length > 1, (q) => q.where('id', 'in', ids))
          .execute();
      }
    }
    await enqueueWebhooks(tx, events, now);
  }

  /** The status of each of `ids` that exists (reminders and campaigns report progress). */
  async statuses(orgId: string, ids: readonly string[]): Promise<Map<string, MessageStatus>> {
    const out = new Map<string, MessageStatus>();
    for (let i = 0; i < ids.length; i += 500) {
      const rows = await this.store.db
        .selectFrom('messages')
        .select(['id', 'status'])
        .where('org_id', '=', orgId)
        .where('id', 'in', ids.slice(i, i + 500))
        .execute();
      for (const r of rows) out.set(r.id, r.status as MessageStatus);
    }
    return out;
  }

  /**
   * The messages with these carrier ids (for delivery receipts), by carrier id, in one query
   * per 500 ids; an id no message has is absent.
   */
  async findByCarrierIds(
    tx: Db,
    carrierMessageIds: readonly string[],
  ): Promise<Map<string, { orgId: string; id: string; status: MessageStatus }>> {
    const out = new Map<string, { orgId: string; id: string; status: MessageStatus }>();
    const unique = [...new Set(carrierMessageIds)];
    for (let i = 0; i < unique.length; i += 500) {
      const rows = await tx
        .selectFrom('messages')
        .select(['org_id', 'id', 'status', 'carrier_message_id'])
        .where('carrier_message_id', 'in', unique.slice(i, i + 500))
        .execute();
      for (const r of rows) {
        if (!out.has(r.carrier_message_id!)) {
          out.set(r.carrier_message_id!, {
            orgId: r.org_id,
            id: r.id,
            status: r.status as MessageStatus,
          });
        }
      }
    }
    return out;
  }

  /**
   * Records an inbound text: routed to the organisation owning the `to` number, stored
   * encrypted, audited, and announced by webhook. Returns null when no sender owns `to`.
   *
   * Once per carrier id: a carrier that delivers the same message again (a webhook retried
   * after a lost answer) finds it stored — unique on (org, sender, carrier id) — and gets
   * `duplicate: true`; it is neither audited, nor given to the keyword engine, nor announced
   * a second time.
   */
  async receiveInbound(msg: {
    from: string;
    to: string;
    body: string;
    carrierMessageId?: string | undefined;
  }): Promise<{ orgId: string; id: string; duplicate?: true } | null> {
    const sender = await this.orgs.senderByNumber(msg.to);
    if (!sender) return null;
    const orgId = sender.orgId;
    const from = normaliseReportedPhone(msg.from);
    const keyring = await this.keyrings.get(orgId);
    const id = newId('in');
    const now = Date.now();
    const carrierId = msg.carrierMessageId ?? null;
    const stored = await this.store.transaction(async (tx) => {
      const inserted = await tx
        .insertInto('inbound_messages')
        .values({
          org_id: orgId,
          id,
          sender_id: sender.id,
          to_number: sender.number,
          from_enc: encrypt(keyring, rowAad(orgId, 'inbound_messages', id, 'from'), from),
          from_index: blindIndex(keyring, from),
          body_enc: encrypt(keyring, rowAad(orgId, 'inbound_messages', id, 'body'), msg.body),
          carrier_message_id: carrierId,
          received_at: now,
        })
        .onConflict((oc) => oc.columns(['org_id', 'sender_id', 'carrier_message_id']).doNothing())
        .executeTakeFirst();
      if (carrierId !== null && Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) {
        const first = await tx
          .selectFrom('inbound_messages')
          .select('id')
          .where('org_id', '=', orgId)
          .where('sender_id', '=', sender.id)
          .where('carrier_message_id', '=', carrierId)
          .executeTakeFirstOrThrow();
        return { id: first.id, duplicate: true as const };
      }
      await appendAudit(tx, this.store.dialect, [
        {
          orgId,
          actor: { type: 'patient', id: `phone:${blindIndex(keyring, from).slice(0, 16)}` },
          action: 'inbound.received',
          targetType: 'inbound_message',
          targetId: id,
          details: { sender: sender.id },
          subjectIndex: blindIndex(keyring, from),
        },
      ]);
      await this.opts.onInbound?.(tx, {
        orgId,
        inboundId: id,
        sender: { id: sender.id, number: sender.number },
        from,
        fromIndex: blindIndex(keyring, from),
        body: msg.body,
        receivedAt: now,
        keyring,
      });
      if (await this.orgs.hasWebhook(orgId, tx)) {
        await enqueueWebhooks(
          tx,
          [{ orgId, type: 'message.inbound', payload: { inboundId: id } }],
          now,
        );
      }
      return { id };
    });
    return { orgId, ...stored };
  }

  /** One inbound message, decrypted (for webhook delivery and the API). */
  async inbound(orgId: string, id: string): Promise<InboundView | null> {
    const r = await this.store.db
      .selectFrom('inbound_messages')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('id', '=', id)
      .executeTakeFirst();
    if (!r) return null;
    const keyring = await this.keyrings.get(orgId);
    return {
      id: r.id,
      from: decrypt(keyring, rowAad(orgId, 'inbound_messages', id, 'from'), r.from_enc),
      to: r.to_number,
      body: decrypt(keyring, rowAad(orgId, 'inbound_messages', id, 'body'), r.body_enc),
      receivedAt: new Date(Number(r.received_at)).toISOString(),
    };
  }
}

export interface StatusChange {
  orgId: string;
  id: string;
  status: MessageStatus;
  carrierMessageId?: string;
  failureCode?: string;
  failureReason?: string;
  attempts?: number;
  /** Dispatch moved the message later (quiet hours, a frequency cap): its new send time. */
  heldUntil?: { at: number; by: HeldBy };
}
