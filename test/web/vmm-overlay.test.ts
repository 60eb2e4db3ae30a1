import { test } from 'node:test';
import assert from 'node:assert/strict';
import { conflictLines as explainLines } from '../../src/vmm/explain.js';
import { VMM_MODELS } from '../../src/vmm/registry.js';
import { conflictLines, vmmOverlay } from '../../src/web/vmm-overlay.js';
import { X86_AMD } from './fixtures.js';

test('the overlay explains a conflict with the words of `iovamap check` (src/vmm/explain)', () => {
  const model = VMM_MODELS.find((m) => m.id === 'cloud-hypervisor-x86_64')!;
  const r = vmmOverlay(X86_AMD, { model, memory: 1024n << 30n, groups: [2] });
  assert.equal(r.ok, true);
  if (!r.ok) return;
  const c = r.report.conflicts[0]!;
  const lines = conflictLines(c, model.family);
  assert.deepEqual(
    lines,
    explainLines(c, model.family).map((l) => `${'  '.repeat(l.depth)}${l.text}`),
  );
  assert.match(lines[0]!, /^overlaps .* 0x000000fd00000000-0x000000ffffffffff \(12 GiB\) "reserved"/);
  const drawn = r.overlay.items.find((i) => i.layer === 'conflict')!;
  assert.deepEqual(drawn.notes, lines);
  // Many causes: the first ones, a count of the rest, then VFIO's answer and the effect.
  const many = { ...c, causes: Array.from({ length: 9 }, () => c.causes[0]!) };
  const capped = conflictLines(many, model.family, 2);
  assert.equal(capped.filter((l) => l.startsWith('overlaps ')).length, 2);
  const more = capped.indexOf('… and 7 more overlapping regions');
  assert.ok(more > 0 && capped[more + 1]!.startsWith('VFIO: '), capped.join('\n'));
});
