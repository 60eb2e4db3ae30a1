/**
 * `iovamap run FILE`: runs a scenario (YAML, docs/scenario-format.md) on the model and prints one line
 * per step in the oracle's format (CASE/HEX/CAP/RANGE/INFO). FILE is a path or the name of a shipped
 * scenario (scenarios/*.yaml). Node-only (reads files).
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { InputError } from '../base/errors.js';
import { isKernelVersion, KERNEL_VERSIONS } from '../kernel/profile.js';
import { parseU64 } from '../base/u64.js';
import { builtinScenarioText, builtinScenarios, runScenarioFull } from '../scenario/runner.js';
import { parseScenario } from '../scenario/parse.js';
import { bootPlatform, bootPreset } from '../scenario/platforms.js';
import { setPlatformResolver } from '../scenario/runner.js';
import { isPresetName } from '../platform/presets.js';
import { resolvePlatform } from '../host/resolve.js';
import type { Type1Params } from '../vfio/type1/type1.js';
import { defineCommand, list, str } from './args.js';
import { readFailure } from './output.js';

function readScenario(arg: string): { text: string; file: string; builtin: boolean } {
  const builtin = builtinScenarioText(arg);
  if (builtin !== undefined && !arg.includes('/') && !arg.endsWith('.yaml')) {
    return { text: builtin, file: `scenarios/${arg}.yaml`, builtin: true };
  }
  try {
    if (arg === '-') return { text: readFileSync(0, 'utf8'), file: '<stdin>', builtin: false };
    return { text: readFileSync(arg, 'utf8'), file: arg, builtin: false };
  } catch (e) {
    throw new InputError(`scenario ${JSON.stringify(arg)}: ${readFailure(e)}`, {
      hint: `give a YAML file or one of the shipped scenarios: ${builtinScenarios().join(', ')}`,
    });
  }
}

// A platform is a preset name or, on the command line, a platform YAML/JSON file (as for inspect).
setPlatformResolver((name, profile) =>
  isPresetName(name) ? bootPreset(name, profile) : bootPlatform(resolvePlatform(name), profile),
);

/** A scenario's `platform:` that names a file is relative to the scenario file, like an include. */
function scenarioPlatform(platform: string | undefined, file: string, builtin: boolean): string | undefined {
  if (platform === undefined || builtin || isPresetName(platform) || isAbsolute(platform)) return platform;
  if (!/[/\\]/.test(platform) && !/\.(ya?ml|json)$/i.test(platform)) return platform;
  return resolve(dirname(file), platform);
}

function parseParams(items: string[]): Partial<Type1Params> {
  const out: Partial<Type1Params> = {};
  for (const it of items) {
    const m = /^([a-z_]+)=(.*)$/.exec(it);
    if (!m) throw new InputError(`--param ${JSON.stringify(it)}: expected name=value`);
    const [, k, v] = m as unknown as [string, string, string];
    const bool = (): boolean => {
      if (/^(1|y|yes|true)$/i.test(v)) return true;
      if (/^(0|n|no|false)$/i.test(v)) return false;
      throw new InputError(`--param ${k}: expected Y or N, got ${JSON.stringify(v)}`);
    };
    if (k === 'allow_unsafe_interrupts') out.allowUnsafeInterrupts = bool();
    else if (k === 'disable_hugepages') out.disableHugepages = bool();
    else if (k === 'dma_entry_limit') {
      const n = parseU64(v);
      if (n === undefined || n > 0xffffffffn)
        throw new InputError(`--param dma_entry_limit: not a u32: ${JSON.stringify(v)}`);
      out.dmaEntryLimit = Number(n);
    } else {
      throw new InputError(`--param ${JSON.stringify(k)}: unknown module parameter`, {
        hint: 'allow_unsafe_interrupts, dma_entry_limit, disable_hugepages',
      });
    }
  }
  return out;
}

function parseVars(items: string[]): Record<string, bigint> {
  const out: Record<string, bigint> = {};
  for (const it of items) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(it);
    const v = m ? parseU64(m[2]!) : undefined;
    if (!m || v === undefined) throw new InputError(`--var ${JSON.stringify(it)}: expected name=number`);
    out[m[1]!] = v;
  }
  return out;
}

export const runCommand = defineCommand(
  {
    name: 'run',
    summary: 'run a VFIO scenario on the model; print CASE/HEX/CAP lines like the oracle',
    description:
      'FILE is a scenario YAML file (see docs/scenario-format.md; "-" reads standard input) or the name of a shipped one: ' +
      `${builtinScenarios().join(', ')}. Exit status: 0 done, 1 an "expect:" failed or the scenario stopped with "exit", 2 a mistake in the scenario or the arguments.`,
    positionals: [{ name: 'FILE', help: 'scenario file or shipped scenario name', required: true }],
    options: [
      {
        name: 'platform',
        type: 'string',
        metavar: 'NAME|FILE',
        help: 'built-in platform (see "iovamap inspect --list") or a platform YAML/JSON file; overrides the scenario',
      },
      { name: 'kernel', type: 'string', metavar: 'V', help: 'kernel profile', choices: KERNEL_VERSIONS },
      { name: 'param', type: 'list', metavar: 'K=V', help: 'vfio_iommu_type1 module parameter (repeatable)' },
      { name: 'var', type: 'list', metavar: 'K=N', help: 'override a scenario variable (repeatable)' },
      { name: 'check', type: 'boolean', help: 'only load and check the scenario' },
      {
        name: 'dmesg',
        type: 'boolean',
        help: 'after the run, print what the kernel logged (pr_warn: RLIMIT_MEMLOCK exceeded, no interrupt remapping...) to stderr',
      },
    ],
    examples: [
      [
        'iovamap run probe_full --platform qemu-virt-smmuv3-gicv3 --kernel 6.1',
        'the oracle probe on an arm64 SMMUv3 machine',
      ],
      [
        'iovamap run probe_attach --platform qemu-virt-smmuv3-gicv2 --param allow_unsafe_interrupts=Y',
        'GICv2m attach with unsafe interrupts allowed',
      ],
      ['iovamap run vfio_memlock --kernel 6.1 --dmesg', 'ENOMEM from RLIMIT_MEMLOCK, with the kernel log'],
      ['iovamap run my-scenario.yaml', 'a scenario of your own'],
    ],
  },
  (args) => {
    const { text, file, builtin } = readScenario(args.positionals[0]!);
    const sc = parseScenario(text, file);
    if (args.values['check'] === true) {
      process.stdout.write(`${file}: ok (${sc.steps.length} steps)\n`);
      return 0;
    }
    const kernel = str(args, 'kernel');
    const platform = str(args, 'platform') ?? scenarioPlatform(sc.platform, file, builtin);
    const r = runScenarioFull(sc, {
      ...(platform !== undefined ? { platform } : {}),
      ...(kernel !== undefined && isKernelVersion(kernel) ? { kernel } : {}),
      params: parseParams(list(args, 'param')),
      vars: parseVars(list(args, 'var')),
    });
    process.stdout.write(r.lines.map((l) => l + '\n').join(''));
    if (args.values['dmesg'] === true) for (const l of r.system.klog) process.stderr.write(`kernel: ${l}\n`);
    for (const f of r.failures) process.stderr.write(`iovamap run: expectation failed: ${f}\n`);
    return r.exitCode === 0 && r.failures.length === 0 ? 0 : 1;
  },
);
