/**
 * @module consent/inbound
 * Every inbound text passes here first, inside the transaction that stores it: the reply is
 * classified (consent/classify, plus the organisation's own keywords from
 * consent/custom-keywords), an opt-out is recorded and everything queued to the number
 * is canceled at once, and exactly one reply goes back — the confirmation of an opt-out or
 * opt-in, or the help text. Nothing is sent when the state did not change (a second STOP).
 */
import type { Db } from '../store/index.js';
import { SYSTEM_ACTOR } from '../audit/index.js';
import { PROGRAMS, type InboundEvent, type Messaging, type Program } from '../messaging/index.js';
import type { Organisations } from '../orgs/index.js';
import { classifyWithCustomKeywords } from './custom-keywords.js';
import type { ConsentLedger, ConsentSettings, ConsentStatus } from './ledger.js';

function fill(text: string, orgName: string): string {
  return text.replaceAll('{org}', orgName);
}

function changed(
  before: Map<Program, ConsentStatus>,
  after: Map<Program, ConsentStatus>,
  to: ConsentStatus | undefined,
): boolean {
  return PROGRAMS.some((p) => before.get(p) !== after.get(p) && after.get(p) === to);
}

export function inboundConsentHook(
  ledger: ConsentLedger,
  messaging: Messaging,
  orgs: Organisations,
): (tx: Db, e: InboundEvent) => Promise<void> {
  return async (tx, e) => {
    // The organisation's own keywords count as the standard ones do (settings are cached).
    const settings: ConsentSettings = await ledger.settings(e.orgId, tx);
    const c = classifyWithCustomKeywords(e.body, settings.keywords);
    if (c.intent === 'none') return;
    const orgName = (await orgs.get(e.orgId, tx))?.name ?? 'Your clinic';
    const reply = async (text: string) => {
      await messaging.enqueueSystemInTx(tx, {
        orgId: e.orgId,
        to: e.from,
        body: fill(text, orgName),
        program: 'care',
        sender: e.sender,
      });
    };
    // The keyword is the canonical or configured one, never the patient's own words.
    const evidence = c.keyword
      ? `inbound:${e.inboundId} keyword:${c.keyword}`
      : `inbound:${e.inboundId}`;
    const source = c.keyword ? 'sms_keyword' : 'sms_reply';

    if (c.intent === 'help') {
      await reply(settings.helpText);
      return;
    }
    if (c.intent === 'opt_out') {
      const scoped =
        settings.perProgramKeywords && Array.isArray(c.scope) && c.scope.length > 0
          ? c.scope
          : null;
      let before: Map<Program, ConsentStatus> | undefined;
      let after: Map<Program, ConsentStatus> | undefined;
      for (const program of scoped ?? ['all' as const]) {
        const r = await ledger.applyInTx(
          tx,
          e.orgId,
          {
            phone: e.from,
            program,
            kind: program === 'all' ? 'opt_out_all' : 'opt_out',
            source,
            evidence,
            occurredAt: e.receivedAt,
          },
          SYSTEM_ACTOR,
          e.receivedAt,
        );
        before ??= r.before;
        after = r.after;
      }
      if (before && after && changed(before, after, 'opted_out')) await reply(settings.optOutText);
      return;
    }
    // opt_in: a keyword (START, UNSTOP …) lifts opt-outs; a bare YES confirms a pending
    // double opt-in and means nothing otherwise.
    const state = await ledger.stateOf(tx, e.orgId, e.fromIndex);
    const pending = PROGRAMS.filter((p) => state.get(p) === 'pending');
    if (c.yes && pending.length === 0) return;
    const input = c.yes
      ? { program: 'all' as const, kind: 'confirmed' as const }
      : { program: 'all' as const, kind: 'opt_in' as const };
    const r = await ledger.applyInTx(
      tx,
      e.orgId,
      { phone: e.from, ...input, source, evidence, occurredAt: e.receivedAt },
      SYSTEM_ACTOR,
      e.receivedAt,
    );
    const lifted = PROGRAMS.some(
      (p) => r.before.get(p) !== r.after.get(p) && r.before.get(p) === 'opted_out',
    );
    if (lifted || changed(r.before, r.after, 'opted_in')) await reply(settings.optInText);
  };
}
