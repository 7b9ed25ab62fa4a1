// A Hugging Face repo id loaded through the UI in real Chromium, from a hub stand-in started by the
// test on 127.0.0.1 (?hub= points the app at it; the tests never touch the network): a progress bar
// with bytes, speed and file while downloading, the files kept in Cache Storage so a reload loads
// them with no request at all, and Cancel, which keeps the model loaded before.

import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { startHubServer, type HubServer } from '../test/helpers/hub-server.ts';

const DEMO = join(import.meta.dirname, '..', 'public', 'models', 'kjv-llama');
const WEIGHTS = 'model.safetensors';
const REPO = 'tabtune-test/kjv-llama';
const SLOW = 'tabtune-test/slow-llama';
const DEMO_NAME = 'kjv-llama (bundled)';

let hub: HubServer;

test.beforeAll(async () => {
  hub = await startHubServer({
    // About 2 s for the weights, so the bar is there to be seen.
    [REPO]: { dir: DEMO, slow: { files: [WEIGHTS], chunk: 65536, delayMs: 100 } },
    // About 25 s: long enough to cancel.
    [SLOW]: { dir: DEMO, slow: { files: [WEIGHTS], chunk: 16384, delayMs: 300 } },
  });
});

test.afterAll(async () => {
  await hub.close();
});

async function openWithDemo(page: Page): Promise<void> {
  await page.goto(`/?hub=${encodeURIComponent(hub.base)}`);
  await expect(page.getByTestId('model-panel')).toHaveAttribute('data-model-status', 'ready', { timeout: 90_000 });
  await expect(page.getByTestId('model-name')).toHaveText(DEMO_NAME);
}

async function download(page: Page, repo: string): Promise<void> {
  await page.getByLabel('Hugging Face repo id').fill(repo);
  await page.getByRole('button', { name: 'Download', exact: true }).click();
}

function cachedUrls(page: Page): Promise<string[]> {
  return page.evaluate(async () => (await (await caches.open('tabtune-models')).keys()).map((r) => r.url));
}

test('downloads a repo with a progress bar, and after a reload loads it from the cache without a request', async ({ page }) => {
  test.setTimeout(240_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await openWithDemo(page);
  await expect(page.getByLabel('Hub mirror URL')).toHaveValue(hub.base);

  await download(page, REPO);
  const bar = page.locator(`[data-testid="download-progress"][data-file="${WEIGHTS}"]`);
  await expect(bar).toBeVisible({ timeout: 60_000 });
  await expect(bar.getByRole('progressbar', { name: 'Download progress' })).toBeVisible();
  await expect(bar.getByRole('button', { name: 'Cancel' })).toBeVisible();
  await expect(bar.getByTestId('download-text')).toHaveText(/^\d+\.\d \/ 1\.\d MiB · [\d.]+ [KM]?i?B\/s · model\.safetensors$/);
  console.log(`progress: ${await bar.getByTestId('download-text').innerText()}`);
  await page.screenshot({ path: test.info().outputPath('hub-download-progress.png') });

  await expect(page.getByTestId('model-name')).toHaveText(REPO, { timeout: 90_000 });
  await expect(page.getByTestId('model-panel')).toHaveAttribute('data-model-status', 'ready');
  await expect(page.getByTestId('download-progress')).toHaveCount(0);
  await expect(page.getByTestId('model-files-summary')).toContainText('downloaded');
  await expect(page.getByTestId('model-parameters')).not.toBeEmpty();
  expect(hub.count(REPO, WEIGHTS)).toBe(1);
  // What the first page kept: its loads, and any probe of other panels (the chat template, say)
  // that finished. A probe cut off by the reload was never kept, and may be asked for again.
  const prefix = `${hub.base}/${REPO}/resolve/main/`;
  const kept = new Set((await cachedUrls(page)).filter((u) => u.startsWith(prefix)).map((u) => decodeURIComponent(u.slice(prefix.length))));
  for (const file of ['config.json', 'tokenizer.json', WEIGHTS]) expect(kept).toContain(file);

  await page.reload();
  const sinceReload = hub.requests.length;
  await expect(page.getByTestId('model-panel')).toHaveAttribute('data-model-status', 'ready', { timeout: 90_000 });
  await expect(page.getByTestId('model-name')).toHaveText(DEMO_NAME);
  await download(page, REPO);
  await expect(page.getByTestId('model-name')).toHaveText(REPO, { timeout: 90_000 });
  await expect(page.getByTestId('model-files-summary')).toContainText('all from cache');
  await expect(page.getByRole('list', { name: 'Model files' })).toContainText(`${WEIGHTS} · 1.2 MiB · from cache`);
  await page.screenshot({ path: test.info().outputPath('hub-from-cache.png') });
  const again = hub.requests.slice(sinceReload).filter((r) => r.repo === REPO && kept.has(r.file)).map((r) => r.file);
  console.log(`kept before the reload: ${[...kept].join(', ')}; asked for again after it: ${again.join(', ') || 'nothing'}`);
  // Not the weights, and not even the probes for files the repo lacks (they are remembered too).
  expect(hub.count(REPO, WEIGHTS)).toBe(1);
  expect(again).toEqual([]);
  expect(errors).toEqual([]);
});

test('Cancel stops a download, keeps nothing of it, and the model loaded before stays ready', async ({ page }) => {
  test.setTimeout(240_000);
  await openWithDemo(page);

  await download(page, SLOW);
  const bar = page.locator(`[data-testid="download-progress"][data-file="${WEIGHTS}"]`);
  await expect(bar).toBeVisible({ timeout: 60_000 });
  await expect.poll(async () => Number(await bar.getAttribute('data-loaded'))).toBeGreaterThan(0);
  await bar.getByRole('button', { name: 'Cancel' }).click();

  const message = page.getByTestId('model-message');
  await expect(message).toHaveText(`Loading ${SLOW} was cancelled; ${DEMO_NAME} is still loaded.`, { timeout: 30_000 });
  await expect(page.getByTestId('model-panel')).toHaveAttribute('data-model-status', 'ready');
  await expect(page.getByTestId('model-name')).toHaveText(DEMO_NAME);
  await expect(page.getByTestId('download-progress')).toHaveCount(0);
  await expect(page.getByTestId('log')).toContainText('was cancelled');
  const req = hub.requests.filter((r) => r.repo === SLOW && r.file === WEIGHTS).at(-1)!;
  await expect.poll(() => req.aborted).toBe(true);
  const cached = await cachedUrls(page);
  expect(cached).toContain(`${hub.base}/${SLOW}/resolve/main/config.json`);
  expect(cached).not.toContain(`${hub.base}/${SLOW}/resolve/main/${WEIGHTS}`);

  // The demo model still answers.
  await page.getByLabel('Prompt', { exact: true }).fill('In the beginning');
  await page.getByTestId('generate').click();
  await expect(page.getByTestId('generation')).toBeVisible({ timeout: 90_000 });
});
