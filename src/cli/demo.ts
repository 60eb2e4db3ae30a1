/**
 * `iovamap demo`: the ARM MSI story of the seeds, told by the running model (src/walkthrough). Every
 * line printed is a value the model returned: ioctl results, sysfs text, programmed MSI addresses,
 * IOMMU translations, eventfd counters.
 */
import { InputError } from '../base/errors.js';
import { isKernelVersion, type KernelVersion, DEFAULT_KERNEL } from '../kernel/profile.js';
import type { Story } from '../walkthrough/story.js';
import { assignStory, forgingStory } from '../walkthrough/assign.js';
import { iommufdStory } from '../walkthrough/iommufd.js';
import { bool, defineCommand, str } from './args.js';
import { type Style, styleFor, toJson } from './output.js';

const PARTS = ['arm', 'unsafe', 'x86', 'iommufd', 'all'] as const;
type Part = (typeof PARTS)[number];

/** The stories of each part, in the order they are told. */
export function demoStories(part: Part, kernel: KernelVersion): Story[] {
  const out: Story[] = [];
  if (part === 'arm' || part === 'all') {
    out.push(
      assignStory({
        preset: 'qemu-virt-smmuv3-gicv3',
        kernel,
        vmm: 'qemu-virt',
        memory: 4n << 30n,
        vectors: 2,
      }),
    );
  }
  if (part === 'unsafe' || part === 'all') {
    out.push(
      assignStory({
        preset: 'qemu-virt-smmuv3-gicv2',
        kernel,
        vmm: 'qemu-virt',
        memory: 4n << 30n,
        vectors: 2,
      }),
      forgingStory({ preset: 'amd-seattle', kernel }),
      forgingStory({ preset: 'ampere-altra', kernel }),
    );
  }
  if (part === 'x86' || part === 'all') {
    out.push(
      assignStory({ preset: 'qemu-q35-intel-iommu', kernel, vmm: 'qemu-q35', memory: 8n << 30n, vectors: 2 }),
    );
  }
  if (part === 'iommufd' || part === 'all') {
    out.push(iommufdStory({ preset: 'qemu-q35-intel-iommu', kernel, vmm: 'qemu-q35', memory: 8n << 30n }));
  }
  return out;
}

export function renderStory(st: Story, n: number, c: Style): string {
  const mark = { ok: c.green('✔'), fail: c.red('✘'), info: c.cyan('•'), refused: c.yellow('⊘') };
  const lines = [c.bold(`━━ ${n}. ${st.title}`)];
  st.steps.forEach((s, i) => {
    lines.push(`${mark[s.status]} ${c.bold(`${i + 1}. ${s.title}`)}`);
    for (const l of s.lines) lines.push(`     ${l}`);
  });
  lines.push(`  ${c.yellow('→')} ${st.moral}`, '');
  return lines.join('\n') + '\n';
}

const INTRO = [
  "On ARM, an MSI is a DMA write to the interrupt controller's doorbell, so the SMMU translates it.",
  'VFIO gives the guest the whole IOVA space, so the kernel must map the doorbell itself, inside a',
  'window userspace must avoid (0x8000000, 1 MiB). Below, the model assigns devices the way a VMM does.',
  'Marks: ✔ worked  • observed  ⊘ refused by the kernel, as it should be  ✘ went wrong (an attack succeeding).',
  '',
].join('\n');

/** Where a new user goes after the story. */
const NEXT =
  'Next: "iovamap inspect --list" lists the built-in machines, "iovamap check --help" checks a VM\'s RAM\n' +
  'against a host\'s reserved regions, "iovamap serve" draws it all in a browser. Every command has --help.\n';

export const demoCommand = defineCommand(
  {
    name: 'demo',
    summary: 'the ARM MSI story, told by the running model: reserved regions, VFIO, doorbells, interrupts',
    description:
      'Part "arm": an SMMUv3 + GICv3 ITS host assigns a NIC to a QEMU virt guest; the kernel maps the ITS doorbell\n' +
      'at 0x8000000 behind userspace\'s back and an interrupt travels to the eventfd. Part "unsafe": GICv2m is\n' +
      "refused without allow_unsafe_interrupts, and one device forges another's interrupt (the ITS prevents it).\n" +
      'Part "x86": the 0xfee00000 window is not translated at all (interrupt remapping isolates instead).\n' +
      'Part "iommufd": the same host through /dev/iommu and the VFIO device cdev, as QEMU 9.1 uses them.',
    options: [
      {
        name: 'kernel',
        type: 'string',
        metavar: 'V',
        help: `kernel profile (default ${DEFAULT_KERNEL})`,
        choices: ['6.1', '6.12'],
      },
      {
        name: 'part',
        type: 'string',
        metavar: 'PART',
        help: 'which part to tell (default all)',
        choices: PARTS,
      },
      {
        name: 'json',
        type: 'boolean',
        help: 'the stories as JSON (title, steps with status and lines, moral)',
      },
    ],
    examples: [
      ['iovamap demo', 'the whole story on the default kernel'],
      ['iovamap demo --part unsafe --kernel 6.1', 'only the GICv2m part, on Linux 6.1'],
    ],
  },
  (args) => {
    const kernel = str(args, 'kernel') ?? DEFAULT_KERNEL;
    if (!isKernelVersion(kernel)) throw new InputError(`--kernel ${kernel}: unknown kernel profile`);
    const part = (str(args, 'part') ?? 'all') as Part;
    const stories = demoStories(part, kernel);
    if (bool(args, 'json')) {
      process.stdout.write(toJson(stories));
    } else {
      const c = styleFor(process.stdout);
      process.stdout.write(INTRO);
      stories.forEach((s, i) => process.stdout.write(renderStory(s, i + 1, c)));
      process.stdout.write(NEXT);
    }
    return stories.every((s) => s.ok) ? 0 : 1;
  },
);
