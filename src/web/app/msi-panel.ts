/**
 * The "MSI path" panel: a device's interrupt as a chain of boxes (VFIO attach → device write → IOMMU →
 * doorbell → interrupt controller → Linux irq → eventfd), computed by running the model; the box where
 * it fails is red and says why. The doorbell mapping the kernel made is drawn on the group's lane.
 */
import { hex16 } from '../../base/u64.js';
import type { HostView } from '../../host/view.js';
import type { KernelProfile } from '../../kernel/profile.js';
import type { PlatformDescription } from '../../platform/types.js';
import { msiCapableDevices, msiPath } from '../../walkthrough/msi-path.js';
import { el } from './dom.js';
import type { PanelHost } from './vmm-panel.js';

export interface ModelContext {
  readonly desc: PlatformDescription;
  readonly profile: KernelProfile;
  readonly view: HostView;
}

export class MsiPanel {
  readonly root: HTMLElement;
  private readonly device: HTMLSelectElement;
  private readonly unsafe: HTMLInputElement;
  private readonly noCookie: HTMLInputElement;
  private readonly out: HTMLElement;
  private ctx: ModelContext | undefined;

  constructor(private readonly app: PanelHost) {
    this.device = el('select', { id: 'msi-device', 'aria-label': 'device' }) as HTMLSelectElement;
    this.unsafe = el('input', { type: 'checkbox', id: 'msi-unsafe' }) as HTMLInputElement;
    this.noCookie = el('input', { type: 'checkbox', id: 'msi-nocookie' }) as HTMLInputElement;
    this.out = el('div', { id: 'msi-out' });
    this.root = el(
      'div',
      { class: 'panel', id: 'msi-panel' },
      el('h2', {}, 'MSI path: how a device’s interrupt reaches the VM'),
      el(
        'div',
        { class: 'row' },
        el('label', {}, 'device ', this.device),
        el(
          'label',
          { title: 'vfio_iommu_type1.allow_unsafe_interrupts=1' },
          this.unsafe,
          ' allow_unsafe_interrupts',
        ),
        el(
          'label',
          { title: 'what happens when nobody maps the doorbell into the VFIO domain' },
          this.noCookie,
          ' without the MSI cookie',
        ),
      ),
      this.out,
    );
    for (const c of [this.device, this.unsafe, this.noCookie])
      c.addEventListener('change', () => this.update());
  }

  setModel(ctx: ModelContext | undefined): void {
    this.ctx = ctx;
    if (!ctx) {
      this.device.replaceChildren();
      this.out.replaceChildren(
        el(
          'p',
          { class: 'lane-sub' },
          'The MSI path is computed by the model: choose a built-in platform in “Show”.',
        ),
      );
      this.app.setOverlay('msi', undefined);
      return;
    }
    const devs = msiCapableDevices(ctx.desc).filter((b) =>
      ctx.view.groups.some((g) => g.devices.some((d) => d.bdf === b)),
    );
    this.device.replaceChildren(
      ...devs.map((b) => {
        const d = ctx.view.groups.flatMap((g) => g.devices).find((x) => x.bdf === b);
        return el('option', { value: b }, `${b}${d?.name ? ' ' + d.name : ''} (${d?.driver ?? '?'})`);
      }),
    );
    this.update();
  }

  private update(): void {
    const ctx = this.ctx;
    if (!ctx) return;
    const bdf = this.device.value;
    if (!bdf) {
      this.out.replaceChildren(
        el('p', { class: 'lane-sub' }, 'No device with MSI or MSI-X in an IOMMU group here.'),
      );
      this.app.setOverlay('msi', undefined);
      return;
    }
    const p = msiPath(ctx.desc, ctx.profile, bdf, {
      allowUnsafeInterrupts: this.unsafe.checked,
      noCookie: this.noCookie.checked,
    });
    const boxes: HTMLElement[] = [];
    p.steps.forEach((s, i) => {
      if (i > 0) boxes.push(el('span', { class: 'msi-arrow' }, '→'));
      boxes.push(
        el(
          'div',
          {
            class: `msi-step ${s.status}`,
            'data-step': s.id,
            'data-status': s.status,
            title: s.detail.join('\n'),
          },
          el('b', {}, s.title),
          s.detail.filter((d) => d !== '').join(' '),
        ),
      );
    });
    const group = ctx.view.groups.find((g) => g.id === p.groupId);
    const assign =
      group?.assignable && !group.assignable.ok
        ? el('p', { class: 'conflict' }, group.assignable.why)
        : undefined;
    this.out.replaceChildren(
      el('p', { class: p.ok ? 'ok-line' : 'conflict', id: 'msi-verdict' }, p.verdict),
      ...(assign ? [assign] : []),
      el('div', { class: 'msi-path' }, ...boxes),
    );
    const m = p.doorbellMapping;
    if (m && p.groupId !== undefined) {
      this.app.setOverlay('msi', {
        groups: [p.groupId],
        items: [
          {
            start: m.iova,
            end: m.iova + m.size - 1n,
            layer: 'map',
            cls: 'map-new',
            label: 'MSI doorbell page, mapped by the kernel',
            notes: [
              `IOVA ${hex16(m.iova)} → PA ${hex16(m.paddr)}: the interrupt controller’s doorbell, mapped into the VFIO domain through the MSI cookie when ${bdf} enabled MSI.`,
            ],
          },
        ],
      });
    } else {
      this.app.setOverlay('msi', undefined);
    }
  }
}
