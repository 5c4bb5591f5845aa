/**
 * @module http/v1/guard
 * `POST /v1/guard/check`: the content guard's verdict on a text, without sending anything
 * — so an integrator can see before sending whether a text would go as SMS (`allow`) or
 * behind the secure portal (`secure`). Findings carry categories and offsets only; the
 * text is neither stored, audited nor logged.
 */
import { z } from 'zod';
import { CATEGORIES, MAX_TEXT_LENGTH, checkText, scan } from '../../content-guard/index.js';
import { errors, type RouteDef } from './route-def.js';

// Checked by checkText rather than the schema, so that every bad text gets the guard's own
// error codes (guard_text_invalid, guard_text_too_long) rather than validation_failed.
const checkBody = z.object({
  text: z
    .unknown()
    .describe(`The text to check: a non-empty string of at most ${MAX_TEXT_LENGTH} characters`),
});

const scanResult = z.object({
  verdict: z.enum(['allow', 'secure']),
  findings: z.array(z.object({ category: z.enum(CATEGORIES), start: z.number(), end: z.number() })),
});

export const guardRoutes: RouteDef[] = [
  {
    method: 'POST',
    url: '/v1/guard/check',
    // Whoever may send a text or write a template may ask how the guard would treat it.
    access: { roles: ['admin', 'provider', 'staff'], scopes: ['messages:send', 'templates:write'] },
    summary: 'Check a text with the content guard: allow (plain SMS) or secure, with findings',
    schema: { body: checkBody, response: { 200: scanResult, ...errors } },
    handler: async (_rt, req) => {
      const text = checkText((req.body as { text?: unknown } | undefined)?.text);
      return Promise.resolve(scan(text));
    },
  },
];
