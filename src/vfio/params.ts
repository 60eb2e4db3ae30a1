/**
 * The vfio_iommu_type1 module parameters as sysfs text (/sys/module/vfio_iommu_type1/parameters/<p>):
 * `allow_unsafe_interrupts` and `disable_hugepages` are bools (param_get_bool prints Y/N,
 * param_set_bool takes kstrtobool text), `dma_entry_limit` a uint (kstrtouint).
 */
import { ERRNO } from '../base/errno.js';
import type { Type1Params } from './type1/type1.js';

export const TYPE1_PARAM_NAMES = ['allow_unsafe_interrupts', 'dma_entry_limit', 'disable_hugepages'] as const;
export type Type1ParamName = (typeof TYPE1_PARAM_NAMES)[number];

export function isType1ParamName(s: string): s is Type1ParamName {
  return (TYPE1_PARAM_NAMES as readonly string[]).includes(s);
}

/** The file's content (with the trailing newline sysfs adds). */
export function readType1Param(p: Type1Params, name: Type1ParamName): string {
  switch (name) {
    case 'allow_unsafe_interrupts':
      return p.allowUnsafeInterrupts ? 'Y\n' : 'N\n';
    case 'disable_hugepages':
      return p.disableHugepages ? 'Y\n' : 'N\n';
    case 'dma_entry_limit':
      return `${p.dmaEntryLimit >>> 0}\n`;
  }
}

/** kstrtobool: y/Y/1/on -> true, n/N/0/off -> false (first characters), else undefined. */
function kstrtobool(s: string): boolean | undefined {
  const t = s.replace(/\n$/, '');
  if (/^[yY1]/.test(t) || /^[oO][nN]/.test(t)) return true;
  if (/^[nN0]/.test(t) || /^[oO][fF]/.test(t)) return false;
  return undefined;
}

/** A write to the file: 0 or -EINVAL (the text is not a valid value). */
export function writeType1Param(p: Type1Params, name: Type1ParamName, text: string): number {
  if (name === 'dma_entry_limit') {
    const t = text.replace(/\n$/, '').trim();
    if (!/^(0x[0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.test(t)) return -ERRNO.EINVAL;
    const v = t.startsWith('0x')
      ? parseInt(t, 16)
      : t.length > 1 && t.startsWith('0')
        ? parseInt(t, 8)
        : Number(t);
    if (!Number.isSafeInteger(v) || v > 0xffffffff) return -ERRNO.ERANGE;
    p.dmaEntryLimit = v;
    return 0;
  }
  const b = kstrtobool(text);
  if (b === undefined) return -ERRNO.EINVAL;
  if (name === 'allow_unsafe_interrupts') p.allowUnsafeInterrupts = b;
  else p.disableHugepages = b;
  return 0;
}
