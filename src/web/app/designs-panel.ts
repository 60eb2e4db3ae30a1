/**
 * The "MSI designs" panel: `iovamap designs compare` in the browser. For a built-in platform it runs every
 * historical design (src/designs) with userspace following it and ignoring it, and shows the calls, where
 * the MSI doorbell ended up, whether the guest's RAM layout works and what the design cannot report.
 */
import { compareDesigns, msiVerdict } from '../../designs/compare.js';
import type { PlatformDescription } from '../../platform/types.js';
import { el } from './dom.js';

const hx = (v: bigint): string => '0x' + v.toString(16);

export class DesignsPanel {
  readonly root: HTMLElement;
  private readonly memory: HTMLInputElement;
  private readonly run: HTMLButtonElement;
  private readonly out: HTMLElement;
  private desc: PlatformDescription | undefined;

  constructor(private readonly presetName: () => string | undefined) {
    this.memory = el('input', {
      id: 'designs-memory',
      value: '4096',
      size: '6',
      'aria-label': 'guest RAM in MiB',
    }) as HTMLInputElement;
    this.run = el('button', { id: 'designs-run', type: 'button' }, 'compare') as HTMLButtonElement;
    this.out = el('div', { id: 'designs-out' });
    this.root = el(
      'div',
      { class: 'panel', id: 'designs-panel' },
      el('h2', {}, 'MSI designs of 2015-2016, side by side'),
      el('div', { class: 'row' }, el('label', {}, 'guest RAM (MiB) ', this.memory), this.run),
      this.out,
    );
    this.run.addEventListener('click', () => this.update());
  }

  setModel(desc: PlatformDescription | undefined): void {
    this.desc = desc;
    this.out.replaceChildren(
      el(
        'p',
        { class: 'lane-sub' },
        desc && this.presetName()
          ? 'Runs each design on this platform (QEMU layout of its architecture): press “compare”.'
          : 'The designs run on built-in platforms: choose one in “Show”.',
      ),
    );
  }

  private update(): void {
    const platform = this.presetName();
    if (!this.desc || platform === undefined) return;
    const mib = BigInt(/^\d+$/.test(this.memory.value) ? this.memory.value : '4096');
    const vmm = this.desc.arch === 'x86_64' ? 'qemu-q35' : 'qemu-virt';
    let rows;
    try {
      rows = compareDesigns({ platform, vmm, memory: mib << 20n });
    } catch (e) {
      this.out.replaceChildren(el('p', { class: 'conflict' }, e instanceof Error ? e.message : String(e)));
      return;
    }
    const head = [
      'design',
      'calls before RAM',
      'MSI doorbell',
      'guest RAM',
      'following it',
      'ignoring it',
      'cannot report',
    ];
    const table = el(
      'table',
      { class: 'designs' },
      el('tr', {}, ...head.map((h) => el('th', {}, h))),
      ...rows.map((r) =>
        el(
          'tr',
          { 'data-design': r.info.name },
          el('td', { title: r.info.summary }, r.info.name),
          el('td', { title: r.setupCalls.join('\n') }, String(r.setupCalls.length)),
          el('td', {}, r.follow.msiWindow),
          el(
            'td',
            { class: r.follow.ramWorks ? 'ok-line' : 'conflict' },
            r.follow.ramWorks ? 'works' : 'refused',
          ),
          el(
            'td',
            { class: r.follow.delivered === r.follow.vectors ? 'ok-line' : 'conflict' },
            msiVerdict(r.follow),
          ),
          el(
            'td',
            { class: r.ignore.delivered === r.ignore.vectors && r.ignore.ramWorks ? 'ok-line' : 'conflict' },
            msiVerdict(r.ignore),
          ),
          el(
            'td',
            {},
            r.cannotExpress
              .map((f) => `[${hx(f.region.start)}-${hx(f.region.end)}] ${f.region.what}`)
              .join('; ') || '—',
          ),
        ),
      ),
    );
    this.out.replaceChildren(
      el(
        'p',
        { class: 'lane-sub' },
        `${platform}, ${vmm}, ${mib} MiB. “Ignoring it” adds a RAM bank over 0x8000000. See docs/designs.md for what is reconstructed.`,
      ),
      table,
    );
  }
}
