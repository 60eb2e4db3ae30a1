/**
 * The command registry. Each command lives in its own module under src/cli/ and is listed here.
 */
export interface Command {
  readonly name: string;
  readonly summary: string;
  run(args: string[]): Promise<number>;
}

export const COMMANDS: Command[] = [];
