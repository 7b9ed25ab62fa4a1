// A region that takes dropped files (the first one, or all of them), highlighted while files are
// dragged over it.

import { type DragEvent, type ReactNode, useState } from 'react';

interface DropZoneProps {
  label: string;
  disabled?: boolean;
  /** The first dropped file (a dataset). */
  onFile?(file: File): void;
  /** Every dropped file (a model: a .gguf with its tokenizer.json, or a folder's files). */
  onFiles?(files: File[]): void;
  /** Default "drop-zone". */
  testId?: string;
  children: ReactNode;
}

export function DropZone({ label, disabled = false, onFile, onFiles, testId = 'drop-zone', children }: DropZoneProps) {
  const [over, setOver] = useState(false);

  function accept(e: DragEvent<HTMLElement>) {
    // Without preventDefault the browser refuses the drop (and opens the file instead).
    e.preventDefault();
    e.dataTransfer.dropEffect = disabled ? 'none' : 'copy';
    if (!disabled) setOver(true);
  }

  return (
    <div
      role="region"
      aria-label={label}
      className={`drop-zone${over ? ' drop-zone--over' : ''}`}
      data-testid={testId}
      data-dragging={over}
      onDragEnter={accept}
      onDragOver={accept}
      onDragLeave={(e) => {
        // dragleave also fires when the pointer moves onto a child; only leaving the zone counts.
        if (!e.currentTarget.contains(e.relatedTarget as Node | null)) setOver(false);
      }}
      onDrop={(e) => {
        e.preventDefault();
        setOver(false);
        const files = [...e.dataTransfer.files];
        if (disabled || files.length === 0) return;
        if (onFiles) onFiles(files);
        else onFile?.(files[0]!);
      }}
    >
      {children}
    </div>
  );
}
