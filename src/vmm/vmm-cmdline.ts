/**
 * A VMM command line of any modelled kind (QEMU, cloud-hypervisor, crosvm) read back into a
 * GuestDescription: the last command in the text that starts one of them decides which reader runs.
 * Pure and browser-safe.
 */
import { InputError } from '../base/errors.js';
import { commandWords, type Word } from '../base/shell-words.js';
import { isQemuBinary, logQemuRelease, parseQemuWords, type QemuCommandLine } from './qemu-cmdline.js';
import { parseCloudHypervisorWords, parseCrosvmWords, rustVmmOf } from './rust-vmm-cmdline.js';
import type { GuestDescription } from './types.js';

/** What a command line says; `bridges` only for QEMU (see QemuCommandLine). */
export type VmmCommandLine = GuestDescription & Partial<Pick<QemuCommandLine, 'bridges' | 'memLock'>>;

/** Reads the last QEMU, cloud-hypervisor or crosvm command in `text`; `source` names it in messages. */
export function parseVmmCommandLine(text: string, source: string): VmmCommandLine {
  let last: { kind: 'qemu' | 'cloud-hypervisor' | 'crosvm'; words: Word[] } | undefined;
  for (const c of commandWords(text, source)) {
    for (let i = 0; i < c.length; i++) {
      const w = c[i]!.text;
      const kind = isQemuBinary(w) ? 'qemu' : rustVmmOf(w);
      if (kind !== undefined) {
        last = { kind, words: c.slice(i) };
        break;
      }
    }
  }
  if (last === undefined)
    throw new InputError(
      `${source}: no VMM command found (qemu-system-*, qemu-kvm, cloud-hypervisor, crosvm)`,
      {
        hint: 'give the command line the VMM was started with: a script, a libvirt log, or pid:N',
      },
    );
  // /proc/PID/cmdline has no lines to name
  const lines = !text.includes('\0');
  if (last.kind === 'qemu') return parseQemuWords(last.words, source, lines, logQemuRelease(text));
  return last.kind === 'crosvm'
    ? parseCrosvmWords(last.words, source, lines)
    : parseCloudHypervisorWords(last.words, source, lines);
}
