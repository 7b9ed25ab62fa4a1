// End-to-end tests: the real app (Vite dev server) in real Chromium with real WebGPU.
// On a machine without a GPU, Chromium exposes SwiftShader's Vulkan as a WebGPU adapter with
// --enable-unsafe-webgpu (see design/TESTING.md). Which Chromium (scripts/webgpu-env.mjs):
// CHROMIUM_PATH, else /usr/bin/chromium, else Playwright's own when `npx playwright install` has put
// it there, else the headless Chromium bundled with the @sparticuz/chromium devDependency
// (extracted once into node_modules/.cache/tabtune-chromium). TABTUNE_WEBGPU=bundled takes the
// bundled one whatever the system has.

import { defineConfig } from '@playwright/test';
import { resolveChromium } from './scripts/webgpu-env.mjs';

const PORT = 4173;
const BASE_URL = `http://127.0.0.1:${PORT}`;
const chromium = resolveChromium();
// No Chromium at all: Playwright's own is tried, and its error says how to install it.
if (!chromium.ok) console.error(`Chromium: ${chromium.error}`);
/** The Chromium the tests launch (undefined: Playwright's own). */
export const executablePath = chromium.ok ? chromium.executablePath : undefined;

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
