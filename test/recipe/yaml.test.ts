// The YAML emitter: what it writes reads back as the same values in js-yaml (YAML 1.2) and PyYAML
// (YAML 1.1, axolotl's reader), whatever the strings hold; floats are floats to PyYAML too.

import { describe, expect, it } from 'vitest';
import { toYaml, type YamlMap, type YamlValue } from '../../src/util/yaml.ts';
import { hasPyYaml, loadPyYamlTyped, loadYaml } from './yaml-parsers.ts';

const TRICKY_STRINGS = [
  'plain', 'data.jsonl', './outputs/lora', '/abs/path with spaces/x', 'owner/name', '', ' ', ' lead', 'trail ',
  'yes', 'No', 'ON', 'off', 'y', 'n', 'true', 'False', 'null', '~', 'Null',
  '123', '-1', '1e3', '2e-4', '0x1F', '0o17', '1_000', '1:20', '2024-07-26', '.inf', '.nan', 'NaN',
  'a: b', 'a #b', '#c', '- x', '? q', '[x]', '{y}', '*ref', '&anchor', '!tag', '%dir', '@x', '`x', '|', '>', '"q"', "'s'",
  'line\nbreak', 'tab\there', 'back\\slash', 'ünïcödé 日本', 'emoji 🦎', 'del\u007fc1\u0085\u0090', 'separators\u2028\u2029', 'nonchar\ufffe',
];

const DOC: YamlMap = {
  strings: TRICKY_STRINGS,
  ints: [0, 16, -3, 4096, 2 ** 40],
  floats: [0.5, -0.25, 2e-4, 1e-8, 1e-7, 0.999, 1e21, 1.5e300, 5e-324],
  flags: [true, false],
  empty: null,
  nothing: [],
  map: { a: 1, 'b c': 'd', yes: 'key named yes' },
  list_of_maps: [{ path: 'data.jsonl', ds_type: 'json', type: null, split: 'train' }, { only: 1 }],
  nested: [[1, 2], ['x']],
};

/** What a parser should give back: undefined entries left out, as the emitter leaves them out. */
function plain(v: YamlValue | undefined): unknown {
  return JSON.parse(JSON.stringify(v)) as unknown;
}

describe('toYaml', () => {
  it('reads back the same in js-yaml, tricky strings included', () => {
    expect(loadYaml(toYaml(DOC))).toEqual(plain(DOC));
  });

  it.skipIf(!hasPyYaml)('reads back the same in PyYAML (axolotl reads its config with yaml.safe_load), floats as floats', () => {
    const typed = (v: YamlValue): unknown => {
      if (Array.isArray(v)) return v.map(typed);
      if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, typed(x!)]));
      if (v === null) return ['NoneType', null];
      // Integers too large to write without an exponent are written as floats (1.0e+21).
      if (typeof v === 'number') return [Number.isInteger(v) && !String(v).includes('e') ? 'int' : 'float', v];
      return [typeof v === 'string' ? 'str' : 'bool', v];
    };
    expect(loadPyYamlTyped(toYaml(DOC))).toEqual(typed(DOC));
  });

  it("writes each float so YAML 1.1's resolver takes it for a float: a '.' and a signed exponent", () => {
    // PyYAML's float pattern for decimal notation (resolver.py); "2e-4" or "1e-08" would be strings to it.
    const pyFloat = /^[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?$/;
    for (const x of DOC.floats as number[]) {
      const text = toYaml({ x }).trim().slice('x: '.length);
      expect(text, String(x)).toMatch(pyFloat);
      expect(Number(text)).toBe(x);
    }
    expect(toYaml({ lr: 2e-4, eps: 1e-8 })).toBe('lr: 0.0002\neps: 1.0e-8\n');
  });

  it('quotes only what a parser could take for something else', () => {
    expect(toYaml({ a: 'lora', b: 'yes', c: '1', d: './x', e: 'a b' })).toBe('a: lora\nb: "yes"\nc: "1"\nd: "./x"\ne: "a b"\n');
  });

  it('writes null as an empty value, lists and maps in block style, empty ones in flow style', () => {
    expect(toYaml({ datasets: [{ path: 'd.jsonl', type: null }], none: [], nomap: {} })).toBe('datasets:\n  - path: d.jsonl\n    type:\nnone: []\nnomap: {}\n');
  });

  it('leaves out undefined values and writes the header and per-key comments', () => {
    const text = toYaml({ a: 1, b: undefined, c: 2 }, { header: ['made by a test'], comments: { c: 'why c\nis 2' } });
    expect(text).toBe('# made by a test\na: 1\n# why c\n# is 2\nc: 2\n');
    expect(loadYaml(text)).toEqual({ a: 1, c: 2 });
  });

  it('refuses numbers YAML has no portable form for', () => {
    expect(() => toYaml({ x: Number.NaN })).toThrow(/NaN/);
    expect(() => toYaml({ x: Number.POSITIVE_INFINITY })).toThrow(/Infinity/);
  });
});
