/**
 * Twilio and Telnyx senders through the whole pipeline, on SQLite and PostgreSQL: a sender
 * added with its (encrypted) credentials, a send that reaches the local carrier peer, signed
 * status callbacks and inbound webhooks over real HTTP, refusals of bad signatures and of a
 * replayed Telnyx webhook, and a carrier opt-out (Twilio 21610) recorded in the ledger.
 * A webhook is answered only once what it carried is committed (503 when it cannot be), a
 * redelivered inbound text is stored once, and the webhooks are rate-limited per address.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import {
  announcePgSkip,
  DIALECTS,
  openTestRuntime,
  waitFor,
  type TestRuntime,
} from '../helpers.js';
import {
  officialTwilioSignature,
  startTelnyxPeer,
  startTwilioPeer,
  telnyxEvent,
  type RestPeer,
} from './rest-peers.js';
import { SYSTEM_ACTOR } from '../../src/audit/index.js';
import { addConfiguredSender } from '../../src/runtime/sender-carriers.js';

announcePgSkip('REST carrier pipeline');

const SID = 'AC00000000000000000000000000000042';
const TOKEN = 'pipeline-twilio-token';
const TELNYX_KEY = 'pipeline-telnyx-key';
const ADMIN = { type: 'cli' as const, id: 'rest-test' };

for (const dialect of DIALECTS) {
  describe(`REST carriers in the pipeline (${dialect})`, () => {
    let t: TestRuntime;
    let base: string;
    let orgId: string;
    let twilioPeer: RestPeer;
    let telnyxPeer: Awaited<ReturnType<typeof startTelnyxPeer>>;
    let twilioSender: string;
    let telnyxSender: string;
    const TWILIO_NUMBER = '+16175550101';
    const TELNYX_NUMBER = '+16175550102';

    beforeAll(async () => {
      twilioPeer = await startTwilioPeer(SID, TOKEN);
      telnyxPeer = await startTelnyxPeer(TELNYX_KEY);
      t = await openTestRuntime({ dialect, env: { PORT: '0' } });
      orgId = (await t.rt.orgs.create('REST Clinic', SYSTEM_ACTOR)).orgId;
      twilioSender = (
        await addConfiguredSender(
          t.rt.orgs,
          50,
          orgId,
          {
            number: TWILIO_NUMBER,
            carrier: 'twilio',
            accountSid: SID,
            authToken: TOKEN,
            baseUrl: twilioPeer.url,
            isDefault: true,
          },
          ADMIN,
        )
      ).sender.id;
      telnyxSender = (
        await addConfiguredSender(
          t.rt.orgs,
          50,
          orgId,
          {
            number: TELNYX_NUMBER,
            carrier: 'telnyx',
            apiKey: TELNYX_KEY,
            publicKey: telnyxPeer.publicKeyBase64,
            baseUrl: telnyxPeer.url,
          },
          ADMIN,
        )
      ).sender.id;
      base = await t.rt.listen();
      t.rt.startWorkers();
    });
    afterAll(async () => {
      await t?.cleanup();
      await twilioPeer?.stop();
      await telnyxPeer?.stop();
    });

    const send = async (to: string, from?: string) =>
      (
        await t.rt.send(orgId, ADMIN, {
          to,
          body: 'Your appointment is confirmed. Reply STOP to opt out.',
          program: 'care',
          ...(from ? { from } : {}),
        })
      ).message.id;

    const status = async (id: string) => (await t.rt.messaging.get(orgId, id, SYSTEM_ACTOR)).status;
    /**
     * Makes the commit of what a webhook carries slow (300 ms), so an answer sent before the
     * commit would be seen: the row is checked right after the answer.
     */
    const slowCommits = () => {
      const m = t.rt.messaging;
      const inbound = m.receiveInbound.bind(m);
      const transaction = t.rt.store.transaction.bind(t.rt.store);
      const pause = () => new Promise((r) => setTimeout(r, 300));
      const spies = [
        vi.spyOn(m, 'receiveInbound').mockImplementation(async (msg) => {
          await pause();
          return inbound(msg);
        }),
        // Before the transaction opens: on SQLite a read would otherwise wait for it.
        vi.spyOn(t.rt.store, 'transaction').mockImplementation(async (fn) => {
          await pause();
          return transaction(fn);
        }),
      ];
      onTestFinished(() => spies.forEach((s) => s.mockRestore()));
    };
    const inboundRows = async (carrierId: string) =>
      (
        await t.rt.store.db
          .selectFrom('inbound_messages')
          .select('id')
          .where('carrier_message_id', '=', carrierId)
          .execute()
      ).length;
    const totalInboundRows = async () =>
      (await t.rt.store.db.selectFrom('inbound_messages').select('id').execute()).length;
    const inboundAudits = async () =>
      (
        await t.rt.store.db
          .selectFrom('audit_events')
          .select('seq')
          .where('action', '=', 'inbound.received')
          .execute()
      ).length;

    async function twilioCallback(path: string, params: Record<string, string>, sig?: string) {
      const url = `${base}/carriers/twilio/${twilioSender}/${path}`;
      return fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-twilio-signature': sig ?? officialTwilioSignature(TOKEN, url, params),
        },
        body: new URLSearchParams(params).toString(),
      });
    }

    it('stores the credentials encrypted: nowhere in the senders table in clear', async () => {
      const rows = await t.rt.store.db.selectFrom('senders').selectAll().execute();
      const dump = JSON.stringify(rows);
      expect(dump).not.toContain(TOKEN);
      expect(dump).not.toContain(TELNYX_KEY);
      expect(rows.find((r) => r.id === twilioSender)?.config_enc).toBeTruthy();
    });

    it('sends through the Twilio peer; a signed status callback marks it delivered', async () => {
      const id = await send('+16175550142');
      await waitFor(async () => (await status(id)) === 'sent');
      const sent = twilioPeer.messages.at(-1)!;
      expect(sent.fields).toMatchObject({
        From: TWILIO_NUMBER,
        ContentRetention: 'discard',
        AddressRetention: 'obfuscate',
      });
      expect(String(sent.fields.StatusCallback)).toContain(
        `/carriers/twilio/${twilioSender}/status`,
      );
      slowCommits();
      const res = await twilioCallback('status', {
        MessageSid: sent.id,
        MessageStatus: 'delivered',
        AccountSid: SID,
      });
      expect(res.status).toBe(204);
      // Answered only once committed: the carrier will not call again after a 2xx.
      expect(await status(id)).toBe('delivered');
    });

    it('refuses a status callback with a wrong or missing signature, and changes nothing', async () => {
      const id = await send('+16175550143');
      await waitFor(async () => (await status(id)) === 'sent');
      const sent = twilioPeer.messages.at(-1)!;
      const params = { MessageSid: sent.id, MessageStatus: 'delivered' };
      const forged = officialTwilioSignature(
        'not-the-token',
        `${base}/carriers/twilio/${twilioSender}/status`,
        params,
      );
      const r1 = await twilioCallback('status', params, forged);
      expect(r1.status).toBe(403);
      expect(((await r1.json()) as { error: { code: string } }).error.code).toBe(
        'carrier_signature_invalid',
      );
      const r2 = await fetch(`${base}/carriers/twilio/${twilioSender}/status`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(params).toString(),
      });
      expect(r2.status).toBe(403);
      // A sender of another carrier, or none, has no Twilio secret: refused too.
      const r3 = await fetch(`${base}/carriers/twilio/${telnyxSender}/status`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-twilio-signature': forged,
        },
        body: new URLSearchParams(params).toString(),
      });
      expect(r3.status).toBe(403);
      await new Promise((r) => setTimeout(r, 300));
      expect(await status(id)).toBe('sent');
    });

    it('a Twilio 21610 answer fails the message and records a carrier opt-out', async () => {
      const to = '+16175550144';
      twilioPeer.optedOut.add(to);
      const id = await send(to);
      await waitFor(async () => (await status(id)) === 'failed');
      const m = await t.rt.messaging.get(orgId, id, SYSTEM_ACTOR);
      expect(m.failureCode).toBe('opted_out');
      const consent = await t.rt.consent.show(orgId, to);
      expect(consent.programs.care.status).toBe('opted_out');
      expect(consent.history.at(-1)?.source).toBe('carrier');
    });

    it('a signed inbound STOP through the Twilio webhook opts the number out', async () => {
      const from = '+16175550145';
      slowCommits();
      const res = await twilioCallback('inbound', {
        MessageSid: 'SMin1',
        From: from,
        To: TWILIO_NUMBER,
        Body: 'STOP',
      });
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('<Response>');
      // Stored and through the keyword engine before the carrier got its answer.
      expect((await t.rt.consent.show(orgId, from)).programs.care.status).toBe('opted_out');
      expect(await inboundRows('SMin1')).toBe(1);
    });

    it('stores a Twilio inbound message delivered twice (same MessageSid) once', async () => {
      const params = {
        MessageSid: 'SMdup1',
        From: '+16175550150',
        To: TWILIO_NUMBER,
        Body: 'See you Tuesday',
      };
      for (let i = 0; i < 2; i++) {
        const res = await twilioCallback('inbound', params);
        expect(res.status).toBe(200);
      }
      expect(await inboundRows('SMdup1')).toBe(1);
      expect(await inboundAudits()).toBe(await totalInboundRows());
    });

    it('answers 503 when the inbound text cannot be committed, and stores it on redelivery', async () => {
      const params = {
        MessageSid: 'SMfail1',
        From: '+16175550151',
        To: TWILIO_NUMBER,
        Body: 'Running late',
      };
      const spy = vi
        .spyOn(t.rt.messaging, 'receiveInbound')
        .mockRejectedValueOnce(new Error('database unreachable'));
      try {
        const res = await twilioCallback('inbound', params);
        expect(res.status).toBe(503);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
          'carrier_event_not_recorded',
        );
        expect(await inboundRows('SMfail1')).toBe(0);
      } finally {
        spy.mockRestore();
      }
      const again = await twilioCallback('inbound', params);
      expect(again.status).toBe(200);
      expect(await inboundRows('SMfail1')).toBe(1);
    });

    it('a receipt that overtakes the record of its submission is applied, then answered', async () => {
      const id = await send('+16175550153');
      await waitFor(async () => (await status(id)) === 'sent');
      const sid = twilioPeer.messages.at(-1)!.id;
      // As if the worker had not yet committed the carrier's answer.
      const setRecorded = (recorded: boolean) =>
        t.rt.store.db
          .updateTable('messages')
          .set(
            recorded
              ? { status: 'sent', carrier_message_id: sid }
              : { status: 'sending', carrier_message_id: null },
          )
          .where('org_id', '=', orgId)
          .where('id', '=', id)
          .execute();
      await setRecorded(false);
      let answered = false;
      const pending = twilioCallback('status', { MessageSid: sid, MessageStatus: 'delivered' });
      void pending.then(() => (answered = true));
      await new Promise((r) => setTimeout(r, 1_200));
      expect(answered).toBe(false);
      await setRecorded(true);
      const res = await pending;
      expect(res.status).toBe(204);
      expect(await status(id)).toBe('delivered');
    });

    it('answers 503 to a receipt that matches no sent message (after its retries)', async () => {
      const res = await twilioCallback('status', {
        MessageSid: 'SMnotours',
        MessageStatus: 'delivered',
      });
      expect(res.status).toBe(503);
    }, 20_000);

    it('sends through the Telnyx peer; a signed message.finalized marks it delivered', async () => {
      const id = await send('+16175550146', TELNYX_NUMBER);
      await waitFor(async () => (await status(id)) === 'sent');
      const sent = telnyxPeer.messages.at(-1)!;
      expect(String(sent.fields.webhook_url)).toContain(`/carriers/telnyx/${telnyxSender}`);
      const body = telnyxEvent('message.finalized', {
        id: sent.id,
        to: [{ phone_number: '+16175550146', status: 'delivered' }],
      });
      slowCommits();
      const res = await fetch(`${base}/carriers/telnyx/${telnyxSender}`, {
        method: 'POST',
        headers: telnyxPeer.signWebhook(body),
        body,
      });
      expect(res.status).toBe(200);
      expect(await status(id)).toBe('delivered');
    });

    it('refuses a replayed Telnyx webhook (signed, but outside the 5-minute window)', async () => {
      const id = await send('+16175550147', TELNYX_NUMBER);
      await waitFor(async () => (await status(id)) === 'sent');
      const sent = telnyxPeer.messages.at(-1)!;
      const body = telnyxEvent('message.finalized', {
        id: sent.id,
        to: [{ phone_number: '+16175550147', status: 'delivered' }],
      });
      const stale = telnyxPeer.signWebhook(body, Math.floor(Date.now() / 1000) - 600);
      const res = await fetch(`${base}/carriers/telnyx/${telnyxSender}`, {
        method: 'POST',
        headers: stale,
        body,
      });
      expect(res.status).toBe(403);
      const tampered = telnyxPeer.signWebhook(body);
      const res2 = await fetch(`${base}/carriers/telnyx/${telnyxSender}`, {
        method: 'POST',
        headers: tampered,
        body: body.replace('delivered', 'delivery_failed'),
      });
      expect(res2.status).toBe(403);
      await new Promise((r) => setTimeout(r, 300));
      expect(await status(id)).toBe('sent');
    });

    it('a Telnyx inbound STOP opts the number out', async () => {
      const from = '+16175550148';
      slowCommits();
      const body = telnyxEvent('message.received', {
        id: 'tin-1',
        from: { phone_number: from },
        to: [{ phone_number: TELNYX_NUMBER }],
        text: 'STOP',
      });
      const res = await fetch(`${base}/carriers/telnyx/${telnyxSender}`, {
        method: 'POST',
        headers: telnyxPeer.signWebhook(body),
        body,
      });
      expect(res.status).toBe(200);
      expect((await t.rt.consent.show(orgId, from)).programs.care.status).toBe('opted_out');
    });

    it('stores a Telnyx message.received delivered again (same event) once', async () => {
      const body = telnyxEvent('message.received', {
        id: 'tin-dup',
        from: { phone_number: '+16175550152' },
        to: [{ phone_number: TELNYX_NUMBER }],
        text: 'Thanks',
      });
      const deliveries = await Promise.all(
        [0, 1, 2].map(() =>
          fetch(`${base}/carriers/telnyx/${telnyxSender}`, {
            method: 'POST',
            headers: telnyxPeer.signWebhook(body),
            body,
          }),
        ),
      );
      for (const res of deliveries) expect(res.status).toBe(200);
      expect(await inboundRows('tin-dup')).toBe(1);
      expect(await inboundAudits()).toBe(await totalInboundRows());
    });

    it('retries a 5xx from the carrier and then sends', async () => {
      twilioPeer.fail5xx = 1;
      const id = await send('+16175550149');
      await waitFor(async () => (await status(id)) === 'sent');
      const m = await t.rt.messaging.get(orgId, id, SYSTEM_ACTOR);
      expect(m.attempts).toBeGreaterThanOrEqual(2);
    });

    it('adds and lists senders through the API, admin only, never returning credentials', async () => {
      const admin = await t.rt.users.create(orgId, `admin-${dialect}@rest.example`, 'admin', ADMIN);
      const u = (await t.rt.users.get(orgId, admin.user.id))!;
      const s = await t.rt.sessions.create(u, null);
      await t.rt.store.db
        .updateTable('users')
        .set({ mfa_enrolled_at: Date.now() })
        .where('id', '=', u.id)
        .execute();
      await t.rt.sessions.markMfaVerified(orgId, s.session.id);
      const headers = {
        cookie: `tidings_session=${s.token}`,
        'x-csrf-token': s.csrfToken,
        'content-type': 'application/json',
      };
      const created = await fetch(`${base}/v1/senders`, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          number: '+16175550103',
          carrier: 'twilio',
          accountSid: 'AC99999999999999999999999999999999',
          authToken: 'api-secret-token',
          secondary: true,
        }),
      });
      expect(created.status).toBe(201);
      const body = await created.text();
      expect(body).not.toContain('api-secret-token');
      expect(JSON.parse(body)).toMatchObject({ carrier: 'twilio', secondary: true });
      const bad = await fetch(`${base}/v1/senders`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ number: '+16175550104', carrier: 'telnyx', apiKey: 'k' }),
      });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: { code: string } }).error.code).toBe(
        'invalid_carrier_settings',
      );
      const list = await fetch(`${base}/v1/senders`, { headers });
      const text = await list.text();
      expect(list.status).toBe(200);
      for (const secret of [TOKEN, TELNYX_KEY, 'api-secret-token'])
        expect(text).not.toContain(secret);
      expect((JSON.parse(text) as { senders: unknown[] }).senders.length).toBeGreaterThanOrEqual(4);
      const key = (await t.rt.apiKeys.create(orgId, { name: 'k' }, ADMIN)).apiKey;
      const res = await fetch(`${base}/v1/senders`, {
        headers: { authorization: `Bearer ${key}` },
      });
      expect(res.status).toBe(403);
    });
  });
}

describe('carrier webhooks behind a proxy', () => {
  for (const trust of ['on', 'off'] as const) {
    it(`TIDINGS_TRUST_PROXY=${trust}: the signed URL ${trust === 'on' ? 'is' : 'is not'} rebuilt from X-Forwarded-*`, async () => {
      const t = await openTestRuntime({ env: { PORT: '0', TIDINGS_TRUST_PROXY: trust } });
      try {
        const orgId = (await t.rt.orgs.create('Proxy Clinic', SYSTEM_ACTOR)).orgId;
        const { sender } = await addConfiguredSender(
          t.rt.orgs,
          50,
          orgId,
          { number: '+16175550109', carrier: 'twilio', accountSid: SID, authToken: TOKEN },
          ADMIN,
        );
        const base = await t.rt.listen();
        const path = `/carriers/twilio/${sender.id}/status`;
        // A non-final status: nothing to record, so the answer depends on the signature only.
        const params = { MessageSid: 'SMunknown', MessageStatus: 'sent' };
        // Twilio called the public address; the proxy forwarded to us.
        const sig = officialTwilioSignature(TOKEN, `https://sms.clinic.example${path}`, params);
        const res = await fetch(base + path, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            'x-twilio-signature': sig,
            'x-forwarded-proto': 'https',
            'x-forwarded-host': 'sms.clinic.example',
          },
          body: new URLSearchParams(params).toString(),
        });
        expect(res.status).toBe(trust === 'on' ? 204 : 403);
      } finally {
        await t.cleanup();
      }
    });
  }
});

describe('carrier webhook rate limit', () => {
  it('TIDINGS_CARRIER_WEBHOOK_RATE_LIMIT caps requests per client address (429 beyond)', async () => {
    const t = await openTestRuntime({
      env: { PORT: '0', TIDINGS_CARRIER_WEBHOOK_RATE_LIMIT: '3' },
    });
    try {
      const base = await t.rt.listen();
      const codes: number[] = [];
      for (let i = 0; i < 4; i++) {
        const res = await fetch(`${base}/carriers/twilio/snd_none/status`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: 'MessageSid=SM1&MessageStatus=delivered',
        });
        codes.push(res.status);
        if (res.status === 429) {
          expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
            'rate_limited',
          );
        }
      }
      expect(codes).toEqual([403, 403, 403, 429]);
    } finally {
      await t.cleanup();
    }
  });
});
