/**
 * NODE-ONLY: the one place the CLI commands (inspect, check, plan, serve) turn their source options
 * into a HostView:
 *   --platform NAME|FILE [--kernel 6.1|6.12]   a built-in preset or a platform YAML/JSON file, modelled
 *   --sysfs DIR                                 a real /sys or a directory from "iovamap sysfs export"
 *   --snapshot FILE                             a file from "iovamap snapshot"
 *   (none)                                      /sys when it has IOMMU groups, else an error with a hint
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { InputError, NotFoundError } from '../base/errors.js';
import { KERNEL_VERSIONS, isKernelVersion, kernelProfile } from '../kernel/profile.js';
import type { KernelVersion } from '../kernel/profile.js';
import { loadPlatformText } from '../platform/load.js';
import { isPresetName, loadPreset, presetNames } from '../platform/presets.js';
import type { PlatformDescription } from '../platform/types.js';
import { hostViewFromPlatform } from './from-platform.js';
import { noGroupsExplanation } from './raw.js';
import { hostViewFromSnapshot } from './snapshot.js';
import { hostViewFromSysfsDir, systemDeviceNames } from './sysfs-fs.js';
import type { HostView } from './view.js';

export interface HostSource {
  readonly platform?: string;
  readonly sysfs?: string;
  readonly snapshot?: string;
  readonly kernel?: string;
  /** Root used when no source is given (default /sys; tests point it elsewhere). */
  readonly defaultSysfs?: string;
}

/** A preset name, or the path of a platform file (anything with a `/` or a .yaml/.yml/.json suffix). */
export function resolvePlatform(nameOrPath: string): PlatformDescription {
  if (isPresetName(nameOrPath)) return loadPreset(nameOrPath);
  const looksLikePath = /[/\\]/.test(nameOrPath) || /\.(ya?ml|json)$/i.test(nameOrPath);
  if (looksLikePath || existsSync(nameOrPath)) {
    if (!existsSync(nameOrPath) || !statSync(nameOrPath).isFile())
      throw new InputError(
        existsSync(nameOrPath) ? 'not a platform file (a directory?)' : 'no such platform file',
        {
          file: nameOrPath,
          hint: `or use a built-in platform: ${presetNames().join(', ')}`,
        },
      );
    return loadPlatformText(readText(nameOrPath), nameOrPath);
  }
  return loadPreset(nameOrPath); // NotFoundError listing the presets
}

function readText(path: string | number, name = String(path)): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new InputError(`cannot read: ${(e as Error).message}`, { file: name });
  }
}

function checkKernel(kernel: string | undefined): void {
  if (kernel !== undefined && !isKernelVersion(kernel))
    throw new InputError(`--kernel ${JSON.stringify(kernel)}: not a modelled kernel version`, {
      hint: `choose one of: ${KERNEL_VERSIONS.join(', ')}`,
    });
}

export function resolveHostView(src: HostSource): HostView {
  const given = (['platform', 'sysfs', 'snapshot'] as const).filter((k) => src[k] !== undefined);
  if (given.length > 1)
    throw new InputError(`give one source, not ${given.map((g) => `--${g}`).join(' and ')}`, {
      hint: 'a host comes from --platform NAME, --sysfs DIR or --snapshot FILE',
    });
  checkKernel(src.kernel);
  if (src.kernel !== undefined && src.platform === undefined)
    throw new InputError('--kernel applies to --platform only', {
      hint: 'a real host, an export or a snapshot shows the kernel it was taken from',
    });
  if (src.platform !== undefined) {
    const desc = resolvePlatform(src.platform);
    const names = systemDeviceNames();
    return hostViewFromPlatform(
      desc,
      kernelProfile(src.kernel as KernelVersion | undefined),
      names ? { names } : {},
    );
  }
  if (src.sysfs !== undefined) return hostViewFromSysfsDir(src.sysfs);
  if (src.snapshot !== undefined) {
    // "-": standard input, as `iovamap snapshot --out -` writes it (e.g. piped from another machine)
    if (src.snapshot === '-') return hostViewFromSnapshot(readText(0, '-'), '-');
    if (!existsSync(src.snapshot) || !statSync(src.snapshot).isFile())
      throw new InputError('no such snapshot file', {
        file: src.snapshot,
        hint: 'create one with "iovamap snapshot --out FILE" on the host',
      });
    return hostViewFromSnapshot(readText(src.snapshot), src.snapshot);
  }
  const root = src.defaultSysfs ?? '/sys';
  const hint = `explore a built-in machine instead: --platform NAME (${presetNames().join(', ')}), or read a copy with --sysfs DIR / --snapshot FILE`;
  if (!existsSync(`${root}/kernel/iommu_groups`) && !existsSync(`${root}/bus/pci`))
    throw new InputError(`${root} is not available on this system (not Linux, or sysfs not mounted)`, {
      hint,
    });
  const view = hostViewFromSysfsDir(root);
  if (view.groups.length === 0) {
    const dir = root === '/sys' ? undefined : `${root.replace(/\/+$/, '')}/kernel/iommu_groups`;
    throw new NotFoundError(noGroupsExplanation(view.arch, dir), { hint });
  }
  return view;
}
