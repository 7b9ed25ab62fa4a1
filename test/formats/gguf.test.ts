import { describe, it, expect } from 'vitest';
import { fromFloat32, toFloat32, type FloatDtype } from '../../src/formats/dtype.ts';
import { FormatError, TensorError } from '../../src/formats/errors.ts';
import { GGML_TYPE, type GgufTensor, type GgufValue, readGguf, writeGguf } from '../../src/formats/gguf.ts';
import { ggufToLora, loraToGguf, permuteRotaryRows } from '../../src/formats/gguf-lora.ts';
import type { LoraWeights } from '../../src/lora/adapter.ts';
import { type ModelConfig, parseModelConfig } from '../../src/model/config.ts';
import { LINEAR_MODULES, linearName, linearShape } from '../../src/model/params.ts';
import { f32Bytes } from './helpers.ts';

const FILE = 'out/adapter.gguf';

function rejects(bytes: Uint8Array, cls: new (...args: never[]) => FormatError, ...fragments: string[]): FormatError {
  let err: unknown = null;
  try {
    readGguf(bytes, FILE);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(cls);
  const fe = err as FormatError;
  expect(fe.file).toBe(FILE);
  expect(fe.message).toContain(FILE);
  for (const f of fragments) expect(fe.message).toContain(f);
  return fe;
}

const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
const ascii = (s: string) => new TextEncoder().encode(s);

describe('writeGguf / readGguf', () => {
  it('round-trips every value type, arrays of each, and empty arrays', () => {
    const md: [string, GgufValue][] = [
      ['v.u8', { type: 'u8', value: 255 }],
      ['v.i8', { type: 'i8', value: -128 }],
      ['v.u16', { type: 'u16', value: 65535 }],
      ['v.i16', { type: 'i16', value: -32768 }],
      ['v.u32', { type: 'u32', value: 4294967295 }],
      ['v.i32', { type: 'i32', value: -2147483648 }],
      ['v.f32', { type: 'f32', value: -1.5 }],
      ['v.bool.t', { type: 'bool', value: true }],
      ['v.bool.f', { type: 'bool', value: false }],
      ['v.string', { type: 'string', value: 'héllo ✓ 🦙' }],
      ['v.string.empty', { type: 'string', value: '' }],
      ['v.u64', { type: 'u64', value: 2n ** 64n - 1n }],
      ['v.i64', { type: 'i64', value: -(2n ** 63n) }],
      ['v.f64', { type: 'f64', value: Math.PI }],
      ['a.u8', { type: 'array', itemType: 'u8', value: [0, 1, 255] }],
      ['a.i8', { type: 'array', itemType: 'i8', value: [-128, 127] }],
      ['a.u16', { type: 'array', itemType: 'u16', value: [1, 65535] }],
      ['a.i16', { type: 'array', itemType: 'i16', value: [-2, 32767] }],
      ['a.u32', { type: 'array', itemType: 'u32', value: [3, 4000000000] }],
      ['a.i32', { type: 'array', itemType: 'i32', value: [-5, 2147483647] }],
      ['a.f32', { type: 'array', itemType: 'f32', value: [0.25, -2, 1e30] }],
      ['a.bool', { type: 'array', itemType: 'bool', value: [true, false, true] }],
      ['a.string', { type: 'array', itemType: 'string', value: ['a', '', 'ünï'] }],
      ['a.u64', { type: 'array', itemType: 'u64', value: [0n, 2n ** 60n] }],
      ['a.i64', { type: 'array', itemType: 'i64', value: [-1n, 2n ** 62n] }],
      ['a.f64', { type: 'array', itemType: 'f64', value: [1e-300, -0.1] }],
      ['a.empty', { type: 'array', itemType: 'string', value: [] }],
    ];
    const g = readGguf(writeGguf(md, []), FILE);
    expect(g.version).toBe(3);
    expect(g.tensors).toEqual([]);
    expect([...g.metadata.keys()]).toEqual(md.map(([k]) => k));
    for (const [k, v] of md) {
      const expected = v.type === 'array' && v.itemType === 'f32' ? { ...v, value: v.value.map((x) => Math.fround(x as number)) } : v;
      expect(g.metadata.get(k), k).toEqual(expected);
    }
    // u64/i64 given as safe-integer numbers are accepted and read back as bigints.
    const g2 = readGguf(writeGguf([['n', { type: 'u64', value: 7 }]], []), FILE);
    expect(g2.metadata.get('n')).toEqual({ type: 'u64', value: 7n });
  });

  it('writes the documented layout byte by byte, with ggml dims (reversed) in the tensor info', () => {
    const data = f32Bytes([1, 2, 3, 4, 5, 6]);
    const bytes = writeGguf([['a', { type: 'u32', value: 7 }]], [{ name: 't', dims: [2, 3], type: 'F32', data }]);
    const v = view(bytes);
    expect([...bytes.subarray(0, 4)]).toEqual([...ascii('GGUF')]);
    expect(v.getUint32(4, true)).toBe(3);
    expect(v.getBigUint64(8, true)).toBe(1n); // tensors
    expect(v.getBigUint64(16, true)).toBe(1n); // key/values
    expect(v.getBigUint64(24, true)).toBe(1n); // key length
    expect(bytes[32]).toBe('a'.charCodeAt(0));
    expect(v.getUint32(33, true)).toBe(4); // UINT32
    expect(v.getUint32(37, true)).toBe(7);
    expect(v.getBigUint64(41, true)).toBe(1n); // name length
    expect(bytes[49]).toBe('t'.charCodeAt(0));
    expect(v.getUint32(50, true)).toBe(2); // n_dims
    expect(v.getBigUint64(54, true)).toBe(3n); // ne[0] = cols
    expect(v.getBigUint64(62, true)).toBe(2n); // ne[1] = rows
    expect(v.getUint32(70, true)).toBe(GGML_TYPE.F32);
    expect(v.getBigUint64(74, true)).toBe(0n); // offset
    // Infos end at 82; data starts at the next multiple of 32, zero padding in between.
    expect([...bytes.subarray(82, 96)].every((b) => b === 0)).toBe(true);
    expect([...bytes.subarray(96, 120)]).toEqual([...data]);
    expect(bytes.byteLength).toBe(128); // the last tensor is padded too

    const g = readGguf(bytes, FILE);
    expect(g.tensors).toHaveLength(1);
    expect(g.tensors[0]).toMatchObject({ name: 't', dims: [2, 3], type: 'F32' });
    expect([...toFloat32('F32', g.tensors[0]!.data)]).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('aligns the data section and every tensor to 32 bytes (or general.alignment)', () => {
    const tensors: GgufTensor[] = [
      { name: 'x.f16', dims: [3], type: 'F16', data: fromFloat32('F16', [1, 2, 3]) },
      { name: 'x.f32', dims: [5], type: 'F32', data: f32Bytes([1, 2, 3, 4, 5]) },
      { name: 'x.bf16', dims: [7, 1], type: 'BF16', data: fromFloat32('BF16', [1, 2, 3, 4, 5, 6, 7]) },
      { name: 'x.4d', dims: [1, 2, 3, 2], type: 'F32', data: f32Bytes(Array.from({ length: 12 }, (_, i) => i)) },
    ];
    for (const alignment of [32, 64, 8]) {
      const bytes = writeGguf([['general.name', { type: 'string', value: 'odd' }]], tensors, alignment);
      const g = readGguf(bytes, FILE);
      if (alignment === 32) expect(g.metadata.has('general.alignment')).toBe(false);
      else expect(g.metadata.get('general.alignment')).toEqual({ type: 'u32', value: alignment });
      expect(g.tensors.map((t) => t.name)).toEqual(tensors.map((t) => t.name));
      const dataStart = g.tensors[0]!.data.byteOffset;
      expect(dataStart % alignment).toBe(0);
      for (const [i, t] of g.tensors.entries()) {
        expect(t.data.byteOffset % alignment).toBe(0);
        expect(t.dims).toEqual(tensors[i]!.dims);
        expect(t.type).toBe(tensors[i]!.type);
        expect([...t.data]).toEqual([...tensors[i]!.data]);
      }
      // Offsets stored in the file: relative to the data section, multiples of the alignment.
      const offsets = g.tensors.map((t) => t.data.byteOffset - dataStart);
      expect(offsets.every((o) => o % alignment === 0)).toBe(true);
      expect(bytes.byteLength % alignment).toBe(0);
    }
  });

  it('rejects what llama.cpp rejects when writing', () => {
    const t = (o: Partial<GgufTensor>): GgufTensor => ({ name: 't', dims: [2], type: 'F32', data: f32Bytes([1, 2]), ...o });
    expect(() => writeGguf([], [t({ data: f32Bytes([1]) })])).toThrow(/4 bytes given/);
    expect(() => writeGguf([], [t({}), t({})])).toThrow(/twice/);
    expect(() => writeGguf([], [t({ dims: [1, 1, 1, 1, 2] })])).toThrow(/dims/);
    expect(() => writeGguf([], [t({ name: 'n'.repeat(64) })])).toThrow(/too long/);
    expect(() => writeGguf([['k', { type: 'u8', value: 256 }]], [])).toThrow(/"k"/);
    expect(() => writeGguf([['k', { type: 'i32', value: 1.5 }]], [])).toThrow(/not a valid i32/);
    expect(() => writeGguf([['k', { type: 'u64', value: -1n }]], [])).toThrow(/not a valid u64/);
    expect(() => writeGguf([['k', { type: 'string', value: 3 }]], [])).toThrow(/not a valid string/);
    expect(() => writeGguf([['k', { type: 'u8', value: 1 }], ['k', { type: 'u8', value: 1 }]], [])).toThrow(/twice/);
    expect(() => writeGguf([], [], 24)).toThrow(/power of two/);
    expect(() => writeGguf([['general.alignment', { type: 'u32', value: 64 }]], [], 32)).toThrow(/general.alignment/);
  });

  const sample = () =>
    writeGguf(
      [
        ['general.architecture', { type: 'string', value: 'llama' }],
        ['list', { type: 'array', itemType: 'string', value: ['x', 'yy'] }],
      ],
      [
        { name: 'a', dims: [2, 3], type: 'F16', data: fromFloat32('F16', [1, 2, 3, 4, 5, 6]) },
        { name: 'b', dims: [4], type: 'F32', data: f32Bytes([1, 2, 3, 4]) },
      ],
    );

  it('rejects a bad magic and other versions, naming the file', () => {
    const bad = sample();
    bad.set(ascii('GGML'), 0);
    rejects(bad, FormatError, 'not a GGUF file', '47 47 4d 4c');
    rejects(ascii('{"json": true}'), FormatError, 'not a GGUF file');
    for (const version of [0, 1, 4]) {
      const b = sample();
      view(b).setUint32(4, version, true);
      rejects(b, FormatError, `version ${version}`, 'versions 2 and 3 are supported');
    }
    // GGUF v2 differs from v3 only for big-endian files: a v2 header reads the same.
    const v2 = sample();
    view(v2).setUint32(4, 2, true);
    expect(readGguf(v2, FILE).version).toBe(2);
    expect(readGguf(v2, FILE).tensors).toEqual(readGguf(sample(), FILE).tensors);
  });

  it('rejects a file truncated anywhere before the end of the last tensor, naming the file', () => {
    const bytes = sample();
    const g = readGguf(bytes, FILE);
    const last = g.tensors[1]!.data;
    const end = last.byteOffset + last.byteLength;
    for (let n = 0; n < end; n++) rejects(bytes.slice(0, n), FormatError, 'truncated');
  });

  it('rejects huge counts and lengths without allocating from them', () => {
    const b1 = sample();
    view(b1).setBigUint64(8, 2n ** 62n, true);
    rejects(b1, FormatError, 'tensor count', 'room');
    const b2 = sample();
    view(b2).setBigUint64(16, 2n ** 63n, true);
    rejects(b2, FormatError, 'metadata count', 'room');
    const b3 = sample();
    view(b3).setBigUint64(24, 2n ** 64n - 1n, true); // first key's length
    rejects(b3, FormatError, 'length of metadata key #0');
  });

  it('rejects bad value types, unsupported tensor types, misaligned offsets and duplicates', () => {
    const one = (md: [string, GgufValue][], t: GgufTensor[] = []) => writeGguf(md, t);
    // value type 13 does not exist: the type of the only key sits after magic..counts (24) + len (8) + "k".
    const b1 = one([['k', { type: 'u8', value: 1 }]]);
    view(b1).setUint32(33, 13, true);
    rejects(b1, FormatError, 'not a GGUF value type');
    const b2 = one([['k', { type: 'bool', value: true }]]);
    b2[37] = 2;
    rejects(b2, FormatError, 'bool holding 2');

    const t = (name: string): GgufTensor => ({ name, dims: [2], type: 'F32', data: f32Bytes([1, 2]) });
    // tensor info for "t": at 24: len(8) name(1) n_dims(4) ne(8) type(4) offset(8)
    const b3 = one([], [t('t')]);
    view(b3).setUint32(24 + 8 + 1 + 4 + 8, 2, true);
    rejects(b3, TensorError, '"t"', 'Q4_0', 'only F32, F16 and BF16');
    const b4 = one([], [t('t'), t('u')]);
    view(b4).setBigUint64(24 + 8 + 1 + 4 + 8 + 4 + 8 + 8 + 1 + 4 + 8 + 4, 16n, true); // offset of "u"
    rejects(b4, TensorError, '"u"', 'offset 16', 'alignment 32');
    view(b4).setBigUint64(24 + 8 + 1 + 4 + 8 + 4 + 8 + 8 + 1 + 4 + 8 + 4, 64n, true);
    rejects(b4, TensorError, '"u"', 'expected 32');
    const b5 = one([], [t('t'), t('u')]);
    b5[24 + 8 + 1 + 4 + 8 + 4 + 8 + 8] = 't'.charCodeAt(0);
    rejects(b5, FormatError, '"t" is listed twice');
    const b6 = one([['k', { type: 'u8', value: 1 }], ['j', { type: 'u8', value: 1 }]]);
    b6[24 + 8 + 1 + 4 + 1 + 8] = 'k'.charCodeAt(0);
    rejects(b6, FormatError, '"k" appears twice');
    const b7 = one([['general.alignment', { type: 'u32', value: 32 }]]);
    view(b7).setUint32(24 + 8 + 17 + 4, 48, true);
    rejects(b7, FormatError, 'power of two');
  });
});

// ---------------------------------------------------------------------------------------------

function config(architectures: string, extra: object = {}): ModelConfig {
  return parseModelConfig(
    JSON.stringify({
      architectures: [architectures],
      hidden_size: 16,
      intermediate_size: 24,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      vocab_size: 50,
      ...extra,
    }),
  );
}

function randomWeights(cfg: ModelConfig, rank: number, scaling: number, seed = 1): LoraWeights {
  let s = seed >>> 0;
  const rnd = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
  const modules: LoraWeights['modules'] = new Map();
  for (let l = 0; l < cfg.numLayers; l++) {
    for (const m of LINEAR_MODULES) {
      const [out, inp] = linearShape(cfg, m);
      modules.set(linearName(l, m), {
        rank,
        inFeatures: inp,
        outFeatures: out,
        scaling,
        a: Float32Array.from({ length: rank * inp }, rnd),
        b: Float32Array.from({ length: out * rank }, rnd),
      });
    }
  }
  return { modules };
}

const GGUF_NAMES = { q_proj: 'attn_q', k_proj: 'attn_k', v_proj: 'attn_v', o_proj: 'attn_output', gate_proj: 'ffn_gate', up_proj: 'ffn_up', down_proj: 'ffn_down' };

/** Row r of a [rows, cols] f32 tensor stored in a GGUF tensor. */
const row = (t: GgufTensor, r: number, cols: number) => [...toFloat32(t.type as FloatDtype, t.data).subarray(r * cols, (r + 1) * cols)];
const rowOf = (x: Float32Array, r: number, cols: number) => [...x.subarray(r * cols, (r + 1) * cols)];

describe('loraToGguf / ggufToLora', () => {
  const rank = 2;
  const lc = { alpha: 8, rank, rslora: false };

  it('llama: metadata, names, torch shapes, q/k lora_b rows permuted, and an exact F32 round trip', () => {
    const cfg = config('LlamaForCausalLM');
    const weights = randomWeights(cfg, rank, 4);
    const bytes = loraToGguf(cfg, lc, weights, { name: 'my adapter' });
    const g = readGguf(bytes, FILE);

    expect(g.metadata.get('general.architecture')).toEqual({ type: 'string', value: 'llama' });
    expect(g.metadata.get('general.type')).toEqual({ type: 'string', value: 'adapter' });
    expect(g.metadata.get('adapter.type')).toEqual({ type: 'string', value: 'lora' });
    expect(g.metadata.get('adapter.lora.alpha')).toEqual({ type: 'f32', value: 8 });
    expect(g.metadata.get('general.name')).toEqual({ type: 'string', value: 'my adapter' });
    expect(g.metadata.get('general.alignment')).toEqual({ type: 'u32', value: 32 });

    const byName = new Map(g.tensors.map((t) => [t.name, t]));
    expect(g.tensors).toHaveLength(2 * LINEAR_MODULES.length * 2);
    for (let l = 0; l < 2; l++) {
      for (const m of LINEAR_MODULES) {
        const [out, inp] = linearShape(cfg, m);
        const a = byName.get(`blk.${l}.${GGUF_NAMES[m]}.weight.lora_a`)!;
        const b = byName.get(`blk.${l}.${GGUF_NAMES[m]}.weight.lora_b`)!;
        expect(a.dims).toEqual([rank, inp]);
        expect(b.dims).toEqual([out, rank]);
        expect(a.type).toBe('F32');
        const w = weights.modules.get(linearName(l, m))!;
        expect([...toFloat32('F32', a.data)]).toEqual([...w.a]); // A is never permuted
        if (m !== 'q_proj' && m !== 'k_proj') expect([...toFloat32('F32', b.data)]).toEqual([...w.b]);
      }
    }
    // ggml ne in the raw bytes of blk.0.attn_q.weight.lora_b: [r, out] = [2, 16].
    const qb = byName.get('blk.0.attn_q.weight.lora_b')!;
    const nameAt = findBytes(bytes, ascii('blk.0.attn_q.weight.lora_b'));
    const info = nameAt + 'blk.0.attn_q.weight.lora_b'.length;
    expect(view(bytes).getUint32(info, true)).toBe(2);
    expect(view(bytes).getBigUint64(info + 4, true)).toBe(BigInt(rank));
    expect(view(bytes).getBigUint64(info + 12, true)).toBe(16n);

    // q: 4 heads of head_dim 4 -> within each head rows [0, 2, 1, 3] (halves interleaved).
    const qB = weights.modules.get(linearName(0, 'q_proj'))!.b;
    const qOrder = [0, 2, 1, 3, 4, 6, 5, 7, 8, 10, 9, 11, 12, 14, 13, 15];
    for (const [fileRow, srcRow] of qOrder.entries()) expect(row(qb, fileRow, rank)).toEqual(rowOf(qB, srcRow, rank));
    // The formula: file row h*D + 2j + k holds torch row h*D + k*D/2 + j.
    expect(row(qb, 1 * 4 + 2 * 1 + 0, rank)).toEqual(rowOf(qB, 1 * 4 + 0 * 2 + 1, rank));
    // k: 2 kv heads (not 4) over 8 rows.
    const kb = byName.get('blk.1.attn_k.weight.lora_b')!;
    const kB = weights.modules.get(linearName(1, 'k_proj'))!.b;
    for (const [fileRow, srcRow] of [0, 2, 1, 3, 4, 6, 5, 7].entries()) expect(row(kb, fileRow, rank)).toEqual(rowOf(kB, srcRow, rank));

    const back = ggufToLora(bytes, cfg, FILE);
    expect(back.alpha).toBe(8);
    expect(back.architecture).toBe('llama');
    expect([...back.weights.modules.keys()]).toEqual([...weights.modules.keys()]);
    for (const [name, w] of weights.modules) {
      const r = back.weights.modules.get(name)!;
      expect(r).toEqual({ ...w, scaling: 8 / rank });
    }
  });

  it('mistral writes architecture "llama" with the permutation; qwen2 and qwen3 are not permuted', () => {
    const mistral = config('MistralForCausalLM');
    const mw = randomWeights(mistral, rank, 4, 5);
    const mb = loraToGguf(mistral, lc, mw);
    const mg = readGguf(mb, FILE);
    expect(mg.metadata.get('general.architecture')).toEqual({ type: 'string', value: 'llama' });
    expect(mg.metadata.has('general.name')).toBe(false);
    const mq = mg.tensors.find((t) => t.name === 'blk.0.attn_q.weight.lora_b')!;
    expect(row(mq, 1, rank)).toEqual(rowOf(mw.modules.get(linearName(0, 'q_proj'))!.b, 2, rank));
    expect(ggufToLora(mb, mistral).weights).toEqual({ modules: new Map([...mw.modules].map(([k, v]) => [k, { ...v, scaling: 4 }])) });

    for (const [arch, hf] of [
      ['qwen2', 'Qwen2ForCausalLM'],
      ['qwen3', 'Qwen3ForCausalLM'],
    ] as const) {
      const cfg = config(hf);
      const weights = randomWeights(cfg, rank, 4, 9);
      const bytes = loraToGguf(cfg, lc, weights);
      const g = readGguf(bytes, FILE);
      expect(g.metadata.get('general.architecture')).toEqual({ type: 'string', value: arch });
      for (const [l, m] of [
        [0, 'q_proj'],
        [1, 'k_proj'],
      ] as const) {
        const b = g.tensors.find((t) => t.name === `blk.${l}.${GGUF_NAMES[m]}.weight.lora_b`)!;
        expect([...toFloat32('F32', b.data)]).toEqual([...weights.modules.get(linearName(l, m))!.b]);
      }
      const back = ggufToLora(bytes, cfg);
      expect(back.architecture).toBe(arch);
      for (const [name, w] of weights.modules) expect(back.weights.modules.get(name)).toEqual({ ...w, scaling: 4 });
    }
  });

  it('F16 and BF16 round-trip as the values rounded to that dtype', () => {
    for (const dtype of ['F16', 'BF16'] as const) {
      for (const hf of ['LlamaForCausalLM', 'Qwen2ForCausalLM']) {
        const cfg = config(hf);
        const weights = randomWeights(cfg, rank, 4, 3);
        const bytes = loraToGguf(cfg, lc, weights, { dtype });
        const g = readGguf(bytes, FILE);
        expect(g.tensors.every((t) => t.type === dtype)).toBe(true);
        const aName = 'blk.0.attn_q.weight.lora_a';
        expect(view(bytes).getUint32(findBytes(bytes, ascii(aName)) + aName.length + 4 + 16, true)).toBe(GGML_TYPE[dtype]);
        const back = ggufToLora(bytes, cfg);
        const round = (x: Float32Array) => [...toFloat32(dtype, fromFloat32(dtype, x))];
        for (const [name, w] of weights.modules) {
          const r = back.weights.modules.get(name)!;
          expect([...r.a]).toEqual(round(w.a));
          expect([...r.b]).toEqual(round(w.b));
        }
      }
    }
  });

  it('writes alpha * sqrt(r) for rsLoRA, so llama.cpp scales by alpha / sqrt(r)', () => {
    const cfg = config('Qwen2ForCausalLM');
    const r = 4;
    const weights = randomWeights(cfg, r, 16 / 2);
    const bytes = loraToGguf(cfg, { alpha: 16, rank: r, rslora: true }, weights);
    expect(readGguf(bytes, FILE).metadata.get('adapter.lora.alpha')).toEqual({ type: 'f32', value: 32 });
    const back = ggufToLora(bytes, cfg);
    expect(back.alpha).toBe(32);
    for (const m of back.weights.modules.values()) expect(m.scaling).toBe(16 / Math.sqrt(r));
    const plain = loraToGguf(cfg, { alpha: 16, rank: r, rslora: false }, weights);
    expect(readGguf(plain, FILE).metadata.get('adapter.lora.alpha')).toEqual({ type: 'f32', value: 16 });
  });

  it('permuteRotaryRows is numpy reshape(n, 2, rows/n/2, cols).swapaxes(1, 2), and its inverse undoes it', () => {
    const rows = 12;
    const cols = 3;
    const x = Float32Array.from({ length: rows * cols }, (_, i) => i);
    const p = permuteRotaryRows(x, rows, cols, 2);
    // Head 0 rows 0..5: halves [0,1,2] and [3,4,5] interleave to [0,3,1,4,2,5].
    expect([...p].filter((_, i) => i % cols === 0).map((v) => v / cols)).toEqual([0, 3, 1, 4, 2, 5, 6, 9, 7, 10, 8, 11]);
    expect([...permuteRotaryRows(p, rows, cols, 2, true)]).toEqual([...x]);
    expect(() => permuteRotaryRows(x, rows, cols, 4)).toThrow(/multiple of 2/);
  });

  it('only adapted modules are written, and the reader keeps the model order', () => {
    const cfg = config('LlamaForCausalLM');
    const all = randomWeights(cfg, rank, 4);
    const some: LoraWeights = { modules: new Map([linearName(1, 'v_proj'), linearName(0, 'q_proj')].map((n) => [n, all.modules.get(n)!])) };
    const bytes = loraToGguf(cfg, lc, some);
    expect(readGguf(bytes, FILE).tensors.map((t) => t.name)).toEqual([
      'blk.1.attn_v.weight.lora_a',
      'blk.1.attn_v.weight.lora_b',
      'blk.0.attn_q.weight.lora_a',
      'blk.0.attn_q.weight.lora_b',
    ]);
    expect([...ggufToLora(bytes, cfg).weights.modules.keys()]).toEqual([linearName(0, 'q_proj'), linearName(1, 'v_proj')]);
  });

  it('loraToGguf rejects modules that do not fit the model or the rank', () => {
    const cfg = config('LlamaForCausalLM');
    const w = randomWeights(cfg, rank, 4);
    const q = w.modules.get(linearName(0, 'q_proj'))!;
    expect(() => loraToGguf(cfg, { ...lc, rank: 3 }, w)).toThrow(/rank 2/);
    expect(() => loraToGguf(cfg, lc, { modules: new Map([['model.layers.5.self_attn.q_proj', q]]) })).toThrow(/not a linear layer/);
    expect(() => loraToGguf(cfg, lc, { modules: new Map([['model.layers.0.mlp.q_proj', q]]) })).toThrow(/not a linear layer/);
    expect(() => loraToGguf(cfg, lc, { modules: new Map([[linearName(0, 'k_proj'), q]]) })).toThrow(/\[8, 16\]/);
  });

  it('ggufToLora rejects other architectures, non-adapters, unknown or unpaired tensors, and wrong shapes', () => {
    const llama = config('LlamaForCausalLM');
    const qwen = config('Qwen2ForCausalLM');
    const bytes = loraToGguf(llama, lc, randomWeights(llama, rank, 4));
    const expectErr = (f: () => unknown, cls: new (...args: never[]) => FormatError, ...frags: string[]) => {
      let err: unknown = null;
      try {
        f();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(cls);
      expect((err as FormatError).file).toBe(FILE);
      for (const s of frags) expect((err as Error).message).toContain(s);
    };
    expectErr(() => ggufToLora(bytes, qwen, FILE), FormatError, 'architecture "llama"', '"qwen2"');
    const meta = (type: string): [string, GgufValue][] => [
      ['general.architecture', { type: 'string', value: 'llama' }],
      ['general.type', { type: 'string', value: type }],
      ['adapter.type', { type: 'string', value: 'lora' }],
    ];
    expectErr(() => ggufToLora(writeGguf(meta('model'), []), llama, FILE), FormatError, 'not "adapter"');
    expectErr(() => ggufToLora(writeGguf([], []), llama, FILE), FormatError, 'general.type', 'missing');
    const t = (name: string, dims: number[]): GgufTensor => ({ name, dims, type: 'F32', data: f32Bytes(new Array<number>(dims.reduce((a, b) => a * b, 1)).fill(0)) });
    expectErr(() => ggufToLora(writeGguf(meta('adapter'), [t('blk.0.attn_q.weight.lora_a', [2, 16])]), llama, FILE), TensorError, 'lora_b', 'missing');
    expectErr(() => ggufToLora(writeGguf(meta('adapter'), [t('token_embd.weight.lora_a', [2, 16])]), llama, FILE), TensorError, 'token_embd');
    expectErr(() => ggufToLora(writeGguf(meta('adapter'), [t('blk.7.attn_q.weight.lora_a', [2, 16])]), llama, FILE), TensorError, 'layer 7');
    expectErr(
      () => ggufToLora(writeGguf(meta('adapter'), [t('blk.0.attn_q.weight.lora_a', [2, 16]), t('blk.0.attn_q.weight.lora_b', [16, 3])]), llama, FILE),
      TensorError,
      'lora_b',
      '[16, 2]',
    );
    // No alpha: llama.cpp applies scale 1.
    const noAlpha = ggufToLora(writeGguf(meta('adapter'), [t('blk.0.attn_v.weight.lora_a', [2, 16]), t('blk.0.attn_v.weight.lora_b', [8, 2])]), llama, FILE);
    expect(noAlpha.alpha).toBe(0);
    expect(noAlpha.weights.modules.get(linearName(0, 'v_proj'))!.scaling).toBe(1);
  });
});

function findBytes(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  throw new Error('not found');
}
