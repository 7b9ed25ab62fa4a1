import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';

// One config serves the app (vite dev/build) and the unit + kernel tests (vitest).

const SLOW_ADAPTER = process.env.TABTUNE_WEBGPU_SOURCE === 'bundled';
export default defineConfig({
  plugins: [react()],
  worker: { format: 'es' },
  // Scan the worker too: otherwise Vite finds its dependencies only when it first runs, re-optimizes,
  // and reloads the page in the middle of loading the model.
  // TensorFlow.js is imported only on demand (the bench's peer, src/bench/tfjs-browser.ts): named
  // here, it is in the optimized deps from the start even when the deps cache predates that import,
  // instead of being found when a user first runs the bench, which reloads the page.
  optimizeDeps: {
    entries: ['index.html', 'src/worker/engine.worker.ts'],
    include: ['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-webgpu', '@tensorflow/tfjs-core/dist/register_all_gradients.js'],
  },
  server: { host: '127.0.0.1', port: 5173, strictPort: false },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/announce-adapter.ts'],
    pool: 'forks',
    // The software SwiftShader bundled with @sparticuz/chromium (a bare machine, see
    // scripts/webgpu-env.mjs) computes several times slower than lavapipe: the same tests, more time.
    testTimeout: SLOW_ADAPTER ? 600_000 : 120_000,
    hookTimeout: SLOW_ADAPTER ? 600_000 : 120_000,
    fileParallelism: true,
    maxWorkers: 2,
  },
});
