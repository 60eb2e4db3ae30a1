/**
 * The lanes view: one canvas row per IOMMU group over a piecewise IOVA axis, with hover (exact hex and
 * size), click to select, double-click to zoom to an item, wheel/drag/keyboard zoom and pan.
 * Canvas keeps thousands of regions and mappings cheap; the text people read (labels, tooltip, details)
 * stays in the DOM.
 */
import { formatSize, hex16 } from '../../base/u64.js';
import { LAYERS, type Lane, type Layer, type Scene, type SceneItem, itemsAt, itemsIn } from '../scene.js';
import { type AxisWindow, FULL_WINDOW, Projection, panBy, ticks, windowFor, zoomAt } from '../viewport.js';
import { el } from './dom.js';

export const LANE_H = 64;
const AXIS_H = 46;

/** Fill colours by item class. */
export const COLOURS: Record<string, string> = {
  'sw-msi': '#f08c00',
  msi: '#e8590c',
  reserved: '#495057',
  direct: '#9c36b5',
  'direct-relaxable': '#da77f2',
  usable: '#d3f9d8',
  outside: '#e9ecef',
  ram: 'rgba(51, 154, 240, 0.45)',
  mmio: 'rgba(250, 176, 5, 0.55)',
  guest: 'rgba(134, 142, 150, 0.35)',
  map: '#1864ab',
  'map-new': '#e64980',
  firmware: 'rgba(112, 72, 232, 0.5)',
  'pci-window': 'rgba(250, 176, 5, 0.35)',
  conflict: 'rgba(224, 49, 49, 0.25)',
};

/** Vertical band of each layer inside a lane: [top, height]. */
const BAND: Record<Layer, [number, number]> = {
  outside: [4, LANE_H - 8],
  usable: [16, 30],
  resv: [16, 30],
  guest: [4, 10],
  map: [49, 11],
  conflict: [2, LANE_H - 4],
};

export interface LaneViewEvents {
  select(lane: Lane, item: SceneItem | undefined): void;
  status(text: string): void;
}

export function shortHex(v: bigint): string {
  return '0x' + v.toString(16);
}

export class LaneView {
  readonly root: HTMLElement;
  private readonly axisCanvas: HTMLCanvasElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly labels: HTMLElement;
  private readonly tooltip: HTMLElement;
  private scene: Scene | undefined;
  private win: AxisWindow = FULL_WINDOW;
  private proj: Projection | undefined;
  private drag: { x: number; win: AxisWindow; moved: boolean } | undefined;
  private selected: SceneItem | undefined;
  private frame = 0;
  /** Items drawn in the last frame (after pixel merging), for the status line and tests. */
  drawn = 0;

  constructor(private readonly events: LaneViewEvents) {
    this.axisCanvas = el('canvas', { class: 'axis', 'aria-label': 'IOVA axis' }) as HTMLCanvasElement;
    this.canvas = el('canvas', {
      class: 'lanes',
      'aria-label': 'IOMMU groups over the IOVA space',
    }) as HTMLCanvasElement;
    this.labels = el('div', { class: 'lane-labels' });
    this.tooltip = el('div', { class: 'tooltip', id: 'tooltip', role: 'tooltip', hidden: '' });
    this.root = el(
      'div',
      { class: 'map', id: 'map', tabindex: '0' },
      el('div', { class: 'map-head' }, el('div', { class: 'corner' }, 'IOVA →'), this.axisCanvas),
      el('div', { class: 'map-body' }, this.labels, this.canvas),
      this.tooltip,
    );
    this.bind();
    new ResizeObserver(() => this.redraw()).observe(this.canvas);
  }

  get window(): AxisWindow {
    return this.win;
  }

  setScene(scene: Scene, keepWindow = false): void {
    this.scene = scene;
    if (!keepWindow) this.win = FULL_WINDOW;
    this.labels.replaceChildren(
      ...scene.lanes.map((l) =>
        el(
          'div',
          { class: 'lane-label', 'data-lane': l.key, style: `height:${LANE_H}px` },
          el(
            'div',
            { class: 'lane-title' },
            l.title,
            ...l.badges.map((b) => el('span', { class: `badge ${b.tone}` }, b.text)),
          ),
          el('div', { class: 'lane-sub', title: l.subtitle }, l.subtitle),
        ),
      ),
    );
    this.canvas.style.height = `${scene.lanes.length * LANE_H}px`;
    this.redraw();
  }

  setWindow(w: AxisWindow): void {
    this.win = w;
    this.redraw();
  }

  /** Zoom so that [start, end] fills most of the width. */
  zoomTo(start: bigint, end: bigint): void {
    if (!this.scene) return;
    this.setWindow(windowFor(this.scene.axis, start, end, this.canvas.clientWidth || 1));
  }

  zoom(factor: number, atX?: number): void {
    if (!this.scene) return;
    const w = this.canvas.clientWidth || 1;
    this.setWindow(zoomAt(this.scene.axis, this.win, atX ?? w / 2, factor, w));
  }

  pan(dx: number): void {
    if (!this.scene) return;
    this.setWindow(panBy(this.scene.axis, this.win, dx, this.canvas.clientWidth || 1));
  }

  select(item: SceneItem | undefined): void {
    this.selected = item;
    this.redraw();
  }

  /** Client coordinates of an address in a lane (used by keyboard users' "go to" and by tests). */
  locate(laneKey: string, addr: bigint, layer: Layer = 'resv'): { x: number; y: number } | undefined {
    if (!this.scene || !this.proj) return undefined;
    const li = this.scene.lanes.findIndex((l) => l.key === laneKey);
    if (li < 0) return undefined;
    const r = this.canvas.getBoundingClientRect();
    const [top, h] = BAND[layer];
    // One pixel in: pointer positions are whole pixels, the boundary itself may fall between two.
    return { x: r.left + Math.ceil(this.proj.x(addr)) + 1, y: r.top + li * LANE_H + top + h / 2 };
  }

  redraw(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  /** Draws now (tests call this through the page to avoid waiting for a frame). */
  draw(): void {
    const scene = this.scene;
    if (!scene) return;
    const width = Math.max(1, this.canvas.clientWidth);
    const proj = new Projection(scene.axis, this.win, width);
    this.proj = proj;
    this.drawAxis(proj, width);
    this.drawLanes(scene, proj, width);
    const span = proj.last - proj.first + 1n;
    this.root.dataset['first'] = hex16(proj.first);
    this.root.dataset['last'] = hex16(proj.last);
    this.events.status(
      `showing ${hex16(proj.first)} – ${hex16(proj.last)} (${formatSize(span)}) · ${scene.itemCount} items, ${this.drawn} drawn`,
    );
  }

  private setup(c: HTMLCanvasElement, width: number, height: number): CanvasRenderingContext2D {
    const dpr = window.devicePixelRatio || 1;
    if (c.width !== Math.round(width * dpr) || c.height !== Math.round(height * dpr)) {
      c.width = Math.round(width * dpr);
      c.height = Math.round(height * dpr);
    }
    const ctx = c.getContext('2d')!;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    return ctx;
  }

  private drawAxis(proj: Projection, width: number): void {
    const ctx = this.setup(this.axisCanvas, width, AXIS_H);
    ctx.font = '11px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace';
    ctx.textBaseline = 'top';
    // Pieces: gaps are compressed (shaded, with a break mark); size label centred in each piece.
    for (const part of proj.parts) {
      const w = part.x1 - part.x0;
      if (part.gap) {
        ctx.fillStyle = '#f1f3f5';
        ctx.fillRect(part.x0, 0, w, AXIS_H);
        if (w > 14) {
          const mx = part.x0 + w / 2;
          ctx.strokeStyle = '#adb5bd';
          ctx.beginPath();
          ctx.moveTo(mx - 4, 30);
          ctx.lineTo(mx - 1, 24);
          ctx.lineTo(mx + 1, 36);
          ctx.lineTo(mx + 4, 30);
          ctx.stroke();
        }
      }
      const seg = proj.axis.segments[part.seg]!;
      const label = formatSize(seg.size);
      const lw = ctx.measureText(label).width;
      if (w > lw + 12) {
        ctx.fillStyle = '#868e96';
        ctx.fillText(label, part.x0 + (w - lw) / 2, 32);
      }
    }
    const ts = ticks(proj);
    let lastRight = -Infinity;
    let lastLine = -Infinity;
    for (const t of ts) {
      const label = shortHex(t.addr);
      const lw = ctx.measureText(label).width;
      const lx = Math.min(Math.max(0, t.x - lw / 2), width - lw);
      const labelled = lx > lastRight + 6;
      // Thousands of pieces: a tick line at most every 4 px unless it carries a label.
      if (!labelled && t.x - lastLine < 4) continue;
      lastLine = t.x;
      ctx.strokeStyle = t.boundary ? '#495057' : '#ced4da';
      ctx.beginPath();
      ctx.moveTo(Math.round(t.x) + 0.5, t.boundary ? 12 : 18);
      ctx.lineTo(Math.round(t.x) + 0.5, AXIS_H);
      ctx.stroke();
      if (labelled) {
        ctx.fillStyle = t.boundary ? '#212529' : '#868e96';
        ctx.fillText(label, lx, t.boundary ? 0 : 6);
        lastRight = lx + lw;
      }
    }
  }

  private drawLanes(scene: Scene, proj: Projection, width: number): void {
    const height = scene.lanes.length * LANE_H;
    const ctx = this.setup(this.canvas, width, height);
    let drawn = 0;
    scene.lanes.forEach((lane, li) => {
      const y0 = li * LANE_H;
      ctx.fillStyle = li % 2 ? '#fcfcfd' : '#ffffff';
      ctx.fillRect(0, y0, width, LANE_H);
      for (const layer of LAYERS) {
        drawn += this.drawLayer(ctx, proj, lane, layer, y0);
      }
      ctx.strokeStyle = '#dee2e6';
      ctx.beginPath();
      ctx.moveTo(0, y0 + LANE_H - 0.5);
      ctx.lineTo(width, y0 + LANE_H - 0.5);
      ctx.stroke();
    });
    // Piece boundaries as faint guides across all lanes.
    ctx.strokeStyle = 'rgba(73, 80, 87, 0.12)';
    let lastGuide = -Infinity;
    for (const part of proj.parts) {
      if (part.x0 - lastGuide < 8) continue;
      lastGuide = part.x0;
      ctx.beginPath();
      ctx.moveTo(Math.round(part.x0) + 0.5, 0);
      ctx.lineTo(Math.round(part.x0) + 0.5, height);
      ctx.stroke();
    }
    this.drawn = drawn;
  }

  private drawLayer(
    ctx: CanvasRenderingContext2D,
    proj: Projection,
    lane: Lane,
    layer: Layer,
    y0: number,
  ): number {
    const items = lane.layers[layer];
    const us = lane.u?.[layer];
    const [top, h] = BAND[layer];
    const y = y0 + top;
    let drawn = 0;
    let lastX = -Infinity;
    let lastCls = '';
    ctx.font = '11px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    const fast = proj.floatSafe && us !== undefined;
    // Items are sorted by start: skip those that end before the window with a binary search.
    let i = fast ? firstEndingAtOrAfterU(us, proj.uLo) : firstEndingAtOrAfter(items, proj.first);
    const uHi = proj.uLo + proj.width / proj.pxPerU;
    for (; i < items.length; i++) {
      const it = items[i]!;
      let x0: number;
      let x1: number;
      if (fast) {
        const u0 = us[2 * i]!;
        const u1 = us[2 * i + 1]!;
        if (u0 > uHi) break;
        if (u1 < proj.uLo) continue;
        x0 = proj.xu(u0);
        x1 = proj.xu(u1);
      } else {
        if (it.start > proj.last) break;
        if (it.end < proj.first) continue;
        x0 = proj.x(it.start < proj.first ? proj.first : it.start);
        x1 = proj.xEnd(it.end > proj.last ? proj.last : it.end);
      }
      x0 = Math.max(-2, x0);
      x1 = Math.min(proj.width + 2, x1);
      // Anything, however small, stays visible: at least 2 px.
      if (x1 - x0 < 2) x1 = x0 + 2;
      // Pixel merging: a run of tiny items of the same kind in the same pixel column is drawn once.
      if (x1 - x0 <= 2 && it.cls === lastCls && Math.floor(x0) <= lastX) continue;
      lastX = Math.floor(x1);
      lastCls = it.cls;
      drawn++;
      this.paint(ctx, it, layer, x0, x1, y, h);
    }
    return drawn;
  }

  private paint(
    ctx: CanvasRenderingContext2D,
    it: SceneItem,
    layer: Layer,
    x0: number,
    x1: number,
    y: number,
    h: number,
  ): void {
    if (layer === 'outside') {
      ctx.fillStyle = COLOURS['outside']!;
      ctx.fillRect(x0, y, x1 - x0, h);
      hatch(ctx, x0, y, x1 - x0, h);
      return;
    }
    if (layer === 'usable') {
      ctx.fillStyle = COLOURS['usable']!;
      ctx.fillRect(x0, y, x1 - x0, h);
      ctx.fillStyle = '#2f9e44';
      ctx.fillRect(x0, y + h - 3, x1 - x0, 3);
      return;
    }
    if (layer === 'conflict') {
      ctx.fillStyle = COLOURS['conflict']!;
      ctx.fillRect(x0, y, x1 - x0, h);
      ctx.strokeStyle = '#e03131';
      ctx.lineWidth = 2;
      ctx.strokeRect(x0 + 1, y + 1, Math.max(1, x1 - x0 - 2), h - 2);
      ctx.lineWidth = 1;
      return;
    }
    ctx.fillStyle = COLOURS[it.cls] ?? '#adb5bd';
    ctx.fillRect(x0, y, x1 - x0, h);
    if (it.conflict) {
      ctx.strokeStyle = '#e03131';
      ctx.lineWidth = 2;
      ctx.strokeRect(x0, y, Math.max(1, x1 - x0), h);
      ctx.lineWidth = 1;
    }
    if (it === this.selected) {
      ctx.strokeStyle = '#212529';
      ctx.lineWidth = 2;
      ctx.strokeRect(x0, y - 1, x1 - x0, h + 2);
      ctx.lineWidth = 1;
    }
    if (layer === 'resv' && x1 - x0 > 60) {
      const text = `${it.cls === 'sw-msi' || it.cls === 'msi' ? 'MSI' : it.cls} ${formatSize(it.end - it.start + 1n)}`;
      const tw = ctx.measureText(text).width;
      if (tw + 8 < x1 - x0) {
        ctx.fillStyle = '#ffffff';
        ctx.fillText(text, Math.max(x0, 0) + 4, y + h / 2);
      }
    }
  }

  private laneAt(clientY: number): { lane: Lane; li: number; yIn: number } | undefined {
    if (!this.scene) return undefined;
    const r = this.canvas.getBoundingClientRect();
    const y = clientY - r.top;
    const li = Math.floor(y / LANE_H);
    const lane = this.scene.lanes[li];
    return lane ? { lane, li, yIn: y - li * LANE_H } : undefined;
  }

  private pick(ev: MouseEvent): { lane: Lane; addr: bigint; items: SceneItem[] } | undefined {
    const at = this.laneAt(ev.clientY);
    if (!at || !this.proj) return undefined;
    const x = ev.clientX - this.canvas.getBoundingClientRect().left;
    const addr = this.proj.addrAt(x);
    let items = itemsAt(at.lane, addr);
    if (items.length === 0) {
      // Sub-pixel items are drawn 2 px wide: look a few pixels either side, nearest first.
      const near = itemsIn(at.lane, this.proj.addrAt(x - 3), this.proj.addrAt(x + 3));
      const dist = (it: SceneItem) => Math.abs((this.proj!.x(it.start) + this.proj!.xEnd(it.end)) / 2 - x);
      items = near.sort((a, b) => dist(a) - dist(b)).slice(0, 1);
    }
    // Prefer the layer under the pointer's band.
    const band = (l: Layer) => at.yIn >= BAND[l][0] && at.yIn < BAND[l][0] + BAND[l][1];
    items.sort((a, b) => Number(band(b.layer)) - Number(band(a.layer)));
    return { lane: at.lane, addr, items };
  }

  private showTooltip(ev: MouseEvent): void {
    const p = this.pick(ev);
    if (!p) {
      this.tooltip.hidden = true;
      return;
    }
    const parts: (HTMLElement | string)[] = [
      el('div', { class: 'tt-head' }, `${p.lane.title} · address ${hex16(p.addr)}`),
    ];
    if (p.items.length === 0) parts.push(el('div', { class: 'tt-empty' }, 'nothing here'));
    for (const it of p.items.slice(0, 4)) {
      parts.push(
        el(
          'div',
          { class: 'tt-item', 'data-cls': it.cls },
          el('span', { class: 'swatch', style: `background:${COLOURS[it.cls] ?? '#adb5bd'}` }),
          el('b', {}, it.label),
          it.conflict ? el('span', { class: 'badge bad' }, 'conflict') : '',
          el('div', { class: 'tt-range' }, `${hex16(it.start)} – ${hex16(it.end)}`),
          el(
            'div',
            { class: 'tt-size' },
            `${formatSize(it.end - it.start + 1n)} (${shortHex(it.end - it.start + 1n)} bytes)`,
          ),
          it.notes[0] ? el('div', { class: 'tt-note' }, it.notes[0]) : '',
        ),
      );
    }
    this.tooltip.replaceChildren(...parts);
    this.tooltip.hidden = false;
    const host = this.root.getBoundingClientRect();
    const tw = this.tooltip.offsetWidth;
    let left = ev.clientX - host.left + 14;
    if (left + tw > host.width) left = ev.clientX - host.left - tw - 14;
    this.tooltip.style.left = `${Math.max(0, left)}px`;
    this.tooltip.style.top = `${ev.clientY - host.top + 16}px`;
  }

  private bind(): void {
    const c = this.canvas;
    c.addEventListener('mousemove', (ev) => {
      if (this.drag) {
        const dx = ev.clientX - this.drag.x;
        if (Math.abs(dx) > 2) this.drag.moved = true;
        if (this.scene) this.win = panBy(this.scene.axis, this.drag.win, -dx, c.clientWidth || 1);
        this.redraw();
        this.tooltip.hidden = true;
        return;
      }
      this.showTooltip(ev);
    });
    c.addEventListener('mouseleave', () => {
      this.tooltip.hidden = true;
    });
    c.addEventListener('mousedown', (ev) => {
      this.drag = { x: ev.clientX, win: this.win, moved: false };
    });
    window.addEventListener('mouseup', (ev) => {
      const d = this.drag;
      this.drag = undefined;
      if (d && !d.moved && ev.target === c) {
        const p = this.pick(ev);
        if (p) {
          const it = p.items[0];
          this.select(it);
          this.events.select(p.lane, it);
        }
      }
    });
    c.addEventListener('dblclick', (ev) => {
      const p = this.pick(ev);
      const it = p?.items.find((i) => i.layer !== 'usable' && i.layer !== 'outside') ?? p?.items[0];
      if (it) this.zoomTo(it.start, it.end);
    });
    const onWheel = (ev: WheelEvent) => {
      ev.preventDefault();
      const x = ev.clientX - c.getBoundingClientRect().left;
      if (Math.abs(ev.deltaX) > Math.abs(ev.deltaY) || ev.shiftKey) {
        this.pan((ev.shiftKey ? ev.deltaY : ev.deltaX) * 1.0);
      } else {
        this.zoom(Math.exp(-ev.deltaY * 0.002), x);
      }
    };
    c.addEventListener('wheel', onWheel, { passive: false });
    this.axisCanvas.addEventListener('wheel', onWheel, { passive: false });
    this.root.addEventListener('keydown', (ev) => {
      const w = c.clientWidth || 1;
      switch (ev.key) {
        case '+':
        case '=':
          this.zoom(1.6);
          break;
        case '-':
        case '_':
          this.zoom(1 / 1.6);
          break;
        case 'ArrowLeft':
          this.pan(-w * 0.2);
          break;
        case 'ArrowRight':
          this.pan(w * 0.2);
          break;
        case '0':
        case 'Home':
          this.setWindow(FULL_WINDOW);
          break;
        case 'Escape':
          this.select(undefined);
          break;
        default:
          return;
      }
      ev.preventDefault();
    });
  }
}

function firstEndingAtOrAfter(items: readonly SceneItem[], addr: bigint): number {
  // Sorted by start; ends are not monotonic when items of a layer overlap, so find the first item
  // starting at or after addr and back off a little to catch an earlier item that reaches into view.
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (items[mid]!.start < addr) lo = mid + 1;
    else hi = mid;
  }
  return Math.max(0, lo - 64);
}

function firstEndingAtOrAfterU(us: Float64Array, u: number): number {
  let lo = 0;
  let hi = us.length / 2;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (us[2 * mid]! < u) lo = mid + 1;
    else hi = mid;
  }
  return Math.max(0, lo - 64);
}

function hatch(ctx: CanvasRenderingContext2D, x: number, y: number, w: number, h: number): void {
  ctx.save();
  ctx.beginPath();
  ctx.rect(x, y, w, h);
  ctx.clip();
  ctx.strokeStyle = 'rgba(134, 142, 150, 0.5)';
  for (let k = Math.floor(x / 8) * 8 - h; k < x + w; k += 8) {
    ctx.beginPath();
    ctx.moveTo(k, y + h);
    ctx.lineTo(k + h, y);
    ctx.stroke();
  }
  ctx.restore();
}
