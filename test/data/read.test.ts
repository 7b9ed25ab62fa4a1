import { describe, it, expect } from 'vitest';
import { detectFormat, readDataset } from '../../src/data/read.ts';
import { jsonl, read, readAllWays } from './read-helpers.ts';

const at = (file: string, line: number) => ({ file, line });

describe('JSON Lines', () => {
  it('reads text rows with unicode, emoji, escaped newlines, CRLF, a BOM and blank lines', async () => {
    const content =
      '\uFEFF{"text": "Grüße aus Köln 🌧️ — „Zitat“"}\r\n' +
      '\r\n' +
      '{"text": "第一行\\n第二行 👩‍👩‍👧", "id": 7}\r\n' +
      '   \n' +
      '{"text":"ok"}'; // no final newline
    const r = await readAllWays('notes.jsonl', content);
    expect(r.format).toBe('text');
    expect(r.skipped).toEqual([]);
    expect(r.examples).toEqual([
      { example: { kind: 'text', text: 'Grüße aus Köln 🌧️ — „Zitat“' }, source: at('notes.jsonl', 1) },
      { example: { kind: 'text', text: '第一行\n第二行 👩‍👩‍👧' }, source: at('notes.jsonl', 3) },
      { example: { kind: 'text', text: 'ok' }, source: at('notes.jsonl', 5) },
    ]);
  });

  it('reads prompt/completion rows (.ndjson too)', async () => {
    const content = jsonl(
      { prompt: 'Translate to French: cat', completion: ' chat' },
      { prompt: '', completion: 'Once upon a time…' },
    );
    const r = await readAllWays('pc.ndjson', content);
    expect(r.format).toBe('completion');
    expect(r.examples.map((e) => e.example)).toEqual([
      { kind: 'completion', prompt: 'Translate to French: cat', completion: ' chat' },
      { kind: 'completion', prompt: '', completion: 'Once upon a time…' },
    ]);
  });

  it('reads chat rows', async () => {
    const row = {
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: '¿Qué hora es?' },
        { role: 'assistant', content: 'Son las 3 🕒' },
        { role: 'user', content: 'Thanks' },
        { role: 'assistant', content: [{ type: 'text', text: 'You are ' }, { type: 'text', text: 'welcome.' }] },
      ],
    };
    const r = await readAllWays('chat.jsonl', jsonl(row));
    expect(r.format).toBe('chat');
    expect(r.examples[0]!.example).toEqual({
      kind: 'chat',
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: '¿Qué hora es?' },
        { role: 'assistant', content: 'Son las 3 🕒' },
        { role: 'user', content: 'Thanks' },
        { role: 'assistant', content: 'You are welcome.' },
      ],
    });
  });

  it('maps ShareGPT conversations (from/value, human/gpt) to chat', async () => {
    const content = jsonl(
      {
        id: 'x1',
        conversations: [
          { from: 'system', value: 'Be kind.' },
          { from: 'human', value: 'Hi!' },
          { from: 'gpt', value: 'Hello 👋' },
        ],
      },
      { messages: [{ from: 'human', value: 'q' }, { from: 'gpt', value: 'a' }] },
    );
    const r = await readAllWays('sharegpt.jsonl', content);
    expect(r.format).toBe('chat');
    expect(r.examples.map((e) => e.example)).toEqual([
      {
        kind: 'chat',
        messages: [
          { role: 'system', content: 'Be kind.' },
          { role: 'user', content: 'Hi!' },
          { role: 'assistant', content: 'Hello 👋' },
        ],
      },
      { kind: 'chat', messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: 'a' }] },
    ]);
  });

  it('reads Alpaca rows; a missing or null input is ""', async () => {
    const content = jsonl(
      { instruction: 'Give three tips for staying healthy.', input: '', output: '1. Eat well.\n2. Sleep.\n3. Move.' },
      { instruction: 'Translate', input: 'Hund', output: 'dog' },
      { instruction: 'Say hi', output: 'hi' },
      { instruction: 'Say bye', input: null, output: 'bye' },
    );
    const r = await readAllWays('alpaca_data.jsonl', content);
    expect(r.format).toBe('alpaca');
    expect(r.examples.map((e) => e.example)).toEqual([
      { kind: 'alpaca', instruction: 'Give three tips for staying healthy.', input: '', output: '1. Eat well.\n2. Sleep.\n3. Move.' },
      { kind: 'alpaca', instruction: 'Translate', input: 'Hund', output: 'dog' },
      { kind: 'alpaca', instruction: 'Say hi', input: '', output: 'hi' },
      { kind: 'alpaca', instruction: 'Say bye', input: '', output: 'bye' },
    ]);
  });

  it('reads pre-tokenized rows with and without labels (-100 = ignored)', async () => {
    const content = jsonl({ input_ids: [1, 22, 333, 2], labels: [-100, -100, 333, 2] }, { input_ids: [5, 6] });
    const r = await readAllWays('tok.jsonl', content);
    expect(r.format).toBe('tokens');
    expect(r.examples.map((e) => e.example)).toEqual([
      { kind: 'tokens', inputIds: [1, 22, 333, 2], labels: [-100, -100, 333, 2] },
      { kind: 'tokens', inputIds: [5, 6] },
    ]);
  });

  it('takes the format from the first valid record; the extension is case-insensitive', async () => {
    const content = jsonl({ foo: 1 }, { prompt: 'p', completion: 'c' }, { prompt: 'p2', completion: 'c2' });
    const r = await read('DATA.JSONL', content, { onBadRow: 'skip' });
    expect(r.format).toBe('completion');
    expect(r.examples.map((e) => e.source.line)).toEqual([2, 3]);
    expect(r.skipped).toHaveLength(1);
  });
});

describe('detectFormat', () => {
  it('goes by keys, messages first', () => {
    expect(detectFormat({ messages: [] })).toBe('chat');
    expect(detectFormat({ conversations: [] })).toBe('chat');
    expect(detectFormat({ prompt: 'a', completion: 'b' })).toBe('completion');
    expect(detectFormat({ instruction: 'a', input: '', output: 'b' })).toBe('alpaca');
    expect(detectFormat({ instruction: 'a', output: 'b' })).toBe('alpaca');
    expect(detectFormat({ input_ids: [1] })).toBe('tokens');
    expect(detectFormat({ text: 'a' })).toBe('text');
    expect(detectFormat({ text: 'a', messages: [] })).toBe('chat');
    expect(detectFormat({ prompt: 'a' })).toBeNull();
    expect(detectFormat({ instruction: 'a', response: 'b' })).toBeNull();
    expect(detectFormat({})).toBeNull();
  });
});

describe('format override', () => {
  it('reads rows as the format asked for, ignoring other keys', async () => {
    const content = jsonl({ text: 'whole transcript', messages: [{ role: 'user', content: 'x' }] });
    const r = await read('mixed.jsonl', content, { format: 'text' });
    expect(r.format).toBe('text');
    expect(r.examples[0]!.example).toEqual({ kind: 'text', text: 'whole transcript' });
    expect((await read('mixed.jsonl', content, { format: 'auto', onBadRow: 'skip' }).catch((e: Error) => e.message)) as string).toMatch(
      /no assistant message/,
    );
  });

  it('holds rows to the format asked for', async () => {
    const content = jsonl({ text: 'a' });
    await expect(read('t.jsonl', content, { format: 'completion' })).rejects.toThrow(
      't.jsonl line 1: has keys text; this file is completion data: each row needs prompt and completion',
    );
  });

  it('a .txt file holds only text', async () => {
    await expect(read('notes.txt', 'hello', { format: 'chat' })).rejects.toThrow(
      'notes.txt: holds plain text; format "chat" needs a JSONL, JSON or CSV file',
    );
    expect((await read('notes.txt', 'hello', { format: 'text' })).examples).toHaveLength(1);
  });
});

describe('JSON', () => {
  it('reads a pretty-printed array; each record is placed at the line where it starts', async () => {
    const content = `\uFEFF[
  {
    "instruction": "Écris un haïku",
    "input": "",
    "output": "Vieil étang —\\nune grenouille plonge\\nbruit de l'eau 🐸"
  },
  {"instruction": "Add", "input": "2 + 2", "output": "4"}
]
`;
    const r = await readAllWays('alpaca.json', content);
    expect(r.format).toBe('alpaca');
    expect(r.examples).toEqual([
      {
        example: { kind: 'alpaca', instruction: 'Écris un haïku', input: '', output: "Vieil étang —\nune grenouille plonge\nbruit de l'eau 🐸" },
        source: at('alpaca.json', 2),
      },
      { example: { kind: 'alpaca', instruction: 'Add', input: '2 + 2', output: '4' }, source: at('alpaca.json', 7) },
    ]);
  });

  it('reads the "data" or "train" list of an object', async () => {
    const data = `{"version": "1.0", "meta": [{"text": "not this"}],\r\n "data": [\r\n  {"text": "a [tricky], {string}\\" \\\\"},\r\n  {"text": "b"}\r\n ]}`;
    const r = await readAllWays('d.json', data);
    expect(r.examples).toEqual([
      { example: { kind: 'text', text: 'a [tricky], {string}" \\' }, source: at('d.json', 3) },
      { example: { kind: 'text', text: 'b' }, source: at('d.json', 4) },
    ]);
    const train = JSON.stringify({ train: [{ prompt: 'p', completion: 'c' }], test: [{ prompt: 'x', completion: 'y' }] }, null, 1);
    const t = await read('t.json', train);
    expect(t.examples.map((e) => e.example)).toEqual([{ kind: 'completion', prompt: 'p', completion: 'c' }]);
    expect(t.examples[0]!.source.line).toBe(3);
  });

  it('reads a .json file that is really JSON Lines (what datasets.Dataset.to_json writes)', async () => {
    const r = await readAllWays('hf.json', jsonl({ text: 'one' }, { text: 'two' }));
    expect(r.examples.map((e) => [e.example, e.source.line])).toEqual([
      [{ kind: 'text', text: 'one' }, 1],
      [{ kind: 'text', text: 'two' }, 2],
    ]);
  });

  it('reads a single record object as one example', async () => {
    const r = await read('one.json', '{\n  "text": "just one"\n}\n');
    expect(r.examples).toEqual([{ example: { kind: 'text', text: 'just one' }, source: at('one.json', 1) }]);
  });
});

describe('CSV and TSV', () => {
  it('reads RFC 4180 quoting: commas, doubled quotes, embedded newlines (CRLF too), a BOM', async () => {
    const content =
      '\uFEFFprompt,completion\r\n' +
      '"Hello, world","He said ""hi""."\r\n' +
      '"Multi\r\nline prompt","and\nmore\nlines 😀"\r\n' +
      '\r\n' +
      'plain,naïve café\r\n' +
      'a "quoted" word,x"y\r\n';
    const r = await readAllWays('pairs.csv', content);
    expect(r.format).toBe('completion');
    expect(r.examples).toEqual([
      { example: { kind: 'completion', prompt: 'Hello, world', completion: 'He said "hi".' }, source: at('pairs.csv', 2) },
      { example: { kind: 'completion', prompt: 'Multi\nline prompt', completion: 'and\nmore\nlines 😀' }, source: at('pairs.csv', 3) },
      { example: { kind: 'completion', prompt: 'plain', completion: 'naïve café' }, source: at('pairs.csv', 8) },
      { example: { kind: 'completion', prompt: 'a "quoted" word', completion: 'x"y' }, source: at('pairs.csv', 9) },
    ]);
  });

  it('reads Alpaca columns with empty input, ignoring an unnamed pandas index column', async () => {
    const content = ',instruction,input,output\n0,Summarize,"Long text, with commas",Short\n1,Greet,,Hello!\n';
    const r = await readAllWays('alpaca.csv', content);
    expect(r.examples.map((e) => e.example)).toEqual([
      { kind: 'alpaca', instruction: 'Summarize', input: 'Long text, with commas', output: 'Short' },
      { kind: 'alpaca', instruction: 'Greet', input: '', output: 'Hello!' },
    ]);
  });

  it('reads chat and token columns holding JSON lists', async () => {
    const msgs = JSON.stringify([
      { role: 'user', content: 'Hi, you' },
      { role: 'assistant', content: 'Hey "there"' },
    ]);
    const chat = `messages\n"${msgs.replaceAll('"', '""')}"\n`;
    expect((await readAllWays('chat.csv', chat)).examples[0]!.example).toEqual({
      kind: 'chat',
      messages: [
        { role: 'user', content: 'Hi, you' },
        { role: 'assistant', content: 'Hey "there"' },
      ],
    });
    const tok = 'input_ids,labels\n"[1, 2, 3]","[-100, 2, 3]"\n"[4,5]",\n';
    expect((await readAllWays('tok.csv', tok)).examples.map((e) => e.example)).toEqual([
      { kind: 'tokens', inputIds: [1, 2, 3], labels: [-100, 2, 3] },
      { kind: 'tokens', inputIds: [4, 5] },
    ]);
  });

  it('reads TSV with the same quoting rules', async () => {
    const content = 'text\tsource\n"tab\there"\twiki\nno quotes, commas fine\tweb\n"two\nlines"\tbook\n';
    const r = await readAllWays('corpus.tsv', content);
    expect(r.examples).toEqual([
      { example: { kind: 'text', text: 'tab\there' }, source: at('corpus.tsv', 2) },
      { example: { kind: 'text', text: 'no quotes, commas fine' }, source: at('corpus.tsv', 3) },
      { example: { kind: 'text', text: 'two\nlines' }, source: at('corpus.tsv', 4) },
    ]);
  });
});

describe('plain text', () => {
  const story = '\uFEFFChapter 1 🐉\r\nThe dragon slept.\r\n\r\n\r\n  \r\nChapter 2\r\nIt woke.\r\n';

  it('splits documents on blank lines, each placed at its first line', async () => {
    const r = await readAllWays('book.txt', story);
    expect(r.format).toBe('text');
    expect(r.examples).toEqual([
      { example: { kind: 'text', text: 'Chapter 1 🐉\nThe dragon slept.' }, source: at('book.txt', 1) },
      { example: { kind: 'text', text: 'Chapter 2\nIt woke.' }, source: at('book.txt', 6) },
    ]);
  });

  it('stream mode yields the whole file as one text', async () => {
    const r = await readAllWays('book.txt', story, { txtMode: 'stream' });
    expect(r.examples).toEqual([
      { example: { kind: 'text', text: 'Chapter 1 🐉\nThe dragon slept.\n\n\n  \nChapter 2\nIt woke.\n' }, source: at('book.txt', 1) },
    ]);
  });

  it('sniffs a file with an unknown extension: text, JSON Lines or JSON', async () => {
    expect((await readAllWays('README', 'Just words.\n\nMore words.')).examples).toHaveLength(2);
    const lines = await readAllWays('train.data', `\n\n${jsonl({ prompt: 'a', completion: 'b' }, { prompt: 'c', completion: 'd' })}`);
    expect(lines.format).toBe('completion');
    expect(lines.examples.map((e) => e.source.line)).toEqual([3, 4]);
    const arr = await readAllWays('export', '[{"text": "x"},\n {"text": "y"}]');
    expect(arr.examples.map((e) => e.source.line)).toEqual([1, 2]);
    const pretty = await readAllWays('export', '{\n "data": [{"text": "x"}]\n}');
    expect(pretty.examples).toHaveLength(1);
  });
});

describe('streaming', () => {
  it('reads 200k JSONL lines from a generator in bounded time', async () => {
    const n = 200_000;
    async function* generate(): AsyncGenerator<Uint8Array> {
      const enc = new TextEncoder();
      let batch: string[] = [];
      for (let i = 0; i < n; i++) {
        batch.push(i % 3 === 0 ? JSON.stringify({ prompt: `Q${i}: ¿qué?`, completion: ` A${i} ✓` }) : `{"prompt":"p${i}","completion":"c"}`);
        if (batch.length === 1000) {
          const bytes = enc.encode(batch.join('\n') + '\n');
          // Odd-sized chunks so boundaries fall inside lines and inside multi-byte characters.
          for (let j = 0; j < bytes.length; j += 4093) yield bytes.subarray(j, j + 4093);
          batch = [];
        }
      }
    }
    const t0 = performance.now();
    const r = await readDataset('big.jsonl', generate());
    const ms = performance.now() - t0;
    expect(r.examples).toHaveLength(n);
    expect(r.examples[n - 1]!.source.line).toBe(n);
    expect(r.examples[3]!.example).toEqual({ kind: 'completion', prompt: 'Q3: ¿qué?', completion: ' A3 ✓' });
    expect(ms).toBeLessThan(10_000);
  });

  it('stops reading the source at the first error (stop) and closes it', async () => {
    let pulled = 0;
    let closed = false;
    async function* source(): AsyncGenerator<Uint8Array> {
      try {
        const enc = new TextEncoder();
        yield enc.encode('{"text": "a"}\n{"text": 1}\n');
        for (let i = 0; i < 1000; i++) {
          pulled++;
          yield enc.encode('{"text": "more"}\n'.repeat(1000));
        }
      } finally {
        closed = true;
      }
    }
    await expect(readDataset('s.jsonl', source())).rejects.toThrow('s.jsonl line 2: "text" must be a string, got a number');
    expect(closed).toBe(true);
    expect(pulled).toBeLessThan(5);
  });
});
