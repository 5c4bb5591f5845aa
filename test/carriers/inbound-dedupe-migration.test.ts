/**
 * Migration 0015_carrier_events on SQLite and PostgreSQL: inbound texts stored twice before
 * it (a redelivered carrier webhook) keep their rows, all but the first lose the carrier id,
 * and the unique index that stops a third copy is built.
 */
import { describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { announcePgSkip, DIALECTS, openTestRuntime } from '../helpers.js';
import { migrations } from '../../src/store/migrations.js';
import { SYSTEM_ACTOR } from '../../src/audit/index.js';

announcePgSkip('inbound dedupe migration');

for (const dialect of DIALECTS) {
  describe(`0015_carrier_events (${dialect})`, () => {
    it('keeps earlier copies, clears their carrier id, and then refuses a copy', async () => {
      const t = await openTestRuntime({ dialect });
      try {
        const db = t.rt.store.db;
        const orgId = (await t.rt.orgs.create('Dedupe Clinic', SYSTEM_ACTOR)).orgId;
        // As before the migration: no unique index.
        await sql`DROP INDEX inbound_messages_carrier_id`.execute(db);
        const row = (id: string, carrierId: string | null, at: number) => ({
          org_id: orgId,
          id,
          sender_id: 'snd_1',
          to_number: '+16175550100',
          from_enc: 'x',
          from_index: 'y',
          body_enc: 'z',
          carrier_message_id: carrierId,
          received_at: at,
        });
        await db
          .insertInto('inbound_messages')
          .values([
            row('in_b', 'SMtwice', 2),
            row('in_a', 'SMtwice', 1),
            row('in_c', 'SMtwice', 3),
            row('in_d', 'SMonce', 1),
            row('in_e', null, 1),
            row('in_f', null, 1),
          ])
          .execute();
        await migrations['0015_carrier_events']!.up(db as never);
        const rows = await db
          .selectFrom('inbound_messages')
          .select(['id', 'carrier_message_id'])
          .orderBy('id')
          .execute();
        expect(rows).toEqual([
          { id: 'in_a', carrier_message_id: 'SMtwice' },
          { id: 'in_b', carrier_message_id: null },
          { id: 'in_c', carrier_message_id: null },
          { id: 'in_d', carrier_message_id: 'SMonce' },
          { id: 'in_e', carrier_message_id: null },
          { id: 'in_f', carrier_message_id: null },
        ]);
        await expect(
          db
            .insertInto('inbound_messages')
            .values(row('in_g', 'SMonce', 5))
            .execute(),
        ).rejects.toThrow();
        // Another sender may carry the same carrier id.
        await db
          .insertInto('inbound_messages')
          .values({ ...row('in_h', 'SMonce', 5), sender_id: 'snd_2' })
          .execute();
      } finally {
        await t.cleanup();
      }
    });
  });
}
