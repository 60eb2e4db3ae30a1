/**
 * Seeded random INTx sequences (`common/gen-intx-NN.iovx`, every machine): the e1000e's interrupt
 * registers (causes set, unmasked, masked, read and written back), SET_IRQS on the INTx index with
 * every action and data type, the user's INTx disable bit, the unmask eventfd, MSI instead of INTx,
 * the status and command registers, and the device fd closed and reopened, in random order.
 *
 * One rule keeps the runs safe on a real kernel: the NIC asserts INTx only while vfio-pci owns the
 * line (INTx enabled) or while it signals by MSI. Before INTx or MSI is turned off, or the device is
 * closed, the generator quiets the NIC (every cause masked, ICR read), so an asserted line never
 * reaches a host interrupt that has no handler (shared with another device, it would storm until the
 * kernel disabled it). Each step that can make the device interrupt is followed by a short wait, so
 * the counts read afterwards do not depend on the guest's timing.
 */

import { CompiledWriter } from './compiled.js';
import { Prng } from './generator.js';

const CFG = 7;
const ICR = 0xc0;
const ICS = 0xc8;
const IMS = 0xd0;
const IMC = 0xd8;
const CAUSES = ['0x100000', '0x400000', '0x500000'] as const;

export function generateIntxScenario(seed: number, index: number, steps: number): string {
  const r = new Prng((seed ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0);
  const w = new CompiledWriter().directive('format', 'compact').directive('section', `gen_intx_${index}`);
  const p = `x${index}.`;
  let n = 0;
  const op = (o: Parameters<CompiledWriter['op']>[0], f: Record<string, string | number> = {}) =>
    w.op(o, `${p}${String(n++).padStart(3, '0')}_${o}`, f);
  const irqs = (flags: number, data?: string, idx = 0, count = 1) =>
    op('set_irqs', {
      d: 0,
      index: idx,
      start: 0,
      count,
      flags: `0x${flags.toString(16)}`,
      ...(data === undefined ? {} : { data }),
    });
  const bar0 = (pos: number, value: string) => op('region_write', { d: 0, index: 0, pos, value });
  const settle = () => op('region_read', { d: 0, index: CFG, pos: 6, len: 2, wait_ms: 20 });
  // triggers use efd 0 (or none), the unmask eventfd is efd 1 or 2: one eventfd in both roles while the
  // NIC asserts makes the kernel's virqfd re-send forever (the model stops; see intrs.ts virqfdInject)
  const trigger = (): string =>
    r.weighted([
      [7, 'efd:0'],
      [2, 'efd:-1'],
      [1, 'efd:bad'],
    ]);
  const cause = (): string => r.pick(CAUSES);

  w.op('param_set', `${p}unsafe`, { p: 'allow_unsafe_interrupts', value: '1' });
  w.op('open_container', `${p}open_container`);
  w.op('open_group', `${p}open_group`, { g: 0 });
  w.op('set_container', `${p}set_container`, { g: 0 });
  w.op('set_iommu', `${p}set_iommu`, { type: 3 });
  w.op('device_fd', `${p}device_fd`, { g: 0, d: 0 });
  // which interrupt vfio-pci has enabled: the NIC may assert only while it is not 'none'
  let mode: 'none' | 'intx' | 'msi' = 'none';
  // every cause masked, then ICR read: the NIC stops asserting (memory decoding is on from the open;
  // the generator's command writes keep it)
  const quiet = () => {
    bar0(IMC, '0xffffffff');
    op('region_read', { d: 0, index: 0, pos: ICR });
  };

  // causes left by earlier scenarios of the same boot (the NIC keeps its registers across opens): gone
  bar0(ICR, '0xffffffff');
  bar0(IMC, '0xffffffff');
  for (let s = 0; s < steps; s++) {
    const raising = mode !== 'none';
    const kind = r.weighted<string>([
      [6, mode === 'none' ? 'enable_intx' : 'enable_other'],
      [1, 'enable_msi'],
      [2, 'disable'],
      [8, raising ? 'fire' : 'status'],
      [5, raising ? 'ims' : 'icr_read'],
      [3, raising ? 'ics' : 'imc'],
      [4, 'icr_read'],
      [2, 'icr_write'],
      [3, 'imc'],
      [8, 'unmask'],
      [4, 'mask'],
      [3, 'soft'],
      [2, 'swap'],
      [5, 'command'],
      [4, 'status'],
      [2, 'command_read'],
      [6, 'read'],
      [3, 'resample'],
      [1, 'reopen'],
    ]);
    switch (kind) {
      case 'enable_intx':
        // a bad fd leaves INTx off (EBADF); the others enable it
        if (r.chance(0.1)) irqs(0x24, 'efd:bad');
        else {
          irqs(0x24, r.chance(0.8) ? 'efd:0' : 'efd:-1');
          mode = 'intx';
        }
        break;
      case 'enable_other':
        // a second enable: EINVAL (MSI while INTx, INTx while MSI) or a trigger swap
        irqs(0x24, 'efd:0', r.chance(0.5) ? 0 : 1);
        break;
      case 'enable_msi':
        if (mode === 'none') {
          irqs(0x24, 'efd:0', 1);
          mode = 'msi';
        } else irqs(0x24, 'efd:0', 1); // EINVAL unless it is MSI already
        break;
      case 'disable':
        if (mode === 'none')
          irqs(0x21, undefined, r.chance(0.5) ? 0 : 1, 0); // EINVAL: nothing to disable
        else {
          quiet();
          irqs(0x21, undefined, mode === 'intx' ? 0 : 1, 0);
          mode = 'none';
        }
        break;
      case 'fire':
        op('msi_fire', { d: 0, cause: cause() });
        break;
      case 'ims':
        bar0(IMS, cause());
        settle();
        break;
      case 'ics':
        bar0(ICS, cause());
        settle();
        break;
      case 'icr_read':
        op('region_read', { d: 0, index: 0, pos: ICR, wait_ms: 20 });
        break;
      case 'icr_write':
        bar0(ICR, cause());
        break;
      case 'imc':
        bar0(IMC, r.chance(0.5) ? '0xffffffff' : cause());
        break;
      case 'unmask': {
        const d = r.weighted<[number, string | undefined]>([
          [5, [0x11, undefined]],
          [2, [0x12, 'bool:1']],
          [1, [0x12, 'bool:0']],
          [2, [0x14, 'efd:1']],
          [1, [0x14, 'efd:-1']],
          [1, [0x14, r.chance(0.5) ? 'efd:2' : 'efd:bad']],
        ]);
        irqs(d[0], d[1]);
        op('efd_read', { e: 0, wait_ms: 100 });
        break;
      }
      case 'mask': {
        const d = r.weighted<[number, string | undefined]>([
          [4, [0x09, undefined]],
          [2, [0x0a, r.chance(0.7) ? 'bool:1' : 'bool:0']],
          [1, [0x0c, 'efd:1']],
        ]);
        irqs(d[0], d[1]);
        break;
      }
      case 'soft':
        if (r.chance(0.6)) irqs(0x21, undefined, r.chance(0.9) ? 0 : 1);
        else irqs(0x22, r.chance(0.7) ? 'bool:1' : 'bool:0');
        break;
      case 'swap':
        if (mode === 'intx') irqs(0x24, trigger());
        else irqs(0x24, 'efd:-1', 0); // INTx not the type: enables it (with no trigger) when none
        if (mode === 'none') mode = 'intx';
        break;
      case 'command':
        // the user's INTx disable (memory decoding and bus mastering kept): a clear may send a pending one
        op('region_write', { d: 0, index: CFG, pos: 4, len: 2, value: r.chance(0.5) ? '0x406' : '0x6' });
        op('efd_read', { e: 0, wait_ms: 100 });
        break;
      case 'status':
        op('region_read', { d: 0, index: CFG, pos: 6, len: 2 });
        break;
      case 'command_read':
        op('region_read', { d: 0, index: CFG, pos: 4, len: 2 });
        break;
      case 'read':
        op('efd_read', { e: r.chance(0.8) ? 0 : 1, wait_ms: 100 });
        break;
      case 'resample':
        op('efd_write', { e: 1, value: 1 });
        op('efd_read', { e: 0, wait_ms: 100 });
        break;
      case 'reopen':
        quiet();
        op('close_device', { d: 0 });
        op('device_fd', { g: 0, d: 0 });
        mode = 'none';
        break;
    }
  }
  quiet();
  if (mode !== 'none') irqs(0x21, undefined, mode === 'intx' ? 0 : 1, 0);
  w.op('close_device', `${p}close_device`, { d: 0 });
  w.op('close_group', `${p}close_group`, { g: 0 });
  w.op('close_container', `${p}close_container`);
  w.op('param_set', `${p}safe`, { p: 'allow_unsafe_interrupts', value: '0' });
  return w.text();
}
