// tabtune export: an adapter in another format: GGUF LoRA (llama.cpp --lora, Ollama ADAPTER) or a
// PEFT folder in another dtype.

import { loraToGguf } from '../../formats/gguf-lora.ts';
import { readPeftAdapter } from '../../formats/peft.ts';
import { peftAdapterFiles } from '../../formats/peft-write.ts';
import { peftTextRoot } from '../../formats/peft-targets.ts';
import { loraConfigFromAdapter } from '../../lora/config.ts';
import { readModelConfig } from '../../model/config.ts';
import { optionalString, parse, required, UsageError } from '../args.ts';
import { resolveFiles } from '../model-source.ts';
import { checkOutDir, checkOutFile, writeFileAtomic, writeFolderAtomic } from '../output.ts';

export const EXPORT_HELP = `tabtune export --adapter DIR --model DIR --format gguf|peft --out PATH [--dtype f32|f16|bf16]
  gguf: one .gguf file that llama.cpp loads with --lora (metadata and tensor names as llama.cpp's
        converter writes them, q/k rows permuted for the "llama" architecture)
  peft: a PEFT folder (adapter_config.json + adapter_model.safetensors), e.g. to change the dtype`;

export async function exportCommand(argv: string[]): Promise<number> {
  const v = parse(argv, {
    model: { type: 'string' }, adapter: { type: 'string' }, out: { type: 'string' }, format: { type: 'string' }, dtype: { type: 'string' },
    'hub-base': { type: 'string' }, revision: { type: 'string' }, help: { type: 'boolean', short: 'h' },
  });
  if (v.help) {
    console.log(EXPORT_HELP);
    return 0;
  }
  const format = required(v, 'format');
  if (!['gguf', 'peft'].includes(format)) throw new UsageError(`--format must be gguf or peft, got "${format}"`);
  const dtype = (optionalString(v, 'dtype') ?? 'f32').toUpperCase() as 'F32' | 'F16' | 'BF16';
  if (!['F32', 'F16', 'BF16'].includes(dtype)) throw new UsageError(`--dtype must be f32, f16 or bf16`);
  const out = required(v, 'out');
  if (format === 'gguf') await checkOutFile(out);
  else await checkOutDir(out, [{ flag: '--model', path: optionalString(v, 'model') }]);
  const source = { hubBase: optionalString(v, 'hub-base'), revision: optionalString(v, 'revision') };
  const base = resolveFiles(required(v, 'model'), '--model', source);
  const cfg = await readModelConfig(base);
  const adapterDir = required(v, 'adapter');
  const { config, weights } = await readPeftAdapter(resolveFiles(adapterDir, '--adapter', source), cfg);
  const lc = loraConfigFromAdapter(cfg, config, weights);
  if (format === 'gguf') {
    const ranks = new Set([...weights.modules.values()].map((m) => m.rank));
    if (ranks.size > 1 || Object.keys(config.alphaPattern).length > 0) {
      throw new UsageError(`${adapterDir}: a GGUF LoRA holds one rank and one alpha, but this adapter has per-module ranks or alphas`);
    }
    await writeFileAtomic(out, loraToGguf(cfg, lc, weights, { dtype }));
    console.log(`wrote a GGUF LoRA adapter (${cfg.architecture === 'mistral' ? 'llama' : cfg.architecture}, r=${lc.rank}, ${dtype}) to ${out}`);
  } else {
    await writeFolderAtomic(out, peftAdapterFiles(lc, weights, config.baseModelNameOrPath ?? base.name, dtype, peftTextRoot(cfg)));
    console.log(`wrote a PEFT adapter (${dtype}) to ${out}`);
  }
  return 0;
}
