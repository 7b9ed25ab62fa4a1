// How the frozen weights sit on the GPU, chosen before a load: as stored (a GGUF's block types, else
// 16-bit), a float type, or quantized on load to shrink a model that would not fit.

import { useId } from 'react';
import { WEIGHT_PRECISIONS, type WeightPrecision } from '../model/weights.ts';

const LABELS: Record<WeightPrecision, string> = {
  auto: 'auto: as stored (a GGUF keeps its types; safetensors in 16 bits)',
  f16: 'f16',
  bf16: 'bf16',
  f32: 'f32 (twice the memory of 16 bits)',
  q8_0: 'q8_0: 8-bit blocks, quantized on load (about 0.53× of 16 bits)',
  q4_0: 'q4_0: 4-bit blocks, quantized on load (about 0.28×)',
  q4_k: 'q4_k: 4-bit k-quants, quantized on load (about 0.28×)',
};

interface Props {
  value: WeightPrecision;
  disabled?: boolean;
  onChange(p: WeightPrecision): void;
}

export function WeightPrecisionSelect({ value, disabled = false, onChange }: Props) {
  const id = useId();
  return (
    <span className="field">
      {/* Not wrapped: a wrapping label's text would take in the option names. */}
      <label htmlFor={id}>Frozen weights on the GPU</label>
      <select id={id} value={value} disabled={disabled} data-testid="weight-precision" onChange={(e) => onChange(e.target.value as WeightPrecision)}>
        {WEIGHT_PRECISIONS.map((p) => (
          <option key={p} value={p}>
            {LABELS[p]}
          </option>
        ))}
      </select>
    </span>
  );
}
