// Before a hub model is downloaded: its files (the hub's tree API), and the GPU memory training it
// would take, from its config.json or from the picked GGUF's header read by HTTP range (a GGUF of
// gigabytes is planned from its first megabyte or so). What was read is kept per file, so a change
// of settings plans again without a request. No GPU is needed.

import { type Checkpoint, openCheckpoint } from '../formats/checkpoint.ts';
import { ggufModelFiles, openGgufModel } from '../formats/gguf-model.ts';
import { ggufFileType, matrixTypeCounts } from '../formats/gguf-quant.ts';
import { openRangeSource } from '../formats/http-range-source.ts';
import { hubFiles, type HubOptions, hubUrl } from '../formats/hub-files.ts';
import { hubGgufs } from '../formats/hub-gguf.ts';
import { listHubTree } from '../formats/hub-tree.ts';
import { type ModelConfig, readModelConfig } from '../model/config.ts';
import { modelParams } from '../model/params.ts';
import type { HubFileList, ListHubFilesRequest, PlanModelRequest, PlanModelResult } from '../protocol/messages.ts';
import { browserModelCache } from '../storage/model-cache.ts';
import { planModel } from '../train/model-plan.ts';
import { DEFAULT_TRAIN } from '../train/trainer.ts';
import { loraOf } from './training.ts';

/** The longest context a loaded model's RoPE table covers (model.ts's default), so the longest row. */
const MAX_POSITIONS = 8192;

/** What planning needs of one model, read once. */
interface Read {
  cfg: ModelConfig;
  ckpt: Checkpoint | null;
  from: PlanModelResult['from'];
  storedTypes: Record<string, number> | null;
  fileType: string | null;
  bytesRead: number;
}

type HubSource = PlanModelRequest['source'];

function hubOptions(s: { repo: string; revision?: string; hubBase?: string }): HubOptions {
  return { repo: s.repo, revision: s.revision, hubBase: s.hubBase };
}

/** Keeps a promise per key; a failed one is dropped so that asking again retries. */
function remember<T>(map: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
  let p = map.get(key);
  if (!p) {
    p = make();
    p.catch(() => map.delete(key));
    map.set(key, p);
  }
  return p;
}

async function readGguf(source: HubSource, path: string): Promise<Read> {
  const src = await openRangeSource(hubUrl(hubOptions(source), path), { name: `${source.repo}/${path}` });
  const files = ggufModelFiles(src);
  const cfg = await readModelConfig(files);
  const ckpt = await openCheckpoint(files);
  const { header } = await openGgufModel(src);
  return { cfg, ckpt, from: 'gguf header', storedTypes: matrixTypeCounts(header), fileType: ggufFileType(header), bytesRead: src.bytesFetched };
}

async function readConfig(source: HubSource): Promise<Read> {
  // Through the model cache, so the download that may follow finds config.json there.
  const cache = browserModelCache();
  const files = hubFiles({ ...hubOptions(source), ...(cache ? { cache } : {}) });
  const cfg = await readModelConfig(files);
  const size = (await files.get('config.json'))?.size ?? 0;
  return { cfg, ckpt: null, from: 'config.json', storedTypes: null, fileType: null, bytesRead: size };
}

export class HubPlanner {
  private readonly lists = new Map<string, Promise<HubFileList>>();
  private readonly reads = new Map<string, Promise<Read>>();

  list(req: ListHubFilesRequest): Promise<HubFileList> {
    const key = JSON.stringify([req.hubBase, req.repo, req.revision]);
    return remember(this.lists, key, async () => {
      const files = await listHubTree(hubOptions(req));
      const names = new Set(files.map((f) => f.path));
      const hasSafetensors = names.has('config.json') && (names.has('model.safetensors') || names.has('model.safetensors.index.json'));
      return { repo: req.repo, files, ggufs: hubGgufs(files), hasSafetensors };
    });
  }

  async plan(req: PlanModelRequest): Promise<PlanModelResult> {
    const s = req.source;
    const key = JSON.stringify([s.hubBase, s.repo, s.revision, s.gguf ?? null]);
    const read = await remember(this.reads, key, () => (s.gguf ? readGguf(s, s.gguf) : readConfig(s)));
    const { cfg, ckpt } = read;
    const settings = req.settings;
    const plan = planModel(cfg, ckpt, {
      precision: req.precision ?? 'auto',
      // The LoRA the run would train, built as training builds it.
      lora: loraOf(settings),
      B: settings.batchSize,
      // Rows are cut to what the model reads, as training cuts them.
      T: Math.min(settings.seqLen, cfg.maxPositionEmbeddings, MAX_POSITIONS),
      checkpointing: DEFAULT_TRAIN.checkpointing ? 'on' : 'off',
      budget: req.budget,
    });
    const parameters = modelParams(cfg).reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
    return {
      plan,
      from: read.from,
      architecture: cfg.hfArchitecture,
      parameters,
      layers: cfg.numLayers,
      storedTypes: read.storedTypes,
      fileType: read.fileType,
      bytesRead: read.bytesRead,
    };
  }
}
