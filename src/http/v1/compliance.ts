/**
 * @module http/v1/compliance
 * The compliance posture report (docs/compliance.md): each HIPAA safeguard texting touches,
 * its live state, ok / attention / failing, and the fix. Reading it is audited.
 */
import { z } from 'zod';
import { complianceReport } from '../../compliance/index.js';
import { actor, errors, principal, type RouteDef } from './route-def.js';

const status = z.enum(['ok', 'attention', 'failing']);
const reportView = z.object({
  orgId: z.string(),
  generatedAt: z.string(),
  overall: status,
  counts: z.object({ ok: z.number(), attention: z.number(), failing: z.number() }),
  items: z.array(
    z.object({
      id: z.string(),
      safeguard: z.string(),
      rule: z.string(),
      status,
      state: z.string(),
      fix: z.string().nullable(),
    }),
  ),
});

export const complianceRoutes: RouteDef[] = [
  {
    method: 'GET',
    url: '/v1/compliance/report',
    access: { roles: ['admin', 'auditor'], scopes: ['audit:read'] },
    summary: 'The compliance posture of this installation and organisation',
    schema: { response: { 200: reportView, ...errors } },
    handler: async (rt, req) => complianceReport(rt, principal(req).orgId, actor(req)),
  },
];
