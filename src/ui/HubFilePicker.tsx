// A hub repo's model files to choose from before anything is downloaded: its Hugging Face weights
// (config.json + safetensors) if it has them, and each GGUF file with its size and quant type.

import { useId } from 'react';
import type { HubFileList } from '../protocol/messages.ts';
import { sizeText } from '../util/download-text.ts';

interface Props {
  list: HubFileList;
  /** The GGUF picked, by path; null: the Hugging Face weights (or nothing yet, in a GGUF-only repo). */
  picked: string | null;
  disabled?: boolean;
  onPick(path: string | null): void;
}

export function HubFilePicker({ list, picked, disabled = false, onPick }: Props) {
  const name = useId();
  const safetensorsBytes = list.files.filter((f) => f.path.endsWith('.safetensors')).reduce((n, f) => n + f.size, 0);
  return (
    <fieldset className="hub-files" data-testid="hub-files" disabled={disabled}>
      <legend>Model file in {list.repo}</legend>
      {list.hasSafetensors && (
        <label className="hub-files__option">
          <input type="radio" name={name} checked={picked === null} onChange={() => onPick(null)} />
          <span>
            Hugging Face weights (safetensors) <span className="muted">· {sizeText(safetensorsBytes)}</span>
          </span>
        </label>
      )}
      {list.ggufs.map((g) => (
        <label key={g.path} className="hub-files__option" data-testid="hub-gguf" data-path={g.path} data-quant={g.quant ?? ''}>
          <input type="radio" name={name} checked={picked === g.path} disabled={g.unusable !== null} onChange={() => onPick(g.path)} />
          <span>
            <span className="mono">{g.path}</span> <span className="muted">· {sizeText(g.size)} · {g.quant ?? 'type not in the name'}</span>
            {g.unusable && <span className="muted"> · {g.unusable}</span>}
          </span>
        </label>
      ))}
      {!list.hasSafetensors && picked === null && list.ggufs.some((g) => !g.unusable) && (
        <p className="muted" data-testid="hub-pick-hint">
          Pick one GGUF file: only that file is downloaded.
        </p>
      )}
    </fieldset>
  );
}
