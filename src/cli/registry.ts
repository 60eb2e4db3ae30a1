/** Every `iovamap` command, in the order `--help` lists them. Add one import and one list line per command. */
import type { Command } from './commands.js';
import { checkCommand } from './check.js';
import { planCommand } from './plan.js';
import { serveCommand } from './serve.js';

export const COMMANDS: Command[] = [checkCommand, planCommand, serveCommand];
