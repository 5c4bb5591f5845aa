/**
 * @module reminders/reply-words
 * What a patient's reply to a reminder means: confirm, ask to reschedule, or nothing. Pure.
 * The words are the organisation's (settings); the reminder text states them.
 */

export interface ReplyWords {
  confirm: readonly string[];
  reschedule: readonly string[];
}

export const DEFAULT_REPLY_WORDS: ReplyWords = {
  confirm: ['c', '1', 'confirm', 'confirmed', 'yes c'],
  reschedule: ['r', '2', 'reschedule'],
};

/** Lower case, without surrounding punctuation or spaces ("C." and " c " are "c"). */
export function normaliseReplyWord(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/^[\s\p{P}]+|[\s\p{P}]+$/gu, '')
    .replace(/\s+/g, ' ');
}

export function replyAction(text: string, words: ReplyWords): 'confirm' | 'reschedule' | null {
  if (text.length > 40) return null;
  const w = normaliseReplyWord(text);
  if (words.confirm.includes(w)) return 'confirm';
  if (words.reschedule.includes(w)) return 'reschedule';
  return null;
}
