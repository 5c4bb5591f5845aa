/**
 * @module http/v1/consent
 * The consent ledger: record an event, read a number's state and full history (JSON or
 * CSV, for an auditor), import events from CSV, and the organisation's consent policy and
 * reply texts.
 */
import { z } from 'zod';
import { PROGRAMS } from '../../messaging/index.js';
import { CONSENT_KINDS, CONSENT_SOURCES, type ConsentSettings } from '../../consent/ledger.js';
import {
  classifyWithCustomKeywords,
  MAX_CUSTOM_KEYWORDS,
  MAX_KEYWORD_LENGTH,
  validateCustomKeywords,
} from '../../consent/custom-keywords.js';
import { parseIsoDateTime } from '../../messaging/index.js';
import { AppError } from '../../errors/index.js';
import { actor, errors, principal, type RouteDef } from './route-def.js';

const WRITE = { roles: ['admin', 'provider', 'staff'], scopes: ['consent:write'] } as const;
const READ = {
  roles: ['admin', 'provider', 'staff', 'auditor'],
  scopes: ['consent:read'],
} as const;

const recordBody = z.object({
  phone: z.string().min(1).max(32),
  program: z.enum([...PROGRAMS, 'all']),
  kind: z.enum(CONSENT_KINDS),
  source: z.enum(CONSENT_SOURCES),
  evidence: z.string().min(1).max(500).optional(),
  occurredAt: z.string().max(40).optional().describe('ISO 8601; when it happened, if not now'),
});

const status = z.object({
  status: z.enum(['opted_in', 'opted_out', 'pending', 'none']),
  canSend: z.boolean(),
});

export const consentView = z.object({
  phone: z.string(),
  programs: z.object({ care: status, billing: status, surveys: status, marketing: status }),
  history: z.array(
    z.object({
      id: z.string(),
      program: z.string(),
      kind: z.string(),
      source: z.string(),
      evidence: z.string().nullable().describe('Null when none was recorded, or when destroyed'),
      destroyed: z
        .boolean()
        .describe(
          'The evidence was encrypted under a data key since shredded: it can never be read again',
        ),
      actor: z.string(),
      occurredAt: z.string(),
      recordedAt: z.string(),
    }),
  ),
});

const formatQuery = z.object({ format: z.enum(['json', 'csv']).default('json') });
const phoneParams = z.object({ phone: z.string().min(1).max(32) });
const lookupBody = z.object({
  phone: z.string().min(1).max(32),
  format: z.enum(['json', 'csv']).default('json'),
});

const importQuery = z.object({
  skipInvalid: z.enum(['true', 'false']).default('false'),
  validateOnly: z.enum(['true', 'false']).default('false'),
});

const importReport = z.object({
  rows: z.number(),
  imported: z.number(),
  skipped: z.number(),
  errors: z.array(z.object({ line: z.number(), code: z.string(), message: z.string() })),
});

const policy = z.object({ requireOptIn: z.boolean(), doubleOptIn: z.boolean() });
const keywordList = z
  .array(
    z
      .string()
      .trim()
      .min(1)
      .max(MAX_KEYWORD_LENGTH)
      .regex(/^[\p{L}\p{N} ]+$/u, 'letters, digits and spaces only'),
  )
  .max(MAX_CUSTOM_KEYWORDS);
const keywordsView = z.object({
  optOut: z.array(z.string()),
  help: z.array(z.string()),
  optIn: z.array(z.string()),
});
const keywordsBody = z
  .object({
    optOut: keywordList.optional(),
    help: keywordList.optional(),
    optIn: keywordList.optional(),
  })
  .describe('Keywords of the organisation, on top of the standard ones (which always apply)');
const settingsView = z.object({
  programs: z.object({ care: policy, billing: policy, surveys: policy, marketing: policy }),
  perProgramKeywords: z.boolean(),
  helpText: z.string(),
  optOutText: z.string(),
  optInText: z.string(),
  confirmPromptText: z.string(),
  keywords: keywordsView,
});
const settingsBody = z.object({
  programs: z
    .object({
      care: policy.optional(),
      billing: policy.optional(),
      surveys: policy.optional(),
      marketing: policy.optional(),
    })
    .optional(),
  perProgramKeywords: z.boolean().optional(),
  helpText: z.string().min(1).max(320).optional(),
  optOutText: z.string().min(1).max(320).optional(),
  optInText: z.string().min(1).max(320).optional(),
  confirmPromptText: z.string().min(1).max(320).optional(),
  keywords: keywordsBody.optional(),
});
const classifyBody = z.object({
  text: z.string().min(1).max(1600),
  keywords: keywordsBody
    .optional()
    .describe('Keywords to try instead of the saved ones (unsaved edits); default: the saved ones'),
});
const classifyView = z.object({
  intent: z.enum(['opt_out', 'opt_in', 'help', 'none']),
  scope: z.union([z.literal('all'), z.array(z.enum(PROGRAMS))]).nullable(),
  keyword: z.string().nullable(),
  yes: z.boolean(),
  custom: z.boolean().describe('The reply matched one of the organisation’s own keywords'),
});

async function respondWithConsent(
  rt: Parameters<RouteDef['handler']>[0],
  reply: Parameters<RouteDef['handler']>[2],
  orgId: string,
  phone: string,
  format: 'json' | 'csv',
) {
  if (format === 'csv') {
    return reply.type('text/csv; charset=utf-8').send(await rt.consent.exportCsv(orgId, phone));
  }
  return rt.consent.show(orgId, phone);
}

export const consentRoutes: RouteDef[] = [
  {
    method: 'POST',
    url: '/v1/consents',
    access: WRITE,
    summary: 'Record a consent event (opt-in, opt-out, confirmation) with source and evidence',
    schema: { body: recordBody, response: { 201: z.object({ id: z.string() }), ...errors } },
    handler: async (rt, req, reply) => {
      const b = req.body as z.infer<typeof recordBody>;
      let occurredAt: number | undefined;
      if (b.occurredAt !== undefined) {
        const t = parseIsoDateTime(b.occurredAt);
        if (t === null) throw new AppError('validation_failed', 'occurredAt must be ISO 8601.');
        occurredAt = t;
      }
      const id = await rt.consent.record(principal(req).orgId, { ...b, occurredAt }, actor(req));
      return reply.code(201).send({ id });
    },
  },
  {
    method: 'GET',
    url: '/v1/consents/:phone',
    access: READ,
    summary: 'State per program and full history for a number (prefer POST /v1/consents/lookup)',
    schema: {
      params: phoneParams,
      querystring: formatQuery,
      response: { 200: consentView, ...errors },
    },
    handler: async (rt, req, reply) =>
      respondWithConsent(
        rt,
        reply,
        principal(req).orgId,
        (req.params as z.infer<typeof phoneParams>).phone,
        (req.query as z.infer<typeof formatQuery>).format,
      ),
  },
  {
    method: 'POST',
    url: '/v1/consents/lookup',
    access: READ,
    summary: 'The same as GET /v1/consents/{phone}, with the number kept out of the URL',
    schema: { body: lookupBody, response: { 200: consentView, ...errors } },
    handler: async (rt, req, reply) => {
      const b = req.body as z.infer<typeof lookupBody>;
      return respondWithConsent(rt, reply, principal(req).orgId, b.phone, b.format);
    },
  },
  {
    method: 'POST',
    url: '/v1/consents/import',
    access: { roles: ['admin', 'staff'], scopes: ['consent:write'] },
    bodyLimit: 10 * 1024 * 1024,
    summary: 'Import consent events from CSV (text/csv); nothing is imported if a row is invalid',
    schema: { querystring: importQuery, response: { 200: importReport, ...errors } },
    handler: async (rt, req) => {
      if (typeof req.body !== 'string') {
        throw new AppError('unsupported_media_type', 'Send the file as text/csv.');
      }
      const q = req.query as z.infer<typeof importQuery>;
      return rt.consent.importCsv(
        principal(req).orgId,
        req.body,
        { skipInvalid: q.skipInvalid === 'true', validateOnly: q.validateOnly === 'true' },
        actor(req),
      );
    },
  },
  {
    method: 'GET',
    url: '/v1/consent-settings',
    access: { roles: ['admin', 'auditor'], scopes: ['consent:read'] },
    summary: 'Consent policy per program and the reply texts',
    schema: { response: { 200: settingsView, ...errors } },
    handler: async (rt, req) => rt.consent.settings(principal(req).orgId),
  },
  {
    method: 'PUT',
    url: '/v1/consent-settings',
    access: { roles: ['admin'], scopes: [] },
    summary: 'Change the consent policy or reply texts ({org} stands for the organisation name)',
    schema: { body: settingsBody, response: { 200: settingsView, ...errors } },
    handler: async (rt, req) => {
      const b = req.body as z.infer<typeof settingsBody>;
      const cur = await rt.consent.settings(principal(req).orgId);
      const change: Partial<ConsentSettings> = {
        ...b,
        programs: { ...cur.programs, ...b.programs },
        keywords: { ...cur.keywords, ...b.keywords },
      };
      return rt.consent.setSettings(principal(req).orgId, change, actor(req));
    },
  },
  {
    method: 'POST',
    url: '/v1/consent-settings/classify',
    access: { roles: ['admin', 'auditor'], scopes: ['consent:read'] },
    summary:
      'How the inbound path reads a reply: the standard keywords and classifier plus the organisation’s own keywords (nothing is stored or logged)',
    schema: { body: classifyBody, response: { 200: classifyView, ...errors } },
    handler: async (rt, req) => {
      const b = req.body as z.infer<typeof classifyBody>;
      const saved = (await rt.consent.settings(principal(req).orgId)).keywords;
      const keywords = b.keywords ? validateCustomKeywords({ ...saved, ...b.keywords }) : saved;
      return classifyWithCustomKeywords(b.text, keywords);
    },
  },
];
