import { beforeAll, describe, expect, it } from 'vitest';
import { loadChatTemplate, type ChatTemplate } from '../../src/data/chat-template.ts';
import { DatasetError } from '../../src/data/errors.ts';
import { formatPreview, prepareDataset, previewRow, splitValidation, stepsPerEpoch, type PrepareOptions } from '../../src/data/prepare.ts';
import { tokenizeExample } from '../../src/data/tokenize.ts';
import type { Example, SourcedExample } from '../../src/data/types.ts';
import { gpt2Tokenizer, sentencePieceTokenizer, type TokenizerFixture } from './tokenizers.ts';

const IGNORE = -100;

function sourced(examples: Example[], file = 'data.jsonl'): SourcedExample[] {
  return examples.map((example, i) => ({ example, source: { file, line: i + 1 } }));
}

const TEXTS = [
  'The quick brown fox jumps over the lazy dog.',
  'Hi.',
  'A somewhat longer sentence that takes a good number of tokens to write down in full.',
  'Short one.',
  'Another line of text for the packer to place.',
  'Ok',
  'The last example is here, and it is reasonably long as well.',
];

describe('prepareDataset', () => {
  let fx: TokenizerFixture;
  let template: ChatTemplate;
  let opts: PrepareOptions;
  beforeAll(async () => {
    fx = await gpt2Tokenizer();
    template = await loadChatTemplate(fx.files);
    opts = { tokenizer: fx.tokenizer, template, mask: 'prompt', seqLen: 64, packing: false };
  });

  it('tokenizes each example into its own row, with stats', () => {
    const examples = sourced([
      ...TEXTS.slice(0, 2).map((text) => ({ kind: 'text' as const, text })),
      { kind: 'completion', prompt: 'Q: 2+2?\nA:', completion: ' 4' },
    ]);
    const p = prepareDataset(examples, opts);
    expect(p.rows).toHaveLength(3);
    expect(p.skipped).toEqual([]);
    expect(p.warnings).toEqual([]);
    const ctx = { tokenizer: fx.tokenizer, template, mask: 'prompt' as const };
    p.rows.forEach((row, i) => {
      const want = tokenizeExample(examples[i]!.example, ctx);
      expect(row.inputIds).toEqual(want.inputIds);
      expect(row.labels).toEqual(want.labels);
      expect(row.source).toBe(`data.jsonl line ${i + 1}`);
      expect(row.positionIds).toBeUndefined();
    });
    const lengths = p.rows.map((r) => r.inputIds.length);
    const sorted = [...lengths].sort((a, b) => a - b);
    const targets = p.rows.reduce((n, r) => n + r.labels!.slice(1).filter((l) => l !== IGNORE).length, 0);
    expect(p.stats).toEqual({
      examples: 3,
      tokens: { min: sorted[0], median: sorted[1], max: sorted[2], total: lengths.reduce((a, b) => a + b, 0) },
      trainedTokens: targets,
      maskedTokens: lengths.reduce((a, b) => a + b, 0) - targets,
      overMaxLength: 0,
      tokensLost: 0,
    });
    // The completion row trains on " 4" + EOS only.
    expect(p.rows[2]!.labels!.filter((l) => l !== IGNORE)).toEqual([...fx.tokenizer.encode(' 4'), 50256]);
  });

  it('truncates long examples and counts what was lost', () => {
    const examples = sourced(TEXTS.map((text) => ({ kind: 'text' as const, text })));
    const full = examples.map((e) => tokenizeExample(e.example, { tokenizer: fx.tokenizer, template, mask: 'prompt' }).inputIds.length);
    const seqLen = 8;
    const p = prepareDataset(examples, { ...opts, seqLen });
    const over = full.filter((n) => n > seqLen);
    expect(over.length).toBeGreaterThan(0);
    expect(p.stats.overMaxLength).toBe(over.length);
    expect(p.stats.tokensLost).toBe(over.reduce((a, n) => a + n - seqLen, 0));
    expect(p.stats.tokens.max).toBe(Math.max(...full));
    expect(p.stats.tokens.total).toBe(full.reduce((a, b) => a + b, 0));
    expect(p.stats.trainedTokens + p.stats.maskedTokens).toBe(p.stats.tokens.total - p.stats.tokensLost);
    expect(p.rows.every((r) => r.inputIds.length <= seqLen && r.labels!.length === r.inputIds.length)).toBe(true);
    expect(p.warnings.join('\n')).toMatch(new RegExp(`${over.length} examples were longer than seqLen \\(8\\) and truncated; ${p.stats.tokensLost} tokens`));
  });

  it('packs whole examples greedily, restarts positions, and trains nothing across a boundary', () => {
    const examples = sourced([
      ...TEXTS.map((text) => ({ kind: 'text' as const, text })),
      { kind: 'completion', prompt: 'Question: what is 2+2?\nAnswer:', completion: ' 4' },
      { kind: 'text', text: TEXTS.join(' ') }, // longer than seqLen: truncated, a row of its own
      { kind: 'text', text: 'Tail.' },
    ]);
    const seqLen = 24;
    const ctx = { tokenizer: fx.tokenizer, template, mask: 'prompt' as const };
    const toks = examples.map((e) => tokenizeExample(e.example, ctx)).map((t) => ({
      inputIds: t.inputIds.slice(0, seqLen),
      labels: t.labels.slice(0, seqLen),
    }));
    const p = prepareDataset(examples, { ...opts, seqLen, packing: true });
    expect(p.stats.overMaxLength).toBe(1);

    // Greedy, in order, never splitting an example.
    const want: number[][] = [];
    let cur: number[] = [];
    let used = 0;
    toks.forEach((t, i) => {
      if (used + t.inputIds.length > seqLen && cur.length > 0) {
        want.push(cur);
        cur = [];
        used = 0;
      }
      cur.push(i);
      used += t.inputIds.length;
    });
    want.push(cur);
    expect(p.rows).toHaveLength(want.length);
    expect(p.rows.length).toBeLessThan(examples.length);

    p.rows.forEach((row, r) => {
      const parts = want[r]!;
      expect(row.inputIds.length).toBeLessThanOrEqual(seqLen);
      expect(row.inputIds).toEqual(parts.flatMap((i) => toks[i]!.inputIds));
      expect(row.positionIds).toEqual(parts.flatMap((i) => toks[i]!.inputIds.map((_, t) => t)));
      const starts = new Set<number>();
      let at = 0;
      for (const i of parts) {
        starts.add(at);
        at += toks[i]!.inputIds.length;
      }
      const wantLabels = parts.flatMap((i) => toks[i]!.labels).map((l, t) => (t > 0 && starts.has(t) ? IGNORE : l));
      expect(row.labels).toEqual(wantLabels);
      // No target crosses into the next example: where a position restarts, the label is ignored.
      row.positionIds!.forEach((pos, t) => {
        if (t > 0 && pos === 0) expect(row.labels![t]).toBe(IGNORE);
      });
      expect(row.source).toBe(parts.length === 1 ? `data.jsonl line ${parts[0]! + 1}` : `data.jsonl lines ${parts[0]! + 1}-${parts.at(-1)! + 1} (${parts.length} examples packed)`);
    });
    // Packing changes no count of trained tokens.
    const unpacked = prepareDataset(examples, { ...opts, seqLen });
    expect(p.stats).toEqual(unpacked.stats);
    expect(p.rows.flatMap((r) => r.inputIds)).toEqual(unpacked.rows.flatMap((r) => r.inputIds));
  });

  it('stops at a row with nothing to learn, or skips it', () => {
    const examples = sourced([
      { kind: 'text', text: 'Fine.' },
      { kind: 'chat', messages: [{ role: 'user', content: 'Nobody answers.' }] },
      { kind: 'completion', prompt: 'A very long prompt that goes on and on past the limit', completion: ' done' },
      { kind: 'tokens', inputIds: [1, 2, 3], labels: [-100, -100, -100] },
      { kind: 'tokens', inputIds: [1, 99999] },
    ]);
    const seqLen = 8;
    expect(() => prepareDataset(examples, { ...opts, seqLen })).toThrow(DatasetError);
    expect(() => prepareDataset(examples, { ...opts, seqLen })).toThrow('data.jsonl line 2: every token is masked: nothing to learn');
    const p = prepareDataset(examples, { ...opts, seqLen, onBadRow: 'skip' });
    expect(p.rows).toHaveLength(1);
    expect(p.stats.examples).toBe(1);
    expect(p.skipped.map((s) => [s.file, s.line])).toEqual([
      ['data.jsonl', 2],
      ['data.jsonl', 3],
      ['data.jsonl', 4],
      ['data.jsonl', 5],
    ]);
    expect(p.skipped[1]!.message).toMatch(/past the first 8 tokens/);
    expect(p.skipped[2]!.message).toBe('every token is masked: nothing to learn');
    expect(p.skipped[3]!.message).toMatch(/input_ids\[1\] = 99999 is outside/);
    expect(p.warnings).toContain('4 bad rows skipped.');
  });

  it('refuses a dataset with no trained token at all', () => {
    const examples = sourced([{ kind: 'chat', messages: [{ role: 'user', content: 'Hello?' }] }], 'chats.jsonl');
    expect(() => prepareDataset(examples, { ...opts, onBadRow: 'skip' })).toThrow(/chats\.jsonl: has no trained token.*nothing to learn/);
    expect(() => prepareDataset([], opts)).toThrow(/holds no examples/);
  });

  it('names the row whose template rendering fails', async () => {
    const sp = await sentencePieceTokenizer();
    const spTemplate = await loadChatTemplate(sp.files);
    const examples = sourced([
      {
        kind: 'chat',
        messages: [
          { role: 'user', content: 'a' },
          { role: 'user', content: 'b' },
        ],
      },
    ]);
    expect(() => prepareDataset(examples, { ...opts, tokenizer: sp.tokenizer, template: spTemplate })).toThrow(
      /^data\.jsonl line 1: chat template \(tiny-sp\/tokenizer_config\.json\): rendering failed: Conversation roles must alternate/,
    );
  });

  it('reports the ChatML fallback, and whether the tokenizer knows its markers', async () => {
    const chat = sourced([
      {
        kind: 'chat',
        messages: [
          { role: 'user', content: 'Hi' },
          { role: 'assistant', content: 'Hello!' },
        ],
      },
    ]);
    const g = await gpt2Tokenizer({ chatTemplate: null });
    const gt = await loadChatTemplate(g.files);
    expect(gt.source).toBe('chatml-fallback');
    const p = prepareDataset(chat, { ...opts, tokenizer: g.tokenizer, template: gt });
    expect(p.warnings).toHaveLength(1);
    expect(p.warnings[0]).toMatch(/no chat template: chat examples are formatted with ChatML/);
    expect(p.warnings[0]).not.toMatch(/ordinary text/);
    expect(fx.tokenizer.decode(p.rows[0]!.inputIds.filter((_, t) => p.rows[0]!.labels![t] !== IGNORE))).toBe('Hello!<|im_end|>');

    const sp = await sentencePieceTokenizer({ chatTemplate: null });
    const spt = await loadChatTemplate(sp.files);
    const q = prepareDataset(chat, { ...opts, tokenizer: sp.tokenizer, template: spt });
    expect(q.warnings[0]).toMatch(/ChatML.*<\|im_start\|>\/<\|im_end\|> tokens, so those markers become ordinary text tokens/);
    // No warning when no example is a chat.
    expect(prepareDataset(sourced([{ kind: 'text', text: 'x y' }]), { ...opts, template: gt }).warnings).toEqual([]);
  });
});

describe('stepsPerEpoch and splitValidation', () => {
  it('counts optimizer steps as transformers does', () => {
    expect(stepsPerEpoch(10, 2, 1)).toBe(5);
    expect(stepsPerEpoch(10, 3, 1)).toBe(4);
    expect(stepsPerEpoch(10, 2, 2)).toBe(3);
    expect(stepsPerEpoch(1, 8, 4)).toBe(1);
    expect(stepsPerEpoch(0, 8, 4)).toBe(0);
    expect(() => stepsPerEpoch(10, 0, 1)).toThrow(RangeError);
  });

  it('splits with a seeded shuffle, keeping order and at least one row on each side', () => {
    const rows = Array.from({ length: 20 }, (_, i) => i);
    const a = splitValidation(rows, 0.25, 7);
    expect(a.val).toHaveLength(5);
    expect(a.train).toHaveLength(15);
    expect([...a.train, ...a.val].sort((x, y) => x - y)).toEqual(rows);
    expect(a.val).toEqual([...a.val].sort((x, y) => x - y));
    expect(splitValidation(rows, 0.25, 7)).toEqual(a);
    expect(splitValidation(rows, 0.25, 8).val).not.toEqual(a.val);
    expect(splitValidation([1, 2], 0.01, 1).val).toHaveLength(1);
    expect(splitValidation([1, 2], 0.99, 1).train).toHaveLength(1);
    expect(splitValidation([1, 2, 3], 0, 1)).toEqual({ train: [1, 2, 3], val: [] });
    expect(splitValidation([1], 0.5, 1)).toEqual({ train: [1], val: [] });
    expect(() => splitValidation(rows, 1, 1)).toThrow(RangeError);
  });
});

describe('previewRow / formatPreview', () => {
  it('shows masked and trained parts of a completion row', async () => {
    const fx = await gpt2Tokenizer();
    const r = tokenizeExample({ kind: 'completion', prompt: 'Capital of France?', completion: ' Paris' }, {
      tokenizer: fx.tokenizer,
      template: await loadChatTemplate(fx.files),
      mask: 'prompt',
    });
    const segs = previewRow({ inputIds: r.inputIds, labels: r.labels }, fx.tokenizer);
    expect(segs).toEqual([
      { text: 'Capital of France?', trained: false },
      { text: ' Paris<|endoftext|>', trained: true },
    ]);
    expect(formatPreview(segs, 'brackets')).toBe('⟦Capital of France?⟧ Paris<|endoftext|>');
    expect(formatPreview(segs, 'ansi')).toBe('\x1b[2mCapital of France?\x1b[22m Paris<|endoftext|>');
    // Without labels everything but the first token (which nothing predicts) is trained.
    const plain = previewRow({ inputIds: fx.tokenizer.encode('Hello world') }, fx.tokenizer);
    expect(plain).toEqual([
      { text: 'Hello', trained: false },
      { text: ' world', trained: true },
    ]);
  });

  it('keeps a character whole when its byte tokens straddle a mask boundary', async () => {
    const sp = await sentencePieceTokenizer();
    const ids = sp.tokenizer.encode('ok 😀 yes', { addSpecialTokens: false });
    const firstByte = ids.findIndex((id) => sp.tokenOf(id) === '<0xF0>');
    expect(firstByte).toBeGreaterThan(0);
    const labels = ids.map((id, t) => (t < firstByte + 2 ? IGNORE : id)); // half of the emoji masked
    const segs = previewRow({ inputIds: ids, labels }, sp.tokenizer);
    expect(segs.map((s) => s.text).join('')).toBe('ok 😀 yes');
    expect(segs.every((s) => !s.text.includes('\uFFFD'))).toBe(true);
    expect(segs[segs.length - 1]!.trained).toBe(true);
    expect(segs[segs.length - 1]!.text).toContain('😀');
  });
});
