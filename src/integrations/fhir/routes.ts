/**
 * @module integrations/fhir/routes
 * The FHIR R4 endpoints, one line each: method, path, who may call it, handler. API keys only
 * (an EHR or interface engine); a person's session reaches none of them. Bodies are
 * validated in the handler (map-resources) so every error, validation included, comes back
 * as an OperationOutcome.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Appointment, Bundle, Communication, Patient } from 'fhir/r4.js';
import type { Runtime } from '../../runtime/index.js';
import type { Access } from '../../identity/access.js';
import { actorOf } from '../../identity/access.js';
import { AppError } from '../../errors/index.js';
import type { AppointmentView, ReminderView } from '../../reminders/index.js';
import {
  appointmentInput,
  appointmentSchema,
  bundleSchema,
  FhirProblem,
  parseResource,
  patientSchema,
} from './map-resources.js';

export interface FhirRoute {
  method: 'GET' | 'POST' | 'PUT';
  url: string;
  access: Access;
  summary: string;
  handler: (rt: Runtime, req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
}

const WRITE: Access = { roles: [], scopes: ['appointments:write'] };
const READ: Access = { roles: [], scopes: ['appointments:read', 'messages:read'] };

function who(req: FastifyRequest) {
  if (!req.principal) throw new AppError('unauthenticated');
  return req.principal;
}

export function toFhirAppointment(a: AppointmentView): Appointment {
  const status: Record<AppointmentView['status'], Appointment['status']> = {
    booked: 'booked',
    confirmed: 'booked',
    canceled: 'cancelled',
    noshow: 'noshow',
    completed: 'fulfilled',
  };
  return {
    resourceType: 'Appointment',
    id: a.fhirId ?? a.id,
    identifier: [{ system: 'urn:tidings:appointment', value: a.id }],
    status: status[a.status],
    start: a.start,
    ...(a.durationMinutes ? { minutesDuration: a.durationMinutes } : {}),
    participant: [
      {
        actor: { reference: `Patient/${a.contactId}` },
        status: a.status === 'confirmed' ? 'accepted' : 'needs-action',
      },
    ],
    meta: { lastUpdated: a.updatedAt },
  };
}

/** Stores one Appointment; `patients` resolves its participant references. */
async function saveAppointment(
  rt: Runtime,
  req: FastifyRequest,
  body: unknown,
  fhirId: string,
  patients: (ref: string) => Patient | undefined,
): Promise<{ resource: Appointment; created: boolean }> {
  const a = parseResource(appointmentSchema, body) as Appointment;
  const contained = (ref: string) =>
    ref.startsWith('#')
      ? (a.contained?.find((c) => c.resourceType === 'Patient' && c.id === ref.slice(1)) as
          Patient | undefined)
      : patients(ref);
  const input = appointmentInput(a, fhirId, contained);
  const p = who(req);
  const before = await rt.reminders.exists(p.orgId, input.externalId);
  const r = await rt.reminders.upsertAppointment(p.orgId, actorOf(p), input);
  if (!r) throw new FhirProblem(404, 'not-found', 'No such Appointment to change');
  return { resource: toFhirAppointment(r.appointment), created: !before };
}

function statusOf(r: ReminderView): Communication['status'] {
  switch (r.status) {
    case 'sent':
    case 'delivered':
      return 'completed';
    case 'scheduled':
      return 'preparation';
    case 'failed':
      return 'stopped';
    case 'canceled':
    case 'skipped':
      return 'not-done';
  }
}

export const fhirRoutes: readonly FhirRoute[] = [
  {
    method: 'POST',
    url: '/fhir/Appointment',
    access: WRITE,
    summary: 'Create (or update, by id) an appointment; its reminders are planned',
    handler: async (rt, req, reply) => {
      const body = req.body as { id?: unknown } | undefined;
      const id = typeof body?.id === 'string' && body.id ? body.id : randomUUID();
      const { resource, created } = await saveAppointment(rt, req, req.body, id, () => undefined);
      return reply
        .code(created ? 201 : 200)
        .header('location', `Appointment/${resource.id}`)
        .send(resource);
    },
  },
  {
    method: 'PUT',
    url: '/fhir/Appointment/:id',
    access: WRITE,
    summary: 'Create or replace an appointment by its FHIR id; reminders are planned again',
    handler: async (rt, req, reply) => {
      const { id } = req.params as { id: string };
      if (!/^[A-Za-z0-9\-.]{1,64}$/.test(id)) throw new FhirProblem(400, 'invalid', 'Bad id');
      const body = req.body as { id?: unknown } | undefined;
      if (body?.id !== undefined && body.id !== id) {
        throw new FhirProblem(400, 'invalid', 'Appointment.id does not match the URL');
      }
      const { resource, created } = await saveAppointment(rt, req, req.body, id, () => undefined);
      return reply.code(created ? 201 : 200).send(resource);
    },
  },
  {
    method: 'POST',
    url: '/fhir',
    access: WRITE,
    summary: 'A transaction Bundle of Appointments and the Patients they refer to',
    handler: async (rt, req) => {
      const bundle = parseResource(bundleSchema, req.body);
      const patients = new Map<string, Patient>();
      for (const e of bundle.entry) {
        if (e.resource.resourceType !== 'Patient') continue;
        const p = parseResource(patientSchema, e.resource) as Patient;
        if (e.fullUrl) patients.set(e.fullUrl, p);
        if (p.id) patients.set(`Patient/${p.id}`, p);
      }
      const entries: NonNullable<Bundle['entry']> = [];
      for (const e of bundle.entry) {
        if (e.resource.resourceType === 'Patient') {
          entries.push({ response: { status: '200 OK' } });
          continue;
        }
        if (e.resource.resourceType !== 'Appointment') {
          throw new FhirProblem(422, 'not-supported', 'Only Appointment and Patient entries');
        }
        const fromUrl = /^Appointment\/([A-Za-z0-9\-.]{1,64})$/.exec(e.request?.url ?? '')?.[1];
        const own = (e.resource as { id?: unknown }).id;
        const id = fromUrl ?? (typeof own === 'string' && own ? own : randomUUID());
        const { resource, created } = await saveAppointment(rt, req, e.resource, id, (ref) =>
          patients.get(ref),
        );
        entries.push({
          response: {
            status: created ? '201 Created' : '200 OK',
            location: `Appointment/${resource.id}`,
          },
          resource,
        });
      }
      const out: Bundle = { resourceType: 'Bundle', type: 'transaction-response', entry: entries };
      return out;
    },
  },
  {
    method: 'GET',
    url: '/fhir/Communication',
    access: READ,
    summary: 'The reminder texts sent (or to be sent) to a patient, as Communications',
    handler: async (rt, req) => {
      const q = req.query as { patient?: unknown };
      const patient = typeof q.patient === 'string' ? q.patient.replace(/^Patient\//, '') : '';
      if (!/^rcn_[a-z0-9]{26}$/.test(patient)) {
        throw new FhirProblem(400, 'invalid', 'patient must be a Patient id from an Appointment');
      }
      const p = who(req);
      const reminders = await rt.reminders.remindersOfContact(p.orgId, patient);
      const entry: NonNullable<Bundle['entry']> = [];
      for (const r of reminders) {
        if (!r.messageId) continue;
        const m = await rt.messaging.get(p.orgId, r.messageId, actorOf(p));
        const c: Communication = {
          resourceType: 'Communication',
          id: r.messageId,
          status: statusOf(r),
          subject: { reference: `Patient/${patient}` },
          about: [{ reference: `Appointment/${r.appointmentId}` }],
          medium: [
            {
              coding: [
                {
                  system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationMode',
                  code: 'SMSWRIT',
                },
              ],
            },
          ],
          ...(m.sentAt ? { sent: m.sentAt } : {}),
          payload: [{ contentString: m.body ?? '' }],
        };
        entry.push({ resource: c });
      }
      const out: Bundle = { resourceType: 'Bundle', type: 'searchset', total: entry.length, entry };
      return out;
    },
  },
];
