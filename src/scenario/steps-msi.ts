/**
 * Scenario steps of the MSI path (plug-in module of the step registry): eventfds, VFIO_DEVICE_SET_IRQS,
 * firing vector N from the device model, raw device writes (forging an MSI), the programmed MSI/MSI-X
 * address/data, eventfd counters, and `probe_msi`, the whole sequence of the oracle's vfio_msi_probe
 * in its line formats. Steps go through the device fd of the VFIO system (uapi bytes).
 */
import type { MsiFabric } from '../irq/fabric.js';
import { formatMsiTrace } from '../irq/explain.js';
import { msiFabricOf } from '../irq/fabric.js';
import {
  VFIO_PCI_CONFIG_REGION_INDEX,
  vfioPciIndexToOffset,
  VFIO_DEVICE_GET_IRQ_INFO,
  VFIO_DEVICE_GET_REGION_INFO,
  decodeIrqInfo,
  decodeRegionInfo,
  encodeIrqInfo,
  encodeIrqSet,
  encodeRegionInfo,
  walkCaps,
  VFIO_DEVICE_SET_IRQS,
  VFIO_IRQ_SET_DATA_BOOL,
  VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_IRQ_SET_DATA_TYPE_MASK,
  VFIO_IRQ_SET_SIZE,
  irqIndexName,
} from '../uapi/vfio-device.js';
import {
  TYPE1_INFO_SIZE,
  VFIO_IOMMU_GET_INFO,
  VFIO_IOMMU_INFO_CAPS,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_UNMAP_DMA,
  getU32,
  putU32,
} from '../uapi/vfio-type1.js';
import { decodeDmaUnmap, decodeType1Caps, encodeDmaMap, encodeDmaUnmap } from '../vfio/typed.js';
import type { FdTable } from '../vfio/pci/eventfd.js';
import { type ProbeContainer, runMsiProbe } from '../vfio/pci/msi-probe.js';
import { VfioPciDevice, type VfioDeviceFile, openVfioDeviceOf } from '../vfio/pci/vfio-pci.js';
import { PCI_STATUS, PCI_STATUS_INTERRUPT } from '../pci/msi-device.js';
import type { RunContext } from './context.js';
import { CASE_NAME_FIELD, type ScenarioStep, registerStep } from './registry.js';
import { ERRNO, errnoName } from '../base/errno.js';

const hex = (v: bigint | number): string => '0x' + v.toString(16);
const hex16 = (v: bigint): string => '0x' + v.toString(16).padStart(16, '0');
const deviceFd = { kind: 'string', help: 'handle of the device fd (default "device")' } as const;
const name = CASE_NAME_FIELD;
const INDEX: Record<string, number> = { INTX: 0, MSI: 1, MSIX: 2, ERR: 3, REQ: 4 };

/** The process's descriptor table: a vfio-pci device's own, else the VFIO system's (normally the same). */
function fdTable(ctx: RunContext, dev?: VfioDeviceFile): FdTable {
  return dev instanceof VfioPciDevice ? dev.fds : ctx.sys.fds;
}

function fabric(ctx: RunContext, s: ScenarioStep): MsiFabric {
  const f = msiFabricOf(ctx.sys.core);
  if (f === undefined) throw ctx.err(s, 'this platform has no MSI fabric attached');
  return f;
}

function irqIndex(ctx: RunContext, s: ScenarioStep): number {
  const t = ctx.str(s, 'index');
  if (t === undefined) throw ctx.err(s, 'missing field "index"', 'index');
  const n = INDEX[t.toUpperCase()];
  if (n !== undefined) return n;
  if (/^(0x[0-9a-f]+|\d+)$/i.test(t)) return Number(t);
  throw ctx.err(
    s,
    `unknown IRQ index "${t}" (INTX, MSI, MSIX, ERR, REQ or a number)`,
    'index',
    s.fields['index']?.line,
  );
}

/** RLIMIT_NOFILE of the model's process: more eventfds than this cannot be opened. */
const MAX_EVENTFDS = 65536;

registerStep({
  op: 'eventfds',
  summary: 'creates the eventfd pool (EFD_NONBLOCK) the MSI steps use: efd[0..count-1]',
  fields: { count: { kind: 'expr', help: 'default 64, at most 65536' }, device: deviceFd },
  run(ctx, s) {
    const dev = s.fields['device'] ? ctx.deviceFile(s) : undefined;
    const t = fdTable(ctx, dev);
    const n = ctx.u32(s, 'count', 64);
    if (n > MAX_EVENTFDS)
      throw ctx.err(
        s,
        `count ${n}: at most ${MAX_EVENTFDS} eventfds (the model's open-file limit)`,
        'count',
        s.fields['count']?.line,
      );
    const fds = Array.from({ length: n }, () => t.eventfd());
    ctx.ext.set('msi.efd', fds);
    ctx.vars.set(
      'efd',
      fds.map((x) => BigInt(x)),
    );
  },
});

registerStep({
  op: 'set_irqs',
  summary: 'VFIO_DEVICE_SET_IRQS: CASE <name> rc errno op=SET_IRQS index flags start count argsz',
  fields: {
    name,
    device: deviceFd,
    index: { kind: 'string', required: true, help: 'INTX, MSI, MSIX, ERR, REQ or a number' },
    flags: { kind: 'expr', required: true, help: 'DATA_* | ACTION_* bits (0x24 = EVENTFD|TRIGGER)' },
    start: { kind: 'expr', help: 'default 0' },
    count: { kind: 'expr', help: 'default 1' },
    fds: { kind: 'exprs', help: 'eventfds (default for DATA_EVENTFD: efd[start+i] of the pool)' },
    bools: { kind: 'exprs', help: 'DATA_BOOL bytes' },
    argsz: { kind: 'expr', help: 'default 20 + payload' },
  },
  run(ctx, s) {
    const dev = ctx.deviceFile(s);
    const flags = ctx.u32(s, 'flags');
    const index = irqIndex(ctx, s);
    const start = ctx.u32(s, 'start', 0);
    const count = ctx.u32(s, 'count', 1);
    let data: number[] = [];
    let width = 0;
    if (
      s.fields['fds'] ||
      ((flags & VFIO_IRQ_SET_DATA_TYPE_MASK) === VFIO_IRQ_SET_DATA_EVENTFD && !s.fields['bools'])
    ) {
      width = 4;
      const efd = ctx.eventfdPool();
      data = s.fields['fds']
        ? ctx.nums(s, 'fds').map((x) => Number(BigInt.asIntN(32, x)))
        : Array.from({ length: Math.min(count, 64) }, (_, i) => efd[(start + i) % 64] ?? -1);
    } else if (s.fields['bools'] || (flags & VFIO_IRQ_SET_DATA_TYPE_MASK) === VFIO_IRQ_SET_DATA_BOOL) {
      width = 1;
      data = ctx.nums(s, 'bools').map((x) => Number(x & 0xffn));
    }
    const dlen = data.length * width;
    const argsz = ctx.u32(s, 'argsz', VFIO_IRQ_SET_SIZE + dlen);
    const payload = width === 4 ? { fds: data } : { bools: data };
    const b = encodeIrqSet({ flags, index, start, count, argsz, ...payload }, 64);
    const rc = dev.ioctl(VFIO_DEVICE_SET_IRQS, b);
    ctx.caseLine(
      ctx.text(s, 'name'),
      rc,
      ` op=SET_IRQS index=${irqIndexName(index)} flags=${hex(flags)} start=${start} count=${count} argsz=${argsz}`,
      rc > 0 ? rc : 0,
    );
    return rc < 0 ? rc : 0;
  },
});

registerStep({
  op: 'bus_master',
  summary:
    'sets MEM|BUS_MASTER in COMMAND through the VFIO config region: INFO command_vfio_before written write_rc vfio_after',
  fields: { device: deviceFd },
  run(ctx, s) {
    const dev = ctx.deviceFile(s);
    const off = vfioPciIndexToOffset(VFIO_PCI_CONFIG_REGION_INDEX) + 4n;
    const b = new Uint8Array(2);
    dev.pread(off, b);
    const before = b[0]! | (b[1]! << 8);
    const nc = before | 0x6;
    const rc = dev.pwrite(off, new Uint8Array([nc & 0xff, nc >> 8]));
    dev.pread(off, b);
    const h4 = (v: number): string => '0x' + v.toString(16).padStart(4, '0');
    ctx.emit(
      `INFO command_vfio_before=${h4(before)} written=${h4(nc)} write_rc=${rc} vfio_after=${h4(b[0]! | (b[1]! << 8))}`,
    );
    return rc < 0 ? rc : 0;
  },
});

registerStep({
  op: 'irq_info',
  summary: 'VFIO_DEVICE_GET_IRQ_INFO: IRQINFO index name rc errno flags flag_names count',
  fields: {
    device: deviceFd,
    index: { kind: 'string', required: true, help: 'INTX, MSI, MSIX, ERR, REQ or a number' },
  },
  run(ctx, s) {
    const dev = ctx.deviceFile(s);
    const i = irqIndex(ctx, s);
    const b = encodeIrqInfo(i);
    const rc = dev.ioctl(VFIO_DEVICE_GET_IRQ_INFO, b);
    const f = rc === 0 ? decodeIrqInfo(b).flags : 0;
    const names = ['EVENTFD', 'MASKABLE', 'AUTOMASKED', 'NORESIZE']
      .filter((_, k) => (f & (1 << k)) !== 0)
      .map((x) => x + ',')
      .join('');
    ctx.emit(
      `IRQINFO index=${i} name=${i < 5 ? irqIndexName(i) : 'beyond'} rc=${rc < 0 ? -1 : rc} errno=${rc < 0 ? errnoName(rc) : 0} flags=${hex(f)} flag_names=${names} count=${rc === 0 ? decodeIrqInfo(b).count : 0}`,
    );
    return rc;
  },
});

registerStep({
  op: 'region_info',
  summary:
    'VFIO_DEVICE_GET_REGION_INFO with argsz negotiation: REGION index rc errno flags size offset cap_offset [caps]',
  fields: { device: deviceFd, index: { kind: 'expr', required: true, help: 'region index' } },
  run(ctx, s) {
    const dev = ctx.deviceFile(s);
    const i = ctx.u32(s, 'index');
    let argsz = 32;
    let b = encodeRegionInfo(i, argsz);
    let rc = 0;
    for (let round = 0; round < 3; round++) {
      b = encodeRegionInfo(i, argsz, argsz);
      rc = dev.ioctl(VFIO_DEVICE_GET_REGION_INFO, b);
      if (rc !== 0 || decodeRegionInfo(b).argsz <= argsz) break;
      argsz = decodeRegionInfo(b).argsz;
    }
    const r = rc === 0 ? decodeRegionInfo(b) : { flags: 0, size: 0n, offset: 0n, capOffset: 0 };
    const capOff = (r.flags & 8) !== 0 ? r.capOffset : 0;
    let line = `REGION index=${i} rc=${rc < 0 ? -1 : rc} errno=${rc < 0 ? errnoName(rc) : 0} flags=${hex(r.flags)} size=${hex(r.size)} offset=${hex(r.offset)} cap_offset=${capOff}`;
    if (rc === 0 && capOff !== 0)
      line += ` caps=${walkCaps(b, capOff)
        .map((h) => (h.id === 3 ? 'MSIX_MAPPABLE' : `id${h.id}`))
        .join(',')}`;
    ctx.emit(line);
    return rc;
  },
});

registerStep({
  op: 'fire',
  summary: 'the device raises vector N: DELIVERY phase vec delivered count, plus one TRACE line per hop',
  fields: {
    phase: { kind: 'template', required: true, help: 'phase name' },
    device: { kind: 'string', required: true, help: 'bdf or vendor:device of the device that fires' },
    vector: { kind: 'expr', help: 'MSI/MSI-X vector, default 0' },
    efd: { kind: 'expr', help: 'eventfd to count (default efd[vector])' },
    trace: { kind: 'bool', help: 'print the path hop by hop (default false)' },
  },
  run(ctx, s) {
    const bdf = ctx.device(s, 'device').bdf;
    const vec = ctx.u32(s, 'vector', 0);
    const efd = Number(ctx.num(s, 'efd', BigInt(ctx.eventfdPool()[vec] ?? -1)));
    const t = fdTable(ctx, openDeviceOf(ctx));
    t.eventFd(efd)?.read();
    const tr = fabric(ctx, s).raise(bdf, vec);
    const v = t.eventFd(efd)?.read() ?? 0n;
    ctx.emit(
      `DELIVERY phase=${ctx.text(s, 'phase')} vec=${vec} delivered=${v > 0n ? 1 : 0} count=${v} path=${tr.outcome}`,
    );
    if (ctx.bool(s, 'trace', false)) for (const l of formatMsiTrace(tr)) ctx.emit(`TRACE ${l}`);
    return v > 0n ? 0 : -1;
  },
});

registerStep({
  op: 'intx',
  summary:
    "the device asserts (level 1) or releases (level 0) its INTx pin, as its own registers would: CASE <name> rc errno op=INTX level line (asserted, held-off by INTx disable, released) status (the status register's interrupt bit) delivered count (the eventfd's counter, not read) masked (vfio-pci's INTx mask; - when INTx is not enabled); rc -1 ENODEV for a function without a pin",
  fields: {
    name,
    device: { kind: 'string', required: true, help: 'bdf or vendor:device of the device' },
    level: { kind: 'expr', help: '1 asserts (default), 0 releases' },
    efd: { kind: 'expr', help: 'eventfd to count (default efd[0])' },
  },
  run(ctx, s) {
    const bdf = ctx.device(s, 'device').bdf;
    const level = ctx.u32(s, 'level', 1) !== 0;
    const f = fabric(ctx, s);
    const pci = f.pci(bdf);
    const label = ctx.text(s, 'name');
    if (pci === undefined || f.intx(bdf) === undefined) {
      ctx.caseLine(label, -ERRNO.ENODEV, ' op=INTX');
      return -ERRNO.ENODEV;
    }
    const efd = Number(ctx.num(s, 'efd', BigInt(ctx.eventfdPool()[0] ?? -1)));
    const e = fdTable(ctx, openDeviceOf(ctx)).eventFd(efd);
    const before = e?.count ?? 0n;
    pci.model.setIntx(level);
    const m = pci.model;
    const after = e?.count ?? 0n;
    const line = m.intxAsserted ? 'asserted' : level ? 'held-off' : 'released';
    const status = (m.cfgRead(PCI_STATUS, 2) & PCI_STATUS_INTERRUPT) !== 0 ? 1 : 0;
    const masked = openVfioDeviceOf(pci)?.irqs.intxMasked;
    ctx.caseLine(
      label,
      0,
      ` op=INTX level=${level ? 1 : 0} line=${line} status=${status} delivered=${after > before ? 1 : 0} count=${after} masked=${masked === undefined ? '-' : masked ? 1 : 0}`,
      0,
    );
    return 0;
  },
});

/** The first open device fd of the run (for eventfd tables). */
function openDeviceOf(ctx: RunContext): VfioDeviceFile | undefined {
  for (const fd of ctx.handles.values()) {
    const f = ctx.sys.file(fd);
    if (f?.kind === 'device') return f.device;
  }
  return undefined;
}

registerStep({
  op: 'dma_write',
  summary: "a raw 32-bit DMA write by a device (e.g. another device's MSI message): TRACE lines of its path",
  fields: {
    device: { kind: 'string', required: true, help: 'bdf or vendor:device of the writer' },
    addr: { kind: 'expr', required: true, help: 'bus address (IOVA)' },
    data: { kind: 'expr', required: true, help: '32-bit value' },
  },
  run(ctx, s) {
    const bdf = ctx.device(s, 'device').bdf;
    const tr = fabric(ctx, s).dmaWrite(bdf, ctx.num(s, 'addr'), Number(ctx.num(s, 'data') & 0xffffffffn));
    for (const l of formatMsiTrace(tr)) ctx.emit(`TRACE ${l}`);
    ctx.emit(`INFO dma_write outcome=${tr.outcome}${tr.virq !== undefined ? ` irq=${tr.virq}` : ''}`);
    return tr.outcome === 'delivered' ? 0 : -1;
  },
});

registerStep({
  op: 'msi_addr',
  summary:
    'MSI_ADDR phase vec addr data: what the device was programmed with (MSI-X table, else MSI capability)',
  fields: {
    phase: { kind: 'template', required: true, help: 'phase name' },
    device: { kind: 'string', required: true, help: 'bdf or vendor:device' },
    vectors: { kind: 'expr', help: 'MSI-X entries to print (default: the whole table)' },
  },
  run(ctx, s) {
    const bdf = ctx.device(s, 'device').bdf;
    const m = fabric(ctx, s).pci(bdf)?.model;
    if (m === undefined) throw ctx.err(s, `${bdf} has no MSI or MSI-X`, 'device');
    const phase = ctx.text(s, 'phase');
    if ((m.msixCtrl & 0x8000) !== 0) {
      const n = ctx.u32(s, 'vectors', m.msixTableSize);
      if (n > m.msixTableSize)
        throw ctx.err(
          s,
          `vectors ${n}: the MSI-X table of ${bdf} has ${m.msixTableSize} entries`,
          'vectors',
          s.fields['vectors']?.line,
        );
      for (let i = 0; i < n; i++) {
        const e = m.msixEntry(i);
        ctx.emit(
          `MSI_ADDR phase=${phase} vec=${i} addr=${hex16(e.addr)} data=0x${e.data.toString(16).padStart(8, '0')}`,
        );
      }
    } else {
      const e = m.msiMessage();
      ctx.emit(
        `MSI_ADDR phase=${phase} vec=0 addr=${hex16(e.addr)} data=0x${e.data.toString(16).padStart(4, '0')}`,
      );
    }
  },
});

registerStep({
  op: 'read_eventfd',
  summary: 'INFO <name> eventfd_ready count (reads and clears the counter)',
  fields: { name, efd: { kind: 'expr', help: 'default efd[0]' } },
  run(ctx, s) {
    const efd = Number(ctx.num(s, 'efd', BigInt(ctx.eventfdPool()[0] ?? -1)));
    const v = fdTable(ctx, openDeviceOf(ctx)).eventFd(efd)?.read() ?? 0n;
    ctx.emit(`INFO ${ctx.text(s, 'name')} eventfd_ready=${v > 0n ? 1 : 0} count=${v}`);
  },
});

/** The container side of the probe through the VFIO system's ioctls. */
function probeContainer(ctx: RunContext, containerFd: number, vaddr: bigint): ProbeContainer {
  return {
    mapDma(iova, size) {
      return ctx.sys.ioctl(
        containerFd,
        VFIO_IOMMU_MAP_DMA,
        encodeDmaMap({ argsz: 32, flags: 3, vaddr, iova, size }),
      );
    },
    unmapDma(iova, size) {
      const b = encodeDmaUnmap({ argsz: 24, flags: 0, iova, size });
      const rc = ctx.sys.ioctl(containerFd, VFIO_IOMMU_UNMAP_DMA, b);
      return rc < 0 ? rc : Number(decodeDmaUnmap(b).size);
    },
    infoLines(tag) {
      let argsz = TYPE1_INFO_SIZE;
      let b = new Uint8Array(argsz);
      let rc = 0;
      for (let round = 0; round < 3; round++) {
        b = new Uint8Array(argsz);
        putU32(b, 0, argsz);
        rc = ctx.sys.ioctl(containerFd, VFIO_IOMMU_GET_INFO, b);
        if (rc !== 0 || getU32(b, 0) <= argsz) break;
        argsz = getU32(b, 0);
      }
      const out = [
        `CASE get_info_${tag} rc=${rc < 0 ? -1 : rc} errno=${rc < 0 ? errnoName(rc) : 0} argsz=${getU32(b, 0)}`,
      ];
      if (rc === 0 && (getU32(b, 4) & VFIO_IOMMU_INFO_CAPS) !== 0) {
        for (const c of decodeType1Caps(b, argsz, getU32(b, 16))) {
          if ('ranges' in c && c.ranges) {
            c.ranges.forEach((r, i) =>
              out.push(`RANGE tag=${tag} idx=${i} start=${hex16(r.start)} end=${hex16(r.end)}`),
            );
          }
        }
      }
      return out;
    },
  };
}

registerStep({
  op: 'probe_msi',
  summary:
    "the oracle's vfio_msi_probe sequence on an open device fd (CASE/IRQINFO/REGION/MSI_ADDR/MSICAP/DELIVERY lines)",
  fields: {
    device: deviceFd,
    container: { kind: 'string', help: 'handle of the container fd (default "container")' },
    vaddr: { kind: 'expr', help: 'user buffer for the MAP_DMA cases (default: the vaddr_base region)' },
  },
  run(ctx, s) {
    const dev = ctx.deviceFile(s);
    const base = ctx.vaddrBaseStart();
    const vaddr = s.fields['vaddr'] ? ctx.num(s, 'vaddr') : (base ?? 0n);
    const container = probeContainer(ctx, ctx.fd(s, 'container', 'container'), vaddr);
    for (const l of runMsiProbe({ file: dev, fabric: fabric(ctx, s), fds: fdTable(ctx, dev), container }))
      ctx.emit(l);
    return 0;
  },
});
