// Reading the dataset files users bring (TRL / mlx-lm / axolotl conventions) into sourced examples.
//
// Containers, chosen by the file name's extension:
//   .jsonl .ndjson   one JSON object a line; blank lines ignored. Streamed line by line.
//   .json            an array of objects, or an object with a "data" / "train" array. Read WHOLE (one
//                    string, one JSON.parse). A .json file that is really JSON Lines (what Hugging Face
//                    `Dataset.to_json` writes) is read as JSON Lines.
//   .csv .tsv        a header row naming the columns, then one record a row; RFC 4180 quoting (quoted
//                    fields may hold the delimiter, doubled quotes and newlines). Streamed. Line endings
//                    inside a quoted field come back as "\n".
//   .txt             plain text: documents separated by blank lines, or the whole file as one text.
//   anything else    sniffed: '[' -> JSON, a first line that is a JSON object -> JSON Lines, else text.
//
// Record shapes (see detectFormat): {"text"}; {"prompt", "completion"}; {"messages": [{role, content}]}
// (ShareGPT {"conversations": [{from, value}]} too, human/gpt -> user/assistant); Alpaca
// {"instruction", "input"?, "output"}; pre-tokenized {"input_ids", "labels"?} with -100 = ignored.
// With format 'auto' the first valid record fixes the shape; a later record of another shape is a bad row.
//
// Streaming: bytes -> (binary sniff on the first 8 KB) -> fatal streaming UTF-8 decode -> lines split
// incrementally. Beyond the examples returned, memory held is one line (or one CSV record) at a time.
//
// Line numbers are 1-based lines of the file: the line of a JSONL object, the line where a CSV record
// or a JSON array element starts, the first line of a .txt document.

import { csvRecords } from './csv.ts';
import { DatasetError } from './errors.ts';
import { elementLines, jsonErrorAt, jsonMessage, lineAt } from './json-locate.ts';
import { detectFormat, FORMAT_NAME, hasRequired, isObject, keysPhrase, NEEDS, typeName } from './records.ts';
import { Sink } from './sink.ts';
import type { BadRowPolicy, DatasetFormat, RowProblem, SourcedExample } from './types.ts';
import { collect, decodeUtf8, type Line, Replay, sniffBinary, splitLines } from './utf8-lines.ts';

export { detectFormat };

export interface ReadOptions {
  /** 'auto' (default) detects from the file name and the first record. */
  format?: DatasetFormat | 'auto';
  /** 'stop' (default): throw DatasetError for the first bad row; 'skip': collect it in `skipped` and go on. */
  onBadRow?: BadRowPolicy;
  /** .txt: 'documents' (default) splits on blank lines; 'stream' yields the whole file as one text example (trainers chunk it). */
  txtMode?: 'documents' | 'stream';
}

export interface ReadResult {
  format: DatasetFormat;
  examples: SourcedExample[];
  /** Bad rows passed over with onBadRow 'skip' (always empty with 'stop'). */
  skipped: RowProblem[];
}

type Container = 'jsonl' | 'json' | 'csv' | 'tsv' | 'txt';

/**
 * Reads a dataset. `name` is the file name shown in messages and used for the extension; `chunks` are
 * the file's bytes as they arrive. Throws DatasetError for an unreadable file, an empty one, and (with
 * onBadRow 'stop') for the first bad row.
 */
export async function readDataset(
  name: string,
  chunks: AsyncIterable<Uint8Array>,
  opts: ReadOptions = {},
): Promise<ReadResult> {
  const fixed = opts.format === undefined || opts.format === 'auto' ? null : opts.format;
  const sink = new Sink(name, opts.onBadRow ?? 'stop', fixed);
  const text = new Replay(decodeUtf8(name, sniffBinary(name, chunks)));
  try {
    const container = containerOf(name) ?? (await sniffContainer(text));
    if (container === 'txt' && fixed !== null && fixed !== 'text') {
      throw new DatasetError(name, 0, `holds plain text; format "${fixed}" needs a JSONL, JSON or CSV file`);
    }
    switch (container) {
      case 'jsonl':
        await readJsonl(splitLines(text), sink);
        break;
      case 'json':
        readJson(await collect(text), sink);
        break;
      case 'csv':
      case 'tsv':
        await readCsv(splitLines(text), container === 'csv' ? ',' : '\t', sink);
        break;
      case 'txt':
        if (opts.txtMode === 'stream') await readTxtWhole(text, sink);
        else await readTxt(splitLines(text), sink);
        break;
    }
  } finally {
    await text.close();
  }
  return sink.finish();
}

// ---------------------------------------------------------------------------------------------------
// Containers

function containerOf(name: string): Container | null {
  const base = name.slice(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1);
  const dot = base.lastIndexOf('.');
  const ext = dot > 0 ? base.slice(dot + 1).toLowerCase() : '';
  switch (ext) {
    case 'jsonl':
    case 'ndjson':
      return 'jsonl';
    case 'json':
      return 'json';
    case 'csv':
      return 'csv';
    case 'tsv':
      return 'tsv';
    case 'txt':
      return 'txt';
    default:
      return null;
  }
}

/** For a file with an unknown extension: JSON, JSON Lines or plain text, from its first line. */
async function sniffContainer(text: Replay): Promise<Container> {
  const head = await text.peek((s) => {
    const t = s.trimStart();
    return t.includes('\n') || t.length >= 65536;
  });
  const start = head.trimStart();
  if (start.startsWith('[')) return 'json';
  if (!start.startsWith('{')) return 'txt';
  const nl = start.indexOf('\n');
  try {
    return isObject(JSON.parse(nl < 0 ? start : start.slice(0, nl))) ? 'jsonl' : 'json';
  } catch {
    return 'json';
  }
}

async function readJsonl(lines: AsyncIterable<Line[]>, sink: Sink): Promise<void> {
  let first = true;
  for await (const batch of lines) {
    for (const { text, line } of batch) {
      const t = text.trim();
      if (t === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(t);
      } catch (e) {
        let hint = '';
        if (first && (t === '{' || t === '[' || t.startsWith('[{'))) {
          hint = '; each line of a JSON Lines file must hold one whole object (a JSON array or pretty-printed JSON belongs in a .json file)';
        }
        first = false;
        sink.bad(line, `is not valid JSON: ${jsonMessage(e, t)}${hint}`);
        continue;
      }
      first = false;
      sink.record(value, line);
    }
  }
}

/** A .json file, read whole: an array of records, an object holding one under "data" / "train", or JSON Lines. */
function readJson(text: string, sink: Sink): void {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    // Hugging Face `Dataset.to_json("x.json")` writes JSON Lines: read it as such.
    const start = text.trimStart();
    const nl = start.indexOf('\n');
    const firstLine = nl < 0 ? start : start.slice(0, nl);
    if (start.startsWith('{') && parsesAsObject(firstLine)) {
      readJsonlText(text, sink);
      return;
    }
    const at = jsonErrorAt(e, text);
    const line = at < 0 ? 0 : lineAt(text, at);
    throw new DatasetError(sink.file, line, `is not valid JSON: ${jsonMessage(e, text)}`);
  }
  let rows: unknown[];
  let key: string | null = null;
  if (Array.isArray(doc)) {
    rows = doc;
  } else if (isObject(doc)) {
    const k = ['data', 'train'].find((c) => Array.isArray(doc[c]));
    if (k !== undefined) {
      rows = doc[k] as unknown[];
      key = k;
    } else if (detectFormat(doc) !== null || sink.format !== null) {
      sink.record(doc, lineAt(text, text.length - text.trimStart().length));
      return;
    } else {
      throw new DatasetError(sink.file, 0, `is a JSON object with ${keysPhrase(doc)}; expected a list of records, or an object with a "data" or "train" list`);
    }
  } else {
    throw new DatasetError(sink.file, 0, `is ${typeName(doc)} in JSON; expected a list of records`);
  }
  const lines = elementLines(text, key);
  const lineOf = (i: number) => (lines.length === rows.length ? (lines[i] ?? i + 1) : i + 1);
  rows.forEach((row, i) => sink.record(row, lineOf(i)));
}

function parsesAsObject(s: string): boolean {
  try {
    return isObject(JSON.parse(s));
  } catch {
    return false;
  }
}

function readJsonlText(text: string, sink: Sink): void {
  let line = 1;
  let from = 0;
  while (from <= text.length) {
    const nl = text.indexOf('\n', from);
    const end = nl < 0 ? text.length : nl;
    const t = text.slice(from, end).trim();
    if (t !== '') {
      let value: unknown;
      try {
        value = JSON.parse(t);
      } catch (e) {
        sink.bad(line, `is not valid JSON: ${jsonMessage(e, t)}`);
        value = undefined;
      }
      if (value !== undefined) sink.record(value, line);
    }
    if (nl < 0) break;
    from = nl + 1;
    line++;
  }
}

async function readCsv(lines: AsyncIterable<Line[]>, delim: string, sink: Sink): Promise<void> {
  let header: string[] | null = null;
  const what = delim === ',' ? 'comma' : 'tab';
  for await (const rec of csvRecords(lines, delim)) {
    if (rec.fields === null) {
      sink.bad(rec.line, 'has a quoted field that is never closed (unterminated quote at end of file)');
      continue;
    }
    if (header === null) {
      header = rec.fields.map((h) => h.trim());
      checkHeader(header, rec.line, sink);
      continue;
    }
    if (rec.fields.length !== header.length) {
      sink.bad(rec.line, `has ${rec.fields.length} fields but the header has ${header.length}; a field holding a ${what} must be in double quotes`);
      continue;
    }
    const row: Record<string, unknown> = {};
    header.forEach((h, i) => {
      if (h !== '') row[h] = rec.fields![i];
    });
    sink.record(row, rec.line, true);
  }
}

function checkHeader(header: string[], line: number, sink: Sink): void {
  const seen = new Set<string>();
  for (const h of header) {
    if (h !== '' && seen.has(h)) throw new DatasetError(sink.file, line, `the header names column "${h}" twice`);
    seen.add(h);
  }
  const cols = Object.fromEntries(header.filter((h) => h !== '').map((h) => [h, '']));
  const named = header.length === 0 || (header.length === 1 && header[0] === '') ? 'no columns' : `columns ${header.join(', ')}`;
  if (sink.format === null) {
    if (detectFormat(cols) === null) {
      throw new DatasetError(sink.file, line, `the header names ${named}; it must name text, or prompt and completion, or messages, or instruction and output, or input_ids`);
    }
  } else if (!hasRequired(cols, sink.format)) {
    throw new DatasetError(sink.file, line, `the header names ${named}; this file is ${FORMAT_NAME[sink.format]} data: the header must name ${NEEDS[sink.format]}`);
  }
}

/** Plain text as one example, line endings made "\n" (it is the whole file in memory, necessarily). */
async function readTxtWhole(text: AsyncIterable<string>, sink: Sink): Promise<void> {
  sink.format = 'text';
  const all = (await collect(text)).replace(/\r\n/g, '\n');
  if (all.trim() !== '') sink.add({ kind: 'text', text: all }, 1);
}

async function readTxt(lines: AsyncIterable<Line[]>, sink: Sink): Promise<void> {
  sink.format = 'text';
  let doc: string[] = [];
  let start = 0;
  const flush = () => {
    if (doc.length > 0) sink.add({ kind: 'text', text: doc.join('\n') }, start);
    doc = [];
  };
  for await (const batch of lines) {
    for (const { text, line } of batch) {
      if (text.trim() === '') {
        flush();
      } else {
        if (doc.length === 0) start = line;
        doc.push(text);
      }
    }
  }
  flush();
}
