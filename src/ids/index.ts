/**
 * @module ids
 * Resource ids: a short type prefix and a ULID, so ids sort by creation time (cursor
 * pagination relies on it) and say what they name in logs and support tickets.
 */
import { monotonicFactory } from 'ulid';
import { randomUnit } from '../crypto/random.js';

const next = monotonicFactory(randomUnit);

export type IdPrefix =
  | 'org'
  | 'msg'
  | 'key'
  | 'snd'
  | 'in'
  | 'wh'
  | 'usr'
  | 'ses'
  | 'bg'
  | 'cev'
  // Portal: secure message, its one-time code, patient session, reply.
  | 'sec'
  | 'otp'
  | 'pss'
  | 'srp'
  // Organisation templates (templates).
  | 'tpl'
  // Retention and risk (issue 9): legal hold, retention run, risk alert, backup record.
  | 'hold'
  | 'ret'
  | 'pack'
  | 'ral'
  | 'bak'
  // Reminders (issue 7): appointment, reminder contact, reminder, staff task, campaign.
  | 'apt'
  | 'rcn'
  | 'rem'
  | 'tsk'
  | 'cmp'
  // Staff inbox (issue 8): conversation.
  | 'cnv';

export function newId(prefix: IdPrefix): string {
  return `${prefix}_${next().toLowerCase()}`;
}
