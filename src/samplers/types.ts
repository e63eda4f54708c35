/**
 * The sampler contract shared by every proposal distribution.
 * @module
 */
import type { ClassTable } from '../core/classTable.js';
import { log1mExp } from '../core/math.js';
import type { Labels, Matrix } from '../core/matrix.js';
import type { Rng } from '../core/rng.js';

/** Options of {@link Sampler.sample}. */
export interface SampleOptions {
  /** Draws per row (with replacement) or distinct ids per row (`unique`). */
  m: number;
  /** Source of randomness; the only one used. */
  rng: Rng;
  /** Query vectors `[B, d]`. Required by query-dependent samplers; may be omitted by static ones. */
  queries?: Matrix | null;
  /** Number of rows `B` when `queries` is omitted. */
  rows?: number;
  /** One set of `m` ids shared by the whole batch (query-independent samplers only). Default false. */
  shared?: boolean;
  /** Draw `m` distinct ids per row (without replacement). Default false. */
  unique?: boolean;
  /**
   * Ids each row must not draw (usually its positives). The proposal is renormalized over
   * the remaining classes and the reported `logQ` is that of the renormalized proposal.
   * With `shared`, the union of all rows' ids is excluded.
   */
  exclude?: Labels | null;
  /**
   * Give every row its own generator (default false): the call takes one `split()` of `rng` and
   * row `r` draws from its `fork(r)`, so a row's draws do not depend on the other rows, and the
   * rows can be sampled in any order or on several threads with the same result. With false
   * the rows draw one after the other from `rng`.
   */
  rowStreams?: boolean;
}

/**
 * A batch of draws. For row `r` (0 when `shared`) and slot `j < m`, the id is
 * `ids[r*m + j]` and `logQ[r*m + j]` is:
 * - with replacement: `log q(id | row)`, the probability of that single draw;
 * - `unique`: `log π(id | row)`, its inclusion probability in the row's set, computed as
 *   `1 − (1 − q)^T` from the row's number of tries `T` (the expected-count convention of
 *   TensorFlow's candidate samplers).
 * Use {@link logExpectedCount} to get the `log Q` a corrected loss subtracts.
 */
export interface Draws {
  readonly ids: Int32Array;
  readonly logQ: Float64Array;
  /** Rows of draws: `B`, or 1 when shared. */
  readonly rows: number;
  readonly m: number;
  readonly shared: boolean;
  readonly unique: boolean;
  /** `unique` only: with-replacement tries per row that produced the `m` distinct ids. */
  readonly tries: Int32Array | null;
}

/** Result of {@link Sampler.sampleWithLogQ}. */
export interface SampleWithLogQ {
  /** The draws, as {@link Sampler.sample} returns them. */
  readonly draws: Draws;
  /** `log q` of every given id under its row's distribution, as {@link Sampler.logQ} returns it. */
  readonly logQ: Float64Array;
}

/**
 * Per-row access to a sampler's distributions over one batch of queries (see
 * {@link Sampler.openRows}): how a composite sampler (`ShardedSampler`) draws from its parts.
 */
export interface SamplerRows {
  /** The distribution of row `r` (valid until the next call of `row` or `close`). */
  row(r: number): RowDistribution;
  /** Ends the batch (idempotent). */
  close(): void;
}

/** Diagnostic figures a sampler reports about its state. */
export type SamplerStats = Record<string, number | string | boolean>;

/**
 * A proposal distribution over `n` classes, possibly conditioned on a query vector.
 * Lifecycle after FAISS's `Index`: `build(table)` once, `update(ids)` after rows change,
 * `sample` and `logQ` any number of times.
 */
export interface Sampler {
  /** Registry name, e.g. `'uniform'`. */
  readonly name: string;
  /** True when the distribution depends on the query (then `queries` is required and `shared` is refused). */
  readonly adaptive: boolean;
  /** True once `build` succeeded. */
  readonly isBuilt: boolean;
  /** Number of classes (0 before `build` when it comes from the table). */
  readonly numClasses: number;
  /** (Re)builds all state from the class table. */
  build(table: ClassTable): void;
  /** Refreshes the state for the given class rows after they changed in the table used by `build`. */
  update(ids: ArrayLike<number>): void;
  /** Draws `m` ids per row with their exact log-probabilities. */
  sample(opts: SampleOptions): Draws;
  /**
   * `log q(id | row)` of a single draw, for arbitrary ids given per row (CSR): element `k` of
   * the result scores `ids.ids[k]` under the distribution of its row. Not renormalized for
   * exclusions. Static samplers ignore `queries` (pass `null`).
   */
  logQ(queries: Matrix | null, ids: Labels): Float64Array;
  /**
   * {@link Sampler.sample} and {@link Sampler.logQ} of the same rows in one pass: equal to
   * `{ draws: sample(opts), logQ: logQ(opts.queries ?? null, ids) }` (same draws, same generator
   * use, same values), but a query-dependent sampler sets up each row's distribution once instead
   * of twice. Optional; callers fall back to the two calls.
   */
  sampleWithLogQ?(opts: SampleOptions, ids: Labels): SampleWithLogQ;
  /** Diagnostic figures (sizes, build time, memory). */
  stats(): SamplerStats;
  /**
   * The distribution of every row of a batch, for composing samplers. Optional: a sampler without
   * it cannot be a shard of a `ShardedSampler`. Each {@link RowDistribution} should report
   * its `logMass`.
   */
  openRows?(queries: Matrix | null): SamplerRows;
  /** Number of ids with positive probability once built (default: `numClasses`). Optional. */
  readonly supportCount?: number;
  /**
   * Learns from a step's positives (optional; samplers whose proposal is estimated from the
   * labels seen, such as `learnedUnigram`). The output layer calls it once per applied step,
   * after that step's draws.
   */
  observe?(labels: Labels): void;
  /** State learned during training (optional; e.g. `learnedUnigram`'s counts), to checkpoint. */
  stateTensors?(): Record<string, Int32Array | Float32Array>;
  /** Restores {@link Sampler.stateTensors} (optional, present with it). */
  loadState?(state: Readonly<Record<string, ArrayLike<number>>>): void;
}

/**
 * `log Q` of a draw record entry, the log expected count used by the corrected losses:
 * `log(m·q)` for draws with replacement, `log π` (already an inclusion probability) for unique ones.
 */
export function logExpectedCount(d: Draws, index: number): number {
  return d.unique ? d.logQ[index]! : d.logQ[index]! + Math.log(d.m);
}

/**
 * `log Q` for an id that was scored separately (e.g. a positive, via {@link Sampler.logQ}) under
 * the same draw record: `log(m·q)` with replacement, `log(1 − (1 − q)^T)` for unique draws.
 */
export function logExpectedCountOf(d: Draws, row: number, logq: number): number {
  if (!d.unique) return logq + Math.log(d.m);
  return logInclusionProb(logq, d.tries![d.shared ? 0 : row]!);
}

/**
 * `log(1 − (1 − q)^T)` from `log q` and `T` tries, accurate for every `q` in `[0, 1]`,
 * including probabilities too small for `1 − q` to differ from 1 in float64
 * (then `log π ≈ log T + log q`).
 */
export function logInclusionProb(logq: number, tries: number): number {
  if (logq === -Infinity || tries <= 0) return -Infinity;
  if (logq >= 0) return 0;
  // a = log(−T·log(1 − q)) = log T + log(−log1p(−q))
  const negLog1m = logq < -30 ? logq + Math.log1p(Math.exp(logq) / 2) : Math.log(-log1mExp(logq));
  const a = Math.log(tries) + negLog1m;
  // log π = log(1 − e^{−e^a}); for tiny e^a it is a − e^a/2 + …
  return a < -30 ? a + Math.log1p(-Math.exp(a) / 2) : log1mExp(-Math.exp(a));
}

/** The distribution of one row: draw one id, or score any id. */
export interface RowDistribution {
  /** Draws one id and stores its log-probability in {@link RowDistribution.lastLogQ}. */
  draw(rng: Rng): number;
  /** Log-probability of the id returned by the last `draw`. */
  lastLogQ: number;
  /** `log q(id)` under this row's distribution. */
  logProb(id: number): number;
  /**
   * Optional batched form of `draw`: writes `count` draws to `ids[o..o+count)` and their
   * log-probabilities to `logQ[o..o+count)`; it lets a distribution do per-row work for all the
   * draws at once (see MIDX's `softmax` stage). The draws must be independent draws of the row's
   * distribution, as `count` calls of `draw` make them, and depend on `rng` alone. MIDX's consumes
   * `rng` as those calls would and returns the same ids; a sharded composite's groups the draws
   * by shard, so it returns other ids (same law, still deterministic).
   */
  drawMany?(rng: Rng, count: number, ids: Int32Array, logQ: Float64Array, o: number): void;
  /**
   * Log of this row's unnormalised proposal mass `M` (the sum of the weights the row's
   * probabilities are normalised by; −Infinity when the row has none), on a scale comparable
   * between samplers of the same kind and options built on different parts of one table: the mass
   * of a union of parts is the sum of their masses. Needed to compose samplers
   * (`ShardedSampler` draws shard `s` with probability `M_s / Σ M`); optional otherwise.
   */
  readonly logMass?: number;
}
