// Where the tests and the CLI get WebGPU from (scripts/webgpu-env.mjs): the choice between the system's
// Vulkan driver / Chromium and the software ones bundled with @sparticuz/chromium, the extraction of
// the bundle, and a real adapter from the bundled SwiftShader whatever this machine has.

import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  bundledPackage,
  bundledPart,
  extractTar,
  probeNodeAdapter,
  readTar,
  resolveChromium,
  resolveNodeWebGpu,
  swiftshaderEnv,
  systemHasVulkanLoader,
  webgpuMode,
  type AdapterInfo,
  type ProbeResult,
} from '../../scripts/webgpu-env.mjs';

const temps: string[] = [];
function temp(): string {
  const d = mkdtempSync(join(tmpdir(), 'tabtune-webgpu-env-'));
  temps.push(d);
  return d;
}
afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

/** A ustar archive of these entries (directories end in '/'). */
function tar(entries: [string, string | null][]): Buffer {
  const blocks: Buffer[] = [];
  for (const [name, body] of entries) {
    const h = Buffer.alloc(512);
    const data = Buffer.from(body ?? '');
    h.write(name, 0, 100, 'utf8');
    h.write(body === null ? '0000755\0' : '0000644\0', 100);
    h.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
    h.write(body === null ? '5' : '0', 156);
    h.write('ustar\0', 257);
    h.write('00', 263);
    blocks.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

const LLVMPIPE: AdapterInfo = { vendor: 'mesa', architecture: 'software', device: 'llvmpipe', description: 'llvmpipe: Mesa 25', f16: true };
const SWIFTSHADER: AdapterInfo = { vendor: 'google', architecture: 'swiftshader', device: '', description: 'SwiftShader driver 5.0.0', f16: false };

describe('webgpuMode', () => {
  it('reads TABTUNE_WEBGPU: auto by default, system or bundled, anything else is an error', () => {
    expect(webgpuMode({})).toBe('auto');
    expect(webgpuMode({ TABTUNE_WEBGPU: 'Bundled' })).toBe('bundled');
    expect(webgpuMode({ TABTUNE_WEBGPU: 'system' })).toBe('system');
    expect(() => webgpuMode({ TABTUNE_WEBGPU: 'gpu' })).toThrow(/auto, system or bundled/);
  });
});

describe('tar extraction', () => {
  it('reads files and folders, with their modes', () => {
    const entries = [...readTar(tar([['d/', null], ['d/a.txt', 'hello'], ['b.json', '{}']]))];
    expect(entries.map((e) => [e.name, e.type, e.mode])).toEqual([
      ['d/', 'dir', 0o755],
      ['d/a.txt', 'file', 0o644],
      ['b.json', 'file', 0o644],
    ]);
    expect(Buffer.from(entries[1]!.data).toString()).toBe('hello');
  });

  it('writes them under the target folder and refuses names that leave it', () => {
    const dir = temp();
    expect(extractTar(tar([['d/', null], ['d/a.txt', 'hello']]), dir)).toEqual(['d/a.txt']);
    expect(readFileSync(join(dir, 'd', 'a.txt'), 'utf8')).toBe('hello');
    expect(() => extractTar(tar([['../evil', 'x']]), dir)).toThrow(/outside the target/);
    expect(() => extractTar(tar([['/etc/evil', 'x']]), dir)).toThrow(/outside the target/);
  });

  it('says so when the archive is cut short', () => {
    const whole = tar([['a.txt', 'x'.repeat(2000)]]);
    expect(() => [...readTar(whole.subarray(0, 1024))]).toThrow(/truncated/);
  });
});

describe('the Node side: system Vulkan driver first, else the bundled SwiftShader', () => {
  const part = () => '/cache/swiftshader';

  it('keeps the system driver when it offers an adapter, adding nothing to the environment', async () => {
    const probed: Record<string, string | undefined>[] = [];
    const r = await resolveNodeWebGpu({
      env: { PATH: '/bin' },
      mode: 'auto',
      part,
      probe: async (env) => (probed.push(env), { ok: true, adapter: LLVMPIPE }),
    });
    expect(r).toMatchObject({ ok: true, source: 'system', env: {}, adapter: LLVMPIPE, reason: 'system Vulkan driver' });
    expect(probed).toHaveLength(1);
  });

  it('falls back to the bundled ICD, saying why, and hands over the environment that selects it', async () => {
    const probe = async (env: Record<string, string | undefined>): Promise<ProbeResult> =>
      env.VK_ICD_FILENAMES ? { ok: true, adapter: SWIFTSHADER } : { ok: false, error: 'requestAdapter returned null' };
    const r = await resolveNodeWebGpu({ env: { LD_LIBRARY_PATH: '/opt/lib' }, mode: 'auto', part, probe });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.source).toBe('bundled');
    expect(r.reason).toMatch(/@sparticuz\/chromium: no system Vulkan driver offered an adapter: requestAdapter returned null/);
    expect(r.env).toEqual({
      VK_ICD_FILENAMES: '/cache/swiftshader/vk_swiftshader_icd.json',
      VK_DRIVER_FILES: '/cache/swiftshader/vk_swiftshader_icd.json',
      LD_LIBRARY_PATH: '/cache/swiftshader:/opt/lib',
      TABTUNE_WEBGPU_SOURCE: 'bundled',
    });
  });

  it('TABTUNE_WEBGPU=bundled never asks the system; =system never falls back', async () => {
    let systemProbes = 0;
    const probe = async (env: Record<string, string | undefined>): Promise<ProbeResult> => {
      if (!env.VK_ICD_FILENAMES) systemProbes++;
      return env.VK_ICD_FILENAMES ? { ok: true, adapter: SWIFTSHADER } : { ok: false, error: 'no drivers' };
    };
    const b = await resolveNodeWebGpu({ env: {}, mode: 'bundled', part, probe });
    expect(b).toMatchObject({ ok: true, source: 'bundled', reason: expect.stringMatching(/TABTUNE_WEBGPU=bundled/) });
    expect(systemProbes).toBe(0);
    const s = await resolveNodeWebGpu({ env: {}, mode: 'system', part, probe });
    expect(s).toMatchObject({ ok: false, error: expect.stringMatching(/no drivers.*forbids the bundled one/) });
  });

  it('with neither, says what to install', async () => {
    const r = await resolveNodeWebGpu({
      env: {},
      mode: 'auto',
      part: () => {
        throw new Error('@sparticuz/chromium is not installed');
      },
      probe: async () => ({ ok: false, error: 'no drivers' }),
    });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toMatch(/no drivers/);
    expect(r.error).toMatch(/mesa-vulkan-drivers/);
    expect(r.error).toMatch(/npm ci/);
  });

  it('guesses, without loading Dawn, whether a Vulkan loader exists', () => {
    const none = { readFile: () => Buffer.from('libc.so.6'), exists: () => false };
    expect(systemHasVulkanLoader({}, none)).toBe(false);
    expect(systemHasVulkanLoader({}, { ...none, readFile: () => Buffer.from('..libvulkan.so.1..') })).toBe(true);
    // ld.so.cache names the full path: a stale entry for a file that is gone is no loader.
    const cache = () => Buffer.from('\0libvulkan.so.1\0/usr/lib/x86_64-linux-gnu/libvulkan.so.1\0');
    expect(systemHasVulkanLoader({}, { readFile: cache, exists: () => false })).toBe(false);
    expect(systemHasVulkanLoader({}, { readFile: cache, exists: (p: string) => p === '/usr/lib/x86_64-linux-gnu/libvulkan.so.1' })).toBe(true);
    expect(systemHasVulkanLoader({ LD_LIBRARY_PATH: '/x:/y' }, { ...none, exists: (p: string) => p === '/y/libvulkan.so.1' })).toBe(true);
    expect(systemHasVulkanLoader({}, { readFile: () => { throw new Error('ENOENT'); }, exists: (p: string) => p === '/usr/lib64/libvulkan.so.1' })).toBe(true);
  });

  it('puts the bundled folder first in LD_LIBRARY_PATH, keeping what was there', () => {
    expect(swiftshaderEnv('/s', {}).LD_LIBRARY_PATH).toBe('/s');
    expect(swiftshaderEnv('/s', { LD_LIBRARY_PATH: '/a:/b' }).LD_LIBRARY_PATH).toBe('/s:/a:/b');
  });
});

describe('the Chromium for the end-to-end tests', () => {
  const node = process.execPath; // an executable file that surely exists
  const none = () => null;
  const part = () => '/cache/chromium';

  it('takes CHROMIUM_PATH, then the system one, then Playwright’s, then the bundled one', () => {
    expect(resolveChromium({ env: { CHROMIUM_PATH: node }, mode: 'auto', system: '/nope', playwright: none, part })).toMatchObject({
      executablePath: node,
      source: 'CHROMIUM_PATH',
    });
    expect(resolveChromium({ env: {}, mode: 'auto', system: node, playwright: none, part })).toMatchObject({ executablePath: node, source: 'system' });
    expect(resolveChromium({ env: {}, mode: 'auto', system: '/nope', playwright: () => '/pw/chrome', part })).toMatchObject({
      executablePath: '/pw/chrome',
      source: 'playwright',
    });
    const b = resolveChromium({ env: { CHROMIUM_PATH: '/missing' }, mode: 'auto', system: '/nope', playwright: none, part });
    expect(b).toMatchObject({ ok: true, executablePath: '/cache/chromium/tabtune-chromium', source: 'bundled' });
    if (b.ok) expect(b.reason).toMatch(/CHROMIUM_PATH=\/missing is not an executable file, no \/nope, no Playwright's Chromium/);
  });

  it('TABTUNE_WEBGPU=bundled ignores the system’s; =system never takes the bundled one', () => {
    expect(resolveChromium({ env: { CHROMIUM_PATH: node }, mode: 'bundled', system: node, playwright: () => node, part })).toMatchObject({
      source: 'bundled',
      reason: expect.stringMatching(/TABTUNE_WEBGPU=bundled/),
    });
    expect(resolveChromium({ env: {}, mode: 'system', system: '/nope', playwright: none, part })).toMatchObject({
      ok: false,
      error: expect.stringMatching(/forbids the bundled one.*apt-get install chromium/),
    });
  });

  it('says what to install when there is none at all', () => {
    const r = resolveChromium({
      env: {},
      mode: 'auto',
      system: '/nope',
      playwright: none,
      part: () => {
        throw new Error('@sparticuz/chromium is not installed');
      },
    });
    expect(r).toMatchObject({ ok: false, error: expect.stringMatching(/not installed.*CHROMIUM_PATH.*npx playwright install chromium/) });
  });
});

describe('the bundled SwiftShader, for real', () => {
  it('is installed (a devDependency), extracts once, and gives Dawn a working adapter with no system driver', async () => {
    const pkg = bundledPackage();
    expect(pkg, '@sparticuz/chromium is a devDependency: run npm ci').not.toBeNull();
    const cacheRoot = temp();
    const dir = bundledPart('swiftshader', { pkg, cacheRoot });
    expect(dir).toBe(join(cacheRoot, pkg!.version, 'swiftshader'));
    for (const f of ['vk_swiftshader_icd.json', 'libvk_swiftshader.so', 'libvulkan.so.1']) expect(existsSync(join(dir, f)), f).toBe(true);
    const icd = JSON.parse(readFileSync(join(dir, 'vk_swiftshader_icd.json'), 'utf8'));
    expect(icd.ICD.library_path).toBe('./libvk_swiftshader.so');
    // A second call finds it: nothing is written again.
    const mtime = statSync(join(dir, 'libvk_swiftshader.so')).mtimeMs;
    expect(bundledPart('swiftshader', { pkg, cacheRoot })).toBe(dir);
    expect(statSync(join(dir, 'libvk_swiftshader.so')).mtimeMs).toBe(mtime);
    // Only the bundled ICD, whatever the environment named before.
    const env = { ...process.env, VK_ADD_DRIVER_FILES: '', ...swiftshaderEnv(dir, process.env) };
    const r = await probeNodeAdapter(env);
    expect(r, JSON.stringify(r)).toMatchObject({ ok: true, adapter: { vendor: 'google', architecture: 'swiftshader' } });
  });

  it('a probe with no driver at all reports why, on one line', async () => {
    const r = await probeNodeAdapter({ ...process.env, VK_ICD_FILENAMES: '/nonexistent.json', VK_DRIVER_FILES: '/nonexistent.json' });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error).toMatch(/requestAdapter returned null|Vulkan/);
      expect(r.error).not.toMatch(/\n/);
    }
  });
});
