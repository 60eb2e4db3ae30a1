/** Every modelled VMM layout, and name resolution for `--vmm NAME [--machine M] [--arch A]`. */
import { QEMU_PC, QEMU_Q35, QEMU_VIRT } from './qemu.js';
import {
  CLOUD_HYPERVISOR_AARCH64,
  CLOUD_HYPERVISOR_X86_64,
  CROSVM_AARCH64,
  CROSVM_X86_64,
  FIRECRACKER_AARCH64,
  FIRECRACKER_X86_64,
  OPENVMM_AARCH64,
} from './rust-vmms.js';
import type { GuestArch, VmmModel } from './types.js';

export const VMM_MODELS: readonly VmmModel[] = [
  QEMU_Q35,
  QEMU_PC,
  QEMU_VIRT,
  CLOUD_HYPERVISOR_X86_64,
  CLOUD_HYPERVISOR_AARCH64,
  FIRECRACKER_X86_64,
  FIRECRACKER_AARCH64,
  CROSVM_X86_64,
  CROSVM_AARCH64,
  OPENVMM_AARCH64,
];

/** Names accepted by `--vmm`: model ids plus family names. */
export const VMM_NAMES: readonly string[] = [
  ...new Set([...VMM_MODELS.map((m) => m.family), ...VMM_MODELS.map((m) => m.id)]),
];

const MACHINE_ALIASES: Record<string, string> = { i440fx: 'pc', 'pc-i440fx': 'pc', 'pc-q35': 'q35' };

export type VmmLookup = { ok: true; model: VmmModel } | { ok: false; reason: string; hint?: string };

/**
 * Resolves a VMM by name. A family name (`qemu`, `crosvm`) needs the guest architecture (or, for QEMU,
 * the machine): `arch` defaults to the host's when the caller knows it.
 */
export function findVmm(name: string, opts: { machine?: string; arch?: GuestArch } = {}): VmmLookup {
  const byId = VMM_MODELS.find((m) => m.id === name);
  if (byId) {
    if (
      opts.machine !== undefined &&
      byId.machine !== undefined &&
      normalise(opts.machine) !== byId.machine
    ) {
      return { ok: false, reason: `--vmm ${name} is the ${byId.machine} machine, not ${opts.machine}` };
    }
    return { ok: true, model: byId };
  }
  const family = VMM_MODELS.filter((m) => m.family === name);
  if (family.length === 0) {
    return { ok: false, reason: `unknown VMM "${name}"`, hint: `choose one of: ${VMM_NAMES.join(', ')}` };
  }
  if (opts.machine !== undefined) {
    const machine = normalise(opts.machine);
    const m = family.find((x) => x.machine === machine);
    if (!m) {
      const known = family.map((x) => x.machine).filter((x) => x !== undefined);
      return {
        ok: false,
        reason: `${name} has no machine "${opts.machine}" in the model`,
        hint: known.length ? `choose one of: ${known.join(', ')}` : `${name} has no machine types`,
      };
    }
    if (opts.arch !== undefined && m.arch !== opts.arch) {
      return { ok: false, reason: `the ${machine} machine is ${m.arch}, not ${opts.arch}` };
    }
    return { ok: true, model: m };
  }
  const arch = opts.arch ?? 'x86_64';
  const m = family.find((x) => x.arch === arch);
  if (!m) {
    return {
      ok: false,
      reason: `${name} has no ${arch} layout in the model`,
      hint: `available: ${family.map((x) => x.id).join(', ')}`,
    };
  }
  return { ok: true, model: m };
}

function normalise(machine: string): string {
  // pc-q35-7.0 / pc-i440fx-7.0 / virt-9.2: the version is given with --opt version=X.Y
  const base = machine.replace(/-[0-9]+\.[0-9]+$/, '');
  return MACHINE_ALIASES[base] ?? base;
}

/** The version part of a versioned machine name (`pc-q35-7.0` gives `7.0`). */
export function machineVersion(machine: string): string | undefined {
  return /-([0-9]+\.[0-9]+)$/.exec(machine)?.[1];
}

/** RHEL-style machine types (pc-q35-rhel9.4.0) are laid out as the upstream machine, with a note. */
export function upstreamMachine(type: string): { machine: string; note?: string } {
  const rhel = /^(pc-q35|pc-i440fx|virt)-rhel[0-9.]+$/.exec(type);
  if (!rhel) return { machine: type };
  return {
    machine: rhel[1] === 'pc-q35' ? 'q35' : rhel[1] === 'pc-i440fx' ? 'pc' : 'virt',
    note: `machine ${type} is a downstream (RHEL) type: laid out as the upstream machine of the latest version`,
  };
}

/**
 * The vendor a QEMU CPU model's name says (`EPYC-Rome` AMD, `Skylake-Server` Intel); undefined when it
 * does not (`host`, `max`, `qemu64` follow other rules).
 */
export function cpuModelVendor(model: string): 'amd' | 'intel' | undefined {
  if (/^(epyc|opteron|phenom|athlon|dhyana)/i.test(model)) return 'amd';
  if (
    /^(skylake|cascadelake|cooperlake|icelake|sapphirerapids|graniterapids|sierraforest|clearwaterforest|haswell|broadwell|nehalem|westmere|sandybridge|ivybridge|penryn|conroe|core2duo|coreduo|snowridge|denverton|kvm64|kvm32|qemu32|pentium|n270)/i.test(
      model,
    )
  )
    return 'intel';
  return undefined;
}
