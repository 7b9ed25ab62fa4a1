// A region that takes one dropped file, highlighted while a file is dragged over it.

import { type DragEvent, type ReactNode, useState } from 'react';

interface DropZoneProps {
  label: string;
  disabled?: boolean;
  onFile(file: File): void;
  children: ReactNode;
}

export function DropZone({ label, disabled = false, onFile, children }: DropZoneProps) {
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
      data-testid="drop-zone"
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
        const file = e.dataTransfer.files[0];
        if (file && !disabled) onFile(file);
      }}
    >
      {children}
    </div>
  );
}
