#!/usr/bin/env node
/**
 * The iovamap command line. Thin: parses arguments, calls the library, prints. Every user mistake ends
 * as a message on stderr and exit status 2, never a stack trace.
 */
import { isIovamapError } from '../base/errors.js';
import { VERSION } from '../version.js';
import type { Command } from './commands.js';
import { COMMANDS } from './registry.js';

function usage(): string {
  const lines = [
    `iovamap ${VERSION} — IOMMU reserved IOVA regions, VFIO and MSI doorbells, modelled after Linux`,
    '',
    'Usage: iovamap <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(10)} ${c.summary}`),
    '',
    'Options: --help (per command too), --version',
    'Run "iovamap <command> --help" (or "iovamap help <command>") for the options and examples of a command.',
  ];
  return lines.join('\n') + '\n';
}

export async function main(argv: string[]): Promise<number> {
  // `iovamap help COMMAND` is `iovamap COMMAND --help`
  if (argv[0] === 'help' && argv[1] !== undefined) argv = [argv[1], '--help'];
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const cmd: Command | undefined = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    process.stderr.write(`iovamap: unknown command "${name}"\n  hint: run "iovamap --help" for the list\n`);
    return 2;
  }
  try {
    return await cmd.run(rest);
  } catch (e) {
    if (isIovamapError(e)) {
      // Every mistake gets a hint: the command's own help when the error has no better one.
      const hint = e.hint === undefined ? `\n  hint: run "iovamap ${cmd.name} --help"` : '';
      process.stderr.write(`iovamap ${cmd.name}: ${e.message}${hint}\n`);
      return 2;
    }
    throw e;
  }
}

// `iovamap ... | head`: when the reader goes away, stop quietly like other command-line tools
// (the default is an unhandled 'error' event and a stack trace).
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(
      `iovamap: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
    );
    process.stderr.write('  this is a bug in iovamap; please report it with the command you ran\n');
    process.exitCode = 3;
  },
);
