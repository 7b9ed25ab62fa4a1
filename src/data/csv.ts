// CSV and TSV exported from spreadsheets quote fields that hold the delimiter, quotes or newlines, so a
// record is not a line: this reassembles RFC 4180 records from the streamed lines.

import type { Line } from './utf8-lines.ts';

export interface CsvRecord {
  /** null: a quoted field runs to the end of the file. */
  fields: string[] | null;
  /** The line where the record starts. */
  line: number;
}

export async function* csvRecords(lines: AsyncIterable<Line[]>, delim: string): AsyncGenerator<CsvRecord> {
  let fields: string[] = [];
  let cur: string[] = []; // pieces of the current field
  let inRecord = false;
  let inQuotes = false;
  let fieldStart = true;
  let start = 0;
  for await (const batch of lines) {
    for (const { text, line } of batch) {
      if (!inRecord) {
        if (text.trim() === '') continue;
        if (!text.includes('"')) {
          yield { fields: text.split(delim), line };
          continue;
        }
        inRecord = true;
        start = line;
        fields = [];
        cur = [];
        fieldStart = true;
      } else {
        cur.push('\n'); // a newline inside a quoted field
      }
      let i = 0;
      while (i < text.length) {
        if (inQuotes) {
          const q = text.indexOf('"', i);
          if (q < 0) {
            cur.push(text.slice(i));
            i = text.length;
          } else {
            cur.push(text.slice(i, q));
            if (text[q + 1] === '"') {
              cur.push('"');
              i = q + 2;
            } else {
              inQuotes = false;
              i = q + 1;
            }
          }
          continue;
        }
        const ch = text[i]!;
        if (ch === delim) {
          fields.push(cur.join(''));
          cur = [];
          fieldStart = true;
        } else if (ch === '"' && fieldStart) {
          inQuotes = true;
          fieldStart = false;
        } else {
          // Text after a closing quote, or a quote inside an unquoted field: kept as is (like Python's csv).
          cur.push(ch);
          fieldStart = false;
        }
        i++;
      }
      if (!inQuotes) {
        fields.push(cur.join(''));
        inRecord = false;
        yield { fields, line: start };
      }
    }
  }
  if (inRecord) yield { fields: null, line: start };
}
