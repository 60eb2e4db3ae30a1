/**
 * `iovamap plan --vmm NAME --memory SIZE [host]`: the largest guest that fits, or the VMM options (in the
 * VMM's own command-line spelling) that make the asked size fit, and other VMM layouts that take it.
 * Exit status: 0 the asked size fits (as asked or with an option), 1 only less memory or another VMM
 * helps (or nothing does), 2 usage or input error.
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
  VIOMMU_OPTION,
  optionsText,
  vmmOptionsHelp,
  vmmRequest,
  withGuestDescription,
} from './vmm-args.js';
import { planLayout, type Plan, type Suggestion } from '../vmm/plan.js';
import { hostDefaults } from '../vmm/host-defaults.js';
import { VMM_MODELS } from '../vmm/registry.js';

function sugJson(s: Suggestion): unknown {
  return {
    kind: s.kind,
    vmm: s.model.id,
    memory: s.layout.memory,
    options: s.layout.options,
    changed: s.changed,
    commandLine: s.commandLine,
    why: s.why,
    layout: s.layout.ranges.filter((r) => r.kind !== 'pci-window'),
  };
}

/** Why the asked size does not fit (the first refused range, or the mapping over RLIMIT_MEMLOCK), or null. */
function askedFailure(plan: Plan, memory: bigint): string | null {
  if (plan.fitsAsAsked) return null;
  const c = plan.asked.report?.conflicts.find((x) => x.fatal);
  if (c) {
    const cause = c.causes[0];
    const what =
      cause === undefined
        ? ''
        : cause.kind === 'region'
          ? ` reaches the ${cause.name} at ${'0x' + cause.overlap.start.toString(16)}`
          : ` is ${cause.why}`;
    return `${exactSize(memory)} does not fit: ${c.range.what}${what}`;
  }
  const locked = plan.asked.report?.memlock?.failure;
  if (locked)
    return `${exactSize(memory)} does not fit RLIMIT_MEMLOCK: VFIO would refuse ${locked.range.what} with ENOMEM (${locked.kernelLog ?? locked.vfio})`;
  return null;
}

export const planCommand = defineCommand(
  {
    name: 'plan',
    summary: 'find the largest VM layout that fits, or the VMM options that make a size fit',
    description:
      'Searches memory sizes and VMM options (each candidate is laid out and checked again) and states the\n' +
      "answer as the VMM's own command line. Exit status: 0 the asked size fits (as asked or with an\n" +
      'option), 1 only less memory or another VMM works (or nothing), 2 usage or input error.\n\n' +
      vmmOptionsHelp(),
    options: [
      ...VMM_OPTIONS,
      ...HOST_OPTIONS,
      MEMLOCK_OPTION,
      VIOMMU_OPTION,
      ...BACKEND_OPTIONS,
      { name: 'json', type: 'boolean', help: 'print JSON (schema iovamap-plan/1, docs/check-json.md)' },
    ],
    examples: [
      [
        'iovamap plan --vmm qemu --machine virt --memory 4G --regions x86-host.txt',
        'how much RAM an arm64 guest can have on an x86 host (x86-host.txt: a copied reserved_regions file)',
      ],
      [
        'iovamap plan --vmm qemu --machine q35 --memory 8G --regions hp-dl388.txt',
        'a q35 guest on an HPE host whose RMRRs reserve firmware memory',
      ],
      [
        'iovamap plan --vmm qemu --memory 16G --platform qemu-q35-intel-iommu --memlock 8G',
        'the largest guest a VMM without CAP_IPC_LOCK can give VFIO under an 8 GiB RLIMIT_MEMLOCK',
      ],
      [
        'iovamap plan --qemu-cmdline vm.sh --platform qemu-q35-intel-iommu --memlock 12G',
        'the largest guest the command line in vm.sh could have under a 12 GiB RLIMIT_MEMLOCK',
      ],
    ],
  },
  async (given) => {
    const guest = withGuestDescription(given);
    const { args: a, notes: cmdNotes, described } = guest;
    const host = loadHost(a);
    const { model, request, notes: reqNotes } = vmmRequest(a, host, described);
    const { groups, notes: selNotes } = hostGroups(a, host);
    const constraints = vfioConstraints(a, model, guest);
    const viommu = constraints.options.viommu === true;
    const plan = planLayout(model, request, host, groups, {
      others: VMM_MODELS,
      defaultsFor: (m) => hostDefaults(m, host, {}).options,
      ...constraints.options,
    });
    const sizeFits = plan.blockers.length === 0 && (plan.fitsAsAsked || plan.options.length > 0);
    const notes = [...cmdNotes, ...reqNotes, ...selNotes, ...host.notes, ...constraints.notes, ...plan.notes];
    if (bool(a, 'json')) {
      process.stdout.write(
        toJson({
          schema: 'iovamap-plan/1',
          vmm: model.id,
          memory: request.memory,
          options: request.options,
          fitsAsAsked: plan.fitsAsAsked,
          why: askedFailure(plan, request.memory),
          largest: plan.largest ? sugJson(plan.largest) : null,
          withOptions: plan.options.map(sugJson),
          otherVmms: plan.others.map(sugJson),
          blockers: plan.blockers,
          notes,
        }),
      );
      return sizeFits ? 0 : 1;
    }
    const st = styleFor(process.stdout);
    const out: string[] = [];
    out.push(
      st.bold(`${model.label}, asked ${exactSize(request.memory)}`) +
        `  (options: ${optionsText(request.options)})`,
    );
    out.push(
      `host: ${host.source}; groups ${groups.map((g) => g.id).join(', ') || 'none'}` +
        (viommu && groups.length > 0
          ? ` behind a vIOMMU (${constraints.options.backend === 'iommufd' ? 'an IOAS' : 'a container'} each)`
          : '') +
        (constraints.options.backend === 'iommufd' ? ', through iommufd' : ''),
    );
    for (const b of plan.blockers) {
      out.push(st.red(`group ${b.group} is refused before any mapping: ${b.why}`));
    }
    const asked = plan.asked.result.ok ? plan.asked.result.layout : undefined;
    if (plan.fitsAsAsked && asked) {
      out.push('', st.green(`fits as asked: ${model.commandLine(asked)}`), ...layoutLines(asked, false));
    } else {
      const why = askedFailure(plan, request.memory);
      if (why !== null) out.push('', st.red(why));
      if (plan.largest) {
        out.push(
          '',
          `largest that fits with these options: ${exactSize(plan.largest.layout.memory)}`,
          `  ${plan.largest.commandLine}`,
          ...layoutLines(plan.largest.layout, false),
        );
      }
      if (plan.options.length) {
        out.push('', `options that make ${exactSize(request.memory)} fit:`);
        for (const s of plan.options)
          out.push(`  ${optionsText(s.changed)}: ${s.commandLine}`, `    ${s.why}`);
      }
      if (plan.others.length) {
        out.push('', `other VMM layouts that take ${exactSize(request.memory)}:`);
        for (const s of plan.others) out.push(`  ${s.model.id}: ${s.commandLine}`);
      }
      if (!plan.largest && !plan.options.length && !plan.others.length) {
        out.push('', 'no size, option or other VMM layout in the model fits this host');
      }
    }
    const allNotes = [...notes, ...(asked?.notes ?? [])];
    if (allNotes.length) out.push('', 'notes:', ...allNotes.map((n) => `  - ${n}`));
    process.stdout.write(out.join('\n') + '\n');
    return sizeFits ? 0 : 1;
  },
);
