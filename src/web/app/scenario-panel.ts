/**
 * The "Scenario" panel: run a scenario (built-in or a dropped YAML file) on the model and step through
 * it; the VFIO mappings after each step are drawn on the lanes (the newest in pink) and the lines the
 * step printed (CASE rc/errno, RANGE, INFO) are listed.
 */
import { isIovamapError } from '../../base/errors.js';
import { builtinScenarioText, builtinScenarios } from '../../scenario/runner.js';
import { parseScenario } from '../../scenario/parse.js';
import { type ScenarioTrace, traceOverlays, traceScenario } from '../scenario-trace.js';
import { el } from './dom.js';
import type { ModelContext } from './msi-panel.js';
import type { PanelHost } from './vmm-panel.js';

export interface ScenarioHost extends PanelHost {
  /** Shows a built-in platform (and kernel) so the scenario runs where it was written for. */
  showPreset(name: string, kernel?: string): Promise<boolean>;
  presetName(): string | undefined;
}

export class ScenarioPanel {
  readonly root: HTMLElement;
  private readonly pick: HTMLSelectElement;
  private readonly fill: HTMLInputElement;
  private readonly slider: HTMLInputElement;
  private readonly status: HTMLElement;
  private readonly lines: HTMLElement;
  private readonly list: HTMLElement;
  private ctx: ModelContext | undefined;
  private text: { text: string; file: string } | undefined;
  private trace: ScenarioTrace | undefined;
  private k = 0;

  constructor(private readonly app: ScenarioHost) {
    this.pick = el('select', { id: 'scenario', 'aria-label': 'scenario' }) as HTMLSelectElement;
    this.pick.append(el('option', { value: '' }, '— choose a scenario —'));
    for (const n of builtinScenarios()) this.pick.append(el('option', { value: n }, n));
    const file = el('input', {
      type: 'file',
      id: 'scenario-file',
      accept: '.yaml,.yml',
      hidden: '',
    }) as HTMLInputElement;
    this.fill = el('input', { type: 'checkbox', id: 'scenario-fill' }) as HTMLInputElement;
    this.slider = el('input', {
      type: 'range',
      id: 'scenario-slider',
      min: '0',
      max: '0',
      value: '0',
      'aria-label': 'step',
    }) as HTMLInputElement;
    this.status = el('div', { id: 'scenario-status', class: 'mono' });
    this.lines = el('div', { id: 'scenario-lines', class: 'steps' });
    this.list = el('div', { id: 'scenario-steps', class: 'steps' });
    const btn = (id: string, text: string, title: string, go: () => void) => {
      const b = el('button', { type: 'button', id, title }, text);
      b.addEventListener('click', go);
      return b;
    };
    this.root = el(
      'div',
      { class: 'panel', id: 'scenario-panel' },
      el('h2', {}, 'Scenario: step through a VFIO run and watch the mappings'),
      el(
        'div',
        { class: 'row' },
        this.pick,
        el('label', { class: 'file-btn' }, 'Open scenario…', file),
        el(
          'label',
          { title: 'the 65535-mapping dma_entry_limit fill takes a second or two' },
          this.fill,
          ' run the fill test',
        ),
      ),
      el(
        'div',
        { class: 'row' },
        btn('scenario-first', '|◀', 'first step', () => this.go(0)),
        btn('scenario-prev', '◀', 'previous step', () => this.go(this.k - 1)),
        btn('scenario-next', '▶', 'next step', () => this.go(this.k + 1)),
        btn('scenario-last', '▶|', 'last step', () => this.go(Number.MAX_SAFE_INTEGER)),
        this.slider,
      ),
      this.status,
      this.lines,
      this.list,
    );
    this.pick.addEventListener('change', () => void this.choose(this.pick.value));
    this.fill.addEventListener('change', () => this.run());
    this.slider.addEventListener('input', () => this.go(Number(this.slider.value)));
    file.addEventListener('change', async () => {
      const f = file.files?.[0];
      if (f) await this.load(await f.text(), f.name);
    });
  }

  private async choose(name: string): Promise<void> {
    if (!name) {
      this.text = undefined;
      this.trace = undefined;
      this.app.setOverlay('scenario', undefined);
      this.render();
      return;
    }
    await this.load(builtinScenarioText(name) ?? '', `scenarios/${name}.yaml`);
  }

  /** A scenario text: switch to its platform when it names a built-in one, then run it there. */
  async load(text: string, file: string): Promise<void> {
    this.text = { text, file };
    let platform: string | undefined;
    let kernel: string | undefined;
    try {
      const sc = parseScenario(text, file);
      platform = sc.platform;
      kernel = sc.kernel;
    } catch (e) {
      this.fail(e);
      return;
    }
    if (platform !== undefined && platform !== this.app.presetName()) {
      // setModel() runs it once the platform is shown.
      if (await this.app.showPreset(platform, kernel)) return;
    }
    this.run();
  }

  setModel(ctx: ModelContext | undefined): void {
    this.ctx = ctx;
    this.run();
  }

  private fail(e: unknown): void {
    this.trace = undefined;
    this.app.setOverlay('scenario', undefined);
    this.status.replaceChildren(
      el('div', { class: 'conflict' }, isIovamapError(e) || e instanceof Error ? e.message : String(e)),
    );
    this.lines.replaceChildren();
    this.list.replaceChildren();
  }

  private run(): void {
    if (!this.text) return this.render();
    if (!this.ctx) {
      this.fail(new Error('Scenarios run on the model: choose a built-in platform in “Show”.'));
      return;
    }
    try {
      this.trace = traceScenario(this.text.text, this.text.file, this.ctx.desc, this.ctx.profile, {
        vars: this.fill.checked ? {} : { fill: 0n },
      });
    } catch (e) {
      this.fail(e);
      return;
    }
    this.k = 0;
    this.slider.max = String(Math.max(0, this.trace.steps.length - 1));
    this.go(0);
  }

  private go(k: number): void {
    const t = this.trace;
    if (!t || t.steps.length === 0) return this.render();
    this.k = Math.max(0, Math.min(t.steps.length - 1, k));
    this.slider.value = String(this.k);
    this.app.setOverlay('scenario', traceOverlays(t, this.k));
    this.render();
  }

  private render(): void {
    const t = this.trace;
    if (!t) {
      if (!this.text) {
        this.status.replaceChildren(
          el(
            'p',
            { class: 'lane-sub' },
            'Choose a scenario: it runs on the model, and each step’s VFIO mappings appear on the lanes.',
          ),
        );
        this.lines.replaceChildren();
        this.list.replaceChildren();
      }
      return;
    }
    const s = t.steps[this.k];
    const head = `${t.name} on ${t.platform}: step ${s ? this.k + 1 : 0} of ${t.steps.length}${s ? ` — ${s.title} (line ${s.line})` : ''} · ${s?.mappingCount ?? 0} mapping(s)`;
    this.status.replaceChildren(
      el('div', { id: 'scenario-head' }, head),
      ...(t.error ? [el('div', { class: 'conflict' }, `stopped: ${t.error}`)] : []),
      ...(t.exitCode !== 0
        ? [el('div', { class: 'conflict' }, `the scenario exited with ${t.exitCode}`)]
        : []),
    );
    this.lines.replaceChildren(
      ...(s?.lines.length ? s.lines : ['(this step printed nothing)']).map((l) =>
        el('div', { class: /rc=-/.test(l) ? 'failed' : '' }, l),
      ),
    );
    this.list.replaceChildren(
      ...t.steps.map((x) => {
        const row = el(
          'div',
          {
            class: `${x.index === this.k ? 'current' : ''} ${x.failed ? 'failed' : ''}`,
            'data-step': String(x.index),
          },
          `${String(x.index + 1).padStart(3)}  ${x.title}${x.failed ? '  (rc<0)' : ''}`,
        );
        row.addEventListener('click', () => this.go(x.index));
        return row;
      }),
    );
    this.list.querySelector('.current')?.scrollIntoView({ block: 'nearest' });
  }
}
