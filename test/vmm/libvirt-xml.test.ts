/**
 * Reading a libvirt domain (virsh dumpxml) back into a layout request, and the RLIMIT_MEMLOCK libvirt
 * gives QEMU for it (qemuDomainGetMemLockLimitBytes): the hard limit, <locked/>, or VFIO's rule.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IovamapError } from '../../src/base/errors.js';
import { parseLibvirtDomain } from '../../src/vmm/libvirt-xml.js';
import { fixtureText } from './fixtures.js';

const G = 1n << 30n;
const XML = fixtureText('libvirt-gpu-viommu.xml');

test('a domain: machine, memory, CPU, devices, vIOMMU and the hard limit libvirt applies', () => {
  const d = parseLibvirtDomain(XML, 'gpu.xml');
  assert.equal(d.name, 'gpu-box');
  assert.equal(d.arch, 'x86_64');
  assert.equal(d.machine, 'pc-q35-8.2');
  assert.equal(d.memory, 8n * G);
  assert.deepEqual(d.options, { 'cpu-vendor': 'amd', 'phys-bits': '42' });
  assert.deepEqual(d.devices, ['0000:00:01.0', '0000:00:02.0']);
  assert.equal(d.viommu, 'intel-iommu');
  assert.equal(d.memlock, 8n * G);
  assert.match(d.memlockWhy!, /hard_limit, 8 GiB/);
  assert.equal(d.locked, false);
  assert.match(
    d.notes[0]!,
    /^read from the libvirt domain gpu-box \(gpu\.xml\): machine pc-q35-8\.2, 8 GiB of RAM, VFIO 0000:00:01\.0, 0000:00:02\.0, behind intel-iommu$/,
  );
});

test("libvirt's own limit: memory + 1 GiB, times the VFIO devices behind a vIOMMU; unlimited for <locked/>", () => {
  const noHard = XML.replace(/<memtune>[\s\S]*?<\/memtune>/, '');
  assert.equal(parseLibvirtDomain(noHard, 'x').memlock, 2n * 8n * G + G);
  const noIommu = noHard.replace(/<iommu[\s\S]*?<\/iommu>/, '');
  const one = parseLibvirtDomain(noIommu, 'x');
  assert.equal(one.memlock, 8n * G + G);
  assert.equal(one.viommu, undefined);
  const locked = noHard.replace('<vcpu', '<memoryBacking><locked/></memoryBacking>\n  <vcpu');
  const l = parseLibvirtDomain(locked, 'x');
  assert.equal(l.memlock, 'unlimited');
  assert.equal(l.locked, true);
  // no VFIO device: libvirt leaves the limit alone
  const none = noIommu.replace(/<hostdev[\s\S]*?<\/hostdev>/g, '');
  assert.equal(parseLibvirtDomain(none, 'x').memlock, undefined);
  // memory devices count in <memory> but not in the boot RAM
  const dimm = noHard.replace(
    '</devices>',
    "<memory model='dimm'><target><size unit='GiB'>2</size><node>0</node></target></memory></devices>",
  );
  const dm = parseLibvirtDomain(dimm, 'x');
  assert.equal(dm.memory, 6n * G);
  assert.equal(dm.memlock, 2n * 8n * G + G);
  // the other units libvirt writes
  for (const [unit, v, bytes] of [
    ['b', '8589934592', 8n * G],
    ['MiB', '8192', 8n * G],
    ['GB', '8', 8_000_000_000n],
  ] as const) {
    const x = XML.replace("<memory unit='KiB'>8388608</memory>", `<memory unit='${unit}'>${v}</memory>`);
    assert.equal(parseLibvirtDomain(x, 'x').memory, bytes, unit);
  }
});

test('domain mistakes name the line and the element', () => {
  const bad = (text: string, re: RegExp) =>
    assert.throws(
      () => parseLibvirtDomain(text, 'dom.xml'),
      (e: unknown) => e instanceof IovamapError && re.test(e.message),
      text,
    );
  bad('<domain>\n<memory>8</memory>\n</devices>', /^dom\.xml:3: <\/devices> closes <domain> \(line 1\)/);
  bad('<domain>\n<memory>8', /<memory> \(line 2\) is not closed/);
  bad("<domain><memory unit='KiB'>lots</memory></domain>", /^dom\.xml:1: <memory> "lots" KiB: not a size/);
  bad("<domain><memory unit='parsecs'>1</memory></domain>", /not a size/);
  bad('<domain/>', /the domain has no <memory>/);
  bad('<network/>', /the root element is <network>, not <domain>/);
  bad('', /empty document/);
  bad(
    "<domain><memory>1048576</memory><devices><hostdev mode='subsystem' type='pci'><source><address bus='zz'/></source></hostdev></devices></domain>",
    /<hostdev>: its <source><address> is not a PCI address/,
  );
  bad(
    "<domain><memory>1048576</memory><os><type arch='s390x'>hvm</type></os></domain>",
    /only x86_64 and aarch64/,
  );
  bad('<domain><memory>1</memory>&bogus;</domain>', /unknown entity &bogus;/);
  bad('<domain><memory>1&#x110000;</memory></domain>', /&#x110000; is not a character/);
});
