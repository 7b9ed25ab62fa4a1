// The worker's inspectDataset request, through the real handler with the bundled demo model (Dawn in
// Node): bad rows come back with their line numbers, the statistics and preview are what the data
// code makes of the file with the model's own tokenizer, and training sees the same rows.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadChatTemplate } from '../../src/data/chat-template.ts';
import { readDatasetFile } from '../../src/data/node-read.ts';
import { prepareDataset } from '../../src/data/prepare.ts';
import { droppedFiles } from '../../src/formats/browser-files.ts';
import { createNodeGpu } from '../../src/gpu/node-gpu.ts';
import { parseModelConfig } from '../../src/model/config.ts';
import { loadTokenizer } from '../../src/model/tokenizer.ts';
import type { FinalReply, InspectDatasetResult, Request, TrainResult, TrainSettings } from '../../src/protocol/messages.ts';
import { QUICK_PRESET } from '../../src/state/presets.ts';
import { createHandler, type Handler } from '../../src/worker/handler.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const MODEL_DIR = join(ROOT, 'public', 'models', 'kjv-llama');
const FIXTURE = join(ROOT, 'test', 'fixtures', 'data', 'malformed.jsonl');
const file = (path: string) => new File([new Uint8Array(readFileSync(path))], path.slice(path.lastIndexOf('/') + 1));
const modelFiles = () => readdirSync(MODEL_DIR).map((f) => file(join(MODEL_DIR, f)));

/** The fixture's valid rows (1-based lines) and its bad ones; line 5 is blank. */
const GOOD_LINES = [1, 2, 4, 7, 9, 10];
const BAD_LINES = [3, 6, 8];

const SETTINGS: TrainSettings = { ...QUICK_PRESET, format: 'auto', mask: 'prompt', seqLen: 128, packing: false, valSplit: 0.2, seed: 0 };

/** A request without its id (the helper numbers them). */
type Body = { [K in Request['kind']]: Omit<Extract<Request, { kind: K }>, 'id'> }[Request['kind']];

function value<T>(reply: FinalReply): T {
  if (reply.type === 'error') throw new Error(`${reply.name}: ${reply.message}`);
  return reply.value as T;
}

describe('inspectDataset through the worker handler', () => {
  let h: Handler;
  let nextId = 1;
  const send = (body: Body) => h.handle({ ...body, id: nextId++ } as Request);
  const inspect = (settings: Partial<TrainSettings> = {}) =>
    send({ kind: 'inspectDataset', dataset: { kind: 'file', file: file(FIXTURE) }, settings: { ...SETTINGS, ...settings } });

  beforeAll(async () => {
    h = createHandler({ openGpu: (o) => createNodeGpu(o) });
    const early = await inspect();
    // The tokenizer comes with the model: without one the request says what to do first.
    expect(early).toMatchObject({ type: 'error', name: 'NoModelError' });
    value(await send({ kind: 'loadModel', source: { kind: 'files', files: modelFiles() } }));
  });
  afterAll(async () => {
    await h.dispose();
  });

  it('reports bad rows by line number, and statistics equal to the data code run directly', async () => {
    const r = value<InspectDatasetResult>(await inspect());
    expect(r.name).toBe('malformed.jsonl');
    expect(r.format).toBe('completion');
    expect(r.examples).toBe(GOOD_LINES.length);
    expect(r.skipped.map((b) => b.line)).toEqual(BAD_LINES);
    expect(r.skippedTotal).toBe(BAD_LINES.length);
    expect(r.skipped[0]!.message).toMatch(/not valid JSON/);
    expect(r.skipped[1]!.message).toMatch(/needs prompt and completion/);
    expect(r.warnings.some((w) => w.includes('3 bad rows'))).toBe(true);
    // round(0.2 * 6) = 1 row held out.
    expect([r.trainRows, r.valRows]).toEqual([5, 1]);

    // The same file through readDataset + prepareDataset with the model's tokenizer, outside the worker.
    const files = droppedFiles(modelFiles(), 'kjv-llama');
    const cfg = parseModelConfig(readFileSync(join(MODEL_DIR, 'config.json'), 'utf8'));
    const tokenizer = await loadTokenizer(files, cfg);
    const read = await readDatasetFile(FIXTURE, { onBadRow: 'skip' });
    expect(read.examples.map((e) => e.source.line)).toEqual(GOOD_LINES);
    const direct = prepareDataset(read.examples, { tokenizer, template: await loadChatTemplate(files), mask: 'prompt', seqLen: 128, packing: false, vocabSize: cfg.vocabSize });
    expect(r.stats).toEqual(direct.stats);
    expect(r.stats.examples).toBe(GOOD_LINES.length);
    expect(r.stats.trainedTokens).toBeGreaterThan(0);
    expect(r.stats.maskedTokens).toBeGreaterThan(r.stats.examples);
    expect(r.stats.tokens.min).toBeLessThanOrEqual(r.stats.tokens.median);
    expect(r.stats.tokens.median).toBeLessThanOrEqual(r.stats.tokens.max);
    expect(r.stats.overMaxLength).toBe(0);
  });

  it('previews the first rows with the prompt masked and the completion trained', async () => {
    const r = value<InspectDatasetResult>(await inspect());
    expect(r.preview).toHaveLength(5);
    expect(r.preview.map((p) => p.source)).toEqual(GOOD_LINES.slice(0, 5).map((l) => `malformed.jsonl line ${l}`));
    const first = r.preview[0]!;
    const masked = first.segments.filter((s) => !s.trained).map((s) => s.text).join('');
    const trained = first.segments.filter((s) => s.trained).map((s) => s.text).join('');
    expect(first.segments[0]!.trained).toBe(false);
    expect(masked).toContain('Translate to French: cat');
    expect(trained).toContain('chat');
    expect(trained).not.toContain('Translate');
  });

  it('follows the settings: no masking, packing, and a max length that truncates', async () => {
    const none = value<InspectDatasetResult>(await inspect({ mask: 'none' }));
    // Only each row's first token is outside the loss: nothing predicts it.
    expect(none.stats.maskedTokens).toBe(none.stats.examples);
    expect(none.preview[0]!.segments.every((s, i) => s.trained === (i > 0))).toBe(true);

    const packed = value<InspectDatasetResult>(await inspect({ packing: true, valSplit: 0 }));
    expect(packed.trainRows).toBeLessThan(GOOD_LINES.length);
    expect(packed.valRows).toBe(0);
    expect(packed.preview[0]!.source).toMatch(/lines 1-\d+ \(\d+ examples packed\)/);

    const short = value<InspectDatasetResult>(await inspect({ mask: 'none', seqLen: 4 }));
    expect(short.stats.overMaxLength).toBe(GOOD_LINES.length);
    expect(short.stats.tokensLost).toBeGreaterThan(0);
    expect(short.preview.every((p) => p.tokens === 4)).toBe(true);
    expect(short.warnings.some((w) => w.includes('truncated'))).toBe(true);

    // Training stops on a row with nothing left to learn; the inspection says so, naming the line.
    const cut = await inspect({ mask: 'prompt', seqLen: 4 });
    expect(cut).toMatchObject({ type: 'error', name: 'DatasetError' });
    expect(cut.type === 'error' && cut.message).toMatch(/^malformed\.jsonl line 1: every trained token lies past the first 4 tokens/);
  });

  it('counts the same training and validation rows as training does', async () => {
    const r = value<InspectDatasetResult>(await inspect());
    const t = value<TrainResult>(await send({ kind: 'train', dataset: { kind: 'file', file: file(FIXTURE) }, settings: { ...SETTINGS, steps: 1, batchSize: 2, evalEvery: 1 } }));
    expect([t.trainRows, t.valRows]).toEqual([r.trainRows, r.valRows]);
  });
});
