// GGUF files in a hub repo, before anything is downloaded: the repo's file list (tree API, paged),
// quant types from names and headers, picking a file by quant type, and a GGUF's header read by HTTP
// Range requests (only the header's bytes), with one clear error when the server ignores ranges.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesSource } from '../../src/formats/byte-source.ts';
import { FormatError } from '../../src/formats/errors.ts';
import { readGgufHeader } from '../../src/formats/gguf.ts';
import { describeTypeCounts, ggufFileType, matrixTypeCounts, quantFromName } from '../../src/formats/gguf-quant.ts';
import { headerFirstSource } from '../../src/formats/header-first-source.ts';
import { openRangeSource, RangeNotSupportedError } from '../../src/formats/http-range-source.ts';
import { hubUrl } from '../../src/formats/hub-files.ts';
import { hubGgufs, parseHubGgufSpec, pickHubGguf } from '../../src/formats/hub-gguf.ts';
import { listHubTree } from '../../src/formats/hub-tree.ts';
import { tempDir } from '../helpers/cli.ts';
import { type GgufRepo, writeGgufRepo } from '../helpers/gguf-repo.ts';
import { startHubServer, type HubServer } from '../helpers/hub-server.ts';

const REPO = 'acme/tiny-GGUF';
const PLAIN = 'acme/no-ranges';
let repo: GgufRepo;
let hub: HubServer;

beforeAll(async () => {
  repo = await writeGgufRepo(await tempDir(), { 'tiny-Q8_0.gguf': 'Q8_0', 'tiny-F16.gguf': 'F16', 'more/tiny-f32.gguf': 'F32' });
  hub = await startHubServer({ [REPO]: { dir: repo.dir, treePage: 2 }, [PLAIN]: { dir: repo.dir, noRanges: true } });
});
afterAll(() => hub?.close());

describe('quant types', () => {
  it('reads the type llama-quantize and the uploaders put in file names', () => {
    const cases: [string, string | null][] = [
      ['Llama-3.2-1B-Instruct-Q4_K_M.gguf', 'Q4_K_M'],
      ['qwen2.5-0.5b-instruct-q8_0.gguf', 'Q8_0'],
      ['Qwen3-0.6B-UD-Q4_K_XL.gguf', 'Q4_K_XL'],
      ['model.IQ2_XS.gguf', 'IQ2_XS'],
      ['gemma-3-1b-it-BF16.gguf', 'BF16'],
      ['SmolLM2-135M-Instruct-f16.gguf', 'F16'],
      ['Q4_K_S/model-Q4_K_S-00001-of-00002.gguf', 'Q4_K_S'],
      ['phi-2.Q5_0.gguf', 'Q5_0'],
      ['tinyllama-1.1b-chat.gguf', null],
      ['mmproj-model-f16.gguf', 'F16'],
    ];
    for (const [name, want] of cases) expect(quantFromName(name), name).toBe(want);
  });

  it('reads the file type and the matrix types from a header', async () => {
    const h = await readGgufHeader(bytesSource('tiny-Q8_0.gguf', repo.ggufs.get('tiny-Q8_0.gguf')!));
    expect(ggufFileType(h)).toBe('F16'); // the converter's general.file_type, as hfFolderToGguf writes it
    const counts = matrixTypeCounts(h);
    expect(counts).toEqual({ Q8_0: 2 * 7 + 2 });
    expect(describeTypeCounts({ Q6_K: 29, Q4_K: 154, F32: 0 })).toBe('Q4_K × 154, Q6_K × 29');
  });
});

describe('naming a GGUF on the hub', () => {
  it('parses owner/name/path.gguf and owner/name:TYPE, and nothing else', () => {
    expect(parseHubGgufSpec('acme/tiny-GGUF/tiny-Q8_0.gguf')).toEqual({ repo: 'acme/tiny-GGUF', file: 'tiny-Q8_0.gguf' });
    expect(parseHubGgufSpec('acme/tiny-GGUF/sub/dir/x.GGUF')).toEqual({ repo: 'acme/tiny-GGUF', file: 'sub/dir/x.GGUF' });
    expect(parseHubGgufSpec('acme/tiny-GGUF:q4_k_m')).toEqual({ repo: 'acme/tiny-GGUF', quant: 'q4_k_m' });
    for (const no of ['acme/tiny-GGUF', 'acme/tiny-GGUF/config.json', 'acme/tiny/../x.gguf', 'a--b/c/x.gguf', 'x.gguf', 'acme/tiny:', './acme/x.gguf']) {
      expect(parseHubGgufSpec(no), no).toBeNull();
    }
  });

  it('lists the repo through the tree API, following its pages, with LFS sizes', async () => {
    const entries = await listHubTree({ repo: REPO, hubBase: hub.base });
    expect(hub.trees.filter((t) => t.repo === REPO).length).toBeGreaterThan(2);
    const ggufs = hubGgufs(entries);
    expect(ggufs.map((g) => [g.path, g.size, g.quant])).toEqual([
      ['more/tiny-f32.gguf', repo.ggufs.get('more/tiny-f32.gguf')!.byteLength, 'F32'],
      ['tiny-F16.gguf', repo.ggufs.get('tiny-F16.gguf')!.byteLength, 'F16'],
      ['tiny-Q8_0.gguf', repo.ggufs.get('tiny-Q8_0.gguf')!.byteLength, 'Q8_0'],
    ]);
    expect(entries.map((e) => e.path)).toContain('tokenizer.json');
  });

  it('a missing repo is one line naming it', async () => {
    const e = await listHubTree({ repo: 'acme/nothing', hubBase: hub.base }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FormatError);
    expect((e as Error).message).toMatch(/^acme\/nothing: its file list could not be fetched: HTTP 404 \(RepositoryNotFound\)/);
  });

  it('picks the one file with the quant type, else lists the GGUF files', async () => {
    const entries = await listHubTree({ repo: REPO, hubBase: hub.base });
    expect(pickHubGguf(REPO, entries, 'q8_0').path).toBe('tiny-Q8_0.gguf');
    expect(pickHubGguf(REPO, entries, 'F32').path).toBe('more/tiny-f32.gguf');
    const none = (() => {
      try {
        return pickHubGguf(REPO, entries, 'Q4_K_M');
      } catch (e) {
        return e as Error;
      }
    })() as Error;
    expect(none.message).toMatch(/^acme\/tiny-GGUF: has no GGUF file whose name contains "Q4_K_M"; its GGUF files: more\/tiny-f32\.gguf \(F32, [\d.]+ MiB\); tiny-F16\.gguf \(F16, .*\); tiny-Q8_0\.gguf \(Q8_0, .*\)$/);
    expect(() => pickHubGguf(REPO, entries, 'tiny')).toThrow(/has 3 GGUF files whose names contain "tiny": .*; name the one to use, e\.g\. acme\/tiny-GGUF\/more\/tiny-f32\.gguf$/);
    expect(() => pickHubGguf(REPO, [{ path: 'config.json', size: 9 }], 'Q8_0')).toThrow(/has no GGUF files \(1 files listed\)/);
    expect(() => pickHubGguf(REPO, [{ path: 'm-Q8_0-00001-of-00002.gguf', size: 9 }], 'Q8_0')).toThrow(/only parts of a split model/);
  });
});

describe('a GGUF header read by HTTP range', () => {
  it('fetches only the header: every request ranged, fewer bytes than the file', async () => {
    const file = 'tiny-F16.gguf';
    const size = repo.ggufs.get(file)!.byteLength;
    const src = await openRangeSource(hubUrl({ repo: REPO, hubBase: hub.base }, file), { name: `${REPO}/${file}` });
    expect(src.size).toBe(size);
    const h = await readGgufHeader(src);
    expect(matrixTypeCounts(h)).toEqual({ F16: 16 });
    const reqs = hub.requests.filter((r) => r.repo === REPO && r.file === file);
    expect(reqs.length).toBe(src.requests);
    expect(reqs.every((r) => r.range !== null && r.status === 206)).toBe(true);
    expect(src.bytesFetched).toBeLessThan(size);
    // A read past the prefix fetches just that range, bytes as on disk.
    const t = h.tensors.at(-1)!;
    expect(await src.read(t.offset, 64)).toEqual(repo.ggufs.get(file)!.subarray(t.offset, t.offset + 64));
  });

  it('a header reader grows its prefix: only the missing tail is fetched', async () => {
    const file = 'tiny-Q8_0.gguf';
    const bytes = repo.ggufs.get(file)!;
    const src = await openRangeSource(hubUrl({ repo: REPO, hubBase: hub.base }, file), { name: file, firstBytes: 1000 });
    expect(await src.read(0, 10)).toEqual(bytes.subarray(0, 10));
    expect(await src.read(0, 5000)).toEqual(bytes.subarray(0, 5000));
    expect(src.bytesFetched).toBe(5000);
    expect(src.requests).toBe(2);
  });

  it('a server that ignores ranges: one clear error naming the repo and file, the body not read', async () => {
    const file = 'tiny-F16.gguf';
    const e = await openRangeSource(hubUrl({ repo: PLAIN, hubBase: hub.base }, file), { name: `${PLAIN}/${file}` }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RangeNotSupportedError);
    expect((e as Error).message).toMatch(/^acme\/no-ranges\/tiny-F16\.gguf: the server at http:\/\/127\.0\.0\.1:\d+\/acme\/no-ranges\/resolve\/main\/tiny-F16\.gguf ignored the HTTP Range request \(it answered 200/);
  });

  it('a missing file names it', async () => {
    const e = await openRangeSource(hubUrl({ repo: REPO, hubBase: hub.base }, 'nope.gguf'), { name: `${REPO}/nope.gguf` }).catch((x: unknown) => x);
    expect((e as Error).message).toMatch(/^acme\/tiny-GGUF\/nope\.gguf: could not be read from .*: HTTP 404 \(not found: check the repo id and the file name\)$/);
  });

  it('header first: reads by range until a large read, then from one download', async () => {
    const file = 'tiny-F16.gguf';
    const bytes = repo.ggufs.get(file)!;
    const ranged = await openRangeSource(hubUrl({ repo: REPO, hubBase: hub.base }, file), { name: file });
    let downloads = 0;
    const src = headerFirstSource(ranged, async () => {
      downloads++;
      return bytesSource(file, bytes);
    });
    await readGgufHeader(src);
    expect(await src.read(2_000_000, 100)).toEqual(bytes.subarray(2_000_000, 2_000_100));
    expect(downloads).toBe(0);
    // Buffer.equals: a deep toEqual over half a megabyte takes seconds.
    expect(Buffer.from(await src.read(1_000_000, 500_000)).equals(bytes.subarray(1_000_000, 1_500_000))).toBe(true);
    expect(await src.read(0, 10)).toEqual(bytes.subarray(0, 10));
    expect(downloads).toBe(1);
    const short = headerFirstSource(ranged, async () => bytesSource(file, bytes.subarray(1)));
    await expect(short.read(100, 1 << 20)).rejects.toThrow(/the download has \d+; the file changed on the server/);
  });
});
