/**
 * @module http/v1/appointments
 * Appointments from the EHR feeds and their reminders (issue 7): read-only here; they are
 * created by HL7 v2 (MLLP) and FHIR. An appointment is addressed by its id (`apt_…`) or its
 * feed id (HL7 filler id, `fhir:{id}`).
 */
import { z } from 'zod';
import { APPOINTMENT_STATUSES } from '../../reminders/index.js';
import { actor, errors, principal, type RouteDef } from './route-def.js';

const READ = {
  roles: ['admin', 'provider', 'staff'],
  scopes: ['appointments:read', 'appointments:write'],
} as const;

const appointmentView = z.object({
  id: z.string(),
  externalId: z.string().describe('The feed id: HL7 filler (or placer) id, or fhir:{id}'),
  source: z.string(),
  placerId: z.string().nullable(),
  fillerId: z.string().nullable(),
  fhirId: z.string().nullable(),
  contactId: z.string(),
  start: z.string(),
  durationMinutes: z.number().nullable(),
  location: z.string().nullable(),
  appointmentType: z.string(),
  status: z.enum(APPOINTMENT_STATUSES),
  bookedAt: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

const WRITE = {
  roles: ['admin', 'provider', 'staff'],
  scopes: ['appointments:write'],
} as const;

const taskView = z.object({
  id: z.string(),
  appointmentId: z.string(),
  externalId: z.string().describe("The appointment's feed id"),
  kind: z.string().describe('reschedule_request'),
  status: z.enum(['open', 'done']),
  inboundId: z.string().nullable().describe('The reply that asked'),
  createdAt: z.string(),
});

const reminderView = z.object({
  id: z.string(),
  appointmentId: z.string(),
  externalId: z.string(),
  offsetMinutes: z.number().describe('Minutes before the start it was planned for'),
  sendAt: z.string().describe('When it goes (moved earlier out of quiet hours when needed)'),
  status: z.enum(['scheduled', 'sent', 'delivered', 'failed', 'canceled', 'skipped']),
  messageId: z.string().nullable(),
  reason: z.string().nullable().describe('Why it was canceled or skipped (an error code)'),
});

const listQuery = z.object({
  status: z.enum(APPOINTMENT_STATUSES).optional(),
  cursor: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

export const appointmentRoutes: RouteDef[] = [
  {
    method: 'GET',
    url: '/v1/appointments',
    access: READ,
    summary: 'List appointments, newest first',
    schema: {
      querystring: listQuery,
      response: {
        200: z.object({ data: z.array(appointmentView), nextCursor: z.string().nullable() }),
        ...errors,
      },
    },
    handler: async (rt, req) => {
      const q = req.query as z.infer<typeof listQuery>;
      return rt.reminders.list(principal(req).orgId, q, actor(req));
    },
  },
  {
    method: 'GET',
    url: '/v1/appointments/:id',
    access: READ,
    summary: 'One appointment with its reminders',
    schema: {
      params: z.object({ id: z.string().min(1).max(200) }),
      response: {
        200: z.object({ appointment: appointmentView, reminders: z.array(reminderView) }),
        ...errors,
      },
    },
    handler: async (rt, req) => {
      const { id } = req.params as { id: string };
      return rt.reminders.get(principal(req).orgId, id, actor(req));
    },
  },
  {
    method: 'GET',
    url: '/v1/appointments/:id/preview',
    access: READ,
    summary:
      'What will be sent when: the reminders as stored, and the texts planning the appointment now would give',
    schema: {
      params: z.object({ id: z.string().min(1).max(200) }),
      response: {
        200: z.object({
          appointment: appointmentView,
          reminders: z.array(reminderView),
          plan: z.array(
            z.object({
              offsetMinutes: z.number(),
              sendAt: z.string(),
              moved: z.enum(['earlier', 'later']).nullable().describe('Moved out of quiet hours'),
              body: z.string().describe('The text (plain SMS; it never names the visit type)'),
            }),
          ),
          skipped: z.array(
            z.object({ offsetMinutes: z.number(), reason: z.enum(['past', 'quiet_hours']) }),
          ),
        }),
        ...errors,
      },
    },
    handler: async (rt, req) => {
      const { id } = req.params as { id: string };
      return rt.reminders.preview(principal(req).orgId, id, actor(req));
    },
  },
  {
    method: 'GET',
    url: '/v1/tasks',
    access: READ,
    summary: 'Open staff tasks (reschedule requests), oldest first',
    schema: { response: { 200: z.object({ data: z.array(taskView) }), ...errors } },
    handler: async (rt, req) => rt.reminders.listTasks(principal(req).orgId, actor(req)),
  },
  {
    method: 'POST',
    url: '/v1/tasks/:id/done',
    access: WRITE,
    summary: 'Close a staff task',
    schema: {
      params: z.object({ id: z.string().min(1).max(64) }),
      response: {
        200: z.object({ id: z.string(), status: z.literal('done') }),
        ...errors,
      },
    },
    handler: async (rt, req) => {
      const { id } = req.params as { id: string };
      return rt.reminders.completeTask(principal(req).orgId, id, actor(req));
    },
  },
];
