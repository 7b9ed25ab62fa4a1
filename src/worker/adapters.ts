// The adapter library's requests: `useAdapter` (a saved adapter, or none, becomes the one the
// playground and the exports use) and `importAdapter` (a PEFT folder or zip, checked against the
// loaded model, saved in the library). Runs save their adapters through runs.ts.

import { droppedFiles } from '../formats/browser-files.ts';
import { memoryFiles } from '../formats/byte-source.ts';
import { peftTextRoot } from '../formats/peft-targets.ts';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, readPeftAdapter } from '../formats/peft.ts';
import { zipFiles } from '../formats/zip-files.ts';
import { loraConfigFromAdapter } from '../lora/config.ts';
import { uploadLora } from '../lora/gpu-lora.ts';
import type { ImportAdapterRequest, SavedAdapter, UseAdapterRequest } from '../protocol/messages.ts';
import { StorageError } from '../storage/errors.ts';
import { dropAdapter, type EngineContext, needModel } from './context.ts';
import { RunMismatchError } from './errors.ts';
import { adapterRecord, baseModelId, summaryOf } from './runs.ts';

/** Applies a saved adapter from the library (or none): the playground and the exports use it. */
export async function useAdapter(ctx: EngineContext, req: UseAdapterRequest): Promise<SavedAdapter | null> {
  const { model } = needModel(ctx);
  if (ctx.training) throw new RunMismatchError('A run is training: pause or stop it before switching adapters.');
  if (req.adapterId === null) {
    dropAdapter(ctx);
    return null;
  }
  const { storage, problem } = await ctx.storage();
  const record = await storage?.getAdapter(req.adapterId);
  if (!record) throw new StorageError('load', `adapter ${req.adapterId}`, problem ?? 'This adapter is no longer saved (it may have been deleted).');
  const files = new Map([[ADAPTER_CONFIG, new TextEncoder().encode(record.files.configJson)], [ADAPTER_WEIGHTS, record.files.safetensors]]);
  const { config, weights } = await readPeftAdapter(memoryFiles(record.name, files), model.cfg);
  dropAdapter(ctx);
  const lc = loraConfigFromAdapter(model.cfg, config, weights);
  ctx.adapter = { lc, shapes: weights, trainable: null, lora: uploadLora(model.gpu, weights), saved: summaryOf(record) };
  return ctx.adapter.saved;
}

/** Checks a PEFT adapter (folder files or a zip) against the loaded model and saves it in the library. */
export async function importAdapter(ctx: EngineContext, req: ImportAdapterRequest): Promise<SavedAdapter> {
  const { model } = needModel(ctx);
  const { storage, problem } = await ctx.storage();
  if (!storage) throw new StorageError('import', 'the adapter', `Saved adapters are not available here: ${problem}`);
  const zip = req.files.length === 1 && req.files[0]!.name.toLowerCase().endsWith('.zip') ? req.files[0]! : null;
  const files = zip ? zipFiles(zip.name, new Uint8Array(await zip.arrayBuffer())) : droppedFiles(req.files, 'the dropped adapter folder');
  const { config, weights } = await readPeftAdapter(files, model.cfg);
  const lc = loraConfigFromAdapter(model.cfg, config, weights);
  const folder = zip ? zip.name.replace(/\.zip$/i, '') : (req.files[0]?.webkitRelativePath.split('/')[0] || 'imported adapter');
  const record = adapterRecord({ name: folder, baseModel: baseModelId(model), textRoot: peftTextRoot(model.cfg), lc, weights, finalValLoss: null, bestValLoss: null });
  await storage.putAdapter(record);
  return summaryOf(record);
}
