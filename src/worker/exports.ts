// The export requests, for the adapter in use: `exportAdapter` (a PEFT zip or a GGUF LoRA) and
// `exportMerged` (the base model with the adapter merged in, as safetensors or GGUF, to a picked
// folder or a zip). merged-export.ts writes the streamed files out.

import { zipSync } from 'fflate';
import { FormatError } from '../formats/errors.ts';
import { loraToGguf } from '../formats/gguf-lora.ts';
import { mergedGgufFile } from '../formats/merge-gguf.ts';
import { mergedModelFiles } from '../formats/merge.ts';
import { peftTextRoot } from '../formats/peft-targets.ts';
import { peftAdapterFiles } from '../formats/peft-write.ts';
import type { LoraWeights } from '../lora/adapter.ts';
import type { LoraConfig } from '../lora/config.ts';
import { modelInfo } from '../model/info.ts';
import type { ExportAdapterRequest, ExportAdapterResult, ExportMergedRequest, ExportMergedResult } from '../protocol/messages.ts';
import { readLoraWeights } from '../train/trainable.ts';
import { type EngineContext, type Loaded, needModel, type Progress } from './context.ts';
import { NoAdapterError } from './errors.ts';
import { fileToBlob, writeFileToDirectory, writeToDirectory, zipToBlob } from './merged-export.ts';
import { baseModelId, exportName } from './runs.ts';

/** The adapter in use with its weights (read back from the GPU while it is being trained). */
async function adapterInUse(ctx: EngineContext): Promise<Loaded & { lc: LoraConfig; weights: LoraWeights }> {
  const { model, files } = needModel(ctx);
  const c = ctx.adapter;
  if (!c) throw new NoAdapterError();
  return { model, files, lc: c.lc, weights: c.trainable ? await readLoraWeights(model.gpu, c.trainable, c.shapes) : c.shapes };
}

/** The adapter as a PEFT zip or a GGUF LoRA. */
export async function exportAdapter(ctx: EngineContext, req: ExportAdapterRequest): Promise<ExportAdapterResult> {
  const { model, lc, weights } = await adapterInUse(ctx);
  const base = baseModelId(model);
  const name = exportName(base, `lora-r${lc.rank}`);
  if (req.format === 'gguf') {
    return { fileName: `${name}.gguf`, mimeType: 'application/octet-stream', bytes: loraToGguf(model.cfg, lc, weights) };
  }
  const files = peftAdapterFiles(lc, weights, base, 'F32', peftTextRoot(model.cfg));
  return { fileName: `${name}.zip`, mimeType: 'application/zip', bytes: zipSync(Object.fromEntries(files), { level: 0 }) };
}

/** The base model with the adapter merged in, streamed one tensor at a time to a folder or a zip. */
export async function exportMerged(ctx: EngineContext, req: ExportMergedRequest, progress: Progress): Promise<ExportMergedResult> {
  const { model, files: modelFiles, lc, weights } = await adapterInUse(ctx);
  const name = exportName(baseModelId(model), `merged-r${lc.rank}`);
  const onProgress = (done: number, total: number) => progress(`merging: ${Math.round((100 * done) / Math.max(1, total))}%`, done / Math.max(1, total));
  if (req.format === 'gguf') {
    const type = req.dtype === 'F16' ? 'F16' : 'same';
    const file = await mergedGgufFile(model.gpu, modelFiles, weights, { name: `${name}.gguf`, type, onProgress });
    if (req.target.kind === 'directory') return { name: file.name, ...(await writeFileToDirectory(req.target.handle, file)) };
    return { name: file.name, ...(await fileToBlob(file)) };
  }
  if (req.target.kind === 'zip') {
    // Zips past 4 GB need ZIP64, which the zip writer lacks; a picked folder has no such limit.
    const bytes = modelInfo(model).parameters * (req.dtype === 'F32' ? 4 : 2);
    if (bytes > 4e9) throw new FormatError(name, `would be about ${(bytes / 1e9).toFixed(1)} GB, too large for a zip; use a browser that can save to a folder (Chrome or Edge) or the tabtune merge command`);
  }
  const files = mergedModelFiles(model.gpu, modelFiles, weights, {
    dtype: req.dtype,
    onProgress,
  });
  if (req.target.kind === 'directory') return { name, ...(await writeToDirectory(req.target.handle, name, files)) };
  return { name: `${name}.zip`, ...(await zipToBlob(name, files)) };
}
