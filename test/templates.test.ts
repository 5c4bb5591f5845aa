/**
 * Organisation templates across parts, on SQLite and PostgreSQL: saving scans the template
 * (and refuses one that would hold PHI, storing nothing), every change is audited in its own
 * transaction, rendering checks each variable by type and never repeats a value in an error,
 * and the HTTP API serves it all to the right callers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { announcePgSkip, DIALECTS, openTestRuntime, type TestRuntime } from './helpers.js';
import { SYSTEM_ACTOR, verifyAudit, type Actor } from '../src/audit/index.js';
import { AppError } from '../src/errors/index.js';

announcePgSkip('templates');

const ADMIN: Actor = { type: 'user', id: 'usr_admin' };
const REMINDER =
  'Hi {{firstName}}, this is a reminder of your visit at {{clinicName}} on {{date}} at {{time}}. Reply C to confirm.';

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'none';
  } catch (e) {
    if (e instanceof AppError) return e.code;
    throw e;
  }
}

async function errorOf(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof AppError) return e;
    throw e;
  }
  throw new Error('expected an AppError');
}

describe.each(DIALECTS)('templates on %s', (dialect) => {
  let t: TestRuntime;
  let orgId: string;
  let otherOrg: string;

  beforeAll(async () => {
    t = await openTestRuntime({ dialect });
    orgId = (await t.rt.orgs.create('Lakeside Clinic', SYSTEM_ACTOR)).orgId;
    otherOrg = (await t.rt.orgs.create('Other Clinic', SYSTEM_ACTOR)).orgId;
  });
  afterAll(async () => t?.cleanup());

  async function auditActions(org: string): Promise<string[]> {
    const rows = await t.rt.store.db
      .selectFrom('audit_events')
      .select(['action', 'target_id'])
      .where('org_id', '=', org)
      .where('action', 'like', 'template.%')
      .orderBy('seq')
      .execute();
    return rows.map((r) => `${r.action} ${r.target_id}`);
  }

  it('creates, reads by id and by name, lists, changes and deletes, auditing each change', async () => {
    const tpl = await t.rt.templates.create(
      orgId,
      { name: 'Visit reminder', body: REMINDER },
      ADMIN,
    );
    expect(tpl).toMatchObject({
      name: 'Visit reminder',
      body: REMINDER,
      program: 'care',
      slots: ['firstName', 'clinicName', 'date', 'time'],
      createdBy: 'user:usr_admin',
    });
    expect(tpl.id).toMatch(/^tpl_[0-9a-z]{26}$/);
    expect(await t.rt.templates.get(orgId, tpl.id)).toEqual(tpl);
    expect(await t.rt.templates.get(orgId, 'Visit reminder')).toEqual(tpl);
    expect(await codeOf(t.rt.templates.get(otherOrg, tpl.id))).toBe('template_not_found');

    const changed = await t.rt.templates.update(
      orgId,
      tpl.id,
      { name: 'Reminder', program: 'billing' },
      { type: 'api_key', id: 'key_x' },
    );
    expect(changed).toMatchObject({ name: 'Reminder', program: 'billing', body: REMINDER });
    expect(changed.updatedBy).toBe('api_key:key_x');
    expect((await t.rt.templates.list(orgId)).map((x) => x.name)).toContain('Reminder');

    await t.rt.templates.delete(orgId, 'Reminder', ADMIN);
    expect(await codeOf(t.rt.templates.get(orgId, tpl.id))).toBe('template_not_found');
    expect(await codeOf(t.rt.templates.delete(orgId, tpl.id, ADMIN))).toBe('template_not_found');

    expect(await auditActions(orgId)).toEqual([
      `template.created ${tpl.id}`,
      `template.updated ${tpl.id}`,
      `template.deleted ${tpl.id}`,
    ]);
    expect((await verifyAudit(t.rt.store.db, orgId)).ok).toBe(true);
  });

  it('refuses a template that would reveal health information, storing and auditing nothing', async () => {
    const before = await auditActions(orgId);
    for (const body of [
      'Hi {{firstName}}, your HIV test results are ready at {{clinicName}}.',
      'Reminder: your chemotherapy session is on {{date}} at {{time}}.',
      'Hi {{firstName}}, it is time to refill your metformin.',
    ]) {
      const e = await errorOf(t.rt.templates.create(orgId, { name: 'Bad one', body }, ADMIN));
      expect(e.code).toBe('template_contains_phi');
      expect(e.status).toBe(422);
      expect(e.message).toMatch(/\((condition|medication|lab|procedure|sensitive|specialty)/);
      expect(e.message).not.toMatch(/HIV|chemotherapy|metformin/i);
    }
    expect((await t.rt.templates.list(orgId)).map((x) => x.name)).not.toContain('Bad one');
    expect(await auditActions(orgId)).toEqual(before);
  });

  it('refuses PHI on update too, leaving the template as it was', async () => {
    const tpl = await t.rt.templates.create(
      orgId,
      { name: 'Closure', body: '{{clinicName}} is closed today because of the weather.' },
      ADMIN,
    );
    expect(
      await codeOf(
        t.rt.templates.update(orgId, tpl.id, { body: 'Your biopsy is on {{date}}.' }, ADMIN),
      ),
    ).toBe('template_contains_phi');
    expect((await t.rt.templates.get(orgId, tpl.id)).body).toBe(tpl.body);
  });

  it('refuses unknown slots, bad syntax, empty and over-long bodies, and bad names', async () => {
    const create = (name: string, body: string) =>
      codeOf(t.rt.templates.create(orgId, { name, body }, ADMIN));
    expect(await create('A', 'Hi {{nickname}}')).toBe('template_unknown_slot');
    expect(await create('A', 'Hi {{firstName}')).toBe('template_syntax_invalid');
    expect(await create('A', '   ')).toBe('validation_failed');
    expect(await create('A', 'x'.repeat(1001))).toBe('validation_failed');
    expect(await create('A', 'Hi\u0007')).toBe('validation_failed');
    // 852 characters, but 800 of text and three 200-character links and two 80-character
    // locations do not fit 10 segments (1,530 characters).
    const long = `${'Hi. '.repeat(200)}{{link}} {{link}} {{link}} {{location}} {{location}}`;
    expect(await create('A', long)).toBe('template_too_long');
    expect(await create('A', 'Hi. '.repeat(200))).toBe('none');
    expect(await create('', 'Hello')).toBe('validation_failed');
    expect(await create('tpl_sneaky', 'Hello')).toBe('validation_failed');
    expect(await create('x'.repeat(65), 'Hello')).toBe('validation_failed');
    expect(
      await codeOf(
        t.rt.templates.create(orgId, { name: 'A', body: 'Hello', program: 'nope' as never }, ADMIN),
      ),
    ).toBe('validation_failed');
  });

  it('keeps names unique in an organisation, not across organisations', async () => {
    await t.rt.templates.create(
      orgId,
      { name: 'Unique', body: 'Hello from {{clinicName}}.' },
      ADMIN,
    );
    expect(
      await codeOf(t.rt.templates.create(orgId, { name: 'Unique', body: 'Hello.' }, ADMIN)),
    ).toBe('template_name_taken');
    const other = await t.rt.templates.create(otherOrg, { name: 'Unique', body: 'Hello.' }, ADMIN);
    expect(other.name).toBe('Unique');
    const second = await t.rt.templates.create(orgId, { name: 'Second', body: 'Hi.' }, ADMIN);
    expect(await codeOf(t.rt.templates.update(orgId, second.id, { name: 'Unique' }, ADMIN))).toBe(
      'template_name_taken',
    );
  });

  it('gives one of two concurrent saves of one name, and name_taken to the other', async () => {
    const results = await Promise.all(
      [1, 2, 3].map((i) =>
        codeOf(t.rt.templates.create(orgId, { name: 'Race', body: `Notice ${i}.` }, ADMIN)),
      ),
    );
    expect(results.filter((c) => c === 'none')).toHaveLength(1);
    expect(results.filter((c) => c === 'template_name_taken')).toHaveLength(2);
  });

  describe('render', () => {
    const vars = {
      firstName: 'José María',
      clinicName: 'Lakeside Clinic',
      date: '2026-12-08',
      time: '14:30',
    };
    let id: string;
    beforeAll(async () => {
      id = (
        await t.rt.templates.create(
          orgId,
          { name: 'Render me', body: REMINDER, program: 'care' },
          ADMIN,
        )
      ).id;
    });

    it('fills every slot with its formatted value', async () => {
      const r = await t.rt.templates.render(orgId, 'Render me', vars);
      expect(r).toEqual({
        body: 'Hi José María, this is a reminder of your visit at Lakeside Clinic on Tue, Dec 8 at 2:30 PM. Reply C to confirm.',
        templateId: id,
        templateName: 'Render me',
        program: 'care',
      });
      // "í" is not in the GSM-7 alphabet: 113 UCS-2 characters need two segments.
      expect(await t.rt.templates.preview(orgId, id, vars)).toMatchObject({
        segments: 2,
        encoding: 'UCS-2',
      });
    });

    it('names a missing slot', async () => {
      const rest: Record<string, string> = { ...vars };
      delete rest.time;
      const e = await errorOf(t.rt.templates.render(orgId, id, rest));
      expect([e.code, e.status]).toEqual(['template_variable_missing', 400]);
      expect(e.message).toContain('time');
    });

    it('names an unexpected variable, but does not repeat a key that is not a plain name', async () => {
      const e = await errorOf(t.rt.templates.render(orgId, id, { ...vars, nickname: 'Jo' }));
      expect([e.code, e.status]).toEqual(['template_variable_unexpected', 400]);
      expect(e.message).toContain('nickname');
      expect(e.message).not.toContain('Jo.');
      const e2 = await errorOf(
        t.rt.templates.render(orgId, id, { ...vars, 'patient has HIV': 'x' }),
      );
      expect(e2.code).toBe('template_variable_unexpected');
      expect(e2.message).not.toContain('HIV');
    });

    it('refuses a value of the wrong form, naming the slot and the rule, never the value', async () => {
      for (const [slot, bad] of [
        ['firstName', 'Alex 4th'],
        ['date', '2026-02-30'],
        ['time', '25:00'],
        ['clinicName', 'Clinic <script>'],
      ] as const) {
        const e = await errorOf(t.rt.templates.render(orgId, id, { ...vars, [slot]: bad }));
        expect([e.code, e.status]).toEqual(['template_variable_invalid', 400]);
        expect(e.message).toContain(slot);
        expect(e.message).not.toContain(bad);
      }
    });

    it('refuses a value the guard holds, naming the slot and categories, never the value', async () => {
      const e = await errorOf(
        t.rt.templates.render(orgId, id, { ...vars, clinicName: 'Valley Oncology Center' }),
      );
      expect([e.code, e.status]).toEqual(['template_variable_contains_phi', 422]);
      expect(e.message).toContain('clinicName');
      expect(e.message).toContain('specialty');
      expect(e.message).not.toMatch(/oncology/i);
      const e2 = await errorOf(
        t.rt.templates.render(orgId, id, { ...vars, firstName: 'Diabetes' }),
      );
      expect(e2.code).toBe('template_variable_contains_phi');
      expect(e2.message).not.toMatch(/diabetes/i);
    });

    it('does not render another organisation’s template', async () => {
      expect(await codeOf(t.rt.templates.render(otherOrg, id, vars))).toBe('template_not_found');
    });
  });

  describe('over HTTP', () => {
    let base: string;
    let writeKey: string;
    let readKey: string;
    let sendKey: string;

    beforeAll(async () => {
      const key = async (scopes: Parameters<typeof t.rt.apiKeys.create>[1]['scopes']) =>
        (await t.rt.apiKeys.create(orgId, { name: 'k', scopes }, SYSTEM_ACTOR)).apiKey;
      writeKey = await key(['templates:write']);
      readKey = await key(['templates:read']);
      sendKey = await key(['messages:send']);
      base = await t.rt.listen();
    });

    async function call(
      key: string,
      method: string,
      path: string,
      body?: unknown,
    ): Promise<{ status: number; json: unknown }> {
      const res = await fetch(base + path, {
        method,
        headers: {
          authorization: `Bearer ${key}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, json: text ? JSON.parse(text) : null };
    }

    it('serves the whole lifecycle to the scopes that may use it', async () => {
      const created = await call(writeKey, 'POST', '/v1/templates', {
        name: 'Api reminder',
        body: 'Hi {{firstName}}, see you on {{date}} at {{time}}. Code {{code}}.',
        program: 'care',
      });
      expect(created.status).toBe(201);
      const tpl = created.json as { id: string; slots: string[] };
      expect(tpl.slots).toEqual(['firstName', 'date', 'time', 'code']);

      const list = await call(readKey, 'GET', '/v1/templates');
      expect(list.status).toBe(200);
      expect((list.json as { data: { id: string }[] }).data.map((x) => x.id)).toContain(tpl.id);
      expect((await call(readKey, 'GET', `/v1/templates/${tpl.id}`)).status).toBe(200);
      expect(
        (await call(readKey, 'GET', `/v1/templates/${encodeURIComponent('Api reminder')}`)).status,
      ).toBe(200);

      const preview = await call(readKey, 'POST', `/v1/templates/${tpl.id}/preview`, {
        variables: { firstName: 'Alex', date: '2026-12-08', time: '10:30', code: 'AB12CD' },
      });
      expect(preview).toEqual({
        status: 200,
        json: {
          body: 'Hi Alex, see you on Tue, Dec 8 at 10:30 AM. Code AB12CD.',
          segments: 1,
          encoding: 'GSM-7',
        },
      });

      const missing = await call(readKey, 'POST', `/v1/templates/${tpl.id}/preview`, {
        variables: { firstName: 'Alex', date: '2026-12-08', time: '10:30' },
      });
      expect(missing.status).toBe(400);
      expect(missing.json).toMatchObject({ error: { code: 'template_variable_missing' } });

      const put = await call(writeKey, 'PUT', `/v1/templates/${tpl.id}`, { program: 'surveys' });
      expect(put.status).toBe(200);
      expect(put.json).toMatchObject({ program: 'surveys' });
      const emptyPut = await call(writeKey, 'PUT', `/v1/templates/${tpl.id}`, {});
      expect(emptyPut.status).toBe(400);

      expect((await call(readKey, 'POST', '/v1/templates', { name: 'x', body: 'y' })).status).toBe(
        403,
      );
      expect((await call(readKey, 'DELETE', `/v1/templates/${tpl.id}`)).status).toBe(403);
      expect((await call(sendKey, 'GET', '/v1/templates')).status).toBe(403);

      expect((await call(writeKey, 'DELETE', `/v1/templates/${tpl.id}`)).status).toBe(204);
      const gone = await call(readKey, 'GET', `/v1/templates/${tpl.id}`);
      expect(gone.status).toBe(404);
      expect(gone.json).toMatchObject({ error: { code: 'template_not_found' } });
    });

    it('documents every template route in the OpenAPI document', async () => {
      const doc = (await (await fetch(`${base}/openapi.json`)).json()) as {
        paths: Record<string, Record<string, unknown>>;
      };
      expect(Object.keys(doc.paths['/v1/templates'] ?? {}).sort()).toEqual(['get', 'post']);
      expect(Object.keys(doc.paths['/v1/templates/{id}'] ?? {}).sort()).toEqual([
        'delete',
        'get',
        'put',
      ]);
      expect(Object.keys(doc.paths['/v1/templates/{id}/preview'] ?? {})).toEqual(['post']);
    });

    it('answers 422 template_contains_phi with the categories, never the text', async () => {
      const r = await call(writeKey, 'POST', '/v1/templates', {
        name: 'Leaky',
        body: 'Hi {{firstName}}, your pregnancy test was positive.',
      });
      expect(r.status).toBe(422);
      const err = (r.json as { error: { code: string; message: string } }).error;
      expect(err.code).toBe('template_contains_phi');
      expect(err.message).not.toMatch(/pregnan|positive/i);
    });
  });
});
