import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { announcePgSkip, DIALECTS, openTestRuntime, waitFor, type TestRuntime } from './helpers.js';
import { verifyAudit } from '../src/audit/index.js';

announcePgSkip('pipeline end to end');

describe.each(DIALECTS)('pipeline on %s', (dialect) => {
  let t: TestRuntime;
  let orgId: string;
  const actor = { type: 'api_key' as const, id: 'key_test' };

  beforeAll(async () => {
    t = await openTestRuntime({ dialect });
    orgId = (await t.rt.orgs.create('Lakeside Clinic', { type: 'cli', id: 'test' })).orgId;
    t.rt.startWorkers();
  });
  afterAll(async () => t?.cleanup());

  it('accepts, dispatches and marks a message delivered', async () => {
    const { message } = await t.rt.messaging.accept(orgId, actor, {
      to: '(617) 555-0123',
      body: 'Your appointment is on Tuesday at 10:00.',
      program: 'care',
    });
    expect(message.status).toBe('queued');
    expect(message.to).toBe('+16175550123');
    const done = await waitFor(async () => {
      const m = await t.rt.messaging.get(orgId, message.id, actor);
      return m.status === 'delivered' ? m : undefined;
    });
    expect(done.body).toBe('Your appointment is on Tuesday at 10:00.');
    expect(done.carrierMessageId).toMatch(/^sim-/);
    expect((await verifyAudit(t.rt.store.db, orgId)).ok).toBe(true);
  });

  it('stores the body and number only as ciphertext', async () => {
    const rows = await t.rt.store.db.selectFrom('messages').selectAll().execute();
    for (const r of rows) {
      expect(r.body_enc).toMatch(/^v1:dk_/);
      expect(r.to_enc).not.toContain('617');
    }
  });
});
