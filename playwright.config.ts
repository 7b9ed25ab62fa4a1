// End-to-end tests: the real app (Vite dev server) in real Chromium with real WebGPU.
// On a machine without a GPU, Debian's Chromium exposes SwiftShader's Vulkan as a WebGPU adapter
// with --enable-unsafe-webgpu (see design/TESTING.md). Without /usr/bin/chromium (or CHROMIUM_PATH)
// Playwright's own Chromium is used, for machines where `npx playwright install` works.

import { existsSync } from 'node:fs';
import { defineConfig } from '@playwright/test';

const PORT = 4173;
const BASE_URL = `http://127.0.0.1:${PORT}`;
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** The system Chromium when there is one, else Playwright's own (undefined). */
export const executablePath = existsSync(chromiumPath) ? chromiumPath : undefined;

export const CHROMIUM_ARGS = [
  // WebGPU on Linux is behind this flag; with no GPU it gives SwiftShader's adapter.
  '--enable-unsafe-webgpu',
  // The sandbox needs user namespaces, which containers and root often lack.
  '--no-sandbox',
  // Keep the browser off the network: the tests only talk to the local dev server.
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export default defineConfig({
  testDir: 'e2e',
  outputDir: 'test-results/e2e-artifacts',
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: !!process.env.CI,
  timeout: 120_000,
  expect: { timeout: 60_000 },
  reporter: [['list'], ['json', { outputFile: 'test-results/e2e.json' }]],
  use: {
    baseURL: BASE_URL,
    headless: true,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: {
      ...(executablePath ? { executablePath } : {}),
      args: CHROMIUM_ARGS,
    },
  },
  projects: [{ name: 'chromium', use: { browserName: 'chromium', viewport: { width: 1280, height: 800 } } }],
  webServer: {
    // The production build, as users get it: no dev-mode React, and no reloads while files change.
    command: `npx vite build --outDir test-results/app-build --emptyOutDir --logLevel warn && npx vite preview --outDir test-results/app-build --host 127.0.0.1 --port ${PORT} --strictPort`,
    url: BASE_URL,
    reuseExistingServer: !process.env.CI,
    timeout: 180_000,
    stdout: 'ignore',
    stderr: 'pipe',
  },
});
