#!/usr/bin/env node
// `npm test`: typecheck, lint, unit + kernel tests (vitest), end-to-end tests (Playwright), in that
// order. Every stage runs even when an earlier one failed, and its output streams through as it
// comes. At the end: one line per stage, then exactly one line `tests: N passed, M failed`, where N
// and M are summed from the vitest and Playwright JSON reports; a failed typecheck or lint counts as
// one failure each, and so does a test stage that exits non-zero without a failing test to show for
// it (a crash, an unhandled error, a missing report) or where no test ran. Exits non-zero if anything
// failed or no test ran.
//
// Before the stages it says which WebGPU the tests get and why (scripts/webgpu-env.mjs): in Node,
// Dawn over the system's Vulkan driver, else the software SwiftShader bundled with @sparticuz/chromium,
// whose environment (VK_ICD_FILENAMES, LD_LIBRARY_PATH) the test processes then start with; for the
// end-to-end tests, CHROMIUM_PATH, /usr/bin/chromium, Playwright's own Chromium, else the bundled one.
// TABTUNE_WEBGPU=bundled ignores the system's drivers and Chromiums, as on a bare machine.
//
// On the bundled SwiftShader (no Vulkan driver on the machine) every kernel, model, CLI and worker
// test still runs, with longer timeouts (vite.config.ts), but the few long training runs in
// LONG_TRAINING_RUNS are left out, saying so: on lavapipe each takes a minute or more, on SwiftShader
// ten times that. --all runs them too.
//
// Options (for a part of the suite; `npm test` runs all of it):
//   --unit=PATH[,PATH...]  vitest only these files or folders      --e2e=PATH[,PATH...]  Playwright only these
//   --no-unit / --no-e2e   leave that stage out                     --no-static           no typecheck and lint
//   --all                  the long training runs on SwiftShader too
//   --detect               only say which WebGPU and Chromium the tests would use

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeAdapterInfo, resolveChromium, resolveNodeWebGpu } from './webgpu-env.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const resultsDir = join(root, 'test-results');
const UNIT_JSON = join(resultsDir, 'unit.json');
const E2E_JSON = join(resultsDir, 'e2e.json'); // written by playwright.config.ts's json reporter

const isWindows = process.platform === 'win32';
const bin = (name) => join(root, 'node_modules', '.bin', isWindows ? `${name}.cmd` : name);

/** Runs a command with inherited stdio; resolves to its exit code (signals and spawn errors give 1+). */
function run(cmd, args, env = process.env) {
  return new Promise((resolve) => {
    console.log(`\n\u25b6 ${[cmd.replace(`${root}/`, ''), ...args].join(' ')}\n`);
    const child = spawn(cmd, args, { cwd: root, stdio: 'inherit', shell: isWindows, env });
    child.on('error', (e) => {
      console.error(`could not start ${cmd}: ${e.message}`);
      resolve(127);
    });
    child.on('exit', (code, signal) => {
      if (signal) console.error(`${cmd} was killed by ${signal}`);
      resolve(code ?? 1);
    });
  });
}

function readJson(file) {
  if (!existsSync(file)) return { error: `no report at ${file.replace(`${root}/`, '')}` };
  try {
    return { data: JSON.parse(readFileSync(file, 'utf8')) };
  } catch (e) {
    return { error: `unreadable report ${file.replace(`${root}/`, '')}: ${e.message}` };
  }
}

/** vitest's json reporter (jest-style totals). */
function countVitest(file) {
  const { data, error } = readJson(file);
  if (error) return { passed: 0, failed: 0, skipped: 0, note: error };
  return {
    passed: Number(data.numPassedTests ?? 0),
    failed: Number(data.numFailedTests ?? 0),
    skipped: Number(data.numPendingTests ?? 0) + Number(data.numTodoTests ?? 0),
  };
}

/** Playwright's json reporter: stats.expected (passed), unexpected (failed), flaky (passed on retry). */
function countPlaywright(file) {
  const { data, error } = readJson(file);
  if (error) return { passed: 0, failed: 0, skipped: 0, note: error };
  const s = data.stats ?? {};
  const errors = Array.isArray(data.errors) ? data.errors.length : 0;
  return {
    passed: Number(s.expected ?? 0) + Number(s.flaky ?? 0),
    failed: Number(s.unexpected ?? 0),
    skipped: Number(s.skipped ?? 0),
    note: errors ? `${errors} error(s) outside tests (see above)` : undefined,
  };
}

/** Training runs of many steps: what they check is the training, not WebGPU, and lavapipe checks it. */
const LONG_TRAINING_RUNS = ['test/worker/runs.test.ts', 'test/worker/memory-bound.test.ts', 'test/train/demo.test.ts'];

function parseArgs(argv) {
  const o = { unit: [], e2e: [], runUnit: true, runE2e: true, runStatic: true, detect: false, all: false };
  for (const a of argv) {
    const [k, v] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, ''];
    const list = v.split(',').filter(Boolean);
    if (k === '--unit' && list.length) o.unit.push(...list);
    else if (k === '--e2e' && list.length) o.e2e.push(...list);
    else if (k === '--no-unit') o.runUnit = false;
    else if (k === '--no-e2e') o.runE2e = false;
    else if (k === '--no-static') o.runStatic = false;
    else if (k === '--detect') o.detect = true;
    else if (k === '--all') o.all = true;
    else {
      console.error(`scripts/test.mjs: unknown option ${a} (see the comment at its top)`);
      process.exit(2);
    }
  }
  return o;
}

const opts = parseArgs(process.argv.slice(2));

// Which WebGPU the tests get, said before anything runs. Dawn reads its Vulkan environment when it
// loads, so the choice is made here and passed to the test processes.
const webgpu = opts.runUnit || opts.detect ? await resolveNodeWebGpu() : null;
const chromium = opts.runE2e || opts.detect ? resolveChromium() : null;
if (webgpu) {
  console.log(
    webgpu.ok
      ? `WebGPU in Node: ${describeAdapterInfo(webgpu.adapter)}, shader-f16: ${webgpu.adapter.f16 ? 'yes' : 'no'} (${webgpu.reason})`
      : `WebGPU in Node: none: ${webgpu.error}`,
  );
}
if (chromium) console.log(chromium.ok ? `Chromium: ${chromium.executablePath} (${chromium.reason})` : `Chromium: none: ${chromium.error}`);
if (opts.detect) process.exit(webgpu?.ok && chromium?.ok ? 0 : 1);
// playwright.config.ts picks the same Chromium by the same rules (the bundled one is extracted by now).
const testEnv = { ...process.env, ...(webgpu?.ok ? webgpu.env : {}) };
const leftOut = webgpu?.ok && webgpu.source === 'bundled' && !opts.all && opts.unit.length === 0 ? LONG_TRAINING_RUNS.filter((f) => existsSync(join(root, f))) : [];
if (leftOut.length) {
  console.log(
    `Left out on the software SwiftShader: ${leftOut.join(', ')} (long training runs, ten times slower there than on lavapipe; ` +
      '`npm test -- --all` runs them too)',
  );
}

const stages = [
  ...(opts.runStatic
    ? [
        { name: 'typecheck', cmd: bin('tsc'), args: ['--noEmit', '-p', 'tsconfig.json'] },
        { name: 'lint', cmd: bin('eslint'), args: ['.'] },
      ]
    : []),
  ...(opts.runUnit
    ? [
        {
          name: 'unit (vitest)',
          cmd: bin('vitest'),
          args: [
            'run',
            '--reporter=default',
            '--reporter=json',
            `--outputFile=${join('test-results', 'unit.json')}`,
            ...leftOut.map((f) => `--exclude=${f}`),
            ...opts.unit,
          ],
          env: testEnv,
          note: leftOut.length ? `${leftOut.length} long training files left out on SwiftShader` : undefined,
          report: UNIT_JSON,
          count: countVitest,
        },
      ]
    : []),
  ...(opts.runE2e
    ? [{ name: 'e2e (playwright)', cmd: bin('playwright'), args: ['test', ...opts.e2e], env: testEnv, report: E2E_JSON, count: countPlaywright }]
    : []),
];

mkdirSync(resultsDir, { recursive: true });
let passed = 0;
let failed = 0;
const summary = [];

for (const stage of stages) {
  // A report left over from an earlier run must not be counted for this one.
  if (stage.report) rmSync(stage.report, { force: true });
  const started = Date.now();
  const code = await run(stage.cmd, stage.args, stage.env);
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  let line;
  if (stage.count) {
    const c = stage.count(stage.report);
    let stageFailed = c.failed;
    // Non-zero exit with no failing test in the report (a crash, an error outside the tests), or a
    // stage where no test ran at all: one failure.
    if (stageFailed === 0 && (code !== 0 || c.passed === 0)) stageFailed = 1;
    passed += c.passed;
    failed += stageFailed;
    const ok = code === 0 && stageFailed === 0 && c.passed > 0;
    const parts = [`${c.passed} passed`, `${stageFailed} failed`];
    if (c.skipped) parts.push(`${c.skipped} skipped`);
    if (c.note) parts.push(c.note);
    if (stage.note) parts.push(stage.note);
    if (code !== 0) parts.push(`exit code ${code}`);
    if (c.passed === 0 && c.failed === 0) parts.push('no tests ran');
    line = `${ok ? 'PASS' : 'FAIL'}  ${stage.name.padEnd(18)} ${parts.join(', ')} (${secs} s)`;
  } else {
    if (code !== 0) failed += 1;
    line = `${code === 0 ? 'PASS' : 'FAIL'}  ${stage.name.padEnd(18)} ${code === 0 ? 'ok' : `exit code ${code}`} (${secs} s)`;
  }
  summary.push(line);
}

console.log('\n---------------- summary ----------------');
for (const line of summary) console.log(line);
if (passed + failed === 0) console.log('no tests ran at all');
console.log(`tests: ${passed} passed, ${failed} failed`);
process.exitCode = failed > 0 || passed === 0 ? 1 : 0;
