/**
 * @module http/v1/stats
 * The dashboard's figures (stats/): texts per day by status, delivery, opt-outs, guard
 * diversions, portal opens and open risk alerts, per sender and program. Counts and rates
 * only — no PHI — so reading them is not an audited disclosure.
 */
import { z } from 'zod';
import { MESSAGE_STATUSES, PROGRAMS } from '../../messaging/index.js';
import { dashboardStats } from '../../stats/index.js';
import { errors, principal, type RouteDef } from './route-def.js';

const day = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'a date, YYYY-MM-DD')
  .describe('UTC date, YYYY-MM-DD (inclusive)');

const statsQuery = z.object({
  from: day.optional().describe('First day (default: 13 days before `to`)'),
  to: day.optional().describe('Last day (default: today, UTC)'),
  sender: z.string().min(1).max(64).optional().describe('A sender id: only its texts'),
  program: z.enum(PROGRAMS).optional(),
});

const byStatus = z.object(
  Object.fromEntries(MESSAGE_STATUSES.map((s) => [s, z.number().int()])) as Record<
    (typeof MESSAGE_STATUSES)[number],
    z.ZodNumber
  >,
);
const ratio = z.number().nullable().describe('A fraction 0–1; null when nothing to divide by');

const statsView = z.object({
  from: z.string(),
  to: z.string(),
  sender: z.string().nullable(),
  program: z.string().nullable(),
  days: z.array(
    z.object({
      date: z.string(),
      byStatus,
      total: z.number().int(),
      optOuts: z.number().int(),
      secureSent: z.number().int().describe('Texts kept behind the portal that day'),
      secureOpened: z.number().int().describe('Of those, opened by the patient'),
    }),
  ),
  totals: z.object({
    messages: z.number().int(),
    byStatus,
    deliveryRate: ratio,
    failureRate: ratio,
    optOuts: z.number().int(),
    optOutRate: ratio.describe('Opt-outs per text delivered'),
    guardDiversions: z.number().int(),
    portalOpened: z.number().int(),
    portalOpenRate: ratio,
    openRiskAlerts: z.object({
      total: z.number().int(),
      critical: z.number().int(),
      warning: z.number().int(),
    }),
  }),
  senders: z
    .array(z.object({ id: z.string(), number: z.string() }))
    .describe('Senders used in the range (the clinic’s own numbers)'),
});

export const statsRoutes: RouteDef[] = [
  {
    method: 'GET',
    url: '/v1/stats',
    access: { roles: ['admin', 'auditor'], scopes: ['messages:read', 'audit:read'] },
    summary: 'Dashboard figures per day: status, delivery, opt-outs, diversions, portal opens',
    schema: { querystring: statsQuery, response: { 200: statsView, ...errors } },
    handler: async (rt, req) =>
      dashboardStats(
        {
          db: rt.store.db,
          openAlerts: (orgId) => rt.risk.alerts(orgId, { status: 'open', limit: 500 }),
        },
        principal(req).orgId,
        req.query as z.infer<typeof statsQuery>,
      ),
  },
];
