/**
 * The consent engine end to end: the ledger and its derived state, program policies and
 * double opt-in, inbound STOP/HELP/START with exactly one reply, the STOP-while-sending
 * race, every opt-out path blocking every program and sending path, CSV import and export.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { announcePgSkip, DIALECTS, openTestRuntime, waitFor, type TestRuntime } from './helpers.js';
import { SYSTEM_ACTOR, verifyAudit } from '../src/audit/index.js';
import { CarrierError } from '../src/carriers/types.js';
import { PROGRAMS } from '../src/messaging/index.js';

announcePgSkip('consent');

const STAFF = { type: 'user' as const, id: 'usr_staff' };

interface SimLine {
  messageId: string;
  to: string;
  body: string;
  at: string;
}

for (const dialect of DIALECTS) {
  describe(`consent on ${dialect}`, () => {
    let t: TestRuntime;
    let orgId: string;
    let simLog: string;
    let senderNumber: string;
    let base: string;
    let apiKey: string;
    const carrierOptOut = new Set<string>();

    const sims = (): SimLine[] =>
      fs.existsSync(simLog)
        ? fs
            .readFileSync(simLog, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as SimLine)
        : [];
    const to = (n: number) => `+1617555${String(n).padStart(4, '0')}`;
    const send = (phone: string, program: (typeof PROGRAMS)[number] = 'care', sendAt?: string) =>
      t.rt.messaging.accept(orgId, SYSTEM_ACTOR, {
        to: phone,
        body: 'Your appointment is tomorrow at 10am',
        program,
        ...(sendAt ? { sendAt } : {}),
      });
    const inbound = async (from: string, text: string) => {
      const r = await t.rt.messaging.receiveInbound({ from, to: senderNumber, body: text });
      expect(r).not.toBeNull();
    };
    const repliesTo = (phone: string) =>
      t.rt.store.db
        .selectFrom('messages')
        .select(['id', 'status'])
        .where('org_id', '=', orgId)
        .where('kind', '=', 'consent_reply')
        .execute()
        .then(async (rows) => {
          const out: string[] = [];
          for (const r of rows) {
            const m = await t.rt.messaging.loadForDispatch(orgId, r.id);
            if (m?.to === phone) out.push(m.body);
          }
          return out;
        });

    beforeAll(async () => {
      const dir = fs.mkdtempSync(path.join((await import('node:os')).tmpdir(), 'consent-sim-'));
      simLog = path.join(dir, 'sim.jsonl');
      t = await openTestRuntime({
        dialect,
        env: { TIDINGS_SIM_LOG: simLog, TIDINGS_DEFAULT_MPS: '5000' },
        runtime: {
          simulator: {
            failWith: (m) =>
              carrierOptOut.has(m.to) ? new CarrierError('opted_out', '21610') : undefined,
          },
        },
      });
      const o = await t.rt.orgs.create('Harbor Clinic', SYSTEM_ACTOR);
      orgId = o.orgId;
      apiKey = (
        await t.rt.apiKeys.create(
          orgId,
          { name: 'consent', scopes: ['consent:write', 'consent:read', 'messages:send'] },
          SYSTEM_ACTOR,
        )
      ).apiKey;
      senderNumber = (await t.rt.orgs.senders(orgId))[0]!.number;
      base = await t.rt.listen();
      t.rt.startWorkers();
    });
    afterAll(async () => t?.cleanup());

    it('derives state from the ledger and keeps the full history with evidence', async () => {
      const phone = to(1001);
      await t.rt.consent.record(
        orgId,
        { phone, program: 'surveys', kind: 'opt_in', source: 'paper', evidence: 'intake form #88' },
        STAFF,
      );
      let v = await t.rt.consent.show(orgId, '(617) 555-1001');
      expect(v.programs.surveys).toEqual({ status: 'opted_in', canSend: true });
      expect(v.programs.marketing).toEqual({ status: 'none', canSend: false });
      expect(v.programs.care).toEqual({ status: 'none', canSend: true });
      await t.rt.consent.record(
        orgId,
        { phone, program: 'all', kind: 'opt_out_all', source: 'phone_call' },
        STAFF,
      );
      v = await t.rt.consent.show(orgId, phone);
      for (const p of PROGRAMS) expect(v.programs[p].canSend).toBe(false);
      expect(v.history.map((e) => [e.kind, e.source, e.evidence, e.actor])).toEqual([
        ['opt_in', 'paper', 'intake form #88', 'user:usr_staff'],
        ['opt_out_all', 'phone_call', null, 'user:usr_staff'],
      ]);
      // The evidence is stored encrypted, the number only as ciphertext and blind index.
      const rows = await t.rt.store.db.selectFrom('consent_events').selectAll().execute();
      for (const r of rows) {
        expect(JSON.stringify(r)).not.toContain('intake form');
        expect(JSON.stringify(r)).not.toContain('6175551001');
      }
      const csv = await t.rt.consent.exportCsv(orgId, phone);
      expect(csv.split('\n')[0]).toBe(
        'phone,event_id,program,kind,source,evidence,actor,occurred_at,recorded_at,destroyed',
      );
      // Nothing shredded here: every row ends `false` (see keys.test.ts for a shredded key).
      expect(
        csv
          .trim()
          .split('\n')
          .slice(1)
          .every((l) => l.endsWith(',false')),
      ).toBe(true);
      expect(csv).toContain('+16175551001');
      expect(csv).toContain('intake form #88');
      // API: the state through the URL form and the lookup form agree; CSV on request.
      const h = { authorization: `Bearer ${apiKey}` };
      const a = await fetch(`${base}/v1/consents/${encodeURIComponent(phone)}`, { headers: h });
      const b = await fetch(`${base}/v1/consents/lookup`, {
        method: 'POST',
        headers: { ...h, 'content-type': 'application/json' },
        body: JSON.stringify({ phone }),
      });
      expect(await a.json()).toEqual(await b.json());
      const c = await fetch(`${base}/v1/consents/${encodeURIComponent(phone)}?format=csv`, {
        headers: h,
      });
      expect(c.headers.get('content-type')).toMatch(/^text\/csv/);
    });

    it('refuses programs that need an opt-in, and asks for YES under double opt-in', async () => {
      const phone = to(1002);
      await expect(send(phone, 'surveys')).rejects.toMatchObject({ code: 'consent_required' });
      await expect(send(phone, 'marketing')).rejects.toMatchObject({ code: 'consent_required' });
      expect((await send(phone, 'care')).message.status).toBe('queued');
      await t.rt.consent.record(
        orgId,
        { phone, program: 'marketing', kind: 'opt_in', source: 'web_form' },
        STAFF,
      );
      expect((await t.rt.consent.show(orgId, phone)).programs.marketing.status).toBe('pending');
      await expect(send(phone, 'marketing')).rejects.toMatchObject({ code: 'consent_required' });
      expect(await repliesTo(phone)).toEqual([
        'Harbor Clinic: reply YES to confirm you want texts from us. Reply STOP to opt out.',
      ]);
      await inbound(phone, 'Yes!');
      expect((await t.rt.consent.show(orgId, phone)).programs.marketing.status).toBe('opted_in');
      expect((await send(phone, 'marketing')).message.status).toBe('queued');
      expect((await repliesTo(phone)).length).toBe(2);
      // A bare YES with nothing pending changes nothing and sends nothing.
      await inbound(phone, 'yes');
      expect((await repliesTo(phone)).length).toBe(2);
    });

    it('handles STOP, a second STOP, HELP and START with exactly one reply each time it matters', async () => {
      const phone = to(1003);
      const later = new Date(Date.now() + 3600_000).toISOString();
      const queued = [await send(phone, 'care', later), await send(phone, 'billing', later)];
      await inbound(phone, '  Stop!! 🛑 ');
      for (const q of queued) {
        const m = await t.rt.messaging.get(orgId, q.message.id, SYSTEM_ACTOR);
        expect([m.status, m.failureCode]).toEqual(['canceled', 'opted_out']);
      }
      for (const p of PROGRAMS) {
        await expect(send(phone, p)).rejects.toMatchObject({ code: 'recipient_opted_out' });
      }
      await inbound(phone, 'STOP');
      await inbound(phone, 'please stop texting me');
      const replies = await repliesTo(phone);
      expect(replies).toEqual([
        'Harbor Clinic: you are unsubscribed and will receive no more texts. Reply START to resubscribe.',
      ]);
      await inbound(phone, 'HELP');
      expect((await repliesTo(phone)).at(-1)).toMatch(/Reply STOP to opt out/);
      expect((await t.rt.consent.show(orgId, phone)).programs.care.status).toBe('opted_out');
      await inbound(phone, 'START');
      expect((await repliesTo(phone)).at(-1)).toMatch(/subscribed again/);
      expect((await send(phone, 'care')).message.status).toBe('queued');
      // A reply about an appointment is not an opt-out.
      await inbound(phone, 'cancel my appointment please');
      expect((await t.rt.consent.show(orgId, phone)).programs.care.canSend).toBe(true);
    });

    it('sends nothing to a number after its STOP commits, even with 1,000 queued and the worker running', async () => {
      const phone = to(1004);
      const soon = new Date(Date.now() + 400).toISOString();
      const accepted = await Promise.all(
        Array.from({ length: 1000 }, (_, i) => send(phone, 'care', i % 4 === 0 ? soon : undefined)),
      );
      const ids = new Set(accepted.map((a) => a.message.id));
      // Let the worker get going on them.
      await waitFor(() => sims().some((l) => ids.has(l.messageId)), 10_000, 5);
      await inbound(phone, 'STOP');
      const committed = Date.now();
      await waitFor(async () => {
        const m = await t.rt.store.db
          .selectFrom('messages')
          .select('id')
          .where('org_id', '=', orgId)
          .where('status', 'in', ['queued'])
          .where('kind', '=', 'standard')
          .execute();
        return m.every((r) => !ids.has(r.id));
      }, 20_000);
      await new Promise((r) => setTimeout(r, 700)); // past the scheduled ones' time
      const submitted = sims().filter((l) => ids.has(l.messageId));
      const late = submitted.filter((l) => Date.parse(l.at) > committed);
      expect(late).toEqual([]);
      const statuses = await t.rt.store.db
        .selectFrom('messages')
        .select(['id', 'status', 'failure_code'])
        .where('org_id', '=', orgId)
        .where('kind', '=', 'standard')
        .execute();
      const mine = statuses.filter((s) => ids.has(s.id));
      const sentIds = new Set(submitted.map((l) => l.messageId));
      for (const s of mine) {
        if (sentIds.has(s.id)) expect(['sent', 'delivered']).toContain(s.status);
        else expect([s.status, s.failure_code]).toEqual(['canceled', 'opted_out']);
      }
      // The STOP really came mid-run: some went before it, the rest were stopped.
      expect(submitted.length).toBeGreaterThan(0);
      expect(submitted.length).toBeLessThan(1000);
      console.info(
        `[stop race on ${dialect}] submitted before the STOP: ${submitted.length}; canceled: ${1000 - submitted.length}; submitted after it: ${late.length}`,
      );
      // Exactly one confirmation, and it does go out.
      await waitFor(
        () => sims().filter((l) => l.to === phone && l.body.includes('unsubscribed')).length === 1,
      );
      expect(await repliesTo(phone)).toHaveLength(1);
    }, 60_000);

    it('blocks every program and sending path whichever way the opt-out arrived', async () => {
      const paths: [string, (phone: string) => Promise<void>][] = [
        ['sms keyword', (p) => inbound(p, 'UNSUBSCRIBE')],
        ['natural language', (p) => inbound(p, 'wrong number, please remove me from your list')],
        [
          'api',
          async (p) => {
            const r = await fetch(`${base}/v1/consents`, {
              method: 'POST',
              headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
              body: JSON.stringify({
                phone: p,
                program: 'all',
                kind: 'opt_out_all',
                source: 'api',
              }),
            });
            expect(r.status).toBe(201);
          },
        ],
        [
          'staff',
          async (p) => {
            await t.rt.consent.record(
              orgId,
              {
                phone: p,
                program: 'all',
                kind: 'opt_out_all',
                source: 'staff',
                evidence: 'front desk',
              },
              STAFF,
            );
          },
        ],
        [
          'carrier error',
          async (p) => {
            carrierOptOut.add(p);
            const m = await send(p, 'care');
            await waitFor(
              async () =>
                (await t.rt.messaging.get(orgId, m.message.id, SYSTEM_ACTOR)).status === 'failed',
            );
            carrierOptOut.delete(p);
          },
        ],
        [
          'import',
          async (p) => {
            const r = await t.rt.consent.importCsv(
              orgId,
              `phone,program,kind,source\n${p},all,opt_out_all,paper\n`,
              {},
              STAFF,
            );
            expect(r.imported).toBe(1);
          },
        ],
      ];
      // The reminder and campaign paths send through the same pipeline (issue 7).
      await t.rt.templates.create(
        orgId,
        { name: 'open-day', body: 'Hi {{firstName}}, our open day is {{date}}.', program: 'care' },
        STAFF,
      );
      let n = 1100;
      for (const [name, optOut] of paths) {
        const phone = to(n++);
        // A retry in flight: a message queued for later, as a retry would be.
        const pending = await send(phone, 'care', new Date(Date.now() + 600_000).toISOString());
        await optOut(phone);
        const v = await t.rt.consent.show(orgId, phone);
        for (const p of PROGRAMS) expect(v.programs[p].canSend, `${name}: ${p}`).toBe(false);
        for (const p of PROGRAMS) {
          await expect(send(phone, p), `${name}: ${p}`).rejects.toMatchObject({
            code: 'recipient_opted_out',
          });
        }
        const api = await fetch(`${base}/v1/messages`, {
          method: 'POST',
          headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
          body: JSON.stringify({ to: phone, body: 'Hello', program: 'care' }),
        });
        expect(api.status, name).toBe(422);
        const m = await t.rt.messaging.get(orgId, pending.message.id, SYSTEM_ACTOR);
        expect([m.status, m.failureCode], name).toEqual(['canceled', 'opted_out']);
        // A reminder for an appointment booked afterwards is planned but never queued.
        const booked = await t.rt.reminders.upsertAppointment(orgId, STAFF, {
          externalId: `appt-${n}`,
          source: 'api',
          patient: { given: 'Ana', phone },
          start: Date.now() + 5 * 24 * 3600_000,
          status: 'booked',
        });
        expect(booked?.reminders.length, name).toBeGreaterThan(0);
        for (const r of booked!.reminders) {
          expect([r.status, r.messageId], `${name}: reminder`).toEqual(['skipped', null]);
        }
        // A campaign counts the number as suppressed by consent and sends it nothing.
        const c = await t.rt.campaigns.create(orgId, STAFF, {
          name: `open day ${n}`,
          template: 'open-day',
          csv: `phone,firstName,date\n${phone},Ana,2026-12-15\n`,
        });
        const report = await t.rt.campaigns.run(orgId, c.id, STAFF);
        expect(report.progress, `${name}: campaign`).toMatchObject({
          suppressedByConsent: 1,
          queued: 0,
        });
        expect(v.history.at(-1)?.source, name).toBe(
          {
            'sms keyword': 'sms_keyword',
            'natural language': 'sms_reply',
            api: 'api',
            staff: 'staff',
            'carrier error': 'carrier',
            import: 'paper',
          }[name],
        );
      }
    }, 60_000);

    it('imports nothing when a row is invalid, reports errors by line, and can skip bad rows', async () => {
      const csv = [
        'phone,program,kind,source,evidence,occurred_at',
        `${to(1201)},surveys,opt_in,web_form,form-1,2026-01-05T10:00:00Z`,
        `not-a-number,surveys,opt_in,web_form,,`,
        `${to(1202)},surveys,maybe,web_form,,`,
        `${to(1203)},surveys,opt_in,web_form,,yesterday`,
        `${to(1204)},billing,opt_out,paper,doc-7,`,
      ].join('\n');
      const before = await t.rt.store.db.selectFrom('consent_events').select('id').execute();
      const r = await t.rt.consent.importCsv(orgId, csv, {}, STAFF);
      expect(r).toMatchObject({ rows: 5, imported: 0 });
      expect(r.errors.map((e) => [e.line, e.code])).toEqual([
        [3, 'invalid_phone_number'],
        [4, 'validation_failed'],
        [5, 'validation_failed'],
      ]);
      expect((await t.rt.store.db.selectFrom('consent_events').select('id').execute()).length).toBe(
        before.length,
      );
      const res = await fetch(`${base}/v1/consents/import?skipInvalid=true`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'text/csv' },
        body: csv,
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ rows: 5, imported: 2, skipped: 3 });
      const v = await t.rt.consent.show(orgId, to(1201));
      expect(v.history[0]).toMatchObject({
        occurredAt: '2026-01-05T10:00:00.000Z',
        evidence: 'form-1',
      });
      expect((await t.rt.consent.show(orgId, to(1204))).programs.billing.status).toBe('opted_out');
      expect((await verifyAudit(t.rt.store.db, orgId)).ok).toBe(true);
    });
  });
}
