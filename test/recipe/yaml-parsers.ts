// YAML parsers to read the emitter's output back with: js-yaml (in node_modules through eslint; no
// types of its own, so typed here) and, where the machine has it, PyYAML's safe_load, which is what
// axolotl reads its config with (src/axolotl/cli/config.py).

import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const jsYaml = createRequire(import.meta.url)('js-yaml') as { load(text: string): unknown };

export function loadYaml(text: string): unknown {
  return jsYaml.load(text);
}

/** Each scalar as [Python type name, value], so an int read where a float was meant shows. */
const PY = [
  'import json, sys, yaml',
  'def typed(x):',
  '    if isinstance(x, dict): return {k: typed(v) for k, v in x.items()}',
  '    if isinstance(x, list): return [typed(v) for v in x]',
  '    return [type(x).__name__, x]',
  'print(json.dumps(typed(yaml.safe_load(sys.stdin.read()))))',
].join('\n');

/** True when python3 with PyYAML is on this machine. */
export const hasPyYaml = spawnSync('python3', ['-c', 'import yaml'], { stdio: 'ignore' }).status === 0;

/** The document as PyYAML's safe_load reads it, every scalar as [type name, value]. */
export function loadPyYamlTyped(text: string): unknown {
  const r = spawnSync('python3', ['-c', PY], { input: text, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`PyYAML: ${r.stderr}`);
  return JSON.parse(r.stdout) as unknown;
}
