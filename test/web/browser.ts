/**
 * Browser test harness: Debian's Chromium driven by playwright-core (no browser download, ever), one
 * in-process `iovamap serve` server, and screenshots kept under test-artifacts/web/.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { type ServedSource, startServer } from '../../src/cli/serve.js';

export const CHROMIUM = process.env['IOVAMAP_CHROMIUM'] ?? '/usr/bin/chromium';
export const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/web/', import.meta.url));

const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/** The read-only hooks the app exposes as `window.iovamap` (see src/web/app/main.ts). */
export interface PageApi {
  locate(lane: string, addr: string, layer?: string): { x: number; y: number } | undefined;
  window(): { lo: string; hi: string };
  drawn(): number;
  select(id: string): Promise<void>;
  load(text: string, file: string): Promise<void>;
}
/** The page's globals as seen inside page.evaluate (the tests compile without the DOM library). */
export type PageGlobals = { iovamap: PageApi; requestAnimationFrame(cb: () => void): number };

export interface Harness {
  readonly browser: Browser;
  readonly url: string;
  page(): Promise<Page>;
  shot(page: Page, name: string): Promise<void>;
  close(): Promise<void>;
}

export async function startHarness(sources: readonly ServedSource[], initial?: string): Promise<Harness> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: install it with "apt-get install -y chromium" (.ci/run does) or set IOVAMAP_CHROMIUM`,
    );
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  const server = await startServer({ sources, initial, host: '127.0.0.1', port: 0 });
  // launch() gives every run a fresh temporary profile (the --user-data-dir).
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    timeout: 30_000,
  });
  return {
    browser,
    url: server.url,
    async page() {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      page.setDefaultTimeout(10_000);
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      (page as Page & { errors: string[] }).errors = errors;
      return page;
    },
    async shot(page, name) {
      await page.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage: true });
    },
    async close() {
      await browser.close();
      await server.close();
    },
  };
}

export function pageErrors(page: Page): string[] {
  return (page as Page & { errors?: string[] }).errors ?? [];
}

/** Loads the app, optionally choosing a source, and waits until it has drawn. */
export async function open(page: Page, url: string, source?: string): Promise<void> {
  await page.goto(url);
  await page.waitForSelector('body[data-ready="1"]');
  if (source !== undefined)
    await page.evaluate((id) => (globalThis as unknown as PageGlobals).iovamap.select(id), source);
  await frame(page);
}

/** Waits for the next animation frame (the lanes redraw in requestAnimationFrame). */
export async function frame(page: Page): Promise<void> {
  await page.evaluate(
    () =>
      new Promise<void>((r) => {
        const w = globalThis as unknown as PageGlobals;
        w.requestAnimationFrame(() => w.requestAnimationFrame(() => r()));
      }),
  );
}

/** Moves the real mouse over an address of a lane and returns the tooltip text. */
export async function hover(page: Page, lane: string, addr: bigint, layer = 'resv'): Promise<string> {
  await page.locator(`.lane-label[data-lane="${lane}"]`).scrollIntoViewIfNeeded();
  const pos = await page.evaluate(
    ([l, a, y]) => (globalThis as unknown as PageGlobals).iovamap.locate(l, a, y),
    [lane, '0x' + addr.toString(16), layer] as const,
  );
  if (!pos) throw new Error(`cannot locate ${lane} ${addr.toString(16)}`);
  await page.mouse.move(pos.x, pos.y);
  await page.waitForSelector('#tooltip:not([hidden])');
  return (await page.textContent('#tooltip')) ?? '';
}

export async function viewWindow(page: Page): Promise<{ lo: bigint; hi: bigint }> {
  const w = await page.evaluate(() => (globalThis as unknown as PageGlobals).iovamap.window());
  return { lo: BigInt(w.lo), hi: BigInt(w.hi) };
}
