/**
 * The fastText supervised text format: one instance per line, whitespace-separated
 * tokens, where tokens starting with the label prefix (`__label__` by default) are
 * labels and the others words (`__label__cat __label__pet a small furry animal`).
 * @module
 */
import { DataFormatError, OptionError, ShapeError } from '../core/errors.js';
import { FORMAT_CHUNK_LINES } from './xmc.js';
import { checkDataset, numRows, SparseBuilder, tokenize, Vocab, type SparseDataset } from './sparse.js';

/** Default label prefix of the fastText format. */
export const FASTTEXT_LABEL_PREFIX = '__label__';

/** Options of {@link parseFastText}. */
export interface FastTextReadOptions {
  /** Name of the input used in error messages (default `'<fasttext>'`). */
  source?: string;
  /** Label prefix (default `__label__`). */
  labelPrefix?: string;
  /**
   * Word vocabulary to use and extend (default: a new one). Pass the training set's
   * vocabulary with `growVocab: false` to read a test file in the same feature space.
   */
  vocab?: Vocab;
  /** Add unseen words to the vocabulary (default true); when false they are dropped. */
  growVocab?: boolean;
  /** Label set to use and extend (default: a new one). */
  labels?: Vocab;
  /** Add unseen labels to the label set (default true); when false an unseen label is an error. */
  growLabels?: boolean;
  /**
   * How words are split: `'whitespace'` keeps each whitespace-separated word as is
   * (fastText's own rule, the default); `'alnum'` applies {@link tokenize} to it.
   */
  tokens?: 'whitespace' | 'alnum';
  /** Accept lines without labels (default true). */
  allowUnlabeled?: boolean;
}

const WS = /[ \t\v\f]+/;

/**
 * Parses fastText-format lines into a dataset whose features are word counts and
 * whose `sequences` keep the words in order. Feature and label ids follow first
 * occurrence (after those already in `vocab` / `labels`); `numFeatures`,
 * `numLabels` and the name lists are the vocabulary sizes when parsing ends.
 * Words dropped because `growVocab` is false do not count; a line whose words are
 * all dropped gives a row without features. Blank lines at the end are ignored.
 * @throws DataFormatError with the 1-based line number for: an empty label
 *   (the bare prefix), a label not in `labels` when `growLabels` is false, a line
 *   without words (empty instance, including a blank line before the end), a line
 *   without labels when `allowUnlabeled` is false
 */
export function parseFastText(lines: Iterable<string>, opts: FastTextReadOptions = {}): SparseDataset {
  const src = opts.source ?? '<fasttext>';
  const prefix = opts.labelPrefix ?? FASTTEXT_LABEL_PREFIX;
  if (prefix === '') throw new OptionError('labelPrefix must not be empty (fastText uses __label__)');
  const vocab = opts.vocab ?? new Vocab();
  const labelSet = opts.labels ?? new Vocab();
  const growVocab = opts.growVocab ?? true;
  const growLabels = opts.growLabels ?? true;
  const alnum = (opts.tokens ?? 'whitespace') === 'alnum';
  const allowUnlabeled = opts.allowUnlabeled ?? true;
  const b = new SparseBuilder();
  const words: number[] = [];
  const labels: number[] = [];
  let lineNo = 0;
  let blankAt = 0;
  for (const raw of lines) {
    lineNo++;
    const line = raw.trim();
    if (line === '') {
      if (blankAt === 0) blankAt = lineNo;
      continue;
    }
    if (blankAt > 0) throw new DataFormatError(src, blankAt, 'empty instance (blank line); remove it or give the instance some words');
    words.length = 0;
    labels.length = 0;
    let rawWords = 0;
    for (const t of line.split(WS)) {
      if (t.startsWith(prefix)) {
        const name = t.slice(prefix.length);
        if (name === '') throw new DataFormatError(src, lineNo, `empty label '${prefix}'; write ${prefix}NAME`);
        let id = labelSet.id(name);
        if (id < 0) {
          if (!growLabels) {
            throw new DataFormatError(src, lineNo, `label '${name}' is outside the label set (${labelSet.size} labels); read this file with the labels of the training set grown, or fix the label`);
          }
          id = labelSet.add(name);
        }
        labels.push(id);
        continue;
      }
      for (const w of alnum ? tokenize(t) : [t]) {
        rawWords++;
        const id = growVocab ? vocab.add(w) : vocab.id(w);
        if (id >= 0) words.push(id);
      }
    }
    if (rawWords === 0) throw new DataFormatError(src, lineNo, 'empty instance (labels but no words); every instance needs at least one word');
    if (labels.length === 0 && !allowUnlabeled) {
      throw new DataFormatError(src, lineNo, `instance has no labels; add ${prefix}NAME tokens or allow unlabeled instances`);
    }
    b.addTokens(words, labels);
  }
  return b.build({
    numFeatures: vocab.size,
    numLabels: labelSet.size,
    featureNames: vocab.names.slice(),
    labelNames: labelSet.names.slice(),
  });
}

/**
 * Formats a dataset in the fastText format, as string chunks of whole lines: the
 * row's labels as `__label__NAME` (ascending id), then its words, in text order when
 * the dataset has `sequences`, otherwise each feature repeated by its count.
 * @throws ShapeError when names are missing or unusable (whitespace, empty, a word
 *   starting with the label prefix) or, without sequences, a weight is not a
 *   non-negative integer count
 */
export function formatFastText(ds: SparseDataset, labelPrefix = FASTTEXT_LABEL_PREFIX): string[] {
  checkDataset(ds, 'formatFastText');
  const fn = ds.featureNames;
  const ln = ds.labelNames;
  if (!fn || !ln) throw new ShapeError('formatFastText: the dataset needs featureNames and labelNames (the words and labels written)');
  const bad = /\s/;
  for (const w of fn) {
    if (w === '' || bad.test(w) || w.startsWith(labelPrefix)) {
      throw new ShapeError(`formatFastText: feature name '${w}' cannot be written as a word (empty, whitespace or label prefix); rename it`);
    }
  }
  for (const l of ln) {
    if (l === '' || bad.test(l)) throw new ShapeError(`formatFastText: label name '${l}' is empty or has whitespace; rename it`);
  }
  const rows = numRows(ds);
  const seq = ds.sequences;
  const { indices, values, offsets } = ds.features;
  const { ids, offsets: lo } = ds.labels;
  const out: string[] = [];
  let buf: string[] = [];
  const parts: string[] = [];
  for (let r = 0; r < rows; r++) {
    parts.length = 0;
    for (let k = lo[r]!; k < lo[r + 1]!; k++) parts.push(labelPrefix + ln[ids[k]!]);
    if (seq) {
      for (let k = seq.offsets[r]!; k < seq.offsets[r + 1]!; k++) parts.push(fn[seq.ids[k]!]!);
    } else {
      for (let k = offsets[r]!; k < offsets[r + 1]!; k++) {
        const c = values[k]!;
        if (!Number.isInteger(c) || c < 0) {
          throw new ShapeError(`formatFastText: row ${r} has weight ${c} for '${fn[indices[k]!]}'; the fastText format needs integer counts (or sequences)`);
        }
        for (let t = 0; t < c; t++) parts.push(fn[indices[k]!]!);
      }
    }
    buf.push(parts.join(' '));
    if (buf.length >= FORMAT_CHUNK_LINES) {
      out.push(buf.join('\n') + '\n');
      buf = [];
    }
  }
  if (buf.length) out.push(buf.join('\n') + '\n');
  return out;
}
