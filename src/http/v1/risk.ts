/**
 * @module http/v1/risk
 * Risk alerts (docs/risk.md): what tripped, how bad, the figures, and which senders it
 * paused. An admin resumes an alert to let its paused senders send again (audited).
 */
import { z } from 'zod';
import { SIGNALS } from '../../risk/index.js';
import { actor, errors, principal, type RouteDef } from './route-def.js';

const alertView = z.object({
  id: z.string(),
  signal: z.enum(SIGNALS),
  severity: z.enum(['warning', 'critical']),
  scope: z.object({
    type: z.enum(['organisation', 'sender', 'program', 'campaign']),
    id: z.string(),
  }),
  explanation: z.string().describe('Plain language: what happened and what to check'),
  figures: z.record(z.string(), z.number()).describe('Counts and rates behind the alert'),
  status: z.enum(['open', 'resolved']),
  pausedSenders: z.array(z.string()).describe('Senders this alert paused (critical alerts)'),
  pausedCampaigns: z
    .array(z.string())
    .describe('Campaigns this alert paused (critical alerts on a campaign)'),
  createdAt: z.string(),
  resolvedAt: z.string().nullable(),
  resolvedBy: z.string().nullable(),
  supersededBy: z
    .string()
    .nullable()
    .describe('The more severe alert on the same signal and scope that closed this one'),
});

const resumeView = alertView.extend({
  resumedSenders: z.array(z.string()).describe('Paused senders that may send again'),
  stillPaused: z
    .array(z.object({ senderId: z.string(), heldBy: z.array(z.string()) }))
    .describe('Senders this alert paused that other open critical alerts still hold'),
  resumedCampaigns: z.array(z.string()).describe('Paused campaigns started again'),
  stillPausedCampaigns: z
    .array(z.object({ campaignId: z.string(), heldBy: z.array(z.string()) }))
    .describe('Campaigns this alert paused that other open critical alerts on them still hold'),
});

const alertsQuery = z.object({
  status: z.enum(['open', 'resolved']).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});
const idParams = z.object({ id: z.string().min(1).max(64) });

export const riskRoutes: RouteDef[] = [
  {
    method: 'GET',
    url: '/v1/risk/alerts',
    access: { roles: ['admin', 'auditor'], scopes: ['risk:read'] },
    summary: 'Risk alerts, newest first',
    schema: {
      querystring: alertsQuery,
      response: { 200: z.object({ data: z.array(alertView) }), ...errors },
    },
    handler: async (rt, req) => ({
      data: await rt.risk.alerts(principal(req).orgId, req.query as z.infer<typeof alertsQuery>),
    }),
  },
  {
    method: 'POST',
    url: '/v1/risk/alerts/:id/resume',
    access: { roles: ['admin'], scopes: [] },
    summary: 'Resolve an alert and resume the senders it paused',
    schema: { params: idParams, response: { 200: resumeView, ...errors } },
    handler: async (rt, req) =>
      rt.risk.resume(principal(req).orgId, (req.params as z.infer<typeof idParams>).id, actor(req)),
  },
];
