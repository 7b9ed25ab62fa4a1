// The YAML emitter: what it writes reads back as the same values in js-yaml (YAML 1.2), whatever
// the strings hold, and nothing it leaves plain changes type under YAML 1.1's resolver (PyYAML,
// axolotl's reader): strings stay strings, floats are floats.

import { describe, expect, it } from 'vitest';
import { toYaml, type YamlMap, type YamlValue } from '../../src/util/yaml.ts';
import { loadYaml } from './yaml-parsers.ts';

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

  it("leaves no string plain that YAML 1.1's resolver (PyYAML, axolotl's reader) would take for another type", () => {
    // PyYAML's implicit resolvers (resolver.py): a plain scalar matching one is not a string to it.
    const yaml11 = [
      /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/,
      /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/,
      /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/,
      /^(?:~|null|Null|NULL|)$/,
      /^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}/,
      /^(?:<<|=)$/,
    ];
    let plainCount = 0;
    for (const str of TRICKY_STRINGS) {
      const text = toYaml({ x: str }).slice('x: '.length, -1);
      if (text.startsWith("'") || text.startsWith('"')) continue;
      plainCount++;
      for (const re of yaml11) expect(re.test(text), `${JSON.stringify(str)} written plain as ${text}`).toBe(false);
    }
    expect(plainCount).toBeGreaterThan(3);
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
