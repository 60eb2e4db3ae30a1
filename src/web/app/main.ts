/**
 * iovamap web view: entry point. Picks a source (a built-in platform computed in the browser by the
 * library, the real host or a snapshot served by `iovamap serve`, or a dropped/pasted file), builds the
 * scene and wires the lanes view, the story, the legend and the panels.
 */
import './style.css';
import { isIovamapError } from '../../base/errors.js';
import { parseSize, parseU64, formatSize, hex16 } from '../../base/u64.js';
import type { HostView } from '../../host/view.js';
import { hostViewFromPlatform } from '../../host/from-platform.js';
import { snapshotText } from '../../host/snapshot.js';
import {
  DEFAULT_KERNEL,
  KERNEL_VERSIONS,
  type KernelProfile,
  type KernelVersion,
  kernelProfile,
} from '../../kernel/profile.js';
import { loadPlatformText } from '../../platform/load.js';
import { loadPreset, presetNames } from '../../platform/presets.js';
import type { PlatformDescription } from '../../platform/types.js';
import { hostViewFromJson } from '../hostview-json.js';
import { hostViewFromReservedRegions, hostViewFromText } from '../paste.js';
import { type Lane, type Overlay, type SceneItem, buildScene } from '../scene.js';
import { FULL_WINDOW } from '../viewport.js';
import { $, el } from './dom.js';
import { COLOURS, LaneView } from './lanes.js';
import { MsiPanel } from './msi-panel.js';
import { type ScenarioHost, ScenarioPanel } from './scenario-panel.js';
import { VmmPanel } from './vmm-panel.js';

interface Loaded {
  readonly view: HostView;
  /** Set for modelled platforms: the MSI path and scenarios run on the model. */
  readonly model?: { readonly desc: PlatformDescription; readonly profile: KernelProfile };
}

interface SourceEntry {
  readonly id: string;
  readonly label: string;
  /** Modelled for a kernel version (built-in and user platforms): the kernel menu applies. */
  readonly modelled: boolean;
  load(kernel: KernelVersion): Promise<Loaded>;
}

interface Session {
  readonly sources: readonly { readonly id: string; readonly label: string }[];
  readonly platforms?: readonly {
    readonly id: string;
    readonly label: string;
    readonly file: string;
    readonly text: string;
  }[];
  readonly initial?: string;
  readonly kernel?: string;
}

const state: {
  sources: SourceEntry[];
  current?: SourceEntry;
  view?: HostView;
  kernel: KernelVersion;
  /** Overlays by panel (vmm, msi, scenario). */
  overlays: Map<string, readonly Overlay[]>;
} = { sources: [], overlays: new Map(), kernel: DEFAULT_KERNEL };

const lanes = new LaneView({
  select: (lane, item) => showDetails(lane, item),
  status: (t) => {
    $('#status').textContent = t;
  },
});
$('#map-host').append(lanes.root);

const panelHost: ScenarioHost = {
  setOverlay(key: string, overlay: Overlay | readonly Overlay[] | undefined): void {
    if (overlay) state.overlays.set(key, Array.isArray(overlay) ? overlay : [overlay as Overlay]);
    else state.overlays.delete(key);
    render(true);
  },
  zoomTo: (start: bigint, end: bigint) => lanes.zoomTo(start, end),
  async showPreset(name: string, kernel?: string): Promise<boolean> {
    const id = `preset:${name}`;
    if (!state.sources.some((s) => s.id === id)) return false;
    if (kernel !== undefined && (KERNEL_VERSIONS as readonly string[]).includes(kernel)) {
      state.kernel = kernel as KernelVersion;
      ($('#kernel') as HTMLSelectElement).value = kernel;
    }
    await selectSource(id);
    return true;
  },
  presetName: () =>
    state.current?.id.startsWith('preset:') ? state.current.id.slice('preset:'.length) : undefined,
};
const vmmPanel = new VmmPanel(panelHost);
const msiPanel = new MsiPanel(panelHost);
const scenarioPanel = new ScenarioPanel(panelHost);
$('#panels').append(vmmPanel.root, msiPanel.root, scenarioPanel.root);

function showError(e: unknown): void {
  const box = $('#error');
  if (e === undefined) {
    box.hidden = true;
    box.textContent = '';
    return;
  }
  box.hidden = false;
  box.textContent = isIovamapError(e) ? e.message : e instanceof Error ? e.message : String(e);
}

function legend(): void {
  const entries: [string, string][] = [
    ['usable', 'usable IOVA (VM memory may go here)'],
    ['sw-msi', 'MSI window, software (ARM)'],
    ['msi', 'MSI window, hardware (x86 APIC)'],
    ['reserved', 'reserved'],
    ['direct', 'direct (firmware)'],
    ['direct-relaxable', 'direct, relaxable'],
    ['outside', 'outside the IOMMU aperture'],
    ['ram', 'guest RAM (VMM layout)'],
    ['map', 'VFIO DMA mapping'],
    ['map-new', 'MSI doorbell page (mapped by the kernel)'],
    ['conflict', 'conflict: VFIO refuses this mapping'],
  ];
  $('#legend').replaceChildren(
    ...entries.map(([cls, text]) =>
      el(
        'span',
        { 'data-cls': cls },
        el('span', { class: 'swatch', style: `background:${COLOURS[cls]}` }),
        text,
      ),
    ),
  );
}

/** The plain-language story above the map, derived from what is shown. */
function story(view: HostView): void {
  const parts: HTMLElement[] = [];
  const n = view.groups.length;
  parts.push(
    el(
      'p',
      {},
      `${n} IOMMU group${n === 1 ? '' : 's'} from ${view.source}${view.kernel ? ` (Linux ${view.kernel})` : ''}. ` +
        'Each row is a group: its devices share one I/O virtual address space (IOVA), drawn left to right from 0 to 2^64. ' +
        'Green is where a VM’s memory can be mapped for the device through VFIO; coloured blocks are reserved by the kernel.',
    ),
  );
  let msi: { start: bigint; end: bigint; sw: boolean } | undefined;
  for (const g of view.groups)
    for (const r of g.regions)
      if (r.typeString === 'msi' && !msi)
        msi = { start: r.start, end: r.end, sw: view.arch === 'aarch64' || r.type === 4 };
  if (msi) {
    const range = `${hex16(msi.start)} – ${hex16(msi.end)} (${formatSize(msi.end - msi.start + 1n)})`;
    const text = msi.sw
      ? `The orange block is the ARM MSI window, IOVA ${range}. On ARM the IOMMU translates a device’s interrupt writes like any DMA, so the kernel reserves this IOVA range and, when the device enables MSI, maps the interrupt controller’s doorbell page (GIC ITS or GICv2m) into it. A VM must not place RAM there: VFIO refuses such a mapping with EINVAL, and the usable IOVA ranges skip it. On a built-in platform the pink page is that doorbell mapping, made for the device in “MSI path” below; the blue band is a VM’s RAM (“Place a VM”).`
      : `The MSI window is IOVA ${range}: on x86 a device write there is an interrupt message taken by the APIC (or the IOMMU’s interrupt remapping), never memory, so VFIO leaves it out of the usable ranges.`;
    const btn = el('button', { type: 'button', id: 'show-msi' }, 'Zoom to the MSI window');
    btn.addEventListener('click', () => lanes.zoomTo(msi.start, msi.end));
    parts.push(el('p', { class: msi.sw ? 'callout' : 'callout x86' }, text, ' ', btn));
  }
  parts.push(
    el(
      'p',
      { class: 'hint' },
      'The axis is piecewise: every piece between two boundaries is linear, and empty gaps (shaded, ≈) are squeezed; the size of each piece is written under the axis. ' +
        'Hover for exact addresses and sizes · scroll or +/− to zoom (down to 4 KiB pages) · drag or ←/→ to pan · double-click a block to zoom to it · 0 for the whole space.',
    ),
  );
  for (const note of view.notes) parts.push(el('p', { class: 'note' }, note));
  $('#story').replaceChildren(...parts);
}

function showDetails(lane: Lane, item: SceneItem | undefined): void {
  const d = $('#details');
  if (!item) {
    d.replaceChildren();
    return;
  }
  d.replaceChildren(
    el('h2', {}, `${lane.title}: ${item.label}`),
    el(
      'div',
      { class: 'mono' },
      `${hex16(item.start)} – ${hex16(item.end)} · ${formatSize(item.end - item.start + 1n)}`,
    ),
    ...item.notes.map((n) => el('p', {}, n)),
    el('p', { class: 'lane-sub' }, lane.subtitle),
  );
}

function render(keepWindow = false): void {
  if (!state.view) return;
  const scene = buildScene(state.view, [...state.overlays.values()].flat());
  lanes.setScene(scene, keepWindow);
}

async function show(loaded: Loaded): Promise<void> {
  const view = loaded.view;
  state.view = view;
  state.overlays.clear();
  showError(undefined);
  story(view);
  render();
  vmmPanel.setHost(view);
  const model = loaded.model ? { ...loaded.model, view } : undefined;
  msiPanel.setModel(model);
  scenarioPanel.setModel(model);
  $('#details').replaceChildren();
}

async function selectSource(id: string): Promise<void> {
  const s = state.sources.find((x) => x.id === id);
  if (!s) return;
  state.current = s;
  ($('#source') as HTMLSelectElement).value = id;
  ($('#kernel') as HTMLSelectElement).disabled = !s.modelled;
  try {
    await show(await s.load(state.kernel));
  } catch (e) {
    showError(e);
  }
}

function refreshSourceMenu(): void {
  const sel = $('#source') as HTMLSelectElement;
  sel.replaceChildren(...state.sources.map((s) => el('option', { value: s.id }, s.label)));
  if (state.current) sel.value = state.current.id;
}

function addSource(s: SourceEntry): void {
  state.sources = [...state.sources.filter((x) => x.id !== s.id), s];
  refreshSourceMenu();
}

/** A dropped, opened or pasted text becomes a source of its own (parsed in the browser). */
async function openText(
  text: string,
  file: string,
  opts: { arch?: 'x86_64' | 'aarch64'; bits?: number } = {},
): Promise<void> {
  try {
    const view =
      opts.arch !== undefined || opts.bits !== undefined
        ? hostViewFromReservedRegions(text, { file, arch: opts.arch, apertureBits: opts.bits })
        : hostViewFromText(text, { file });
    const id = `file:${file}`;
    addSource({ id, label: `file: ${file}`, modelled: false, load: async () => ({ view }) });
    await selectSource(id);
  } catch (e) {
    showError(e);
  }
}

async function fetchJson<T>(url: string): Promise<T | undefined> {
  try {
    const r = await fetch(url);
    if (!r.ok) return undefined;
    return (await r.json()) as T;
  } catch {
    return undefined;
  }
}

function bindControls(): void {
  $('#source').addEventListener('change', (ev) => void selectSource((ev.target as HTMLSelectElement).value));
  $('#kernel').addEventListener('change', (ev) => {
    state.kernel = (ev.target as HTMLSelectElement).value as KernelVersion;
    if (state.current) void selectSource(state.current.id);
  });
  $('#zoom-in').addEventListener('click', () => lanes.zoom(2));
  $('#zoom-out').addEventListener('click', () => lanes.zoom(0.5));
  $('#zoom-fit').addEventListener('click', () => lanes.setWindow(FULL_WINDOW));
  $('#goto-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const r = parseGoto(($('#goto') as HTMLInputElement).value);
    if (!r) {
      showError(new Error('go to: write a range as 0xSTART-0xEND or 0xSTART+SIZE (e.g. 0x8000000+1M)'));
      return;
    }
    showError(undefined);
    lanes.zoomTo(r.start, r.end);
    lanes.root.focus();
  });
  const dialog = $('#paste-dialog') as HTMLDialogElement;
  $('#open-paste').addEventListener('click', () => dialog.showModal());
  dialog.addEventListener('close', () => {
    if (dialog.returnValue !== 'ok') return;
    const text = ($('#paste-text') as HTMLTextAreaElement).value;
    const arch = ($('#paste-arch') as HTMLSelectElement).value;
    const bits = Number(($('#paste-bits') as HTMLSelectElement).value);
    void openText(text, 'pasted reserved_regions', {
      arch: arch === 'aarch64' || arch === 'x86_64' ? arch : undefined,
      bits,
    });
  });
  $('#file').addEventListener('change', async (ev) => {
    const f = (ev.target as HTMLInputElement).files?.[0];
    if (f) await openText(await f.text(), f.name);
  });
  $('#save').addEventListener('click', () => {
    if (!state.view) return;
    const blob = new Blob([snapshotText(state.view, 'iovamap web view')], { type: 'application/json' });
    const a = el('a', {
      href: URL.createObjectURL(blob),
      download: 'iovamap-snapshot.json',
    }) as HTMLAnchorElement;
    a.click();
    URL.revokeObjectURL(a.href);
  });
  // Drag and drop anywhere on the page.
  const hint = $('#drop-hint');
  document.addEventListener('dragover', (ev) => {
    ev.preventDefault();
    hint.hidden = false;
  });
  document.addEventListener('dragleave', (ev) => {
    if (ev.relatedTarget === null) hint.hidden = true;
  });
  document.addEventListener('drop', async (ev) => {
    ev.preventDefault();
    hint.hidden = true;
    const f = ev.dataTransfer?.files[0];
    if (f) await openText(await f.text(), f.name);
    else {
      const t = ev.dataTransfer?.getData('text/plain');
      if (t) await openText(t, 'dropped text');
    }
  });
  // Paste outside of a text field: a reserved_regions text or a snapshot.
  document.addEventListener('paste', async (ev) => {
    const target = ev.target as HTMLElement | null;
    if (target && (target.tagName === 'TEXTAREA' || target.tagName === 'INPUT')) return;
    const t = ev.clipboardData?.getData('text/plain');
    if (t) {
      ev.preventDefault();
      await openText(t, 'pasted text');
    }
  });
}

/** `0xSTART-0xEND` (inclusive) or `0xSTART+SIZE`. */
export function parseGoto(text: string): { start: bigint; end: bigint } | undefined {
  const m = /^\s*([0-9a-fA-Fx_]+)\s*([-+])\s*([0-9a-zA-Z_]+)\s*$/.exec(text);
  if (!m) {
    const a = parseU64(text);
    return a === undefined ? undefined : { start: a, end: a + 0xfffn };
  }
  const start = parseU64(m[1]!);
  if (start === undefined) return undefined;
  if (m[2] === '+') {
    const size = parseSize(m[3]!);
    return size === undefined || size === 0n ? undefined : { start, end: start + size - 1n };
  }
  const end = parseU64(m[3]!);
  return end === undefined || end < start ? undefined : { start, end };
}

/** A platform description modelled in the browser for the chosen kernel. */
function modelled(desc: PlatformDescription, kernel: KernelVersion, source: string): Loaded {
  const profile = kernelProfile(kernel);
  const view = hostViewFromPlatform(desc, profile);
  return { view: { ...view, source, notes: [desc.description, ...view.notes] }, model: { desc, profile } };
}

async function boot(): Promise<void> {
  legend();
  ($('#kernel') as HTMLSelectElement).replaceChildren(
    ...KERNEL_VERSIONS.map((k) => el('option', { value: k }, `Linux ${k}`)),
  );
  bindControls();
  const session = await fetchJson<Session>('api/session');
  if (session?.kernel && (KERNEL_VERSIONS as readonly string[]).includes(session.kernel))
    state.kernel = session.kernel as KernelVersion;
  ($('#kernel') as HTMLSelectElement).value = state.kernel;
  for (const s of session?.sources ?? []) {
    addSource({
      id: s.id,
      label: s.label,
      modelled: false,
      load: async () => {
        const r = await fetch(`api/view?id=${encodeURIComponent(s.id)}`);
        const text = await r.text();
        if (!r.ok) throw new Error(text);
        return { view: hostViewFromJson(text, s.label) };
      },
    });
  }
  for (const p of session?.platforms ?? []) {
    const desc = loadPlatformText(p.text, p.file);
    addSource({
      id: p.id,
      label: p.label,
      modelled: true,
      load: async (k) => modelled(desc, k, `platform:${p.file}`),
    });
  }
  for (const name of presetNames()) {
    addSource({
      id: `preset:${name}`,
      label: `built-in: ${name}`,
      modelled: true,
      load: async (k) => modelled(loadPreset(name), k, `platform:${name}`),
    });
  }
  const first = session?.initial ?? state.sources[0]?.id;
  if (first) await selectSource(first);
  document.body.dataset['ready'] = '1';
}

/** Hooks for keyboard-free automation (the browser tests) — read-only views of the page state. */
declare global {
  interface Window {
    iovamap: {
      locate(lane: string, addr: string, layer?: string): { x: number; y: number } | undefined;
      window(): { lo: string; hi: string };
      drawn(): number;
      select(id: string): Promise<void>;
      load(text: string, file: string): Promise<void>;
    };
  }
}
window.iovamap = {
  locate: (lane, addr, layer) => lanes.locate(lane, BigInt(addr), (layer ?? 'resv') as 'resv'),
  window: () => ({ lo: '0x' + lanes.window.lo.toString(16), hi: '0x' + lanes.window.hi.toString(16) }),
  drawn: () => lanes.drawn,
  select: (id) => selectSource(id),
  load: (text, file) => openText(text, file),
};

void boot();
