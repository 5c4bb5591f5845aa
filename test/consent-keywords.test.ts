/**
 * An organisation's own consent keywords (issue 8, Settings), over HTTP on SQLite and
 * PostgreSQL: added through PUT /v1/consent-settings (admin only, audited), a whole-reply
 * match acting exactly as the standard keyword of its intent (same event, source and reply
 * text), bad keywords refused with validation_failed and nothing changed, the standard set
 * untouched, and the reply tester (POST /v1/consent-settings/classify) reading the saved or
 * the unsaved keywords.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { announcePgSkip, DIALECTS, openTestRuntime, type TestRuntime } from './helpers.js';
import { errorCode, signedInUser, type SessionClient } from './auth-client.js';
import { SYSTEM_ACTOR, verifyAudit } from '../src/audit/index.js';
import {
  classifyWithCustomKeywords,
  validateCustomKeywords,
} from '../src/consent/custom-keywords.js';

announcePgSkip('consent keywords');

interface Keywords {
  optOut: string[];
  help: string[];
  optIn: string[];
}
interface Settings {
  helpText: string;
  optOutText: string;
  optInText: string;
  keywords: Keywords;
}
interface Verdict {
  intent: string;
  scope: unknown;
  keyword: string | null;
  yes: boolean;
  custom: boolean;
}

describe('custom keyword validation and matching (pure)', () => {
  it('tidies keywords and matches only the whole reply, after the classifier’s normalisation', () => {
    const k = validateCustomKeywords({
      optOut: ['  unsubscribe   flu '],
      help: [],
      optIn: ['Sí quiero'],
    });
    expect(k).toEqual({ optOut: ['UNSUBSCRIBE FLU'], help: [], optIn: ['SÍ QUIERO'] });
    expect(classifyWithCustomKeywords('Unsubscribe flu!!', k)).toMatchObject({
      intent: 'opt_out',
      scope: 'all',
      keyword: 'UNSUBSCRIBE FLU',
      custom: true,
    });
    expect(classifyWithCustomKeywords('si quiero', k)).toMatchObject({
      intent: 'opt_in',
      keyword: 'SÍ QUIERO',
      custom: true,
    });
    // Not the whole reply: the classifier alone decides.
    expect(classifyWithCustomKeywords('si quiero mas info', k).custom).toBe(false);
    // The standard set is untouched.
    expect(classifyWithCustomKeywords('STOP', k)).toMatchObject({
      intent: 'opt_out',
      keyword: 'STOP',
    });
  });

  it('refuses clashes with the standard keywords of another intent, YES, opt-outs and duplicates', () => {
    const bad: [Partial<Keywords>, RegExp][] = [
      [{ optIn: ['STOP'] }, /standard opt-out keyword/],
      [{ help: ['unsubscribe'] }, /standard opt-out keyword/],
      [{ optOut: ['HELP'] }, /standard help keyword/],
      [{ optOut: ['START'] }, /standard opt-in keyword/],
      [{ optIn: ['yes'] }, /confirms a double opt-in/],
      [{ help: ['please stop texting me'] }, /reads as an opt-out/],
      [{ optOut: ['FLU'], optIn: ['flu'] }, /both/],
      [{ optOut: ['FLU-SHOT'] }, /letters, digits and spaces/],
      [{ optOut: ['x'.repeat(31)] }, /1 to 30/],
      [{ optOut: [''] }, /1 to 30/],
      [{ help: Array.from({ length: 21 }, (_, i) => `WORD${i}`) }, /At most 20/],
    ];
    for (const [input, message] of bad) {
      expect(() => validateCustomKeywords(input), JSON.stringify(input)).toThrow(message);
    }
    // The same intent as the standard keyword is harmless, and duplicates collapse.
    expect(validateCustomKeywords({ optOut: ['STOP', 'stop', 'BAJA FLU'] }).optOut).toEqual([
      'STOP',
      'BAJA FLU',
    ]);
  });
});

for (const dialect of DIALECTS) {
  describe(`consent keywords on ${dialect}`, () => {
    let t: TestRuntime;
    let orgId: string;
    let senderNumber: string;
    let admin: SessionClient;
    let auditor: SessionClient;
    const to = (n: number) => `+1617556${String(n).padStart(4, '0')}`;

    const inbound = async (from: string, text: string) => {
      const r = await t.rt.messaging.receiveInbound({ from, to: senderNumber, body: text });
      expect(r).not.toBeNull();
    };
    const repliesTo = async (phone: string) => {
      const rows = await t.rt.store.db
        .selectFrom('messages')
        .select(['id', 'created_at'])
        .where('org_id', '=', orgId)
        .where('kind', '=', 'consent_reply')
        .orderBy('created_at')
        .execute();
      const out: string[] = [];
      for (const r of rows) {
        const m = await t.rt.messaging.loadForDispatch(orgId, r.id);
        if (m?.to === phone) out.push(m.body);
      }
      return out;
    };
    const history = async (phone: string) =>
      (await t.rt.consent.show(orgId, phone)).history.map((h) => [
        h.program,
        h.kind,
        h.source,
        h.evidence?.replace(/^inbound:\S+/, 'inbound:ID') ?? null,
      ]);

    beforeAll(async () => {
      t = await openTestRuntime({ dialect, env: { TIDINGS_AUTH_RATE_LIMIT: '1000' } });
      orgId = (await t.rt.orgs.create('Bay Clinic', SYSTEM_ACTOR)).orgId;
      senderNumber = (await t.rt.orgs.senders(orgId))[0]!.number;
      const base = await t.rt.listen();
      admin = (await signedInUser(t.rt, base, orgId, 'admin@kw.example', 'admin')).client;
      auditor = (await signedInUser(t.rt, base, orgId, 'auditor@kw.example', 'auditor')).client;
    });
    afterAll(async () => t?.cleanup());

    it('saves custom keywords (admin only, audited) and applies them to inbound replies', async () => {
      const before = await admin.call<Settings>('GET', '/v1/consent-settings');
      expect(before.status).toBe(200);
      expect(before.json.keywords).toEqual({ optOut: [], help: [], optIn: [] });

      const refused = await auditor.call('PUT', '/v1/consent-settings', {
        keywords: { optOut: ['UNSUBSCRIBE FLU'] },
      });
      expect(refused.status).toBe(403);

      const put = await admin.call<Settings>('PUT', '/v1/consent-settings', {
        keywords: { optOut: ['unsubscribe flu', 'NO MAS'], optIn: ['vuelvo'], help: ['AYUDENME'] },
      });
      expect(put.status).toBe(200);
      expect(put.json.keywords).toEqual({
        optOut: ['UNSUBSCRIBE FLU', 'NO MAS'],
        help: ['AYUDENME'],
        optIn: ['VUELVO'],
      });
      // Other settings are kept.
      expect(put.json.optOutText).toBe(before.json.optOutText);
      const read = await auditor.call<Settings>('GET', '/v1/consent-settings');
      expect(read.json.keywords.optOut).toEqual(['UNSUBSCRIBE FLU', 'NO MAS']);

      const audit = await t.rt.store.db
        .selectFrom('audit_events')
        .select(['details', 'actor_type'])
        .where('org_id', '=', orgId)
        .where('action', '=', 'consent.settings_changed')
        .execute();
      expect(audit).toHaveLength(1);
      expect(JSON.parse(audit[0]!.details)).toMatchObject({
        customOptOutKeywords: 2,
        customHelpKeywords: 1,
        customOptInKeywords: 1,
      });
      expect((await verifyAudit(t.rt.store.db, orgId)).ok).toBe(true);

      // A custom opt-out: the number is opted out of everything and the confirmation sent once.
      const phone = to(1);
      const later = new Date(Date.now() + 3600_000).toISOString();
      const queued = await t.rt.messaging.accept(orgId, SYSTEM_ACTOR, {
        to: phone,
        body: 'Your flu shot is due',
        program: 'care',
        sendAt: later,
      });
      await inbound(phone, '  Unsubscribe Flu. ');
      const m = await t.rt.messaging.get(orgId, queued.message.id, SYSTEM_ACTOR);
      expect([m.status, m.failureCode]).toEqual(['canceled', 'opted_out']);
      const state = await t.rt.consent.show(orgId, phone);
      for (const p of Object.values(state.programs)) expect(p.status).toBe('opted_out');
      expect(await repliesTo(phone)).toEqual([
        'Bay Clinic: you are unsubscribed and will receive no more texts. Reply START to resubscribe.',
      ]);
      expect(await history(phone)).toEqual([
        ['all', 'opt_out_all', 'sms_keyword', 'inbound:ID keyword:UNSUBSCRIBE FLU'],
      ]);

      // Custom help: the help text, consent unchanged.
      await inbound(phone, 'ayudenme');
      expect((await repliesTo(phone)).at(-1)).toMatch(/^Bay Clinic: appointment and care texts/);
      expect(await history(phone)).toHaveLength(1);

      // Custom opt-in: lifts the opt-out as START would, with the opt-in confirmation.
      await inbound(phone, 'VUELVO');
      expect((await t.rt.consent.show(orgId, phone)).programs.care).toEqual({
        status: 'none',
        canSend: true,
      });
      expect((await repliesTo(phone)).at(-1)).toBe(
        'Bay Clinic: you are subscribed again. Reply STOP to opt out, HELP for help.',
      );
      expect((await history(phone)).at(-1)).toEqual([
        'all',
        'opt_in',
        'sms_keyword',
        'inbound:ID keyword:VUELVO',
      ]);
      expect(await repliesTo(phone)).toHaveLength(3);

      // The standard STOP still works, as before.
      await inbound(phone, 'STOP');
      expect((await t.rt.consent.show(orgId, phone)).programs.billing.status).toBe('opted_out');
      expect((await history(phone)).at(-1)).toEqual([
        'all',
        'opt_out_all',
        'sms_keyword',
        'inbound:ID keyword:STOP',
      ]);
      expect(await repliesTo(phone)).toHaveLength(4);

      // A custom keyword inside a longer reply is not a keyword: nothing changes.
      const other = to(2);
      await inbound(other, 'vuelvo el martes a las 3');
      expect(await history(other)).toEqual([]);
      expect(await repliesTo(other)).toEqual([]);
    });

    it('refuses bad keywords with validation_failed and changes nothing', async () => {
      const saved = (await admin.call<Settings>('GET', '/v1/consent-settings')).json;
      const bad: unknown[] = [
        { optIn: ['STOP'] },
        { help: ['QUIT'] },
        { optOut: ['INFO'] },
        { optOut: ['FLU', 'flu'], optIn: ['Flu'] },
        { optOut: ['<script>'] },
        { optOut: ['x'.repeat(31)] },
        { optIn: Array.from({ length: 21 }, (_, i) => `W${i}`) },
        { optOut: 'STOP' },
      ];
      for (const keywords of bad) {
        const r = await admin.call('PUT', '/v1/consent-settings', {
          helpText: 'Changed help text',
          keywords,
        });
        expect([r.status, errorCode(r)], JSON.stringify(keywords)).toEqual([
          400,
          'validation_failed',
        ]);
      }
      const clash = await admin.call<{ error: { message: string } }>(
        'PUT',
        '/v1/consent-settings',
        { keywords: { optIn: ['stop'] } },
      );
      expect(clash.json.error.message).toMatch(/"STOP" is a standard opt-out keyword/);
      expect((await admin.call<Settings>('GET', '/v1/consent-settings')).json).toEqual(saved);

      // A refused change really changed nothing: the saved custom opt-in still works, and
      // STOP is still an opt-out.
      const phone = to(3);
      await inbound(phone, 'stop');
      await inbound(phone, 'vuelvo');
      expect((await t.rt.consent.show(orgId, phone)).programs.care.status).toBe('none');
    });

    it('tells the reply tester how a reply is read, with the saved or the unsaved keywords', async () => {
      const tryReply = (c: SessionClient, body: unknown) =>
        c.call<Verdict>('POST', '/v1/consent-settings/classify', body);
      const custom = await tryReply(auditor, { text: 'Unsubscribe flu' });
      expect(custom.status).toBe(200);
      expect(custom.json).toEqual({
        intent: 'opt_out',
        scope: 'all',
        keyword: 'UNSUBSCRIBE FLU',
        yes: false,
        custom: true,
      });
      expect((await tryReply(admin, { text: 'STOP' })).json).toMatchObject({
        intent: 'opt_out',
        keyword: 'STOP',
        custom: false,
      });
      expect((await tryReply(admin, { text: 'see you tuesday' })).json.intent).toBe('none');
      // Unsaved keywords replace the saved list of their intent only.
      const preview = await tryReply(admin, {
        text: 'adios gripe',
        keywords: { optOut: ['ADIOS GRIPE'] },
      });
      expect(preview.json).toMatchObject({ intent: 'opt_out', custom: true });
      expect((await tryReply(admin, { text: 'adios gripe' })).json.custom).toBe(false);
      const badPreview = await tryReply(admin, { text: 'x', keywords: { optIn: ['STOP'] } });
      expect([badPreview.status, errorCode(badPreview)]).toEqual([400, 'validation_failed']);
      expect((await tryReply(admin, { text: '' })).status).toBe(400);
    });
  });
}
