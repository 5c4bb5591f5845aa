/**
 * @module content-guard/check-text
 * The input rule every interface shares (API, CLI): the text must be a non-empty string of
 * at most MAX_TEXT_LENGTH characters. The error names the rule, never the text.
 */
import { AppError } from '../errors/index.js';
import { MAX_TEXT_LENGTH } from './scan.js';

/** Returns `value` as the text to scan, or throws a coded 400 error. */
export function checkText(value: unknown): string {
  if (typeof value !== 'string') {
    throw new AppError('guard_text_invalid', 'text must be a string.');
  }
  if (value.trim() === '') throw new AppError('guard_text_invalid', 'text must not be empty.');
  if (value.length > MAX_TEXT_LENGTH) {
    throw new AppError(
      'guard_text_too_long',
      `text must be at most ${MAX_TEXT_LENGTH.toLocaleString('en-US')} characters.`,
    );
  }
  return value;
}
