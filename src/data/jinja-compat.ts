// Two places where @huggingface/jinja (0.5.11 and 0.5.13) renders differently from the Python
// Jinja that transformers uses, both hit by published chat templates. Fixed here, once, on the
// library's own runtime classes, until the library fixes them:
// - str.strip/lstrip/rstrip ignore their argument and strip all whitespace: Qwen3's
//   `content.lstrip('\n')` then also eats leading spaces and tabs of code;
// - selectattr/rejectattr treat an item without the attribute as failing every test, so
//   `selectattr("tool_calls", "undefined")` (Mistral's role-alternation check) selects nothing.

import { Environment, Interpreter } from '@huggingface/jinja';

interface RuntimeValue {
  type: string;
  value: unknown;
  __bool__(): { value: boolean };
}
type Ctor = new (value?: unknown) => RuntimeValue;
type Builtins = Map<string, RuntimeValue>;

const STRIP = { strip: [true, true], lstrip: [true, false], rstrip: [false, true] } as const;

/** Python's str.strip(chars): chars None = whitespace. */
function pyStrip(s: string, chars: string | null, left: boolean, right: boolean): string {
  const strip = (c: string) => (chars === null ? /\s/.test(c) : chars.includes(c));
  let a = 0;
  let b = s.length;
  if (left) while (a < b && strip(s[a]!)) a++;
  if (right) while (b > a && strip(s[b - 1]!)) b--;
  return s.slice(a, b);
}

function patchStringStrip(): void {
  const probe = new Environment();
  probe.set('s', '');
  const value = probe.lookupVariable('s') as unknown as RuntimeValue;
  const StringValue = value.constructor as Ctor;
  const proto = StringValue.prototype as object;
  const descriptor = Object.getOwnPropertyDescriptor(proto, 'builtins');
  const original = descriptor?.get;
  if (!original) return;
  const FunctionValue = ((original.call(value) as Builtins).get('strip')!.constructor) as new (fn: (args: RuntimeValue[]) => RuntimeValue) => RuntimeValue;
  Object.defineProperty(proto, 'builtins', {
    configurable: true,
    get(this: RuntimeValue & { _tabtunePatched?: boolean }) {
      const map = original.call(this) as Builtins;
      if (!this._tabtunePatched) {
        this._tabtunePatched = true;
        for (const [name, [left, right]] of Object.entries(STRIP)) {
          map.set(
            name,
            new FunctionValue((args) => {
              const chars = args[0];
              const set = chars === undefined || chars.type === 'NullValue' || chars.type === 'UndefinedValue' ? null : String(chars.value);
              return new StringValue(pyStrip(this.value as string, set, left, right));
            }),
          );
        }
      }
      return map;
    },
  });
}

interface FilterNode {
  type: string;
  callee?: { value: string };
  args?: { type: string }[];
}
type Test = (...values: RuntimeValue[]) => boolean;
interface Interp {
  applyFilter(operand: RuntimeValue, filter: FilterNode, env: Environment): RuntimeValue;
  evaluate(node: unknown, env: unknown): RuntimeValue;
}

function patchSelectAttr(): void {
  const proto = Interpreter.prototype as unknown as Interp;
  const original = proto.applyFilter;
  const probe = new Environment();
  const UndefinedValue = (probe.lookupVariable('__missing__') as unknown as RuntimeValue).constructor as Ctor;
  proto.applyFilter = function (this: Interp, operand, filter, env) {
    const name = filter.type === 'CallExpression' ? filter.callee?.value : undefined;
    const items = operand.value as RuntimeValue[];
    const objects = operand.type === 'ArrayValue' && items.every((item) => item.value instanceof Map);
    if ((name !== 'selectattr' && name !== 'rejectattr') || !objects || filter.args?.some((a) => a.type !== 'StringLiteral')) {
      return original.call(this, operand, filter, env);
    }
    const [attr, testName, arg] = filter.args!.map((a) => this.evaluate(a, env));
    let test: (v: RuntimeValue) => boolean = (v) => v.__bool__().value;
    if (testName) {
      const t = (env.tests as unknown as Map<string, Test>).get(String(testName.value));
      if (!t) throw new Error(`Unknown test: ${String(testName.value)}`);
      test = (v) => t(v, arg!);
    }
    const kept = items.filter((item) => {
      const v = (item.value as Map<string, RuntimeValue>).get(String(attr!.value)) ?? new UndefinedValue();
      return test(v) === (name === 'selectattr');
    });
    return new (operand.constructor as Ctor)(kept);
  };
}

let patched = false;

/** Applies both fixes (idempotent). Call before rendering any template. */
export function patchJinjaForPythonParity(): void {
  if (patched) return;
  patched = true;
  patchStringStrip();
  patchSelectAttr();
}
