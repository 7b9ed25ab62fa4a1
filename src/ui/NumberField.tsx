// A labelled number input bound to a store value. It keeps the text being typed ("2e-", "0.") on its
// own and commits only numbers that pass `valid`, so a half-typed value never reaches the settings and
// the cursor never jumps; a change from outside (a preset) replaces the text.

import { type ReactNode, useState } from 'react';

export interface NumberFieldProps {
  /** The accessible name; keep it short and unique ("Rank", "Batch size"). */
  label: string;
  value: number;
  onCommit(value: number): void;
  integer?: boolean;
  min?: number;
  max?: number;
  step?: number | 'any';
  /** A further rule, e.g. strictly positive. */
  check?(value: number): boolean;
  /** Ids of hints that describe the field (aria-describedby). */
  describedBy?: string;
  /** Shown after the input, outside the label, so it does not change the field's name. */
  suffix?: ReactNode;
  testId?: string;
}

export function NumberField(p: NumberFieldProps) {
  const [text, setText] = useState(String(p.value));
  const [shown, setShown] = useState(p.value);
  // Adjusting state during render (not in an effect) keeps the text in step with outside changes
  // without a flash of the old value.
  if (shown !== p.value) {
    setShown(p.value);
    setText(String(p.value));
  }
  const parsed = text.trim() === '' ? NaN : Number(text);
  const ok = isValid(parsed, p);

  return (
    <span className="field">
      <label>
        <span className="field__name">{p.label}</span>
        <input
          type="number"
          value={text}
          min={p.min}
          max={p.max}
          step={p.step ?? (p.integer ? 1 : 'any')}
          aria-invalid={ok ? undefined : true}
          aria-describedby={p.describedBy}
          data-testid={p.testId}
          onChange={(e) => {
            const t = e.target.value;
            setText(t);
            const n = t.trim() === '' ? NaN : Number(t);
            if (isValid(n, p)) {
              setShown(n);
              p.onCommit(n);
            }
          }}
        />
      </label>
      {p.suffix}
    </span>
  );
}

function isValid(n: number, p: NumberFieldProps): boolean {
  if (!Number.isFinite(n)) return false;
  if (p.integer && !Number.isInteger(n)) return false;
  if (p.min !== undefined && n < p.min) return false;
  if (p.max !== undefined && n > p.max) return false;
  return p.check ? p.check(n) : true;
}
