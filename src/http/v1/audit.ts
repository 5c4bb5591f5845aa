/**
 * @module http/v1/audit
 * The auditor's API (45 CFR 164.312(b)): the organisation's audit events with filters, the
 * accounting of disclosures for one patient (164.528; the number goes in the body, never the
 * URL), and the public key that verifies the organisation's signed checkpoints and exports.
 * Reading the trail is itself audited.
 */
import { z } from 'zod';
import { AppError } from '../../errors/index.js';
import { parseIsoDateTime } from '../../messaging/index.js';
import { EXPORT_FORMATS, SIGNING_ALGORITHM, type AuditEventView } from '../../audit/index.js';
import type { Runtime } from '../../runtime/index.js';
import { actor, errors, principal, type Access, type RouteDef } from './route-def.js';

const AUDIT_READ: Access = { roles: ['admin', 'auditor'], scopes: ['audit:read'] };

const detailValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);

const eventView = z.object({
  seq: z.number().int().describe('Position in the organisation’s chain'),
  time: z.string(),
  actor: z.object({
    type: z.string(),
    id: z.string(),
    name: z
      .string()
      .optional()
      .describe("The user's email or the API key's name, while they exist; not part of the chain"),
  }),
  action: z.string(),
  target: z.object({ type: z.string(), id: z.string() }),
  details: z.record(z.string(), detailValue).describe('Ids, counts and codes; never PHI'),
  subjectIndex: z
    .string()
    .nullable()
    .describe('Blind index of the patient’s number the event concerns'),
  prevHash: z.string(),
  hash: z.string(),
});

export const pageView = z.object({ data: z.array(eventView), nextCursor: z.string().nullable() });

const time = z.string().max(40).describe('ISO 8601 date-time with a zone');
const cursor = z.string().max(20).describe('nextCursor of the previous page');

const eventsQuery = z.object({
  actorType: z.enum(['api_key', 'user', 'system', 'patient', 'cli']).optional(),
  actorId: z.string().min(1).max(128).optional(),
  action: z
    .string()
    .regex(/^[a-z_]+(\.[a-z_]+)*$/)
    .max(64)
    .optional()
    .describe('e.g. message.read'),
  targetType: z.string().min(1).max(64).optional(),
  targetId: z.string().min(1).max(128).optional(),
  from: time.optional().describe('Events at or after this time'),
  to: time.optional().describe('Events before this time'),
  cursor: cursor.optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

const disclosuresBody = z.object({
  phone: z
    .string()
    .min(1)
    .max(32)
    .describe('The patient’s phone number (in the body: a number never goes in a URL)'),
  from: time.optional(),
  to: time.optional(),
  cursor: cursor.optional(),
  limit: z.number().int().min(1).max(200).default(50),
});

const publicKeyView = z.object({
  orgId: z.string(),
  keyId: z.string(),
  algorithm: z.literal(SIGNING_ALGORITHM),
  publicKey: z.string().describe('SubjectPublicKeyInfo, PEM'),
  createdAt: z.string(),
});

const verifyView = z.object({
  ok: z.boolean(),
  events: z.number().int().describe('Events checked'),
  checkpoints: z.number().int().describe('Signed checkpoints whose signature and hash held'),
  firstBreak: z
    .object({
      seq: z.number().int().describe('The first sequence number that is wrong or missing'),
      reason: z.string(),
      sinceSeq: z.number().int().optional(),
    })
    .nullable(),
  verifiedAt: z.string(),
});

const exportQuery = z.object({
  from: z
    .string()
    .max(40)
    .optional()
    .describe('A date (YYYY-MM-DD, UTC) or ISO 8601 date-time: events at or after it'),
  to: z
    .string()
    .max(40)
    .optional()
    .describe('A date (the whole day included) or ISO 8601 date-time: events before it'),
  format: z.enum(EXPORT_FORMATS).default('jsonl'),
});

const DAY_MS = 86_400_000;

/** A date (UTC midnight; `to` includes the whole day) or a date-time with a zone. */
function dayOrTimeParam(value: string | undefined, name: 'from' | 'to'): number | undefined {
  if (value === undefined) return undefined;
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    const t = Date.parse(`${value}T00:00:00Z`);
    if (Number.isNaN(t) || new Date(t).toISOString().slice(0, 10) !== value) {
      throw new AppError('validation_failed', `${name} must be a date, YYYY-MM-DD.`);
    }
    return name === 'to' ? t + DAY_MS : t;
  }
  return timeParam(value, name);
}

function timeParam(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const t = parseIsoDateTime(value);
  if (t === null) {
    throw new AppError(
      'validation_failed',
      `${name} must be an ISO 8601 date-time with a time zone, e.g. 2026-01-01T00:00:00Z.`,
    );
  }
  return t;
}

/**
 * Names each user and API key actor (email, key name) so a reader need not look ids up.
 * The chain keeps ids only: a name is read now, and a removed key or user shows its id.
 */
async function withActorNames<P extends { data: AuditEventView[] }>(
  rt: Runtime,
  orgId: string,
  page: P,
): Promise<P> {
  const names = new Map<string, string>();
  if (page.data.some((e) => e.actor.type === 'user')) {
    for (const u of await rt.users.list(orgId)) names.set(`user:${u.id}`, u.email);
  }
  if (page.data.some((e) => e.actor.type === 'api_key')) {
    for (const k of await rt.apiKeys.list(orgId)) names.set(`api_key:${k.id}`, k.name);
  }
  return {
    ...page,
    data: page.data.map((e) => {
      const name = names.get(`${e.actor.type}:${e.actor.id}`);
      return name === undefined ? e : { ...e, actor: { ...e.actor, name } };
    }),
  };
}

export const auditRoutes: RouteDef[] = [
  {
    method: 'GET',
    url: '/v1/audit-events',
    access: AUDIT_READ,
    summary: 'List audit events, newest first',
    schema: { querystring: eventsQuery, response: { 200: pageView, ...errors } },
    handler: async (rt, req) => {
      const q = req.query as z.infer<typeof eventsQuery>;
      const orgId = principal(req).orgId;
      return withActorNames(
        rt,
        orgId,
        await rt.audit.events(
          orgId,
          { ...q, from: timeParam(q.from, 'from'), to: timeParam(q.to, 'to') },
          actor(req),
        ),
      );
    },
  },
  {
    method: 'POST',
    url: '/v1/audit/disclosures',
    access: AUDIT_READ,
    summary: 'Accounting of disclosures for one patient',
    schema: { body: disclosuresBody, response: { 200: pageView, ...errors } },
    handler: async (rt, req) => {
      const b = req.body as z.infer<typeof disclosuresBody>;
      const orgId = principal(req).orgId;
      return withActorNames(
        rt,
        orgId,
        await rt.audit.disclosures(
          orgId,
          b.phone,
          {
            cursor: b.cursor,
            limit: b.limit,
            from: timeParam(b.from, 'from'),
            to: timeParam(b.to, 'to'),
          },
          actor(req),
        ),
      );
    },
  },
  {
    method: 'POST',
    url: '/v1/audit/verify',
    access: AUDIT_READ,
    summary: 'Verify the organisation’s hash chain and signed checkpoints now',
    schema: { response: { 200: verifyView, ...errors } },
    handler: async (rt, req) => {
      const r = await rt.audit.verifyFor(principal(req).orgId, actor(req));
      return {
        ok: r.ok,
        events: r.events,
        checkpoints: r.checkpoints,
        firstBreak: r.firstBreak
          ? {
              seq: r.firstBreak.seq,
              reason: r.firstBreak.reason,
              ...(r.firstBreak.sinceSeq !== undefined ? { sinceSeq: r.firstBreak.sinceSeq } : {}),
            }
          : null,
        verifiedAt: new Date().toISOString(),
      };
    },
  },
  {
    method: 'GET',
    url: '/v1/audit/export',
    access: AUDIT_READ,
    summary: 'Download a signed export of the trail (JSON Lines or CSV), verifiable offline',
    schema: { querystring: exportQuery, response: { ...errors } },
    handler: async (rt, req, reply) => {
      const q = req.query as z.infer<typeof exportQuery>;
      const orgId = principal(req).orgId;
      // Built whole before the first byte goes out, so a chain that fails verification part
      // way is answered 409 audit_chain_broken rather than with a file cut short.
      const chunks: string[] = [];
      await rt.audit.export(
        orgId,
        { fromTime: dayOrTimeParam(q.from, 'from'), toTime: dayOrTimeParam(q.to, 'to') },
        q.format,
        (chunk) => {
          chunks.push(chunk);
          return Promise.resolve();
        },
        actor(req),
      );
      const stamp = new Date().toISOString().slice(0, 10);
      return reply
        .type(
          q.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8',
        )
        .header(
          'content-disposition',
          `attachment; filename="tidings-audit-${orgId}-${stamp}.${q.format}"`,
        )
        .send(chunks.join(''));
    },
  },
  {
    method: 'GET',
    url: '/v1/audit/public-key',
    access: AUDIT_READ,
    summary: 'The public key that verifies signed checkpoints and exports',
    schema: { response: { 200: publicKeyView, ...errors } },
    handler: async (rt, req) => rt.audit.publicKey(principal(req).orgId),
  },
];
