/**
 * x86 MSI: the local APIC window 0xfee00000-0xfeefffff. DMA writes there are interrupt requests and are
 * never translated by the IOMMU (the window is an `msi` reserved region). Three message formats:
 *
 * - compatibility (no interrupt remapping; virtio-iommu on x86): address carries the destination APIC
 *   ID (bits 19:12), data the CPU vector. Vectors come from the per-CPU vector matrix at activation
 *   (arch/x86/kernel/apic/vector.c, kernel/irq/matrix.c). Any device can target any vector: unsafe.
 * - Intel remappable (drivers/iommu/intel/irq_remapping.c): address = 0xfee00000 | handle[14:0] << 5 |
 *   format (bit 4) | SHV (bit 3) | handle[15] << 2, data = sub-handle. The IRTE carries the vector and
 *   the requester ID allowed to use it (source-id validation); compatibility-format writes are blocked.
 * - AMD (drivers/iommu/amd/iommu.c): compatibility address 0xfee00000, data = IRTE index in the
 *   requesting device's own remapping table (looked up by DeviceID), so a device can only reach its own.
 */
import type { Device } from '../iommu/api.js';
import type { InterruptControllerDescription } from '../platform/types.js';
import type { KernelProfile } from '../kernel/profile.js';
import { ERRNO } from '../base/errno.js';
import { msiMsg } from '../dma-iommu/msi.js';
import { RegionBitmap, countOrder } from './bitmap.js';
import type { IrqDesc, IrqTable } from './irq-core.js';
import type { AllocResult, Delivery, HwVector, InboundMsi, MsiController, MsiMsg } from './types.js';

export const X86_MSI_BASE = 0xfee00000n;
const X86_MSI_END = 0xfeefffffn;
/** FIRST_EXTERNAL_VECTOR .. FIRST_SYSTEM_VECTOR-1: what the matrix hands out. */
const FIRST_EXTERNAL_VECTOR = 0x20;
const FIRST_SYSTEM_VECTOR = 0xec;
/** MANAGED_IRQ_SHUTDOWN_VECTOR: what a reserved (not yet started) vector points at. */
const SHUTDOWN_VECTOR = 0xef;
/** INTR_REMAP_TABLE_ENTRIES (Intel) */
const INTEL_IRTE_ENTRIES = 65536;
/** Entries of an AMD per-device remapping table the model allocates from. */
const AMD_IRT_ENTRIES = 512;

export type X86IrMode = 'intel-ir' | 'amd-ir' | 'none';

export interface X86Options {
  /** Online CPUs (APIC ID = CPU number). */
  readonly cpus?: number;
  /**
   * Vectors each CPU already uses at boot, CPU by CPU. The default is the q35/2-vCPU state the oracle
   * shows (x86-virtio-iommu): both CPUs use 0x20-0x22 and CPU0 holds one more (the legacy timer's
   * 0x30), so the matrix (most available CPU first, lowest number on a tie, lowest free vector) gives
   * CPU1/0x23, CPU0/0x23, CPU1/0x24, CPU0/0x24, CPU1/0x25 to five MSI-X vectors.
   */
  readonly bootVectors?: readonly (readonly number[])[];
  /** Intel: IRTEs taken at boot by the IOAPIC's 16 legacy interrupts (handles 0..15). */
  readonly intelIrtesAtBoot?: number;
}

const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);
const DEFAULT_BOOT: readonly (readonly number[])[] = [[...range(0x20, 0x22), 0x30], range(0x20, 0x22)];

/** kernel/irq/matrix.c, reduced: per-CPU vector bitmaps; allocation on the CPU with most free vectors. */
export class VectorMatrix {
  private readonly used: Set<number>[];
  constructor(cpus: number, boot: readonly (readonly number[])[]) {
    this.used = Array.from({ length: cpus }, (_, c) => new Set(boot[c] ?? []));
  }
  get cpus(): number {
    return this.used.length;
  }
  private available(cpu: number): number {
    let n = 0;
    for (let v = FIRST_EXTERNAL_VECTOR; v < FIRST_SYSTEM_VECTOR; v++) if (!this.used[cpu]!.has(v)) n++;
    return n;
  }
  /** irq_matrix_alloc: best CPU (most available, lowest number on a tie), lowest free vector. */
  alloc(): { cpu: number; vector: number } | undefined {
    let best = -1;
    let bestAvail = 0;
    for (let c = 0; c < this.used.length; c++) {
      const a = this.available(c);
      if (a > bestAvail) {
        best = c;
        bestAvail = a;
      }
    }
    if (best < 0) return undefined;
    for (let v = FIRST_EXTERNAL_VECTOR; v < FIRST_SYSTEM_VECTOR; v++) {
      if (!this.used[best]!.has(v)) {
        this.used[best]!.add(v);
        return { cpu: best, vector: v };
      }
    }
    return undefined;
  }
  free(cpu: number, vector: number): void {
    this.used[cpu]?.delete(vector);
  }
}

interface X86VectorState {
  /** Assigned CPU vector once started; undefined while only reserved. */
  cpu: number | undefined;
  vector: number | undefined;
  /** Intel: IRTE handle and sub-handle; AMD: IRTE index in the device's table. */
  readonly handle: number;
  readonly sub: number;
  readonly requesterId: number;
  /** First vector of an IRTE block (frees the block). */
  readonly first: boolean;
  readonly blockSize: number;
}

interface Irte {
  readonly vector: number;
  readonly cpu: number;
  readonly sid: number;
}

export class X86Apic implements MsiController {
  readonly kind = 'x86-apic' as const;
  readonly id: string;
  readonly label: string;
  readonly mode: X86IrMode;
  readonly isolatedMsi: boolean;
  /** Multi-MSI needs contiguous vectors: only with interrupt remapping (one IRTE block). */
  readonly multiMsi: boolean;
  readonly translatedByIommu = false;
  readonly interceptsBeforeIommu = false;
  readonly matrix: VectorMatrix;
  private readonly byCpuVector = new Map<string, IrqDesc>();
  private readonly intelTable = new RegionBitmap(INTEL_IRTE_ENTRIES);
  private readonly intelIrte = new Map<number, Irte>();
  private readonly amdTables = new Map<number, { bm: RegionBitmap; irte: Map<number, Irte> }>();

  constructor(
    desc: InterruptControllerDescription,
    mode: X86IrMode,
    private readonly irqs: IrqTable,
    opts: X86Options = {},
  ) {
    this.id = desc.id;
    this.mode = mode;
    this.label = mode === 'none' ? 'APIC' : 'IR';
    this.isolatedMsi = mode !== 'none';
    this.multiMsi = mode !== 'none';
    this.matrix = new VectorMatrix(opts.cpus ?? 2, opts.bootVectors ?? DEFAULT_BOOT);
    if (mode === 'intel-ir') this.intelTable.reserve(0, opts.intelIrtesAtBoot ?? 16);
  }

  /** x86 per-device MSI domains support dynamic MSI-X allocation from 6.5 on. */
  dynamicMsix(profile: KernelProfile): boolean {
    return profile.dynamicMsixOnX86;
  }

  claims(addr: bigint): boolean {
    return addr >= X86_MSI_BASE && addr <= X86_MSI_END;
  }

  private amdTable(devid: number): { bm: RegionBitmap; irte: Map<number, Irte> } {
    let t = this.amdTables.get(devid);
    if (t === undefined) {
      t = { bm: new RegionBitmap(AMD_IRT_ENTRIES), irte: new Map() };
      this.amdTables.set(devid, t);
    }
    return t;
  }

  /**
   * x86_vector_alloc_irqs (reservation only) plus, with remapping, intel_irq_remapping_alloc (alloc_irte:
   * an aligned block of IRTE handles) or irq_remapping_alloc (alloc_irq_index in the device's table).
   */
  alloc(dev: Device, count: number, msix: boolean, _prepare: unknown, chip: string): AllocResult {
    const out: HwVector[] = [];
    const blocks = msix ? count : 1;
    const per = msix ? 1 : count;
    for (let b = 0; b < blocks; b++) {
      let handle = 0;
      if (this.mode === 'intel-ir') {
        handle = this.intelTable.findFreeRegion(countOrder(per));
      } else if (this.mode === 'amd-ir') {
        handle = this.amdTable(dev.requesterId).bm.findFreeRun(per, !msix && per > 1);
      }
      if (handle < 0) {
        this.free(dev, out);
        return { ok: false, errno: -ERRNO.ENOSPC };
      }
      this.irqs.alloc(per, handle, chip).forEach((irq, i) => {
        const state: X86VectorState = {
          cpu: undefined,
          vector: undefined,
          handle,
          sub: i,
          requesterId: dev.requesterId,
          first: i === 0,
          blockSize: this.mode === 'intel-ir' ? 1 << countOrder(per) : per,
        };
        out.push({ hwirq: this.mode === 'none' ? 0 : handle + i, doorbell: X86_MSI_BASE, irq, state });
      });
    }
    return { ok: true, vectors: out };
  }

  free(dev: Device, vectors: readonly HwVector[]): void {
    for (const v of vectors) {
      this.deactivate(v);
      const st = v.state as X86VectorState;
      this.irqs.free(v.irq);
      if (!st.first) continue;
      if (this.mode === 'intel-ir') this.intelTable.release(st.handle, st.blockSize);
      else if (this.mode === 'amd-ir')
        this.amdTables.get(dev.requesterId)?.bm.release(st.handle, st.blockSize);
    }
  }

  /** x86_vector_activate (+ the IR activate that writes the IRTE): a real CPU vector for a started irq. */
  activate(v: HwVector): number {
    const st = v.state as X86VectorState;
    if (st.vector !== undefined) return 0;
    const a = this.matrix.alloc();
    if (a === undefined) return -ERRNO.ENOSPC;
    st.cpu = a.cpu;
    st.vector = a.vector;
    v.irq.cpu = a.cpu;
    this.byCpuVector.set(`${a.cpu}:${a.vector}`, v.irq);
    const irte: Irte = { vector: a.vector, cpu: a.cpu, sid: st.requesterId };
    if (this.mode === 'intel-ir') this.intelIrte.set(st.handle + st.sub, irte);
    else if (this.mode === 'amd-ir') this.amdTable(st.requesterId).irte.set(st.handle + st.sub, irte);
    return 0;
  }

  deactivate(v: HwVector): void {
    const st = v.state as X86VectorState;
    if (st.vector === undefined || st.cpu === undefined) return;
    this.matrix.free(st.cpu, st.vector);
    this.byCpuVector.delete(`${st.cpu}:${st.vector}`);
    if (this.mode === 'intel-ir') this.intelIrte.delete(st.handle + st.sub);
    else if (this.mode === 'amd-ir') this.amdTables.get(st.requesterId)?.irte.delete(st.handle + st.sub);
    st.cpu = undefined;
    st.vector = undefined;
    v.irq.cpu = undefined;
  }

  compose(v: HwVector): MsiMsg {
    const st = v.state as X86VectorState;
    if (this.mode === 'intel-ir') {
      // fill_msi_msg: remappable format, SHV set, data = sub-handle.
      const h = st.handle;
      const lo = X86_MSI_BASE | (BigInt(h & 0x7fff) << 5n) | 0x10n | 0x08n | (BigInt((h >> 15) & 1) << 2n);
      return msiMsg(lo, st.sub);
    }
    if (this.mode === 'amd-ir') return msiMsg(X86_MSI_BASE, st.handle + st.sub);
    // Compatibility format: physical destination mode, fixed delivery, edge.
    const cpu = st.cpu ?? 0;
    const vector = st.vector ?? SHUTDOWN_VECTOR;
    return msiMsg(X86_MSI_BASE | (BigInt(cpu & 0xff) << 12n), vector);
  }

  private deliverVector(cpu: number, vector: number, how: string): Delivery {
    const irq = this.byCpuVector.get(`${cpu}:${vector}`);
    if (irq === undefined)
      return {
        kind: 'dropped',
        why: `${this.id}: CPU ${cpu} vector 0x${vector.toString(16)} has no irq (spurious)`,
      };
    return { kind: 'delivered', irq, how };
  }

  receive(w: InboundMsi): Delivery {
    const a = w.addr;
    const remappable = (a & 0x10n) !== 0n;
    if (this.mode === 'intel-ir') {
      if (!remappable)
        return {
          kind: 'dropped',
          why: `${this.id}: compatibility-format interrupt blocked (interrupt remapping on, CFI off)`,
        };
      let handle = Number((a >> 5n) & 0x7fffn) | (Number((a >> 2n) & 1n) << 15);
      if ((a & 0x08n) !== 0n) handle += w.data & 0xffff;
      const irte = this.intelIrte.get(handle);
      if (irte === undefined)
        return { kind: 'dropped', why: `${this.id}: IRTE ${handle} not present (remapping fault)` };
      if (irte.sid !== w.requesterId) {
        return {
          kind: 'dropped',
          why: `${this.id}: IRTE ${handle} source-id check failed (requester ${hex(w.requesterId)}, IRTE allows ${hex(irte.sid)})`,
        };
      }
      return this.deliverVector(
        irte.cpu,
        irte.vector,
        `Intel IR: IRTE ${handle} -> CPU ${irte.cpu} vector 0x${irte.vector.toString(16)}`,
      );
    }
    if (this.mode === 'amd-ir') {
      const t = this.amdTables.get(w.requesterId);
      const index = w.data & 0x7ff;
      const irte = t?.irte.get(index);
      if (irte === undefined) {
        return {
          kind: 'dropped',
          why: `${this.id}: DeviceID ${hex(w.requesterId)} IRTE ${index} not valid (IO_PAGE_FAULT)`,
        };
      }
      return this.deliverVector(
        irte.cpu,
        irte.vector,
        `AMD IR: DeviceID ${hex(w.requesterId)} IRTE ${index} -> CPU ${irte.cpu} vector 0x${irte.vector.toString(16)}`,
      );
    }
    const dest = Number((a >> 12n) & 0xffn);
    const vector = w.data & 0xff;
    if (dest >= this.matrix.cpus) return { kind: 'dropped', why: `${this.id}: no CPU with APIC ID ${dest}` };
    return this.deliverVector(
      dest,
      vector,
      `compat MSI: APIC ${dest} vector 0x${vector.toString(16)} (no remapping: any device can send it)`,
    );
  }
}

function hex(n: number): string {
  return '0x' + n.toString(16);
}
