// GGUF models in the app, in real Chromium: a .gguf dropped with its tokenizer.json loads with its
// block types kept on the GPU and trains a few steps; a hub repo of GGUF files (a stand-in on
// 127.0.0.1) is listed with sizes and quant types before any download, the picked file is planned
// from its header alone (HTTP ranges), then downloaded into the model cache and loaded as asked.

import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { makeTestModel } from '../src/model/test-model.ts';
import { ggufOf, type GgufRepo, writeGgufRepo } from '../test/helpers/gguf-repo.ts';
import { startHubServer, type HubServer } from '../test/helpers/hub-server.ts';

/** Small enough for SwiftShader to train in seconds; rows of whole Q8_0 blocks (64 and 128 columns). */
const SMALL = { architecture: 'llama', seed: 5, dtype: 'F32', hiddenSize: 64, intermediateSize: 128, numLayers: 2, numHeads: 4, numKvHeads: 2 } as const;
const REPO = 'acme/tiny-GGUF';
const Q8 = 'tiny-Q8_0.gguf';

let hub: HubServer;
let repo: GgufRepo;

test.beforeAll(async () => {
  repo = await writeGgufRepo(await mkdtemp(join(tmpdir(), 'tabtune-gguf-')), { [Q8]: 'Q8_0', 'tiny-F16.gguf': 'F16' });
  hub = await startHubServer({ [REPO]: { dir: repo.dir } });
});

test.afterAll(async () => {
  await hub?.close();
});

async function openApp(page: Page, query = ''): Promise<void> {
  await page.goto(`/${query}`);
  await expect(page.getByTestId('model-panel')).toHaveAttribute('data-model-status', 'ready', { timeout: 90_000 });
}

test('a dropped .gguf with its tokenizer.json loads with its types and trains a few steps', async ({ page }) => {
  test.setTimeout(420_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const hf = makeTestModel(SMALL);
  const gguf = Buffer.from(await ggufOf(hf, 'Q8_0')).toString('base64');
  const tokenizer = new TextDecoder().decode(hf.get('tokenizer.json'));
  await openApp(page);

  const zone = page.getByRole('region', { name: 'Drop a model' });
  const transfer = await page.evaluateHandle(
    ([b64, tok]) => {
      const dt = new DataTransfer();
      dt.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], 'tiny-Q8_0.gguf'));
      dt.items.add(new File([tok], 'tokenizer.json', { type: 'application/json' }));
      return dt;
    },
    [gguf, tokenizer] as const,
  );
  await zone.dispatchEvent('dragenter', { dataTransfer: transfer });
  await expect(zone).toHaveAttribute('data-dragging', 'true');
  await zone.dispatchEvent('drop', { dataTransfer: transfer });
  await expect(page.getByTestId('model-name')).toHaveText('tiny-Q8_0.gguf', { timeout: 120_000 });
  await expect(page.getByTestId('model-panel')).toHaveAttribute('data-model-status', 'ready');
  await expect(page.getByTestId('model-weight-types')).toHaveText('Q8_0 × 16');
  await expect(page.getByTestId('model-weights')).toContainText('(from a GGUF file)');

  // A few short steps: SwiftShader is slow, and the Node tests train GGUF models at length.
  await page.getByLabel('Steps', { exact: true }).fill('3');
  const started = Date.now();
  await page.getByTestId('train').click();
  const panel = page.getByTestId('train-panel');
  await expect(panel).toHaveAttribute('data-train-status', /^(done|error)$/, { timeout: 300_000 });
  if ((await panel.getAttribute('data-train-status')) === 'error') throw new Error(`training failed: ${await page.getByTestId('log').innerText()}`);
  const result = page.getByTestId('train-result');
  await expect(result).toContainText('Trained 3 steps');
  const before = Number(await result.getAttribute('data-val-before'));
  const after = Number(await result.getAttribute('data-val-after'));
  console.log(`GGUF (Q8_0) training in the browser: validation loss ${before.toFixed(4)} -> ${after.toFixed(4)} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  expect(Number.isFinite(before) && Number.isFinite(after)).toBe(true);
  expect(errors).toEqual([]);
});

test('a hub repo of GGUF files: listed first, planned from the picked header, then downloaded', async ({ page }) => {
  test.setTimeout(240_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await openApp(page, `?hub=${encodeURIComponent(hub.base)}`);

  await page.getByLabel('Hugging Face repo id').fill(REPO);
  const files = page.getByTestId('hub-files');
  await expect(files.getByTestId('hub-gguf')).toHaveCount(2, { timeout: 30_000 });
  const size = repo.ggufs.get(Q8)!.byteLength;
  await expect(files.locator(`[data-path="${Q8}"]`)).toContainText(`${Q8} · ${(size / 2 ** 20).toFixed(1)} MiB · Q8_0`);
  await expect(files.locator('[data-path="tiny-F16.gguf"]')).toHaveAttribute('data-quant', 'F16');
  const download = page.getByRole('button', { name: 'Download', exact: true });
  await expect(download).toBeDisabled();
  await expect(page.getByTestId('hub-pick-hint')).toBeVisible();
  expect(hub.requests).toEqual([]);

  await files.getByRole('radio', { name: new RegExp(Q8.replace('.', '\\.')) }).check();
  const plan = page.getByTestId('model-plan');
  await expect(plan).toHaveAttribute('data-stale', 'false', { timeout: 30_000 });
  await expect(plan).toHaveAttribute('data-fits', 'true');
  await expect(plan.getByTestId('model-plan-stored')).toContainText('Q8_0 × 16');
  await expect(plan.getByTestId('model-plan-terms')).toContainText('(Q8_0 × 16)');
  const header = hub.requests.filter((r) => r.file === Q8);
  expect(header.length).toBeGreaterThan(0);
  expect(header.every((r) => r.range !== null && r.status === 206)).toBe(true);
  expect(header.reduce((n, r) => n + r.sent, 0)).toBeLessThan(size);
  const q8Bytes = Number(await plan.getAttribute('data-weight-bytes'));
  await page.screenshot({ path: test.info().outputPath('gguf-hub-plan.png'), fullPage: true });

  // Frozen weights in f16 instead: the plan grows, from the header already read.
  await page.getByTestId('weight-precision').selectOption('f16');
  await expect(plan.getByTestId('model-plan-terms')).toContainText('(f16 × 16)');
  expect(Number(await plan.getAttribute('data-weight-bytes'))).toBeGreaterThan(q8Bytes);

  await download.click();
  await expect(page.getByTestId('model-name')).toHaveText(`${REPO}/${Q8}`, { timeout: 120_000 });
  await expect(page.getByTestId('model-weight-types')).toHaveText('f16 × 16');
  const whole = hub.requests.filter((r) => r.file === Q8 && r.range === null);
  expect(whole.map((r) => r.sent)).toEqual([size]);
  const cached = await page.evaluate(async () => (await (await caches.open('tabtune-models')).keys()).map((r) => r.url));
  expect(cached).toContain(`${hub.base}/${REPO}/resolve/main/${Q8}`);
  expect(errors).toEqual([]);
});
