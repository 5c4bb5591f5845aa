/**
 * @module http/v1/campaigns
 * Campaigns: one template to a list (CSV). Admins and staff (and keys with `messages:send`)
 * create, start, pause and resume them and read their progress; each recipient goes through
 * the send pipeline, so consent, quiet hours, caps and rate limits apply.
 */
import { z } from 'zod';
import {
  CAMPAIGN_STATUSES,
  MAX_CAMPAIGNS_LISTED,
  MAX_PROBLEMS_LISTED,
} from '../../campaigns/index.js';
import { PROGRAMS } from '../../messaging/index.js';
import { APPOINTMENT_STATUSES, type AppointmentFilter } from '../../reminders/index.js';
import { actor, errors, principal, type RouteDef } from './route-def.js';

const SEND = { roles: ['admin', 'staff'], scopes: ['messages:send'] } as const;
const READ = {
  roles: ['admin', 'staff', 'provider'],
  scopes: ['messages:send', 'messages:read'],
} as const;

const progress = z.object({
  total: z.number(),
  pending: z.number().describe('Not yet handed to the send pipeline'),
  queued: z.number(),
  sent: z.number(),
  delivered: z.number(),
  failed: z.number(),
  suppressedByConsent: z.number(),
  divertedByGuard: z.number(),
});
const campaignView = z.object({
  id: z.string(),
  name: z.string(),
  template: z.string(),
  status: z.enum(CAMPAIGN_STATUSES),
  total: z.number(),
  createdBy: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  finishedAt: z.string().nullable(),
  progress,
});
const idParams = z.object({ id: z.string().min(1).max(64) });
const csvField = z
  .string()
  .min(1)
  .max(8 * 1024 * 1024)
  .describe('A header row with phone and one column per template slot');
const listCheck = z.object({
  total: z.number(),
  valid: z.number().describe('Rows that would be accepted'),
  invalid: z.number().describe('Rows with an unusable number or slot value (they would fail)'),
  suppressedByConsent: z.number(),
  missingColumns: z.array(z.string()).describe('Slots with no column: the list would be refused'),
  program: z.enum(PROGRAMS).nullable(),
  problems: z
    .array(z.object({ row: z.number(), code: z.string(), slot: z.string().nullable() }))
    .describe(`The first ${MAX_PROBLEMS_LISTED} rows with a problem (row 1 follows the header)`),
  preview: z
    .object({
      row: z.number(),
      body: z.string(),
      segments: z.number(),
      encoding: z.enum(['GSM-7', 'UCS-2']),
    })
    .nullable()
    .describe('The text the first valid row would receive'),
});

export const campaignRoutes: RouteDef[] = [
  {
    method: 'POST',
    url: '/v1/campaigns',
    access: SEND,
    summary: 'Create a campaign: a template and a CSV list (phone + one column per slot)',
    bodyLimit: 8 * 1024 * 1024,
    schema: {
      body: z
        .object({
          name: z.string().min(1).max(200),
          template: z.string().min(1).max(64).describe('Template id or name'),
          csv: csvField.optional(),
          filter: z
            .object({
              from: z.iso.datetime({ offset: true }).optional(),
              to: z.iso.datetime({ offset: true }).optional(),
              location: z.string().max(80).optional(),
              appointmentType: z.string().max(100).optional(),
              statuses: z.array(z.enum(APPOINTMENT_STATUSES)).optional(),
            })
            .optional()
            .describe('A saved filter: the patients of the appointments it selects'),
          variables: z
            .record(z.string().max(64), z.string().max(500))
            .optional()
            .describe('With a filter: values for the slots other than firstName'),
        })
        .refine((b) => (b.csv === undefined) !== (b.filter === undefined), {
          message: 'give either csv or filter',
        }),
      response: { 201: campaignView, ...errors },
    },
    handler: async (rt, req, reply) => {
      const b = req.body as {
        name: string;
        template: string;
        csv?: string;
        filter?: AppointmentFilter;
        variables?: Record<string, string>;
      };
      const c = await rt.campaigns.create(
        principal(req).orgId,
        actor(req),
        b.filter
          ? { name: b.name, template: b.template, filter: b.filter, variables: b.variables }
          : { name: b.name, template: b.template, csv: b.csv ?? '' },
      );
      return reply.code(201).send(c);
    },
  },
  {
    method: 'POST',
    url: '/v1/campaigns/validate',
    access: SEND,
    summary:
      'Check a CSV list against a template before creating a campaign: bad numbers, empty or invalid slots, no consent (counted, first rows listed), and a preview; nothing is stored',
    bodyLimit: 8 * 1024 * 1024,
    schema: {
      body: z.object({
        template: z.string().min(1).max(64).describe('Template id or name'),
        csv: csvField,
      }),
      response: { 200: listCheck, ...errors },
    },
    handler: async (rt, req) =>
      rt.campaigns.check(
        principal(req).orgId,
        actor(req),
        req.body as { template: string; csv: string },
      ),
  },
  {
    method: 'GET',
    url: '/v1/campaigns',
    access: READ,
    summary: 'The organisation’s campaigns, newest first, with their progress',
    schema: {
      querystring: z.object({
        limit: z.coerce.number().int().min(1).max(MAX_CAMPAIGNS_LISTED).default(50),
      }),
      response: { 200: z.object({ data: z.array(campaignView) }), ...errors },
    },
    handler: async (rt, req) => ({
      data: await rt.campaigns.list(principal(req).orgId, (req.query as { limit: number }).limit),
    }),
  },
  {
    method: 'GET',
    url: '/v1/campaigns/:id',
    access: READ,
    summary: 'A campaign with its progress counts (the final report once completed)',
    schema: { params: idParams, response: { 200: campaignView, ...errors } },
    handler: async (rt, req) =>
      rt.campaigns.get(principal(req).orgId, (req.params as { id: string }).id),
  },
  {
    method: 'POST',
    url: '/v1/campaigns/:id/start',
    access: SEND,
    summary: 'Start (or resume) sending a ready or paused campaign',
    schema: { params: idParams, response: { 202: campaignView, ...errors } },
    handler: async (rt, req, reply) => {
      const c = await rt.campaigns.start(
        principal(req).orgId,
        (req.params as { id: string }).id,
        actor(req),
      );
      return reply.code(202).send(c);
    },
  },
  {
    method: 'POST',
    url: '/v1/campaigns/:id/pause',
    access: SEND,
    summary: 'Pause a campaign after its current batch',
    schema: { params: idParams, response: { 200: campaignView, ...errors } },
    handler: async (rt, req) => {
      const { orgId } = principal(req);
      const { id } = req.params as { id: string };
      await rt.campaigns.pause(orgId, id, actor(req));
      return rt.campaigns.get(orgId, id);
    },
  },
];
