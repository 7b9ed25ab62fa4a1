// tabtune tokenize through the real CLI: a model folder's, the demo model's and a GGUF model's ids
// for a text with special-token text in it, nothing added; --json with the vocabulary's tokens;
// a missing --text is one line naming the flag.

import { readFileSync, readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeDirFiles } from '../../src/formats/node-files.ts';
import { loadTokenizer } from '../../src/model/tokenizer.ts';
import { sentencePieceTokenizer } from '../data/tokenizers.ts';
import { runCli, tempDir, writeFolder } from '../helpers/cli.ts';
import { hfFolderToGguf } from '../helpers/gguf-model.ts';
import { demoTokenizer, folderTokenizer, ggufTokenizerMetadata } from '../helpers/gguf-tokenizer-meta.ts';
import { closeLlamaCpp, llamaCppVocab } from '../helpers/llama-cpp-vocab.ts';

const DEMO = join(import.meta.dirname, '..', '..', 'public', 'models', 'kjv-llama');
const TEXT = '<|im_start|>user\nIn the beginning God created  the heaven\tand the earth.<|im_end|>\n';
let root: string;

beforeAll(async () => {
  root = await tempDir();
});
afterAll(closeLlamaCpp);

const ids = (stdout: string) => stdout.trim().split(' ').map(Number);

describe('tabtune tokenize', () => {
  it('the demo model: its tokenizer\'s ids, special tokens parsed, no BOS or EOS; --json adds the tokens', async () => {
    const tok = await loadTokenizer(nodeDirFiles(DEMO));
    const expected = tok.encode(TEXT, { addSpecialTokens: false });
    expect(expected[0]).toBe(1); // <|im_start|> as one token

    const plain = await runCli(['tokenize', '--model', DEMO, '--text', TEXT]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(ids(plain.stdout)).toEqual(expected);

    const json = await runCli(['tokenize', '--model', DEMO, '--text', TEXT, '--json']);
    expect(json.code, json.stderr).toBe(0);
    const out = JSON.parse(json.stdout) as { ids: number[]; tokens: string[] };
    expect(out.ids).toEqual(expected);
    expect(out.tokens[0]).toBe('<|im_start|>');
    expect(out.tokens).toContain('Ċ'); // the byte-level vocabulary's newline
    expect(out.tokens).toHaveLength(expected.length);

    const empty = await runCli(['tokenize', '--model', DEMO, '--text', '', '--json']);
    expect(JSON.parse(empty.stdout)).toEqual({ ids: [], tokens: [] });
  });

  it('a SentencePiece model folder: no BOS although the tokenizer adds one when encoding for training', async () => {
    const sp = await sentencePieceTokenizer();
    const hf = await folderTokenizer(sp.files);
    const enc = new TextEncoder();
    const dir = await writeFolder(join(root, 'sp'), new Map([
      ['tokenizer.json', enc.encode(JSON.stringify(hf.tokenizerJson))],
      ['tokenizer_config.json', enc.encode(JSON.stringify(hf.tokenizerConfig))],
    ]));
    const text = '[INST] The capital of France? [/INST] Paris</s>';
    const r = await runCli(['tokenize', '--model', dir, '--text', text, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { ids: number[]; tokens: string[] };
    expect(out.ids).toEqual(sp.tokenizer.encode(text, { addSpecialTokens: false }));
    expect(out.ids[0]).not.toBe(1);
    expect(out.ids[out.ids.length - 1]).toBe(2);
    expect(out.tokens[0]!.startsWith('▁')).toBe(true);
  });

  it('a GGUF model: llama.cpp\'s ids for the same file', async () => {
    const md = ggufTokenizerMetadata(demoTokenizer().tokenizerJson, demoTokenizer().tokenizerConfig, 'gpt-2');
    const folder = new Map(readdirSync(DEMO).map((n) => [n, new Uint8Array(readFileSync(join(DEMO, n)))]));
    const path = join(await tempDir(), 'kjv.gguf'); // alone: no tokenizer.json beside it
    await writeFile(path, await hfFolderToGguf(folder, { tokenizer: md }));
    const cpp = await llamaCppVocab(md);
    try {
      for (const text of [TEXT, '  12345 don\'t\r\n\r\n 🦙 émoi<|endoftext|>']) {
        const r = await runCli(['tokenize', '--model', path, '--text', text]);
        expect(r.code, r.stderr).toBe(0);
        expect(ids(r.stdout)).toEqual(cpp.tokenize(text, false));
      }
    } finally {
      await cpp.dispose();
    }
  });

  it('a missing --text or --model is one line naming the flag', async () => {
    for (const [args, flag] of [
      [['tokenize', '--model', DEMO], '--text'],
      [['tokenize', '--text', 'hi'], '--model'],
    ] as const) {
      const r = await runCli([...args]);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      const lines = r.stderr.trim().split('\n').filter((l) => !/^Run "tabtune tokenize --help"/.test(l));
      expect(lines, r.stderr).toEqual([`tabtune tokenize: ${flag} is required${flag === '--text' ? ': the text to tokenize' : ''}`]);
    }
  });
});
