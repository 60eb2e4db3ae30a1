/**
 * The "Place a VM" panel: pick a VMM, a memory size and the groups to assign; the guest layout is drawn
 * over those groups' lanes and every conflict is listed with the explanation `iovamap check` gives.
 */
import { parseSize, formatSize } from '../../base/u64.js';
import type { HostView } from '../../host/view.js';
import { blockerLines, conflictTitle, memlockLines } from '../../vmm/explain.js';
import { parseMemlockLimit, type MemlockLimit } from '../../vmm/memlock.js';
import { isIovamapError } from '../../base/errors.js';
import { parseLibvirtDomain } from '../../vmm/libvirt-xml.js';
import { parseVmmCommandLine } from '../../vmm/vmm-cmdline.js';
import type { GuestDescription, IommufdAccounting, RefusingViommu } from '../../vmm/types.js';
import { VMM_MODELS, findVmm, machineVersion } from '../../vmm/registry.js';
import type { Overlay } from '../scene.js';
import { conflictLines, vmmOverlay } from '../vmm-overlay.js';
import { el } from './dom.js';

export interface PanelHost {
  setOverlay(key: string, overlay: Overlay | readonly Overlay[] | undefined): void;
  zoomTo(start: bigint, end: bigint): void;
}

export class VmmPanel {
  readonly root: HTMLElement;
  private readonly vmm: HTMLSelectElement;
  private readonly memory: HTMLInputElement;
  private readonly opts: HTMLInputElement;
  private readonly p2p: HTMLInputElement;
  private readonly memlock: HTMLInputElement;
  private readonly viommu: HTMLInputElement;
  private readonly iommufd: HTMLInputElement;
  private readonly userLocked: HTMLInputElement;
  /** iommufd's accounting a pasted configuration chose (per user when the box is ticked by hand). */
  private iommufdAccounting: IommufdAccounting | undefined;
  private readonly cmdline: HTMLTextAreaElement;
  private readonly cmdlineMsg: HTMLElement;
  private readonly groups: HTMLElement;
  /** The devices (and their bridges) of the last configuration read, until the user picks groups. */
  private pasted:
    | {
        devices: readonly string[];
        bridges: Readonly<Record<string, string>>;
        viommuWithoutMap?: RefusingViommu;
      }
    | undefined;
  private readonly result: HTMLElement;
  private host: HostView | undefined;
  /** The user picked a VMM (or none): stop choosing one per host. */
  private touched = false;

  constructor(private readonly app: PanelHost) {
    this.vmm = el('select', { id: 'vmm', 'aria-label': 'VMM' }) as HTMLSelectElement;
    this.vmm.append(el('option', { value: '' }, '— none —'));
    for (const m of VMM_MODELS) this.vmm.append(el('option', { value: m.id }, m.label));
    this.memory = el('input', {
      id: 'vmm-memory',
      value: '4G',
      size: '8',
      'aria-label': 'guest memory',
    }) as HTMLInputElement;
    this.opts = el('input', {
      id: 'vmm-opts',
      placeholder: 'options: key=value,…',
      size: '22',
      'aria-label': 'VMM options',
    }) as HTMLInputElement;
    this.p2p = el('input', { id: 'vmm-p2p', type: 'checkbox' }) as HTMLInputElement;
    this.memlock = el('input', {
      id: 'vmm-memlock',
      placeholder: 'RLIMIT_MEMLOCK',
      size: '12',
      'aria-label': "the VMM's RLIMIT_MEMLOCK",
      title:
        "the VMM's RLIMIT_MEMLOCK (64M, unlimited; empty: not checked): which mapping VFIO refuses with ENOMEM",
    }) as HTMLInputElement;
    this.viommu = el('input', { id: 'vmm-viommu', type: 'checkbox' }) as HTMLInputElement;
    this.iommufd = el('input', { id: 'vmm-iommufd', type: 'checkbox' }) as HTMLInputElement;
    this.userLocked = el('input', {
      id: 'vmm-user-locked',
      placeholder: "user's other pins",
      size: '12',
      'aria-label': "what the user's other processes have pinned",
      title:
        "with iommufd's per-user accounting: what the user's other processes (other VMs) have pinned, " +
        "counted first against this VMM's RLIMIT_MEMLOCK (16G; empty: none)",
    }) as HTMLInputElement;
    this.cmdline = el('textarea', {
      id: 'vmm-cmdline',
      rows: '3',
      cols: '72',
      placeholder:
        'paste a VMM command line (QEMU, cloud-hypervisor, crosvm), a script that starts one, a libvirt log, or virsh dumpxml',
      'aria-label': 'VMM command line',
    }) as HTMLTextAreaElement;
    this.cmdlineMsg = el('div', { id: 'vmm-cmdline-msg', class: 'lane-sub' });
    const read = el('button', { type: 'button', id: 'vmm-cmdline-read' }, 'read');
    read.addEventListener('click', () => this.readCmdline());
    this.groups = el('div', { class: 'row', id: 'vmm-groups' });
    this.result = el('div', { id: 'vmm-result' });
    this.root = el(
      'div',
      { class: 'panel', id: 'vmm-panel' },
      el('h2', {}, 'Place a VM: does its memory map fit the assigned groups?'),
      el(
        'div',
        { class: 'row' },
        el('label', {}, 'VMM ', this.vmm),
        el('label', {}, 'RAM ', this.memory),
        this.opts,
        el(
          'label',
          { title: 'also check the PCI windows where BARs land (peer-to-peer DMA)' },
          this.p2p,
          ' BAR windows',
        ),
        this.memlock,
        el(
          'label',
          {
            title:
              'the guest has a vIOMMU (QEMU intel-iommu or virtio-iommu): each assigned group gets a container ' +
              "of its own, and each pins all of the guest's RAM (QEMU only)",
          },
          this.viommu,
          ' vIOMMU',
        ),
        el(
          'label',
          {
            title:
              'the VMM uses iommufd instead of the legacy VFIO container: an IOAS per address space, pins counted ' +
              'per user (QEMU 9.0+, cloud-hypervisor; Linux 6.6+)',
          },
          this.iommufd,
          ' iommufd',
        ),
        this.userLocked,
      ),
      el('div', { class: 'row' }, 'assign: ', this.groups),
      el(
        'details',
        { id: 'vmm-cmdline-box' },
        el('summary', {}, 'from a VMM command line or a libvirt domain'),
        el('div', { class: 'row' }, this.cmdline, read),
        this.cmdlineMsg,
      ),
      this.result,
    );
    this.vmm.addEventListener('change', () => {
      this.touched = true;
      this.update();
    });
    for (const c of [this.p2p, this.viommu]) c.addEventListener('change', () => this.update());
    this.iommufd.addEventListener('change', () => {
      this.iommufdAccounting = undefined;
      this.update();
    });
    for (const c of [this.memory, this.opts, this.memlock, this.userLocked])
      c.addEventListener('change', () => this.update());
  }

  /** A new host: list its groups and pick a VMM for its architecture. */
  setHost(host: HostView): void {
    this.pasted = undefined;
    this.host = host;
    this.groups.replaceChildren(
      ...host.groups.map((g) => {
        const box = el('input', {
          type: 'checkbox',
          value: String(g.id),
          'data-group': String(g.id),
        }) as HTMLInputElement;
        box.addEventListener('change', () => {
          this.pasted = undefined;
          this.update();
        });
        const dev = g.devices.find((d) => d.driver !== 'none') ?? g.devices[0];
        return el(
          'label',
          { title: g.devices.map((d) => d.bdf).join(', ') },
          box,
          ` ${g.id}${dev ? ` (${dev.bdf.slice(5)})` : ''}`,
        );
      }),
    );
    this.result.replaceChildren(
      el('p', { class: 'lane-sub' }, 'Choose a VMM to overlay its guest RAM and see what VFIO would refuse.'),
    );
    this.app.setOverlay('vmm', undefined);
    // Until the user picks one, start with QEMU for the host's architecture: the page shows where a
    // VM's RAM lands next to the reserved regions.
    if (!this.touched && host.arch !== undefined) {
      const m = VMM_MODELS.find((x) => x.family === 'qemu' && x.arch === host.arch);
      if (m) this.vmm.value = m.id;
    }
    if (this.vmm.value) this.update();
  }

  /**
   * Fills the panel from a pasted VMM command line (src/vmm/vmm-cmdline: the same reading as
   * `iovamap check --cmdline`; QEMU, cloud-hypervisor, crosvm) or libvirt domain: the VMM and machine,
   * RAM, options, the groups of its VFIO devices and the vIOMMU.
   */
  private readCmdline(): void {
    const host = this.host;
    if (!host) return;
    const say = (text: string, bad = false) =>
      this.cmdlineMsg.replaceChildren(el('div', { class: bad ? 'conflict' : 'lane-sub' }, text));
    let q: GuestDescription;
    let bridges: Readonly<Record<string, string>> = {};
    const text = this.cmdline.value;
    const xml = text.trimStart().startsWith('<');
    try {
      if (xml) {
        // a libvirt domain also fixes the RLIMIT_MEMLOCK libvirt gives QEMU
        const d = parseLibvirtDomain(text, 'the pasted domain');
        q = { ...d, notes: d.memlockWhy !== undefined ? [...d.notes, d.memlockWhy] : d.notes };
        this.memlock.value = d.memlock === undefined ? '' : String(d.memlock);
      } else {
        const c = parseVmmCommandLine(text, 'the pasted command line');
        bridges = c.bridges ?? {};
        q = c;
      }
    } catch (e) {
      if (isIovamapError(e)) return say(e.message, true);
      throw e;
    }
    const found = findVmm(q.vmm ?? 'qemu', {
      ...(q.machine !== undefined ? { machine: q.machine } : {}),
      ...((q.arch ?? host.arch) !== undefined ? { arch: (q.arch ?? host.arch)! } : {}),
    });
    if (!found.ok) return say(found.reason, true);
    this.touched = true;
    this.vmm.value = found.model.id;
    const mem = q.memory;
    this.memory.value = mem % (1n << 20n) === 0n ? `${mem >> 20n}M` : String(mem);
    const version = q.machine !== undefined ? machineVersion(q.machine) : undefined;
    // options the chosen model does not take (crosvm's PCI start on aarch64) are left out
    const known = new Set(found.model.options.map((o) => o.name));
    const options = {
      ...(version !== undefined ? { version } : {}),
      ...Object.fromEntries(Object.entries(q.options).filter(([k]) => known.has(k))),
    };
    this.opts.value = Object.entries(options)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const missing: string[] = [];
    const wanted = new Set<number>();
    for (const bdf of q.devices) {
      const g = host.groups.find((x) => x.devices.some((d) => d.bdf.toLowerCase() === bdf));
      if (g) wanted.add(g.id);
      else missing.push(bdf);
    }
    for (const box of this.groups.querySelectorAll<HTMLInputElement>('input[data-group]'))
      box.checked = wanted.has(Number(box.value));
    this.viommu.checked = q.viommu !== undefined;
    this.iommufd.checked = q.backend === 'iommufd';
    this.iommufdAccounting = q.iommufdAccounting;
    const present = q.devices.filter((d) => !missing.includes(d));
    this.pasted = present.length
      ? {
          devices: present,
          bridges,
          ...(q.viommuWithoutMap !== undefined ? { viommuWithoutMap: q.viommuWithoutMap } : {}),
        }
      : undefined;
    say(
      [...q.notes, ...(missing.length ? [`not on this host: ${missing.join(', ')}`] : [])].join(' · '),
      missing.length > 0,
    );
    this.update();
  }

  /** Selects a VMM and memory size programmatically (the "switch layouts" path of the tests uses the UI). */
  private update(): void {
    const host = this.host;
    if (!host) return;
    const model = VMM_MODELS.find((m) => m.id === this.vmm.value);
    if (!model) {
      this.app.setOverlay('vmm', undefined);
      this.result.replaceChildren();
      return;
    }
    // a vIOMMU's containers are modelled for QEMU only
    this.viommu.disabled = model.family !== 'qemu';
    this.iommufd.disabled = model.family !== 'qemu' && model.family !== 'cloud-hypervisor';
    this.userLocked.disabled = this.iommufd.disabled || !this.iommufd.checked;
    const memory = parseSize(this.memory.value);
    if (memory === undefined || memory === 0n) {
      this.result.replaceChildren(
        el('div', { class: 'conflict' }, `RAM "${this.memory.value}": not a size (examples: 4G, 512M)`),
      );
      return;
    }
    const options: Record<string, string> = {};
    for (const kv of this.opts.value
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      const i = kv.indexOf('=');
      if (i <= 0) {
        this.result.replaceChildren(el('div', { class: 'conflict' }, `option "${kv}": write key=value`));
        return;
      }
      options[kv.slice(0, i)] = kv.slice(i + 1);
    }
    const groups = [...this.groups.querySelectorAll<HTMLInputElement>('input:checked')].map((b) =>
      Number(b.value),
    );
    const limitText = this.memlock.value.trim();
    let memlock: MemlockLimit | undefined;
    if (limitText !== '') {
      memlock = parseMemlockLimit(limitText);
      if (memlock === undefined) {
        this.result.replaceChildren(
          el('div', { class: 'conflict' }, `RLIMIT_MEMLOCK "${limitText}": not a size or "unlimited"`),
        );
        return;
      }
    }
    const userText = this.userLocked.value.trim();
    const userLocked = userText === '' ? undefined : parseSize(userText);
    if (userText !== '' && userLocked === undefined) {
      this.result.replaceChildren(
        el('div', { class: 'conflict' }, `the user's other pins "${userText}": not a size (16G, 512M)`),
      );
      return;
    }
    const perUser = (this.iommufdAccounting ?? 'user') === 'user';
    const r = vmmOverlay(host, {
      model,
      memory,
      options,
      ...(this.pasted
        ? {
            devices: this.pasted.devices,
            viommuBridges: this.pasted.bridges,
            ...(this.pasted.viommuWithoutMap !== undefined
              ? { viommuWithoutMap: this.pasted.viommuWithoutMap }
              : {}),
          }
        : { groups }),
      p2p: this.p2p.checked,
      ...(memlock !== undefined ? { memlock } : {}),
      ...(this.viommu.checked && !this.viommu.disabled ? { viommu: true } : {}),
      ...(this.iommufd.checked && !this.iommufd.disabled
        ? {
            backend: 'iommufd' as const,
            ...(this.iommufdAccounting !== undefined ? { iommufdAccounting: this.iommufdAccounting } : {}),
            ...(userLocked !== undefined && perUser ? { userLocked } : {}),
          }
        : {}),
    });
    if (!r.ok) {
      this.app.setOverlay('vmm', undefined);
      this.result.replaceChildren(el('div', { class: 'conflict' }, r.reason));
      return;
    }
    this.app.setOverlay('vmm', r.overlay);
    const rep = r.report;
    const parts: HTMLElement[] = [];
    const assigned = rep.groups.map((g) => `group ${g.id}`).join(', ') || 'no group';
    parts.push(
      el(
        'p',
        { class: rep.fits ? 'ok-line' : 'conflict', id: 'vmm-verdict' },
        rep.fits
          ? `${model.label} with ${formatSize(memory)} fits ${assigned}: every range it DMA-maps is inside the usable IOVA ranges.`
          : `${model.label} with ${formatSize(memory)} does not fit ${assigned}: ${rep.conflicts.length} conflict${rep.conflicts.length === 1 ? '' : 's'}${rep.blockers.length ? `, ${rep.blockers.length} group(s) refused` : ''}${rep.memlock?.failure ? ', over RLIMIT_MEMLOCK' : ''}.`,
      ),
    );
    for (const b of rep.blockers) {
      parts.push(
        el(
          'div',
          { class: 'conflict blocker' },
          el('b', {}, 'REFUSED: '),
          blockerLines(b).title,
          ...blockerLines(b).lines.map((l) => el('div', { class: 'mono' }, l)),
        ),
      );
    }
    rep.conflicts.forEach((c, i) => {
      const zoom = el('button', { type: 'button', class: 'zoom-conflict' }, 'show');
      zoom.addEventListener('click', () => this.app.zoomTo(c.range.start, c.range.end));
      parts.push(
        el(
          'div',
          { class: 'conflict', 'data-conflict': String(i + 1) },
          el('b', {}, `CONFLICT ${i + 1}: ${conflictTitle(c)} `),
          zoom,
          ...conflictLines(c, model.family).map((l) =>
            el('div', { class: l.startsWith('  ') ? 'mono' : '' }, l),
          ),
        ),
      );
    });
    if (rep.memlock?.failure) {
      const t = memlockLines(rep.memlock, model.family);
      const zoom = el('button', { type: 'button', class: 'zoom-conflict' }, 'show');
      const range = rep.memlock.failure.range;
      zoom.addEventListener('click', () => this.app.zoomTo(range.start, range.end));
      parts.push(
        el(
          'div',
          { class: 'conflict', id: 'vmm-memlock-result' },
          el('b', {}, `LOCKED MEMORY: ${t.title} `),
          zoom,
          ...t.lines.map((l) =>
            el('div', { class: l.depth > 0 ? 'mono' : '' }, `${'  '.repeat(l.depth)}${l.text}`),
          ),
        ),
      );
    }
    for (const n of [...r.notes, ...rep.notes]) parts.push(el('p', { class: 'lane-sub' }, n));
    this.result.replaceChildren(...parts);
  }
}
