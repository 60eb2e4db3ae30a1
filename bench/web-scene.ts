/**
 * Web view: the per-frame work outside the canvas, with thousands of regions and mappings (16 groups x
 * 1000 reserved regions + 10000 VFIO mappings on one group): building the scene and its axis, projecting
 * every visible item to pixels for one frame, and the hover lookup.
 */
import type { Benchmark, Figure } from './harness.js';
import { medianNs } from './harness.js';
import type { HostView } from '../src/host/view.js';
import { ResvType } from '../src/iommu/resv-region.js';
import { type Overlay, type SceneItem, LAYERS, buildScene, itemsAt } from '../src/web/scene.js';
import { FULL_WINDOW, Projection, windowFor, zoomAt } from '../src/web/viewport.js';

function bigHost(groups: number, regions: number): HostView {
  return {
    source: 'bench',
    arch: 'x86_64',
    aperture: { start: 0n, end: (1n << 48n) - 1n },
    notes: [],
    groups: Array.from({ length: groups }, (_, id) => ({
      id,
      type: 'DMA',
      devices: [],
      regions: Array.from({ length: regions }, (_, k) => {
        const start = 0x100000000n + BigInt(k) * 0x10000000n + BigInt(id) * 0x1000n;
        return { start, end: start + 0xfffn, typeString: 'reserved', type: ResvType.Reserved };
      }),
      usable: [{ start: 0n, end: 0xffffffffn }],
    })),
  };
}

function mappings(n: number): Overlay {
  const items: SceneItem[] = Array.from({ length: n }, (_, k) => ({
    start: BigInt(k) * 0x4000n,
    end: BigInt(k) * 0x4000n + 0x1fffn,
    layer: 'map',
    cls: 'map',
    label: `mapping ${k}`,
    notes: [],
  }));
  return { groups: [0], items };
}

/** What a frame does before touching the canvas: place every item that intersects the window. */
function projectAll(p: Projection, scene: ReturnType<typeof buildScene>): number {
  let acc = 0;
  const uHi = p.uLo + p.width / p.pxPerU;
  for (const lane of scene.lanes) {
    for (const layer of LAYERS) {
      const items = lane.layers[layer];
      const us = lane.u![layer];
      for (let i = 0; i < items.length; i++) {
        const it = items[i]!;
        if (p.floatSafe) {
          if (us[2 * i + 1]! < p.uLo || us[2 * i]! > uHi) continue;
          acc += p.xu(us[2 * i + 1]!) - p.xu(us[2 * i]!);
        } else {
          if (it.end < p.first || it.start > p.last) continue;
          acc += p.xEnd(it.end) - p.x(it.start);
        }
      }
    }
  }
  return acc;
}

export const webSceneBenchmark: Benchmark = {
  name: 'web-scene',
  run({ quick }) {
    const host = bigHost(16, quick ? 200 : 1000);
    const ov = mappings(quick ? 2000 : 10000);
    const reps = quick ? 3 : 9;
    let scene = buildScene(host, [ov]);
    const build = medianNs(reps, () => {
      scene = buildScene(host, [ov]);
    });
    const width = 1200;
    const full = new Projection(scene.axis, FULL_WINDOW, width);
    const frameFull = medianNs(reps, () => projectAll(full, scene));
    const zoomed = windowFor(scene.axis, 0x100000000n, 0x1ffffffffn, width);
    const pz = new Projection(scene.axis, zoomed, width);
    const frameZoom = medianNs(reps, () => projectAll(pz, scene));
    const deep = new Projection(
      scene.axis,
      windowFor(scene.axis, 0x7000000000n, 0x7000003fffn, width),
      width,
    );
    const frameDeep = medianNs(reps, () => projectAll(deep, scene));
    const zoomStep = medianNs(reps * 10, () => zoomAt(scene.axis, zoomed, 600, 1.2, width));
    const lane = scene.lanes[0]!;
    const hover = medianNs(reps * 100, () => itemsAt(lane, 0x1000n * 4097n));
    const figures: Figure[] = [
      { name: 'items in the scene', value: scene.itemCount, unit: 'items' },
      { name: 'axis pieces', value: scene.axis.segments.length, unit: 'pieces' },
      { name: 'build scene + axis', value: build / 1e6, unit: 'ms' },
      {
        name: 'project every item, whole space',
        value: frameFull / 1e6,
        unit: 'ms/frame',
        target: '< 16',
        met: frameFull / 1e6 < 16,
      },
      {
        name: 'project visible items, 4 GiB zoom',
        value: frameZoom / 1e6,
        unit: 'ms/frame',
        target: '< 16',
        met: frameZoom / 1e6 < 16,
      },
      {
        name: `project visible items, 16 KiB zoom (${deep.floatSafe ? 'float' : 'bigint'} path)`,
        value: frameDeep / 1e6,
        unit: 'ms/frame',
        target: '< 16',
        met: frameDeep / 1e6 < 16,
      },
      { name: 'one wheel zoom step', value: zoomStep / 1e3, unit: 'µs' },
      { name: 'hover lookup', value: hover / 1e3, unit: 'µs' },
    ];
    return figures;
  },
};
