// JSON.parse says what is wrong but not where in the user's file; these turn its errors (and valid
// documents) into columns and file lines, so a bad row can be found and fixed.

/** The parser's message without the echo of the input and the raw position; a column where known. */
export function jsonMessage(e: unknown, source: string): string {
  const raw = e instanceof Error ? e.message : String(e);
  let msg = raw
    .replace(/, (\.\.\.)?".*"(\.\.\.)? is not valid JSON$/s, '')
    .replace(/ in JSON at position \d+( \(line \d+ column \d+\))?/, '')
    .replace(/ of JSON input$/, ' of input');
  const at = jsonErrorAt(e, source);
  if (at >= 0 && !msg.includes('end of')) {
    const lineStart = source.lastIndexOf('\n', at - 1) + 1;
    msg += ` (column ${at - lineStart + 1})`;
  }
  return msg;
}

/** Where JSON.parse failed: the position its message gives, else where our own scan stops; -1 if unknown. */
export function jsonErrorAt(e: unknown, source: string): number {
  const given = /at position (\d+)/.exec(e instanceof Error ? e.message : '');
  return given ? Number(given[1]) : jsonErrorOffset(source);
}

/** 1-based line of a string offset. */
export function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

/** Where JSON.parse stops: the offset of the first syntax error, or -1 for valid JSON. Run only on failure. */
function jsonErrorOffset(s: string): number {
  let i = 0;
  const fail = (): never => {
    throw i;
  };
  const ws = () => {
    for (let c = s.charCodeAt(i); c === 32 || c === 9 || c === 10 || c === 13; c = s.charCodeAt(++i));
  };
  const string = () => {
    i++; // opening quote
    for (;;) {
      if (i >= s.length) fail();
      const c = s.charCodeAt(i);
      if (c === 34) {
        i++;
        return;
      }
      if (c < 32) fail();
      if (c === 92) {
        const d = s[i + 1];
        if (d === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(s.slice(i + 2, i + 6))) fail();
          i += 6;
        } else if (d !== undefined && '"\\/bfnrt'.includes(d)) i += 2;
        else {
          i++;
          fail();
        }
      } else i++;
    }
  };
  const digit = () => {
    const c = s.charCodeAt(i);
    return c >= 48 && c <= 57;
  };
  const digits = () => {
    if (!digit()) fail();
    while (digit()) i++;
  };
  const number = () => {
    if (s[i] === '-') i++;
    if (s[i] === '0') i++;
    else digits();
    if (s[i] === '.') {
      i++;
      digits();
    }
    if (s[i] === 'e' || s[i] === 'E') {
      i++;
      if (s[i] === '+' || s[i] === '-') i++;
      digits();
    }
  };
  const literal = (word: string) => {
    for (const ch of word) {
      if (s[i] !== ch) fail();
      i++;
    }
  };
  const value = (): void => {
    ws();
    const c = s[i];
    if (c === '{') {
      i++;
      ws();
      if (s[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (s[i] !== '"') fail();
        string();
        ws();
        if (s[i] !== ':') fail();
        i++;
        value();
        ws();
        if (s[i] === ',') i++;
        else if (s[i] === '}') {
          i++;
          return;
        } else fail();
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (s[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (s[i] === ',') i++;
        else if (s[i] === ']') {
          i++;
          return;
        } else fail();
      }
    }
    if (c === '"') return string();
    if (c === '-' || digit()) return number();
    return literal(c === 't' ? 'true' : c === 'f' ? 'false' : 'null');
  };
  try {
    value();
    ws();
    if (i < s.length) fail();
    return -1;
  } catch (at) {
    return typeof at === 'number' ? Math.min(at, s.length) : -1;
  }
}

/**
 * The line where each element of the records list starts: the top-level array (key null) or the array
 * under a top-level key. The text is valid JSON (JSON.parse accepted it).
 */
export function elementLines(text: string, key: string | null): number[] {
  interface Frame {
    array: boolean;
    /** array: expecting a value; object: expecting a key */
    expect: boolean;
    target: boolean;
  }
  const out: number[] = [];
  const stack: Frame[] = [];
  let topKey: string | null = null;
  let line = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) {
      line++;
      continue;
    }
    if (c === 32 || c === 9 || c === 13) continue;
    const top = stack[stack.length - 1];
    if (top?.array && top.expect && c !== 93 /* ] */) {
      if (top.target) out.push(line);
      top.expect = false;
    }
    if (c === 34 /* " */) {
      const from = i;
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 92) i++;
        else if (d === 34) break;
      }
      if (top && !top.array && top.expect) {
        if (stack.length === 1) topKey = JSON.parse(text.slice(from, i + 1)) as string;
        top.expect = false;
      }
    } else if (c === 123 /* { */ || c === 91 /* [ */) {
      const array = c === 91;
      const target = array && (key === null ? stack.length === 0 : stack.length === 1 && topKey === key);
      stack.push({ array, expect: true, target });
    } else if (c === 125 /* } */ || c === 93 /* ] */) {
      stack.pop();
    } else if (c === 44 /* , */ && top) {
      top.expect = true;
    }
  }
  return out;
}
