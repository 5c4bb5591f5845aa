/**
 * @module http/v1/templates
 * Organisation templates with typed slots: admins (and API keys with `templates:write`)
 * create, change and delete them; the people who send (and keys with `templates:read`) list,
 * read and preview them. A template is addressed by its id (`tpl_…`) or its name.
 */
import { z } from 'zod';
import { PROGRAMS } from '../../messaging/index.js';
import {
  MAX_TEMPLATE_CHARS,
  MAX_TEMPLATE_NAME,
  MAX_VARIABLE_CHARS,
  SLOT_TYPES,
} from '../../templates/index.js';
import { actor, errors, principal, type RouteDef } from './route-def.js';

const WRITE = { roles: ['admin'], scopes: ['templates:write'] } as const;
const READ = {
  roles: ['admin', 'provider', 'staff'],
  scopes: ['templates:read', 'templates:write'],
} as const;

const templateView = z.object({
  id: z.string(),
  name: z.string(),
  body: z.string(),
  program: z.enum(PROGRAMS),
  slots: z.array(z.enum(SLOT_TYPES)).describe('The slots the body uses, in order of first use'),
  createdBy: z.string().describe('Actor as type:id'),
  createdAt: z.string(),
  updatedBy: z.string(),
  updatedAt: z.string(),
});

const name = z.string().min(1).max(MAX_TEMPLATE_NAME).describe('Unique in the organisation');
const body = z
  .string()
  .min(1)
  .max(MAX_TEMPLATE_CHARS)
  .describe(`Text with {{slot}} placeholders; slot types: ${SLOT_TYPES.join(', ')}`);

const createBody = z.object({
  name,
  body,
  program: z.enum(PROGRAMS).optional().describe('Default program for sends (care)'),
});
const updateBody = z
  .object({ name: name.optional(), body: body.optional(), program: z.enum(PROGRAMS).optional() })
  .refine((b) => b.name !== undefined || b.body !== undefined || b.program !== undefined, {
    message: 'give at least one of name, body, program',
  });

const idParams = z.object({ id: z.string().min(1).max(MAX_TEMPLATE_NAME).describe('Id or name') });
const previewBody = z.object({
  variables: z
    .record(z.string().max(64), z.string().max(MAX_VARIABLE_CHARS))
    .default({})
    .describe('One value per slot, keyed by slot name'),
});
const previewResponse = z.object({
  body: z.string(),
  segments: z.number().int(),
  encoding: z.enum(['GSM-7', 'UCS-2']),
});

export const templateRoutes: RouteDef[] = [
  {
    method: 'POST',
    url: '/v1/templates',
    access: WRITE,
    summary: 'Create a template (scanned by the content guard; 422 template_contains_phi)',
    schema: { body: createBody, response: { 201: templateView, ...errors } },
    handler: async (rt, req, reply) => {
      const b = req.body as z.infer<typeof createBody>;
      const v = await rt.templates.create(principal(req).orgId, b, actor(req));
      return reply.code(201).send(v);
    },
  },
  {
    method: 'GET',
    url: '/v1/templates',
    access: READ,
    summary: "The organisation's templates, by name",
    schema: { response: { 200: z.object({ data: z.array(templateView) }), ...errors } },
    handler: async (rt, req) => ({ data: await rt.templates.list(principal(req).orgId) }),
  },
  {
    method: 'GET',
    url: '/v1/templates/:id',
    access: READ,
    summary: 'One template, by id or name',
    schema: { params: idParams, response: { 200: templateView, ...errors } },
    handler: async (rt, req) =>
      rt.templates.get(principal(req).orgId, (req.params as z.infer<typeof idParams>).id),
  },
  {
    method: 'PUT',
    url: '/v1/templates/:id',
    access: WRITE,
    summary: 'Change a template’s name, body or program (fields left out stay as they are)',
    schema: { params: idParams, body: updateBody, response: { 200: templateView, ...errors } },
    handler: async (rt, req) =>
      rt.templates.update(
        principal(req).orgId,
        (req.params as z.infer<typeof idParams>).id,
        req.body as z.infer<typeof updateBody>,
        actor(req),
      ),
  },
  {
    method: 'DELETE',
    url: '/v1/templates/:id',
    access: WRITE,
    summary: 'Delete a template (its history stays in the audit log)',
    schema: { params: idParams, response: errors },
    handler: async (rt, req, reply) => {
      await rt.templates.delete(
        principal(req).orgId,
        (req.params as z.infer<typeof idParams>).id,
        actor(req),
      );
      return reply.code(204).send();
    },
  },
  {
    method: 'POST',
    url: '/v1/templates/:id/preview',
    access: READ,
    summary: 'The text a send with these variables would carry, with its segment count',
    schema: { params: idParams, body: previewBody, response: { 200: previewResponse, ...errors } },
    handler: async (rt, req) =>
      rt.templates.preview(
        principal(req).orgId,
        (req.params as z.infer<typeof idParams>).id,
        (req.body as z.infer<typeof previewBody>).variables,
      ),
  },
];
