/** `iovamap sysfs export`: write the sysfs tree a kernel would show for a modelled platform. */
import { InputError } from '../base/errors.js';
import { resolveHostView } from '../host/resolve.js';
import { writeSysfsTree } from '../host/sysfs-fs.js';
import { sysfsTreeFromHostView } from '../host/sysfs-tree.js';
import { defineCommand, str } from './args.js';
import { HOST_SOURCE_OPTIONS, hostSource } from './host-options.js';

export const sysfsCommand = defineCommand(
  {
    name: 'sysfs',
    summary: 'write the /sys tree (IOMMU groups, PCI devices) a kernel would show for a platform',
    description:
      'Writes DIR/kernel/iommu_groups/N/{type,reserved_regions,devices/BDF} and\n' +
      "DIR/bus/pci/devices/BDF/{vendor,device,class,iommu_group,driver} with the kernel's exact text and\n" +
      'symlinks (device directories under DIR/devices/pciSSSS:BB/...). Read it back with\n' +
      '"iovamap inspect --sysfs DIR". The source is usually --platform; --sysfs and --snapshot copy a host.',
    positionals: [{ name: 'export', help: 'the action (only "export")', required: true }],
    options: [
      ...HOST_SOURCE_OPTIONS,
      {
        name: 'out',
        type: 'string',
        short: 'o',
        metavar: 'DIR',
        help: 'directory to create (must be new or empty)',
      },
    ],
    examples: [
      [
        'iovamap sysfs export --platform qemu-q35-intel-iommu --out q35-sys',
        'the q35 intel-iommu machine, Linux 6.12',
      ],
      [
        'iovamap sysfs export --platform amd-epyc --kernel 6.1 --out epyc-sys',
        'an AMD EPYC server under Linux 6.1',
      ],
      ['iovamap inspect --sysfs q35-sys', 'read an export back'],
    ],
  },
  (a) => {
    const action = a.positionals[0];
    if (action !== 'export')
      throw new InputError(`unknown action ${JSON.stringify(action)}`, {
        hint: 'iovamap sysfs export --platform NAME --out DIR',
      });
    const out = str(a, 'out');
    if (out === undefined)
      throw new InputError('--out DIR is required', {
        hint: 'iovamap sysfs export --platform NAME --out DIR',
      });
    const src = hostSource(a);
    if (src.platform === undefined && src.sysfs === undefined && src.snapshot === undefined)
      throw new InputError('give the host to export: --platform NAME (or --sysfs DIR / --snapshot FILE)');
    const view = resolveHostView(src);
    writeSysfsTree(sysfsTreeFromHostView(view), out);
    process.stdout.write(
      `wrote ${view.groups.length} IOMMU group${view.groups.length === 1 ? '' : 's'} of ${view.source}${view.kernel !== undefined ? ` (kernel ${view.kernel})` : ''} to ${out}\n`,
    );
    return 0;
  },
);
