import { describe, it, expect } from 'vitest';
import { droppedFiles } from '../../src/formats/browser-files.ts';
import { readText } from '../../src/formats/byte-source.ts';
import { openCheckpoint, readTensorBytes } from '../../src/formats/checkpoint.ts';
import { toFloat32 } from '../../src/formats/dtype.ts';
import { writeSafetensors } from '../../src/formats/safetensors-write.ts';
import { f32Bytes } from './helpers.ts';

/** Node's File has no webkitRelativePath; a folder drop in the browser sets it. */
function inFolder(path: string, content: string): File {
  const f = new File([content], path.slice(path.lastIndexOf('/') + 1));
  Object.defineProperty(f, 'webkitRelativePath', { value: path });
  return f;
}

describe('droppedFiles', () => {
  it('finds files by name and opens a checkpoint from them', async () => {
    const weights = writeSafetensors([{ name: 'w', dtype: 'F32', shape: [2], data: f32Bytes([1.5, -2]) }]);
    const files = droppedFiles([new File(['{"a":1}'], 'config.json'), new File([new Uint8Array(weights)], 'model.safetensors')]);
    expect(files.name).toBe('dropped files');
    expect(await readText((await files.get('config.json'))!)).toBe('{"a":1}');
    expect(await files.get('tokenizer.json')).toBeNull();
    const ckpt = await openCheckpoint(files);
    expect([...toFloat32('F32', await readTensorBytes(ckpt.tensors.get('w')!))]).toEqual([1.5, -2]);
  });

  it('reads ranges and refuses reads past the end', async () => {
    const src = (await droppedFiles([new File([new Uint8Array([9, 8, 7, 6, 5])], 'x.bin')], 'picked').get('x.bin'))!;
    expect(src.size).toBe(5);
    expect([...(await src.read(1, 3))]).toEqual([8, 7, 6]);
    await expect(src.read(4, 2)).rejects.toThrow(/past the end/);
  });

  it('matches a folder drop by relative path, then by the shallowest base name', async () => {
    const files = droppedFiles(
      [inFolder('SmolLM2/onnx/config.json', 'deep'), inFolder('SmolLM2/config.json', 'top'), inFolder('SmolLM2/onnx/model.onnx', 'm')],
      'SmolLM2',
    );
    const top = (await files.get('config.json'))!;
    expect(top.name).toBe('SmolLM2/config.json');
    expect(await readText(top)).toBe('top');
    expect(await readText((await files.get('onnx/config.json'))!)).toBe('deep');
    expect(await readText((await files.get('model.onnx'))!)).toBe('m');
  });
});
