/**
 * @module reminders/service
 * Appointments from the scheduling feeds (HL7v2, FHIR) and their reminder texts. An
 * appointment that arrives is planned (plan-reminders) and each reminder is accepted by the
 * send pipeline at once with its future `sendAt`, so consent, the content guard, quiet hours
 * and caps apply to it as to any text and the dispatch worker sends it when due (checking
 * consent again then). An appointment that moves is planned again (unchanged reminders are
 * kept, the rest canceled and replaced); one canceled, deleted or missed cancels what is
 * still queued. Replies (`C`, `R` …) act on the patient's next appointment, after the consent
 * engine has seen them. Owns `reminder_contacts`, `appointments`, `reminders`,
 * `reminder_settings` and `appointment_tasks`.
 */
import { DateTime, IANAZone } from 'luxon';
import type { Store, Db } from '../store/index.js';
import { appendAudit, type Actor } from '../audit/index.js';
import { blindIndex, decrypt, encrypt, rowAad, sha256Hex, type Keyring } from '../crypto/index.js';
import { AppError, isAppError } from '../errors/index.js';
import { newId } from '../ids/index.js';
import { normalisePhone, type PhonePolicy } from '../contacts/index.js';
import type { KeyringService } from '../orgs/index.js';
import type { AcceptResult, InboundEvent, Program } from '../messaging/index.js';
import { enqueueWebhooks } from '../webhooks/outbox.js';
import { classifyReply } from '../consent/classify.js';
import { DEFAULT_OFFSETS_MINUTES, planReminders, type SkippedReminder } from './plan-reminders.js';
import { DEFAULT_REPLY_WORDS, replyAction, type ReplyWords } from './reply-words.js';

export const APPOINTMENT_STATUSES = [
  'booked',
  'confirmed',
  'canceled',
  'noshow',
  'completed',
] as const;
export type AppointmentStatus = (typeof APPOINTMENT_STATUSES)[number];

/** Statuses whose reminders still go. */
const ACTIVE: readonly AppointmentStatus[] = ['booked', 'confirmed'];

export interface PatientInput {
  given?: string | undefined;
  family?: string | undefined;
  phone?: string | undefined;
  /** YYYY-MM-DD. */
  dob?: string | undefined;
  /** Medical record number: kept only as a blind index, for matching. */
  mrn?: string | undefined;
}

export interface AppointmentInput {
  /** The feed's key: HL7 filler (or placer) id, FHIR resource id. Unique per organisation. */
  externalId: string;
  source: 'hl7' | 'fhir' | 'api';
  placerId?: string | undefined;
  fillerId?: string | undefined;
  fhirId?: string | undefined;
  patient?: PatientInput | undefined;
  start?: number | undefined;
  durationMinutes?: number | undefined;
  location?: string | undefined;
  provider?: string | undefined;
  appointmentType?: string | undefined;
  status: AppointmentStatus;
}

export interface AppointmentView {
  id: string;
  externalId: string;
  source: string;
  placerId: string | null;
  fillerId: string | null;
  fhirId: string | null;
  contactId: string;
  start: string;
  durationMinutes: number | null;
  location: string | null;
  appointmentType: string;
  status: AppointmentStatus;
  bookedAt: string;
  createdAt: string;
  updatedAt: string;
}

/** A staff to-do left by a patient's reply (a reschedule request). Ids only, no PHI. */
export interface TaskView {
  id: string;
  appointmentId: string;
  externalId: string;
  kind: string;
  status: 'open' | 'done';
  inboundId: string | null;
  createdAt: string;
}

export type ReminderStatus = 'scheduled' | 'sent' | 'delivered' | 'failed' | 'canceled' | 'skipped';

export interface ReminderView {
  id: string;
  appointmentId: string;
  externalId: string;
  offsetMinutes: number;
  sendAt: string;
  status: ReminderStatus;
  messageId: string | null;
  reason: string | null;
}

export interface ScheduleSettings {
  offsetsMinutes: number[];
  /** An organisation template (typed slots); null: the built-in wording. */
  template: string | null;
  program: Program;
}

export interface ReminderSettings {
  /** The zone appointment times are shown in, and feed times without an offset are read in. */
  timeZone: string;
  /** The name reminders sign with; null: the organisation's name. */
  clinicName: string | null;
  replyWords: ReplyWords;
  /** By appointment type; `*` applies to every other type. */
  schedules: Record<string, ScheduleSettings>;
}

export const DEFAULT_REMINDER_SETTINGS: ReminderSettings = {
  timeZone: 'UTC',
  clinicName: null,
  replyWords: DEFAULT_REPLY_WORDS,
  schedules: {
    '*': { offsetsMinutes: [...DEFAULT_OFFSETS_MINUTES], template: null, program: 'care' },
  },
};

/** What the service needs from the parts around it (wired by the runtime). */
export interface ReminderDeps {
  phone: PhonePolicy;
  /** The send pipeline (`messaging.accept`). */
  accept: (
    orgId: string,
    actor: Actor,
    req: { to: string; body: string; program: Program; sendAt: string; idempotencyKey: string },
  ) => Promise<AcceptResult>;
  cancelMessage: (orgId: string, id: string, actor: Actor) => Promise<unknown>;
  messageStatuses: (orgId: string, ids: readonly string[]) => Promise<Map<string, string>>;
  nextOpening: (orgId: string, phone: string, program: Program, t: number) => Promise<number>;
  render: (
    orgId: string,
    template: string,
    variables: Record<string, string>,
  ) => Promise<{ body: string }>;
  templateSlots: (orgId: string, template: string) => Promise<readonly string[]>;
  orgName: (orgId: string) => Promise<string>;
  hasWebhook: (orgId: string, tx: Db) => Promise<boolean>;
}

/** Which appointments' patients a campaign goes to (a saved filter). */
export interface AppointmentFilter {
  /** ISO date-times: appointments starting in [from, to). */
  from?: string | undefined;
  to?: string | undefined;
  location?: string | undefined;
  appointmentType?: string | undefined;
  /** Default: booked and confirmed. */
  statuses?: AppointmentStatus[] | undefined;
}

export interface PlannedText {
  offsetMinutes: number;
  sendAt: string;
  moved: 'earlier' | 'later' | null;
  body: string;
}

export interface Preview {
  appointment: AppointmentView;
  reminders: ReminderView[];
  /** What planning the appointment now would give. */
  plan: PlannedText[];
  skipped: SkippedReminder[];
}

type AppointmentRow = Awaited<ReturnType<Reminders['loadAppointment']>>;

const iso = (ms: number | string) => new Date(Number(ms)).toISOString();

function isStatus(v: string): v is AppointmentStatus {
  return (APPOINTMENT_STATUSES as readonly string[]).includes(v);
}

/** Validates stored or given settings, filling what is missing with defaults. */
export function parseReminderSettings(json: unknown): ReminderSettings {
  const s = (typeof json === 'object' && json !== null ? json : {}) as Partial<ReminderSettings>;
  const timeZone = s.timeZone ?? DEFAULT_REMINDER_SETTINGS.timeZone;
  if (!IANAZone.isValidZone(timeZone)) {
    throw new AppError('validation_failed', 'timeZone must be an IANA zone, e.g. America/Chicago.');
  }
  const words = (xs: unknown, fallback: readonly string[]) =>
    Array.isArray(xs) && xs.every((x) => typeof x === 'string' && x.length > 0 && x.length <= 20)
      ? xs.map((x: string) => x.toLowerCase())
      : [...fallback];
  const schedules: Record<string, ScheduleSettings> = {};
  for (const [type, v] of Object.entries(s.schedules ?? DEFAULT_REMINDER_SETTINGS.schedules)) {
    const offsets = v.offsetsMinutes;
    if (
      !Array.isArray(offsets) ||
      offsets.length > 10 ||
      !offsets.every((o) => Number.isInteger(o) && o > 0 && o <= 60 * 24 * 60)
    ) {
      throw new AppError('validation_failed', 'offsetsMinutes must be up to 10 whole minutes.');
    }
    schedules[type] = {
      offsetsMinutes: offsets,
      template: typeof v.template === 'string' ? v.template : null,
      program: 'care',
    };
  }
  if (!schedules['*']) schedules['*'] = DEFAULT_REMINDER_SETTINGS.schedules['*']!;
  return {
    timeZone,
    clinicName: typeof s.clinicName === 'string' ? s.clinicName.slice(0, 60) : null,
    replyWords: {
      confirm: words(s.replyWords?.confirm, DEFAULT_REPLY_WORDS.confirm),
      reschedule: words(s.replyWords?.reschedule, DEFAULT_REPLY_WORDS.reschedule),
    },
    schedules,
  };
}

/**
 * "Reply C to confirm, R to reschedule, STOP to opt out." in the organisation's words. The
 * opt-out is part of it: without it a care text sent to a patient who never opted in fails
 * the healthcare exemption of the frequency caps (consent/caps), and the reminder is skipped.
 */
export function replyInstruction(words: ReplyWords): string {
  const c = (words.confirm[0] ?? 'c').toUpperCase();
  const r = (words.reschedule[0] ?? 'r').toUpperCase();
  return `Reply ${c} to confirm, ${r} to reschedule, STOP to opt out.`;
}

/** The length the healthcare exemption allows a text sent without express consent. */
const EXEMPT_MAX_CHARS = 160;
const STOP_WORD = /\bstop\b/i;

export class Reminders {
  /** The re-plan running or waiting last, per appointment (this process). */
  private readonly replanning = new Map<string, Promise<unknown>>();

  constructor(
    private readonly store: Store,
    private readonly keyrings: KeyringService,
    private readonly deps: ReminderDeps,
  ) {}

  async settings(orgId: string, db: Db = this.store.db): Promise<ReminderSettings> {
    const r = await db
      .selectFrom('reminder_settings')
      .select('settings')
      .where('org_id', '=', orgId)
      .executeTakeFirst();
    return parseReminderSettings(r ? JSON.parse(r.settings) : {});
  }

  async setSettings(orgId: string, input: unknown, actor: Actor): Promise<ReminderSettings> {
    const settings = parseReminderSettings(input);
    const now = Date.now();
    await this.store.transaction(async (tx) => {
      const json = JSON.stringify(settings);
      const done = await tx
        .updateTable('reminder_settings')
        .set({ settings: json, updated_at: now })
        .where('org_id', '=', orgId)
        .executeTakeFirst();
      if (Number(done.numUpdatedRows) === 0) {
        await tx
          .insertInto('reminder_settings')
          .values({ org_id: orgId, settings: json, updated_at: now })
          .execute();
      }
      await appendAudit(tx, this.store.dialect, [
        {
          orgId,
          actor,
          action: 'reminders.settings_changed',
          targetType: 'organisation',
          targetId: orgId,
        },
      ]);
    });
    return settings;
  }

  /**
   * Creates or updates a contact from a feed's patient (ADT); returns its id. Its upcoming
   * appointments are planned again, so reminders still queued follow a new number (or name)
   * instead of going to one that may no longer be the patient's.
   */
  async upsertContact(orgId: string, patient: PatientInput, actor: Actor): Promise<string | null> {
    // Without an MRN or a number that can be texted the contact could never be found again
    // (nor texted): nothing is stored, and the feed is told (HL7 AE).
    if (!patient.mrn && !this.phoneOf(patient)) return null;
    const keyring = await this.keyrings.get(orgId);
    const now = Date.now();
    const id = await this.store.transaction((tx) =>
      this.upsertContactInTx(tx, keyring, orgId, patient, now),
    );
    const upcoming = await this.store.db
      .selectFrom('appointments')
      .select('id')
      .where('org_id', '=', orgId)
      .where('contact_id', '=', id)
      .where('status', 'in', [...ACTIVE])
      .where('start_at', '>', now)
      .execute();
    for (const a of upcoming) await this.replan(orgId, actor, a.id);
    return id;
  }

  private phoneOf(p: PatientInput): string | null {
    if (!p.phone) return null;
    try {
      return normalisePhone(p.phone, this.deps.phone);
    } catch {
      return null;
    }
  }

  private async upsertContactInTx(
    tx: Db,
    keyring: Keyring,
    orgId: string,
    p: PatientInput,
    now: number,
  ): Promise<string> {
    const mrnIndex = p.mrn ? blindIndex(keyring, `mrn:${p.mrn}`) : null;
    const phone = this.phoneOf(p);
    const phoneIndex = phone ? blindIndex(keyring, phone) : null;
    let found: { id: string } | undefined;
    if (mrnIndex) {
      found = await tx
        .selectFrom('reminder_contacts')
        .select('id')
        .where('org_id', '=', orgId)
        .where('mrn_index', '=', mrnIndex)
        .executeTakeFirst();
    } else if (phoneIndex) {
      found = await tx
        .selectFrom('reminder_contacts')
        .select('id')
        .where('org_id', '=', orgId)
        .where('phone_index', '=', phoneIndex)
        .where('mrn_index', 'is', null)
        .executeTakeFirst();
    }
    const id = found?.id ?? newId('rcn');
    const enc = (col: string, v: string) =>
      encrypt(keyring, rowAad(orgId, 'reminder_contacts', id, col), v);
    const fields = {
      ...(p.given !== undefined || p.family !== undefined
        ? {
            name_enc: enc('name', JSON.stringify({ given: p.given ?? '', family: p.family ?? '' })),
          }
        : {}),
      ...(phone ? { phone_enc: enc('phone', phone), phone_index: phoneIndex } : {}),
      ...(p.dob ? { dob_enc: enc('dob', p.dob) } : {}),
    };
    if (found) {
      await tx
        .updateTable('reminder_contacts')
        .set({ ...fields, updated_at: now })
        .where('org_id', '=', orgId)
        .where('id', '=', id)
        .execute();
    } else {
      await tx
        .insertInto('reminder_contacts')
        .values({
          org_id: orgId,
          id,
          name_enc: null,
          phone_enc: null,
          phone_index: null,
          dob_enc: null,
          mrn_index: mrnIndex,
          created_at: now,
          updated_at: now,
          ...fields,
        })
        .execute();
    }
    return id;
  }

  /**
   * Creates or updates an appointment from a feed and plans its reminders again. Returns null
   * for a change to an appointment never seen that carries no start (a cancel of an unknown
   * booking): there is nothing to do.
   */
  async upsertAppointment(
    orgId: string,
    actor: Actor,
    input: AppointmentInput,
  ): Promise<{ appointment: AppointmentView; reminders: ReminderView[] } | null> {
    if (input.externalId.length === 0 || input.externalId.length > 200) {
      throw new AppError(
        'validation_failed',
        'The appointment needs an id of 1 to 200 characters.',
      );
    }
    const keyring = await this.keyrings.get(orgId);
    const now = Date.now();
    const id = await this.store.transaction(async (tx) => {
      const existing = await tx
        .selectFrom('appointments')
        .select(['id', 'contact_id'])
        .where('org_id', '=', orgId)
        .where('external_id', '=', input.externalId)
        .executeTakeFirst();
      if (!existing && input.start === undefined) return null;
      const contactId =
        input.patient && (input.patient.mrn || input.patient.phone)
          ? await this.upsertContactInTx(tx, keyring, orgId, input.patient, now)
          : (existing?.contact_id ??
            (await this.upsertContactInTx(tx, keyring, orgId, input.patient ?? {}, now)));
      const apptId = existing?.id ?? newId('apt');
      const provider =
        input.provider !== undefined
          ? encrypt(keyring, rowAad(orgId, 'appointments', apptId, 'provider'), input.provider)
          : undefined;
      const common = {
        contact_id: contactId,
        status: input.status,
        updated_at: now,
        ...(input.placerId !== undefined ? { placer_id: input.placerId } : {}),
        ...(input.fillerId !== undefined ? { filler_id: input.fillerId } : {}),
        ...(input.fhirId !== undefined ? { fhir_id: input.fhirId } : {}),
        ...(input.start !== undefined ? { start_at: input.start } : {}),
        ...(input.durationMinutes !== undefined ? { duration_minutes: input.durationMinutes } : {}),
        ...(input.location !== undefined ? { location: input.location.slice(0, 80) } : {}),
        ...(provider !== undefined ? { provider_enc: provider } : {}),
        ...(input.appointmentType !== undefined
          ? { appointment_type: input.appointmentType.slice(0, 100) }
          : {}),
      };
      if (existing) {
        await tx
          .updateTable('appointments')
          .set(common)
          .where('org_id', '=', orgId)
          .where('id', '=', apptId)
          .execute();
      } else {
        await tx
          .insertInto('appointments')
          .values({
            org_id: orgId,
            id: apptId,
            external_id: input.externalId,
            source: input.source,
            placer_id: null,
            filler_id: null,
            fhir_id: null,
            duration_minutes: null,
            location: null,
            provider_enc: null,
            appointment_type: '*',
            booked_at: now,
            created_at: now,
            start_at: input.start!,
            ...common,
          })
          .execute();
      }
      await appendAudit(tx, this.store.dialect, [
        {
          orgId,
          actor,
          action: 'appointment.upserted',
          targetType: 'appointment',
          targetId: apptId,
          details: { source: input.source, status: input.status, created: !existing },
        },
      ]);
      return apptId;
    });
    if (id === null) return null;
    await this.replan(orgId, actor, id);
    return this.getInternal(orgId, id);
  }

  /** Whether an appointment with this feed id exists. */
  async exists(orgId: string, externalId: string): Promise<boolean> {
    const r = await this.store.db
      .selectFrom('appointments')
      .select('id')
      .where('org_id', '=', orgId)
      .where('external_id', '=', externalId)
      .executeTakeFirst();
    return r !== undefined;
  }

  /** Changes the status of an appointment known by its feed id (S15, S17, S26). */
  async setStatusByExternalId(
    orgId: string,
    actor: Actor,
    externalId: string,
    status: AppointmentStatus,
  ): Promise<AppointmentView | null> {
    const r = await this.upsertAppointment(orgId, actor, { externalId, source: 'api', status });
    return r?.appointment ?? null;
  }

  async loadAppointment(orgId: string, id: string, db: Db = this.store.db) {
    const r = await db
      .selectFrom('appointments')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('id', '=', id)
      .executeTakeFirst();
    if (!r) throw new AppError('appointment_not_found');
    return r;
  }

  private async findRef(orgId: string, ref: string): Promise<NonNullable<AppointmentRow>> {
    const r = await this.store.db
      .selectFrom('appointments')
      .selectAll()
      .where('org_id', '=', orgId)
      .where((eb) => eb.or([eb('id', '=', ref), eb('external_id', '=', ref)]))
      .executeTakeFirst();
    if (!r) throw new AppError('appointment_not_found');
    return r;
  }

  private toView(r: NonNullable<AppointmentRow>): AppointmentView {
    return {
      id: r.id,
      externalId: r.external_id,
      source: r.source,
      placerId: r.placer_id,
      fillerId: r.filler_id,
      fhirId: r.fhir_id,
      contactId: r.contact_id,
      start: iso(r.start_at),
      durationMinutes: r.duration_minutes,
      location: r.location,
      appointmentType: r.appointment_type,
      status: isStatus(r.status) ? r.status : 'booked',
      bookedAt: iso(r.booked_at),
      createdAt: iso(r.created_at),
      updatedAt: iso(r.updated_at),
    };
  }

  /** The texts an appointment's reminders would carry and when, as of now. */
  private async plan(orgId: string, appt: NonNullable<AppointmentRow>, now = Date.now()) {
    const settings = await this.settings(orgId);
    const schedule = settings.schedules[appt.appointment_type] ?? settings.schedules['*']!;
    const keyring = await this.keyrings.get(orgId);
    const contact = await this.store.db
      .selectFrom('reminder_contacts')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('id', '=', appt.contact_id)
      .executeTakeFirst();
    const phone =
      contact?.phone_enc != null
        ? decrypt(
            keyring,
            rowAad(orgId, 'reminder_contacts', contact.id, 'phone'),
            contact.phone_enc,
          )
        : null;
    const phoneIndex = contact?.phone_index ?? null;
    if (!phone || !ACTIVE.includes(appt.status as AppointmentStatus)) {
      return {
        phone,
        phoneIndex,
        schedule,
        planned: [] as PlannedText[],
        skipped: [] as SkippedReminder[],
      };
    }
    const given =
      contact?.name_enc != null
        ? (
            JSON.parse(
              decrypt(
                keyring,
                rowAad(orgId, 'reminder_contacts', contact.id, 'name'),
                contact.name_enc,
              ),
            ) as { given: string }
          ).given
        : '';
    const provider =
      appt.provider_enc !== null
        ? decrypt(keyring, rowAad(orgId, 'appointments', appt.id, 'provider'), appt.provider_enc)
        : '';
    const body = await this.body(orgId, settings, schedule, {
      start: Number(appt.start_at),
      firstName: given,
      location: appt.location ?? '',
      provider,
    });
    const { planned, skipped } = await planReminders({
      start: Number(appt.start_at),
      bookedAt: Number(appt.booked_at),
      now,
      offsetsMinutes: schedule.offsetsMinutes,
      nextOpening: (t) => this.deps.nextOpening(orgId, phone, schedule.program, t),
    });
    return {
      phone,
      phoneIndex,
      schedule,
      planned: planned.map((p) => ({ ...p, sendAt: iso(p.sendAt), body })),
      skipped,
    };
  }

  /** The reminder's text: the schedule's template, or the built-in wording; never the type. */
  private async body(
    orgId: string,
    settings: ReminderSettings,
    schedule: ScheduleSettings,
    a: { start: number; firstName: string; location: string; provider: string },
  ): Promise<string> {
    const when = DateTime.fromMillis(a.start, { zone: settings.timeZone });
    const clinic = settings.clinicName ?? (await this.deps.orgName(orgId));
    const instruction = replyInstruction(settings.replyWords);
    if (schedule.template) {
      const all: Record<string, string> = {
        firstName: a.firstName,
        date: when.toFormat('yyyy-LL-dd'),
        time: when.toFormat('HH:mm'),
        clinicName: clinic,
        location: a.location,
        providerName: a.provider,
      };
      const slots = await this.deps.templateSlots(orgId, schedule.template);
      const vars = Object.fromEntries(slots.map((s) => [s, all[s] ?? '']));
      const { body } = await this.deps.render(orgId, schedule.template, vars);
      if (!/reply/i.test(body)) return `${body} ${instruction}`;
      return STOP_WORD.test(body) ? body : `${body} Reply STOP to opt out.`;
    }
    // The richest wording that fits the exemption's length: the location goes first, then
    // the provider, when their names make it too long.
    const at = a.location ? ` at ${a.location}` : '';
    const withWhom = a.provider ? ` with ${a.provider}` : '';
    const day = `${when.toFormat('ccc, LLL d')} at ${when.toFormat('h:mm a')}`;
    const text = (who: string, where: string) =>
      `${clinic}: reminder of your appointment${who} on ${day}${where}. ${instruction}`;
    const wordings = [text(withWhom, at), text(withWhom, ''), text('', '')];
    return wordings.find((w) => [...w].length <= EXEMPT_MAX_CHARS) ?? wordings.at(-1)!;
  }

  /**
   * Brings an appointment's queued reminders in line with its plan: keeps those unchanged,
   * cancels the others, and sends the missing ones through the pipeline.
   */
  async replan(orgId: string, actor: Actor, appointmentId: string): Promise<void> {
    // One at a time per appointment in this process (two feed messages for one appointment
    // can arrive together); across processes, the unique index on a scheduled reminder's
    // plan stops a second copy (below).
    const key = `${orgId}/${appointmentId}`;
    const before = this.replanning.get(key) ?? Promise.resolve();
    const mine = before.then(() => this.replanNow(orgId, actor, appointmentId));
    const settled = mine.catch(() => undefined);
    this.replanning.set(key, settled);
    try {
      await mine;
    } finally {
      if (this.replanning.get(key) === settled) this.replanning.delete(key);
    }
  }

  private async replanNow(orgId: string, actor: Actor, appointmentId: string): Promise<void> {
    const appt = await this.loadAppointment(orgId, appointmentId);
    const { phone, phoneIndex, schedule, planned } = await this.plan(orgId, appt);
    // The number's blind index (never the number) is part of the plan: a reminder queued to
    // a number the feed has since replaced is canceled and sent again to the new one.
    const hashOf = (p: PlannedText) =>
      sha256Hex(`${p.offsetMinutes}|${p.sendAt}|${p.body}|${phoneIndex ?? ''}`);
    const wanted = new Map(planned.map((p) => [hashOf(p), p]));
    const current = await this.store.db
      .selectFrom('reminders')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('appointment_id', '=', appointmentId)
      .where('status', '=', 'scheduled')
      .execute();
    const now = Date.now();
    for (const r of current) {
      if (wanted.has(r.plan_hash)) {
        wanted.delete(r.plan_hash);
        continue;
      }
      let status: ReminderStatus = 'canceled';
      if (r.message_id) {
        try {
          await this.deps.cancelMessage(orgId, r.message_id, actor);
        } catch (e) {
          if (!isAppError(e)) throw e;
          status = 'sent';
        }
      }
      await this.store.db
        .updateTable('reminders')
        .set({
          status,
          reason:
            status === 'canceled'
              ? ACTIVE.includes(appt.status as AppointmentStatus)
                ? 'replanned'
                : `appointment_${appt.status}`
              : null,
          updated_at: now,
        })
        .where('org_id', '=', orgId)
        .where('id', '=', r.id)
        .execute();
    }
    if (!phone) return;
    for (const [hash, p] of wanted) {
      const id = newId('rem');
      const inserted = await this.store.db
        .insertInto('reminders')
        .values({
          org_id: orgId,
          id,
          appointment_id: appointmentId,
          offset_minutes: p.offsetMinutes,
          send_at: Date.parse(p.sendAt),
          plan_hash: hash,
          message_id: null,
          status: 'scheduled',
          reason: null,
          created_at: now,
          updated_at: now,
        })
        .onConflict((oc) => oc.doNothing())
        .executeTakeFirst();
      // Another process planned the same reminder a moment ago: it sends it.
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) continue;
      let update: { message_id: string | null; status: ReminderStatus; reason: string | null };
      try {
        const r = await this.deps.accept(orgId, actor, {
          to: phone,
          body: p.body,
          program: schedule.program,
          sendAt: p.sendAt,
          idempotencyKey: `reminder:${id}`,
        });
        update = { message_id: r.message.id, status: 'scheduled', reason: null };
      } catch (e) {
        if (!isAppError(e)) throw e;
        // Refused by the pipeline (opted out, consent required …): recorded, not retried.
        update = { message_id: null, status: 'skipped', reason: e.code };
      }
      await this.store.db
        .updateTable('reminders')
        .set({ ...update, updated_at: Date.now() })
        .where('org_id', '=', orgId)
        .where('id', '=', id)
        .execute();
    }
  }

  private async remindersOf(
    orgId: string,
    rows: readonly {
      id: string;
      appointment_id: string;
      offset_minutes: number;
      send_at: number;
      status: string;
      message_id: string | null;
      reason: string | null;
      external_id: string;
    }[],
  ): Promise<ReminderView[]> {
    const ids = rows
      .filter((r) => r.status === 'scheduled' && r.message_id)
      .map((r) => r.message_id!);
    const statuses =
      ids.length > 0 ? await this.deps.messageStatuses(orgId, ids) : new Map<string, string>();
    return rows.map((r) => {
      let status = r.status as ReminderStatus;
      const m = r.message_id ? statuses.get(r.message_id) : undefined;
      if (status === 'scheduled' && m) {
        if (m === 'sent' || m === 'delivered' || m === 'failed' || m === 'canceled') status = m;
        else if (m === 'read') status = 'delivered';
        else if (m === 'expired') status = 'failed';
      }
      return {
        id: r.id,
        appointmentId: r.appointment_id,
        externalId: r.external_id,
        offsetMinutes: r.offset_minutes,
        sendAt: iso(r.send_at),
        status,
        messageId: r.message_id,
        reason: r.reason,
      };
    });
  }

  private reminderQuery(orgId: string) {
    return this.store.db
      .selectFrom('reminders as r')
      .innerJoin('appointments as a', (j) =>
        j.onRef('a.org_id', '=', 'r.org_id').onRef('a.id', '=', 'r.appointment_id'),
      )
      .select([
        'r.id',
        'r.appointment_id',
        'r.offset_minutes',
        'r.send_at',
        'r.status',
        'r.message_id',
        'r.reason',
        'a.external_id',
      ])
      .where('r.org_id', '=', orgId);
  }

  /** Reminders of an organisation by send time (`tidings reminders list`). */
  async listReminders(
    orgId: string,
    opts: { status?: ReminderStatus | undefined; limit?: number } = {},
  ): Promise<ReminderView[]> {
    const rows = await this.reminderQuery(orgId)
      .orderBy('r.send_at', 'asc')
      .limit(opts.limit ?? 1000)
      .execute();
    const views = await this.remindersOf(orgId, rows);
    return opts.status ? views.filter((v) => v.status === opts.status) : views;
  }

  private async getInternal(orgId: string, id: string) {
    const appt = await this.loadAppointment(orgId, id);
    const rows = await this.reminderQuery(orgId)
      .where('r.appointment_id', '=', id)
      .orderBy('r.send_at', 'asc')
      .execute();
    return { appointment: this.toView(appt), reminders: await this.remindersOf(orgId, rows) };
  }

  /** One appointment (by id or feed id) with its reminders; audited as a read. */
  async get(
    orgId: string,
    ref: string,
    actor: Actor,
  ): Promise<{ appointment: AppointmentView; reminders: ReminderView[] }> {
    const appt = await this.findRef(orgId, ref);
    await this.store.transaction((tx) =>
      appendAudit(tx, this.store.dialect, [
        { orgId, actor, action: 'appointment.read', targetType: 'appointment', targetId: appt.id },
      ]),
    );
    return this.getInternal(orgId, appt.id);
  }

  /** Appointments newest first; audited with the count returned. */
  async list(
    orgId: string,
    filter: { status?: AppointmentStatus | undefined; cursor?: string | undefined; limit: number },
    actor: Actor,
  ): Promise<{ data: AppointmentView[]; nextCursor: string | null }> {
    let q = this.store.db
      .selectFrom('appointments')
      .selectAll()
      .where('org_id', '=', orgId)
      .orderBy('id', 'desc')
      .limit(filter.limit + 1);
    if (filter.status) q = q.where('status', '=', filter.status);
    if (filter.cursor) q = q.where('id', '<', filter.cursor);
    const rows = await q.execute();
    const page = rows.slice(0, filter.limit);
    await this.store.transaction((tx) =>
      appendAudit(tx, this.store.dialect, [
        {
          orgId,
          actor,
          action: 'appointment.listed',
          targetType: 'appointment',
          targetId: '*',
          details: { count: page.length },
        },
      ]),
    );
    return {
      data: page.map((r) => this.toView(r)),
      nextCursor: rows.length > filter.limit ? (page.at(-1)?.id ?? null) : null,
    };
  }

  /**
   * What will be sent when (`tidings reminders preview`, the console). With an actor (the
   * API), audited as a read of the appointment: the texts carry the patient's first name.
   */
  async preview(orgId: string, ref: string, actor?: Actor): Promise<Preview> {
    const appt = await this.findRef(orgId, ref);
    if (actor) {
      await this.store.transaction((tx) =>
        appendAudit(tx, this.store.dialect, [
          {
            orgId,
            actor,
            action: 'appointment.read',
            targetType: 'appointment',
            targetId: appt.id,
            details: { preview: true },
          },
        ]),
      );
    }
    const { planned, skipped } = await this.plan(orgId, appt);
    const { appointment, reminders } = await this.getInternal(orgId, appt.id);
    return { appointment, reminders, plan: planned, skipped };
  }

  /**
   * The second inbound hook, after the consent engine in the same transaction: a reply that
   * is a consent keyword is the consent engine's alone; a confirm or reschedule word acts on
   * the sender's next active appointment, announces it by webhook, and (reschedule) leaves a
   * task for staff.
   */
  async onInbound(tx: Db, e: InboundEvent): Promise<void> {
    if (classifyReply(e.body).intent !== 'none') return;
    const settings = await this.settings(e.orgId, tx);
    const action = replyAction(e.body, settings.replyWords);
    if (!action) return;
    const appt = await tx
      .selectFrom('appointments as a')
      .innerJoin('reminder_contacts as c', (j) =>
        j.onRef('c.org_id', '=', 'a.org_id').onRef('c.id', '=', 'a.contact_id'),
      )
      .select(['a.id', 'a.external_id', 'a.status'])
      .where('a.org_id', '=', e.orgId)
      .where('c.phone_index', '=', e.fromIndex)
      .where('a.status', 'in', [...ACTIVE])
      .where('a.start_at', '>', e.receivedAt)
      .orderBy('a.start_at', 'asc')
      .limit(1)
      .executeTakeFirst();
    if (!appt) return;
    const payload: Record<string, unknown> = {
      appointmentId: appt.id,
      externalId: appt.external_id,
      inboundId: e.inboundId,
    };
    const patient: Actor = { type: 'patient', id: `phone:${e.fromIndex.slice(0, 16)}` };
    if (action === 'confirm') {
      await tx
        .updateTable('appointments')
        .set({ status: 'confirmed', updated_at: e.receivedAt })
        .where('org_id', '=', e.orgId)
        .where('id', '=', appt.id)
        .execute();
      payload.status = 'confirmed';
    } else {
      const taskId = newId('tsk');
      await tx
        .insertInto('appointment_tasks')
        .values({
          org_id: e.orgId,
          id: taskId,
          appointment_id: appt.id,
          kind: 'reschedule_request',
          status: 'open',
          inbound_id: e.inboundId,
          created_at: e.receivedAt,
        })
        .execute();
      payload.taskId = taskId;
    }
    await appendAudit(tx, this.store.dialect, [
      {
        orgId: e.orgId,
        actor: patient,
        action: 'appointment.status_changed',
        targetType: 'appointment',
        targetId: appt.id,
        details: { reply: action, from: appt.status },
        subjectIndex: e.fromIndex,
      },
    ]);
    if (await this.deps.hasWebhook(e.orgId, tx)) {
      await enqueueWebhooks(
        tx,
        [
          {
            orgId: e.orgId,
            type:
              action === 'confirm' ? 'appointment.confirmed' : 'appointment.reschedule_requested',
            payload,
          },
        ],
        e.receivedAt,
      );
    }
  }

  /** The reminders of every appointment of one contact (FHIR Communication), oldest first. */
  async remindersOfContact(orgId: string, contactId: string): Promise<ReminderView[]> {
    const rows = await this.reminderQuery(orgId)
      .where('a.contact_id', '=', contactId)
      .orderBy('r.send_at', 'asc')
      .limit(1000)
      .execute();
    return this.remindersOf(orgId, rows);
  }

  /**
   * The patients of the appointments a filter selects (a campaign's saved filter): each
   * number once, with the first name for a `firstName` slot.
   */
  async recipientsFor(
    orgId: string,
    filter: AppointmentFilter,
  ): Promise<{ phone: string; firstName: string }[]> {
    let q = this.store.db
      .selectFrom('appointments as a')
      .innerJoin('reminder_contacts as c', (j) =>
        j.onRef('c.org_id', '=', 'a.org_id').onRef('c.id', '=', 'a.contact_id'),
      )
      .select(['c.id', 'c.phone_enc', 'c.phone_index', 'c.name_enc'])
      .where('a.org_id', '=', orgId)
      .where('c.phone_enc', 'is not', null)
      .where('a.status', 'in', filter.statuses ?? [...ACTIVE]);
    if (filter.from) q = q.where('a.start_at', '>=', Date.parse(filter.from));
    if (filter.to) q = q.where('a.start_at', '<', Date.parse(filter.to));
    if (filter.location) q = q.where('a.location', '=', filter.location);
    if (filter.appointmentType) q = q.where('a.appointment_type', '=', filter.appointmentType);
    const keyring = await this.keyrings.get(orgId);
    const seen = new Set<string>();
    const out: { phone: string; firstName: string }[] = [];
    for (const r of await q.orderBy('a.start_at', 'asc').limit(100_000).execute()) {
      if (!r.phone_index || seen.has(r.phone_index)) continue;
      seen.add(r.phone_index);
      const aad = (col: string) => rowAad(orgId, 'reminder_contacts', r.id, col);
      const name = r.name_enc
        ? (JSON.parse(decrypt(keyring, aad('name'), r.name_enc)) as { given: string }).given
        : '';
      out.push({ phone: decrypt(keyring, aad('phone'), r.phone_enc!), firstName: name });
    }
    return out;
  }

  /** Open staff tasks (reschedule requests), oldest first. */
  async tasks(orgId: string): Promise<TaskView[]> {
    const rows = await this.store.db
      .selectFrom('appointment_tasks as t')
      .innerJoin('appointments as a', (j) =>
        j.onRef('a.org_id', '=', 't.org_id').onRef('a.id', '=', 't.appointment_id'),
      )
      .select([
        't.id',
        't.appointment_id',
        't.kind',
        't.status',
        't.inbound_id',
        't.created_at',
        'a.external_id',
      ])
      .where('t.org_id', '=', orgId)
      .where('t.status', '=', 'open')
      .orderBy('t.created_at', 'asc')
      .orderBy('t.id', 'asc')
      .limit(1000)
      .execute();
    return rows.map((r) => ({
      id: r.id,
      appointmentId: r.appointment_id,
      externalId: r.external_id,
      kind: r.kind,
      status: r.status as TaskView['status'],
      inboundId: r.inbound_id,
      createdAt: iso(r.created_at),
    }));
  }

  /** Open staff tasks for the API; audited with the count returned. */
  async listTasks(orgId: string, actor: Actor): Promise<{ data: TaskView[] }> {
    const data = await this.tasks(orgId);
    await this.store.transaction((tx) =>
      appendAudit(tx, this.store.dialect, [
        {
          orgId,
          actor,
          action: 'appointment.tasks_listed',
          targetType: 'appointment_task',
          targetId: '*',
          details: { count: data.length },
        },
      ]),
    );
    return { data };
  }

  /**
   * Closes a staff task (the patient was called back). Closing one already done changes
   * nothing and is not audited again.
   */
  async completeTask(
    orgId: string,
    id: string,
    actor: Actor,
  ): Promise<{ id: string; status: 'done' }> {
    await this.store.transaction(async (tx) => {
      const task = await tx
        .selectFrom('appointment_tasks')
        .select(['id', 'status', 'appointment_id'])
        .where('org_id', '=', orgId)
        .where('id', '=', id)
        .executeTakeFirst();
      if (!task) throw new AppError('task_not_found');
      if (task.status === 'done') return;
      await tx
        .updateTable('appointment_tasks')
        .set({ status: 'done' })
        .where('org_id', '=', orgId)
        .where('id', '=', id)
        .execute();
      await appendAudit(tx, this.store.dialect, [
        {
          orgId,
          actor,
          action: 'appointment.task_done',
          targetType: 'appointment_task',
          targetId: id,
          details: { appointmentId: task.appointment_id },
        },
      ]);
    });
    return { id, status: 'done' };
  }
}
