// Types for scripts/webgpu-env.mjs (plain JavaScript, so that scripts/test.mjs and bin/tabtune.mjs
// run it with no TypeScript loader).

type Env = Record<string, string | undefined>;

export type WebGpuMode = 'auto' | 'system' | 'bundled';
export type BundledPartName = 'swiftshader' | 'chromium';

export interface BundledPackage {
  dir: string;
  version: string;
  bin: string;
}

export interface AdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  f16: boolean;
}

export type ProbeResult = { ok: true; adapter: AdapterInfo } | { ok: false; error: string };

export type NodeWebGpu =
  | { ok: true; source: 'system' | 'bundled'; env: Record<string, string>; adapter: AdapterInfo; reason: string }
  | { ok: false; error: string };

export type ChromiumChoice =
  | { ok: true; executablePath: string; source: 'CHROMIUM_PATH' | 'system' | 'playwright' | 'bundled'; reason: string }
  | { ok: false; error: string };

export interface TarEntry {
  name: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  mode: number;
  data: Uint8Array;
  linkname: string;
}

export const ROOT: string;
export const BUNDLED_PACKAGE: string;
export const MODE_VAR: string;

export function webgpuMode(env?: Env): WebGpuMode;
export function bundledPackage(from?: string): BundledPackage | null;
export function defaultCacheRoot(): string;
export function readTar(buf: Buffer): Generator<TarEntry>;
export function extractTar(buf: Buffer, dir: string): string[];
export function bundledPart(part: BundledPartName, opts?: { pkg?: BundledPackage | null; cacheRoot?: string }): string;
export function swiftshaderEnv(
  dir: string,
  env?: Env,
): { VK_ICD_FILENAMES: string; VK_DRIVER_FILES: string; LD_LIBRARY_PATH: string; TABTUNE_WEBGPU_SOURCE: 'bundled' };
export function usesBundledSwiftshader(env?: Env): boolean;
export function probeNodeAdapter(env?: Env, opts?: { timeoutMs?: number }): Promise<ProbeResult>;
export function dawnDiagnostics(stderr: string): string;
export function describeAdapterInfo(a: Pick<AdapterInfo, 'vendor' | 'architecture' | 'device' | 'description'>): string;
export function resolveNodeWebGpu(opts?: {
  env?: Env;
  mode?: WebGpuMode;
  probe?: (env: Env) => Promise<ProbeResult>;
  part?: (part: BundledPartName) => string;
}): Promise<NodeWebGpu>;
export function systemHasVulkanLoader(
  env?: Env,
  io?: { readFile?: (path: string) => Buffer; exists?: (path: string) => boolean },
): boolean;
export function playwrightChromium(): string | null;
export function resolveChromium(opts?: {
  env?: Env;
  mode?: WebGpuMode;
  system?: string;
  playwright?: () => string | null;
  part?: (part: BundledPartName) => string;
}): ChromiumChoice;
export function pruneBundledCache(opts?: { pkg?: BundledPackage | null; cacheRoot?: string }): void;
