// The CLI shows only its own lines: Dawn's native warnings are filtered out of its stderr
// (bin/stderr-filter.mjs), whatever chunks they arrive in, while everything else, "\r" progress
// lines included, passes through at once. And with no usable Vulkan driver but a loader, the CLI
// switches to the bundled SwiftShader by itself (src/gpu/node-gpu.ts) and says so.

import { describe, expect, it } from 'vitest';
import { StderrFilter } from '../../bin/stderr-filter.mjs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli, tempDir } from '../helpers/cli.ts';

const REDUCED_U =
  'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.\n';
const REDUCED_S =
  'Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.\n';
const NO_VULKAN =
  "Warning: Couldn't load Vulkan: libvulkan.so.1: cannot open shared object file: No such file or directory\n" +
  '    at operator() (/home/runner/work/node-webgpu/node-webgpu/third_party/dawn/src/dawn/native/vulkan/BackendVk.cpp:368)\n\n';

function filtered(chunks: string[]): { out: string; writes: string[]; diagnostics: string[] } {
  const writes: string[] = [];
  const f = new StderrFilter((s) => writes.push(s));
  for (const c of chunks) f.push(c);
  f.end();
  return { out: writes.join(''), writes, diagnostics: f.diagnostics };
}

/** The same text cut into pieces of n characters. */
function pieces(s: string, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < s.length; i += n) out.push(s.slice(i, i + n));
  return out;
}

describe('StderrFilter', () => {
  it("drops Dawn's limit warnings and XDG_RUNTIME_DIR complaint, in any chunking, and keeps the rest", () => {
    const text = `${REDUCED_U}${REDUCED_S}error: XDG_RUNTIME_DIR is invalid or not set in the environment.\ntabtune eval: no such file\n`;
    for (const n of [1, 3, 7, 64, text.length]) {
      const r = filtered(pieces(text, n));
      expect(r.out, `pieces of ${n}`).toBe('tabtune eval: no such file\n');
      expect(r.diagnostics).toEqual([]);
    }
  });

  it("keeps the Vulkan loader's diagnostics and Dawn's source lines aside, for a failure report", () => {
    for (const n of [1, 5, 1000]) {
      const r = filtered(pieces(`${NO_VULKAN}tabtune eval: WebGPU is not available\n`, n));
      expect(r.out).toBe('tabtune eval: WebGPU is not available\n');
      expect(r.diagnostics).toHaveLength(2);
      expect(r.diagnostics[0]).toMatch(/Couldn't load Vulkan/);
    }
  });

  it('keeps stack traces, blank lines and lines that merely look alike', () => {
    const text =
      'tabtune train: boom\nError: boom\n    at main (/x/src/cli/main.ts:3:1)\n\nWarnings: none\nerror: something else\n  at the end\n';
    expect(filtered(pieces(text, 2)).out).toBe(text);
  });

  it('writes a progress line at once, without waiting for its newline', () => {
    const r = filtered(['merging: 10%\r', 'merging: 55%\r', 'merging: 100%\r', '\n']);
    expect(r.writes.slice(0, 3)).toEqual(['merging: 10%\r', 'merging: 55%\r', 'merging: 100%\r']);
    expect(r.out).toBe('merging: 10%\rmerging: 55%\rmerging: 100%\r\n');
  });

  it('writes a last line that has no newline', () => {
    expect(filtered(['Warn', 'ing: not from Dawn, and no newline']).out).toBe('');
    expect(filtered(['done, no newline']).out).toBe('done, no newline');
  });
});

/** A test model and three short rows: little GPU work, even on the software SwiftShader. */
async function modelAndData(prefix: string): Promise<{ model: string; data: string; stderr: string }> {
  const dir = await tempDir(prefix);
  const model = join(dir, 'model');
  const m = await runCli(['make-test-model', '--out', model]);
  expect(m.code, m.stderr).toBe(0);
  const data = join(dir, 'data.jsonl');
  const rows = [
    { prompt: 'Question: who?\nAnswer:', completion: ' Verily, me. Amen.' },
    { prompt: 'Question: what?\nAnswer:', completion: ' Verily, this. Amen.' },
    { prompt: 'Question: when?\nAnswer:', completion: ' Verily, now. Amen.' },
  ];
  await writeFile(data, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return { model, data, stderr: m.stderr };
}

describe('the CLI on the GPU', () => {
  it('prints only its own lines', async () => {
    const { model, data, stderr } = await modelAndData('tabtune-quiet-');
    expect(stderr).toBe('');
    const r = await runCli(['eval', '--model', model, '--data', data, '--seq-len', '64']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^loss \d/m);
    // Nothing of Dawn's: only tabtune's own lines (none on success).
    expect(r.stderr).not.toMatch(/Warning|XDG_RUNTIME_DIR|artificially/);
  });

  it('switches to the bundled SwiftShader when the Vulkan loader finds no driver, and says so', async () => {
    const { model, data } = await modelAndData('tabtune-fallback-');
    const env: Record<string, string> = { VK_ICD_FILENAMES: '/nonexistent.json', VK_DRIVER_FILES: '/nonexistent.json' };
    // As a user's shell would be: none of the test runner's own choice.
    const r = await runCli(['eval', '--model', model, '--data', data, '--seq-len', '64'], {
      ...env,
      TABTUNE_WEBGPU_SOURCE: '',
      TABTUNE_WEBGPU: '',
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^loss \d/m);
    expect(r.stderr).toMatch(/using the software SwiftShader bundled with @sparticuz\/chromium/);
    expect(r.stderr).not.toMatch(/Warning|vkCreateInstance/);
  });
});
