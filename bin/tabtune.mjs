#!/usr/bin/env node
// The tabtune CLI: runs src/cli/main.ts straight from source.
//
// It runs in a child process of this one, for two reasons. Dawn writes warnings straight to file
// descriptor 2 from native code ("... artificially reduced ...") that a user should not see: the
// child's stderr passes through a filter (stderr-filter.mjs). And on a machine with no Vulkan
// loader at all, Dawn can only find the software SwiftShader bundled with @sparticuz/chromium when
// LD_LIBRARY_PATH names it before the process starts (scripts/webgpu-env.mjs): this process sets it
// for the child. With a loader but no usable driver, src/gpu/node-gpu.ts switches inside the child.

const CHILD = 'TABTUNE_CLI_CHILD';

if (process.env[CHILD] === '1') {
  await import('./register.mjs');
  const { main } = await import('../src/cli/main.ts');
  process.exitCode = await main(process.argv.slice(2));
} else {
  const { spawn } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const { StderrFilter } = await import('./stderr-filter.mjs');
  const env = { ...process.env, [CHILD]: '1' };
  try {
    Object.assign(env, await cliWebGpuEnv(process.env));
  } catch (e) {
    // No bundled fallback: the child still runs, and says what to install if it needs a GPU.
    if (process.env.TABTUNE_DEBUG || /^bundled$/i.test(process.env.TABTUNE_WEBGPU ?? '')) console.error(`tabtune: ${e.message}`);
  }
  const raw = !!process.env.TABTUNE_DEBUG; // everything, Dawn's chatter included
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    env,
    stdio: ['inherit', 'inherit', raw ? 'inherit' : 'pipe'],
  });
  const filter = new StderrFilter((s) => process.stderr.write(s));
  if (!raw) {
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d) => filter.push(d));
  }
  // Ctrl+C reaches the child through the terminal's process group; a signal sent to this process alone
  // is passed on. Either way this process waits for the child and exits as it did.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('error', (e) => {
    console.error(`tabtune: could not start the CLI process: ${e.message}`);
    process.exit(1);
  });
  const [code, signal] = await new Promise((resolve) => child.on('close', (c, s) => resolve([c, s])));
  filter.end();
  // On failure, what Dawn and the Vulkan loader said can tell why (e.g. no libvulkan.so.1).
  const said = filter.diagnostics.filter((l) => !/^\s+at /.test(l)).map((l) => `  ${l.replace(/^Warning: /, '').trim()}\n`);
  if (code !== 0 && said.length) process.stderr.write(`tabtune: Dawn and the Vulkan loader reported:\n${said.join('')}`);
  if (signal) {
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.removeAllListeners(sig);
    process.kill(process.pid, signal);
  }
  process.exitCode = code ?? 1;
}

/**
 * The environment the child needs for WebGPU, decided without loading Dawn here: the bundled
 * SwiftShader when asked for (TABTUNE_WEBGPU=bundled) or when the system has no Vulkan loader.
 */
async function cliWebGpuEnv(env) {
  const w = await import('../scripts/webgpu-env.mjs');
  if (w.usesBundledSwiftshader(env)) return {};
  const mode = w.webgpuMode(env);
  if (mode === 'system') return {};
  if (mode === 'auto' && w.systemHasVulkanLoader(env)) return {};
  const why = mode === 'bundled' ? `${w.MODE_VAR}=bundled` : 'no Vulkan loader (libvulkan.so.1) on this system';
  return { ...w.swiftshaderEnv(w.bundledPart('swiftshader'), env), TABTUNE_WEBGPU_REASON: why };
}
