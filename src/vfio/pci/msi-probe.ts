/**
 * The oracle's MSI/MSI-X probe sequence (shared/oracle/vfio_msi_probe.c, reimplemented against the
 * model): the same ioctls in the same order, printing the same line formats (CASE, IRQINFO, REGION,
 * MSI_ADDR, MSICAP, DELIVERY, INFO ... eventfd_ready), so its CASE lines can be compared with the
 * oracle per machine and kernel version. Interrupts are fired by the device model (vector N), not
 * through e1000e cause registers.
 */
import { errnoName } from '../../base/errno.js';
import type { MsiFabric } from '../../irq/fabric.js';
import {
  VFIO_DEVICE_GET_INFO,
  VFIO_DEVICE_GET_IRQ_INFO,
  VFIO_DEVICE_GET_REGION_INFO,
  VFIO_DEVICE_SET_IRQS,
  VFIO_IRQ_INFO_AUTOMASKED,
  VFIO_IRQ_INFO_EVENTFD,
  VFIO_IRQ_INFO_MASKABLE,
  VFIO_IRQ_INFO_NORESIZE,
  VFIO_IRQ_SET_ACTION_MASK,
  VFIO_IRQ_SET_ACTION_TRIGGER,
  VFIO_IRQ_SET_ACTION_UNMASK,
  VFIO_IRQ_SET_DATA_BOOL,
  VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_IRQ_SET_DATA_NONE,
  VFIO_IRQ_SET_SIZE,
  VFIO_PCI_CONFIG_REGION_INDEX,
  VFIO_PCI_ERR_IRQ_INDEX,
  VFIO_PCI_MSIX_IRQ_INDEX,
  VFIO_PCI_MSI_IRQ_INDEX,
  VFIO_PCI_REQ_IRQ_INDEX,
  VFIO_REGION_INFO_CAP_MSIX_MAPPABLE,
  VFIO_REGION_INFO_FLAG_CAPS,
  decodeDeviceInfo,
  decodeIrqInfo,
  decodeRegionInfo,
  encodeDeviceInfo,
  encodeIrqSet,
  encodeIrqInfo,
  encodeRegionInfo,
  irqIndexName,
  vfioPciIndexToOffset,
  walkCaps,
} from '../../uapi/vfio-device.js';
import type { FdTable } from './eventfd.js';
import type { VfioDeviceFile } from './vfio-pci.js';
import { setPciCommandBits } from '../typed.js';

const EVT = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
const NONE_TRIG = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;
const BOOL_TRIG = VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER;
const MSIX = VFIO_PCI_MSIX_IRQ_INDEX;
const MSI = VFIO_PCI_MSI_IRQ_INDEX;

/** The container side the probe also touches (VFIO_IOMMU_MAP_DMA/UNMAP_DMA), when available. */
export interface ProbeContainer {
  mapDma(iova: bigint, size: bigint): number;
  unmapDma(iova: bigint, size: bigint): number;
  /** VFIO_IOMMU_GET_INFO with argsz negotiation: `CASE get_info_<tag> ...` and `RANGE tag=<tag> ...` lines. */
  infoLines?(tag: string): string[];
}

export interface MsiProbeOptions {
  readonly file: VfioDeviceFile;
  readonly fabric: MsiFabric;
  readonly fds: FdTable;
  readonly container?: ProbeContainer;
}

const hex = (v: number | bigint): string => '0x' + v.toString(16);
const hex16 = (v: bigint): string => '0x' + v.toString(16).padStart(16, '0');
const hexN = (v: number, n: number): string => '0x' + (v >>> 0).toString(16).padStart(n, '0');

/** The probe's address decoding suffix (page, x86 window format, ARM SW-MSI window). */
export function decodeMsiAddr(a: bigint): string {
  let s = ` page=${hex(a & ~0xfffn)} page_off=${hex(a & 0xfffn)}`;
  if (a >> 20n === 0xfeen) {
    if ((a & 0x10n) !== 0n) {
      const handle = Number((a >> 5n) & 0x7fffn) | (Number((a >> 2n) & 1n) << 15);
      s += ` x86_window=1 x86_fmt=remappable handle=${handle} shv=${(a & 8n) !== 0n ? 1 : 0}`;
    } else {
      s += ` x86_window=1 x86_fmt=compat dest_id=${Number((a >> 12n) & 0xffn)} rh=${(a & 8n) !== 0n ? 1 : 0} dm=${(a & 4n) !== 0n ? 1 : 0}`;
    }
  }
  if (a >= 0x8000000n && a <= 0x80fffffn) s += ' in_arm_sw_msi_window=1';
  return s;
}

/** ` ctrl=0x8004 enable=1 fmask=0`: an MSI-X Message Control word. */
function msixCtrlText(ctrl: number): string {
  return ` ctrl=${hexN(ctrl, 4)} enable=${(ctrl >> 15) & 1} fmask=${(ctrl >> 14) & 1}`;
}

/** One MSI-X table entry as the probe prints it (the address decoded unless read through pread). */
function msixEntryLine(
  phase: string,
  src: string,
  idx: number,
  e: { readonly addr: bigint; readonly data: number; readonly ctrl: number },
): string {
  return (
    `MSIX_ENTRY phase=${phase} src=${src} idx=${idx} addr=${hex16(e.addr)} data=${hexN(e.data, 8)} ctrl=${hexN(e.ctrl, 8)} masked=${e.ctrl & 1}` +
    (src === 'vfio_pread' ? '' : decodeMsiAddr(e.addr))
  );
}

/** ioctl result as the probe prints it: `rc=-1 errno=EINVAL` or `rc=<n> errno=0`. */
function rcText(ret: number): string {
  return ret < 0 ? `rc=-1 errno=${errnoName(ret)}` : `rc=${ret} errno=0`;
}

/** Runs the probe; returns its output lines. */
export function runMsiProbe(o: MsiProbeOptions): string[] {
  const out: string[] = [];
  const { file, fabric, fds } = o;
  const pci = fabric.pci(file.bdf);
  const efd: number[] = Array.from({ length: 64 }, () => fds.eventfd());
  const drain = (fd: number): bigint => fds.eventFd(fd)?.read() ?? 0n;
  out.push(`INFO msi_probe_start bdf=${file.bdf} sizeof_irq_set=20 sizeof_irq_info=16`);

  const di = encodeDeviceInfo();
  const r0 = file.ioctl(VFIO_DEVICE_GET_INFO, di);
  const info = decodeDeviceInfo(di);
  out.push(
    `CASE msi_device_get_info ${rcText(r0)} flags=${hex(info.flags)} num_regions=${info.numRegions} num_irqs=${info.numIrqs}`,
  );

  // 1. regions and IRQ info
  for (let i = 0; i < info.numRegions && i < 16; i++) {
    let argsz = 32;
    let buf = encodeRegionInfo(i, argsz);
    let ret = 0;
    for (let round = 0; round < 3; round++) {
      buf = encodeRegionInfo(i, argsz, argsz);
      ret = file.ioctl(VFIO_DEVICE_GET_REGION_INFO, buf);
      const ri = decodeRegionInfo(buf);
      if (ret !== 0 || ri.argsz <= argsz) break;
      argsz = ri.argsz;
    }
    const ri = ret === 0 ? decodeRegionInfo(buf) : { flags: 0, size: 0n, offset: 0n, capOffset: 0 };
    const capOff = (ri.flags & VFIO_REGION_INFO_FLAG_CAPS) !== 0 ? ri.capOffset : 0;
    let line = `REGION index=${i} ${rcText(ret)} flags=${hex(ri.flags)} size=${hex(ri.size)} offset=${hex(ri.offset)} cap_offset=${capOff}`;
    if (ret === 0 && capOff !== 0) {
      const names = walkCaps(buf, capOff).map((h) =>
        h.id === VFIO_REGION_INFO_CAP_MSIX_MAPPABLE ? 'MSIX_MAPPABLE' : `id${h.id}`,
      );
      line += ` caps=${names.join(',')}`;
    }
    out.push(line);
  }
  const irqcount: number[] = [];
  for (let i = 0; i < info.numIrqs + 1 && i < 8; i++) {
    const b = encodeIrqInfo(i);
    const ret = file.ioctl(VFIO_DEVICE_GET_IRQ_INFO, b);
    const ii = decodeIrqInfo(b);
    const f = ret === 0 ? ii.flags : 0;
    const names =
      (f & VFIO_IRQ_INFO_EVENTFD ? 'EVENTFD,' : '') +
      (f & VFIO_IRQ_INFO_MASKABLE ? 'MASKABLE,' : '') +
      (f & VFIO_IRQ_INFO_AUTOMASKED ? 'AUTOMASKED,' : '') +
      (f & VFIO_IRQ_INFO_NORESIZE ? 'NORESIZE,' : '');
    out.push(
      `IRQINFO index=${i} name=${i < 5 ? irqIndexName(i) : 'beyond'} ${rcText(ret)} flags=${hex(f)} flag_names=${names} count=${ret === 0 ? ii.count : 0}`,
    );
    irqcount[i] = ret === 0 ? ii.count : 0;
  }
  const nx = Math.min(irqcount[MSIX] ?? 0, 64);
  const nm = irqcount[MSI] ?? 0;
  const model = pci?.model;
  const msixOff = model?.layout.caps.msix;
  if (model !== undefined) {
    // the host view of config space (sysfs `config`): the capability list, then the MSI-X capability
    const cfg = new DataView(model.config.buffer, model.config.byteOffset);
    for (let p = cfg.getUint8(0x34) & ~3, n = 0; p !== 0 && n < 48; p = cfg.getUint8(p + 1) & ~3, n++)
      out.push(`CAPLIST src=host_sysfs id=${hexN(cfg.getUint8(p), 2)} off=${hexN(p, 2)}`);
    if (msixOff !== undefined) {
      const ctrl = cfg.getUint16(msixOff + 2, true);
      const table = cfg.getUint32(msixOff + 4, true);
      const pba = cfg.getUint32(msixOff + 8, true);
      out.push(
        `MSIXCAP src=host_sysfs off=${hexN(msixOff, 2)}${msixCtrlText(ctrl)} table_size=${(ctrl & 0x7ff) + 1} table_bir=${table & 7} table_off=${hex(table & ~7)} pba_bir=${pba & 7} pba_off=${hex(pba & ~7)}`,
      );
    }
  }
  if (o.container?.infoLines) out.push(...o.container.infoLines('before_msi'));

  // Bus master + memory through the VFIO config region.
  const cfgOff = vfioPciIndexToOffset(VFIO_PCI_CONFIG_REGION_INDEX);
  const cmd = setPciCommandBits(file, 0x6);
  const host = pci?.model.command ?? 0;
  out.push(
    `INFO command_vfio_before=${hexN(cmd.before, 4)} written=${hexN(cmd.written, 4)} write_rc=${cmd.rc} vfio_after=${hexN(cmd.after, 4)} host_after=${hexN(host, 4)}`,
  );

  const setIrqs = (
    name: string,
    flags: number,
    index: number,
    start: number,
    count: number,
    data: number[],
    kind: 'fd' | 'byte' | 'none',
    argsz = -1,
  ): number => {
    const dlen = kind === 'fd' ? data.length * 4 : kind === 'byte' ? data.length : 0;
    const sz = argsz >= 0 ? argsz : VFIO_IRQ_SET_SIZE + dlen;
    const payload = kind === 'fd' ? { fds: data } : kind === 'byte' ? { bools: data } : {};
    const b = encodeIrqSet({ flags, index, start, count, argsz: sz, ...payload }, 64);
    const ret = file.ioctl(VFIO_DEVICE_SET_IRQS, b);
    out.push(
      `CASE ${name} ${rcText(ret)} op=SET_IRQS index=${irqIndexName(index)} flags=${hex(flags)} start=${start} count=${count} argsz=${sz}`,
    );
    return ret;
  };
  const setFds = (name: string, index: number, start: number, count: number): number =>
    setIrqs(
      name,
      EVT,
      index,
      start,
      count,
      Array.from({ length: Math.min(count, 64) }, (_, i) => efd[(start + i) % 64]!),
      'fd',
    );
  const disable = (name: string, index: number): number => setIrqs(name, NONE_TRIG, index, 0, 0, [], 'none');
  const readCounter = (name: string, fd: number): void => {
    const v = drain(fd);
    out.push(`INFO ${name} eventfd_ready=${v > 0n ? 1 : 0} count=${v}`);
  };
  const fire = (phase: string, vec: number, fd: number): boolean => {
    drain(fd);
    const t = fabric.raise(file.bdf, vec);
    const v = drain(fd);
    out.push(`DELIVERY phase=${phase} vec=${vec} delivered=${v > 0n ? 1 : 0} count=${v} path=${t.outcome}`);
    return v > 0n;
  };
  /**
   * The MSI-X capability and the whole table: as the host sees them (`host_sysfs_mmap`, or the table
   * BAR mmapped through VFIO, `vfio_mmap`, which shows the same entries), plus, after VFIO claimed the
   * BAR, the table read with pread on the VFIO region (`vfio_pread`: vfio-pci hides it, all ones).
   */
  const printMsix = (phase: string, src: 'host_sysfs_mmap' | 'vfio_mmap'): void => {
    const m = pci?.model;
    if (m === undefined || msixOff === undefined) return;
    out.push(`MSIXCAP phase=${phase} src=host_sysfs${msixCtrlText(m.msixCtrl)}`);
    for (let i = 0; i < m.msixTableSize; i++) out.push(msixEntryLine(phase, src, i, m.msixEntry(i)));
    if (src === 'host_sysfs_mmap' || m.layout.msix === undefined) return;
    const { tableBar, tableOffset } = m.layout.msix;
    for (let i = 0; i < m.msixTableSize; i++) {
      const b = new Uint8Array(16);
      const rc = file.pread(vfioPciIndexToOffset(tableBar) + BigInt(tableOffset + 16 * i), b);
      if (rc !== 16) continue;
      const dv = new DataView(b.buffer);
      const e = { addr: dv.getBigUint64(0, true), data: dv.getUint32(8, true), ctrl: dv.getUint32(12, true) };
      out.push(msixEntryLine(phase, 'vfio_pread', i, e));
    }
  };
  const dumpTable = (
    phase: string,
    used: number,
    src: 'host_sysfs_mmap' | 'vfio_mmap' = 'host_sysfs_mmap',
  ): bigint[] => {
    const m = pci?.model;
    if (m === undefined || m.layout.caps.msix === undefined) return [];
    printMsix(phase, src);
    const addrs: bigint[] = [];
    for (let i = 0; i < used; i++) {
      const e = m.msixEntry(i);
      addrs.push(e.addr);
      out.push(`MSI_ADDR phase=${phase} vec=${i} addr=${hex16(e.addr)} data=${hexN(e.data, 8)}`);
    }
    if (used > 0) {
      const same = addrs.every((a) => (a & ~0xfffn) === (addrs[0]! & ~0xfffn));
      out.push(`INFO ${phase}_vectors=${used} same_addr_page=${same ? 1 : 0}`);
    }
    return addrs;
  };
  const mapAt = (name: string, iova: bigint): void => {
    if (o.container === undefined) return;
    const ret = o.container.mapDma(iova, 0x1000n);
    out.push(`CASE ${name} ${rcText(ret)} op=MAP iova=${hex(iova)} size=0x1000`);
    if (ret === 0) {
      const u = o.container.unmapDma(iova, 0x1000n);
      out.push(`CASE ${name}_unmap ${rcText(u < 0 ? u : 0)} op=UNMAP out_size=${hex(u < 0 ? 0 : u)}`);
    }
  };
  const printMsiCap = (phase: string): bigint => {
    const m = pci?.model;
    const off = m?.layout.caps.msi;
    if (m === undefined || off === undefined) {
      out.push(`MSICAP phase=${phase} src=host_sysfs absent=1`);
      return 0n;
    }
    let prog = 0n;
    for (const src of ['host_sysfs', 'vfio_config'] as const) {
      const c = new Uint8Array(24);
      if (src === 'host_sysfs') c.set(m.config.subarray(off, off + 24));
      else file.pread(cfgOff + BigInt(off), c);
      const dv = new DataView(c.buffer);
      const ctrl = dv.getUint16(2, true);
      const a64 = (ctrl & 0x80) !== 0;
      let addr = BigInt(dv.getUint32(4, true));
      let data: number;
      if (a64) {
        addr |= BigInt(dv.getUint32(8, true)) << 32n;
        data = dv.getUint16(12, true);
      } else data = dv.getUint16(8, true);
      out.push(
        `MSICAP phase=${phase} src=${src} off=${hexN(off, 2)} ctrl=${hexN(ctrl, 4)} enable=${ctrl & 1} addr64=${a64 ? 1 : 0} mme=${(ctrl >> 4) & 7} addr=${hex16(addr)} data=${hexN(data, 4)}` +
          (src === 'host_sysfs' ? decodeMsiAddr(addr) : ''),
      );
      if (src === 'host_sysfs' && (ctrl & 1) !== 0) {
        out.push(`MSI_ADDR phase=${phase} vec=0 addr=${hex16(addr)} data=${hexN(data, 4)}`);
        prog = addr;
      }
    }
    return prog;
  };

  printMsix('before_msix_enable', 'host_sysfs_mmap');

  // 2. validation with nothing enabled
  const fd1 = [efd[0]!, efd[1]!];
  setIrqs('irq_argsz_too_small', EVT, MSIX, 0, 1, [fd1[0]!], 'fd', 19);
  setIrqs('irq_argsz_header_only', EVT, MSIX, 0, 1, [fd1[0]!], 'fd', 20);
  setIrqs('irq_msix_no_action_bit', VFIO_IRQ_SET_DATA_EVENTFD, MSIX, 0, 1, [fd1[0]!], 'fd');
  setIrqs(
    'irq_msix_two_data_bits',
    VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER,
    MSIX,
    0,
    1,
    [1],
    'byte',
  );
  setIrqs(
    'irq_msix_two_action_bits',
    VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK | VFIO_IRQ_SET_ACTION_TRIGGER,
    MSIX,
    0,
    1,
    [],
    'none',
  );
  setIrqs('irq_msix_unknown_flag_bit', EVT | (1 << 6), MSIX, 0, 1, [fd1[0]!], 'fd');
  setIrqs('irq_index_beyond', EVT, 5, 0, 1, [fd1[0]!], 'fd');
  const fdsN = Array.from({ length: nx + 2 }, (_, i) => efd[i % 64]!);
  setIrqs('irq_msix_enable_n_gt_count', EVT, MSIX, 0, nx + 1, fdsN.slice(0, nx + 1), 'fd');
  setIrqs('irq_msix_start_count_beyond', EVT, MSIX, nx - 1, 2, fdsN.slice(0, 2), 'fd');
  setIrqs('irq_msix_start_eq_count', EVT, MSIX, nx, 1, fdsN.slice(0, 1), 'fd');
  setIrqs('irq_msix_data_none_trigger_not_enabled', NONE_TRIG, MSIX, 0, 1, [], 'none');
  setIrqs('irq_msix_disable_not_enabled', NONE_TRIG, MSIX, 0, 0, [], 'none');
  setIrqs('irq_msix_mask', VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK, MSIX, 0, 1, [], 'none');
  setIrqs('irq_msix_unmask', VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK, MSIX, 0, 1, [], 'none');
  setIrqs('irq_msi_enable_n_gt_count', EVT, MSI, 0, nm + 1, fdsN.slice(0, nm + 1), 'fd');
  setIrqs('irq_msix_enable_bad_fd', EVT, MSIX, 0, 1, [12345], 'fd');
  setIrqs('irq_msix_disable_after_bad_fd', NONE_TRIG, MSIX, 0, 0, [], 'none');

  const hasMsix = pci?.model.layout.caps.msix !== undefined;
  // 3. MSI-X with one vector
  if (nx >= 1 && hasMsix) {
    if (setFds('irq_msix_enable_1', MSIX, 0, 1) === 0) {
      dumpTable('msix1', 1);
      fire('msix1', 0, efd[0]!);
      setIrqs(
        'irq_msix_mask_while_enabled',
        VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK,
        MSIX,
        0,
        1,
        [],
        'none',
      );
      setIrqs(
        'irq_msix_unmask_while_enabled',
        VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
        MSIX,
        0,
        1,
        [],
        'none',
      );
      drain(efd[0]!);
      setIrqs('irq_msix_data_none_trigger', NONE_TRIG, MSIX, 0, 1, [], 'none');
      readCounter('irq_msix_data_none_trigger', efd[0]!);
      setIrqs('irq_msix_data_bool_trigger_1', BOOL_TRIG, MSIX, 0, 1, [1], 'byte');
      readCounter('irq_msix_data_bool_trigger_1', efd[0]!);
      setIrqs('irq_msix_data_bool_trigger_0', BOOL_TRIG, MSIX, 0, 1, [0], 'byte');
      readCounter('irq_msix_data_bool_trigger_0', efd[0]!);
      setIrqs('irq_msix_data_none_trigger_start_beyond_enabled', NONE_TRIG, MSIX, 1, 1, [], 'none');
      setIrqs('irq_msix_data_none_trigger_count_beyond', NONE_TRIG, MSIX, 0, nx + 1, [], 'none');
      setIrqs(
        'irq_msix_two_data_bits_enabled',
        VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER,
        MSIX,
        0,
        1,
        [0],
        'byte',
      );
      setFds('irq_msix_same_fd_again', MSIX, 0, 1);
      if (nx >= 2 && setFds('irq_msix_add_vector1_while_enabled', MSIX, 1, 1) === 0) {
        dumpTable('msix1_plus_vec1', 2);
        fire('msix1_plus_vec1', 1, efd[1]!);
      }
      setFds('irq_msix_switch_to_msi_without_disable', MSI, 0, 1);
      setIrqs('irq_msix_disable_start_beyond_count', NONE_TRIG, MSIX, nx, 0, [], 'none');
      setIrqs('irq_msix_data_bool_count0', BOOL_TRIG, MSIX, 0, 0, [], 'none');
      setIrqs('irq_msix_data_eventfd_count0', EVT, MSIX, 0, 0, [], 'none');
      printMsix('msix1_after_count0_calls', 'host_sysfs_mmap');
      disable('irq_msix_disable', MSIX);
      printMsix('msix_after_disable', 'host_sysfs_mmap');
      disable('irq_msix_disable_again', MSIX);
      if (setFds('irq_msix_reenable_after_disable', MSIX, 0, 1) === 0) {
        fire('msix_reenable', 0, efd[0]!);
        setIrqs('irq_msix_disable_start1_count0', NONE_TRIG, MSIX, 1, 0, [], 'none');
        printMsix('msix_after_start1_count0', 'host_sysfs_mmap');
        disable('irq_msix_disable_after_start1_count0', MSIX);
      }
    }
  }

  // 4. MSI-X with every vector
  if (nx >= 1 && hasMsix && setFds('irq_msix_enable_n_eq_count', MSIX, 0, nx) === 0) {
    const addrs = dumpTable('msixN', nx);
    let got = 0;
    let tried = 0;
    for (const v of [1, 2, 3, 4, 0]) {
      if (v >= nx) continue;
      tried++;
      if (fire('msixN', v, efd[v]!)) got++;
    }
    out.push(`INFO msixN_delivered=${got} of=${tried}`);
    const pg = (addrs[0] ?? 0n) & ~0xfffn;
    mapAt('msi_map_dma_at_programmed_page', pg);
    if (pg + 0x1000n <= 0x80fffffn || pg >> 20n === 0xfeen) mapAt('msi_map_dma_at_next_page', pg + 0x1000n);
    if (o.container?.infoLines) out.push(...o.container.infoLines('msix_enabled'));
    dumpTable('msixN_vfio_view', nx, 'vfio_mmap');
    if (nx >= 2) {
      setIrqs('irq_msix_deassign_vec1_fd_minus1', EVT, MSIX, 1, 1, [-1], 'fd');
      printMsix('msixN_vec1_deassigned', 'vfio_mmap');
    }
    disable('irq_msix_disable_n', MSIX);
  }

  // 5. MSI (single vector)
  if (nm >= 1 && pci?.model.layout.caps.msi !== undefined) {
    printMsiCap('before_msi_enable');
    if (setFds('irq_msi_enable_1', MSI, 0, 1) === 0) {
      const prog = printMsiCap('msi');
      fire('msi', 0, efd[0]!);
      fire('msi_again', 0, efd[0]!);
      if (prog !== 0n) mapAt('msi_map_dma_at_programmed_msi_page', prog & ~0xfffn);
      setFds('irq_msi_switch_to_msix_without_disable', MSIX, 0, 1);
      setIrqs('irq_msi_mask', VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK, MSI, 0, 1, [], 'none');
      drain(efd[0]!);
      setIrqs('irq_msi_data_none_trigger', NONE_TRIG, MSI, 0, 1, [], 'none');
      readCounter('irq_msi_data_none_trigger', efd[0]!);
      disable('irq_msi_disable', MSI);
      printMsiCap('msi_after_disable');
      setIrqs('irq_msi_disable_again', NONE_TRIG, MSI, 0, 0, [], 'none');
    }
  }

  // ERR / REQ: plain eventfd registration
  for (const idx of [VFIO_PCI_ERR_IRQ_INDEX, VFIO_PCI_REQ_IRQ_INDEX]) {
    if (!irqcount[idx]) continue;
    const n = idx === VFIO_PCI_ERR_IRQ_INDEX ? 'err' : 'req';
    setFds(`irq_${n}_set_eventfd`, idx, 0, 1);
    drain(efd[0]!);
    setIrqs(`irq_${n}_data_none_trigger`, NONE_TRIG, idx, 0, 1, [], 'none');
    readCounter(`irq_${n}_data_none_trigger`, efd[0]!);
    disable(`irq_${n}_disable`, idx);
  }
  for (const fd of efd) fds.close(fd);
  out.push('INFO msi_probe_end');
  return out;
}
