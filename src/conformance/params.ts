/**
 * The module-parameter scenario (`common/params.iovx`, every machine): writes of awkward text to
 * /sys/module/vfio_iommu_type1/parameters/* and what reads back (kstrtouint for dma_entry_limit: sign,
 * radix prefixes, overflow; kstrtobool for the two booleans: only the first one or two characters
 * count), then the defaults again.
 */

import { scenarioWriter } from './attach.js';

const LIMIT_VALUES = ['+16', '0X20', '0x', '010', '08', '4294967295', '4294967296', '-1', '1a', '0', '65535'];
const BOOL_VALUES = ['yes', 'Yellow', '1xyz', 'on', 'oFF', 'o', 'true', 'n', 'Y', 'N', '2'];

export function paramsScenario(): string {
  const w = scenarioWriter('params');
  LIMIT_VALUES.forEach((v, i) => {
    w.op('param_set', `p.limit_set${i}`, { p: 'dma_entry_limit', value: v });
    w.op('param_get', `p.limit_get${i}`, { p: 'dma_entry_limit' });
  });
  for (const p of ['allow_unsafe_interrupts', 'disable_hugepages']) {
    const short = p === 'allow_unsafe_interrupts' ? 'unsafe' : 'huge';
    BOOL_VALUES.forEach((v, i) => {
      w.op('param_set', `p.${short}_set${i}`, { p, value: v });
      w.op('param_get', `p.${short}_get${i}`, { p });
    });
    w.op('param_set', `p.${short}_default`, { p, value: '0' });
  }
  w.op('param_get', 'p.nope', { p: 'no_such_param' });
  w.op('param_set', 'p.limit_default', { p: 'dma_entry_limit', value: '65535' });
  return w.text();
}
