/**
 * The learned unigram proposal (TensorFlow's `learned_unigram_candidate_sampler`): class counts
 * learned from the positives seen so far, drawn and updated in O(log n) through a sum tree.
 * @module
 */
import type { ClassTable } from '../core/classTable.js';
import { OptionError, ShapeError, StateError } from '../core/errors.js';
import type { Labels } from '../core/matrix.js';
import { checkLabels } from '../core/matrix.js';
import type { Rng } from '../core/rng.js';
import { assertFinite, intOption, numOption, rejectUnknown } from '../core/validate.js';
import { SamplerBase, type RowDistribution } from './base.js';
import { SumTree } from './sumTree.js';
import type { SamplerStats } from './types.js';

/** Options of {@link LearnedUnigramSampler}. */
export interface LearnedUnigramOptions {
  /** Number of classes (TensorFlow's `range_max`). */
  n: number;
  /** Count every class starts with (default 1, as TensorFlow's picker starts every weight at 1); > 0. */
  prior?: number;
  /** Distortion exponent α ≥ 0 applied to the counts (default 1: TensorFlow's learned sampler has none). */
  alpha?: number;
}

/** Option names of {@link LearnedUnigramSampler} (for the sampler registry). */
export const LEARNED_UNIGRAM_OPTIONS = ['n', 'prior', 'alpha'] as const;

/**
 * Draws class `i` with probability `(prior + c_i)^α / Σ_j (prior + c_j)^α`, `c_i` the number of
 * times `i` was observed as a positive so far ({@link LearnedUnigramSampler.observe}, which the
 * output layer calls once per step with the step's labels, after drawing the step's negatives, as
 * TensorFlow's candidate sampler op updates after sampling). Each draw's `log q` is that of the
 * counts at the time of the draw. Draws and updates cost O(log n) (a float64 sum tree whose
 * internal nodes are recomputed from their children, so the probabilities are exact sums).
 * The counts are the state to checkpoint: {@link LearnedUnigramSampler.stateTensors} and
 * {@link LearnedUnigramSampler.loadState}.
 */
export class LearnedUnigramSampler extends SamplerBase {
  readonly name = 'learnedUnigram';
  readonly adaptive = false;
  /** Initial count of every class. */
  readonly prior: number;
  /** Distortion exponent. */
  readonly alpha: number;
  private readonly counts: Float64Array;
  private readonly tree: SumTree;
  private readonly dist: TreeRow;
  private observed = 0;

  /** @throws OptionError (bad n, prior or alpha; unknown options) */
  constructor(opts: LearnedUnigramOptions) {
    super();
    if (opts === null || typeof opts !== 'object') throw new OptionError('learnedUnigram sampler needs options { n, prior?, alpha? }');
    rejectUnknown(opts, LEARNED_UNIGRAM_OPTIONS, 'learnedUnigram sampler');
    if (opts.n === undefined) throw new OptionError('learnedUnigram sampler needs option n (the number of classes)');
    const n = intOption(opts.n, 'n (number of classes)', 1, 2 ** 31 - 1);
    this.prior = opts.prior === undefined ? 1 : numOption(opts.prior, 'prior', 0, 1e300);
    if (!(this.prior > 0)) throw new OptionError(`learnedUnigram sampler: prior must be > 0 (every class needs probability > 0 before it is seen), got ${this.prior}`);
    this.alpha = opts.alpha === undefined ? 1 : numOption(opts.alpha, 'alpha', 0, 1e6);
    this.counts = new Float64Array(n);
    this.tree = new SumTree(n);
    this.fillTree();
    this.dist = new TreeRow(this.tree);
    this.n = n;
    this.built = true;
  }

  /**
   * Checks that `table` has `n` classes (the distribution does not depend on the table).
   * @throws ShapeError on a mismatch
   */
  build(table: ClassTable): void {
    if (table.n !== this.n) throw new ShapeError(`learnedUnigram sampler was created with n = ${this.n} but the table has ${table.n} classes`);
    this.dim = table.d;
  }

  /**
   * Counts every entry of `labels` once (a class listed twice counts twice, as in TensorFlow)
   * and updates its probability, O(log n) each.
   * @throws LabelRangeError for ids outside `[0, n)`
   */
  observe(labels: Labels): void {
    checkLabels(labels, this.n, labels.offsets.length - 1, 'learnedUnigram.observe');
    for (let k = 0; k < labels.ids.length; k++) {
      const id = labels.ids[k]!;
      this.counts[id] = this.counts[id]! + 1;
      this.tree.set(id, this.weightOf(id));
    }
    this.observed += labels.ids.length;
  }

  /** Times class `i` was observed (without the prior). */
  count(i: number): number {
    return this.counts[i]!;
  }

  /** Current probability of class `i`. */
  prob(i: number): number {
    return this.tree.weight(i) / this.tree.total;
  }

  /**
   * The state to checkpoint: the observed counts (int32, one per class).
   * @throws StateError when a count exceeds 2³¹ − 1 (int32)
   */
  stateTensors(): Record<string, Int32Array> {
    const out = new Int32Array(this.n);
    for (let i = 0; i < this.n; i++) {
      const c = this.counts[i]!;
      if (c > 2147483647) throw new StateError(`learnedUnigram: class ${i} was seen ${c} times, more than an int32 checkpoint holds`);
      out[i] = c;
    }
    return { counts: out };
  }

  /**
   * Restores {@link LearnedUnigramSampler.stateTensors}.
   * @throws ShapeError (wrong length), OptionError (negative counts), NonFiniteError
   */
  loadState(state: Readonly<Record<string, ArrayLike<number>>>): void {
    const c = state['counts'];
    if (c === undefined) throw new ShapeError('learnedUnigram.loadState: the state has no counts');
    if (c.length !== this.n) throw new ShapeError(`learnedUnigram.loadState: counts have ${c.length} entries, the sampler has ${this.n} classes`);
    const f = Float64Array.from(c);
    assertFinite(f, 'learnedUnigram.loadState: counts');
    let total = 0;
    for (let i = 0; i < f.length; i++) {
      if (f[i]! < 0) throw new OptionError(`learnedUnigram.loadState: counts[${i}] = ${f[i]} is negative`);
      total += f[i]!;
    }
    this.counts.set(f);
    this.observed = total;
    this.fillTree();
  }

  stats(): SamplerStats {
    return { sampler: this.name, n: this.n, prior: this.prior, alpha: this.alpha, observed: this.observed, bytes: this.counts.byteLength * 3 };
  }

  protected rowDistribution(): RowDistribution {
    return this.dist;
  }

  private weightOf(i: number): number {
    const c = this.prior + this.counts[i]!;
    return this.alpha === 1 ? c : Math.pow(c, this.alpha);
  }

  private fillTree(): void {
    const w = new Float64Array(this.counts.length);
    for (let i = 0; i < w.length; i++) w[i] = this.weightOf(i);
    this.tree.fill(w, w.length);
  }
}

/** A {@link RowDistribution} backed by a sum tree (shared by every row). */
class TreeRow implements RowDistribution {
  lastLogQ = 0;
  constructor(private readonly tree: SumTree) {}
  draw(rng: Rng): number {
    const id = this.tree.draw(rng);
    this.lastLogQ = Math.log(this.tree.weight(id) / this.tree.total);
    return id;
  }
  logProb(id: number): number {
    return Math.log(this.tree.weight(id) / this.tree.total);
  }
}
