/**
 * @module http/v1/contacts
 * Patients for the staff console: find one by name or number (in the body: the query is PHI
 * and never goes in a URL), see their details masked, reveal them (audited per reveal, naming
 * the caller and the fields), and — by the contact's id, so the number need not be revealed
 * first — their consent per program with its history, a consent event recorded with source
 * and evidence, and the accounting of disclosures (45 CFR 164.528).
 *
 * Reveal is for people only (no API-key scope): an integrator already holds the details in
 * its EHR, and a reveal names the person who looked. Auditors see masked details, consent
 * and disclosures but reveal nothing (read-only, minimum necessary).
 */
import { z } from 'zod';
import { PROGRAMS, parseIsoDateTime } from '../../messaging/index.js';
import { CONSENT_KINDS, CONSENT_SOURCES } from '../../consent/ledger.js';
import { maskPhone } from '../../contacts/index.js';
import { CONTACT_FIELDS, REVEAL_PURPOSES } from '../../reminders/index.js';
import { AppError } from '../../errors/index.js';
import { actor, errors, principal, type Access, type RouteDef } from './route-def.js';
import { consentView } from './consent.js';
import { pageView } from './audit.js';

const CONTACT_READ: Access = {
  roles: ['admin', 'provider', 'staff', 'auditor'],
  scopes: ['appointments:read'],
};
const CONTACT_REVEAL: Access = { roles: ['admin', 'provider', 'staff'], scopes: [] };
const CONSENT_READ: Access = {
  roles: ['admin', 'provider', 'staff', 'auditor'],
  scopes: ['consent:read'],
};
const CONSENT_WRITE: Access = { roles: ['admin', 'provider', 'staff'], scopes: ['consent:write'] };
const AUDIT_READ: Access = { roles: ['admin', 'auditor'], scopes: ['audit:read'] };

const idParams = z.object({ id: z.string().min(1).max(64) });

const searchBody = z.object({
  query: z
    .string()
    .trim()
    .min(2)
    .max(100)
    .describe('Name words (each the start of a name word) or a number (four digits or more)'),
});

const summary = z.object({
  id: z.string(),
  name: z.string().nullable().describe('Masked: initials only'),
  phone: z.string().nullable().describe('Masked: the last four digits only'),
});

const details = summary.extend({
  dob: z.string().nullable().describe('Masked entirely when known'),
  createdAt: z.string(),
  updatedAt: z.string(),
});

const revealBody = z.object({
  fields: z
    .array(z.enum(CONTACT_FIELDS))
    .min(1)
    .max(3)
    .default([...CONTACT_FIELDS]),
  purpose: z
    .enum(REVEAL_PURPOSES)
    .default('view')
    .describe('Why: view (patient page) or compose (to text them); audited'),
});

const revealed = z.object({
  id: z.string(),
  name: z.string().nullable(),
  phone: z.string().nullable().describe('E.164'),
  dob: z.string().nullable().describe('YYYY-MM-DD'),
});

const consentBody = z.object({
  program: z.enum([...PROGRAMS, 'all']),
  kind: z.enum(CONSENT_KINDS).default('opt_in'),
  source: z.enum(CONSENT_SOURCES),
  evidence: z.string().trim().min(1).max(500).optional(),
  occurredAt: z.string().max(40).optional().describe('ISO 8601; when it happened, if not now'),
});

const time = z.string().max(40).describe('ISO 8601 date-time with a zone');
const disclosuresQuery = z.object({
  from: time.optional(),
  to: time.optional(),
  cursor: z.string().max(20).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

function timeParam(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const t = parseIsoDateTime(value);
  if (t === null) {
    throw new AppError('validation_failed', `${name} must be an ISO 8601 date-time with a zone.`);
  }
  return t;
}

const idOf = (req: Parameters<RouteDef['handler']>[1]) =>
  (req.params as z.infer<typeof idParams>).id;

export const contactRoutes: RouteDef[] = [
  {
    method: 'POST',
    url: '/v1/contacts/search',
    access: CONTACT_READ,
    summary: 'Find patients by name or number; details masked (audited with the count only)',
    schema: {
      body: searchBody,
      response: { 200: z.object({ data: z.array(summary) }), ...errors },
    },
    handler: async (rt, req) =>
      rt.contacts.search(
        principal(req).orgId,
        (req.body as z.infer<typeof searchBody>).query,
        actor(req),
      ),
  },
  {
    method: 'GET',
    url: '/v1/contacts/:id',
    access: CONTACT_READ,
    summary: 'One patient, details masked (audited)',
    schema: { params: idParams, response: { 200: details, ...errors } },
    handler: async (rt, req) => rt.contacts.get(principal(req).orgId, idOf(req), actor(req)),
  },
  {
    method: 'POST',
    url: '/v1/contacts/:id/reveal',
    access: CONTACT_REVEAL,
    summary:
      'Reveal a patient’s full details; every reveal is audited, naming who and which fields',
    schema: { params: idParams, body: revealBody, response: { 200: revealed, ...errors } },
    handler: async (rt, req) => {
      const b = req.body as z.infer<typeof revealBody>;
      return rt.contacts.reveal(principal(req).orgId, idOf(req), b.fields, b.purpose, actor(req));
    },
  },
  {
    method: 'GET',
    url: '/v1/contacts/:id/consent',
    access: CONSENT_READ,
    summary: 'The patient’s consent per program and full history (number masked)',
    schema: { params: idParams, response: { 200: consentView, ...errors } },
    handler: async (rt, req) => {
      const orgId = principal(req).orgId;
      const phone = await rt.contacts.phoneOf(orgId, idOf(req));
      const view = await rt.consent.show(orgId, phone);
      return { ...view, phone: maskPhone(view.phone) };
    },
  },
  {
    method: 'POST',
    url: '/v1/contacts/:id/consents',
    access: CONSENT_WRITE,
    summary: 'Record a consent event for the patient (default opt-in) with source and evidence',
    schema: {
      params: idParams,
      body: consentBody,
      response: { 201: z.object({ id: z.string() }), ...errors },
    },
    handler: async (rt, req, reply) => {
      const orgId = principal(req).orgId;
      const b = req.body as z.infer<typeof consentBody>;
      const occurredAt = timeParam(b.occurredAt, 'occurredAt');
      const phone = await rt.contacts.phoneOf(orgId, idOf(req));
      const id = await rt.consent.record(orgId, { ...b, phone, occurredAt }, actor(req));
      return reply.code(201).send({ id });
    },
  },
  {
    method: 'GET',
    url: '/v1/contacts/:id/disclosures',
    access: AUDIT_READ,
    summary: 'Accounting of disclosures for the patient (audited like POST /v1/audit/disclosures)',
    schema: {
      params: idParams,
      querystring: disclosuresQuery,
      response: { 200: pageView, ...errors },
    },
    handler: async (rt, req) => {
      const orgId = principal(req).orgId;
      const q = req.query as z.infer<typeof disclosuresQuery>;
      const phone = await rt.contacts.phoneOf(orgId, idOf(req));
      return rt.audit.disclosures(
        orgId,
        phone,
        {
          cursor: q.cursor,
          limit: q.limit,
          from: timeParam(q.from, 'from'),
          to: timeParam(q.to, 'to'),
        },
        actor(req),
      );
    },
  },
];
