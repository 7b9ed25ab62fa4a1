// Downloads from a hub stand-in on 127.0.0.1: progress with bytes, total and a sliding-window speed,
// and cancellation through an AbortSignal. The demo model's folder plays the repo.

import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpeedMeter } from '../../src/formats/download-speed.ts';
import { hubFiles, type HubProgress } from '../../src/formats/hub-files.ts';
import { downloadText } from '../../src/util/download-text.ts';
import { throttledDownloads } from '../../src/worker/model-download.ts';
import { startHubServer, type HubServer } from '../helpers/hub-server.ts';

const DEMO = join(import.meta.dirname, '..', '..', 'public', 'models', 'kjv-llama');
const WEIGHTS = 'model.safetensors';
const SIZE = statSync(join(DEMO, WEIGHTS)).size;
const FAST = 'tabtune-test/kjv-llama';
const SLOW = 'tabtune-test/slow-llama';
/** 32 KiB every 25 ms: about 1.3 MB/s, so the weights take about a second. */
const SLOW_CHUNK = 32768;
const SLOW_DELAY_MS = 25;

let hub: HubServer;

beforeAll(async () => {
  hub = await startHubServer({
    [FAST]: { dir: DEMO },
    [SLOW]: { dir: DEMO, slow: { files: [WEIGHTS], chunk: SLOW_CHUNK, delayMs: SLOW_DELAY_MS } },
  });
});

afterAll(async () => {
  await hub.close();
});

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((ok) => setTimeout(ok, 10));
  }
}

describe('SpeedMeter', () => {
  it('measures over the last window, so a stall shows as a falling speed', () => {
    const m = new SpeedMeter(1000);
    expect(m.add(0, 0)).toBe(0);
    expect(m.add(500, 500)).toBe(1000);
    expect(m.add(1000, 1000)).toBe(1000);
    // No bytes since t=1000: over [500, 1500] half the window moved 500 bytes.
    expect(m.add(1500, 1000)).toBe(500);
    expect(m.add(2500, 1000)).toBe(0);
    // Picks up again, measured from the last sample at or before the window's start (t=1500).
    expect(m.add(3000, 3000)).toBeCloseTo(2000 / 1.5, 9);
  });

  it('stays bounded over many samples', () => {
    const m = new SpeedMeter(100);
    let rate = 0;
    for (let t = 0; t <= 20_000; t++) rate = m.add(t, t * 50);
    expect(rate).toBeCloseTo(50_000, 6);
  });
});

describe('download progress and text', () => {
  it('formats bytes, total, speed and file as the model panel shows them', () => {
    const MiB = 2 ** 20;
    const base = { file: WEIGHTS, cached: false, done: false };
    expect(downloadText({ ...base, loaded: 12.3 * MiB, total: 270 * MiB, bytesPerSecond: 4.5 * MiB })).toBe('12.3 / 270.0 MiB · 4.5 MiB/s · model.safetensors');
    expect(downloadText({ ...base, loaded: 1536, total: null, bytesPerSecond: 512 })).toBe('1.5 KiB · 512 B/s · model.safetensors');
    expect(downloadText({ ...base, loaded: 1.25 * MiB, total: 1.25 * MiB, bytesPerSecond: 0, cached: true, done: true })).toBe('1.3 MiB · from cache · model.safetensors');
  });

  it('throttles reports between a file\'s first and last', () => {
    let t = 0;
    const seen: string[] = [];
    const report = throttledDownloads((_m, _f, d) => seen.push(`${d.file}:${d.loaded}`), 100, () => t);
    const p = (file: string, loaded: number, done = false): HubProgress => ({ file, loaded, total: 100, bytesPerSecond: 0, cached: false, done });
    report(p('a', 0));
    t = 50;
    report(p('a', 10));
    t = 120;
    report(p('a', 20));
    t = 130;
    report(p('a', 100, true));
    t = 131;
    report(p('b', 0));
    expect(seen).toEqual(['a:0', 'a:20', 'a:100', 'b:0']);
  });
});

describe('hubFiles over HTTP', () => {
  it('reports bytes, total and speed while a file downloads, ending with a done report', async () => {
    const progress: HubProgress[] = [];
    const src = (await hubFiles({ repo: SLOW, hubBase: hub.base, onProgress: (p) => progress.push(p) }).get(WEIGHTS))!;
    expect(Buffer.compare(await src.read(0, SIZE), readFileSync(join(DEMO, WEIGHTS)))).toBe(0);

    expect(progress[0]).toEqual({ file: WEIGHTS, loaded: 0, total: SIZE, bytesPerSecond: 0, cached: false, done: false });
    const last = progress.at(-1)!;
    expect(last).toMatchObject({ file: WEIGHTS, loaded: SIZE, total: SIZE, cached: false, done: true });
    expect(progress.filter((p) => p.done)).toHaveLength(1);
    for (let i = 1; i < progress.length; i++) expect(progress[i]!.loaded).toBeGreaterThanOrEqual(progress[i - 1]!.loaded);
    // The server sends at most SLOW_CHUNK per SLOW_DELAY_MS; timers only ever fire late, so the
    // speed is at most that, and on a busy machine well under it.
    const ceiling = (SLOW_CHUNK * 1000) / SLOW_DELAY_MS;
    const speeds = progress.slice(Math.floor(progress.length / 2)).map((p) => p.bytesPerSecond);
    console.log(`download speed over the second half: ${Math.round(Math.min(...speeds))}..${Math.round(Math.max(...speeds))} B/s (server's ceiling ${ceiling})`);
    for (const s of speeds) {
      expect(s).toBeGreaterThan(ceiling / 20);
      expect(s).toBeLessThan(ceiling * 1.5);
    }
  });

  it('cancels a download through its signal: AbortError, the server sees the client go, and a retry works', async () => {
    const controller = new AbortController();
    const files = hubFiles({
      repo: SLOW,
      hubBase: hub.base,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.file === WEIGHTS && p.loaded >= 3 * SLOW_CHUNK) controller.abort(new DOMException('cancelled by the test', 'AbortError'));
      },
    });
    const before = hub.count(SLOW, WEIGHTS);
    const err = await files.get(WEIGHTS).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err?.name).toBe('AbortError');
    expect(err?.message).toBe('cancelled by the test');
    const req = hub.requests.filter((r) => r.repo === SLOW && r.file === WEIGHTS).at(-1)!;
    await until(() => req.aborted);
    expect(req.sent).toBeLessThan(SIZE);

    // The failed download is not remembered: the same instance fetches it again when asked.
    const retry = hubFiles({ repo: SLOW, hubBase: hub.base });
    expect((await retry.get(WEIGHTS))!.size).toBe(SIZE);
    expect(hub.count(SLOW, WEIGHTS) - before).toBe(2);
  });

  it('fails at once when cancelled before the request', async () => {
    const controller = new AbortController();
    controller.abort();
    const err = await hubFiles({ repo: FAST, hubBase: hub.base, signal: controller.signal }).get('config.json').catch((e: unknown) => e as Error);
    expect((err as Error).name).toBe('AbortError');
  });
});
