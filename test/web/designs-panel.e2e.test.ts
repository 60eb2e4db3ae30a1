/** The "MSI designs" panel in Chromium: the comparison of src/designs runs in the browser. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { type Harness, open, pageErrors, startHarness } from './browser.js';
import { ARM_PRESET } from './fixtures.js';

let h: Harness;
let page: Page;

before(async () => {
  h = await startHarness([], `preset:${ARM_PRESET}`);
  page = await h.page();
});

after(async () => {
  await h?.close();
});

test('designs panel: six designs side by side, the failure each allows when ignored', async () => {
  await open(page, h.url);
  await page.click('#designs-run');
  await page.waitForSelector('table.designs tr[data-design="today"]');
  const names = await page.$$eval('table.designs tr[data-design]', (rows) =>
    rows.map((r) => r.getAttribute('data-design')),
  );
  assert.deepEqual(names, [
    'virtual-doorbell',
    'msi-geometry',
    'msi-resv',
    'resv-iova-range',
    'merged-4.11',
    'today',
  ]);
  const merged = (await page.textContent('tr[data-design="merged-4.11"]')) ?? '';
  assert.match(merged, /MSI-X 4\/4 delivered/);
  assert.match(merged, /4\.11 reported it only by a WARN/);
  assert.match((await page.textContent('tr[data-design="today"]')) ?? '', /0x0000000008000040/);
  await h.shot(page, 'designs-panel-arm');
  assert.deepEqual(pageErrors(page), []);
});
