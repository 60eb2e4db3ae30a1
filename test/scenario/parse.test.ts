import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { InputError } from '../../src/base/errors.js';
import { parseScenario } from '../../src/scenario/parse.js';
import { builtinScenarioText, builtinScenarios } from '../../src/scenario/runner.js';

const HEAD = 'name: t\nplatform: qemu-q35-intel-iommu\nsteps:\n  - open_container: { name: c }\n';

function fails(text: string, line: number, re: RegExp, field?: RegExp): InputError {
  try {
    parseScenario(text, 't.yaml');
  } catch (e) {
    assert.ok(e instanceof InputError, String(e));
    assert.equal(e.file, 't.yaml');
    assert.equal(e.line, line, e.message);
    assert.match(e.message, re);
    if (field) assert.match(e.field ?? '', field);
    return e;
  }
  assert.fail('expected an InputError');
}

test('every shipped scenario loads', () => {
  const names = builtinScenarios();
  for (const n of ['probe_full', 'probe_full_type1_v1', 'probe_limit', 'probe_multi_group', 'probe_attach']) {
    assert.ok(names.includes(n), n);
  }
  for (const n of names) parseScenario(builtinScenarioText(n)!, `${n}.yaml`);
});

test('unknown step names the line and suggests steps', () => {
  const e = fails(HEAD + '  - map_dam: { name: m, iova: 0, size: 0x1000 }\n', 5, /unknown step "map_dam"/);
  assert.match(e.hint ?? '', /map_dma/);
});

test('unknown ioctl name is caught at load time', () => {
  fails(
    HEAD + '  - ioctl:\n      name: x\n      fd: container\n      cmd: VFIO_FROB\n',
    8,
    /unknown ioctl "VFIO_FROB"/,
    /ioctl\.cmd/,
  );
});

test('bad numbers and expressions name the field', () => {
  fails(
    HEAD + '  - map_dma: { name: m, iova: 0x12zz, size: 0x1000 }\n',
    5,
    /bad number or expression/,
    /map_dma\.iova/,
  );
  fails(HEAD + '  - map_dma: { name: m, iova: (1 + , size: 0x1000 }\n', 5, /bad number or expression/);
  fails('name: t\nparams:\n  dma_entry_limit: lots\nsteps: []\n', 3, /expected a number/, /dma_entry_limit/);
});

test('a number literal above 2^64-1 is a mistake, not silently wrapped', () => {
  fails(
    HEAD + '  - map_dma: { name: m, iova: 0x1ffffffffffffffff, size: 0x1000 }\n',
    5,
    /does not fit in 64 bits/,
    /map_dma\.iova/,
  );
  fails(
    HEAD + '  - check_extension: { name: e, ext: 99999999999999999999999 }\n',
    5,
    /does not fit in 64 bits/,
  );
  fails(HEAD + '  - map_dma: { name: m, iova: 0, size: 16EiB }\n', 5, /does not fit in 64 bits/);
  fails(HEAD + '  - info: "x=${hex(18446744073709551616)}"\n', 5, /does not fit in 64 bits/);
  // the largest u64 and wrapping arithmetic stay valid
  parseScenario(HEAD + '  - map_dma: { name: m, iova: 0xffffffffffffffff, size: 15EiB + 1 }\n', 't.yaml');
});

test('a binary file is reported as not YAML text, with the line of the first control byte', () => {
  fails('\u0000\u0001\u0002name: t\nsteps: []\n', 1, /not a YAML text file: control character 0x00/);
  fails(HEAD + '  - info: "a\u0007b"\n', 5, /control character 0x07/);
});

test('an absurdly nested or long expression is a mistake, not an internal stack overflow', () => {
  fails(HEAD + '  - info: "${' + '('.repeat(20000) + '1' + ')'.repeat(20000) + '}"\n', 5, /too long/);
  fails(HEAD + '  - info: "${' + '('.repeat(1000) + '1' + ')'.repeat(1000) + '}"\n', 5, /nested too deeply/);
  fails(HEAD + '  - info: "${' + '-'.repeat(1000) + '1}"\n', 5, /nested too deeply/);
  fails(HEAD + '  - info: "${' + '1+'.repeat(50000) + '1}"\n', 5, /too long/);
  // ordinary nesting stays fine
  parseScenario(HEAD + '  - info: "${' + '('.repeat(50) + '1' + ')'.repeat(50) + '}"\n', 't.yaml');
});

test('duplicate memory region names are a mistake (the name is a variable)', () => {
  fails(
    'name: t\nmemory:\n  - { name: a, start: 0x1000, size: 0x1000, prot: rw }\n' +
      '  - { name: a, start: 0x9000, size: 0x1000, prot: rw }\nsteps: []\n',
    4,
    /duplicate memory region "a"/,
  );
});

test('missing fields, unknown fields and wrong types', () => {
  fails(HEAD + '  - map_dma: { name: m, iova: 0x1000 }\n', 5, /missing field "size"/);
  fails(HEAD + '  - map_dma: { name: m, iova: 0, size: 1, colour: red }\n', 5, /unknown field "colour"/);
  fails(HEAD + '  - group_status: { name: g, brief: maybe }\n', 5, /true or false/);
  fails(HEAD + '  - read_param: frobs\n', 5, /unknown module parameter/);
});

test('top-level mistakes', () => {
  fails('name: t\nkernel: "5.4"\nsteps: []\n', 2, /unknown kernel/);
  fails('name: t\nsteps: []\nplatfrom: x\n', 3, /unknown top-level key "platfrom"/);
  fails('steps: []\n', 1, /missing "name"/);
  fails(
    'name: t\nmemory:\n  - { name: b, start: 0, size: 4KiB, prot: rwx }\nsteps: []\n',
    3,
    /bad protection/,
  );
  fails('name: t\nsteps:\n  - open_container: { name: [ }\n', 3, /YAML syntax/);
});

test('expressions: sizes, u64 wrap, members, templates', () => {
  const sc = parseScenario(HEAD + '  - info: "x=${hex(16MiB)} y=${hex(0 - 1)}"\n', 't.yaml');
  assert.equal(sc.steps.length, 2);
});

test('a YAML alias is refused where it is used, with what to write instead', () => {
  const e = fails(
    'name: t\nplatform: qemu-q35-intel-iommu\nsteps:\n  - open_container: { name: &c c }\n  - get_api_version: { fd: *c }\n',
    5,
    /YAML alias \*c is not supported in scenario files/,
  );
  assert.match(e.hint ?? '', /vars:/);
});
