/** Every `iovamap` command, in the order `--help` lists them. Add one line per command. */
import type { Command } from './commands.js';
import { runCommand } from './run.js';

export const COMMANDS: Command[] = [
  runCommand,
];
