/**
 * Declarative command-line options: each command states its options once; parsing, validation (with a
 * message naming the option) and `--help` text come from that one spec.
 */
import { InputError } from '../base/errors.js';
import { isFractionalSize, parseSize, parseU64 } from '../base/u64.js';
import type { Command } from './commands.js';

export type OptionType = 'string' | 'boolean' | 'size' | 'u64' | 'int' | 'list';

export interface OptionSpec {
  /** Long name without dashes, e.g. `platform`. */
  readonly name: string;
  readonly type: OptionType;
  readonly short?: string;
  readonly metavar?: string;
  readonly help: string;
  readonly choices?: readonly string[];
}

export interface PositionalSpec {
  readonly name: string;
  readonly help: string;
  readonly required: boolean;
}

export interface CommandSpec {
  readonly name: string;
  readonly summary: string;
  /** Extra paragraphs after the usage line. */
  readonly description?: string;
  readonly options: readonly OptionSpec[];
  readonly positionals?: readonly PositionalSpec[];
  /** Example command lines, each with a one-line comment. */
  readonly examples: readonly (readonly [string, string])[];
}

export type OptionValue = string | boolean | bigint | number | string[];

export interface ParsedArgs {
  readonly values: Readonly<Record<string, OptionValue | undefined>>;
  readonly positionals: readonly string[];
}

export function str(a: ParsedArgs, name: string): string | undefined {
  const v = a.values[name];
  return typeof v === 'string' ? v : undefined;
}
export function bool(a: ParsedArgs, name: string): boolean {
  return a.values[name] === true;
}
export function big(a: ParsedArgs, name: string): bigint | undefined {
  const v = a.values[name];
  return typeof v === 'bigint' ? v : undefined;
}
export function int(a: ParsedArgs, name: string): number | undefined {
  const v = a.values[name];
  return typeof v === 'number' ? v : undefined;
}
export function list(a: ParsedArgs, name: string): string[] {
  const v = a.values[name];
  return Array.isArray(v) ? v : [];
}

function convert(spec: OptionSpec, raw: string): OptionValue {
  const bad = (what: string): never => {
    throw new InputError(`--${spec.name} ${JSON.stringify(raw)}: ${what}`, {
      hint: spec.choices ? `choose one of: ${spec.choices.join(', ')}` : undefined,
    });
  };
  switch (spec.type) {
    case 'string':
    case 'list':
      if (spec.choices && !spec.choices.includes(raw)) bad('not a known value');
      return raw;
    case 'size': {
      const v = parseSize(raw);
      if (v !== undefined) return v;
      if (isFractionalSize(raw)) {
        if (parseSize(raw.replace(/\.[0-9]+/, '')) === undefined)
          bad('too large: a size is at most 2^64-1 bytes (16 EiB - 1)');
        bad('not a whole number of bytes (write it in a smaller unit: 3.5G or 3584M, not 3.3G)');
      }
      // well formed but beyond u64: say so rather than "not a size"
      if (
        /^\s*(0[xX][0-9a-fA-F_]*[0-9a-fA-F][0-9a-fA-F_]*|[0-9][0-9_]*)\s*[kKmMgGtTpPeE]?(i?[bB])?\s*$/.test(
          raw,
        )
      )
        bad('too large: a size is at most 2^64-1 bytes (16 EiB - 1)');
      return bad('not a size (examples: 4G, 512M, 0x100000000)');
    }
    case 'u64': {
      const v = parseU64(raw);
      if (v !== undefined) return v;
      if (/^\s*(0[xX][0-9a-fA-F_]*[0-9a-fA-F][0-9a-fA-F_]*|[0-9][0-9_]*)\s*$/.test(raw))
        bad('too large: at most 2^64-1');
      return bad('not an unsigned 64-bit number');
    }
    case 'int': {
      if (!/^[0-9]+$/.test(raw)) bad('not a whole number');
      const n = Number(raw);
      return Number.isSafeInteger(n) ? n : bad('too large');
    }
    case 'boolean':
      return true;
  }
}

/** Parses `argv` against `spec`. `--help` is always accepted and reported as `values.help === true`. */
export function parseArgs(spec: CommandSpec, argv: readonly string[]): ParsedArgs {
  const values: Record<string, OptionValue | undefined> = {};
  const positionals: string[] = [];
  const find = (name: string): OptionSpec | undefined =>
    spec.options.find((o) => o.name === name || (o.short !== undefined && o.short === name));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '--help' || arg === '-h') {
      values['help'] = true;
      continue;
    }
    const long = /^--([a-zA-Z0-9-]+)(?:=(.*))?$/.exec(arg);
    const short = /^-([a-zA-Z])$/.exec(arg);
    if (!long && !short) {
      if (arg.startsWith('-') && arg.length > 1 && !/^-[0-9]/.test(arg)) {
        throw new InputError(`unknown option ${arg}`, { hint: `run "iovamap ${spec.name} --help"` });
      }
      positionals.push(arg);
      continue;
    }
    const name = long ? long[1]! : short![1]!;
    const o = find(name);
    if (!o) throw new InputError(`unknown option ${arg}`, { hint: `run "iovamap ${spec.name} --help"` });
    if (o.type === 'boolean') {
      if (long && long[2] !== undefined) throw new InputError(`--${o.name} takes no value`);
      values[o.name] = true;
      continue;
    }
    let raw = long ? long[2] : undefined;
    if (raw === undefined) {
      raw = argv[++i];
      if (raw === undefined)
        throw new InputError(`--${o.name} needs a value`, { hint: `--${o.name} ${o.metavar ?? 'VALUE'}` });
    }
    const v = convert(o, raw);
    if (o.type === 'list') {
      const prev = values[o.name];
      values[o.name] = [
        ...(Array.isArray(prev) ? prev : []),
        ...String(v)
          .split(',')
          .filter((s) => s !== ''),
      ];
    } else {
      values[o.name] = v;
    }
  }
  if (values['help'] !== true) {
    const pos = spec.positionals ?? [];
    const required = pos.filter((p) => p.required).length;
    if (positionals.length < required) {
      throw new InputError(`missing ${pos[positionals.length]!.name}`, {
        hint: `run "iovamap ${spec.name} --help"`,
      });
    }
    if (positionals.length > pos.length) {
      throw new InputError(`unexpected argument ${JSON.stringify(positionals[pos.length])}`, {
        hint: `run "iovamap ${spec.name} --help"`,
      });
    }
  }
  return { values, positionals };
}

export function formatHelp(spec: CommandSpec): string {
  const pos = (spec.positionals ?? []).map((p) => (p.required ? p.name : `[${p.name}]`)).join(' ');
  const out: string[] = [
    `Usage: iovamap ${spec.name}${spec.options.length ? ' [options]' : ''}${pos ? ' ' + pos : ''}`,
    '',
  ];
  out.push(spec.summary);
  if (spec.description) out.push('', spec.description);
  if (spec.positionals?.length) {
    out.push('', 'Arguments:');
    for (const p of spec.positionals) out.push(`  ${p.name.padEnd(24)} ${p.help}`);
  }
  const rows = spec.options.map((o) => {
    const flag = `${o.short ? `-${o.short}, ` : ''}--${o.name}${o.type === 'boolean' ? '' : ' ' + (o.metavar ?? o.type.toUpperCase())}`;
    const choices = o.choices ? ` (${o.choices.join(', ')})` : '';
    return `  ${flag.padEnd(24)} ${o.help}${choices}`;
  });
  out.push('', 'Options:', ...rows, `  ${'-h, --help'.padEnd(24)} show this help`);
  if (spec.examples.length) {
    out.push('', 'Examples:');
    for (const [cmd, what] of spec.examples) out.push(`  # ${what}`, `  ${cmd}`);
  }
  return out.join('\n') + '\n';
}

/** Builds a registry entry: `--help` prints the spec's help; the handler gets parsed arguments. */
export function defineCommand(
  spec: CommandSpec,
  handler: (args: ParsedArgs) => Promise<number> | number,
): Command {
  return {
    name: spec.name,
    summary: spec.summary,
    spec,
    async run(argv: string[]): Promise<number> {
      const args = parseArgs(spec, argv);
      if (args.values['help'] === true) {
        process.stdout.write(formatHelp(spec));
        return 0;
      }
      return handler(args);
    },
  };
}
