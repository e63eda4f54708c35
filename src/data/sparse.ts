/**
 * Compact sparse multi-label datasets: CSR feature rows, CSR label sets (core
 * {@link Labels}), optional vocabularies and token sequences, plus the builder
 * every reader uses and summary statistics.
 * @module
 */
import { OptionError, ShapeError } from '../core/errors.js';
import { checkLabels, type Labels } from '../core/matrix.js';
import { assertFinite } from '../core/validate.js';
import { FloatBuffer, IntBuffer } from './buffers.js';

/**
 * Sparse feature rows in CSR form: the features of row `r` are
 * `indices[offsets[r] .. offsets[r+1])` with weights `values[…]`, indices strictly
 * ascending within a row.
 */
export interface SparseRows {
  readonly indices: Int32Array;
  readonly values: Float32Array;
  readonly offsets: Int32Array;
}

/**
 * Feature ids of each row in text order (repetitions kept), CSR like {@link Labels}.
 * Present for datasets read from text so that order-dependent features (word
 * bigrams) and faithful text export stay possible.
 */
export interface Sequences {
  readonly ids: Int32Array;
  readonly offsets: Int32Array;
}

/**
 * A sparse multi-label dataset. Rows are instances; `features` holds their
 * sparse feature vectors (raw weights, for text: token counts), `labels` their
 * positive label ids. Names, when present, are indexed by id (`featureNames[f]`,
 * `labelNames[l]`, `rowNames[r]`). A row may have no labels (the XMC format allows
 * it); readers reject rows with no features in training files.
 */
export interface SparseDataset {
  readonly features: SparseRows;
  readonly labels: Labels;
  /** Size of the feature space: every feature index is in `[0, numFeatures)`. */
  readonly numFeatures: number;
  /** Size of the label space: every label id is in `[0, numLabels)`. */
  readonly numLabels: number;
  /** Feature (token) names, length `numFeatures`. */
  readonly featureNames?: readonly string[];
  /** Label names (used in files, e.g. `__label__NAME`), length `numLabels`; no whitespace. */
  readonly labelNames?: readonly string[];
  /** Human-readable label descriptions, length `numLabels` (written to label maps). */
  readonly labelInfo?: readonly string[];
  /** Row identifiers (e.g. a WordNet synset offset), length = number of rows. */
  readonly rowNames?: readonly string[];
  /** Token sequences in text order; bag counts in `features` are derived from them. */
  readonly sequences?: Sequences;
}

/** A train/test pair sharing one feature space and one label space. */
export interface DatasetSplit {
  readonly train: SparseDataset;
  readonly test: SparseDataset;
}

/**
 * Rows read by index, a batch at a time, instead of held: a generator whose rows are functions of
 * their index, or a held dataset seen through {@link datasetRowSource}. Trainers that accept one
 * read it in one streamed pass (counts over all rows) and then batch by batch, so their memory
 * does not grow with {@link RowSource.numRows}.
 */
export interface RowSource {
  /** Rows `0 … numRows−1`. */
  readonly numRows: number;
  /** Size of the feature space of every row. */
  readonly numFeatures: number;
  /** Size of the label space of every row. */
  readonly numLabels: number;
  /**
   * What determines the rows (e.g. a generator's canonical spec): two sources with the same id
   * give the same rows. Run folders fingerprint a streamed split by it.
   */
  readonly id: string;
  /** How the rows are obtained, for logs (e.g. `generated on the fly`). */
  readonly origin: string;
  /**
   * The rows `rows` in that order, as a dataset whose row `i` is row `rows[i]` of the source (the
   * same feature, label and sequence contents whatever batch it is read in).
   * @throws OptionError for an index outside `[0, numRows)`
   */
  gather(rows: ArrayLike<number>): SparseDataset;
}

/** A train/test pair whose training rows are held or streamed ({@link RowSource}); the test rows are held. */
export interface SourceSplit {
  readonly train: SparseDataset | RowSource;
  readonly test: SparseDataset;
}

/** Whether training rows are a {@link RowSource} rather than a held dataset. */
export function isRowSource(x: SparseDataset | RowSource): x is RowSource {
  return typeof (x as Partial<RowSource>).gather === 'function';
}

/**
 * The rows `rows` of `ds`, in that order, as a dataset of the same feature and label space
 * (features, values, labels and sequences copied as they are; names shared; row names selected).
 * @throws OptionError for an index outside `[0, numRows(ds))`
 */
export function gatherRows(ds: SparseDataset, rows: ArrayLike<number>): SparseDataset {
  const n = numRows(ds);
  const f = ds.features;
  const l = ds.labels;
  const seq = ds.sequences;
  let nf = 0;
  let nl = 0;
  let ns = 0;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    if (!Number.isInteger(r) || r < 0 || r >= n) throw new OptionError(`row ${r} is outside the dataset's ${n} rows`);
    nf += f.offsets[r + 1]! - f.offsets[r]!;
    nl += l.offsets[r + 1]! - l.offsets[r]!;
    if (seq) ns += seq.offsets[r + 1]! - seq.offsets[r]!;
  }
  const indices = new Int32Array(nf);
  const values = new Float32Array(nf);
  const fOff = new Int32Array(rows.length + 1);
  const ids = new Int32Array(nl);
  const lOff = new Int32Array(rows.length + 1);
  const sIds = new Int32Array(ns);
  const sOff = new Int32Array(seq ? rows.length + 1 : 0);
  let pf = 0;
  let pl = 0;
  let ps = 0;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    indices.set(f.indices.subarray(f.offsets[r]!, f.offsets[r + 1]!), pf);
    values.set(f.values.subarray(f.offsets[r]!, f.offsets[r + 1]!), pf);
    pf += f.offsets[r + 1]! - f.offsets[r]!;
    fOff[i + 1] = pf;
    ids.set(l.ids.subarray(l.offsets[r]!, l.offsets[r + 1]!), pl);
    pl += l.offsets[r + 1]! - l.offsets[r]!;
    lOff[i + 1] = pl;
    if (seq) {
      sIds.set(seq.ids.subarray(seq.offsets[r]!, seq.offsets[r + 1]!), ps);
      ps += seq.offsets[r + 1]! - seq.offsets[r]!;
      sOff[i + 1] = ps;
    }
  }
  return {
    features: { indices, values, offsets: fOff },
    labels: { ids, offsets: lOff },
    numFeatures: ds.numFeatures,
    numLabels: ds.numLabels,
    ...(ds.featureNames ? { featureNames: ds.featureNames } : {}),
    ...(ds.labelNames ? { labelNames: ds.labelNames } : {}),
    ...(ds.labelInfo ? { labelInfo: ds.labelInfo } : {}),
    ...(ds.rowNames ? { rowNames: Array.from(rows, (r) => ds.rowNames![r]!) } : {}),
    ...(seq ? { sequences: { ids: sIds, offsets: sOff } } : {}),
  };
}

/**
 * A held dataset as a {@link RowSource} (batches copied out with {@link gatherRows}): the
 * streamed training path on rows that are held, e.g. to check it against a generator.
 * @param id what determines the rows (default: a description of the sizes only)
 */
export function datasetRowSource(ds: SparseDataset, id = `dataset:${numRows(ds)}x${ds.numFeatures}/${ds.numLabels}`): RowSource {
  return {
    numRows: numRows(ds),
    numFeatures: ds.numFeatures,
    numLabels: ds.numLabels,
    id,
    origin: 'held in memory',
    gather: (rows) => gatherRows(ds, rows),
  };
}

/** Number of rows (instances) of a dataset. */
export function numRows(ds: SparseDataset): number {
  return ds.features.offsets.length - 1;
}

/**
 * An insertion-ordered string → id map. Ids are dense, `0 … size-1`, in order of
 * first {@link Vocab.add}.
 */
export class Vocab {
  private readonly map = new Map<string, number>();
  private readonly list: string[] = [];

  /** Creates a vocabulary holding `names` in order (duplicates keep their first id). */
  constructor(names: Iterable<string> = []) {
    for (const n of names) this.add(n);
  }

  /** Number of entries. */
  get size(): number {
    return this.list.length;
  }

  /** The names, indexed by id (a live view: do not mutate). */
  get names(): readonly string[] {
    return this.list;
  }

  /** Id of `name`, or -1 when absent. */
  id(name: string): number {
    return this.map.get(name) ?? -1;
  }

  /** Id of `name`, adding it when absent. */
  add(name: string): number {
    let i = this.map.get(name);
    if (i === undefined) {
      i = this.list.length;
      this.map.set(name, i);
      this.list.push(name);
    }
    return i;
  }
}

/** Names and sizes given to {@link SparseBuilder.build}. */
export interface BuildInfo {
  numFeatures: number;
  numLabels: number;
  featureNames?: readonly string[];
  labelNames?: readonly string[];
  labelInfo?: readonly string[];
  rowNames?: readonly string[];
}

/**
 * Accumulates rows into the compact CSR arrays of a {@link SparseDataset}.
 * Rows are added either as (index, value) pairs or as token sequences (bag of
 * counts derived, sequence kept); both kinds cannot be mixed in one dataset.
 * The builder does not range-check: readers validate their input first.
 */
export class SparseBuilder {
  private readonly fIdx = new IntBuffer();
  private readonly fVal = new FloatBuffer();
  private readonly fOff = new IntBuffer();
  private readonly lIds = new IntBuffer();
  private readonly lOff = new IntBuffer();
  private readonly sIds = new IntBuffer();
  private readonly sOff = new IntBuffer();
  private kind: 'none' | 'pairs' | 'tokens' = 'none';
  private scratch = new Int32Array(64);

  constructor() {
    this.fOff.push(0);
    this.lOff.push(0);
    this.sOff.push(0);
  }

  /** Rows added so far. */
  get rows(): number {
    return this.fOff.length - 1;
  }

  private setKind(k: 'pairs' | 'tokens'): void {
    if (this.kind !== 'none' && this.kind !== k) {
      throw new ShapeError('SparseBuilder: rows added as pairs and as token sequences cannot be mixed; use one kind per dataset');
    }
    this.kind = k;
  }

  private pushLabels(labels: ArrayLike<number>): void {
    const sorted = Int32Array.from(labels).sort();
    for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) this.lIds.push(sorted[i]!);
    this.lOff.push(this.lIds.length);
  }

  /**
   * Adds a row from distinct feature `indices` with weights `values` (any order;
   * stored ascending) and its `labels` (stored ascending, duplicates removed).
   */
  addRow(indices: ArrayLike<number>, values: ArrayLike<number>, labels: ArrayLike<number>): void {
    this.setKind('pairs');
    const n = indices.length;
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => indices[a]! - indices[b]!);
    for (const i of order) {
      this.fIdx.push(indices[i]!);
      this.fVal.push(values[i]!);
    }
    this.fOff.push(this.fIdx.length);
    this.pushLabels(labels);
  }

  /**
   * Adds a row from a token-id sequence (kept in order) and its `labels`; the
   * feature vector is the bag of token counts.
   */
  addTokens(tokens: ArrayLike<number>, labels: ArrayLike<number>): void {
    this.setKind('tokens');
    const n = tokens.length;
    if (this.scratch.length < n) this.scratch = new Int32Array(Math.max(n, 2 * this.scratch.length));
    const sorted = this.scratch.subarray(0, n);
    for (let i = 0; i < n; i++) {
      const t = tokens[i]!;
      this.sIds.push(t);
      sorted[i] = t;
    }
    this.sOff.push(this.sIds.length);
    sorted.sort();
    for (let i = 0; i < n; ) {
      let j = i + 1;
      while (j < n && sorted[j] === sorted[i]) j++;
      this.fIdx.push(sorted[i]!);
      this.fVal.push(j - i);
      i = j;
    }
    this.fOff.push(this.fIdx.length);
    this.pushLabels(labels);
  }

  /** Returns the dataset; the builder must not be used afterwards. */
  build(info: BuildInfo): SparseDataset {
    const ds: SparseDataset = {
      features: { indices: this.fIdx.toArray(), values: this.fVal.toArray(), offsets: this.fOff.toArray() },
      labels: { ids: this.lIds.toArray(), offsets: this.lOff.toArray() },
      numFeatures: info.numFeatures,
      numLabels: info.numLabels,
      ...(info.featureNames ? { featureNames: info.featureNames } : {}),
      ...(info.labelNames ? { labelNames: info.labelNames } : {}),
      ...(info.labelInfo ? { labelInfo: info.labelInfo } : {}),
      ...(info.rowNames ? { rowNames: info.rowNames } : {}),
      ...(this.kind === 'tokens' ? { sequences: { ids: this.sIds.toArray(), offsets: this.sOff.toArray() } } : {}),
    };
    return ds;
  }
}

/**
 * Checks a dataset's internal consistency: CSR offsets, feature indices strictly
 * ascending in `[0, numFeatures)`, finite weights, labels in `[0, numLabels)`,
 * name arrays of the right lengths, sequences consistent with the row count.
 * Call it at public boundaries (writers, trainers), not per step.
 * @throws ShapeError, LabelRangeError, NonFiniteError
 */
export function checkDataset(ds: SparseDataset, what = 'dataset'): void {
  const f = ds.features;
  const rows = f.offsets.length - 1;
  if (rows < 0 || f.offsets[0] !== 0 || f.offsets[rows] !== f.indices.length || f.values.length !== f.indices.length) {
    throw new ShapeError(`${what}: feature offsets must start at 0 and end at indices.length = values.length`);
  }
  for (let r = 0; r < rows; r++) {
    const a = f.offsets[r]!;
    const b = f.offsets[r + 1]!;
    if (b < a) throw new ShapeError(`${what}: feature offsets must be non-decreasing (row ${r})`);
    for (let k = a; k < b; k++) {
      const j = f.indices[k]!;
      if (j < 0 || j >= ds.numFeatures) {
        throw new ShapeError(`${what}: row ${r} has feature index ${j}, outside [0, ${ds.numFeatures}); raise numFeatures or fix the index`);
      }
      if (k > a && j <= f.indices[k - 1]!) {
        throw new ShapeError(`${what}: row ${r} feature indices must be strictly ascending (merge duplicates)`);
      }
    }
  }
  assertFinite(f.values, `${what} feature values`);
  checkLabels(ds.labels, ds.numLabels, rows, `${what} labels`);
  const lens: [string, readonly string[] | undefined, number][] = [
    ['featureNames', ds.featureNames, ds.numFeatures],
    ['labelNames', ds.labelNames, ds.numLabels],
    ['labelInfo', ds.labelInfo, ds.numLabels],
    ['rowNames', ds.rowNames, rows],
  ];
  for (const [name, arr, n] of lens) {
    if (arr && arr.length !== n) throw new ShapeError(`${what}: ${name} has length ${arr.length}, expected ${n}`);
  }
  const s = ds.sequences;
  if (s) {
    if (s.offsets.length !== rows + 1 || s.offsets[0] !== 0 || s.offsets[rows] !== s.ids.length) {
      throw new ShapeError(`${what}: sequences must have ${rows + 1} offsets from 0 to ids.length`);
    }
    for (let k = 0; k < s.ids.length; k++) {
      const j = s.ids[k]!;
      if (j < 0 || j >= ds.numFeatures) throw new ShapeError(`${what}: sequence token ${j} outside [0, ${ds.numFeatures})`);
    }
  }
}

/** Summary statistics of one dataset or of several sharing a label space. */
export interface DatasetStats {
  /** Number of rows. */
  instances: number;
  /** Size of the label space. */
  labels: number;
  /** Labels that occur in at least one row. */
  labelsUsed: number;
  /** Size of the feature space. */
  features: number;
  /** Mean number of positive labels per row. */
  meanLabelsPerInstance: number;
  /** Mean number of distinct features per row. */
  meanFeaturesPerInstance: number;
  /** Id of the most frequent label (-1 when there are no labels). */
  topLabel: number;
  /** Fraction of rows that contain the most frequent label. */
  topLabelShare: number;
  /** Rows without any label. */
  rowsWithoutLabels: number;
  /** Rows without any feature. */
  rowsWithoutFeatures: number;
}

/**
 * Statistics of a dataset, or pooled over several (e.g. train and test) that
 * share the same label space.
 */
export function datasetStats(data: SparseDataset | readonly SparseDataset[]): DatasetStats {
  const parts = Array.isArray(data) ? (data as readonly SparseDataset[]) : [data as SparseDataset];
  if (parts.length === 0) throw new ShapeError('datasetStats: give at least one dataset');
  const numLabels = parts[0]!.numLabels;
  const counts = new Int32Array(numLabels);
  let instances = 0;
  let labelTotal = 0;
  let featTotal = 0;
  let noLabels = 0;
  let noFeatures = 0;
  for (const ds of parts) {
    if (ds.numLabels !== numLabels) {
      throw new ShapeError(`datasetStats: datasets have ${ds.numLabels} and ${numLabels} labels; pool only datasets sharing a label space`);
    }
    const rows = numRows(ds);
    instances += rows;
    labelTotal += ds.labels.ids.length;
    featTotal += ds.features.indices.length;
    for (let i = 0; i < ds.labels.ids.length; i++) counts[ds.labels.ids[i]!]!++;
    for (let r = 0; r < rows; r++) {
      if (ds.labels.offsets[r + 1] === ds.labels.offsets[r]) noLabels++;
      if (ds.features.offsets[r + 1] === ds.features.offsets[r]) noFeatures++;
    }
  }
  let top = -1;
  let topCount = 0;
  let used = 0;
  for (let l = 0; l < numLabels; l++) {
    const c = counts[l]!;
    if (c > 0) used++;
    if (c > topCount) {
      topCount = c;
      top = l;
    }
  }
  return {
    instances,
    labels: numLabels,
    labelsUsed: used,
    features: parts[0]!.numFeatures,
    meanLabelsPerInstance: instances ? labelTotal / instances : 0,
    meanFeaturesPerInstance: instances ? featTotal / instances : 0,
    topLabel: top,
    topLabelShare: instances ? topCount / instances : 0,
    rowsWithoutLabels: noLabels,
    rowsWithoutFeatures: noFeatures,
  };
}

/**
 * Lower-cased alphanumeric tokens of `text`: the maximal runs of `[a-z0-9]`
 * after Unicode compatibility decomposition, removal of combining marks
 * (so "Café" gives "cafe") and lower-casing. Every other character separates
 * tokens; letters outside a–z (e.g. Greek, CJK) are dropped.
 */
export function tokenize(text: string): string[] {
  // Fast path for ASCII (the common case); fold diacritics only when needed.
  // eslint-disable-next-line no-control-regex
  const s = /^[\x00-\x7f]*$/.test(text) ? text.toLowerCase() : text.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase();
  return s.match(/[a-z0-9]+/g) ?? [];
}

/**
 * Shortest decimal string that parses back to the same float32 value
 * (integers print without a decimal point; negative zero prints as `-0`).
 */
export function formatFloat32(v: number): string {
  if (Object.is(v, -0)) return '-0';
  if (Number.isInteger(v)) return String(v);
  const f = Math.fround(v);
  for (let p = 1; p < 10; p++) {
    const s = Number(f.toPrecision(p));
    if (Math.fround(s) === f) return String(s);
  }
  return String(f);
}
