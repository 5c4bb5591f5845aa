/**
 * @module http/v1/settings-guard
 * The organisation's content-guard policy: what happens to a text that would disclose health
 * information (content-guard/policy). Changes are audited (`org.settings_changed`).
 */
import { z } from 'zod';
import {
  GUARD_ACTIONS,
  guardSettingsSchema,
  parseGuardSettings,
} from '../../content-guard/index.js';
import { actor, errors, principal, type RouteDef } from './route-def.js';

const settingsView = z.object({
  action: z
    .enum(GUARD_ACTIONS)
    .describe(
      'divert: held text becomes a secure message (default); reject: 422; override: as divert, but a provider may send it anyway with a reason',
    ),
});

export const guardSettingsRoutes: RouteDef[] = [
  {
    method: 'GET',
    url: '/v1/settings/guard',
    access: { roles: ['admin', 'auditor'], scopes: [] },
    summary: 'The content-guard policy of the organisation',
    schema: { response: { 200: settingsView, ...errors } },
    handler: async (rt, req) =>
      parseGuardSettings(await rt.orgs.guardSettings(principal(req).orgId)),
  },
  {
    method: 'PUT',
    url: '/v1/settings/guard',
    access: { roles: ['admin'], scopes: [] },
    summary: 'Set the content-guard policy',
    schema: { body: guardSettingsSchema, response: { 200: settingsView, ...errors } },
    handler: async (rt, req) => {
      const settings = req.body as z.infer<typeof guardSettingsSchema>;
      const orgId = principal(req).orgId;
      await rt.orgs.setGuardSettings(
        orgId,
        JSON.stringify(settings),
        { guardAction: settings.action },
        actor(req),
      );
      return settings;
    },
  },
];
