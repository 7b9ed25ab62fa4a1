// Gemma 3 in the app, in real Chromium: a Gemma 3 folder picked from disk loads in the worker,
// greedy generation past the sliding window equals the float64 CPU reference, and it trains a few
// steps with the validation loss reported.

import { expect, test } from '@playwright/test';
import { parseModelConfig } from '../src/model/config.ts';
import { loadReferenceWeights, referenceGreedy } from '../src/model/reference.ts';
import { makeTestModel } from '../src/model/test-model.ts';

const GEMMA = { architecture: 'gemma3', seed: 8, dtype: 'BF16', hiddenSize: 64, intermediateSize: 128, numLayers: 6, numHeads: 4, numKvHeads: 2, headDim: 16, slidingWindow: 4 } as const;

test('a Gemma 3 folder loads, generates what the reference generates, and trains', async ({ page }) => {
  test.setTimeout(420_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const files = makeTestModel(GEMMA);
  const cfg = parseModelConfig(new TextDecoder().decode(files.get('config.json')));
  await page.goto('/');
  const panel = page.getByTestId('model-panel');
  await expect(panel).toHaveAttribute('data-model-status', 'ready', { timeout: 90_000 });
  await page.getByTestId('model-files').setInputFiles(
    [...files].map(([name, data]) => ({ name, mimeType: name.endsWith('.json') ? 'application/json' : 'application/octet-stream', buffer: Buffer.from(data) })),
  );
  await expect(panel).toHaveAttribute('data-model-status', 'ready', { timeout: 120_000 });
  await expect(page.getByTestId('model-parameters')).not.toHaveText('');

  await page.getByLabel('Prompt').fill('The cat sat on the mat and');
  await page.getByLabel('New tokens').fill('8');
  await page.getByTestId('generate').click();
  const gen = page.getByTestId('generation');
  await expect(gen).toBeVisible({ timeout: 120_000 });
  const tokens = JSON.parse((await gen.getAttribute('data-tokens'))!) as number[];
  const prompt = JSON.parse((await gen.getAttribute('data-prompt-tokens'))!) as number[];
  expect(prompt.length + tokens.length).toBeGreaterThan(GEMMA.slidingWindow);
  expect(tokens).toEqual(referenceGreedy(cfg, loadReferenceWeights(files), prompt, 8));

  await page.getByLabel('Steps', { exact: true }).fill('3');
  await page.getByTestId('train').click();
  const train = page.getByTestId('train-panel');
  await expect(train).toHaveAttribute('data-train-status', /^(done|error)$/, { timeout: 300_000 });
  if ((await train.getAttribute('data-train-status')) === 'error') throw new Error(`training failed: ${await page.getByTestId('log').innerText()}`);
  const result = page.getByTestId('train-result');
  await expect(result).toContainText('Trained 3 steps');
  expect(Number.isFinite(Number(await result.getAttribute('data-val-after')))).toBe(true);
  expect(errors).toEqual([]);
});
