/**
 * @module http/v1/send-time
 * Before sending: when a text to this recipient may go under quiet hours, and the window in
 * their time zones, for the people and systems that send (the organisation's full settings
 * stay admin and auditor only). The number goes in the body, never in the URL.
 */
import { z } from 'zod';
import { PROGRAMS, parseIsoDateTime } from '../../messaging/index.js';
import { normalisePhone } from '../../contacts/index.js';
import { earliestSend } from '../../consent/earliest-send.js';
import { AppError } from '../../errors/index.js';
import { errors, principal, type RouteDef } from './route-def.js';

const body = z.object({
  to: z.string().min(1).max(32).describe('Recipient phone number'),
  program: z.enum(PROGRAMS),
  at: z.string().max(40).optional().describe('ISO 8601 time asked for; now if absent'),
});

const view = z.object({
  requested: z.string(),
  earliest: z.string().describe('The earliest instant at or after `requested` it may go'),
  heldBy: z.enum(['quiet_hours']).nullable(),
  quietHours: z.enum(['on', 'off', 'exempt']),
  zones: z.array(
    z.object({
      zone: z.string(),
      window: z.string().nullable().describe('HH:MM-HH:MM local on that day; null: closed'),
      localTime: z.string().describe('`earliest` there, YYYY-MM-DD HH:mm'),
    }),
  ),
  states: z.array(z.string()).describe('US states whose stricter rules apply'),
  locationSource: z.string(),
});

export const sendTimeRoutes: RouteDef[] = [
  {
    method: 'POST',
    url: '/v1/messages/earliest-send',
    access: { roles: ['provider', 'staff'], scopes: ['messages:send'] },
    summary: 'When a text to a recipient may go under quiet hours, with their local window',
    schema: { body, response: { 200: view, ...errors } },
    handler: async (rt, req) => {
      const b = req.body as z.infer<typeof body>;
      let at = Date.now();
      if (b.at !== undefined) {
        const t = parseIsoDateTime(b.at);
        if (t === null) throw new AppError('validation_failed', 'at must be ISO 8601 with a zone.');
        at = Math.max(t, at);
      }
      const phone = normalisePhone(b.to, { regions: rt.config.sendRegions });
      return earliestSend(rt.sendRules, principal(req).orgId, phone, b.program, at);
    },
  },
];
