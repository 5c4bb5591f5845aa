/**
 * @module http/v1/settings-messaging
 * The organisation's quiet hours and frequency caps: its own window (only ever stricter than
 * the installation's), the programs quiet hours never hold, the caps per program and what
 * happens to a message over one. Changes are audited (`org.settings_changed`).
 */
import { z } from 'zod';
import { PROGRAMS } from '../../messaging/index.js';
import { CAP_MODES, MAX_CAP } from '../../consent/caps.js';
import { actor, errors, principal, type RouteDef } from './route-def.js';

const capCount = z.number().int().min(1).max(MAX_CAP).nullable();

const programCap = z
  .object({
    per24h: capCount.optional().describe('At most this many in any rolling 24 hours; null: none'),
    per7d: capCount.optional().describe('At most this many in any rolling 7 days; null: none'),
    withoutExpressConsentOnly: z
      .boolean()
      .optional()
      .describe('Cap only recipients without prior express consent (the FCC exemption)'),
    maxChars: z.number().int().min(1).max(1600).nullable().optional(),
    requireStopInstructions: z.boolean().optional(),
  })
  .nullable()
  .describe('null: no cap for this program; absent: the default');

const settingsBody = z.object({
  quietHours: z
    .object({
      window: z
        .string()
        .max(11)
        .nullable()
        .optional()
        .describe('HH:MM-HH:MM, within the installation window; null: the installation window'),
      exemptPrograms: z.array(z.enum(PROGRAMS)).max(PROGRAMS.length).optional(),
    })
    .optional(),
  caps: z
    .object({
      mode: z.enum(CAP_MODES).optional().describe('Over a cap: refuse (422) or defer'),
      programs: z
        .object({
          care: programCap.optional(),
          billing: programCap.optional(),
          surveys: programCap.optional(),
          marketing: programCap.optional(),
        })
        .optional(),
    })
    .optional(),
});

const capView = z
  .object({
    per24h: z.number().nullable(),
    per7d: z.number().nullable(),
    withoutExpressConsentOnly: z.boolean(),
    maxChars: z.number().nullable(),
    requireStopInstructions: z.boolean(),
  })
  .nullable();

const settingsView = z.object({
  quietHours: z.object({
    enabled: z.boolean(),
    installationWindow: z.string(),
    window: z.string().nullable(),
    effectiveWindow: z.string(),
    exemptPrograms: z.array(z.enum(PROGRAMS)),
    stateRules: z.array(
      z.object({
        state: z.string(),
        weekdays: z.string(),
        saturday: z.string(),
        sunday: z.string(),
        source: z.string(),
      }),
    ),
  }),
  caps: z.object({
    enabled: z.boolean(),
    mode: z.enum(CAP_MODES),
    programs: z.object({ care: capView, billing: capView, surveys: capView, marketing: capView }),
    stateMarketingCaps: z.array(
      z.object({ state: z.string(), max: z.number(), windowHours: z.number(), source: z.string() }),
    ),
  }),
});

export const messagingSettingsRoutes: RouteDef[] = [
  {
    method: 'GET',
    url: '/v1/settings/messaging',
    access: { roles: ['admin', 'auditor'], scopes: [] },
    summary: 'Quiet hours and frequency caps of the organisation',
    schema: { response: { 200: settingsView, ...errors } },
    handler: async (rt, req) => rt.sendRules.view(principal(req).orgId),
  },
  {
    method: 'PUT',
    url: '/v1/settings/messaging',
    access: { roles: ['admin'], scopes: [] },
    summary: 'Set quiet hours and frequency caps (anything left out takes its default)',
    schema: { body: settingsBody, response: { 200: settingsView, ...errors } },
    handler: async (rt, req) =>
      rt.sendRules.setSettings(
        principal(req).orgId,
        req.body as z.infer<typeof settingsBody>,
        actor(req),
      ),
  },
];
