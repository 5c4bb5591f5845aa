/** @module cli/options Parsers for options several commands share. */
import { InvalidArgumentError } from 'commander';
import { PROGRAMS, type Program } from '../messaging/index.js';

/** `--program`: one of the programs. */
export function programOption(value: string): Program {
  if (!(PROGRAMS as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`must be one of ${PROGRAMS.join(', ')}`);
  }
  return value as Program;
}

/** `--var name=value`, repeatable: a template's slots. */
export function variableOption(
  value: string,
  previous: Record<string, string>,
): Record<string, string> {
  const i = value.indexOf('=');
  if (i < 1) throw new InvalidArgumentError('write it as slotName=value');
  return { ...previous, [value.slice(0, i)]: value.slice(i + 1) };
}
