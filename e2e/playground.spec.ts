// The playground in real Chromium on the bundled demo model: a typed prompt streams its answer into
// the output pane token by token, only the base model answers while no adapter exists, and chat mode
// sends the prompt through the model's chat template (other prompt tokens). Switching adapters needs
// a trained one; test/worker/runs.test.ts covers useAdapter through the worker handler.

import { expect, test } from '@playwright/test';

test('streams a generation, and chat mode renders the prompt through the chat template', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/');
  await expect(page.getByTestId('model-panel')).toHaveAttribute('data-model-status', 'ready', { timeout: 60_000 });

  const adapter = page.getByLabel('Adapter', { exact: true });
  await expect(adapter).toHaveValue('');
  await expect(adapter.locator('option')).toHaveText(['None (base model only)']);

  await page.getByLabel('Prompt', { exact: true }).fill('Question: In the beginning\nAnswer:');
  await page.getByLabel('Max new tokens', { exact: true }).fill('16');
  await page.getByLabel('Temperature', { exact: true }).fill('0.7');
  await page.getByLabel('Top-p', { exact: true }).fill('0.9');

  // Records every text the streaming pane shows, so the test sees the answer grow.
  await page.evaluate(() => {
    const seen: string[] = [];
    (window as unknown as { streamed: string[] }).streamed = seen;
    new MutationObserver(() => {
      const text = document.querySelector('[data-testid="generation-streaming"] pre')?.textContent;
      if (text !== undefined && text !== null && seen.at(-1) !== text) seen.push(text);
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  await page.getByTestId('generate').click();
  const out = page.getByTestId('generation');
  await expect(out).toBeVisible({ timeout: 60_000 });
  const text = (await out.getAttribute('data-text')) ?? '';
  expect(text.length).toBeGreaterThan(0);
  await expect(out.locator('pre')).toContainText(text.trim());
  await expect(page.getByTestId('generation-adapter')).toHaveCount(0);
  const streamed = await page.evaluate(() => (window as unknown as { streamed: string[] }).streamed);
  console.log(`streamed ${streamed.length} partial texts, final ${JSON.stringify(text)}`);
  expect(streamed.length).toBeGreaterThan(1);
  for (let i = 1; i < streamed.length; i++) expect(streamed[i]!.startsWith(streamed[i - 1]!)).toBe(true);

  const plain = (await out.getAttribute('data-prompt-tokens'))!;
  await page.getByLabel('Chat', { exact: true }).check();
  await page.getByTestId('generate').click();
  await expect(out).not.toHaveAttribute('data-prompt-tokens', plain, { timeout: 60_000 });
  await expect(out).toBeVisible();
  const plainIds = JSON.parse(plain) as number[];
  const chatIds = JSON.parse((await out.getAttribute('data-prompt-tokens'))!) as number[];
  console.log(`prompt tokens: plain ${JSON.stringify(plainIds)}\nchat ${JSON.stringify(chatIds)}`);
  // The demo model's template wraps the prompt in ChatML turns: <|im_start|> (id 1) opens them.
  expect(chatIds[0]).toBe(1);
  expect(chatIds.length).toBeGreaterThan(plainIds.length);
  await page.getByTestId('playground').screenshot({ path: test.info().outputPath('playground.png') });
  expect(errors).toEqual([]);
});
