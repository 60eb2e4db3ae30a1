/** Every `iovamap` command, in the order `--help` lists them. Add one line per command. */
import type { Command } from './commands.js';
import { inspectCommand } from './inspect.js';
import { snapshotCommand } from './snapshot.js';
import { sysfsCommand } from './sysfs.js';

export const COMMANDS: Command[] = [inspectCommand, sysfsCommand, snapshotCommand];
