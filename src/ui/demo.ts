// The bundled demo model, served by the app itself (public/models/...), so the app works offline.

import type { ModelSource } from '../protocol/messages.ts';

export const DEMO_MODEL_PATH = 'models/kjv-llama/';

/** Absolute, because the worker resolves relative URLs against its own script. */
export function demoModelSource(): ModelSource {
  return { kind: 'url', baseUrl: new URL(DEMO_MODEL_PATH, document.baseURI).href, name: 'kjv-llama (bundled)' };
}
