/**
 * Scenario step `design_session`: one VMM session under a historical MSI design (src/designs/session.ts)
 * on the scenario's platform, printed as lines: DESIGN, CALL per call, MSI (doorbell), DELIVERY, PROBLEM,
 * FIXED (fixed regions and whether the design told userspace). The session boots its own copy of the
 * platform, so it does not disturb the scenario's VFIO system.
 */
import type { KernelVersion } from '../kernel/profile.js';
import { type ScenarioStep, registerStep } from '../scenario/registry.js';
import type { RunContext } from '../scenario/context.js';
import { DESIGN_NAMES } from './index.js';
import { runDesignSession } from './session.js';
import type { DesignName } from './types.js';

const hx = (v: bigint): string => '0x' + v.toString(16);

registerStep({
  op: 'design_session',
  summary:
    'a VMM session under a historical MSI design (follow or ignore it): DESIGN, CALL, MSI, DELIVERY, PROBLEM, FIXED lines',
  fields: {
    design: { kind: 'string', required: true, help: DESIGN_NAMES.join(', ') },
    mode: {
      kind: 'string',
      help: 'follow (default) or ignore (a design-unaware VMM with a RAM bank over 0x8000000)',
    },
    vmm: { kind: 'string', help: 'VMM model for the guest RAM layout (default qemu-virt)' },
    memory: { kind: 'expr', help: 'guest RAM (default 4GiB)' },
    vectors: { kind: 'expr', help: 'MSI-X vectors to enable and fire (default 4)' },
  },
  validate(step: ScenarioStep) {
    const d = step.fields['design'];
    if (d?.kind === 'string' && !DESIGN_NAMES.includes(d.value as DesignName))
      return {
        field: 'design',
        message: `unknown design "${d.value}": choose one of ${DESIGN_NAMES.join(', ')}`,
      };
    const m = step.fields['mode'];
    if (m?.kind === 'string' && m.value !== 'follow' && m.value !== 'ignore')
      return { field: 'mode', message: `mode must be follow or ignore, not "${m.value}"` };
    return undefined;
  },
  run(ctx: RunContext, s: ScenarioStep) {
    const platform = ctx.scenario.platform;
    if (platform === undefined)
      throw ctx.err(s, 'design_session needs the scenario to name a platform preset');
    const design = ctx.text(s, 'design') as DesignName;
    const mode = ctx.str(s, 'mode', 'follow') === 'ignore' ? 'ignore' : 'follow';
    const r = runDesignSession({
      platform,
      design,
      mode,
      vmm: ctx.str(s, 'vmm', 'qemu-virt') ?? 'qemu-virt',
      memory: ctx.num(s, 'memory', 4n << 30n),
      vectors: Number(ctx.num(s, 'vectors', 4n)),
      kernel: ctx.scenario.kernel as KernelVersion | undefined,
    });
    ctx.emit(`DESIGN ${design} mode=${mode} channel="${r.channel}"`);
    for (const c of r.calls) ctx.emit(`CALL ${c}`);
    for (const n of r.notes) ctx.emit(`NOTE ${n}`);
    ctx.emit(`MSI ${r.msiWindow}`);
    ctx.emit(
      `DELIVERY design=${design} mode=${mode} delivered=${r.delivered}/${r.vectors} ram=${r.ramWorks ? 'ok' : 'refused'}`,
    );
    for (const p of r.problems) ctx.emit(`PROBLEM ${p}`);
    for (const f of r.fixed)
      ctx.emit(
        `FIXED [${hx(f.region.start)}-${hx(f.region.end)}] ${f.region.what} reported=${f.expressed ? 1 : 0}${f.guestDma ? ` ${f.guestDma}` : ''}`,
      );
    return r.delivered === r.vectors && r.ramWorks ? 0 : -1;
  },
});
