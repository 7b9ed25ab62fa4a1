// One click trains: the app opens with the demo model and the style dataset selected, the Train
// button runs LoRA in the worker on real WebGPU (SwiftShader here), the loss chart fills in, the
// validation loss falls, and the playground shows the base model and the adapter side by side.

import { readFile } from 'node:fs/promises';
import { expect, test } from '@playwright/test';
import { unzipSync } from 'fflate';

test.setTimeout(600_000);

test('trains the demo model on the sample dataset and compares base and adapter', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/');
  await expect(page.getByTestId('model-panel')).toHaveAttribute('data-model-status', 'ready', { timeout: 60_000 });
  await expect(page.getByLabel('Sample dataset')).toHaveValue('verily.jsonl');
  // Fewer steps than the preset keep the test short on a software GPU; the Node test runs it all.
  await page.getByLabel('Steps').fill('12');
  const started = Date.now();
  await page.getByTestId('train').click();
  await expect(page.getByTestId('train-panel')).toHaveAttribute('data-train-status', 'done', { timeout: 540_000 });
  const result = page.getByTestId('train-result');
  const before = Number(await result.getAttribute('data-val-before'));
  const after = Number(await result.getAttribute('data-val-after'));
  console.log(`browser training (SwiftShader): validation loss ${before.toFixed(4)} -> ${after.toFixed(4)} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  expect(after).toBeLessThan(before);
  await expect(page.getByTestId('loss-chart')).toBeVisible();

  await page.getByTestId('generate').click();
  const base = page.getByTestId('generation');
  const tuned = page.getByTestId('generation-adapter');
  await expect(tuned).toBeVisible({ timeout: 60_000 });
  const baseText = (await base.getAttribute('data-text')) ?? '';
  const tunedText = (await tuned.getAttribute('data-text')) ?? '';
  console.log(`base: ${JSON.stringify(baseText)}\nadapter: ${JSON.stringify(tunedText)}`);
  expect(tunedText).not.toBe(baseText);

  // The adapter leaves the tab as a PEFT zip and as a GGUF LoRA.
  const [zip] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-peft').click()]);
  expect(zip.suggestedFilename()).toBe('kjv-llama-lora.zip');
  const entries = unzipSync(new Uint8Array(await readFile((await zip.path())!)));
  expect(Object.keys(entries).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
  expect(JSON.parse(new TextDecoder().decode(entries['adapter_config.json']))).toMatchObject({ peft_type: 'LORA', r: 8, lora_alpha: 16 });
  const [gguf] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-gguf').click()]);
  const ggufBytes = new Uint8Array(await readFile((await gguf.path())!));
  expect(new TextDecoder().decode(ggufBytes.subarray(0, 4))).toBe('GGUF');
  expect(errors).toEqual([]);
});
