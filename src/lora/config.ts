// LoRA settings with PEFT semantics: which linear layers get an adapter, its rank and scaling,
// dropout on the adapter's input, and PEFT's initialisation (A kaiming-uniform, B zero).
// Dimension key: r = rank, in/out = the layer's features.   A: [r, in]   B: [out, r]

import type { ModelConfig } from '../model/config.ts';
import { LINEAR_MODULES, linearName, linearShape, type LinearModule } from '../model/params.ts';
import { seededRandom } from '../util/random.ts';
import { type LoraWeights, loraScaling } from './adapter.ts';

export interface LoraConfig {
  rank: number;
  alpha: number;
  dropout: number;
  /** Module kinds that get an adapter. */
  targets: LinearModule[];
  /** Layer indices that get adapters; null = every layer. */
  layers: number[] | null;
  rslora: boolean;
  /** PEFT's init_lora_weights: true (kaiming-uniform A) or "gaussian" (A ~ N(0, 1/r)). */
  init: 'default' | 'gaussian';
  /** Per-module ranks and alphas (PEFT's rank_pattern / alpha_pattern), kept from an imported adapter. */
  rankPattern?: Record<string, number>;
  alphaPattern?: Record<string, number>;
}

export const DEFAULT_LORA: LoraConfig = {
  rank: 8,
  alpha: 16,
  dropout: 0,
  targets: ['q_proj', 'v_proj'],
  layers: null,
  rslora: false,
  init: 'default',
};

export class LoraConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LoraConfigError';
  }
}

/** "q_proj,v_proj" or "all-linear" -> module kinds; unknown names list the model's real ones. */
export function parseTargets(spec: string | string[]): LinearModule[] {
  const names = (Array.isArray(spec) ? spec : spec.split(',')).map((s) => s.trim()).filter(Boolean);
  if (names.length === 1 && names[0] === 'all-linear') return [...LINEAR_MODULES];
  if (names.length === 0) throw new LoraConfigError('no target modules given; choose from: ' + LINEAR_MODULES.join(', ') + ', or all-linear');
  const bad = names.filter((n) => !(LINEAR_MODULES as readonly string[]).includes(n));
  if (bad.length) {
    throw new LoraConfigError(`unknown target module${bad.length > 1 ? 's' : ''} ${bad.map((b) => `"${b}"`).join(', ')}; this model's linear layers are: ${LINEAR_MODULES.join(', ')} (or all-linear)`);
  }
  return [...new Set(names)] as LinearModule[];
}

/** Every adapted module as [full name, kind], in layer order. */
export function adaptedModules(cfg: ModelConfig, lc: LoraConfig): [string, LinearModule][] {
  const out: [string, LinearModule][] = [];
  for (let l = 0; l < cfg.numLayers; l++) {
    if (lc.layers && !lc.layers.includes(l)) continue;
    for (const m of LINEAR_MODULES) if (lc.targets.includes(m)) out.push([linearName(l, m), m]);
  }
  return out;
}

export function validateLoraConfig(cfg: ModelConfig, lc: LoraConfig): void {
  if (!Number.isInteger(lc.rank) || lc.rank < 1) throw new LoraConfigError(`rank must be a positive integer, got ${lc.rank}`);
  for (const m of lc.targets) {
    const [out, inp] = linearShape(cfg, m);
    if (lc.rank > Math.min(out, inp)) {
      throw new LoraConfigError(`rank ${lc.rank} is larger than ${m} allows (its weight is [${out}, ${inp}]); use a rank of at most ${Math.min(out, inp)}`);
    }
  }
  if (!(lc.alpha > 0) || !Number.isFinite(lc.alpha)) throw new LoraConfigError(`alpha must be a positive number, got ${lc.alpha}`);
  if (!(lc.dropout >= 0 && lc.dropout < 1)) throw new LoraConfigError(`dropout must be in [0, 1), got ${lc.dropout}`);
  for (const l of lc.layers ?? []) {
    if (!Number.isInteger(l) || l < 0 || l >= cfg.numLayers) throw new LoraConfigError(`layer ${l} does not exist; this model has layers 0 .. ${cfg.numLayers - 1}`);
  }
  if (adaptedModules(cfg, lc).length === 0) throw new LoraConfigError('the target modules and layers select no layer of this model');
}

/** r * (in + out) summed over every adapted module. */
export function trainableParameterCount(cfg: ModelConfig, lc: LoraConfig): number {
  return adaptedModules(cfg, lc).reduce((s, [, m]) => {
    const [out, inp] = linearShape(cfg, m);
    return s + lc.rank * (inp + out);
  }, 0);
}

/** PEFT's init: A ~ U(-1/sqrt(in), 1/sqrt(in)) (kaiming_uniform with a = sqrt(5)) or N(0, 1/r); B = 0. */
export function initLora(cfg: ModelConfig, lc: LoraConfig, seed: number): LoraWeights {
  validateLoraConfig(cfg, lc);
  const random = seededRandom(seed);
  const scaling = loraScaling(lc.alpha, lc.rank, lc.rslora);
  const modules: LoraWeights['modules'] = new Map();
  for (const [name, m] of adaptedModules(cfg, lc)) {
    const [out, inp] = linearShape(cfg, m);
    const a = new Float32Array(lc.rank * inp);
    if (lc.init === 'gaussian') {
      const std = 1 / lc.rank;
      for (let i = 0; i < a.length; i++) a[i] = std * Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    } else {
      const bound = 1 / Math.sqrt(inp);
      for (let i = 0; i < a.length; i++) a[i] = (2 * random() - 1) * bound;
    }
    modules.set(name, { rank: lc.rank, inFeatures: inp, outFeatures: out, scaling, a, b: new Float32Array(out * lc.rank) });
  }
  return { modules };
}

/** The settings of an imported PEFT adapter, so training can go on from it and save it alike. */
export function loraConfigFromAdapter(
  cfg: ModelConfig,
  pc: { r: number; loraAlpha: number; loraDropout: number; useRslora: boolean; rankPattern: Record<string, number>; alphaPattern: Record<string, number>; init?: LoraConfig['init'] },
  weights: LoraWeights,
): LoraConfig {
  const names = [...weights.modules.keys()];
  const targets = LINEAR_MODULES.filter((m) => names.some((n) => n.endsWith(`.${m}`)));
  const layers = [...new Set(names.map((n) => Number(n.split('.')[2])))].sort((a, b) => a - b);
  return {
    rank: pc.r,
    alpha: pc.loraAlpha,
    dropout: pc.loraDropout,
    targets,
    layers: layers.length === cfg.numLayers ? null : layers,
    rslora: pc.useRslora,
    init: pc.init ?? 'default',
    rankPattern: pc.rankPattern,
    alphaPattern: pc.alphaPattern,
  };
}
