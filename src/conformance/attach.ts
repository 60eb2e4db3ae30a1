/**
 * The opening and closing steps the hand-written conformance scenarios share (and their writer): the NIC's group (slot
 * g0) in a TYPE1v2 container with `allow_unsafe_interrupts=1` (so GICv2m machines attach too), and back.
 * Case names are `<prefix>unsafe`, `<prefix>open_container`, ... as the goldens record them.
 */

import { CompiledWriter } from './compiled.js';

/** A writer for a hand-written scenario: full output format, one section. */
export function scenarioWriter(section: string): CompiledWriter {
  return new CompiledWriter().directive('format', 'full').directive('section', section);
}

export function attachNic(w: CompiledWriter, p: string, extra: (w: CompiledWriter) => void = () => {}): void {
  w.op('param_set', `${p}unsafe`, { p: 'allow_unsafe_interrupts', value: '1' });
  extra(w);
  w.op('open_container', `${p}open_container`);
  w.op('open_group', `${p}open_group`, { g: 0 });
  w.op('set_container', `${p}set_container`, { g: 0 });
  w.op('set_iommu', `${p}set_iommu`, { type: 3 });
}

/** Closes the group and the container, then `allow_unsafe_interrupts=0` again. */
export function detachNic(w: CompiledWriter, p: string): void {
  w.op('close_group', `${p}close_group`, { g: 0 });
  w.op('close_container', `${p}close_container`);
  w.op('param_set', `${p}safe`, { p: 'allow_unsafe_interrupts', value: '0' });
}
