// js-yaml (a pinned devDependency without types of its own, so typed here), to read the emitter's
// output back with.

import { createRequire } from 'node:module';

const jsYaml = createRequire(import.meta.url)('js-yaml') as { load(text: string): unknown };

export function loadYaml(text: string): unknown {
  return jsYaml.load(text);
}
