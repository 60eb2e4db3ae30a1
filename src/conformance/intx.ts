/**
 * `common/intx.iovx` (every machine): the e1000e's legacy interrupt through vfio-pci. The NIC raises
 * INTx from its own registers (msi_fire's sequence in INTx mode: ICS with the cause unmasked, then IMC),
 * or keeps it asserted (IMS with a cause still in ICR) until ICR is read. Checked: the automask on
 * delivery (vfio_intx_handler), the unmask ioctl with and without a pending interrupt (re-sent to the
 * eventfd instead of unmasked), mask, the user's INTx disable bit in the command register
 * (virq_disabled), the soft trigger, the unmask eventfd (virqfd: EBUSY, a count already there, its
 * counter consumed), the trigger swapped or removed, INTx against MSI, the status register's interrupt
 * bit, ICR's value, and a device fd closed and reopened.
 */
import { attachNic, detachNic, scenarioWriter } from './attach.js';

const CFG = 7; // VFIO_PCI_CONFIG_REGION_INDEX
const ICR = 0xc0;
const IMS = 0xd0;
const RXQ0 = '0x100000';
const TXQ0 = '0x400000';
/** SET_IRQS flags: data NONE/BOOL/EVENTFD | action MASK/UNMASK/TRIGGER. */
const F = {
  unmask: '0x11',
  unmaskBool: '0x12',
  unmaskEfd: '0x14',
  mask: '0x9',
  maskBool: '0xa',
  maskEfd: '0xc',
  triggerNone: '0x21',
  triggerBool: '0x22',
  triggerEfd: '0x24',
} as const;

export function intxScenario(): string {
  const w = scenarioWriter('intx');
  const p = 'x.';
  const irq = (name: string, flags: string, extra: Record<string, string | number> = {}, index = 0) =>
    w.op('set_irqs', p + name, { d: 0, index, start: 0, count: 1, flags, ...extra });
  const fire = (name: string, cause = RXQ0) => w.op('msi_fire', p + name, { d: 0, cause });
  const got = (name: string, e = 0) => w.op('efd_read', p + name, { e, wait_ms: 2000 });
  const none = (name: string, e = 0) => w.op('efd_read', p + name, { e, wait_ms: 100 });
  const status = (name: string) =>
    w.op('region_read', p + name, { d: 0, index: CFG, pos: 6, len: 2, wait_ms: 20 });
  const command = (name: string) => w.op('region_read', p + name, { d: 0, index: CFG, pos: 4, len: 2 });
  const setCommand = (name: string, value: string) =>
    w.op('region_write', p + name, { d: 0, index: CFG, pos: 4, len: 2, value });
  const readIcr = (name: string) => w.op('region_read', p + name, { d: 0, index: 0, pos: ICR, wait_ms: 20 });
  const assert = (name: string, cause = RXQ0) =>
    w.op('region_write', p + name, { d: 0, index: 0, pos: IMS, value: cause });

  attachNic(w, p);
  w.op('device_fd', `${p}device_fd`, { g: 0, d: 0 });
  w.op('irq_info', `${p}irq_info`, { d: 0, index: 0 });
  status('status_open');
  // nothing to mask, unmask or trigger before INTx is enabled
  irq('unmask_not_enabled', F.unmask);
  irq('mask_not_enabled', F.mask);
  irq('trigger_not_enabled', F.triggerNone);
  irq('enable_bad_fd', F.triggerEfd, { data: 'efd:bad' });
  irq('enable', F.triggerEfd, { data: 'efd:0' });
  irq('enable_again', F.triggerEfd, { data: 'efd:0' });
  irq('msi_while_intx', F.triggerEfd, { data: 'efd:1' }, 1);
  // delivery masks the line; the user sees no INTx disable, the status clears when the NIC lets go
  fire('fire');
  got('delivered');
  status('status_after_fire');
  command('command_after_fire');
  fire('fire_masked');
  none('masked_none');
  readIcr('icr_masked');
  irq('unmask', F.unmask);
  none('unmask_none');
  // an interrupt still pending at unmask is sent again and the line stays masked
  fire('fire_again', TXQ0);
  got('delivered_again');
  assert('assert_masked', TXQ0);
  status('status_pending');
  irq('unmask_pending', F.unmask);
  got('resent');
  irq('unmask_bool_pending', F.unmaskBool, { data: 'bool:1' });
  got('resent_bool');
  irq('unmask_bool_zero', F.unmaskBool, { data: 'bool:0' });
  none('bool_zero_none');
  readIcr('icr_clear');
  status('status_cleared');
  irq('unmask_cleared', F.unmask);
  none('unmask_cleared_none');
  fire('fire_unmasked');
  got('delivered_unmasked');
  readIcr('icr_after_unmasked');
  irq('unmask_after_unmasked', F.unmask);
  // the mask ioctl
  irq('mask', F.mask);
  irq('mask_efd', F.maskEfd, { data: 'efd:1' });
  irq('mask_bool', F.maskBool, { data: 'bool:1' });
  fire('fire_mask_ioctl');
  none('mask_ioctl_none');
  readIcr('icr_mask_ioctl');
  irq('unmask_mask_ioctl', F.unmask);
  // INTx disable in the command register (virtual): masks, holds off unmask and the soft trigger
  setCommand('command_disintx', '0x406');
  command('command_disintx_read');
  fire('fire_disintx');
  none('disintx_none');
  irq('unmask_disintx', F.unmask);
  none('unmask_disintx_none');
  irq('trigger_disintx', F.triggerNone);
  none('trigger_disintx_none');
  assert('assert_disintx');
  setCommand('command_enable_intx', '0x6');
  got('resent_on_command');
  readIcr('icr_command');
  irq('unmask_command', F.unmask);
  // the soft trigger adds to the counter
  irq('trigger_none', F.triggerNone);
  irq('trigger_bool', F.triggerBool, { data: 'bool:1' });
  irq('trigger_bool_zero', F.triggerBool, { data: 'bool:0' });
  got('soft');
  // the unmask eventfd
  irq('unmask_efd', F.unmaskEfd, { data: 'efd:1' });
  irq('unmask_efd_busy', F.unmaskEfd, { data: 'efd:2' });
  irq('unmask_efd_bad', F.unmaskEfd, { data: 'efd:bad' });
  fire('fire_efd');
  got('delivered_efd');
  assert('assert_efd');
  w.op('efd_write', `${p}unmask_via_efd_pending`, { e: 1, value: 1 });
  got('resent_via_efd');
  none('efd_consumed', 1);
  readIcr('icr_efd');
  w.op('efd_write', `${p}unmask_via_efd`, { e: 1, value: 1 });
  none('unmask_via_efd_none');
  fire('fire_after_efd');
  got('delivered_after_efd');
  readIcr('icr_after_efd');
  irq('unmask_efd_off', F.unmaskEfd, { data: 'efd:-1' });
  w.op('efd_write', `${p}prime_unmask_efd`, { e: 1, value: 1 });
  irq('unmask_efd_primed', F.unmaskEfd, { data: 'efd:1' });
  w.op('efd_read', `${p}primed_count_kept`, { e: 1 });
  fire('fire_after_primed');
  got('delivered_after_primed');
  readIcr('icr_after_primed');
  irq('unmask_efd_off_again', F.unmaskEfd, { data: 'efd:-1' });
  irq('unmask_after_primed', F.unmask);
  // no trigger: the line is still masked on delivery, nothing is signalled
  irq('trigger_removed', F.triggerEfd, { data: 'efd:-1' });
  fire('fire_no_trigger');
  none('no_trigger_none');
  readIcr('icr_no_trigger');
  irq('unmask_no_trigger', F.unmask);
  irq('trigger_back', F.triggerEfd, { data: 'efd:0' });
  none('trigger_back_none');
  fire('fire_trigger_back');
  got('delivered_trigger_back');
  // disable; then MSI may be enabled, and INTx not while it is
  irq('disable', F.triggerNone, { count: 0 });
  irq('disable_again', F.triggerNone, { count: 0 });
  fire('fire_disabled');
  none('disabled_none');
  irq('msi_after_intx', F.triggerEfd, { data: 'efd:0' }, 1);
  irq('intx_while_msi', F.triggerEfd, { data: 'efd:0' });
  irq('msi_off', F.triggerNone, { count: 0 }, 1);
  // enabled while the user has INTx disabled: masked from the start
  setCommand('command_disintx_before_enable', '0x406');
  irq('enable_disintx', F.triggerEfd, { data: 'efd:0' });
  fire('fire_enable_disintx');
  none('enable_disintx_none');
  setCommand('command_enable_after', '0x6');
  none('command_enable_after_none');
  fire('fire_enable_after');
  got('delivered_enable_after');
  // a new open starts unmasked
  w.op('close_device', `${p}close_device`, { d: 0 });
  w.op('device_fd', `${p}device_fd_again`, { g: 0, d: 0 });
  status('status_reopen');
  command('command_reopen');
  irq('enable_reopen', F.triggerEfd, { data: 'efd:0' });
  fire('fire_reopen');
  got('delivered_reopen');
  irq('disable_reopen', F.triggerNone, { count: 0 });
  w.op('close_device', `${p}close_device_again`, { d: 0 });
  detachNic(w, p);
  return w.text();
}
