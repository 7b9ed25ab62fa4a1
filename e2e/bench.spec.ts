// About this device in real Chromium: `tabtune bench` at quick sizes in the engine worker, on the
// browser's WebGPU (SwiftShader here), TensorFlow.js loaded on demand and run on the worker's
// device. The matmul table shows measured figures, and "Copy as JSON" gives the object the CLI's
// --json prints: the same top-level keys. No timing thresholds: speed is reported, not tested.

import { expect, test } from '@playwright/test';

const CLI_KEYS = ['decode', 'device', 'elapsedMs', 'format', 'matmul', 'memory', 'quick', 'runtime', 'scenarios', 'startedAt', 'tabtune', 'train', 'tuning'];

test.use({ permissions: ['clipboard-read', 'clipboard-write'] });

test('runs the quick benchmark on this GPU and copies the CLI-shaped JSON', async ({ page }) => {
  test.setTimeout(360_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/');
  await expect(page.getByTestId('model-panel')).toHaveAttribute('data-model-status', 'ready', { timeout: 60_000 });

  const about = page.getByRole('region', { name: 'About this device' });
  await expect(about.getByTestId('about-device-maxBufferSize')).toContainText('iB');
  // The worker timed the matmul layouts on this GPU when it opened it (or took the times kept from before).
  await expect(about.getByTestId('about-device-tuning')).toContainText('timed on this GPU: forward 4x');
  await about.getByLabel('Quick', { exact: true }).check();
  await about.getByRole('button', { name: 'Run benchmark' }).click();
  await expect(about.getByTestId('bench-progress')).toContainText('matmul', { timeout: 120_000 });

  const rows = about.getByTestId('bench-matmul').getByTestId('bench-matmul-row');
  await expect(rows.first()).toBeVisible({ timeout: 300_000 });
  await expect(about.getByTestId('bench-error')).toHaveCount(0);
  // The quick shape's four projection shapes, each with f32 and f16 weights, as in the CLI.
  await expect(rows).toHaveCount(8);
  for (const row of await rows.all()) {
    const ours = Number(await row.getAttribute('data-ours-gflops'));
    expect(Number.isFinite(ours) && ours > 0, `ours ${ours} GFLOP/s`).toBe(true);
  }

  const json = await about.getByTestId('bench-json').inputValue();
  const out = JSON.parse(json) as Record<string, unknown>;
  expect(Object.keys(out).sort()).toEqual([...CLI_KEYS].sort());
  expect(out).toMatchObject({ format: 1, quick: true, scenarios: ['matmul', 'train', 'decode'] });
  expect(out.runtime).toMatch(/^browser worker: Mozilla/);
  const matmul = out.matmul as { rows: unknown[]; tfjs: { version: string | null; error: string | null } };
  expect(matmul.rows).toHaveLength(8);
  const tuning = out.tuning as { forward: { ms: number }[]; inputGrad: { ms: number }[] };
  for (const t of [...tuning.forward, ...tuning.inputGrad]) expect(t.ms).toBeGreaterThan(0);
  await expect(about.getByTestId('bench-tuning')).toContainText('Autotune');
  const train = out.train as { stepMs: number; tfjs: { error: string | null; slowdown: number | null } };
  expect(train.stepMs).toBeGreaterThan(0);
  expect((out.memory as { peakBytes: number }).peakBytes).toBeGreaterThan(0);
  expect((out.decode as { tokensPerSecond: number }).tokensPerSecond).toBeGreaterThan(0);
  // TensorFlow.js started in the worker on the engine's device and measured the same products.
  expect(matmul.tfjs.error, 'TensorFlow.js in the worker').toBeNull();
  expect(matmul.tfjs.version).toMatch(/^tfjs-core 4\./);
  for (const row of await rows.all()) expect(Number(await row.getAttribute('data-tfjs-gflops'))).toBeGreaterThan(0);
  console.log(`browser bench: ${matmul.tfjs.version}; train.tfjs error ${train.tfjs.error}, slowdown ${train.tfjs.slowdown}; took ${out.elapsedMs} ms`);

  await about.getByRole('button', { name: 'Copy as JSON' }).click();
  await expect(about.getByTestId('bench-copy-status')).toHaveText(/Copied/);
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(json);
  // The bench built its own model: the loaded one is still there.
  await expect(page.getByTestId('model-panel')).toHaveAttribute('data-model-status', 'ready');
  expect(errors, errors.join('\n')).toEqual([]);
});
