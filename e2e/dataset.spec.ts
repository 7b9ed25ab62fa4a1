// The dataset panel in real Chromium: a dropped or picked file is inspected by the worker with the
// demo model's tokenizer; a malformed file shows its bad rows by line number, a valid one its
// statistics and a preview whose masked (untrained) text is greyed.

import { expect, test } from '@playwright/test';

test.setTimeout(300_000);

const BROKEN = [
  '{"prompt": "Question: Who made the heaven?\\nAnswer:", "completion": " Verily, God. Amen."}',
  '{"prompt": "Question: Who made the earth?\\nAnswer:", "completion": " Verily, God. Amen."}',
  '{"prompt": "Question: Who made the sea?\\nAnswer:", "completion": " Verily',
  '{"prompt": "Question: Who made the stars?\\nAnswer:", "completion": " Verily, God. Amen."}',
  '{"text": "a row of another shape"}',
  '{"prompt": "Question: Who made the light?\\nAnswer:", "completion": " Verily, God. Amen."}',
].join('\n');

const VALID = [
  '{"prompt": "Question: In the beginning\\nAnswer:", "completion": " Verily, God created the heaven and the earth. Amen."}',
  '{"prompt": "Question: The LORD is my shepherd;\\nAnswer:", "completion": " Verily, I shall not want. Amen."}',
  '{"prompt": "Question: Blessed are the meek:\\nAnswer:", "completion": " Verily, for they shall inherit the earth. Amen."}',
  '{"prompt": "Question: Let there be light:\\nAnswer:", "completion": " Verily, and there was light. Amen."}',
].join('\n');

test('a malformed dataset shows its line numbers; a valid one its statistics and a greyed preview', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/');
  await expect(page.getByTestId('model-panel')).toHaveAttribute('data-model-status', 'ready', { timeout: 60_000 });

  const zone = page.getByRole('region', { name: 'Drop a dataset' });
  await expect(zone).toBeVisible();
  await expect(zone.getByLabel('Sample dataset')).toHaveValue('verily.jsonl');
  const report = page.getByTestId('dataset-report');
  // The default sample is inspected as soon as the model (and so its tokenizer) is there.
  await expect(report).toHaveAttribute('data-name', 'verily.jsonl');

  await zone.getByLabel('Dataset file').setInputFiles({ name: 'broken.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from(BROKEN) });
  await expect(report).toHaveAttribute('data-name', 'broken.jsonl');
  const bad = page.getByRole('region', { name: 'Bad rows' });
  await expect(bad).toContainText('line 3: is not valid JSON');
  await expect(bad).toContainText('line 5: has keys text');
  await expect(bad.getByRole('listitem')).toHaveCount(2);
  await expect(page.getByTestId('dataset-examples')).toHaveText('4');
  console.log(`bad rows: ${(await bad.innerText()).replace(/\s*\n\s*/g, ' | ')}`);
  await page.screenshot({ path: test.info().outputPath('dataset-bad-rows.png'), fullPage: true });

  // A file dropped on the zone: highlighted while dragged over, inspected once dropped.
  const transfer = await page.evaluateHandle((text) => {
    const dt = new DataTransfer();
    dt.items.add(new File([text], 'style.jsonl', { type: 'application/jsonl' }));
    return dt;
  }, VALID);
  await zone.dispatchEvent('dragenter', { dataTransfer: transfer });
  await expect(zone).toHaveAttribute('data-dragging', 'true');
  await expect(zone).toHaveClass(/drop-zone--over/);
  await zone.dispatchEvent('drop', { dataTransfer: transfer });
  await expect(zone).toHaveAttribute('data-dragging', 'false');
  await expect(report).toHaveAttribute('data-name', 'style.jsonl');
  await expect(page.getByRole('region', { name: 'Bad rows' })).toHaveCount(0);
  await expect(zone.getByLabel('Sample dataset')).toHaveValue(':file');

  await expect(page.getByTestId('dataset-format')).toHaveAttribute('data-format', 'completion');
  await expect(page.getByTestId('dataset-examples')).toHaveText('4');
  // 10% of 4 rows rounds to 0, but one row is always held out when there are two or more.
  await expect(page.getByTestId('dataset-rows')).toHaveAttribute('data-train-rows', '3');
  await expect(page.getByTestId('dataset-rows')).toHaveAttribute('data-val-rows', '1');
  await expect(page.getByTestId('dataset-lengths')).toHaveText(/^\d+ · \d+(\.\d)? · \d+$/);
  const tokens = page.getByTestId('dataset-tokens');
  expect(Number(await tokens.getAttribute('data-trained'))).toBeGreaterThan(0);
  expect(Number(await tokens.getAttribute('data-masked'))).toBeGreaterThan(0);
  await expect(page.getByTestId('dataset-over-max')).toHaveText('none');

  const rows = page.getByTestId('preview-row');
  await expect(rows).toHaveCount(4);
  const masked = rows.first().locator('[data-trained="false"]');
  const trained = rows.first().locator('[data-trained="true"]');
  await expect(masked.first()).toContainText('Question: In the beginning');
  await expect(masked.first()).toHaveClass(/seg--masked/);
  await expect(trained.first()).toContainText('Verily, God created the heaven');
  // Greyed: the masked text is drawn fainter than the trained text next to it.
  const style = (el: Element) => {
    const s = getComputedStyle(el);
    return { color: s.color, opacity: Number(s.opacity) };
  };
  const m = await masked.first().evaluate(style);
  const t = await trained.first().evaluate(style);
  expect(m.opacity).toBeLessThan(t.opacity);
  expect(m.color).not.toBe(t.color);

  // The settings change what training gets, and the report follows them.
  await page.getByLabel('Masking').selectOption('none');
  // Every token is trained but each row's first, which nothing predicts.
  await expect(tokens).toHaveAttribute('data-masked', '4');
  await expect(rows.first().locator('[data-trained="false"]')).toHaveCount(1);
  await page.getByLabel('Max length (tokens)').fill('8');
  await expect(page.getByTestId('dataset-over-max')).toContainText('4 truncated');
  await expect(rows.first()).toHaveText(/^.{1,80}$/);
  await page.getByLabel('Max length (tokens)').fill('128');
  await page.getByLabel('Masking').selectOption('prompt');
  await expect(page.getByTestId('dataset-over-max')).toHaveText('none');
  await expect(rows.first().locator('[data-trained="false"]').first()).toContainText('Question: In the beginning');
  await page.screenshot({ path: test.info().outputPath('dataset-preview.png'), fullPage: true });
  await page.getByTestId('dataset-panel').screenshot({ path: test.info().outputPath('dataset-panel.png') });
  expect(errors).toEqual([]);
});
