/**
 * Plain-words account of a device's MSI path for the tools (inspect, check, the web view): which
 * controller receives its MSIs, where the doorbell is, whether the IOMMU translates it (and so needs a
 * doorbell mapping), and whether the controller isolates devices (what VFIO's safe-interrupts check
 * reads). Derived from the fabric's objects, never from preset names.
 */
import { hex } from '../base/u64.js';
import type { MsiFabric, MsiTrace } from './fabric.js';
import { GicV2m } from './gicv2m.js';
import { GicV3Its } from './gicv3-its.js';
import { HostBridgeMsi } from './host-bridge-msi.js';
import { X86_MSI_BASE, X86Apic } from './x86.js';

export interface MsiPathSummary {
  readonly bdf: string;
  readonly controller: string | undefined;
  readonly kind: string | undefined;
  /** Physical doorbell (or bus address for a host-bridge controller). */
  readonly doorbell: bigint | undefined;
  readonly route: 'translated' | 'bypass' | 'intercepted' | 'none';
  readonly isolated: boolean;
  readonly why: string;
}

export function summarizeMsiPath(fabric: MsiFabric, bdf: string): MsiPathSummary {
  const c = fabric.controllerOf(bdf);
  if (c === undefined) {
    return {
      bdf,
      controller: undefined,
      kind: undefined,
      doorbell: undefined,
      route: 'none',
      isolated: false,
      why: "no MSI controller receives this device's MSIs",
    };
  }
  const base = { bdf, controller: c.id, kind: c.kind, isolated: c.isolatedMsi };
  if (c instanceof GicV3Its) {
    return {
      ...base,
      doorbell: c.translater,
      route: 'translated',
      why:
        `GICv3 ITS ${c.id}: every vector writes GITS_TRANSLATER ${hex(c.translater)}; the IOMMU translates it, so the ` +
        `domain needs a doorbell mapping (dma-iommu maps the page into the SW_MSI window, or a HW MSI window bypasses). ` +
        (c.isolatedMsi
          ? 'The ITS takes the DeviceID from the bus: a device can only raise its own events (isolated).'
          : 'A platform quirk clears the isolation flag.'),
    };
  }
  if (c instanceof GicV2m) {
    return {
      ...base,
      doorbell: c.doorbell,
      route: 'translated',
      why:
        `GICv2m ${c.id}: MSI_SETSPI_NS ${hex(c.doorbell)} raises whatever SPI is written (SPI ${c.spiBase}..${c.spiBase + c.spiCount - 1}); ` +
        "any device that reaches the doorbell can raise another device's interrupt: not isolated, VFIO needs allow_unsafe_interrupts=1.",
    };
  }
  if (c instanceof HostBridgeMsi) {
    return {
      ...base,
      doorbell: c.doorbell,
      route: 'intercepted',
      why: `MSI controller in the host bridge (${c.id}): writes to ${hex(c.doorbell)} are caught before the IOMMU; the data selects the vector, the writer is not checked: not isolated.`,
    };
  }
  if (c instanceof X86Apic) {
    const why =
      c.mode === 'intel-ir'
        ? 'Intel interrupt remapping: remappable-format messages index IRTEs that check the requester ID (isolated).'
        : c.mode === 'amd-ir'
          ? "AMD interrupt remapping: the data indexes the sending device's own remapping table (isolated)."
          : 'no interrupt remapping: the message names a CPU and vector directly, any device can send any vector (not isolated).';
    return {
      ...base,
      doorbell: X86_MSI_BASE,
      route: 'bypass',
      why: `x86 APIC window ${hex(X86_MSI_BASE)}: never translated by the IOMMU. ${why}`,
    };
  }
  return { ...base, doorbell: undefined, route: 'none', why: `${c.label} ${c.id}` };
}

/** One line per hop of an MSI write, for CLI and web traces. */
export function formatMsiTrace(t: MsiTrace): string[] {
  const lines = [`${t.bdf} writes ${hex(t.data)} to ${hex(t.addr)}`];
  const i = t.iommu;
  if (t.outcome === 'no-write') return [`${t.bdf}: no write (${t.why})`];
  if (i.kind === 'intercepted') lines.push(`  caught by ${i.by} before the IOMMU`);
  else if (i.kind === 'translated')
    lines.push(`  IOMMU translates ${hex(t.addr)} -> ${hex(i.paddr)} (prot ${hex(i.prot)})`);
  else if (i.kind === 'bypass') lines.push(`  IOMMU bypass: ${i.why}`);
  else lines.push(`  IOMMU fault: ${i.why}`);
  if (t.outcome !== 'fault')
    lines.push(`  ${t.outcome}: ${t.why}${t.virq !== undefined ? ` (irq ${t.virq})` : ''}`);
  return lines;
}
