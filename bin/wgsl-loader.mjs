// Node module hook: `import src from './x.wgsl?raw'` yields the file's text, as Vite does in the
// browser, so the CLI and the app share one way of loading shaders.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export async function load(url, context, nextLoad) {
  const path = url.split('?')[0];
  if (path.endsWith('.wgsl')) {
    const text = readFileSync(fileURLToPath(path), 'utf8');
    return { format: 'module', source: `export default ${JSON.stringify(text)};`, shortCircuit: true };
  }
  return nextLoad(url, context);
}
