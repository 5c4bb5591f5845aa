/**
 * The content guard in the send pipeline (issue 5, "Where the guard acts"): held text is
 * diverted into a secure message by default, refused under `reject`, and sent as SMS only by a
 * provider with a written reason under `override` (audited). The policy is set through the API.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSync } from 'otplib';
import { SYSTEM_ACTOR } from '../src/audit/index.js';
import { verifyAudit } from '../src/audit/verify.js';
import { announcePgSkip, DIALECTS, openTestRuntime, type TestRuntime } from './helpers.js';
import { errorCode, SessionClient, type Res } from './auth-client.js';

announcePgSkip('content guard in the send pipeline');

const PASSWORD = 'correct horse battery staple 42';
const HELD = 'Your A1C was 9.1, please increase your metformin';
const PLAIN = 'Lakeside Clinic: your visit is on Tuesday at 10:30. Reply STOP to opt out.';
const REASON = 'Patient asked for plain texts in writing, form on file';

for (const dialect of DIALECTS) {
  describe(`content guard in the send pipeline on ${dialect}`, () => {
    let t: TestRuntime;
    let base: string;
    let orgId: string;
    let apiKey: string;
    let n = 0;
    const phone = () => `+1617555${String(3000 + n++).padStart(4, '0')}`;

    /** A person with `role`, signed in with a verified second factor. */
    async function signedIn(role: string): Promise<SessionClient> {
      const email = `${role}.${n++}@clinic.example`;
      const r = await t.rt.users.create(orgId, email, role, SYSTEM_ACTOR);
      const c = new SessionClient(base);
      await c.call('POST', '/v1/auth/setup', { token: r.setupToken, password: PASSWORD });
      expect((await c.login(email, PASSWORD)).status).toBe(200);
      const { secret } = (await c.call<{ secret: string }>('POST', '/v1/auth/mfa/totp')).json;
      const code = generateSync({ secret, epoch: Math.floor(Date.now() / 1000) });
      expect((await c.call('POST', '/v1/auth/mfa/totp/confirm', { code })).status).toBe(200);
      return c;
    }

    const send = (json: Record<string, unknown>): Promise<Res<Record<string, unknown>>> =>
      new SessionClient(base).call('POST', '/v1/messages', json, { bearer: apiKey });

    const messageCount = async () =>
      Number(
        (
          await t.rt.store.db
            .selectFrom('messages')
            .select((eb) => eb.fn.countAll().as('n'))
            .where('org_id', '=', orgId)
            .executeTakeFirstOrThrow()
        ).n,
      );

    beforeAll(async () => {
      t = await openTestRuntime({
        dialect,
        env: { PUBLIC_URL: 'https://clinic.example', TIDINGS_AUTH_RATE_LIMIT: '1000' },
      });
      base = await t.rt.listen();
      const org = await t.rt.orgs.create('Lakeside Clinic', SYSTEM_ACTOR);
      orgId = org.orgId;
      apiKey = org.apiKey;
    });
    afterAll(async () => t?.cleanup());

    it('sends allowed text as it is, and says so', async () => {
      const res = await send({ to: phone(), body: PLAIN, program: 'care' });
      expect(res.status).toBe(202);
      expect(res.json.guard).toEqual({ verdict: 'allow' });
      const stored = await t.rt.messaging.loadForDispatch(orgId, res.json.id as string);
      expect(stored?.body).toBe(PLAIN);
    });

    it('diverts held text by default: the SMS is the neutral notice, the text is behind the portal', async () => {
      const to = phone();
      const res = await send({ to, body: HELD, program: 'care' });
      expect(res.status).toBe(202);
      expect(res.json.guard).toMatchObject({
        verdict: 'secure',
        action: 'diverted',
        categories: expect.arrayContaining(['lab', 'medication']) as unknown,
        secureMessageId: expect.stringMatching(/^sec_/) as unknown,
      });
      expect(JSON.stringify(res.json)).not.toContain('A1C');
      const sms = await t.rt.messaging.loadForDispatch(orgId, res.json.id as string);
      expect(sms?.body).toMatch(
        /^You have a new message from Lakeside Clinic\. View it securely: https:\/\/clinic\.example\/s\/\S+ Reply STOP to opt out\.$/,
      );
      const secure = await t.rt.store.db
        .selectFrom('secure_messages')
        .select(['status', 'notice_message_id', 'body_enc'])
        .where('id', '=', (res.json.guard as { secureMessageId: string }).secureMessageId)
        .executeTakeFirstOrThrow();
      expect(secure).toMatchObject({ status: 'active', notice_message_id: res.json.id });
      expect(secure.body_enc).not.toContain('A1C');
    });

    it('names a condition-revealing organisation only as "your care team" in the notice', async () => {
      const onc = await t.rt.orgs.create('Valley Oncology Center', SYSTEM_ACTOR);
      const res = await t.rt.messaging.accept(onc.orgId, SYSTEM_ACTOR, {
        to: phone(),
        body: HELD,
        program: 'care',
      });
      expect(res.guard).toMatchObject({ action: 'diverted' });
      const sms = await t.rt.messaging.loadForDispatch(onc.orgId, res.message.id);
      expect(sms?.body).toMatch(/^You have a new message from your care team\. View it securely: /);
      expect(sms?.body).not.toMatch(/oncology/i);
      // Nor does the portal's page before the patient has verified.
      const link = new URL(/View it securely: (\S+) Reply STOP to opt out\.$/.exec(sms!.body)![1]!);
      const page = await fetch(`${base}${link.pathname}`);
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toContain('your care team');
      expect(html).not.toMatch(/oncology/i);
    });

    it('replays a diverted send with the same Idempotency-Key instead of making another', async () => {
      const to = phone();
      const post = () =>
        new SessionClient(base).call(
          'POST',
          '/v1/messages',
          { to, body: HELD, program: 'care' },
          { bearer: apiKey },
        );
      // SessionClient sends no custom headers: use fetch for the key.
      const keyed = (body: string) =>
        fetch(`${base}/v1/messages`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${apiKey}`,
            'content-type': 'application/json',
            'idempotency-key': `divert-${to}`,
          },
          body: JSON.stringify({ to, body, program: 'care' }),
        });
      const first = await keyed(HELD);
      expect(first.status).toBe(202);
      const firstId = ((await first.json()) as { id: string }).id;
      const again = await keyed(HELD);
      expect(again.status).toBe(202);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(((await again.json()) as { id: string }).id).toBe(firstId);
      const changed = await keyed(`${HELD} today`);
      expect(changed.status).toBe(409);
      expect((await post()).status).toBe(202);
    });

    it('refuses held text under the policy reject, naming only the categories', async () => {
      const admin = await signedIn('admin');
      const set = await admin.call('PUT', '/v1/settings/guard', { action: 'reject' });
      expect(set.status).toBe(200);
      expect((await admin.call('GET', '/v1/settings/guard')).json).toEqual({ action: 'reject' });
      const before = await messageCount();
      const res = await send({ to: phone(), body: HELD, program: 'care' });
      expect(res.status).toBe(422);
      expect(errorCode(res)).toBe('content_requires_secure');
      const text = JSON.stringify(res.json);
      expect(text).toContain('lab');
      expect(text).not.toContain('A1C');
      expect(text).not.toContain('metformin');
      expect(await messageCount()).toBe(before);
      // Recorded for risk monitoring: the categories, never the text.
      const rejected = await t.rt.store.db
        .selectFrom('audit_events')
        .select('details')
        .where('org_id', '=', orgId)
        .where('action', '=', 'guard.rejected')
        .execute();
      expect(rejected).toHaveLength(1);
      expect(rejected[0]!.details).toContain('lab');
      expect(rejected[0]!.details).not.toMatch(/A1C|metformin/);
      await t.rt.risk.evaluate(orgId);
      expect(await t.rt.metrics.registry.metrics()).toMatch(
        /tidings_risk_signal\{signal="guard_rejections"\} 1/,
      );
      // Allowed text still goes.
      expect((await send({ to: phone(), body: PLAIN, program: 'care' })).status).toBe(202);
    });

    it('lets only a provider override, only under the policy override, and audits the reason', async () => {
      const admin = await signedIn('admin');
      const provider = await signedIn('provider');
      const staff = await signedIn('staff');
      const to = phone();
      const body = { to, body: HELD, program: 'care', override: { reason: REASON } };

      // Not allowed while the policy is reject.
      const early = await provider.call('POST', '/v1/messages', body);
      expect(errorCode(early)).toBe('guard_override_not_allowed');

      expect((await admin.call('PUT', '/v1/settings/guard', { action: 'override' })).status).toBe(
        200,
      );
      const before = await messageCount();
      for (const who of [staff]) {
        const res = await who.call('POST', '/v1/messages', body);
        expect(res.status).toBe(403);
        expect(errorCode(res)).toBe('guard_override_not_allowed');
      }
      const byKey = await send(body);
      expect(errorCode(byKey)).toBe('guard_override_not_allowed');
      expect(await messageCount()).toBe(before);

      const short = await provider.call('POST', '/v1/messages', {
        ...body,
        override: { reason: 'ok' },
      });
      expect(short.status).toBe(400);

      const res = await provider.call('POST', '/v1/messages', body);
      expect(res.status).toBe(202);
      expect(res.json.guard).toMatchObject({ verdict: 'secure', action: 'overridden' });
      const sms = await t.rt.messaging.loadForDispatch(orgId, res.json.id as string);
      expect(sms?.body).toBe(HELD);
      const audit = await t.rt.store.db
        .selectFrom('audit_events')
        .select(['details'])
        .where('org_id', '=', orgId)
        .where('action', '=', 'message.accepted')
        .where('target_id', '=', res.json.id as string)
        .executeTakeFirstOrThrow();
      const details = JSON.parse(String(audit.details)) as Record<string, unknown>;
      expect(details.overrideReason).toBe(REASON);
      expect(String(details.guardOverride)).toContain('medication');

      // Without a reason, the same provider's held text is diverted as usual.
      const plain = await provider.call('POST', '/v1/messages', {
        to,
        body: HELD,
        program: 'care',
      });
      expect(plain.json.guard).toMatchObject({ action: 'diverted' });
      // An override of text the guard allows is a mistake, not a licence.
      const needless = await provider.call('POST', '/v1/messages', {
        to,
        body: PLAIN,
        program: 'care',
        override: { reason: REASON },
      });
      expect(needless.status).toBe(400);
    });

    it('sends an organisation template filled with typed slots', async () => {
      await t.rt.templates.create(
        orgId,
        {
          name: 'visit-reminder',
          body: 'Hi {{firstName}}, your visit is {{date}} at {{time}}. Reply STOP to opt out.',
          program: 'care',
        },
        SYSTEM_ACTOR,
      );
      const to = phone();
      const res = await send({
        to,
        template: 'visit-reminder',
        variables: { firstName: 'Ana', date: '2026-12-08', time: '14:30' },
      });
      expect(res.status, JSON.stringify(res.json)).toBe(202);
      expect(res.json).toMatchObject({ program: 'care', guard: { verdict: 'allow' } });
      const sms = await t.rt.messaging.loadForDispatch(orgId, res.json.id as string);
      expect(sms?.body).toBe('Hi Ana, your visit is Tue, Dec 8 at 2:30 PM. Reply STOP to opt out.');

      const before = await messageCount();
      for (const [json, code] of [
        // A slot that would carry a diagnosis, a missing slot, an unknown template.
        [
          { firstName: 'Diabetes', date: '2026-12-08', time: '14:30' },
          'template_variable_contains_phi',
        ],
        [{ firstName: 'Ana', date: '2026-12-08' }, 'template_variable_missing'],
      ] as const) {
        const bad = await send({ to, template: 'visit-reminder', variables: json });
        expect(errorCode(bad)).toBe(code);
        expect(JSON.stringify(bad.json)).not.toContain('Diabetes');
      }
      expect(errorCode(await send({ to, template: 'nope', variables: {} }))).toBe(
        'template_not_found',
      );
      // A text or a template, not both, and a text needs its program.
      const both = await send({ to, body: PLAIN, template: 'visit-reminder', program: 'care' });
      expect(errorCode(both)).toBe('validation_failed');
      expect(errorCode(await send({ to, body: PLAIN }))).toBe('validation_failed');
      expect(await messageCount()).toBe(before);
    });

    it('validates the policy, lets only admins set it, and audits the change', async () => {
      const admin = await signedIn('admin');
      const bad = await admin.call('PUT', '/v1/settings/guard', { action: 'off' });
      expect(bad.status).toBe(400);
      const auditor = await signedIn('auditor');
      expect((await auditor.call('GET', '/v1/settings/guard')).status).toBe(200);
      expect((await auditor.call('PUT', '/v1/settings/guard', { action: 'divert' })).status).toBe(
        403,
      );
      expect((await admin.call('PUT', '/v1/settings/guard', { action: 'divert' })).status).toBe(
        200,
      );
      const changes = await t.rt.store.db
        .selectFrom('audit_events')
        .select(['details'])
        .where('org_id', '=', orgId)
        .where('action', '=', 'org.settings_changed')
        .execute();
      expect(changes.map((c) => JSON.parse(String(c.details)) as unknown)).toContainEqual({
        guardAction: 'divert',
      });
      expect((await verifyAudit(t.rt.store.db, orgId)).ok).toBe(true);
    });
  });
}

for (const dialect of DIALECTS) {
  describe(`diverted text under the default FCC caps on ${dialect}`, () => {
    let t: TestRuntime;
    let base: string;

    beforeAll(async () => {
      t = await openTestRuntime({
        dialect,
        env: {
          PUBLIC_URL: 'https://clinic.example',
          TIDINGS_FREQUENCY_CAPS: 'on',
          TIDINGS_PORTAL_RATE_LIMIT: '1000',
        },
      });
      base = await t.rt.listen();
    });
    afterAll(async () => t?.cleanup());

    it('sends the notice within the exemption, and the code the patient asks for past the cap', async () => {
      const org = await t.rt.orgs.create('Lakeside Clinic', SYSTEM_ACTOR);
      const to = '+16175554000';
      // No recorded opt-in: the care exemption's conditions and its one-a-day cap apply.
      const res = await t.rt.messaging.accept(org.orgId, SYSTEM_ACTOR, {
        to,
        body: HELD,
        program: 'care',
      });
      expect(res.guard).toMatchObject({ action: 'diverted' });
      const notice = (await t.rt.messaging.loadForDispatch(org.orgId, res.message.id))!.body;
      expect(notice.length).toBeLessThanOrEqual(160);
      expect(notice).toMatch(/Reply STOP to opt out\.$/);
      // The day's allowance is spent: another care text is refused…
      await expect(
        t.rt.messaging.accept(org.orgId, SYSTEM_ACTOR, { to, body: PLAIN, program: 'care' }),
      ).rejects.toMatchObject({ code: 'frequency_cap_exceeded' });
      // …but the code the patient asks for on the portal page still goes.
      const link = new URL(/View it securely: (\S+) Reply STOP/.exec(notice)![1]!).pathname;
      const page = await fetch(`${base}${link}`);
      const cookie = page.headers
        .getSetCookie()
        .map((c) => c.split(';')[0])
        .join('; ');
      const csrf = /name="csrf" value="([^"]+)"/.exec(await page.text())![1]!;
      const asked = await fetch(`${base}${link}/code`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
        body: new URLSearchParams({ csrf }).toString(),
        redirect: 'manual',
      });
      expect(asked.status).toBeLessThan(400);
      const codes = await t.rt.store.db
        .selectFrom('messages')
        .select(['status', 'held_by'])
        .where('org_id', '=', org.orgId)
        .where('kind', '=', 'verification_code')
        .execute();
      expect(codes).toEqual([{ status: 'queued', held_by: null }]);
    });
  });
}
