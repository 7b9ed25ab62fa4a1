import { describe, it, expect } from 'vitest';
import { DatasetError } from '../../src/data/errors.ts';
import { failure, jsonl, read } from './read-helpers.ts';

const ANY = 'a row needs text, or prompt and completion, or messages, or instruction and output, or input_ids';

/** The message for a one-row chat file whose messages are `messages`. */
async function chatFailure(messages: unknown): Promise<string> {
  return (await failure('chat.jsonl', jsonl({ messages: [{ role: 'user', content: 'ok' }, { role: 'assistant', content: 'ok' }] }, { messages })))
    .message;
}

describe('malformed JSON', () => {
  it('names the line, the parser message and the column', async () => {
    const e = await failure('bad.jsonl', '{"text": "a"}\n\n{"text": "b" "c"}\n');
    expect(e.file).toBe('bad.jsonl');
    expect(e.line).toBe(3);
    expect(e.message).toBe(`bad.jsonl line 3: is not valid JSON: Expected ',' or '}' after property value (column 14)`);
    expect((await failure('bad.jsonl', '{"text": "a"}\r\n{"text": tru}\r\n')).message).toBe(
      `bad.jsonl line 2: is not valid JSON: Unexpected token '}' (column 13)`,
    );
    expect((await failure('bad.jsonl', '{"text": "a"}\n{"text": "open\n')).message).toBe('bad.jsonl line 2: is not valid JSON: Unterminated string (column 15)');
  });

  it('hints at pretty-printed JSON in a .jsonl file', async () => {
    expect((await failure('pretty.jsonl', '{\n  "text": "a"\n}\n')).message).toBe(
      "pretty.jsonl line 1: is not valid JSON: Expected property name or '}' (column 2); each line of a JSON Lines file must hold one whole object (a JSON array or pretty-printed JSON belongs in a .json file)",
    );
  });

  it('places an error in a .json file at its line', async () => {
    expect((await failure('bad.json', '[\n {"text": "a"},\n {"text": "b",}\n]')).message).toBe(
      'bad.json line 3: is not valid JSON: Expected double-quoted property name (column 15)',
    );
    expect((await failure('bad.json', '[\n {"text": "a"},,\n]')).message).toBe(`bad.json line 2: is not valid JSON: Unexpected token ',' (column 16)`);
    expect((await failure('cut.json', '[\n {"text": "a"},\n {"text": "b"}\n')).message).toMatch(/^cut\.json line 4: is not valid JSON: /);
  });

  it('refuses JSON that is not a list of records', async () => {
    expect((await failure('s.json', '"hello"')).message).toBe('s.json: is a string in JSON; expected a list of records');
    expect((await failure('o.json', '{"version": 1, "rows": []}')).message).toBe(
      'o.json: is a JSON object with keys version, rows; expected a list of records, or an object with a "data" or "train" list',
    );
    expect((await failure('n.json', '[{"text": "a"},\n 3]')).message).toBe(`n.json line 2: is a number, not an object; ${ANY}`);
    expect((await failure('arr.jsonl', '[{"text": "a"}]\n')).message).toBe(`arr.jsonl line 1: is a list, not an object; ${ANY}`);
  });
});

describe('rows of the wrong shape', () => {
  it('names the keys of a row that fits no format', async () => {
    expect((await failure('qa.jsonl', jsonl({ question: 'q', answer: 'a' }))).message).toBe(`qa.jsonl line 1: has keys question, answer; ${ANY}`);
    expect((await failure('e.jsonl', jsonl({}))).message).toBe(`e.jsonl line 1: has no keys; ${ANY}`);
  });

  it('holds later rows to the format of the first', async () => {
    const rows = [1, 2, 3, 4, 5].map((i) => ({ prompt: `p${i}`, completion: `c${i}` }));
    const e = await failure('pc.jsonl', jsonl(...rows, '', { prompt: 'p', answer: 'a' }));
    expect(e.line).toBe(7);
    expect(e.message).toBe('pc.jsonl line 7: has keys prompt, answer; this file is completion data: each row needs prompt and completion');
    expect((await failure('t.jsonl', jsonl({ text: 'a' }, { input_ids: [1] }))).message).toBe(
      't.jsonl line 2: has keys input_ids; this file is text data: each row needs text',
    );
    expect((await failure('a.jsonl', jsonl({ instruction: 'i', output: 'o' }, { instruction: 'i', response: 'o' }))).message).toBe(
      'a.jsonl line 2: has keys instruction, response; this file is Alpaca data: each row needs instruction and output (input optional)',
    );
  });

  it('refuses non-string and empty fields', async () => {
    expect((await failure('c.jsonl', jsonl({ prompt: 'p', completion: 'c' }, { prompt: 'p', completion: 42 }))).message).toBe(
      'c.jsonl line 2: "completion" must be a string, got a number',
    );
    expect((await failure('c.jsonl', jsonl({ prompt: ['p'], completion: 'c' }))).message).toBe('c.jsonl line 1: "prompt" must be a string, got a list');
    expect((await failure('c.jsonl', jsonl({ prompt: 'p', completion: '  ' }))).message).toBe('c.jsonl line 1: "completion" is empty');
    expect((await failure('t.jsonl', jsonl({ text: null }))).message).toBe('t.jsonl line 1: "text" must be a string, got null');
    expect((await failure('t.jsonl', jsonl({ text: '' }))).message).toBe('t.jsonl line 1: "text" is empty');
    expect((await failure('a.jsonl', jsonl({ instruction: 'i', input: 3, output: 'o' }))).message).toBe('a.jsonl line 1: "input" must be a string, got a number');
  });
});

describe('chat messages', () => {
  it('must be a non-empty list', async () => {
    expect(await chatFailure('hi')).toBe('chat.jsonl line 2: "messages" must be a list of {"role", "content"} messages, got a string');
    expect(await chatFailure([])).toBe('chat.jsonl line 2: "messages" is empty');
    expect(await chatFailure([null])).toBe('chat.jsonl line 2: message 1 is null, not a {"role", "content"} object');
  });

  it('each with a known role and non-empty content', async () => {
    expect(await chatFailure([{ role: 'user', content: 'x' }, { role: 'tool', content: '{}' }])).toBe(
      'chat.jsonl line 2: message 2 has unknown role "tool"; roles are system, user, assistant (ShareGPT: human, gpt)',
    );
    expect(await chatFailure([{ content: 'x' }])).toBe('chat.jsonl line 2: message 1 has no role');
    expect(await chatFailure([{ role: 'user' }, { role: 'assistant', content: 'a' }])).toBe('chat.jsonl line 2: message 1 (user) has no content');
    expect(await chatFailure([{ role: 'user', content: 'q' }, { role: 'assistant', content: '' }])).toBe(
      'chat.jsonl line 2: message 2 (assistant) has empty content',
    );
    expect(await chatFailure([{ role: 'user', content: 5 }])).toBe('chat.jsonl line 2: message 1 (user) content must be a string, got a number');
    expect(await chatFailure([{ role: 'user', content: [{ type: 'image_url', image_url: 'x' }] }])).toBe(
      'chat.jsonl line 2: message 1 (user) content must be a string, got a list with non-text parts (only text is trained on)',
    );
  });

  it('with at least one assistant turn', async () => {
    expect(await chatFailure([{ role: 'system', content: 's' }, { role: 'user', content: 'q' }])).toBe(
      'chat.jsonl line 2: "messages" has no assistant message; chat training needs at least one assistant turn',
    );
    const e = await failure('sg.jsonl', jsonl({ conversations: [{ from: 'human', value: 'hi' }] }));
    expect(e.message).toBe('sg.jsonl line 1: "conversations" has no assistant message; chat training needs at least one assistant turn');
  });
});

describe('pre-tokenized rows', () => {
  it('need integer ids and labels of the same length', async () => {
    expect((await failure('tok.jsonl', jsonl({ input_ids: [1, 2, 3] }, { input_ids: [1, 2, 3], labels: [-100, 2] }))).message).toBe(
      'tok.jsonl line 2: "labels" has 2 entries but "input_ids" has 3; they must be the same length',
    );
    expect((await failure('tok.jsonl', jsonl({ input_ids: [1, 2.5] }))).message).toBe(
      'tok.jsonl line 1: "input_ids"[1] is 2.5; token ids must be non-negative integers',
    );
    expect((await failure('tok.jsonl', jsonl({ input_ids: [1, 2], labels: [-5, 2] }))).message).toBe(
      'tok.jsonl line 1: "labels"[0] is -5; labels must be token ids or -100 (ignored)',
    );
    expect((await failure('tok.jsonl', jsonl({ input_ids: [] }))).message).toBe('tok.jsonl line 1: "input_ids" is empty');
    expect((await failure('tok.jsonl', jsonl({ input_ids: '1 2 3' }))).message).toBe(
      'tok.jsonl line 1: "input_ids" must be a list of token ids, got a string',
    );
    expect((await failure('tok.csv', 'input_ids\n"[1, 2"\n')).message).toMatch(/^tok\.csv line 2: the "input_ids" column must hold a JSON list \(/);
  });
});

describe('CSV structure', () => {
  it('refuses ragged rows, naming the line where the record starts', async () => {
    const content = 'prompt,completion\n"multi\nline",ok\nHello, world,again\n';
    const e = await failure('pairs.csv', content);
    expect(e.line).toBe(4);
    expect(e.message).toBe('pairs.csv line 4: has 3 fields but the header has 2; a field holding a comma must be in double quotes');
    expect((await failure('few.tsv', 'prompt\tcompletion\nonly one\n')).message).toBe(
      'few.tsv line 2: has 1 fields but the header has 2; a field holding a tab must be in double quotes',
    );
  });

  it('refuses a quote that is never closed', async () => {
    const e = await failure('q.csv', 'text\nfine\n"starts here\nand runs\nto the end\n');
    expect(e.message).toBe('q.csv line 3: has a quoted field that is never closed (unterminated quote at end of file)');
  });

  it('needs a header naming the columns of a format', async () => {
    expect((await failure('qa.csv', 'question,answer\nq,a\n')).message).toBe(
      'qa.csv line 1: the header names columns question, answer; it must name text, or prompt and completion, or messages, or instruction and output, or input_ids',
    );
    expect((await failure('t.csv', 'text\nhello\n', { format: 'completion' })).message).toBe(
      't.csv line 1: the header names columns text; this file is completion data: the header must name prompt and completion',
    );
    expect((await failure('d.csv', 'text,text\na,b\n')).message).toBe('d.csv line 1: the header names column "text" twice');
  });
});

describe('files that are not datasets', () => {
  it('refuses an empty file', async () => {
    for (const [name, content] of [
      ['empty.jsonl', ''],
      ['blank.jsonl', '\n\r\n   \n'],
      ['bom.txt', '\uFEFF'],
      ['none.json', '[]'],
      ['header.csv', 'prompt,completion\r\n'],
      ['nothing.csv', ''],
      ['empty', ''],
    ]) {
      expect((await failure(name!, content!)).message).toBe(`${name}: holds no examples`);
    }
  });

  it('refuses invalid UTF-8, naming the byte offset and line', async () => {
    // "café" in Latin-1 on line 3: é is the single byte 0xE9.
    const latin1 = new Uint8Array([...new TextEncoder().encode('{"text": "a"}\n{"text": "€"}\n{"text": "caf'), 0xe9, ...new TextEncoder().encode('"}\n')]);
    const e = await failure('latin1.jsonl', latin1);
    expect(e.message).toBe('latin1.jsonl: is not UTF-8 text (invalid byte at offset 43, line 3); save it as UTF-8');
    // A 3-byte character cut short by an ASCII byte, after a valid one.
    const cut = new Uint8Array([0x61, 0xe2, 0x82, 0xac, 0x0a, 0x62, 0xe2, 0x82, 0x41]);
    expect((await failure('cut.txt', cut)).message).toBe('cut.txt: is not UTF-8 text (invalid byte at offset 6, line 2); save it as UTF-8');
    // A 4-byte character cut off by the end of the file.
    const end = new Uint8Array([0x61, 0x0a, 0x0a, 0x62, 0xf0, 0x9f, 0x98]);
    expect((await failure('end.txt', end)).message).toBe('end.txt: is not UTF-8 text (invalid byte at offset 4, line 3); save it as UTF-8');
    // An overlong encoding and a surrogate.
    expect((await failure('o.txt', new Uint8Array([0x61, 0xc0, 0xaf]))).message).toMatch(/invalid byte at offset 1, line 1\)/);
    expect((await failure('s.txt', new Uint8Array([0x0a, 0xed, 0xa0, 0x80]))).message).toMatch(/invalid byte at offset 1, line 2\)/);
  });

  it('refuses binary files', async () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52]);
    expect((await failure('image.jsonl', png)).message).toBe('image.jsonl: looks like a binary file, not a dataset (it holds NUL bytes)');
    const control = new Uint8Array(1000).map((_, i) => (i % 4 === 0 ? 0x01 : 0x61));
    expect((await failure('weird.txt', control)).message).toBe('weird.txt: looks like a binary file, not a dataset');
    expect((await failure('data.jsonl.gz', new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2, 3]))).message).toBe(
      'data.jsonl.gz: is gzip-compressed; decompress it first',
    );
    const utf16 = new Uint8Array([0xff, 0xfe, ...new Uint8Array(new Uint16Array([...'{"text":"a"}'].map((c) => c.charCodeAt(0))).buffer)]);
    expect((await failure('w.jsonl', utf16)).message).toBe('w.jsonl: is UTF-16 text, not UTF-8; save it as UTF-8');
    // A NUL beyond the first 8 KB is no sign of a binary file; it stays in the text.
    const late = new Uint8Array([...new TextEncoder().encode(`${'x'.repeat(9000)}\u0000`)]);
    expect((await read('late.txt', late)).examples).toHaveLength(1);
  });
});

describe('skip mode', () => {
  it('collects bad rows with their lines and goes on', async () => {
    const content = jsonl(
      { prompt: 'p1', completion: 'c1' },
      '{"prompt": "p2", "completion": }',
      { prompt: 'p3', completion: 3 },
      { prompt: 'p4', completion: 'c4' },
      { question: 'q5' },
      { prompt: 'p6', completion: 'c6' },
    );
    const r = await read('mixed.jsonl', content, { onBadRow: 'skip' });
    expect(r.format).toBe('completion');
    expect(r.examples.map((e) => e.source.line)).toEqual([1, 4, 6]);
    expect(r.skipped).toEqual([
      { file: 'mixed.jsonl', line: 2, message: "is not valid JSON: Unexpected token '}' (column 32)" },
      { file: 'mixed.jsonl', line: 3, message: '"completion" must be a string, got a number' },
      { file: 'mixed.jsonl', line: 5, message: 'has keys question; this file is completion data: each row needs prompt and completion' },
    ]);
  });

  it('skips ragged CSV rows and a final unterminated quote', async () => {
    const r = await read('s.csv', 'text,source\nok,web\ntoo,many,fields\nfine,book\n"never closed,x\n', { onBadRow: 'skip' });
    expect(r.examples.map((e) => [e.source.line, e.example])).toEqual([
      [2, { kind: 'text', text: 'ok' }],
      [4, { kind: 'text', text: 'fine' }],
    ]);
    expect(r.skipped.map((p) => [p.line, p.message])).toEqual([
      [3, 'has 3 fields but the header has 2; a field holding a comma must be in double quotes'],
      [5, 'has a quoted field that is never closed (unterminated quote at end of file)'],
    ]);
  });

  it('still fails when no row is valid, listing the first problems', async () => {
    const content = jsonl({ a: 1 }, { text: 5 }, '{oops', { messages: [] }, { b: 2 });
    const e = await failure('allbad.jsonl', content, { onBadRow: 'skip' });
    expect(e).toBeInstanceOf(DatasetError);
    expect(e.message).toBe(
      `allbad.jsonl: no valid rows; first problems: line 1: has keys a; ${ANY}; line 2: "text" must be a string, got a number; ` +
        `line 3: is not valid JSON: Expected property name or '}' (column 2); and 2 more`,
    );
  });
});
