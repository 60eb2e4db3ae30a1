/**
 * `iovamap designs list|compare|run`: the 2015-2016 MSI designs (src/designs) run on the model.
 * Exit status: 0 ok, 2 usage or input error.
 */
import { InputError } from '../base/errors.js';
import { type KernelVersion } from '../kernel/profile.js';
import { DESIGNS, DESIGN_NAMES, findDesign } from '../designs/index.js';
import { compareDesigns, formatComparison, msiVerdict } from '../designs/compare.js';
import { runDesignSession } from '../designs/session.js';
import type { DesignName } from '../designs/types.js';
import { big, bool, defineCommand, str } from './args.js';
import { toJson } from './output.js';

const KERNELS = ['6.1', '6.12'];

export const designsCommand = defineCommand(
  {
    name: 'designs',
    summary: 'the 2015-2016 MSI designs as runnable modes, side by side',
    description:
      'list     the designs, with which details are verified and which are reconstructed\n' +
      'compare  runs every design on one platform/VMM/memory size: calls, MSI window, RAM layout, MSI-X\n' +
      '         delivery when userspace follows the design and when it does not, and the fixed regions\n' +
      '         the design cannot tell userspace about\n' +
      'run      one design, one mode (--mode follow|ignore), every call printed\n\n' +
      'Designs: ' +
      DESIGN_NAMES.join(', ') +
      '.\nReconstructed (not verified) ABI: msi-geometry capability layout and flag value, resv-iova-range\n' +
      'capability layout, virtual-doorbell MAP flag (see docs/designs.md).',
    positionals: [{ name: 'action', help: 'list, compare or run', required: true }],
    options: [
      {
        name: 'platform',
        type: 'string',
        metavar: 'PRESET',
        help: 'platform preset (default qemu-virt-smmuv3-gicv3)',
      },
      {
        name: 'vmm',
        type: 'string',
        metavar: 'NAME',
        help: 'VMM model for the guest RAM layout (default qemu-virt)',
      },
      { name: 'memory', type: 'size', metavar: 'SIZE', help: 'guest RAM (default 4G)' },
      { name: 'kernel', type: 'string', help: 'kernel profile', choices: KERNELS },
      { name: 'design', type: 'string', metavar: 'NAME', help: 'design for `run`', choices: DESIGN_NAMES },
      {
        name: 'mode',
        type: 'string',
        help: 'for `run`: follow (default) or ignore',
        choices: ['follow', 'ignore'],
      },
      { name: 'json', type: 'boolean', help: 'machine-readable output' },
    ],
    examples: [
      [
        'iovamap designs compare --platform qemu-virt-smmuv3-gicv3 --vmm qemu-virt --memory 4G',
        'the six designs',
      ],
      [
        'iovamap designs compare --platform hisilicon-hi1616-like',
        'a hardware MSI window the donating designs cannot report',
      ],
      ['iovamap designs run --design merged-4.11 --mode ignore', 'RAM over the SW_MSI window in 4.11'],
    ],
  },
  (a) => {
    const action = a.positionals[0];
    const platform = str(a, 'platform') ?? 'qemu-virt-smmuv3-gicv3';
    const vmm = str(a, 'vmm') ?? 'qemu-virt';
    const memory = big(a, 'memory') ?? 4n << 30n;
    const kernel = str(a, 'kernel') as KernelVersion | undefined;
    const json = bool(a, 'json');
    if (action === 'list') {
      if (json) {
        process.stdout.write(toJson(DESIGNS.map((d) => d.info)));
        return 0;
      }
      for (const d of DESIGNS) {
        process.stdout.write(
          `${d.info.name}: ${d.info.title}\n  ${d.info.summary}\n  from: ${d.info.origin}\n`,
        );
        for (const v of d.info.verified) process.stdout.write(`  verified: ${v}\n`);
        for (const v of d.info.reconstructed) process.stdout.write(`  reconstructed: ${v}\n`);
      }
      return 0;
    }
    if (action === 'compare') {
      const rows = compareDesigns({ platform, vmm, memory, kernel });
      if (json) {
        process.stdout.write(
          toJson(
            rows.map((r) => ({
              design: r.info.name,
              setupCalls: r.setupCalls,
              msiWindow: r.follow.msiWindow,
              ramWorks: r.follow.ramWorks,
              follow: msiVerdict(r.follow),
              ignore: msiVerdict(r.ignore),
              ignoreProblems: r.ignore.problems,
              cannotExpress: r.cannotExpress,
            })),
          ),
        );
        return 0;
      }
      process.stdout.write(
        `designs compare: platform ${platform}, vmm ${vmm}, memory ${memory >> 20n} MiB\n`,
      );
      process.stdout.write(formatComparison(rows).join('\n') + '\n');
      return 0;
    }
    if (action === 'run') {
      const design = (str(a, 'design') ?? 'today') as DesignName;
      if (!findDesign(design)) throw new InputError(`unknown design "${design}"`, { field: '--design' });
      const mode = str(a, 'mode') === 'ignore' ? 'ignore' : 'follow';
      const r = runDesignSession({ platform, vmm, memory, kernel, design, mode });
      if (json) {
        process.stdout.write(toJson({ ...r, request: { ...r.request } }));
        return 0;
      }
      for (const c of r.calls) process.stdout.write(`CALL ${c}\n`);
      process.stdout.write(`MSI ${r.msiWindow}\n${msiVerdict(r)}\n`);
      for (const p of r.problems) process.stdout.write(`PROBLEM ${p}\n`);
      return 0;
    }
    throw new InputError(`unknown action "${action ?? ''}": choose list, compare or run`, {
      field: 'action',
    });
  },
);
