// Compute pipelines built once per (shader source, override constants) and reused.
// A shader module is composed from parts: an optional `enable f16;`, a header of consts
// (shapes that WGSL needs at compile time), snippets (e.g. how weights are read), the main file.

export interface ShaderSpec {
  /** Short name for labels and error messages, e.g. "matmul". */
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

  get(spec: ShaderSpec): GPUComputePipeline {
    const code = composeShader(spec);
    const key = `${code}\n//overrides ${JSON.stringify(spec.overrides ?? {})}`;
    let p = this.cache.get(key);
    if (!p) {
      const module = this.device.createShaderModule({ code, label: spec.name });
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
