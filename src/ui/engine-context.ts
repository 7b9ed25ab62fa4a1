// The engine worker client, for components that send requests (model loading, training, ...).
// null when WebGPU is missing in the main thread and no worker was started.

import { createContext, useContext } from 'react';
import type { EngineClient } from '../worker/client.ts';

export const EngineContext = createContext<EngineClient | null>(null);

export function useEngine(): EngineClient | null {
  return useContext(EngineContext);
}
