// A small YAML writer for configuration files other programs read (axolotl's, through PyYAML's
// safe_load). Only what a config needs: mappings, lists, strings, numbers, booleans and null, in
// block style. Every scalar is written so that YAML 1.1 (PyYAML) and YAML 1.2 (most other parsers)
// read back the same value: a string that could be taken for anything else is quoted, and a
// float always has a "." and a signed exponent, as PyYAML needs to read it as a float at all.

export type YamlValue = string | number | boolean | null | YamlValue[] | YamlMap;
export interface YamlMap {
  [key: string]: YamlValue | undefined;
}

/** Words YAML 1.1 reads as booleans or null (PyYAML does); quoted when they are meant as strings. */
const RESERVED = /^(?:y|n|yes|no|true|false|on|off|null|~)$/i;
/** Plain (unquoted) only for identifier-like text: nothing a parser could read as a number, a date or syntax. */
const PLAIN = /^[A-Za-z_][A-Za-z0-9_./-]*$/;

/**
 * A double-quoted scalar. JSON's string escapes are YAML's too; characters YAML does not allow in a
 * stream (DEL, C1 controls, the non-characters U+FFFE/U+FFFF) and those YAML 1.1 takes for line
 * breaks, which a quoted scalar folds into a space (NEL, U+2028, U+2029), are escaped as well.
 */
function quoted(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\u009f\u2028\u2029\ufffe\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function stringScalar(s: string): string {
  return PLAIN.test(s) && !RESERVED.test(s) ? s : quoted(s);
}

/** 2e-4 -> 0.0002, 1e-8 -> 1.0e-8, 16 -> 16: a float PyYAML's resolver recognizes as one. */
function numberScalar(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`YAML: ${x} has no portable form`);
  const s = String(x);
  if (!s.includes('e')) return s;
  const [mantissa, exponent] = s.split('e') as [string, string];
  return `${mantissa.includes('.') ? mantissa : `${mantissa}.0`}e${/^[+-]/.test(exponent) ? exponent : `+${exponent}`}`;
}

function scalar(v: string | number | boolean | null): string {
  if (v === null) return '';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return numberScalar(v);
  return stringScalar(v);
}

function keyText(k: string): string {
  return PLAIN.test(k) && !RESERVED.test(k) ? k : quoted(k);
}

const isMap = (v: YamlValue): v is YamlMap => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Lines of a mapping at `indent`; keys whose value is undefined are left out. */
function mappingLines(m: YamlMap, indent: string, comments: Record<string, string> = {}): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(m)) {
    if (v === undefined) continue;
    for (const line of comments[k]?.split('\n') ?? []) out.push(`${indent}# ${line}`);
    out.push(...entryLines(`${indent}${keyText(k)}:`, v, indent));
  }
  return out;
}

/** `head` is "key:" or "-"; the value follows on the same line when it is a scalar or empty. */
function entryLines(head: string, v: YamlValue, indent: string): string[] {
  if (Array.isArray(v)) {
    if (v.length === 0) return [`${head} []`];
    return [head, ...v.flatMap((item) => itemLines(item, `${indent}  `))];
  }
  if (isMap(v)) {
    const inner = mappingLines(v, `${indent}  `);
    return inner.length ? [head, ...inner] : [`${head} {}`];
  }
  const text = scalar(v);
  return [text === '' ? head : `${head} ${text}`];
}

/** A list item: "- scalar", or a mapping whose first key shares the "- " line. */
function itemLines(v: YamlValue, indent: string): string[] {
  if (isMap(v)) {
    const inner = mappingLines(v, `${indent}  `);
    if (!inner.length) return [`${indent}- {}`];
    return [`${indent}- ${inner[0]!.trimStart()}`, ...inner.slice(1)];
  }
  return entryLines(`${indent}-`, v, indent);
}

/**
 * The mapping as a YAML document. `header` lines become comments at the top; `comments` puts a
 * comment above a top-level key (to say why a value is what it is).
 */
export function toYaml(doc: YamlMap, o: { header?: string[]; comments?: Record<string, string> } = {}): string {
  const lines = [...(o.header ?? []).map((h) => (h ? `# ${h}` : '#')), ...mappingLines(doc, '', o.comments)];
  return `${lines.join('\n')}\n`;
}
