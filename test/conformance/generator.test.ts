import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng, generateScenario } from '../../src/conformance/generator.js';
import { parseCompiled } from '../../src/conformance/compiled.js';
import { suiteFiles, DIRTY_FILE, GEN_MEMLOCK_SCENARIOS, GEN_SCENARIOS } from '../../src/conformance/suite.js';
import { MACHINES } from '../../src/conformance/machines.js';

test('the PRNG is deterministic per seed', () => {
  const a = new Prng(42);
  const b = new Prng(42);
  const c = new Prng(43);
  const xs = Array.from({ length: 5 }, () => a.u32());
  assert.deepEqual(
    xs,
    Array.from({ length: 5 }, () => b.u32()),
  );
  assert.notDeepEqual(
    xs,
    Array.from({ length: 5 }, () => c.u32()),
  );
  for (let i = 0; i < 1000; i++) {
    const v = a.int(7);
    assert.ok(v >= 0 && v < 7);
  }
});

test('a generated scenario is a pure function of (seed, index) and parses', () => {
  const t1 = generateScenario(7, 3, { steps: 120 });
  assert.equal(generateScenario(7, 3, { steps: 120 }), t1);
  assert.notEqual(generateScenario(7, 4, { steps: 120 }), t1);
  const stmts = parseCompiled(t1, 'gen.iovx');
  const ops = stmts.filter((s) => s.kind === 'op');
  assert.ok(ops.length >= 120, `${ops.length} operations`);
  const names = new Set(ops.map((o) => (o.kind === 'op' ? o.name : '')));
  assert.equal(names.size, ops.length, 'case names are unique');
});

test('generated scenarios leave the kernel clean: parameters restored, fds closed', () => {
  for (let i = 0; i < 6; i++) {
    const ops = parseCompiled(generateScenario(11, i, { steps: 200 }), 'g').flatMap((s) =>
      s.kind === 'op' ? [s] : [],
    );
    const tail = ops.slice(-2).map((o) => `${o.op} ${o.fields.get('p')}=${o.fields.get('value')}`);
    assert.deepEqual(tail, ['param_set dma_entry_limit=65535', 'param_set allow_unsafe_interrupts=0']);
    // every open container/group/device slot is closed at the end
    const open = new Map<string, boolean>();
    for (const o of ops) {
      const key = (k: string): string => `${k}${o.fields.get(k) ?? '0'}`;
      if (o.op === 'open_container') open.set(key('c'), true);
      if (o.op === 'close_container') open.set(key('c'), false);
      if (o.op === 'open_group') open.set(key('g'), true);
      if (o.op === 'close_group') open.set(key('g'), false);
      if (o.op === 'device_fd') open.set(key('d'), true);
      if (o.op === 'close_device') open.set(key('d'), false);
    }
    assert.deepEqual(
      [...open].filter(([, v]) => v),
      [],
    );
  }
});

test('generated addresses never leave u64 and cover every op family', () => {
  const seen = new Set<string>();
  for (let i = 0; i < GEN_SCENARIOS; i++) {
    for (const s of parseCompiled(generateScenario(1, i, { steps: 250 }), 'g')) {
      if (s.kind !== 'op') continue;
      seen.add(s.op);
      for (const k of ['iova', 'size', 'base']) {
        const v = s.fields.get(k);
        if (v !== undefined) assert.ok(BigInt(v) < 1n << 64n, `${k}=${v}`);
      }
    }
  }
  for (const op of [
    'map',
    'unmap',
    'get_info',
    'set_container',
    'unset_container',
    'set_iommu',
    'param_set',
    'fill',
    'set_irqs',
    'device_fd',
  ])
    assert.ok(seen.has(op), op);
});

test('the suite has a probe per machine (the iommufd scenario on the iommufd ones) and the common generated set', () => {
  const files = suiteFiles();
  for (const m of MACHINES)
    assert.ok(files.some((f) => f.path === `${m.name}/${m.suite === 'iommufd' ? 'iommufd' : 'probe'}.iovx`));
  assert.equal(files.filter((f) => /^common\/gen-\d/.test(f.path)).length, GEN_SCENARIOS);
  assert.equal(files.filter((f) => f.path.startsWith('common/gen-memlock-')).length, GEN_MEMLOCK_SCENARIOS);
  assert.ok(files.some((f) => f.path === `common/${DIRTY_FILE}`));
  for (const f of files) parseCompiled(f.text, f.path);
});

test('generated locked-memory scenarios change limits, the capability and mlock, and put everything back', () => {
  const text = generateScenario(7, 200, { steps: 250, limits: true });
  for (const op of ['rlimit_memlock', 'cap_ipc_lock', 'vmlck'])
    assert.match(text, new RegExp(`^${op} `, 'm'), op);
  assert.match(text, /^m(un)?lock /m);
  const tail = text.trimEnd().split('\n').slice(-2);
  assert.deepEqual(
    tail.map((l) => l.replace(/ s\S+/, '')),
    ['cap_ipc_lock value=1', 'rlimit_memlock value=0x800000'],
  );
  assert.doesNotMatch(generateScenario(7, 200, { steps: 250 }), /rlimit_memlock|cap_ipc_lock|mlock|vmlck/);
});
