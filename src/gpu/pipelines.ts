// Compute pipelines built once per (shader source, override constants) and reused.
// A shader module is composed from parts: an optional `enable f16;`, a header of consts
// (shapes that WGSL needs at compile time), snippets (e.g. how weights are read), the main file.

export interface ShaderSpec {
  /** Names the shader: the same name must always mean the same parts (it keys the cache). */
  name: string;
  /** WGSL parts joined in order after the header. */
  parts: string[];
  /** `const NAME: u32 = value;` lines placed first. */
  consts?: Record<string, number>;
  /** Module needs `enable f16;`. */
  f16?: boolean;
  /** Pipeline-overridable constants. */
  overrides?: Record<string, number>;
}

export class PipelineCache {
  private cache = new Map<string, GPUComputePipeline>();

  constructor(
    private readonly device: GPUDevice,
    readonly f16Available: boolean,
  ) {}

  /**
   * Looked up by name, consts, overrides and f16 (a name always stands for the same parts on one
   * device), so the hot path never rebuilds the shader text; it is composed only on a miss.
   */
  get(spec: ShaderSpec): GPUComputePipeline {
    const key = `${spec.name}|${JSON.stringify(spec.consts ?? {})}|${JSON.stringify(spec.overrides ?? {})}|${spec.f16 ? 1 : 0}`;
    let p = this.cache.get(key);
    if (!p) {
      const module = this.device.createShaderModule({ code: composeShader(spec), label: spec.name });
      p = this.device.createComputePipeline({
        label: spec.name,
        layout: 'auto',
        compute: { module, entryPoint: 'main', constants: spec.overrides ?? {} },
      });
      this.cache.set(key, p);
    }
    return p;
  }

  get size(): number {
    return this.cache.size;
  }
}

export function composeShader(spec: ShaderSpec): string {
  const head: string[] = [];
  if (spec.f16) head.push('enable f16;');
  for (const [k, v] of Object.entries(spec.consts ?? {})) {
    if (!Number.isInteger(v) || v < 0) throw new Error(`shader ${spec.name}: const ${k} must be a non-negative integer, got ${v}`);
    head.push(`const ${k}: u32 = ${v}u;`);
  }
  return [...head, ...spec.parts].join('\n');
}
