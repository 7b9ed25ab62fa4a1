import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';

// One config serves the app (vite dev/build) and the unit + kernel tests (vitest).
export default defineConfig({
  plugins: [react()],
  worker: { format: 'es' },
  // Scan the worker too: otherwise Vite finds its dependencies only when it first runs, re-optimizes,
  // and reloads the page in the middle of loading the model.
  optimizeDeps: { entries: ['index.html', 'src/worker/engine.worker.ts'] },
  server: { host: '127.0.0.1', port: 5173, strictPort: false },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/announce-adapter.ts'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: true,
    maxWorkers: 2,
  },
});
