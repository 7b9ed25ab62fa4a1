// `tabtune data tokenize` and `data inspect` on multi-turn chats under each published chat template:
// the written rows are what training sees (exact assistant-only masks), the preview marks the
// same parts, and train / eval read the written file back to the same losses as the chat file.

import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadChatTemplate } from '../../src/data/chat-template.ts';
import { tokenizeExample } from '../../src/data/tokenize.ts';
import { memoryFiles } from '../../src/formats/byte-source.ts';
import { makeTestModel } from '../../src/model/test-model.ts';
import { loadTokenizer, type TextTokenizer } from '../../src/model/tokenizer.ts';
import { conversationsFor, TEMPLATE_CASES, templateCaseFiles, trainedRuns, type TemplateCase } from '../helpers/chat-templates.ts';
import { runCli, tempDir, writeFolder } from '../helpers/cli.ts';

let root: string;

beforeAll(async () => {
  root = await tempDir();
});

interface Setup {
  modelDir: string;
  chatFile: string;
  tokenizer: TextTokenizer;
}

/** A small random model whose vocabulary is the real tokenizer's, with that tokenizer and template. */
async function setup(c: TemplateCase): Promise<Setup> {
  const { tokenizerJson, tokenizerConfig } = templateCaseFiles(c);
  const configBytes = new TextEncoder().encode(JSON.stringify(tokenizerConfig));
  const tokFiles = memoryFiles(c.name, new Map([['tokenizer.json', tokenizerJson], ['tokenizer_config.json', configBytes]]));
  const tokenizer = await loadTokenizer(tokFiles);
  const files = makeTestModel({ architecture: 'llama', seed: 5, dtype: 'F32', hiddenSize: 16, intermediateSize: 32, numLayers: 1, numHeads: 2, numKvHeads: 1, maxPositionEmbeddings: 4096, vocabSize: Math.ceil(tokenizer.vocabSize / 64) * 64 });
  const config = JSON.parse(new TextDecoder().decode(files.get('config.json') as Uint8Array)) as Record<string, unknown>;
  // The model's special ids are the tokenizer's.
  config.eos_token_id = tokenizer.eosTokenIds[0] ?? null;
  config.bos_token_id = tokenizer.bosTokenId;
  files.set('config.json', new TextEncoder().encode(JSON.stringify(config)));
  files.set('tokenizer.json', tokenizerJson);
  files.set('tokenizer_config.json', configBytes);
  const slug = c.name.replace(/\W+/g, '-').toLowerCase();
  const modelDir = await writeFolder(join(root, slug), files);
  const chatFile = join(root, `${slug}.jsonl`);
  await writeFile(chatFile, conversationsFor(c).map((k) => JSON.stringify({ messages: k.messages.map(({ role, content, reasoning }) => ({ role, content, ...(reasoning ? { reasoning_content: reasoning } : {}) })) })).join('\n') + '\n');
  return { modelDir, chatFile, tokenizer };
}

async function readRows(path: string): Promise<Record<string, number[]>[]> {
  return (await readFile(path, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, number[]>);
}

describe.each(TEMPLATE_CASES)('tabtune data tokenize / inspect, $name template', (c) => {
  let s: Setup;
  beforeAll(async () => {
    s = await setup(c);
  }, 60_000);

  it('writes each conversation as training sees it, trained exactly on the assistant messages', async () => {
    const out = join(root, `${c.name}-tokens.jsonl`);
    const r = await runCli(['data', 'tokenize', s.chatFile, '--model', s.modelDir, '--out', out, '--seq-len', '2048']);
    expect(r.code, r.stderr).toBe(0);
    const conversations = conversationsFor(c);
    expect(r.stdout).toContain(`${conversations.length} rows from ${conversations.length} chat examples`);
    const rows = await readRows(out);
    expect(rows).toHaveLength(conversations.length);
    const template = await loadChatTemplate(memoryFiles(c.name, new Map([['tokenizer_config.json', new TextEncoder().encode(JSON.stringify(templateCaseFiles(c).tokenizerConfig))]])));
    conversations.forEach((k, n) => {
      const row = rows[n]!;
      expect(Object.keys(row).sort()).toEqual(['input_ids', 'labels']);
      const want = tokenizeExample({ kind: 'chat', messages: k.messages }, { tokenizer: s.tokenizer, template, mask: 'prompt' });
      expect(row.input_ids).toEqual(want.inputIds);
      expect(row.labels).toEqual(want.labels);
      const assistants = k.messages.flatMap((m, i) => (m.role === 'assistant' ? [i] : []));
      expect(trainedRuns(row.input_ids!, row.labels!, s.tokenizer)).toEqual(assistants.map((i) => c.trained(k.messages, i)));
    });
  });

  it('previews the same trained parts in data inspect', async () => {
    const r = await runCli(['data', 'inspect', s.chatFile, '--model', s.modelDir, '--examples', '1', '--seq-len', '2048']);
    expect(r.code, r.stderr).toBe(0);
    const preview = r.stdout.slice(r.stdout.indexOf('--- example 1'));
    const body = preview.slice(preview.indexOf('\n') + 1).replace(/\n$/, '');
    const trained = body.split(/⟦[^⟧]*⟧/).filter((t) => t !== '');
    const k = conversationsFor(c)[0]!;
    const assistants = k.messages.flatMap((m, i) => (m.role === 'assistant' ? [i] : []));
    expect(trained).toEqual(assistants.map((i) => c.trained(k.messages, i)));
  });
});

describe('tabtune data tokenize on bad input', () => {
  it('names an --out folder that is not there, and leaves an existing file alone when the data is bad', async () => {
    const s = await setup(TEMPLATE_CASES[1]!);
    const missing = await runCli(['data', 'tokenize', s.chatFile, '--model', s.modelDir, '--out', join(root, 'no-such-folder', 'rows.jsonl')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no-such-folder does not exist or cannot be written to');
    const out = join(root, 'kept.jsonl');
    await writeFile(out, 'what the user had\n');
    const bad = join(root, 'bad-chat.jsonl');
    await writeFile(bad, `${JSON.stringify({ messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }] })}\n{"messages": [{"role": "user"}]}\n`);
    const r = await runCli(['data', 'tokenize', bad, '--model', s.modelDir, '--out', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bad-chat\.jsonl line 2: .*message 1 \(user\) has no content/);
    expect(await readFile(out, 'utf8')).toBe('what the user had\n');
  }, 60_000);
});

describe('tokenized rows read back', () => {
  it('train and eval give the chat file\'s losses from the written rows, packed or not', async () => {
    const s = await setup(TEMPLATE_CASES[0]!);
    const train = async (data: string, extra: string[]) => {
      const r = await runCli(['train', '--model', s.modelDir, '--data', data, '--out', join(root, `a-${extra.join('')}-${data.length}`), '--steps', '3', '--lr', '1e-2', '--batch-size', '2', '--seq-len', '512', '--seed', '3', '--json', ...extra]);
      expect(r.code, r.stderr).toBe(0);
      return r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>).filter((l) => 'step' in l).map((l) => l.loss);
    };
    for (const packing of [[], ['--packing']]) {
      const out = join(root, `rows${packing.length}.jsonl`);
      const t = await runCli(['data', 'tokenize', s.chatFile, '--model', s.modelDir, '--out', out, '--seq-len', '512', ...packing]);
      expect(t.code, t.stderr).toBe(0);
      const rows = await readRows(out);
      if (packing.length) {
        expect(rows.length).toBeLessThan(conversationsFor(TEMPLATE_CASES[0]!).length);
        expect(rows[0]!.position_ids!.filter((p) => p === 0).length).toBeGreaterThan(1);
      }
      const fromChat = await train(s.chatFile, packing);
      const fromRows = await train(out, []);
      expect(fromChat).toHaveLength(3);
      expect(fromRows).toEqual(fromChat);
      const evalOf = async (data: string, extra: string[]) =>
        (JSON.parse((await runCli(['eval', '--model', s.modelDir, '--data', data, '--seq-len', '512', '--json', ...extra])).stdout.trim().split('\n').pop()!) as { loss: number }).loss;
      expect(await evalOf(out, [])).toBe(await evalOf(s.chatFile, packing));
    }
  }, 240_000);
});
