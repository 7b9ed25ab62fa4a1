// The app shell in real Chromium: WebGPU is found in the engine worker and its adapter is shown, its
// matmul layouts are timed once and kept in Cache Storage; without navigator.gpu the app says what
// is missing instead of showing a blank page.

import { expect, test } from '@playwright/test';
import { CHROMIUM_ARGS, executablePath } from '../playwright.config.ts';

test('shows the WebGPU adapter that the engine worker opened', async ({ page }) => {
  const consoleErrors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(e.message));

  await page.goto('/');
  const status = page.getByTestId('gpu-status');
  // On failure, the unsupported / failed card says why; surface it in the assertion message.
  await expect(page.getByTestId('app'), 'the GPU check finished').not.toHaveAttribute('data-status', 'checking');
  const state = await page.getByTestId('app').getAttribute('data-status');
  if (state !== 'ready') {
    const why = await page.getByTestId('app').innerText();
    throw new Error(`expected a WebGPU adapter in the worker, got status "${state}":\n${why}`);
  }
  await expect(status).toBeVisible();

  const vendor = (await page.getByTestId('gpu-vendor').innerText()).trim();
  const architecture = (await page.getByTestId('gpu-architecture').innerText()).trim();
  const adapter = (await page.getByTestId('gpu-adapter').innerText()).replace(/\s+/g, ' ').trim();
  const f16 = (await page.getByTestId('gpu-f16').innerText()).trim();
  const maxBuffer = Number(await page.getByTestId('gpu-max-buffer-size').getAttribute('data-bytes'));
  const maxBinding = Number(await page.getByTestId('gpu-max-binding-size').getAttribute('data-bytes'));
  console.log(
    `WebGPU adapter (Chromium, worker): ${adapter}, shader-f16: ${f16}, maxBufferSize: ${maxBuffer}, ` +
      `maxStorageBufferBindingSize: ${maxBinding}`,
  );

  // A real adapter names itself: SwiftShader here, a GPU vendor on real hardware.
  expect(`${vendor} ${architecture}`).toMatch(
    /swiftshader|google|nvidia|amd|ati|intel|apple|qualcomm|arm|mesa|llvmpipe|microsoft|imagination|samsung|broadcom/i,
  );
  expect(f16).toMatch(/^(yes|no)$/);
  expect(maxBinding).toBeGreaterThanOrEqual(128 * 1024 * 1024);
  expect(maxBuffer).toBeGreaterThanOrEqual(maxBinding);
  await expect(page.getByTestId('gpu-max-buffer-size')).toContainText('iB');
  await expect(page.getByTestId('unsupported')).toHaveCount(0);
  // Progress replies travel from the worker through comlink into the log.
  await expect(page.getByTestId('log')).toContainText('worker: requesting a WebGPU adapter');
  await expect(page.getByTestId('log')).toContainText('GPU ready in the worker');
  // The base model select offers the bundled demo (loaded by default) and hub models.
  const models = page.getByLabel('Base model');
  await expect(models).toHaveValue('demo');
  await expect(models.getByRole('option', { name: /bundled demo/ })).toHaveCount(1);
  await expect(models.getByRole('option', { name: /SmolLM2-135M-Instruct/ })).toHaveCount(1);
  await expect(page.getByTestId('model-panel')).toHaveAttribute('data-model-status', 'ready', { timeout: 60_000 });
  await page.screenshot({ path: test.info().outputPath('start.png'), fullPage: true });
  // The worker timed the matmul layouts on this GPU; after a reload it takes them from Cache Storage.
  await expect(page.getByTestId('log')).toContainText('matmul layouts timed on this GPU');
  await page.reload();
  await expect(page.getByTestId('log')).toContainText('GPU ready in the worker', { timeout: 60_000 });
  await expect(page.getByTestId('log')).toContainText('matmul layouts kept from an earlier visit');
  expect(consoleErrors, consoleErrors.join('\n')).toEqual([]);
});

test('explains what is missing when the browser has no WebGPU', async ({ page }) => {
  await page.addInitScript(() => {
    // As in a browser without WebGPU: no navigator.gpu at all (the getter lives on the prototype).
    delete (Navigator.prototype as { gpu?: unknown }).gpu;
    delete (navigator as { gpu?: unknown }).gpu;
  });
  const workers: string[] = [];
  page.on('worker', (w) => workers.push(w.url()));

  await page.goto('/');
  const unsupported = page.getByTestId('unsupported');
  await expect(unsupported).toBeVisible();
  await expect(page.getByTestId('app')).toHaveAttribute('data-status', 'unsupported');
  expect(await page.evaluate(() => 'gpu' in navigator)).toBe(false);
  await expect(page.getByTestId('unsupported-reason')).toContainText('navigator.gpu is missing');
  const browsers = page.getByTestId('supported-browsers');
  await expect(browsers).toContainText('Chrome or Edge 113');
  await expect(browsers).toContainText('Safari 26');
  await expect(browsers).toContainText('Firefox 141');
  await expect(browsers).toContainText('Windows');
  await expect(page.getByTestId('gpu-status')).toHaveCount(0);
  // The check happens in the main thread first: no engine worker is started.
  expect(workers).toEqual([]);
  console.log(`Unsupported page: ${(await page.getByTestId('unsupported-reason').innerText()).trim()}`);
});

test('explains that no adapter was found when navigator.gpu exists but offers none', async ({ playwright, baseURL }) => {
  // Chromium on Linux without --enable-unsafe-webgpu: navigator.gpu exists, requestAdapter() gives null.
  const browser = await playwright.chromium.launch({
    ...(executablePath ? { executablePath } : {}),
    args: CHROMIUM_ARGS.filter((a) => a !== '--enable-unsafe-webgpu'),
  });
  try {
    const page = await browser.newPage({ baseURL });
    await page.goto('/');
    await expect(page.getByTestId('unsupported')).toBeVisible();
    expect(await page.evaluate(() => 'gpu' in navigator)).toBe(true);
    await expect(page.getByTestId('unsupported-reason')).toContainText('no GPU adapter was found');
    await expect(page.getByTestId('supported-browsers')).toContainText('Chrome or Edge 113');
    await expect(page.getByTestId('gpu-status')).toHaveCount(0);
    console.log(`No-adapter page: ${(await page.getByTestId('unsupported-reason').innerText()).trim()}`);
  } finally {
    await browser.close();
  }
});
