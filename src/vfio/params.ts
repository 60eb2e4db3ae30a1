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

/**
 * kstrtobool (lib/kstrtox.c): only the first character decides, the second after an `o`: e/E, y/Y,
 * t/T, 1 and `on` are true; d/D, n/N, f/F, 0 and `off` false; anything else undefined (-EINVAL).
 * ("true", "Yellow" and "1xyz" are true, as the conformance runs show.)
 */
export function kstrtobool(s: string): boolean | undefined {
  if (/^([eEyYtT1]|[oO][nN])/.test(s)) return true;
  if (/^([dDnNfF0]|[oO][fF])/.test(s)) return false;
  return undefined;
}

/**
 * kstrtouint(s, 0): an optional leading `+`, the radix from the prefix (`0x`/`0X` followed by a hex
 * digit: 16; another leading `0`: 8; else 10), at least one digit, at most one trailing newline and
 * nothing else (no spaces); -ERANGE beyond u64 while parsing or beyond u32 at the end.
 */
function kstrtouint(text: string): number {
  let s = text.startsWith('+') ? text.slice(1) : text;
  let base = 10;
  if (s[0] === '0') {
    if ((s[1] === 'x' || s[1] === 'X') && /^[0-9a-fA-F]$/.test(s[2] ?? '')) {
      base = 16;
      s = s.slice(2);
    } else base = 8;
  }
  let v = 0n;
  let i = 0;
  let overflow = false;
  for (; i < s.length; i++) {
    const d = parseInt(s[i]!, 16);
    if (Number.isNaN(d) || d >= base) break;
    v = v * BigInt(base) + BigInt(d);
    if (v > 0xffffffffffffffffn) overflow = true;
  }
  // kstrtoull: overflow first, then no digit, then what follows; kstrtouint: the u32 range
  if (overflow) return -ERRNO.ERANGE;
  if (i === 0) return -ERRNO.EINVAL;
  const rest = s.slice(i);
  if (rest !== '' && rest !== '\n') return -ERRNO.EINVAL;
  if (v > 0xffffffffn) return -ERRNO.ERANGE;
  return Number(v);
}

/** A write to the file: 0 or -EINVAL (the text is not a valid value). */
export function writeType1Param(p: Type1Params, name: Type1ParamName, text: string): number {
  if (name === 'dma_entry_limit') {
    const v = kstrtouint(text);
    if (v < 0) return v;
    p.dmaEntryLimit = v;
    return 0;
  }
  const b = kstrtobool(text);
  if (b === undefined) return -ERRNO.EINVAL;
  if (name === 'allow_unsafe_interrupts') p.allowUnsafeInterrupts = b;
  else p.disableHugepages = b;
  return 0;
}
