/**
 * `iovamap check --vmm NAME --memory SIZE [host]`: every guest range a VMM would DMA-map that VFIO
 * refuses for the groups being assigned, why, what the VMM prints, and what would fix it.
 * Exit status: 0 fits, 1 conflicts (or a group VFIO refuses), 2 usage or input error.
 */
import { bool, defineCommand } from './args.js';
import { styleFor, toJson } from './output.js';
import {
  HOST_OPTIONS,
  VMM_OPTIONS,
  hostGroups,
  layoutLines,
  loadHost,
  exactSize,
  BACKEND_OPTIONS,
  vfioConstraints,
  MEMLOCK_OPTION,
  optionsText,
  rangeText,
  VIOMMU_OPTION,
  vmmOptionsHelp,
  vmmRequest,
  withGuestDescription,
} from './vmm-args.js';
import { checkLayout, type CheckReport } from '../vmm/check.js';
import { blockerLines, conflictLines, conflictTitle, memlockLines } from '../vmm/explain.js';
import { memlockAdvice } from '../vmm/memlock.js';
import { planLayout, type Plan } from '../vmm/plan.js';
import { hostDefaults } from '../vmm/host-defaults.js';
import { VMM_MODELS } from '../vmm/registry.js';

function jsonReport(r: CheckReport, plan: Plan | undefined, notes: readonly string[]): unknown {
  return {
    schema: 'iovamap-check/1',
    vmm: r.layout.vmm,
    backend: r.backend,
    memory: r.layout.memory,
    options: r.layout.options,
    fits: r.fits,
    groups: r.groups.map((g) => ({ id: g.id, devices: g.devices })),
    usable: r.usable,
    layout: r.layout.ranges,
    conflicts: r.conflicts.map((c) => ({
      range: c.range,
      outside: c.outside,
      fatal: c.fatal,
      causes: c.causes.map((x) =>
        x.kind === 'region'
          ? { kind: x.kind, name: x.name, why: x.why, region: x.region, overlap: x.overlap, groups: x.groups }
          : x,
      ),
      vfio: c.vfio,
      vmmPrints: c.failure.lines,
      effect: c.failure.effect,
    })),
    blockers: r.blockers,
    ...(r.memlock
      ? {
          memlock: {
            limit: r.memlock.limit,
            pageSize: r.memlock.pageSize,
            pageSizeAssumed: r.memlock.pageSizeAssumed,
            pinned: r.memlock.pinned,
            containers: r.memlock.containers,
            perContainer: r.memlock.perContainer,
            ...(r.memlock.accounting !== undefined ? { accounting: r.memlock.accounting } : {}),
            userLocked: r.memlock.userLocked,
            ...(r.memlock.failure
              ? {
                  refused: {
                    container: r.memlock.failure.container,
                    ...r.memlock.failure.owner,
                    range: r.memlock.failure.range,
                    chargedBefore: r.memlock.failure.chargedBefore,
                    vfio: r.memlock.failure.vfio,
                    ...(r.memlock.failure.kernelLog !== undefined
                      ? { kernelLog: r.memlock.failure.kernelLog }
                      : {}),
                    vmmPrints: r.memlock.failure.failure.lines,
                    effect: r.memlock.failure.failure.effect,
                    fix: memlockAdvice(r.memlock),
                  },
                }
              : {}),
          },
        }
      : {}),
    fixes: plan
      ? [plan.largest, ...plan.options, ...plan.others]
          .filter((s) => s !== undefined)
          .map((s) => ({
            kind: s.kind,
            vmm: s.model.id,
            memory: s.layout.memory,
            commandLine: s.commandLine,
            why: s.why,
          }))
      : [],
    notes: [...notes, ...r.layout.notes, ...r.notes],
  };
}

export const checkCommand = defineCommand(
  {
    name: 'check',
    summary: 'check a VM memory layout against the host reserved IOVA regions',
    description:
      'Lays the guest out as the VMM would, then checks every range it DMA-maps for VFIO against the usable\n' +
      'IOVA ranges of the groups being assigned. Exit status: 0 fits, 1 conflicts, 2 usage or input error.\n\n' +
      vmmOptionsHelp(),
    options: [
      ...VMM_OPTIONS,
      ...HOST_OPTIONS,
      { name: 'p2p', type: 'boolean', help: 'also check the PCI windows where BARs land (peer-to-peer DMA)' },
      MEMLOCK_OPTION,
      VIOMMU_OPTION,
      ...BACKEND_OPTIONS,
      { name: 'json', type: 'boolean', help: 'print JSON (schema iovamap-check/1, docs/check-json.md)' },
    ],
    examples: [
      [
        'iovamap check --vmm qemu --machine pc-q35-7.0 --memory 1047296M --regions amd.txt --opt cpu-vendor=amd',
        'a ~1 TiB guest on an AMD host (the HyperTransport hole); amd.txt is a copy of a reserved_regions file',
      ],
      [
        'iovamap check --vmm qemu --machine virt --memory 4G --regions /sys/kernel/iommu_groups/28/reserved_regions',
        'an arm64 guest on an x86 host',
      ],
      [
        'iovamap check --vmm cloud-hypervisor --memory 16G --sysfs /sys --device 0000:01:00.0',
        'one device of this host',
      ],
      [
        'iovamap check --vmm qemu --memory 8G --platform qemu-q35-intel-iommu --memlock 4G',
        'a VMM without CAP_IPC_LOCK whose RLIMIT_MEMLOCK is too small for the RAM VFIO pins',
      ],
      [
        'iovamap check --qemu-cmdline win11.log --platform qemu-q35-intel-iommu --memlock 16G',
        "the guest, devices and vIOMMU of a libvirt domain's last start (a copy of /var/log/libvirt/qemu/win11.log)",
      ],
      [
        'iovamap check --vmm qemu --memory 16G --platform qemu-q35-intel-iommu --backend iommufd --memlock 20G --user-locked 8G',
        'QEMU on iommufd, whose pins count per user: another VM of the same user holds 8 GiB',
      ],
      [
        'iovamap check --cmdline ch.sh --platform qemu-q35-intel-iommu',
        'the guest and devices of a cloud-hypervisor or crosvm command (a script; pid:N for a running VMM)',
      ],
      [
        'iovamap check --libvirt-xml gpu.xml --platform qemu-q35-intel-iommu',
        'a libvirt domain (virsh dumpxml gpu > gpu.xml), with the RLIMIT_MEMLOCK libvirt sets for it',
      ],
    ],
  },
  async (given) => {
    const guest = withGuestDescription(given);
    const { args: a, notes: cmdNotes, described, hardLimit } = guest;
    const host = loadHost(a);
    const { model, request, notes: reqNotes } = vmmRequest(a, host, described);
    const { groups, notes: selNotes } = hostGroups(a, host);
    const p2p = bool(a, 'p2p');
    const laid = model.layout(request);
    if (!laid.ok) throw new Error('unreachable: vmmRequest validated the layout');
    const constraints = vfioConstraints(a, model, guest);
    const viommu = constraints.options.viommu === true;
    const report = checkLayout(model, laid.layout, host, groups, { p2p, ...constraints.options });
    const plan =
      (report.conflicts.some((c) => c.fatal) || report.memlock?.failure) && report.blockers.length === 0
        ? planLayout(model, request, host, groups, {
            others: VMM_MODELS,
            defaultsFor: (m) => hostDefaults(m, host, {}).options,
            ...constraints.options,
          })
        : undefined;
    const notes = [...cmdNotes, ...reqNotes, ...selNotes, ...host.notes, ...constraints.notes];
    if (hardLimit && report.memlock?.failure) {
      // libvirt hands the hard limit to setrlimit: that is the number to raise
      const kib = (report.memlock.pinned + 1023n) / 1024n;
      notes.push(
        `the limit is the domain's <memtune> hard_limit: raise it to at least ${kib} KiB ` +
          `(<hard_limit unit='KiB'>${kib}</hard_limit>), or remove it and libvirt sets its own`,
      );
    }
    if (bool(a, 'json')) {
      process.stdout.write(toJson(jsonReport(report, plan, notes)));
      return report.fits ? 0 : 1;
    }
    const st = styleFor(process.stdout);
    const out: string[] = [];
    out.push(
      st.bold(`${model.label}, ${exactSize(request.memory)} of RAM`) +
        `  (options: ${optionsText(laid.layout.options)})`,
    );
    out.push(
      `host: ${host.source}; assigning ${
        groups.length === 0
          ? 'no group'
          : groups
              .map((g) => `group ${g.id}${g.devices.length ? ` (${g.devices.join(', ')})` : ''}`)
              .join(', ')
      }${viommu && groups.length > 0 ? ` behind a vIOMMU (${report.backend === 'iommufd' ? 'an IOAS' : 'a container'} each)` : ''}${report.backend === 'iommufd' ? ', through iommufd' : ''}`,
    );
    out.push('', `guest ranges ${model.family} DMA-maps for VFIO:`, ...layoutLines(laid.layout, p2p));
    out.push(
      '',
      report.backend === 'iommufd'
        ? 'usable IOVA ranges of the IOAS (what IOMMU_IOAS_IOVA_RANGES reports):'
        : 'usable IOVA ranges of the container (what VFIO_IOMMU_GET_INFO reports):',
    );
    for (const u of report.usable) out.push(`  ${rangeText(u.start, u.end)}`);
    for (const b of report.blockers) {
      const t = blockerLines(b);
      out.push('', st.red('REFUSED: ') + t.title, ...t.lines.map((l) => `    ${l}`));
    }
    report.conflicts.forEach((c, i) => {
      out.push('', st.red(`CONFLICT ${i + 1}: ${conflictTitle(c)}`));
      for (const l of conflictLines(c, model.family)) out.push(`${'  '.repeat(l.depth + 1)}${l.text}`);
    });
    if (report.memlock?.failure) {
      const t = memlockLines(report.memlock, model.family);
      out.push('', st.red(`LOCKED MEMORY: ${t.title}`));
      for (const l of t.lines) out.push(`${'  '.repeat(l.depth + 1)}${l.text}`);
    }
    if (plan) {
      out.push('', 'what would fix it:');
      if (plan.largest) {
        out.push(
          `  less memory: ${plan.largest.commandLine}   (${exactSize(plan.largest.layout.memory)} is the largest that fits)`,
        );
      }
      for (const s of plan.options) {
        out.push(`  an option (${optionsText(s.changed)}): ${s.commandLine}   (${s.why})`);
      }
      for (const s of plan.others) out.push(`  another VMM layout: ${s.model.id}: ${s.commandLine}`);
      if (!plan.largest && plan.options.length === 0 && plan.others.length === 0) {
        out.push('  nothing in the model: no size, option or other VMM layout avoids these regions');
      }
      for (const n of plan.notes) out.push(`  note: ${n}`);
    }
    const allNotes = [...notes, ...laid.layout.notes, ...report.notes];
    if (allNotes.length) out.push('', 'notes:', ...allNotes.map((n) => `  - ${n}`));
    const nConf = report.conflicts.length;
    const nBlock = report.blockers.length;
    out.push(
      '',
      report.fits
        ? st.green(`fits: VFIO accepts every range ${model.family} maps`)
        : st.red(
            'does not fit: ' +
              [
                ...(nConf ? [`${nConf} conflict${nConf === 1 ? '' : 's'}`] : []),
                ...(nBlock ? [`${nBlock} refused group${nBlock === 1 ? '' : 's'}`] : []),
                ...(report.memlock?.failure ? ['the pinned memory passes RLIMIT_MEMLOCK'] : []),
              ].join(', '),
          ),
    );
    process.stdout.write(out.join('\n') + '\n');
    return report.fits ? 0 : 1;
  },
);
