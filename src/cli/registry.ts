/** Every `iovamap` command, in the order `--help` lists them. Add one line per command. */
import type { Command } from './commands.js';
import { checkCommand } from './check.js';
import { planCommand } from './plan.js';

export const COMMANDS: Command[] = [];
COMMANDS.push(checkCommand);
COMMANDS.push(planCommand);
