/**
 * Types shared by the sampled and full softmax losses.
 * @module
 */
import type { ClassTable } from '../core/classTable.js';
import type { Labels, Matrix } from '../core/matrix.js';
import type { Draws } from '../samplers/types.js';

/** The estimator conventions, see {@link Convention}. */
export const CONVENTIONS = ['exclusive', 'correctedAll', 'maskedExclusive'] as const;

/**
 * The estimator conventions of ALGORITHMS.md §2.
 * - `exclusive`: negatives drawn from the classes other than the row's positives (draws made
 *   with `exclude: labels`); the positive keeps its raw logit; each negative uses `o − log(m·q)`.
 *   The exclusion is by rejection, so a row whose positives hold nearly all of the proposal's
 *   mass is refused with an `ImpossibleError`. An adaptive proposal gets there as the model
 *   grows confident (a language model after "." predicts `<eos>` almost surely); the other two
 *   conventions never reject.
 * - `correctedAll`: draws from all classes; every candidate, the positive included, uses
 *   `o − log Q`; sampled ids equal to any positive of the row are masked out.
 * - `maskedExclusive`: the exclusive estimator without rejection sampling. Draws come from all
 *   classes (with replacement); the draws that hit a positive of the row are dropped, and the
 *   `k` kept ones, which are i.i.d. draws from the proposal restricted to the non-positive
 *   classes `q'_j = q_j / (1 − Q_P)` (`Q_P` the proposal mass of the row's positives), each use
 *   `o_j − log(k·q'_j)`; the positive keeps its raw logit. With `q` equal to the softmax the
 *   partition estimate is exact, as for `exclusive`, whereas `correctedAll` then weighs a row by
 *   up to `m` times its full-softmax weight once the model predicts its positive well.
 */
export type Convention = (typeof CONVENTIONS)[number];

/** The multi-label weightings, see {@link LabelWeighting}. */
export const LABEL_WEIGHTINGS = ['mean', 'sum', 'joint'] as const;

/**
 * How a multi-label row's positives enter the loss.
 * - `'mean'` (default): one softmax term per positive `p`, over `{p}` and the negatives (the row's
 *   other positives left out), each weighted `1/P`.
 * - `'sum'`: the same terms, each weighted 1.
 * - `'joint'`: TensorFlow's multi-label `sampled_softmax_loss` (and `softmax_cross_entropy` with
 *   soft labels): ONE softmax over all of the row's positives and its negatives, with target
 *   `1/P` on each positive: `L_r = log Σ_c exp(a_c) − (1/P) Σ_p a_p`. With one label per row the
 *   three weightings agree. The sampled loss takes it under the `correctedAll` convention only
 *   (TensorFlow's `log Q` on every logit).
 */
export type LabelWeighting = (typeof LABEL_WEIGHTINGS)[number];

/** Gradient for the touched class rows only. */
export interface SparseRowGrad {
  /** Distinct class ids touched by the step, ascending. */
  readonly ids: Int32Array;
  /** `[ids.length, d]` gradient rows, aligned with `ids`. */
  readonly rows: Float32Array;
  /** Gradient of the biases of `ids`, or `null` when the table has no bias. */
  readonly bias: Float32Array | null;
}

/** Loss value and gradients of one batch. */
export interface LossResult {
  /** Mean loss over the (weighted) rows. */
  readonly loss: number;
  /** `[B, d]` gradient of the mean loss w.r.t. the queries. */
  readonly gradQueries: Float32Array;
  /** Sparse gradient of the mean loss w.r.t. the class table. */
  readonly gradClasses: SparseRowGrad;
}

/** Inputs common to both losses. */
export interface LossInputBase {
  /** Query vectors `[B, d]`. */
  queries: Matrix;
  /** The class table (`n × d`, optional bias). */
  table: ClassTable;
  /** Positives of each row (CSR); rows with no positive must have weight 0. */
  labels: Labels;
  /** Per-row weights; 0 masks a padded row. Default all 1. */
  rowWeights?: Float32Array | null;
  /** Multi-label weighting, default `'mean'`: each of a row's `P` positives gets weight `1/P` (see {@link LabelWeighting}). */
  labelWeighting?: LabelWeighting;
  /**
   * Compute gradients (default true). When false only the loss is computed:
   * `gradQueries` has length 0 and `gradClasses` has no ids.
   */
  grad?: boolean;
}

/** Inputs of the sampled softmax loss. */
export interface SampledLossInput extends LossInputBase {
  /** Draws from the sampler (per-query rows = B, or shared). */
  draws: Draws;
  /** Estimator convention. */
  convention: Convention;
  /**
   * `sampler.logQ(queries, labels)`: log-probability of each positive under the
   * proposal (aligned with `labels.ids`). Required for `correctedAll`, ignored by `exclusive`.
   */
  posLogQ?: Float64Array | null;
  /**
   * Mask accidental hits (default true): a sampled id equal to a positive of its row is removed
   * from the row's partition. With false (TensorFlow's `remove_accidental_hits=False`) it stays as
   * an ordinary negative with its `o − log Q`. Only meaningful under `correctedAll`: `exclusive`
   * draws cannot hit and `maskedExclusive` is defined by dropping the hits, so false is refused
   * there.
   */
  removeAccidentalHits?: boolean;
  /**
   * An array to write the class-gradient rows into instead of a new one: `gradClasses.rows` is
   * then a view of its first `k·d` values (`k` touched rows), valid until the array is reused.
   * `min(n, labels.ids.length + draws.ids.length) · d` values always suffice; a shorter array is
   * refused when the batch touches more rows than it holds. Reusing one array (in kernel memory,
   * `FastKernels.allocF32`) saves an allocation of megabytes per step and the kernels' copies of it.
   */
  gradRowsInto?: Float32Array | null;
}
