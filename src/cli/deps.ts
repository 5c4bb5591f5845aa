/** @module cli/deps What a group of commands needs from the CLI around it. */
import type { Actor } from '../audit/index.js';
import type { Runtime } from '../runtime/index.js';

export interface CommandDeps {
  withRuntime: <T>(fn: (rt: Runtime) => Promise<T>) => Promise<T>;
  print: (json: boolean, value: unknown, human: string) => void;
  /** An error for a wrong use of a command (exit code 2). */
  usage: (message: string) => Error;
  actor: Actor;
}
