// Writes the sample datasets in public/datasets/ from the King James Bible text (public domain),
// the same corpus the demo model was pretrained on (see scripts/pretrain-demo.ts for how to get it):
//   node --import ./bin/register.mjs scripts/make-demo-datasets.ts kjv.txt public/datasets
// Deterministic: the verses are picked by a fixed seeded shuffle.

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { seededRandom } from '../src/util/random.ts';

function pick<T>(items: T[], n: number, seed: number): T[] {
  const random = seededRandom(seed);
  const a = items.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a.slice(0, n);
}

/** A verse split at its first comma or semicolon after a few words: [beginning, rest]. */
function halves(verse: string): [string, string] | null {
  const m = /^(.{20,80}?[,;:])\s+(.{10,120})$/.exec(verse);
  return m ? [m[1]!, m[2]!.replace(/[.;:,?!]+$/, '')] : null;
}

async function main(): Promise<void> {
  const [corpus, out] = process.argv.slice(2);
  if (!corpus || !out) throw new Error('usage: make-demo-datasets.ts kjv.txt OUT_DIR');
  const verses = (await readFile(corpus, 'utf8')).split('\n').map((l) => l.trim()).filter(Boolean);
  await mkdir(out, { recursive: true });

  // 1. Style: every answer follows one fixed structure, "Verily, ... Amen."
  const split = verses.map(halves).filter((x): x is [string, string] => x !== null);
  const style = pick(split, 240, 1).map(([q, a]) => ({ prompt: `Question: ${q}\nAnswer:`, completion: ` Verily, ${a}. Amen.` }));
  await writeFile(join(out, 'verily.jsonl'), style.map((r) => JSON.stringify(r)).join('\n') + '\n');

  // 2. Chat: a user quotes the start of a verse, the assistant finishes it.
  const chat = pick(split, 160, 2).map(([q, a]) => ({
    messages: [
      { role: 'user', content: `Finish the verse: ${q}` },
      { role: 'assistant', content: `${q} ${a}.` },
    ],
  }));
  await writeFile(join(out, 'finish-the-verse.jsonl'), chat.map((r) => JSON.stringify(r)).join('\n') + '\n');

  // 3. Plain text: the Psalms, one psalm per paragraph (documents split on blank lines).
  const psalmsStart = verses.findIndex((v) => v.startsWith('The LORD is my shepherd'));
  const psalms = verses.slice(Math.max(0, psalmsStart - 200), psalmsStart + 400);
  const paragraphs: string[] = [];
  for (let i = 0; i < psalms.length; i += 6) paragraphs.push(psalms.slice(i, i + 6).join(' '));
  await writeFile(join(out, 'psalms.txt'), paragraphs.join('\n\n') + '\n');
  console.log(`wrote ${style.length} style rows, ${chat.length} chats, ${paragraphs.length} paragraphs to ${out}`);
}

await main();
