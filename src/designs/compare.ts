/**
 * `designs compare`: every design run twice on the same platform, VMM and memory size — once with
 * userspace doing what the design asks, once with a design-unaware VMM that also puts a RAM bank over
 * the kernel's SW_MSI window — and what each design could not tell userspace (the platform's fixed
 * regions), each answer taken from the runs.
 */
import type { KernelVersion } from '../kernel/profile.js';
import { DESIGNS } from './index.js';
import { type SessionResult, type Span, runDesignSession } from './session.js';
import type { DesignInfo } from './types.js';

export interface CompareRequest {
  readonly platform: string;
  readonly vmm: string;
  readonly memory: bigint;
  readonly kernel?: KernelVersion;
}

export interface DesignComparison {
  readonly info: DesignInfo;
  readonly follow: SessionResult;
  readonly ignore: SessionResult;
  /** ioctls userspace had to make before mapping RAM (follow run), in order. */
  readonly setupCalls: string[];
  /** Fixed regions the design's uapi did not convey (follow run), with what guest DMA there really does. */
  readonly cannotExpress: { region: Span; guestDma?: string }[];
}

const isIoctl = (c: string): boolean =>
  c.startsWith('VFIO_') || c.startsWith('read /sys') || c.startsWith('write /sys');

export function compareDesigns(req: CompareRequest): DesignComparison[] {
  return DESIGNS.map((d) => {
    const base = { ...req, design: d.info.name };
    const follow = runDesignSession({ ...base, mode: 'follow' });
    const ignore = runDesignSession({ ...base, mode: 'ignore' });
    const firstRam = follow.calls.findIndex((c) => c.includes('(READ|WRITE') || c.startsWith('(VMM refuses'));
    const setup = (firstRam < 0 ? follow.calls : follow.calls.slice(0, firstRam)).filter(isIoctl);
    return {
      info: d.info,
      follow,
      ignore,
      setupCalls: setup,
      cannotExpress: follow.fixed
        .filter((f) => !f.expressed)
        .map((f) => ({ region: f.region, guestDma: f.guestDma })),
    };
  });
}

const hx = (v: bigint): string => '0x' + v.toString(16);

/** One line: does MSI-X work, and if not, the first problem. */
export function msiVerdict(r: SessionResult): string {
  if (r.setIrqsRc === 0 && r.delivered === r.vectors) return `MSI-X ${r.delivered}/${r.vectors} delivered`;
  const why = r.problems.find((p) => p.startsWith('MSI') || p.startsWith('vector')) ?? r.problems[0] ?? '';
  return `MSI-X ${r.delivered}/${r.vectors} delivered: ${why}`;
}

/** The comparison as text blocks, one per design (plain text; the CLI adds the header). */
export function formatComparison(rows: readonly DesignComparison[]): string[] {
  const out: string[] = [];
  for (const r of rows) {
    out.push(`== ${r.info.name}: ${r.info.title}`);
    out.push(`   userspace learns reserved IOVA through: ${r.follow.channel}`);
    out.push(`   calls before mapping RAM (${r.setupCalls.length}): ${r.setupCalls.join('; ')}`);
    for (const n of r.follow.notes) out.push(`   note: ${n}`);
    out.push(`   MSI window: ${r.follow.msiWindow}`);
    const refused = r.follow.ramMapped.filter((m) => m.rc !== 0);
    out.push(
      `   guest RAM layout: ${r.follow.ramWorks ? 'works' : 'does not work'}${
        refused.length
          ? ' (' + refused.map((m) => `[${hx(m.range.start)}-${hx(m.range.end)}]`).join(', ') + ' refused)'
          : ''
      }`,
    );
    for (const p of r.follow.problems) out.push(`     - ${p}`);
    out.push(`   following the design: ${msiVerdict(r.follow)}`);
    const ignoreRam = r.ignore.ramMapped
      .filter((m) => m.rc !== 0)
      .map((m) => `[${hx(m.range.start)}-${hx(m.range.end)}]`);
    out.push(
      `   ignoring it (RAM bank over 0x8000000): ${ignoreRam.length ? `MAP_DMA refused ${ignoreRam.join(', ')}; ` : 'all RAM mapped; '}${msiVerdict(r.ignore)}`,
    );
    if (r.cannotExpress.length === 0) out.push('   cannot express: nothing on this platform');
    for (const f of r.cannotExpress) {
      out.push(
        `   cannot express: [${hx(f.region.start)}-${hx(f.region.end)}] ${f.region.what}${f.guestDma ? ` — ${f.guestDma}` : ''}`,
      );
    }
  }
  return out;
}
