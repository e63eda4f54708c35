/**
 * Datasets of the extreme-classification application (Node only): the built-in WordNet split,
 * a directory holding `train.txt` and `test.txt` (XMC sparse format or fastText format), or a
 * single file split deterministically into train and test.
 * @module
 */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DataFormatError, IoError } from '../../core/errors.js';
import { readFastTextFile, readFastTextSplit, readXmcFile, readXmcSplit, SPLIT_FILES, loadWordNet } from '../../data/files.js';
import { numRows, SparseBuilder, type SourceSplit, type SparseDataset } from '../../data/sparse.js';
import { parseSyntheticXmcSpec, SyntheticXmc } from '../../data/syntheticXmc.js';

/** How the words of a prediction input line are read, fixed by the training data. */
export type XmcInputKind = 'alnum' | 'whitespace' | 'pairs';

/** A loaded split and how its inputs are written. */
export interface XmcData {
  /**
   * Train and test sets sharing features and labels: the training rows held, or streamed (a
   * `RowSource`, for synthetic data: generated on the fly, batch by batch); the test rows held.
   */
  split: SourceSplit;
  /**
   * `alnum`: text tokenized like the WordNet dataset (lower-cased `[a-z0-9]+` runs);
   * `whitespace`: fastText words; `pairs`: XMC `index:value` pairs.
   */
  input: XmcInputKind;
  /** A short description of the source. */
  source: string;
  /** The generator of synthetic data (`--data synthetic:…`), which knows the Bayes-optimal ranking. */
  synthetic?: SyntheticXmc;
}

/** The prefix of a synthetic data spec. */
export const SYNTHETIC_PREFIX = 'synthetic:';

const XMC_HEADER = /^\s*\d+\s+\d+\s+\d+\s*$/;

/** Whether `path` starts with an XMC header line (`instances features labels`). */
function isXmcFile(path: string): boolean {
  const buf = new Uint8Array(256);
  let got = 0;
  try {
    const fd = openSync(path, 'r');
    try {
      got = readSync(fd, buf, 0, buf.length, 0);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    throw new IoError(`cannot read ${path}: ${(e as Error).message}`);
  }
  const head = new TextDecoder().decode(buf.subarray(0, got)).split('\n', 1)[0] ?? '';
  return XMC_HEADER.test(head);
}

/** Whether row `r` of a single-file dataset goes to the test split (a fixed 20 % hash split). */
export function isTestRow(r: number): boolean {
  return (Math.imul(r + 1, 2654435761) >>> 0) % 100 < 20;
}

/** The rows of `ds` that `keep` accepts, as a dataset in the same feature and label space. */
export function selectRows(ds: SparseDataset, keep: (r: number) => boolean): SparseDataset {
  const b = new SparseBuilder();
  const names: string[] = [];
  const f = ds.features;
  const seq = ds.sequences;
  for (let r = 0; r < numRows(ds); r++) {
    if (!keep(r)) continue;
    const labels = ds.labels.ids.subarray(ds.labels.offsets[r]!, ds.labels.offsets[r + 1]!);
    if (seq) b.addTokens(seq.ids.subarray(seq.offsets[r]!, seq.offsets[r + 1]!), labels);
    else b.addRow(f.indices.subarray(f.offsets[r]!, f.offsets[r + 1]!), f.values.subarray(f.offsets[r]!, f.offsets[r + 1]!), labels);
    if (ds.rowNames) names.push(ds.rowNames[r]!);
  }
  return b.build({
    numFeatures: ds.numFeatures,
    numLabels: ds.numLabels,
    ...(ds.featureNames ? { featureNames: ds.featureNames } : {}),
    ...(ds.labelNames ? { labelNames: ds.labelNames } : {}),
    ...(ds.labelInfo ? { labelInfo: ds.labelInfo } : {}),
    ...(ds.rowNames ? { rowNames: names } : {}),
  });
}

/**
 * Loads `spec`: `synthetic:labels=…,rows=…` (generated synthetic data, see `SyntheticXmc`: the
 * training rows streamed, see `SyntheticXmc.trainSource`);
 * `wordnet` (the default WordNet split, depth 2); a directory with `train.txt`
 * and `test.txt` in the XMC format (as `samplex data export --format xmc` writes, with
 * `features.txt` / `labels.txt` when present) or the fastText format; or one file in either
 * format, split by {@link isTestRow} (features and labels numbered over the whole file).
 * @throws IoError when the path does not exist or lacks the split files; DataFormatError for malformed files
 */
export function loadXmcData(spec: string): XmcData {
  if (spec.startsWith(SYNTHETIC_PREFIX)) {
    const gen = new SyntheticXmc(parseSyntheticXmcSpec(spec.slice(SYNTHETIC_PREFIX.length)));
    // the training rows are generated on the fly (never held); the test rows are held
    return { split: { train: gen.trainSource(), test: gen.testRows() }, input: 'pairs', source: gen.spec(), synthetic: gen };
  }
  if (spec === 'wordnet') return { split: loadWordNet(), input: 'alnum', source: 'wordnet' };
  if (!existsSync(spec)) {
    throw new IoError(`--data ${spec}: no such file or directory; give 'wordnet', 'synthetic:labels=N,rows=N', a directory with train.txt and test.txt, or one XMC or fastText file`);
  }
  if (statSync(spec).isDirectory()) {
    const trainPath = join(spec, SPLIT_FILES.train);
    const testPath = join(spec, SPLIT_FILES.test);
    if (!existsSync(trainPath) || !existsSync(testPath)) {
      throw new IoError(`--data ${spec}: the directory must hold ${SPLIT_FILES.train} and ${SPLIT_FILES.test} (XMC or fastText format)`);
    }
    refuseEmptyFile(trainPath);
    refuseEmptyFile(testPath);
    const xmc = isXmcFile(trainPath);
    const split = xmc ? readXmcSplit(spec) : readFastTextSplit(trainPath, testPath);
    refuseNoRows(split.train, trainPath, 'the file holds no instances');
    refuseNoRows(split.test, testPath, 'the file holds no instances');
    return { split, input: xmc ? 'pairs' : 'whitespace', source: spec };
  }
  refuseEmptyFile(spec);
  const xmc = isXmcFile(spec);
  const all = xmc ? readXmcFile(spec) : readFastTextFile(spec);
  const split = { train: selectRows(all, (r) => !isTestRow(r)), test: selectRows(all, isTestRow) };
  refuseNoRows(all, spec, 'the file holds no instances');
  const few = `its ${numRows(all)} instances leave no row in the`;
  refuseNoRows(split.train, spec, `${few} training split (80 %); give more instances or a directory with train.txt and test.txt`);
  refuseNoRows(split.test, spec, `${few} test split (20 %); give more instances or a directory with train.txt and test.txt`);
  return { split, input: xmc ? 'pairs' : 'whitespace', source: spec };
}

/** Refuses a file of zero bytes before its format is guessed (an empty file is neither format). */
function refuseEmptyFile(path: string): void {
  if (statSync(path).size === 0) {
    throw new DataFormatError(path, 1, 'the file is empty; an XMC file starts with the header line \'instances features labels\', a fastText file has one instance per line');
  }
}

/** Refuses a dataset without rows: training or evaluating on it would give no figure at all. */
function refuseNoRows(ds: SparseDataset, path: string, why: string): void {
  if (numRows(ds) === 0) throw new DataFormatError(path, 1, `${why}; every split needs at least one instance`);
}
