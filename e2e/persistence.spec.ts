// Nothing is lost on reload: a run trains in the real worker on WebGPU (SwiftShader here), is
// paused, the page is reloaded, and the run list (read from the browser's own IndexedDB) offers
// it at its checkpoint; Resume continues from the next step to the end, the saved curve has every
// step once, and the finished run's adapter is in "Saved adapters". The main thread stays free
// while training: a PerformanceObserver counts long tasks (over 50 ms) during the run.

import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { expect, type Page, test } from '@playwright/test';

test.setTimeout(600_000);

const STEPS = 10;

/**
 * On a machine without a GPU, SwiftShader runs the "GPU" on every CPU core, in Chromium's GPU
 * process, and the scheduler then preempts the page's main thread for tens of milliseconds at a
 * time, whatever the page does. A real GPU takes no CPU from the page, so for the long-task check
 * the software GPU's threads run at a lower priority (nice 10): the page's own work is measured.
 */
function yieldCpuFromSoftwareGpu(): number {
  let threads = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let args = '';
    try {
      args = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue; // the process ended meanwhile
    }
    if (!args.includes('--type=gpu-process')) continue;
    for (const tid of readdirSync(`/proc/${pid}/task`)) if (spawnSync('renice', ['-n', '10', '-p', tid]).status === 0) threads++;
  }
  return threads;
}

async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: test.info().outputPath(`${name}.png`), fullPage: true });
}

interface SavedRun {
  status: string;
  step: number;
  metrics: { step: number; loss?: number; valLoss?: number }[];
  adapterId?: string;
}

/** The runs as the page's IndexedDB holds them (read without the app's code). */
function savedRuns(page: Page): Promise<SavedRun[]> {
  return page.evaluate(
    () =>
      new Promise<SavedRun[]>((resolve, reject) => {
        const open = indexedDB.open('tabtune');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const all = open.result.transaction('runs').objectStore('runs').getAll();
          all.onsuccess = () => {
            resolve(all.result as SavedRun[]);
            open.result.close();
          };
          all.onerror = () => reject(all.error);
        };
      }),
  );
}

test('pause, reload, resume: the run continues from its checkpoint and its adapter is saved', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/');
  await expect(page.getByTestId('model-panel')).toHaveAttribute('data-model-status', 'ready', { timeout: 60_000 });
  await page.getByLabel('Steps').fill(String(STEPS));
  await page.getByLabel('Batch size', { exact: true }).fill('4');
  await screenshot(page, '1-configured');

  await page.getByRole('button', { name: 'Start training' }).click();
  const status = page.getByRole('status').filter({ hasText: /step \d+/ });
  // While steps run, the main thread only takes progress messages and redraws the status and chart.
  await expect(status).toContainText(/step 1\/10 · loss \d\.\d{4}/, { timeout: 300_000 });
  console.log(`software GPU threads at nice 10: ${yieldCpuFromSoftwareGpu()}`);
  await page.evaluate(() => {
    const w = window as unknown as { longTasks: number[] };
    w.longTasks = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) w.longTasks.push(e.duration);
    }).observe({ type: 'longtask' });
  });
  await expect(status).toContainText(/step 4\/10 · loss \d\.\d{4}/, { timeout: 300_000 });
  const longTasks = await page.evaluate(() => (window as unknown as { longTasks: number[] }).longTasks);
  console.log(`main-thread long tasks during steps 1-4 (SwiftShader): ${longTasks.length} ${JSON.stringify(longTasks.map(Math.round))}`);
  expect(longTasks).toEqual([]);
  await page.getByRole('button', { name: 'Pause' }).click();
  await expect(page.getByTestId('train-panel')).toHaveAttribute('data-train-status', 'paused', { timeout: 300_000 });
  await screenshot(page, '2-paused');

  const [paused] = await savedRuns(page);
  expect(paused!.status).toBe('paused');
  const pausedAt = paused!.step;
  expect(pausedAt).toBeGreaterThanOrEqual(4);
  expect(pausedAt).toBeLessThan(STEPS);

  // A reload: the worker, the GPU device and the page state are all new.
  await page.reload();
  await expect(page.getByTestId('model-panel')).toHaveAttribute('data-model-status', 'ready', { timeout: 60_000 });
  const run = page.getByRole('list', { name: 'Runs' }).getByRole('listitem');
  await expect(run).toHaveCount(1);
  await expect(run).toHaveAttribute('data-status', 'paused');
  await expect(run).toContainText(`step ${pausedAt}/${STEPS}`);
  await screenshot(page, '3-after-reload');

  await run.getByRole('button', { name: /^Resume/ }).click();
  await expect(page.getByTestId('loss-chart')).toBeVisible();
  await expect(page.getByTestId('train-panel')).toHaveAttribute('data-train-status', 'done', { timeout: 400_000 });
  await expect(page.getByRole('status')).toContainText(`step ${STEPS}/${STEPS}`);
  await expect(page.getByTestId('train-sample')).toBeVisible();
  await screenshot(page, '4-resumed-and-finished');

  const [done] = await savedRuns(page);
  expect(done!.status).toBe('finished');
  const lossSteps = done!.metrics.filter((m) => m.loss !== undefined).map((m) => m.step);
  expect(lossSteps).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
  expect(done!.adapterId).toBeTruthy();

  const adapters = page.getByRole('list', { name: 'Saved adapters' }).getByRole('listitem');
  await expect(adapters).toHaveCount(1);
  await expect(adapters).toHaveAttribute('data-adapter-id', done!.adapterId!);
  await expect(adapters).toContainText('r=8');

  // A closed and reopened tab finds the finished run and its adapter, ready to use.
  await page.reload();
  await expect(page.getByTestId('model-panel')).toHaveAttribute('data-model-status', 'ready', { timeout: 60_000 });
  await expect(page.getByRole('list', { name: 'Runs' }).getByRole('listitem')).toHaveAttribute('data-status', 'finished');
  const saved = page.getByRole('list', { name: 'Saved adapters' }).getByRole('listitem');
  await expect(saved).toHaveAttribute('data-adapter-id', done!.adapterId!);
  await saved.getByRole('button', { name: /^Use / }).click();
  await expect(saved).toHaveAttribute('aria-current', 'true');
  await screenshot(page, '5-library-after-reload');
  expect(errors).toEqual([]);
});
