/**
 * Which devices a bus reset of a device also resets, from a host view (platform model, sysfs or
 * snapshot alike): what VFIO_DEVICE_GET_PCI_HOT_RESET_INFO would list (vfio_pci_for_each_slot_or_bus:
 * every device on the device's bus and everything below the bridges among them). A device on a root
 * bus has no bridge to reset its bus with, and VFIO answers ENODEV; so does a bus that a
 * NO_BUS_RESET quirk forbids to reset (pci_bus_resettable: the bridge, or a device on or below its bus).
 * Whether the reset then succeeds also depends on the hardware (a link that does not come back): not
 * shown here.
 */
import { noBusResetQuirk } from '../pci/quirk-tables.js';
import type { HostDeviceView, HostView } from './view.js';

export interface BusResetScope {
  /** The bridge whose secondary bus is reset. */
  readonly bridge: string;
  /** Every device the reset reaches, in bus order, with its IOMMU group (undefined: none). */
  readonly devices: readonly { readonly bdf: string; readonly group: number | undefined }[];
  /** The device whose NO_BUS_RESET quirk forbids this reset (VFIO answers ENODEV), and the quirk. */
  readonly forbiddenBy?: { readonly bdf: string; readonly quirk: string };
}

/** Looks up bus reset scopes in a view: the device index is built once, each lookup walks one bus. */
export type BusResetLookup = (bdf: string) => BusResetScope | undefined;

export function busResetLookup(view: HostView): BusResetLookup {
  const byBdf = new Map<string, { d: HostDeviceView; group: number | undefined }>();
  for (const g of view.groups) for (const d of g.devices) byBdf.set(d.bdf, { d, group: g.id });
  for (const d of view.ungrouped ?? []) byBdf.set(d.bdf, { d, group: undefined });
  const children = new Map<string, { bdf: string; group: number | undefined }[]>();
  for (const { d, group } of byBdf.values()) {
    if (d.parent === undefined) continue;
    const list = children.get(d.parent) ?? [];
    list.push({ bdf: d.bdf, group });
    children.set(d.parent, list);
  }
  for (const list of children.values()) list.sort((a, b) => (a.bdf < b.bdf ? -1 : 1));
  return (bdf) => {
    const bridge = byBdf.get(bdf)?.d.parent;
    if (bridge === undefined) return undefined;
    const out: { bdf: string; group: number | undefined }[] = [];
    const walk = (parent: string): void => {
      for (const x of children.get(parent) ?? []) {
        out.push(x);
        walk(x.bdf);
      }
    };
    walk(bridge);
    // pci_bus_resettable: the bridge first, then the devices in the order the reset walks them
    let forbiddenBy: BusResetScope['forbiddenBy'];
    for (const b of [bridge, ...out.map((x) => x.bdf)]) {
      const d = byBdf.get(b)?.d;
      const quirk = d === undefined ? undefined : noBusResetQuirk(d.vendor, d.device);
      if (quirk !== undefined) {
        forbiddenBy = { bdf: b, quirk };
        break;
      }
    }
    return { bridge, devices: out, ...(forbiddenBy ? { forbiddenBy } : {}) };
  };
}

/** The bus reset that covers `bdf`, or undefined for a device on a root bus (or one not in the view). */
export function busResetScope(view: HostView, bdf: string): BusResetScope | undefined {
  return busResetLookup(view)(bdf);
}

/**
 * One line per distinct bus reset among a group's devices, in words: which devices it reaches and
 * the groups whose fds VFIO_DEVICE_PCI_HOT_RESET needs, or why there is none.
 */
export function busResetLines(scopeOf: BusResetLookup, devices: readonly HostDeviceView[]): string[] {
  const lines: string[] = [];
  const seen = new Set<string>();
  const onRoot: string[] = [];
  for (const d of devices) {
    const s = scopeOf(d.bdf);
    if (s === undefined) {
      onRoot.push(d.bdf);
      continue;
    }
    if (seen.has(s.bridge)) continue;
    seen.add(s.bridge);
    if (s.forbiddenBy !== undefined) {
      lines.push(
        `none below ${s.bridge}: ${s.forbiddenBy.quirk} marks ${s.forbiddenBy.bdf} as breaking on a bus reset ` +
          '(PCI_DEV_FLAGS_NO_BUS_RESET), so VFIO_DEVICE_PCI_HOT_RESET answers ENODEV',
      );
      continue;
    }
    const groups = [...new Set(s.devices.map((x) => x.group))];
    const noGroup = groups.includes(undefined);
    const ids = groups.filter((x): x is number => x !== undefined).sort((a, b) => a - b);
    lines.push(
      `below ${s.bridge}: resets ${s.devices.map((x) => x.bdf).join(', ')}; ` +
        (noGroup
          ? 'a device without an IOMMU group is among them, so VFIO refuses (EPERM)'
          : `VFIO_DEVICE_PCI_HOT_RESET needs ${ids.length > 1 ? 'fds of groups' : 'an fd of group'} ` +
            `${ids.join(', ')} and all of them bound to vfio-pci`),
    );
  }
  if (onRoot.length > 0)
    lines.push(
      `none for ${onRoot.join(', ')}: on a root bus, no bridge to reset it with (VFIO_DEVICE_PCI_HOT_RESET: ENODEV)`,
    );
  return lines;
}
