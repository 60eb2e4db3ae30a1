/** Every `iovamap` command, in the order `--help` lists them. Add one import and one list line per command. */
import type { Command } from './commands.js';
import { demoCommand } from './demo.js';
import { checkCommand } from './check.js';
import { inspectCommand } from './inspect.js';
import { planCommand } from './plan.js';
import { runCommand } from './run.js';
import { serveCommand } from './serve.js';
import { snapshotCommand } from './snapshot.js';
import { sysfsCommand } from './sysfs.js';

export const COMMANDS: Command[] = [
  demoCommand,
  inspectCommand,
  checkCommand,
  planCommand,
  runCommand,
  sysfsCommand,
  snapshotCommand,
  serveCommand,
];
