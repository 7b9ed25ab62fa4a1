// Worker entry: exposes the request handler to the UI through comlink. All logic is in handler.ts.

import { expose } from 'comlink';
import type { EngineApi } from '../protocol/messages.ts';
import { createHandler } from './handler.ts';

const handler = createHandler();
const api: EngineApi = { handle: (request, onProgress) => handler.handle(request, onProgress) };
expose(api);
