// The WebGPU adapter the engine worker opened, and the limits that bound model and batch sizes.

import { useAppStore } from '../state/store.ts';
import { formatBytes } from '../util/format.ts';

export function GpuStatus() {
  const adapter = useAppStore((s) => s.adapter);
  const f16 = useAppStore((s) => s.f16);
  const limits = useAppStore((s) => s.limits);
  if (!adapter || !limits) return null;
  const name = [adapter.vendor, adapter.architecture].filter(Boolean).join(' · ') || 'unnamed adapter';
  const detail = adapter.description || adapter.device;

  return (
    <section className="card" data-testid="gpu-status">
      <h2>
        GPU <span className="badge badge--ok">ready</span>
      </h2>
      <dl className="facts">
        <dt>Adapter</dt>
        <dd data-testid="gpu-adapter">
          {name}
          {detail && <div className="muted mono">{detail}</div>}
        </dd>
        <dt>Vendor</dt>
        <dd data-testid="gpu-vendor">{adapter.vendor || '—'}</dd>
        <dt>Architecture</dt>
        <dd data-testid="gpu-architecture">{adapter.architecture || '—'}</dd>
        <dt>shader-f16</dt>
        <dd data-testid="gpu-f16">{f16 ? 'yes' : 'no'}</dd>
        <dt>maxBufferSize</dt>
        <dd data-testid="gpu-max-buffer-size" data-bytes={limits.maxBufferSize}>
          {formatBytes(limits.maxBufferSize)} <span className="muted">({limits.maxBufferSize.toLocaleString('en')} bytes)</span>
        </dd>
        <dt>maxStorageBufferBindingSize</dt>
        <dd data-testid="gpu-max-binding-size" data-bytes={limits.maxStorageBufferBindingSize}>
          {formatBytes(limits.maxStorageBufferBindingSize)}{' '}
          <span className="muted">({limits.maxStorageBufferBindingSize.toLocaleString('en')} bytes)</span>
        </dd>
      </dl>
    </section>
  );
}
