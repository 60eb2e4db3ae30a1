/**
 * The conformance suite's contents: which compiled scenarios run on which machine/kernel pair. The
 * same list drives the kernel run (files written to conformance/scenarios/) and the model run.
 */

import { configScenario, deviceFeatureScenario, deviceScenario, ioctlKindsScenario } from './device.js';
import { hotResetScenario, ioeventfdScenario } from './device-ioctls.js';
import { dirtyScenario } from './dirty.js';
import { memlockScenario } from './memlock.js';
import { generateScenario } from './generator.js';
import { iommufdScenario } from './iommufd.js';
import { iommufdCompatScenario } from './iommufd-compat.js';
import { intxScenario } from './intx.js';
import { powerScenario } from './power.js';
import { generateIntxScenario } from './generator-intx.js';
import { generateIommufdScenario } from './generator-iommufd.js';
import { groupTypeScenario } from './group-type.js';
import { paramsScenario } from './params.js';
import { MACHINES, type ConformanceMachine } from './machines.js';
import { probeScenario } from './probe.js';

/** Seed and size of the generated part: 16 scenarios x 250 random steps per machine/kernel pair. */
export const GEN_SEED = 20261121;
export const GEN_SCENARIOS = 16;
export const GEN_STEPS = 250;

export interface SuiteFile {
  /** Path under conformance/scenarios/: `<machine>/probe.iovx` or `common/gen-NN.iovx`. */
  readonly path: string;
  readonly text: string;
}

/** The file name of generated scenario `i` (sorted order = run order). */
export function genFileName(i: number): string {
  return `gen-${String(i).padStart(2, '0')}.iovx`;
}

/** Dirty-page tracking (src/conformance/dirty.ts) in 4 KiB pages, on every machine. */
export const DIRTY_FILE = 'dirty.iovx';
/** Module parameter writes (src/conformance/params.ts), on every machine. */
export const PARAMS_FILE = 'params.iovx';
/** ioctl numbers sent to the wrong kind of file (src/conformance/device.ts), on every machine. */
export const IOCTL_KINDS_FILE = 'ioctl-kinds.iovx';
/** The device's config space read through the device fd (src/conformance/device.ts), on every machine. */
export const CONFIG_FILE = 'config.iovx';
/** VFIO_DEVICE_FEATURE on the device (src/conformance/device.ts), on every machine. */
export const DEVICE_FEATURE_FILE = 'device-feature.iovx';
/** The device's regions (src/conformance/device.ts), on every machine. */
export const DEVICE_FILE = 'device.iovx';
/** vfio-pci's hot-reset ioctls (src/conformance/device-ioctls.ts), on every machine. */
export const HOT_RESET_FILE = 'hot-reset.iovx';
/** VFIO_DEVICE_IOEVENTFD (src/conformance/device-ioctls.ts), on every machine. */
export const IOEVENTFD_FILE = 'ioeventfd.iovx';
/** The power state vfio-pci leaves the NIC in (src/conformance/power.ts), on every machine. */
export const POWER_FILE = 'power.iovx';
/** The NIC's legacy interrupt through vfio-pci (src/conformance/intx.ts), on every machine. */
export const INTX_FILE = 'intx.iovx';
/** Random INTx sequences (src/conformance/generator-intx.ts), on every machine. */
export const GEN_INTX_SCENARIOS = 2;
export const GEN_INTX_STEPS = 200;
const GEN_INTX_INDEX = 400;
export function genIntxFileName(i: number): string {
  return `gen-intx-${String(i).padStart(2, '0')}.iovx`;
}
/** Writes to the groups' sysfs `type` (src/conformance/group-type.ts), on every machine. */
export const GROUP_TYPE_FILE = 'group-type.iovx';
/** The same in the machine's own page size, on machines whose kernel has larger pages. */
export const DIRTY_PAGE_FILE = 'dirty-pages.iovx';
/** Locked-memory charges and RLIMIT_MEMLOCK (src/conformance/memlock.ts), on every machine. */
export const MEMLOCK_FILE = 'memlock.iovx';
/** The same in the machine's own page size, on machines whose kernel has larger pages. */
export const MEMLOCK_PAGE_FILE = 'memlock-pages.iovx';

/** Generated scenarios that also change RLIMIT_MEMLOCK, CAP_IPC_LOCK and mlock at random, on every machine. */
export const GEN_MEMLOCK_SCENARIOS = 4;
const GEN_MEMLOCK_INDEX = 200;
export function genMemlockFileName(i: number): string {
  return `gen-memlock-${String(i).padStart(2, '0')}.iovx`;
}

/** /dev/iommu and the VFIO device cdev (src/conformance/iommufd.ts), on the machines built with iommufd. */
export const IOMMUFD_FILE = 'iommufd.iovx';
/** VFIO type1 on /dev/iommu (src/conformance/iommufd-compat.ts), on the iommufd machines. */
export const IOMMUFD_COMPAT_FILE = 'iommufd/compat.iovx';
/** Generated iommufd sequences (src/conformance/generator-iommufd.ts), shared by the iommufd machines. */
export const GEN_IOMMUFD_SCENARIOS = 6;
export const GEN_IOMMUFD_STEPS = 250;
const GEN_IOMMUFD_INDEX = 300;
export function genIommufdFileName(i: number): string {
  return `gen-iommufd-${String(i).padStart(2, '0')}.iovx`;
}
/** Generated iommufd sequences with VFIO type1 on the same /dev/iommu mixed in. */
export const GEN_IOMMUFD_COMPAT_SCENARIOS = 2;
const GEN_IOMMUFD_COMPAT_INDEX = 320;
export function genIommufdCompatFileName(i: number): string {
  return `gen-iommufd-compat-${String(i).padStart(2, '0')}.iovx`;
}

/** Machines with a second vfio-pci group also run a generated scenario that moves both groups around. */
export const MULTI_GEN_FILE = 'gen-multi.iovx';
const MULTI_GEN_INDEX = 100;

/** Every compiled scenario file of the suite, deterministically. */
export function suiteFiles(): SuiteFile[] {
  const files: SuiteFile[] = MACHINES.filter((m) => m.suite === undefined).map((m) => ({
    path: `${m.name}/probe.iovx`,
    text: probeScenario(m),
  }));
  for (const m of MACHINES.filter((x) => x.suite === 'iommufd'))
    files.push({ path: `${m.name}/${IOMMUFD_FILE}`, text: iommufdScenario() });
  files.push({ path: IOMMUFD_COMPAT_FILE, text: iommufdCompatScenario() });
  for (let i = 0; i < GEN_IOMMUFD_SCENARIOS; i++)
    files.push({
      path: `iommufd/${genIommufdFileName(i)}`,
      text: generateIommufdScenario(GEN_SEED, GEN_IOMMUFD_INDEX + i, GEN_IOMMUFD_STEPS),
    });
  for (let i = 0; i < GEN_IOMMUFD_COMPAT_SCENARIOS; i++)
    files.push({
      path: `iommufd/${genIommufdCompatFileName(i)}`,
      text: generateIommufdScenario(GEN_SEED, GEN_IOMMUFD_COMPAT_INDEX + i, GEN_IOMMUFD_STEPS, {
        compat: true,
      }),
    });
  for (const m of MACHINES.filter((x) => x.secondGroup))
    files.push({
      path: `${m.name}/${MULTI_GEN_FILE}`,
      text: generateScenario(GEN_SEED, MULTI_GEN_INDEX, { steps: GEN_STEPS, secondGroup: true }),
    });
  for (let i = 0; i < GEN_SCENARIOS; i++) {
    files.push({
      path: `common/${genFileName(i)}`,
      text: generateScenario(GEN_SEED, i, { steps: GEN_STEPS }),
    });
  }
  for (let i = 0; i < GEN_MEMLOCK_SCENARIOS; i++) {
    files.push({
      path: `common/${genMemlockFileName(i)}`,
      text: generateScenario(GEN_SEED, GEN_MEMLOCK_INDEX + i, { steps: GEN_STEPS, limits: true }),
    });
  }
  files.push({ path: `common/${DIRTY_FILE}`, text: dirtyScenario() });
  files.push({ path: `common/${GROUP_TYPE_FILE}`, text: groupTypeScenario() });
  files.push({ path: `common/${DEVICE_FILE}`, text: deviceScenario() });
  files.push({ path: `common/${CONFIG_FILE}`, text: configScenario() });
  files.push({ path: `common/${DEVICE_FEATURE_FILE}`, text: deviceFeatureScenario() });
  files.push({ path: `common/${IOCTL_KINDS_FILE}`, text: ioctlKindsScenario() });
  files.push({ path: `common/${HOT_RESET_FILE}`, text: hotResetScenario() });
  files.push({ path: `common/${IOEVENTFD_FILE}`, text: ioeventfdScenario() });
  files.push({ path: `common/${INTX_FILE}`, text: intxScenario() });
  files.push({ path: `common/${POWER_FILE}`, text: powerScenario() });
  for (let i = 0; i < GEN_INTX_SCENARIOS; i++)
    files.push({
      path: `common/${genIntxFileName(i)}`,
      text: generateIntxScenario(GEN_SEED, GEN_INTX_INDEX + i, GEN_INTX_STEPS),
    });
  files.push({ path: `common/${PARAMS_FILE}`, text: paramsScenario() });
  files.push({ path: `common/${MEMLOCK_FILE}`, text: memlockScenario() });
  for (const m of MACHINES.filter((x) => x.pageBytes !== undefined)) {
    files.push({ path: `${m.name}/${DIRTY_PAGE_FILE}`, text: dirtyScenario(BigInt(m.pageBytes!)) });
    files.push({ path: `${m.name}/${MEMLOCK_PAGE_FILE}`, text: memlockScenario(BigInt(m.pageBytes!)) });
  }
  return files;
}

/**
 * The scenario files that run on a machine, in run order: the probe, the machine's other files, then
 * the common ones, each directory in byte order (conformance/kernel/run.sh).
 */
export function filesForMachine(m: ConformanceMachine): string[] {
  if (m.suite === 'iommufd')
    return [
      `${m.name}/${IOMMUFD_FILE}`,
      IOMMUFD_COMPAT_FILE,
      ...Array.from({ length: GEN_IOMMUFD_SCENARIOS }, (_, i) => `iommufd/${genIommufdFileName(i)}`),
      ...Array.from(
        { length: GEN_IOMMUFD_COMPAT_SCENARIOS },
        (_, i) => `iommufd/${genIommufdCompatFileName(i)}`,
      ),
    ];
  const own: string[] = [];
  if (m.pageBytes !== undefined) own.push(DIRTY_PAGE_FILE, MEMLOCK_PAGE_FILE);
  if (m.secondGroup) own.push(MULTI_GEN_FILE);
  const common = [
    CONFIG_FILE,
    DEVICE_FEATURE_FILE,
    DEVICE_FILE,
    DIRTY_FILE,
    GROUP_TYPE_FILE,
    HOT_RESET_FILE,
    INTX_FILE,
    IOCTL_KINDS_FILE,
    IOEVENTFD_FILE,
    MEMLOCK_FILE,
    PARAMS_FILE,
    POWER_FILE,
    ...Array.from({ length: GEN_SCENARIOS }, (_, i) => genFileName(i)),
    ...Array.from({ length: GEN_MEMLOCK_SCENARIOS }, (_, i) => genMemlockFileName(i)),
    ...Array.from({ length: GEN_INTX_SCENARIOS }, (_, i) => genIntxFileName(i)),
  ];
  const sorted = (a: string[]): string[] => [...a].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  return [
    `${m.name}/probe.iovx`,
    ...sorted(own).map((f) => `${m.name}/${f}`),
    ...sorted(common).map((f) => `common/${f}`),
  ];
}
