/**
 * Defaults a VMM option takes from the host: a guest started with `-cpu host` on an AMD host has an AMD
 * vCPU, which decides QEMU's 1 TiB relocation. Derived from the host's data, and said so in a note.
 */
import type { HostView } from '../host/view.js';
import { AMD_HT_END, AMD_HT_START } from './qemu.js';
import type { VmmModel } from './types.js';

export interface HostDefaults {
  readonly options: Record<string, string>;
  readonly notes: string[];
}

/** True when some group reserves the AMD HyperTransport window (only AMD-Vi does). */
export function hostLooksAmd(host: HostView): boolean {
  return host.groups.some((g) =>
    g.regions.some((r) => r.typeString === 'reserved' && r.start === AMD_HT_START && r.end === AMD_HT_END),
  );
}

export function hostDefaults(
  model: VmmModel,
  host: HostView,
  given: Readonly<Record<string, string>>,
): HostDefaults {
  const options: Record<string, string> = {};
  const notes: string[] = [];
  if (
    model.options.some((o) => o.name === 'cpu-vendor') &&
    given['cpu-vendor'] === undefined &&
    hostLooksAmd(host)
  ) {
    options['cpu-vendor'] = 'amd';
    notes.push(
      'assuming an AMD vCPU (-cpu host) because the host reserves the AMD HyperTransport window; ' +
        'pass --opt cpu-vendor=intel for an Intel CPU model',
    );
  }
  if (host.arch !== undefined && host.arch !== model.arch) {
    notes.push(
      `${model.arch === 'aarch64' ? 'an' : 'a'} ${model.arch} guest on this ${host.arch} host runs emulated (TCG), yet VFIO still maps its RAM 1:1`,
    );
  }
  return { options, notes };
}
