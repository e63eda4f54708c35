/**
 * Input features of the extreme-classification encoder: a sparse bag of token features
 * and, optionally, hashed word-bigram features, weighted by TF-IDF or raw counts and
 * L2-normalized per row. Browser-safe.
 * @module
 */
import { OptionError, ShapeError, StateError } from '../../core/errors.js';
import { choiceOption, intOption, rejectUnknown } from '../../core/validate.js';
import { numRows, type SparseDataset, type SparseRows } from '../../data/sparse.js';

/** Term weighting of {@link Featurizer}. */
export type TermWeighting = 'tfidf' | 'counts';

/** Options of {@link Featurizer}. */
export interface FeaturizerOptions {
  /** `'tfidf'` (default): count × idf; `'counts'`: raw counts. Rows are L2-normalized either way. */
  weighting?: TermWeighting;
  /**
   * Hash buckets for word bigrams (default 0: no bigrams). Bigram `(a, b)` of consecutive
   * tokens becomes input `numFeatures + hash(a, b) mod bigrams`; it needs token sequences.
   */
  bigrams?: number;
}

/** The fitted state of a {@link Featurizer} (saved with a model). */
export interface FeaturizerState {
  /** Token features of the dataset it was fitted on. */
  numFeatures: number;
  /** Bigram buckets (0: none). */
  bigrams: number;
  /** Weighting. */
  weighting: TermWeighting;
  /** Inverse document frequency per input (`numFeatures + bigrams` entries; all 1 for counts). */
  idf: Float32Array;
}

/** An idf fit in progress over chunks of training rows (see {@link Featurizer.fitter}). */
export interface FeaturizerFit {
  /** Rows added so far. */
  readonly rows: number;
  /**
   * Counts the document frequencies of a chunk of training rows.
   * @throws OptionError (bigrams without token sequences), ShapeError (another feature space), StateError (after finish)
   */
  add(chunk: SparseDataset): void;
  /** The fitted featurizer (no chunk may be added afterwards). */
  finish(): Featurizer;
}

/** Hash bucket of the bigram `(a, b)` (a 32-bit mix of both ids). */
export function bigramBucket(a: number, b: number, buckets: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x7f4a7c15, 0xc2b2ae35);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return (h >>> 0) % buckets;
}

/**
 * Turns dataset rows (or token-id sequences) into L2-normalized sparse input vectors.
 *
 * Inputs are the token features `0 … numFeatures−1` (the dataset's bag of counts) and, with
 * `bigrams > 0`, bucket `numFeatures + bigramBucket(a, b)` for every consecutive token pair of the
 * row's sequence. With `tfidf` a count `c` of input `j` becomes `c · idf_j`,
 * `idf_j = ln((1 + N) / (1 + df_j)) + 1` over the `N` rows it was fitted on (smoothed, so inputs
 * never seen in training get the largest weight rather than infinity). Each row is then divided by
 * its L2 norm (a row without inputs stays empty).
 */
export class Featurizer {
  /** Token features. */
  readonly numFeatures: number;
  /** Bigram buckets. */
  readonly bigrams: number;
  /** Weighting. */
  readonly weighting: TermWeighting;
  /** `numFeatures + bigrams`: the size of the encoder's input space. */
  readonly inputs: number;
  /** Per-input idf (1 for `counts`). */
  readonly idf: Float32Array;

  private constructor(state: FeaturizerState) {
    this.numFeatures = state.numFeatures;
    this.bigrams = state.bigrams;
    this.weighting = state.weighting;
    this.inputs = state.numFeatures + state.bigrams;
    if (state.idf.length !== this.inputs) throw new ShapeError(`featurizer idf has length ${state.idf.length}, expected ${this.inputs}`);
    this.idf = state.idf;
  }

  /**
   * Fits the idf on a training set.
   * @throws OptionError for bad options or bigrams without token sequences
   */
  static fit(train: SparseDataset, opts: FeaturizerOptions = {}): Featurizer {
    const fit = Featurizer.fitter(train.numFeatures, opts);
    fit.add(train);
    return fit.finish();
  }

  /**
   * Fits the idf over training rows given chunk by chunk (one streamed pass over rows that are not
   * held): {@link FeaturizerFit.add} each chunk, then {@link FeaturizerFit.finish}. The idf is the
   * one {@link Featurizer.fit} gives on all the chunks' rows together, to the last bit.
   * @throws OptionError for bad options
   */
  static fitter(numFeatures: number, opts: FeaturizerOptions = {}): FeaturizerFit {
    rejectUnknown(opts, ['weighting', 'bigrams'], 'featurizer');
    const weighting = choiceOption(opts.weighting ?? 'tfidf', 'weighting', ['tfidf', 'counts'] as const);
    const bigrams = intOption(opts.bigrams ?? 0, 'bigrams', 0, 1 << 26);
    const inputs = numFeatures + bigrams;
    const idf = new Float32Array(inputs).fill(1);
    const f = new Featurizer({ numFeatures, bigrams, weighting, idf });
    const df = weighting === 'tfidf' ? new Float64Array(inputs) : null;
    let N = 0;
    let done = false;
    return {
      get rows() {
        return N;
      },
      add: (chunk) => {
        if (done) throw new StateError('this featurizer fit is finished; start another with Featurizer.fitter');
        if (bigrams > 0 && !chunk.sequences) {
          throw new OptionError('bigram features need token sequences (fastText files or the WordNet dataset); use bigrams 0 for XMC files');
        }
        if (chunk.numFeatures !== numFeatures) {
          throw new ShapeError(`featurizer fit over ${numFeatures} features got rows with ${chunk.numFeatures}; give chunks of one feature space`);
        }
        if (df) {
          const rows = f.transformRaw(chunk);
          for (let k = 0; k < rows.indices.length; k++) df[rows.indices[k]!]!++;
        }
        N += numRows(chunk);
      },
      finish: () => {
        done = true;
        if (df) for (let j = 0; j < inputs; j++) idf[j] = Math.log((1 + N) / (1 + df[j]!)) + 1;
        return f;
      },
    };
  }

  /** Restores a fitted featurizer. @throws ShapeError when the idf length does not fit */
  static fromState(state: FeaturizerState): Featurizer {
    return new Featurizer({ ...state, idf: Float32Array.from(state.idf) });
  }

  /** The fitted state (shares the idf array). */
  state(): FeaturizerState {
    return { numFeatures: this.numFeatures, bigrams: this.bigrams, weighting: this.weighting, idf: this.idf };
  }

  /**
   * Weighted, L2-normalized input rows of a dataset sharing the fitted feature space.
   * @throws ShapeError when the dataset has another feature count, or no sequences while bigrams are on
   */
  transform(ds: SparseDataset): SparseRows {
    if (ds.numFeatures !== this.numFeatures) {
      throw new ShapeError(`featurizer was fitted on ${this.numFeatures} features, the dataset has ${ds.numFeatures}; use datasets sharing one feature space`);
    }
    const raw = this.transformRaw(ds);
    this.weightRows(raw.indices, raw.values, raw.offsets);
    return raw;
  }

  /**
   * Input row of one token-id sequence (ids outside `[0, numFeatures)` are ignored), weighted
   * and normalized like {@link Featurizer.transform}.
   */
  transformTokens(tokens: ArrayLike<number>): { indices: Int32Array; values: Float32Array } {
    const counts = new Map<number, number>();
    let prev = -1;
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      if (!(t >= 0 && t < this.numFeatures)) {
        prev = -1;
        continue;
      }
      counts.set(t, (counts.get(t) ?? 0) + 1);
      if (this.bigrams > 0 && prev >= 0) {
        const j = this.numFeatures + bigramBucket(prev, t, this.bigrams);
        counts.set(j, (counts.get(j) ?? 0) + 1);
      }
      prev = t;
    }
    const indices = Int32Array.from([...counts.keys()]).sort();
    const values = Float32Array.from(indices, (j) => counts.get(j)!);
    this.weightRows(indices, values, Int32Array.of(0, indices.length));
    return { indices, values };
  }

  /**
   * Weighted, normalized row from raw input counts (`indices` ascending in `[0, inputs)`);
   * `counts` is not changed.
   */
  weightPairs(indices: Int32Array, counts: Float32Array): { indices: Int32Array; values: Float32Array } {
    const values = counts.slice();
    this.weightRows(indices, values, Int32Array.of(0, indices.length));
    return { indices, values };
  }

  /** Counts of tokens (and bigrams), unweighted. */
  private transformRaw(ds: SparseDataset): SparseRows {
    const rows = numRows(ds);
    const f = ds.features;
    if (this.bigrams === 0) return { indices: f.indices.slice(), values: f.values.slice(), offsets: f.offsets.slice() };
    const seq = ds.sequences;
    if (!seq) throw new ShapeError('bigram features need token sequences; this dataset has none (use bigrams 0)');
    const idx: number[] = [];
    const val: number[] = [];
    const offsets = new Int32Array(rows + 1);
    const counts = new Map<number, number>();
    for (let r = 0; r < rows; r++) {
      for (let k = f.offsets[r]!; k < f.offsets[r + 1]!; k++) {
        idx.push(f.indices[k]!);
        val.push(f.values[k]!);
      }
      counts.clear();
      for (let k = seq.offsets[r]! + 1; k < seq.offsets[r + 1]!; k++) {
        const j = this.numFeatures + bigramBucket(seq.ids[k - 1]!, seq.ids[k]!, this.bigrams);
        counts.set(j, (counts.get(j) ?? 0) + 1);
      }
      for (const j of [...counts.keys()].sort((a, b) => a - b)) {
        idx.push(j);
        val.push(counts.get(j)!);
      }
      offsets[r + 1] = idx.length;
    }
    return { indices: Int32Array.from(idx), values: Float32Array.from(val), offsets };
  }

  /** In place: multiply by idf, then divide each row by its L2 norm. */
  private weightRows(indices: Int32Array, values: Float32Array, offsets: Int32Array): void {
    for (let r = 0; r + 1 < offsets.length; r++) {
      let ss = 0;
      for (let k = offsets[r]!; k < offsets[r + 1]!; k++) {
        const v = values[k]! * this.idf[indices[k]!]!;
        values[k] = v;
        ss += v * v;
      }
      if (ss > 0) {
        const inv = 1 / Math.sqrt(ss);
        for (let k = offsets[r]!; k < offsets[r + 1]!; k++) values[k] = values[k]! * inv;
      }
    }
  }
}
