/**
 * PCI names the way lspci prints them: vendor and device names from a pci.ids database (the system's
 * /usr/share/misc/pci.ids or /usr/share/hwdata/pci.ids, read by the Node layer), class names from the
 * same file or from a small built-in table of the common classes, and lspci's fallbacks
 * (`Device 1234:1111`, `Red Hat, Inc. Device 1057`, `Class 0d80`) when a name is unknown.
 */

export interface PciIds {
  vendorName(vendor: number): string | undefined;
  deviceName(vendor: number, device: number): string | undefined;
  /** Sub-class name (e.g. `Ethernet controller` for 0x0200xx), else the base class name. */
  className(classCode: number): string | undefined;
}

/** Class names as pci.ids spells them, for when no pci.ids file is present. */
const BUILTIN_CLASSES: Readonly<Record<number, string>> = {
  0x0000: 'Non-VGA unclassified device',
  0x0100: 'SCSI storage controller',
  0x0101: 'IDE interface',
  0x0104: 'RAID bus controller',
  0x0106: 'SATA controller',
  0x0107: 'Serial Attached SCSI controller',
  0x0108: 'Non-Volatile memory controller',
  0x0200: 'Ethernet controller',
  0x0207: 'Infiniband controller',
  0x0280: 'Network controller',
  0x0300: 'VGA compatible controller',
  0x0302: '3D controller',
  0x0380: 'Display controller',
  0x0403: 'Audio device',
  0x0600: 'Host bridge',
  0x0601: 'ISA bridge',
  0x0604: 'PCI bridge',
  0x0680: 'Bridge',
  0x0806: 'IOMMU',
  0x0880: 'System peripheral',
  0x0b40: 'Co-processor',
  0x0c03: 'USB controller',
  0x0c05: 'SMBus',
  0x0c80: 'Serial bus controller',
  0x1080: 'Encryption controller',
  0x1200: 'Processing accelerators',
  0x1300: 'Non-Essential Instrumentation',
  0xff00: 'Unassigned class',
  0x00ff: 'Unclassified device',
};

const BUILTIN_BASE: Readonly<Record<number, string>> = {
  0x00: 'Unclassified device',
  0x01: 'Mass storage controller',
  0x02: 'Network controller',
  0x03: 'Display controller',
  0x04: 'Multimedia controller',
  0x05: 'Memory controller',
  0x06: 'Bridge',
  0x07: 'Communication controller',
  0x08: 'Generic system peripheral',
  0x0c: 'Serial bus controller',
  0x12: 'Processing accelerators',
  0xff: 'Unassigned class',
};

/** Names known without any pci.ids file: class names only. */
export const BUILTIN_PCI_IDS: PciIds = {
  vendorName: () => undefined,
  deviceName: () => undefined,
  className: (c) => BUILTIN_CLASSES[c >> 8] ?? BUILTIN_BASE[c >> 16],
};

/** Parses the pci.ids format (vendor lines, tab-indented devices, `C` class sections). */
export function parsePciIds(text: string): PciIds {
  const vendors = new Map<number, string>();
  const devices = new Map<number, string>();
  const classes = new Map<number, string>();
  let vendor = -1;
  let cls = -1;
  for (const raw of text.split('\n')) {
    if (raw === '' || raw.startsWith('#')) continue;
    if (raw.startsWith('C ')) {
      const m = /^C ([0-9a-fA-F]{2})\s+(.*)$/.exec(raw);
      vendor = -1;
      cls = m ? parseInt(m[1]!, 16) : -1;
      if (m) classes.set(cls << 8, m[2]!.trim());
      continue;
    }
    if (!raw.startsWith('\t')) {
      const m = /^([0-9a-fA-F]{4})\s+(.*)$/.exec(raw);
      cls = -1;
      vendor = m ? parseInt(m[1]!, 16) : -1;
      if (m) vendors.set(vendor, m[2]!.trim());
      continue;
    }
    if (raw.startsWith('\t\t')) continue; // subsystems and prog-ifs
    const m = /^\t([0-9a-fA-F]{2,4})\s+(.*)$/.exec(raw);
    if (!m) continue;
    if (vendor >= 0 && m[1]!.length === 4) devices.set(vendor * 0x10000 + parseInt(m[1]!, 16), m[2]!.trim());
    else if (cls >= 0 && m[1]!.length === 2) classes.set((cls << 8) | parseInt(m[1]!, 16), m[2]!.trim());
  }
  return {
    vendorName: (v) => vendors.get(v),
    deviceName: (v, d) => devices.get(v * 0x10000 + d),
    className: (c) => classes.get(c >> 8) ?? classes.get((c >> 16) << 8) ?? BUILTIN_PCI_IDS.className(c),
  };
}

const hex4 = (n: number) => n.toString(16).padStart(4, '0');

/** lspci's vendor + device text: `Intel Corporation 82574L Gigabit Network Connection`. */
export function lspciDeviceName(ids: PciIds, vendor: number, device: number): string {
  const v = ids.vendorName(vendor);
  const d = ids.deviceName(vendor, device);
  if (v !== undefined && d !== undefined) return `${v} ${d}`;
  if (v !== undefined) return `${v} Device ${hex4(device)}`;
  return `Device ${hex4(vendor)}:${hex4(device)}`;
}

/** lspci's class text: `Ethernet controller`, or `Class 0d80` when unknown. */
export function lspciClassName(ids: PciIds, classCode: number): string {
  return ids.className(classCode) ?? `Class ${hex4(classCode >> 8)}`;
}
