// The embedded default: the bundled demo model, the "Verily" style dataset and the app's quick
// preset, run through the same worker handler the app uses. LoRA must visibly change the model:
// the validation loss falls by a stated margin, and the greedy answer to a question that is not
// in the dataset takes the trained structure, which the base model's answer does not have.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createNodeGpu } from '../../src/gpu/node-gpu.ts';
import type { ExportAdapterResult, GenerateResult, TrainResult } from '../../src/protocol/messages.ts';
import { unzipSync } from 'fflate';
import { ggufToLora } from '../../src/formats/gguf-lora.ts';
import { parseModelConfig } from '../../src/model/config.ts';
import { loadPeftByTheRules } from '../helpers/peft-rules.ts';
import { QUICK_PRESET } from '../../src/state/presets.ts';
import { createHandler } from '../../src/worker/handler.ts';

const PUBLIC = join(import.meta.dirname, '..', '..', 'public');
export const DEMO_MODEL = 'kjv-llama';
const file = (path: string) => new File([new Uint8Array(readFileSync(path))], path.slice(path.lastIndexOf('/') + 1));

/** The share of answers in the trained structure: starting with "Verily," (after the space). */
const styled = (text: string) => /^\s*Verily,/.test(text);

describe('the demo model learns the sample style with the quick preset', () => {
  it('validation loss falls by at least 15% and held-out answers take the "Verily, ..." structure', async () => {
    const h = createHandler({ openGpu: (o) => createNodeGpu(o) });
    try {
      const dir = join(PUBLIC, 'models', DEMO_MODEL);
      const load = await h.handle({ kind: 'loadModel', id: 1, source: { kind: 'files', files: readdirSync(dir).map((f) => file(join(dir, f))) } });
      if (load.type === 'error') throw new Error(load.message);
      const t = await h.handle({ kind: 'train', id: 2, dataset: { kind: 'file', file: file(join(PUBLIC, 'datasets', 'verily.jsonl')) }, settings: QUICK_PRESET });
      if (t.type === 'error') throw new Error(t.message);
      const r = t.value as TrainResult;
      console.log(`demo: validation loss ${r.valLossBefore} -> ${r.valLossAfter} in ${(r.elapsedMs / 1000).toFixed(1)} s (${r.steps} steps, lavapipe)`);
      expect(r.valLossAfter!).toBeLessThan(0.85 * r.valLossBefore!);

      // Questions whose verses are not in the dataset.
      const questions = ['The LORD is my shepherd;', 'In the beginning God created the heaven and the earth,', 'Blessed are the meek:'];
      let base = 0;
      let tuned = 0;
      for (const [i, q] of questions.entries()) {
        const prompt = `Question: ${q}\nAnswer:`;
        const ask = async (useAdapter: boolean) => {
          const g = await h.handle({ kind: 'generate', id: 10 + 2 * i + (useAdapter ? 1 : 0), prompt, maxNewTokens: 12, useAdapter });
          if (g.type === 'error') throw new Error(g.message);
          return (g.value as GenerateResult).text;
        };
        const [b, a] = [await ask(false), await ask(true)];
        console.log(`  ${q} | base: ${JSON.stringify(b)} | adapter: ${JSON.stringify(a)}`);
        base += styled(b) ? 1 : 0;
        tuned += styled(a) ? 1 : 0;
      }
      expect(base).toBe(0);
      expect(tuned).toBeGreaterThanOrEqual(2);

      // The trained adapter leaves as a PEFT zip that peft's rules accept, and as a GGUF LoRA.
      const peft = await h.handle({ kind: 'exportAdapter', id: 20, format: 'peft' });
      if (peft.type === 'error') throw new Error(peft.message);
      const zip = unzipSync((peft.value as ExportAdapterResult).bytes);
      const tensors = await loadPeftByTheRules(new TextDecoder().decode(zip['adapter_config.json']), zip['adapter_model.safetensors']!);
      expect(tensors.size).toBe(2 * 7 * 3);
      const gguf = await h.handle({ kind: 'exportAdapter', id: 21, format: 'gguf' });
      if (gguf.type === 'error') throw new Error(gguf.message);
      const cfg = parseModelConfig(readFileSync(join(dir, 'config.json'), 'utf8'));
      expect(ggufToLora((gguf.value as ExportAdapterResult).bytes, cfg).weights.modules.size).toBe(7 * 3);
    } finally {
      await h.dispose();
    }
  });
});
