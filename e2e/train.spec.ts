// One click trains: the app opens with the demo model and the style dataset selected, the Train
// button runs LoRA in the worker on real WebGPU (SwiftShader here), the loss chart fills in, the
// validation loss falls, and the playground shows the base model and the adapter side by side.

import { createHash } from 'node:crypto';
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
  expect(zip.suggestedFilename()).toMatch(/^kjv-llama-lora-r8-\d{4}-\d{2}-\d{2}\.zip$/);
  const entries = unzipSync(new Uint8Array(await readFile((await zip.path())!)));
  expect(Object.keys(entries).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
  expect(JSON.parse(new TextDecoder().decode(entries['adapter_config.json']))).toMatchObject({ peft_type: 'LORA', r: 8, lora_alpha: 16 });
  // PEFT's key names: every targeted projection of every layer, A and B.
  const keys = Object.keys(safetensorsHeader(entries['adapter_model.safetensors']!)).sort();
  expect(keys).toHaveLength(3 * 7 * 2);
  for (const k of keys) expect(k).toMatch(/^base_model\.model\.model\.layers\.[0-2]\.(self_attn\.[qkvo]|mlp\.(gate|up|down))_proj\.lora_[AB]\.weight$/);
  const [gguf] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-gguf').click()]);
  const ggufBytes = new Uint8Array(await readFile((await gguf.path())!));
  expect(new TextDecoder().decode(ggufBytes.subarray(0, 4))).toBe('GGUF');

  // The merged model, where the browser cannot save into a folder: a zip of the model folder.
  await page.evaluate(() => {
    (window as unknown as { showDirectoryPicker?: unknown }).showDirectoryPicker = undefined;
  });
  const [mergedZip] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download merged model' }).click()]);
  const folder = mergedZip.suggestedFilename().replace(/\.zip$/, '');
  expect(folder).toMatch(/^kjv-llama-merged-r8-\d{4}-\d{2}-\d{2}$/);
  const merged = unzipSync(new Uint8Array(await readFile((await mergedZip.path())!)));
  const names = Object.keys(merged).map((n) => n.slice(folder.length + 1)).sort();
  expect(names).toEqual(expect.arrayContaining(['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']));
  const baseWeights = new Uint8Array(await readFile('public/models/kjv-llama/model.safetensors'));
  const mergedWeights = merged[`${folder}/model.safetensors`]!;
  const baseTensors = safetensorsHeader(baseWeights);
  const mergedTensors = safetensorsHeader(mergedWeights);
  expect(Object.keys(mergedTensors).sort()).toEqual(Object.keys(baseTensors).sort());
  // Adapted weights changed, the others are copied bit for bit.
  const bytesOf = (file: Uint8Array, h: Record<string, TensorEntry>, name: string) => {
    const start = 8 + Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
    const [a, b] = h[name]!.data_offsets;
    return file.subarray(start + a, start + b);
  };
  const q = 'model.layers.0.self_attn.q_proj.weight';
  const norm = 'model.layers.0.input_layernorm.weight';
  expect(Buffer.from(bytesOf(mergedWeights, mergedTensors, q)).equals(Buffer.from(bytesOf(baseWeights, baseTensors, q)))).toBe(false);
  expect(Buffer.from(bytesOf(mergedWeights, mergedTensors, norm)).equals(Buffer.from(bytesOf(baseWeights, baseTensors, norm)))).toBe(true);

  // Where it can, the app writes the folder through the File System Access API. The picker (a
  // native dialog) is answered with the origin's private folder, which has the same interface.
  await page.evaluate(() => {
    (window as unknown as { showDirectoryPicker: () => Promise<FileSystemDirectoryHandle> }).showDirectoryPicker = () => navigator.storage.getDirectory();
  });
  await page.getByRole('button', { name: 'Download merged model' }).click();
  await expect(page.getByTestId('merge-status')).toHaveText(`saved ${folder}`, { timeout: 120_000 });
  const written = await page.evaluate(async (name) => {
    const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle(name);
    const file = await (await dir.getFileHandle('model.safetensors')).getFile();
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await file.arrayBuffer()));
    const files: string[] = [];
    for await (const key of (dir as unknown as { keys(): AsyncIterable<string> }).keys()) files.push(key);
    return { files: files.sort(), sha256: Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('') };
  }, folder);
  expect(written.files).toEqual(names);
  expect(written.sha256).toBe(createHash('sha256').update(mergedWeights).digest('hex'));
  expect(errors).toEqual([]);
});

interface TensorEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

function safetensorsHeader(file: Uint8Array): Record<string, TensorEntry> {
  const n = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + n))) as Record<string, TensorEntry>;
  delete header.__metadata__;
  return header;
}
