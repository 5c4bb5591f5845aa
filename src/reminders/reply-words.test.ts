import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DEFAULT_REPLY_WORDS, normaliseReplyWord, replyAction } from './reply-words.js';

describe('replyAction', () => {
  it.each([
    ['C', 'confirm'],
    [' c. ', 'confirm'],
    ['1', 'confirm'],
    ['Confirm!', 'confirm'],
    ['R', 'reschedule'],
    ['2', 'reschedule'],
    ['reschedule', 'reschedule'],
    ['STOP', null],
    ['can I come at 3?', null],
  ])('%s → %s', (text, want) => {
    expect(replyAction(text, DEFAULT_REPLY_WORDS)).toBe(want);
  });

  it('uses the organisation words', () => {
    expect(replyAction('Y', { confirm: ['y'], reschedule: ['n'] })).toBe('confirm');
    expect(replyAction('C', { confirm: ['y'], reschedule: ['n'] })).toBe(null);
  });

  it('never throws and ignores long texts', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        const r = replyAction(s, DEFAULT_REPLY_WORDS);
        if (s.length > 40) expect(r).toBe(null);
        expect(typeof normaliseReplyWord(s)).toBe('string');
      }),
    );
  });
});
