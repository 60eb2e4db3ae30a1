/**
 * The command registry. Each command lives in its own module under src/cli/ (built with
 * `defineCommand` from ./args.ts) and is listed in ./registry.ts.
 */
import type { CommandSpec } from './args.js';

export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly spec?: CommandSpec;
  run(args: string[]): Promise<number>;
}
