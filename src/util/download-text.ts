// One line for a file's download, shared by the worker's progress messages and the model panel:
// "12.3 / 270.0 MiB · 4.5 MiB/s · model.safetensors".

import type { DownloadProgress } from '../protocol/messages.ts';

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

function unitFor(n: number): number {
  let i = 0;
  while (n >= 1024 && i < UNITS.length - 1) {
    n /= 1024;
    i++;
  }
  return i;
}

function inUnit(n: number, i: number): string {
  return i === 0 ? String(n) : (n / 1024 ** i).toFixed(1);
}

/** 1234567 -> "1.2 MiB". */
export function sizeText(n: number): string {
  const i = unitFor(n);
  return `${inUnit(n, i)} ${UNITS[i]}`;
}

export function downloadText(d: DownloadProgress): string {
  if (d.cached) return `${sizeText(d.loaded)} · from cache · ${d.file}`;
  // Both figures in the total's unit, so "12.3 / 270.0 MiB" reads as a fraction.
  const i = unitFor(d.total ?? d.loaded);
  const amount = d.total === null ? `${inUnit(d.loaded, i)} ${UNITS[i]}` : `${inUnit(d.loaded, i)} / ${inUnit(d.total, i)} ${UNITS[i]}`;
  return `${amount} · ${sizeText(Math.round(d.bytesPerSecond))}/s · ${d.file}`;
}
