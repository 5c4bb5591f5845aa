/**
 * @module integrations/fhir/poll-appointments
 * Pulls upcoming Appointments from an EHR's FHIR R4 server, for one that cannot push
 * (FHIR_BASE_URL, FHIR_BEARER_TOKEN, FHIR_POLL_ORG): every interval it searches
 * `Appointment?date=ge{now}&_lastUpdated=gt{last}`, follows the searchset's `next` links
 * (FHIR R4 3.1.1.5.5 paging), reads each Appointment's Patient, and upserts it exactly as
 * `PUT /fhir/Appointment/{id}` does. `last` is the newest `meta.lastUpdated` seen (the
 * server's clock, not ours), stored per organisation and server after each round
 * (`fhir_poll_cursors`, owned here), so a restart asks only for what changed meanwhile; with
 * none stored the first search takes everything upcoming, which is safe because an
 * unchanged appointment changes nothing. The bearer token
 * goes only to the base URL's origin: a `next` link elsewhere is not followed. One
 * Appointment that cannot be used is logged (its id and why) and skipped. Logs carry ids and
 * counts, never patient data.
 */
import type { Appointment, Bundle, Patient } from 'fhir/r4.js';
import type { Logger } from '../../observability/index.js';
import type { Store } from '../../store/index.js';
import type { Reminders } from '../../reminders/index.js';
import type { Actor } from '../../audit/index.js';
import {
  appointmentInput,
  appointmentSchema,
  FhirProblem,
  parseResource,
  patientSchema,
} from './map-resources.js';

export interface FhirPollOptions {
  /** The server's base, e.g. https://ehr.example.org/fhir/R4 (no trailing slash needed). */
  baseUrl: string;
  bearerToken: string | undefined;
  orgId: string;
  intervalMs: number;
  /** Per request. */
  timeoutMs?: number;
}

export interface PollResult {
  pages: number;
  upserted: number;
  skipped: number;
}

const POLL_ACTOR: Actor = { type: 'system', id: 'fhir-poll' };
/** A runaway server (or a `next` loop) stops here; the rest comes next round. */
const MAX_PAGES = 100;

export class FhirPoller {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private lastUpdated: string | undefined;
  private cursorLoaded = false;
  private readonly base: URL;

  constructor(
    private readonly store: Store,
    private readonly reminders: Reminders,
    private readonly log: Logger,
    readonly opts: FhirPollOptions,
  ) {
    this.base = new URL(opts.baseUrl.replace(/\/*$/, '/'));
  }

  startFhirPoller(): void {
    if (this.timer) return;
    const tick = () => {
      if (this.running) return;
      this.running = this.pollOnce()
        .catch((e: unknown) =>
          this.log.error(
            {
              err: e instanceof Error ? e.name : 'error',
              status: e instanceof FhirPollError ? e.status : undefined,
            },
            'fhir poll failed',
          ),
        )
        .finally(() => (this.running = undefined));
    };
    this.timer = setInterval(tick, this.opts.intervalMs);
    this.timer.unref();
    tick();
  }

  async stopFhirPoller(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One round: every page of changed upcoming Appointments. */
  async pollOnce(now = Date.now()): Promise<PollResult> {
    if (!this.cursorLoaded) {
      this.lastUpdated = await this.loadCursor();
      this.cursorLoaded = true;
    }
    const first = new URL('Appointment', this.base);
    first.searchParams.set('date', `ge${new Date(now).toISOString()}`);
    if (this.lastUpdated) first.searchParams.set('_lastUpdated', `gt${this.lastUpdated}`);
    const result: PollResult = { pages: 0, upserted: 0, skipped: 0 };
    const patients = new Map<string, Patient | undefined>();
    let newest = this.lastUpdated;
    let url: URL | undefined = first;
    while (url && result.pages < MAX_PAGES) {
      const bundle = (await this.get(url)) as Bundle<Appointment | Patient>;
      result.pages++;
      const included = new Map<string, Patient>();
      for (const e of bundle.entry ?? []) {
        // `_include`d Patients, when the server sends them, save a read each.
        const p = patientSchema.safeParse(e.resource);
        if (p.success && p.data.id) included.set(`Patient/${p.data.id}`, p.data as Patient);
      }
      for (const e of bundle.entry ?? []) {
        if (e.resource?.resourceType !== 'Appointment') continue;
        const changed = e.resource.meta?.lastUpdated;
        if (await this.save(e.resource, included, patients)) result.upserted++;
        else result.skipped++;
        if (changed && (!newest || Date.parse(changed) > Date.parse(newest))) newest = changed;
      }
      url = this.nextOf(bundle);
    }
    if (newest !== this.lastUpdated && newest !== undefined) await this.saveCursor(newest);
    this.lastUpdated = newest;
    this.log.info({ orgId: this.opts.orgId, ...result }, 'fhir poll done');
    return result;
  }

  /** Where the last round stopped, for this organisation and server. */
  private async loadCursor(): Promise<string | undefined> {
    const row = await this.store.db
      .selectFrom('fhir_poll_cursors')
      .select('last_updated')
      .where('org_id', '=', this.opts.orgId)
      .where('base_url', '=', this.base.href)
      .executeTakeFirst();
    return row?.last_updated;
  }

  private async saveCursor(lastUpdated: string): Promise<void> {
    const row = {
      org_id: this.opts.orgId,
      base_url: this.base.href,
      last_updated: lastUpdated,
      updated_at: Date.now(),
    };
    await this.store.db
      .insertInto('fhir_poll_cursors')
      .values(row)
      .onConflict((oc) =>
        oc
          .columns(['org_id', 'base_url'])
          .doUpdateSet({ last_updated: lastUpdated, updated_at: row.updated_at }),
      )
      .execute();
  }

  private async save(
    resource: Appointment,
    included: Map<string, Patient>,
    cache: Map<string, Patient | undefined>,
  ): Promise<boolean> {
    const id = resource.id;
    try {
      if (!id) throw new FhirProblem(400, 'invalid', 'Appointment.id is missing');
      const a = parseResource(appointmentSchema, resource) as Appointment;
      // Refused before any Patient is read: no patient data is fetched for a proposal.
      appointmentInput(a, id, () => undefined);
      const refs = a.participant
        .map((p) => p.actor?.reference ?? '')
        .filter((r) => /^Patient\/[A-Za-z0-9\-.]{1,64}$/.test(r));
      const found = new Map<string, Patient>();
      for (const ref of refs) {
        const p = included.get(ref) ?? (await this.patient(ref, cache));
        if (p) found.set(ref, p);
      }
      const input = appointmentInput(a, id, (ref) => found.get(ref));
      await this.reminders.upsertAppointment(this.opts.orgId, POLL_ACTOR, input);
      return true;
    } catch (e) {
      if (!(e instanceof FhirProblem)) throw e;
      // The message names elements, never values (map-resources).
      this.log.warn({ fhirId: id, problem: e.message }, 'fhir appointment skipped');
      return false;
    }
  }

  /** `Patient/{id}` from the server, once a round; undefined when it cannot be read. */
  private async patient(
    ref: string,
    cache: Map<string, Patient | undefined>,
  ): Promise<Patient | undefined> {
    if (cache.has(ref)) return cache.get(ref);
    let p: Patient | undefined;
    try {
      p = parseResource(patientSchema, await this.get(new URL(ref, this.base))) as Patient;
    } catch (e) {
      if (!(e instanceof FhirProblem) && !(e instanceof FhirPollError)) throw e;
      this.log.warn({ ref }, 'fhir patient not readable');
    }
    cache.set(ref, p);
    return p;
  }

  /** The searchset's `next` link, if it stays on the base URL's origin. */
  private nextOf(bundle: Bundle<Appointment | Patient>): URL | undefined {
    const href = bundle.link?.find((l) => l.relation === 'next')?.url;
    if (!href) return undefined;
    const next = new URL(href, this.base);
    if (next.origin !== this.base.origin) {
      this.log.warn('fhir next link on another origin not followed');
      return undefined;
    }
    return next;
  }

  private async get(url: URL): Promise<unknown> {
    const res = await fetch(url, {
      headers: {
        accept: 'application/fhir+json',
        ...(this.opts.bearerToken ? { authorization: `Bearer ${this.opts.bearerToken}` } : {}),
      },
      signal: AbortSignal.timeout(this.opts.timeoutMs ?? 30_000),
    });
    if (!res.ok) {
      await res.body?.cancel();
      throw new FhirPollError(res.status);
    }
    return res.json();
  }
}

/** The FHIR server answered with an error status. */
export class FhirPollError extends Error {
  constructor(readonly status: number) {
    super(`FHIR server answered ${status}`);
    this.name = 'FhirPollError';
  }
}
