/** `iovamap snapshot`: capture a host's IOMMU groups, reserved regions and PCI devices into one file. */
import { writeFileSync } from 'node:fs';
import { InputError } from '../base/errors.js';
import { resolveHostView } from '../host/resolve.js';
import { snapshotText } from '../host/snapshot.js';
import { VERSION } from '../version.js';
import { defineCommand, str } from './args.js';
import { HOST_SOURCE_OPTIONS, hostSource } from './host-options.js';

export const snapshotCommand = defineCommand(
  {
    name: 'snapshot',
    summary: "capture a host's IOMMU groups, reserved regions and PCI devices into one JSON file",
    description:
      'Reads /sys (or --sysfs DIR, or models --platform) and writes a versioned JSON file\n' +
      '(docs/snapshot-format.md) that "iovamap inspect --snapshot FILE" and "check --snapshot FILE" read on\n' +
      'another machine. Send it to us with your bug report. It holds no secrets: PCI IDs, drivers, groups,\n' +
      'reserved regions, kernel release and architecture.',
    options: [
      ...HOST_SOURCE_OPTIONS,
      {
        name: 'out',
        type: 'string',
        short: 'o',
        metavar: 'FILE',
        help: 'file to write ("-" for standard output)',
      },
    ],
    examples: [
      ['iovamap snapshot --out host.json', 'capture this machine'],
      ['iovamap snapshot --sysfs ./exported --out other.json', 'capture a copied or exported sysfs tree'],
      ['iovamap snapshot --platform amd-seattle --out -', 'a modelled platform, printed'],
    ],
  },
  (a) => {
    const out = str(a, 'out');
    if (out === undefined)
      throw new InputError('--out FILE is required', { hint: 'iovamap snapshot --out host.json' });
    const view = resolveHostView(hostSource(a));
    const text = snapshotText(view, `iovamap ${VERSION}`);
    if (out === '-') process.stdout.write(text);
    else {
      try {
        writeFileSync(out, text);
      } catch (e) {
        throw new InputError(`cannot write: ${(e as Error).message}`, { file: out });
      }
      process.stdout.write(
        `wrote ${view.groups.length} IOMMU group${view.groups.length === 1 ? '' : 's'} of ${view.source} to ${out}\n`,
      );
    }
    return 0;
  },
);
