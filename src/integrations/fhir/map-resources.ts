/**
 * @module integrations/fhir/map-resources
 * FHIR R4 Appointment and Patient in, validated (zod, over the @types/fhir R4 shapes) and
 * mapped to what reminders needs; an OperationOutcome out for anything wrong. Pure. Only the
 * elements Tidings uses are checked strictly; the rest of a resource is accepted and ignored.
 */
import { z } from 'zod';
import type { Appointment, OperationOutcome, Patient } from 'fhir/r4.js';
import type { AppointmentInput, AppointmentStatus, PatientInput } from '../../reminders/index.js';

const coding = z.object({ system: z.string().optional(), code: z.string().optional() }).loose();
const concept = z
  .object({ coding: z.array(coding).optional(), text: z.string().optional() })
  .loose();
const reference = z
  .object({ reference: z.string().optional(), display: z.string().optional() })
  .loose();
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

export const patientSchema = z
  .object({
    resourceType: z.literal('Patient'),
    id: z.string().regex(FHIR_ID).optional(),
    identifier: z
      .array(
        z
          .object({
            type: concept.optional(),
            system: z.string().optional(),
            value: z.string().max(100).optional(),
          })
          .loose(),
      )
      .optional(),
    name: z
      .array(
        z
          .object({
            family: z.string().max(100).optional(),
            given: z.array(z.string().max(100)).optional(),
            use: z.string().optional(),
          })
          .loose(),
      )
      .optional(),
    telecom: z
      .array(
        z
          .object({
            system: z.string().optional(),
            value: z.string().max(40).optional(),
            use: z.string().optional(),
          })
          .loose(),
      )
      .optional(),
    birthDate: z
      .string()
      .regex(/^\d{4}(-\d{2}(-\d{2})?)?$/)
      .optional(),
  })
  .loose();

export const appointmentSchema = z
  .object({
    resourceType: z.literal('Appointment'),
    id: z.string().regex(FHIR_ID).optional(),
    identifier: z
      .array(
        z.object({ system: z.string().optional(), value: z.string().max(200).optional() }).loose(),
      )
      .optional(),
    status: z.enum([
      'proposed',
      'pending',
      'booked',
      'arrived',
      'fulfilled',
      'cancelled',
      'noshow',
      'entered-in-error',
      'checked-in',
      'waitlist',
    ]),
    appointmentType: concept.optional(),
    serviceType: z.array(concept).optional(),
    start: z.iso.datetime({ offset: true }).optional(),
    minutesDuration: z
      .number()
      .int()
      .positive()
      .max(24 * 60)
      .optional(),
    contained: z.array(z.object({ resourceType: z.string() }).loose()).optional(),
    participant: z
      .array(z.object({ actor: reference.optional(), status: z.string().optional() }).loose())
      .min(1),
  })
  .loose();

export const bundleSchema = z
  .object({
    resourceType: z.literal('Bundle'),
    type: z.literal('transaction'),
    entry: z
      .array(
        z
          .object({
            fullUrl: z.string().optional(),
            resource: z.object({ resourceType: z.string() }).loose(),
            request: z
              .object({ method: z.enum(['POST', 'PUT']), url: z.string() })
              .loose()
              .optional(),
          })
          .loose(),
      )
      .min(1)
      .max(100),
  })
  .loose();

/** FHIR Appointment.status (value set appointmentstatus) → ours; proposals get no reminders. */
const STATUS: Record<Appointment['status'], AppointmentStatus | null> = {
  proposed: null,
  waitlist: null,
  pending: 'booked',
  booked: 'booked',
  arrived: 'completed',
  'checked-in': 'completed',
  fulfilled: 'completed',
  cancelled: 'canceled',
  'entered-in-error': 'canceled',
  noshow: 'noshow',
};

export class FhirProblem extends Error {
  constructor(
    readonly status: number,
    readonly code:
      | 'invalid'
      | 'not-found'
      | 'business-rule'
      | 'not-supported'
      | 'exception'
      | 'security'
      | 'forbidden'
      | 'login',
    message: string,
  ) {
    super(message);
  }
}

export function operationOutcome(code: string, text: string): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code: code as 'invalid', diagnostics: text }],
  };
}

/** zod issues as a diagnostics line naming paths only, never values (no PHI). */
export function describeIssues(e: z.ZodError): string {
  return e.issues
    .slice(0, 5)
    .map((i) => `${i.path.join('.') || '(resource)'}: ${i.message}`)
    .join('; ');
}

export function parseResource<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body);
  if (!r.success) throw new FhirProblem(400, 'invalid', describeIssues(r.error));
  return r.data;
}

export function patientInput(p: Patient): PatientInput {
  const mr =
    p.identifier?.find((i) => i.type?.coding?.some((c) => c.code === 'MR')) ?? p.identifier?.[0];
  const name = p.name?.find((n) => n.use === 'official' || n.use === 'usual') ?? p.name?.[0];
  const phones = (p.telecom ?? []).filter((t) => t.system === 'phone' || t.system === 'sms');
  const phone = phones.find((t) => t.use === 'mobile') ?? phones[0];
  return {
    mrn: mr?.value,
    family: name?.family,
    given: name?.given?.[0],
    dob: p.birthDate && /^\d{4}-\d{2}-\d{2}$/.test(p.birthDate) ? p.birthDate : undefined,
    phone: phone?.value,
  };
}

/**
 * An Appointment as reminders' input. `patients` resolves a participant reference (a
 * Bundle's fullUrl, `Patient/{id}` or a contained `#id`) to a Patient.
 */
export function appointmentInput(
  a: Appointment,
  fhirId: string,
  patients: (ref: string) => Patient | undefined,
): AppointmentInput {
  const status = STATUS[a.status];
  if (status === null) {
    throw new FhirProblem(422, 'business-rule', `Appointment.status ${a.status} gets no reminders`);
  }
  if (status === 'booked' && !a.start) {
    throw new FhirProblem(400, 'invalid', 'Appointment.start is required for a booked appointment');
  }
  let patient: PatientInput | undefined;
  let location: string | undefined;
  let provider: string | undefined;
  for (const p of a.participant) {
    const ref = p.actor?.reference ?? '';
    if (ref.startsWith('Location/')) location = p.actor?.display;
    else if (ref.startsWith('Practitioner/')) provider = p.actor?.display;
    else {
      const found = ref ? patients(ref) : undefined;
      if (found) patient = patientInput(found);
    }
  }
  const type =
    a.appointmentType?.coding?.[0]?.code ?? a.serviceType?.[0]?.coding?.[0]?.code ?? undefined;
  return {
    externalId: `fhir:${fhirId}`,
    fhirId,
    source: 'fhir',
    status,
    start: a.start ? Date.parse(a.start) : undefined,
    durationMinutes: a.minutesDuration,
    appointmentType: type,
    location: location?.slice(0, 80),
    provider: provider?.slice(0, 40),
    patient,
  };
}
