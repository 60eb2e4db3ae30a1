/**
 * PCI addresses: `ssss:bb:dd.f` text, devfn, requester IDs (include/linux/pci.h PCI_DEVFN, PCI_SLOT,
 * PCI_FUNC, PCI_DEVID). Parsing is lenient on case and accepts the short `bb:dd.f` form (segment 0).
 */

export interface Bdf {
  readonly segment: number;
  readonly bus: number;
  readonly device: number;
  readonly fn: number;
}

/** PCI_DEVFN(slot, func) */
export function devfn(device: number, fn: number): number {
  return ((device & 0x1f) << 3) | (fn & 0x07);
}

/** PCI_SLOT(devfn) */
export function devfnSlot(df: number): number {
  return (df >> 3) & 0x1f;
}

/** PCI_FUNC(devfn) */
export function devfnFunc(df: number): number {
  return df & 0x07;
}

/** PCI_DEVID(bus, devfn): the 16-bit requester ID. */
export function requesterId(bus: number, df: number): number {
  return ((bus & 0xff) << 8) | (df & 0xff);
}

/** Parses `ssss:bb:dd.f` or `bb:dd.f`; undefined when malformed or out of range. */
export function parseBdf(text: string): Bdf | undefined {
  const m = /^(?:([0-9a-fA-F]{1,4}):)?([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\.([0-7])$/.exec(text.trim());
  if (!m) return undefined;
  const segment = m[1] === undefined ? 0 : parseInt(m[1], 16);
  const bus = parseInt(m[2]!, 16);
  const device = parseInt(m[3]!, 16);
  const fn = parseInt(m[4]!, 10);
  if (device > 0x1f) return undefined;
  return { segment, bus, device, fn };
}

const hx = (v: number, w: number): string => v.toString(16).padStart(w, '0');

/** `ssss:bb:dd.f`, lower-case, as sysfs names PCI devices (pci_name). */
export function formatBdf(b: Bdf): string {
  return `${hx(b.segment, 4)}:${hx(b.bus, 2)}:${hx(b.device, 2)}.${b.fn}`;
}

/** Canonical `ssss:bb:dd.f` for any accepted spelling; undefined when malformed. */
export function normalizeBdf(text: string): string | undefined {
  const b = parseBdf(text);
  return b === undefined ? undefined : formatBdf(b);
}

export function bdfDevfn(b: Bdf): number {
  return devfn(b.device, b.fn);
}

export function bdfRequesterId(b: Bdf): number {
  return requesterId(b.bus, bdfDevfn(b));
}

/** Sort key: segment, bus, devfn (the order in which the PCI core enumerates a bus). */
export function compareBdf(a: Bdf, b: Bdf): number {
  return a.segment - b.segment || a.bus - b.bus || bdfDevfn(a) - bdfDevfn(b);
}
