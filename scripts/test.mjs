#!/usr/bin/env node
// `npm test`: typecheck, lint, unit + kernel tests (vitest), end-to-end tests (Playwright), in that
// order. Every stage runs even when an earlier one failed, and its output streams through as it
// comes. At the end: one line per stage, then exactly one line `tests: N passed, M failed`, where N
// and M are summed from the vitest and Playwright JSON reports; a failed typecheck or lint counts as
// one failure each, and so does a test stage that exits non-zero without a failing test to show for
// it (a crash, an unhandled error, a missing report) or where no test ran. Exits non-zero if anything
// failed or no test ran.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const resultsDir = join(root, 'test-results');
const UNIT_JSON = join(resultsDir, 'unit.json');
const E2E_JSON = join(resultsDir, 'e2e.json'); // written by playwright.config.ts's json reporter

const isWindows = process.platform === 'win32';
const bin = (name) => join(root, 'node_modules', '.bin', isWindows ? `${name}.cmd` : name);

/** Runs a command with inherited stdio; resolves to its exit code (signals and spawn errors give 1+). */
function run(cmd, args) {
  return new Promise((resolve) => {
    console.log(`\n\u25b6 ${[cmd.replace(`${root}/`, ''), ...args].join(' ')}\n`);
    const child = spawn(cmd, args, { cwd: root, stdio: 'inherit', shell: isWindows, env: process.env });
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

const stages = [
  { name: 'typecheck', cmd: bin('tsc'), args: ['--noEmit', '-p', 'tsconfig.json'] },
  { name: 'lint', cmd: bin('eslint'), args: ['.'] },
  {
    name: 'unit (vitest)',
    cmd: bin('vitest'),
    args: ['run', '--reporter=default', '--reporter=json', `--outputFile=${join('test-results', 'unit.json')}`],
    report: UNIT_JSON,
    count: countVitest,
  },
  { name: 'e2e (playwright)', cmd: bin('playwright'), args: ['test'], report: E2E_JSON, count: countPlaywright },
];

mkdirSync(resultsDir, { recursive: true });
let passed = 0;
let failed = 0;
const summary = [];

for (const stage of stages) {
  // A report left over from an earlier run must not be counted for this one.
  if (stage.report) rmSync(stage.report, { force: true });
  const started = Date.now();
  const code = await run(stage.cmd, stage.args);
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
