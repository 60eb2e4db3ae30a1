/**
 * Shared test helper: the oracle's `SECTION probe_msi` (vfio_msi_probe) and the lines of it the model
 * reproduces, for the probe run on the device file (test/vfio/pci) and as a scenario (test/scenario).
 *
 * Compared: every CASE line, IRQINFO, REGION, the capability list (CAPLIST), the MSI-X capability
 * (MSIXCAP) and every MSI-X table entry in every phase (MSIX_ENTRY: address, data, vector control, as
 * the host sees it, through the VFIO mmap and through VFIO pread), the programmed address/data per
 * vector (MSI_ADDR), MSICAP, the command register, the eventfd counters and every DELIVERY (vector,
 * delivered, count).
 *
 * Not compared (the model has no counterpart): DOORBELL (parsed from the guest's kernel log), INFO
 * e1000e_regs and the DELIVERY fields cause/ivar/ics_write/wait_ms/late_count/ims_after (QEMU's e1000e
 * registers and timings: the model raises vector N directly), PROCINT (/proc/interrupts: Linux IRQ
 * numbers and chip names), MSIX_READ (the host's sysfs BAR mapping revoked with SIGBUS once vfio-pci
 * claims the BAR).
 */
import { readFileSync } from 'node:fs';
import type { KernelVersion } from '../../src/kernel/profile.js';
import { oraclePath } from './oracle-file.js';

/** The raw lines of the oracle's probe_msi section (until the next SECTION). */
export function oracleProbeMsiSection(scenario: string, kernel: KernelVersion): string[] {
  const lines = readFileSync(oraclePath(scenario, kernel), 'utf8').split('\n');
  const start = lines.indexOf('SECTION probe_msi');
  if (start < 0) return [];
  const end = lines.findIndex((l, i) => i > start && l.startsWith('SECTION '));
  return lines.slice(start, end < 0 ? undefined : end);
}

const KEEP =
  /^(CASE |IRQINFO |REGION |CAPLIST |MSIXCAP |MSIX_ENTRY |MSI_ADDR |MSICAP phase|INFO command_|INFO msixN_delivered|INFO \S+_vectors=)/;

/**
 * What the model does not reproduce in these lines, and why. Each entry masks the same text on both
 * sides, only on the oracle runs it names; test/vfio/pci/oracle-probe.test.ts checks each still masks
 * something (remove it once the model reproduces the lines).
 */
export const PROBE_MSI_KNOWN_DIFFERENCES: readonly {
  readonly what: string;
  readonly why: string;
  applies(scenario: string): boolean;
  mask(l: string): string;
}[] = [
  {
    what: 'x86: address/data of masked MSI-X entries 0-2 that VFIO has not programmed',
    why:
      "the guest's e1000e driver used MSI-X entries 0-2 (rx, tx, other) before the NIC went to vfio-pci; " +
      'on x86 their freed messages stay in the table (remappable handle / IRTE index / shutdown vector 0xef), ' +
      'the model boots the NIC with a clean table. Vector control (masked) is still compared.',
    applies: (scenario) => scenario.startsWith('x86-'),
    mask: (l) =>
      /^MSIX_ENTRY .* src=(host_sysfs_mmap|vfio_mmap) idx=[012] .*ctrl=0x00000001 masked=1/.test(l)
        ? l.replace(/ addr=.*? ctrl=/, ' addr=<stale> ctrl=').replace(/ masked=1 .*$/, ' masked=1')
        : l,
  },
];

/** `DELIVERY phase vec delivered count`: the fields both sides have. */
function delivery(l: string): string {
  const f = new Map(l.split(' ').map((t) => [t.split('=')[0]!, t] as const));
  return ['DELIVERY', f.get('phase'), f.get('vec'), f.get('delivered'), f.get('count')].join(' ');
}

/**
 * The comparable lines of a probe_msi output. `container` false drops the lines of the container and
 * host set-up (group/IOMMU attach, device fd, GET_INFO ranges), for a probe run on a bare device file.
 */
export function comparableProbeMsiLines(
  lines: readonly string[],
  container: boolean,
  scenario: string,
): string[] {
  const masks = PROBE_MSI_KNOWN_DIFFERENCES.filter((d) => d.applies(scenario));
  const out: string[] = [];
  for (const raw of lines) {
    const l = masks.reduce((x, d) => d.mask(x), raw);
    const name = l.startsWith('CASE ') ? l.split(' ')[1]! : '';
    if (name.startsWith('msi_open') || name.startsWith('msix_table_')) continue;
    if (
      !container &&
      /^(msi_group_set_container|msi_set_iommu_type1v2|msi_get_device_fd|get_info_\w+)$/.test(name)
    )
      continue;
    if (name === 'msi_get_device_fd') out.push(l.split(' ').slice(0, 4).join(' '));
    else if (l.startsWith('DELIVERY ')) out.push(delivery(l));
    else if (KEEP.test(l) || (container && l.startsWith('RANGE tag='))) out.push(l);
    else if (l.startsWith('INFO irq_') && l.includes('eventfd_ready')) out.push(l);
  }
  return out;
}
