// A model folder over HTTP: a 404 is a missing file, and so is the index.html that single-page-app
// servers (Vite's dev server among them) send with 200 for any path they do not have.

import { describe, expect, it } from 'vitest';
import { readText } from '../../src/formats/byte-source.ts';
import { urlFiles } from '../../src/formats/url-files.ts';

const fakeFetch = (async (input: string | URL | Request) => {
  const url = String(input);
  if (url.endsWith('/tokenizer_config.json')) return new Response('{"eos_token":"</s>"}', { headers: { 'content-type': 'application/json' } });
  if (url.endsWith('/notes.html')) return new Response('<p>hi</p>', { headers: { 'content-type': 'text/html' } });
  if (url.endsWith('/gone.json')) return new Response('not here', { status: 404 });
  return new Response('<!doctype html><div id="root"></div>', { headers: { 'content-type': 'text/html; charset=utf-8' } });
}) as typeof fetch;

describe('urlFiles', () => {
  it('reads files that exist and treats 404s and SPA fallback pages as missing', async () => {
    const files = urlFiles('/models/demo', 'demo', fakeFetch);
    expect(await readText((await files.get('tokenizer_config.json'))!)).toBe('{"eos_token":"</s>"}');
    expect(await files.get('gone.json')).toBeNull();
    expect(await files.get('chat_template.jinja')).toBeNull();
    expect(await readText((await files.get('notes.html'))!)).toBe('<p>hi</p>');
  });
});
