// The engine in real Chromium: the app opens on the bundled demo model in its worker, and greedy
// generation there equals the float64 CPU reference computed here from the same files.

import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { parseModelConfig } from '../src/model/config.ts';
import { loadReferenceWeights, referenceGreedy } from '../src/model/reference.ts';

const DEMO = join(import.meta.dirname, '..', 'public', 'models', 'kjv-llama');

test('loads the bundled demo model and generates what the reference generates', async ({ page }) => {
  const files = new Map(readdirSync(DEMO).map((f) => [f, new Uint8Array(readFileSync(join(DEMO, f)))]));
  const cfg = parseModelConfig(readFileSync(join(DEMO, 'config.json'), 'utf8'));

  await page.goto('/');
  const panel = page.getByTestId('model-panel');
  await expect(panel).toHaveAttribute('data-model-status', 'ready', { timeout: 60_000 });
  await expect(page.getByTestId('model-name')).toContainText('kjv-llama');
  const params = Number((await page.getByTestId('model-parameters').innerText()).replace(/,/g, ''));
  expect(params).toBeGreaterThan(10_000);

  await page.getByLabel('Prompt').fill('The cat sat on');
  await page.getByLabel('New tokens').fill('8');
  await page.getByTestId('generate').click();
  const gen = page.getByTestId('generation');
  await expect(gen).toBeVisible({ timeout: 60_000 });
  const tokens = JSON.parse((await gen.getAttribute('data-tokens'))!) as number[];
  const prompt = JSON.parse((await gen.getAttribute('data-prompt-tokens'))!) as number[];
  console.log(`browser greedy tokens: ${JSON.stringify(tokens)} for prompt ${JSON.stringify(prompt)}`);
  expect(tokens.length).toBeGreaterThan(0);
  expect(tokens).toEqual(referenceGreedy(cfg, loadReferenceWeights(files), prompt, 8));
});

test('a failed model load says why and keeps the model that was loaded', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByTestId('model-panel')).toHaveAttribute('data-model-status', 'ready', { timeout: 60_000 });
  // A folder without weights: config.json alone.
  await page.getByTestId('model-files').setInputFiles([
    { name: 'config.json', mimeType: 'application/json', buffer: readFileSync(join(DEMO, 'config.json')) },
    { name: 'tokenizer.json', mimeType: 'application/json', buffer: readFileSync(join(DEMO, 'tokenizer.json')) },
  ]);
  await expect(page.getByTestId('model-message')).toContainText('model.safetensors', { timeout: 30_000 });
  await expect(page.getByTestId('model-panel')).toHaveAttribute('data-model-status', 'ready');
  await expect(page.getByTestId('model-name')).toContainText('kjv-llama');
});
