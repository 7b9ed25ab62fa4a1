// Lets Node run the TypeScript sources directly (no build step): tsx for .ts, our hook for .wgsl.
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
register('./wgsl-loader.mjs', import.meta.url);
