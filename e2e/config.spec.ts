// The training configuration form in real Chromium: once the demo model is loaded it offers the
// model's own linear modules, the trainable-parameter count follows the rank, the presets fill the
// fields, and settings that cannot fit the GPU turn the memory estimate red with what to change.

import { expect, test } from '@playwright/test';

const MODULES = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

test('configures a run: modules, live trainable count, presets, and a memory estimate that turns red', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/');
  await expect(page.getByTestId('model-panel')).toHaveAttribute('data-model-status', 'ready', { timeout: 60_000 });
  const form = page.getByTestId('train-config');

  for (const m of MODULES) await expect(form.getByRole('checkbox', { name: m, exact: true })).toBeVisible();
  for (const m of ['q_proj', 'k_proj', 'v_proj', 'o_proj']) await expect(form.getByRole('checkbox', { name: m, exact: true })).toBeChecked();

  // The demo model (H 128, I 320, 4 query and 2 key/value heads of 32, 3 layers) on all seven modules:
  // r * 3 * (256 + 192 + 192 + 256 + 448 + 448 + 448) = r * 6720.
  const count = page.getByTestId('trainable-count');
  await expect(count).toHaveAttribute('data-count', String(8 * 6720));
  await page.getByLabel('Rank', { exact: true }).fill('16');
  await expect(count).toHaveAttribute('data-count', String(16 * 6720));
  await expect(count).toContainText('107,520');
  await form.getByRole('checkbox', { name: 'down_proj', exact: true }).uncheck();
  await expect(count).toHaveAttribute('data-count', String(16 * 3 * (6720 / 3 - 448)));
  await form.getByRole('checkbox', { name: 'down_proj', exact: true }).check();

  // The scaling is spelled out next to the fields, with and without rsLoRA.
  const scaling = page.getByTestId('lora-scaling');
  await expect(scaling).toContainText('alpha / r = 16 / 16 = 1');
  await page.getByLabel('rsLoRA', { exact: true }).check();
  await expect(scaling).toContainText('alpha / √r = 16 / √16 = 4');
  await page.getByLabel('rsLoRA', { exact: true }).uncheck();

  // The cost panel compares LoRA with full fine-tuning for the same settings.
  const cost = page.getByRole('region', { name: 'Cost' });
  await expect(cost).toContainText('Full fine-tuning');
  await expect(cost.getByTestId('cost-trainableParameters').locator('td').first()).toHaveAttribute('data-value', String(16 * 6720));
  const params = Number(await cost.getByTestId('cost-trainableParameters').locator('td').nth(1).getAttribute('data-value'));
  expect(params).toBe(Number((await page.getByTestId('model-parameters').innerText()).replace(/,/g, '')));

  // Presets fill the fields; "Quality" trains by epochs with accumulation and warmup.
  await page.getByRole('button', { name: 'Quality', exact: true }).click();
  await expect(page.getByRole('button', { name: 'Quality', exact: true })).toHaveAttribute('aria-pressed', 'true');
  await expect(page.getByLabel('Rank', { exact: true })).toHaveValue('16');
  await expect(page.getByLabel('Alpha', { exact: true })).toHaveValue('32');
  await expect(page.getByLabel('Learning rate', { exact: true })).toHaveValue('0.0005');
  await expect(page.getByLabel('Schedule', { exact: true })).toHaveValue('cosine');
  await expect(page.getByLabel('Warmup', { exact: true })).toHaveValue('5');
  await expect(page.getByLabel('Steps', { exact: true })).toHaveValue('0');
  await expect(page.getByLabel('Epochs', { exact: true })).toHaveValue('3');
  await expect(page.getByLabel('Gradient accumulation', { exact: true })).toHaveValue('2');
  await expect(page.getByLabel('Sequence length', { exact: true })).toHaveValue('512');
  await page.getByRole('button', { name: 'Quick test', exact: true }).click();
  await expect(page.getByLabel('Rank', { exact: true })).toHaveValue('8');
  await expect(page.getByLabel('Steps', { exact: true })).toHaveValue('40');
  // As e2e/train.spec.ts sets it: "Steps" must name one field only.
  await page.getByLabel('Steps').fill('12');
  await expect(page.getByLabel('Steps', { exact: true })).toHaveValue('12');

  // Warnings where LoRA users commonly go wrong.
  await page.getByLabel('Learning rate', { exact: true }).fill('0.5');
  await expect(page.getByRole('note', { name: 'Configuration warnings' })).toContainText('unusually high for LoRA');
  await page.getByLabel('Learning rate', { exact: true }).fill('0.003');
  await expect(page.getByRole('note', { name: 'Configuration warnings' })).toHaveCount(0);

  // The demo run fits; a huge batch of long rows does not, and the estimate says what to lower.
  const estimate = page.getByTestId('memory-estimate');
  await expect(estimate).toHaveAttribute('data-fits', 'true');
  await page.getByLabel('Sequence length', { exact: true }).fill('100000');
  await page.getByLabel('Batch size', { exact: true }).fill('4096');
  await expect(estimate).toHaveAttribute('data-fits', 'false');
  await expect(estimate).toHaveClass(/estimate--bad/);
  await expect(page.getByTestId('memory-advice')).toContainText('Lower the batch size to');
  console.log(`memory estimate at batch 4096: ${(await estimate.locator('p').first().innerText()).trim()}`);
  await page.screenshot({ path: test.info().outputPath('config-does-not-fit.png'), fullPage: true });
  await page.getByLabel('Batch size', { exact: true }).fill('8');
  await page.getByLabel('Sequence length', { exact: true }).fill('128');
  await expect(estimate).toHaveAttribute('data-fits', 'true');
  expect(errors).toEqual([]);
});
