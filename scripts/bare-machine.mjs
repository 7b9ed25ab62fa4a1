#!/usr/bin/env node
// `npm run test:bare`: the tests as a bare machine runs them (Node and npm's packages, nothing else: no
// GPU, no Vulkan driver, no Chromium, not root), on a machine that has all of those.
//
// As root, and where the kernel allows a mount namespace (`unshare --mount`), the system's drivers are
// genuinely hidden from the run: empty folders over the Vulkan ICD folders and Debian's Chromium;
// libvulkan.so*, /usr/bin/chromium and the NSS libraries that Chromium needs (the bundled Chromium
// brings its own) deleted in an overlay that only the namespace sees (or, without overlays, covered
// by empty files); ld.so.cache rebuilt without them. The tests then run as an unprivileged user
// (`tabtune-bare`, created when missing) in a copy of this folder without the extracted bundle, with a
// clean environment. So they find nothing of the system's, and fall back to the software SwiftShader and
// Chromium of @sparticuz/chromium on their own, as `npm test` does on a bare machine.
// Elsewhere (not root, or no mount namespaces), TABTUNE_WEBGPU=bundled makes the test runner ignore
// the system's drivers and Chromiums instead, which proves less: say so in the output.
//
//   node scripts/bare-machine.mjs              a representative part: kernel, GPU, detection and CLI
//                                              unit tests, one end-to-end file (app.spec.ts)
//   node scripts/bare-machine.mjs --full       the whole suite (npm test), typecheck and lint included
//   node scripts/bare-machine.mjs -- ARGS      these options for scripts/test.mjs instead
//   --as-root                                  hide the drivers but stay root, in this folder
//   --exec -- COMMAND ARGS...                  any command instead, in the same bare machine
//                                              (e.g. --exec -- npx tabtune eval ...)
//
// Exits as the test run did.

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const USER = 'tabtune-bare';

/**
 * The representative part: every kernel, the adapter smoke tests, the detection itself, the CLI on
 * the GPU, and the app shell in the browser.
 */
const QUICK_ARGS = ['--no-static', '--unit=test/kernels,test/gpu,test/scripts,test/cli/quiet.test.ts', '--e2e=e2e/app.spec.ts'];

const LIB_DIRS = ['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib64', '/usr/lib64', '/usr/lib', '/usr/local/lib'];
/** What Chromium links against (the bundled one brings these in lib/). */
const NSS_LIBS = /^lib(?:nss3|nssutil3|smime3|nspr4|plc4|plds4|softokn3|freebl3|freeblpriv3|expat)\.so(?:\.|$)/;
const HIDDEN_DIRS = ['/usr/share/vulkan', '/etc/vulkan', '/usr/local/share/vulkan', '/usr/lib/chromium', '/opt/google', '/root/.cache/ms-playwright'];
const HIDDEN_FILES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

function parse(argv) {
  const o = { full: false, asRoot: false, exec: false, testArgs: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      o.testArgs = argv.slice(i + 1);
      break;
    }
    if (a === '--full') o.full = true;
    else if (a === '--as-root') o.asRoot = true;
    else if (a === '--exec') o.exec = true;
    else {
      console.error(`scripts/bare-machine.mjs: unknown option ${a}`);
      process.exit(2);
    }
  }
  o.testArgs ??= o.full ? [] : QUICK_ARGS;
  if (o.exec && o.testArgs === QUICK_ARGS) {
    console.error('scripts/bare-machine.mjs: --exec needs a command after --');
    process.exit(2);
  }
  return o;
}

/**
 * The files to make disappear, by folder (each folder once, symlinked folders resolved): the Vulkan
 * loader, the NSS libraries, the system's Chromium.
 */
function filesToHide() {
  const byDir = new Map();
  const add = (dir, name) => {
    let real;
    try {
      real = realpathSync(dir);
    } catch {
      return;
    }
    if (!byDir.has(real)) byDir.set(real, new Set());
    byDir.get(real).add(name);
  };
  for (const f of HIDDEN_FILES) if (existsSync(f)) add(dirname(f), f.slice(dirname(f).length + 1));
  for (const d of LIB_DIRS) {
    let names = [];
    try {
      names = readdirSync(d);
    } catch {
      continue;
    }
    for (const n of names) if (/^libvulkan\.so/.test(n) || NSS_LIBS.test(n)) add(d, n);
  }
  return [...byDir].map(([dir, names]) => ({ dir, names: [...names].sort() }));
}

/**
 * Shell lines, run as root inside the new mount namespace, that hide all that. Each folder with
 * files to hide gets an overlay whose deletions (whiteouts) stay in the namespace, so the files are
 * really absent; where the kernel refuses overlays, an empty, non-executable file is bound over each
 * one instead. ld.so.cache is rebuilt without them, as on a machine that never had them.
 */
function hidingScript(scratch) {
  const dirs = HIDDEN_DIRS.filter((d) => existsSync(d));
  const files = filesToHide();
  const ovl = join(scratch, 'overlay');
  const lines = [
    ...dirs.map((d) => `mount -t tmpfs -o size=1m,mode=755 tmpfs ${sh(d)}`),
    // Overlay layers may not live on an overlay (a container's root): a tmpfs of their own.
    `mkdir -p ${sh(ovl)} && mount -t tmpfs -o mode=755 tmpfs ${sh(ovl)}`,
    `: > ${sh(join(ovl, 'empty'))}`,
  ];
  files.forEach(({ dir, names }, i) => {
    const up = join(ovl, `u${i}`);
    const work = join(ovl, `w${i}`);
    const paths = names.map((n) => sh(join(dir, n))).join(' ');
    lines.push(
      `mkdir -p ${sh(up)} ${sh(work)}`,
      `if mount -t overlay overlay -o lowerdir=${sh(dir)},upperdir=${sh(up)},workdir=${sh(work)} ${sh(dir)} 2>/dev/null; then rm -f ${paths}; ` +
        `else for f in ${paths}; do mount --bind ${sh(join(ovl, 'empty'))} "$(readlink -f "$f")"; done; fi`,
    );
  });
  lines.push(
    `if command -v ldconfig >/dev/null && ldconfig -X -C ${sh(join(ovl, 'ld.so.cache'))} 2>/dev/null; then mount --bind ${sh(join(ovl, 'ld.so.cache'))} /etc/ld.so.cache; fi`,
  );
  const what = [...dirs, ...files.flatMap(({ dir, names }) => names.map((n) => join(dir, n)))];
  return { lines, what };
}

function canUnshare() {
  if (process.getuid?.() !== 0) return false;
  return spawnSync('unshare', ['--mount', 'true'], { stdio: 'ignore' }).status === 0;
}

function sh(s) {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function ensureUser() {
  if (spawnSync('id', ['-u', USER], { stdio: 'ignore' }).status === 0) return;
  execFileSync('useradd', ['--system', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', USER], { stdio: 'inherit' });
}

function ids() {
  const uid = Number(execFileSync('id', ['-u', USER], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', USER], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

function run(cmd, args, opts) {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: 'inherit', ...opts });
    p.on('error', (e) => {
      console.error(`could not start ${cmd}: ${e.message}`);
      resolve(127);
    });
    p.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

const opts = parse(process.argv.slice(2));
const started = Date.now();
let code;

if (canUnshare()) {
  let cwd = ROOT;
  let tmp = null;
  let user = null;
  if (!opts.asRoot) {
    ensureUser();
    user = ids();
    tmp = mkdtempSync(join(tmpdir(), 'tabtune-bare-'));
    cwd = join(tmp, 'tabtune');
    console.log(`bare machine: copying ${ROOT} to ${cwd} for user ${USER} (without the extracted bundle) ...`);
    execFileSync('cp', ['-a', ROOT, cwd]);
    rmSync(join(cwd, 'node_modules', '.cache', 'tabtune-chromium'), { recursive: true, force: true });
    rmSync(join(cwd, 'test-results'), { recursive: true, force: true });
    mkdirSync(join(tmp, 'home'));
    execFileSync('chown', ['-R', `${user.uid}:${user.gid}`, tmp]);
  }
  const scratch = tmp ?? mkdtempSync(join(tmpdir(), 'tabtune-bare-'));
  const hiding = hidingScript(scratch);
  console.log(`bare machine: hiding ${hiding.what.join(' ')}`);
  const mounts = hiding.lines;
  // A clean environment: nothing of this shell's (VK_*, LD_LIBRARY_PATH, CHROMIUM_PATH, ...).
  const home = tmp ? join(tmp, 'home') : (process.env.HOME ?? '/root');
  const env = [`PATH=${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`, `HOME=${home}`, `LANG=${process.env.LANG ?? 'C.UTF-8'}`];
  if (process.env.CI) env.push(`CI=${process.env.CI}`);
  if (process.env.TERM) env.push(`TERM=${process.env.TERM}`);
  const cmd = opts.exec ? opts.testArgs : [process.execPath, 'scripts/test.mjs', ...opts.testArgs];
  const test = ['env', '-i', ...env, ...cmd].map(sh).join(' ');
  const inner = user ? `exec runuser -u ${USER} -- ${test}` : `exec ${test}`;
  console.log(`bare machine: ${user ? `as ${USER}` : 'as root'}, in ${cwd}: ${opts.exec ? '' : 'node scripts/test.mjs '}${opts.testArgs.join(' ')}`);
  code = await run('unshare', ['--mount', '--propagation', 'private', 'sh', '-ec', [...mounts, `cd ${sh(cwd)}`, inner].join('\n')], {});
  if (!tmp || code === 0) rmSync(scratch, { recursive: true, force: true });
  else console.log(`bare machine: the copy is kept for a look at its test-results: ${cwd}`);
} else {
  console.log(
    'bare machine: cannot hide the system drivers here (that needs root and a mount namespace); ' +
      'TABTUNE_WEBGPU=bundled makes the tests ignore them instead',
  );
  const env = { ...process.env, TABTUNE_WEBGPU: 'bundled' };
  for (const k of ['VK_ICD_FILENAMES', 'VK_DRIVER_FILES', 'VK_ADD_DRIVER_FILES', 'CHROMIUM_PATH', 'TABTUNE_WEBGPU_SOURCE', 'TABTUNE_WEBGPU_REASON']) delete env[k];
  const [cmd, ...args] = opts.exec ? opts.testArgs : [process.execPath, 'scripts/test.mjs', ...opts.testArgs];
  code = await run(cmd, args, { cwd: ROOT, env });
}

console.log(`bare machine: finished in ${((Date.now() - started) / 1000).toFixed(0)} s, exit code ${code}`);
process.exitCode = code;
