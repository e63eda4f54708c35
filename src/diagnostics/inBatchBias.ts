/**
 * In-batch and mixed negatives in the bias study: the gradient of each study query when its
 * negatives are the other rows' positives of a batch (Yi et al.'s two-tower setting), corrected by
 * the exact inclusion probabilities, by a warmed streaming frequency estimate, or not at all.
 * @module
 */
import { OptionError } from '../core/errors.js';
import { searchCumulative } from '../core/math.js';
import { type Labels, type Matrix, singleLabels } from '../core/matrix.js';
import type { Rng } from '../core/rng.js';
import type { ClassTable } from '../core/classTable.js';
import { intOption, numOption } from '../core/validate.js';
import { inBatchDraws, mixedDraws } from '../loss/inBatch.js';
import { sampledSoftmaxLoss } from '../loss/sampled.js';
import { StreamingFrequencyEstimator } from '../samplers/frequency.js';
import type { Draws, Sampler } from '../samplers/types.js';
import { trialMoments, type GradientTrials } from './trials.js';

/** How a batch's `log Q` is obtained: none (the uncorrected in-batch softmax), exact, or a streaming estimate. */
export type BatchCorrection = 'none' | 'exact' | 'streaming';

/**
 * The batch of the in-batch study. Each trial forms, for every study query, a batch of `m + 1`
 * rows: the query with its label, and `m` other rows whose positives are drawn independently from
 * `frequencies` (the marginal label distribution: other users' positives). Their distinct items
 * other than the query's own label are its negatives.
 */
export interface BatchSetting {
  /** The label distribution of the other rows (normalized here; any non-negative weights). */
  frequencies: ArrayLike<number>;
  /** Buckets of the streaming estimate (`'streaming'` only). */
  buckets: number;
  /** Learning rate of the streaming estimate. */
  alpha: number;
  /** Batches of `m + 1` rows from `frequencies` the streaming estimate observes before the study. */
  warmup: number;
}

/** Options of {@link inBatchTrials}. */
export interface InBatchTrialOptions {
  /** Other rows per batch (the batch has `m + 1` rows); for mixed negatives also the sampler's draws per row. */
  m: number;
  trials: number;
  correction: BatchCorrection;
  batch: BatchSetting;
  rng: Rng;
  /**
   * Mixed negatives: the (built) sampler whose `m` draws per row join the batch's items, corrected
   * by `log(Q_batch + Q_sampler)` ({@link mixedDraws}). Null: in-batch negatives alone.
   */
  mixWith?: Sampler | null;
  /** Mixed only: the sampler draws without replacement. */
  unique?: boolean;
}

/**
 * `log Q_batch` of every class exactly: the probability `1 − (1 − p_j)^(m+1)` that class `j` is
 * among the positives of a batch of `m + 1` rows drawn from `p` (what the streaming estimate
 * converges to when every class has its own bucket).
 */
export function exactBatchLogQ(p: Float64Array, m: number): Float64Array {
  const rows = m + 1;
  return Float64Array.from(p, (pj) => (pj <= 0 ? -Infinity : pj >= 1 ? 0 : Math.log(-Math.expm1(rows * Math.log1p(-pj)))));
}

/** Normalizes non-negative weights to a distribution. */
export function normalizedFrequencies(f: ArrayLike<number>, n: number): Float64Array {
  if (f.length !== n) throw new OptionError(`in-batch study: ${f.length} class frequencies for ${n} classes`);
  let s = 0;
  for (let i = 0; i < n; i++) {
    const x = f[i]!;
    if (!(x >= 0) || !Number.isFinite(x)) throw new OptionError(`in-batch study: frequency ${i} is ${x}; give non-negative finite weights`);
    s += x;
  }
  if (!(s > 0)) throw new OptionError('in-batch study: the class frequencies sum to 0');
  return Float64Array.from({ length: n }, (_, i) => f[i]! / s);
}

/** Draws `k` ids independently from the cumulative distribution `cdf` (binary search). */
function drawFrom(cdf: Float64Array, k: number, rng: Rng, out: Int32Array, offset: number): void {
  const n = cdf.length;
  const total = cdf[n - 1]!;
  for (let i = 0; i < k; i++) out[offset + i] = searchCumulative(cdf, 0, n, rng.float() * total);
}

/**
 * A streaming estimate warmed on `warmup` batches of `rows` positives drawn from `p`, as training
 * leaves it after that many steps.
 */
export function warmedEstimate(p: Float64Array, rows: number, batch: BatchSetting, rng: Rng): StreamingFrequencyEstimator {
  const est = new StreamingFrequencyEstimator({ buckets: batch.buckets, alpha: batch.alpha });
  const cdf = cumulative(p);
  const ids = new Int32Array(rows);
  for (let s = 0; s < batch.warmup; s++) {
    drawFrom(cdf, rows, rng, ids, 0);
    est.observe(ids);
  }
  return est;
}

function cumulative(p: Float64Array): Float64Array {
  const c = new Float64Array(p.length);
  let s = 0;
  for (let i = 0; i < p.length; i++) c[i] = s += p[i]!;
  return c;
}

/**
 * Monte-Carlo moments of the gradient of every study query under in-batch (or mixed) negatives:
 * each trial draws a fresh batch for every query (see {@link BatchSetting}) and evaluates the
 * training code's draw record ({@link inBatchDraws} or {@link mixedDraws}) with
 * `sampledSoftmaxLoss` under `correctedAll`. With `'streaming'`, the estimate warmed on
 * `batch.warmup` batches observes the trial's batch before its loss, as in training; each trial
 * starts from the warmed state, so trials are independent.
 */
export function inBatchTrials(table: ClassTable, queries: Matrix, labels: Labels, opts: InBatchTrialOptions): GradientTrials {
  const m = intOption(opts.m, 'm', 1);
  const T = intOption(opts.trials, 'trials', 2);
  const B = queries.rows;
  const d = table.d;
  const n = table.n;
  if (labels.ids.length !== B) throw new OptionError('in-batch study: one label per query');
  numOption(opts.batch.alpha, 'alpha', 0, 1);
  const p = normalizedFrequencies(opts.batch.frequencies, n);
  const cdf = cumulative(p);
  const exact = opts.correction === 'exact' ? exactBatchLogQ(p, m) : null;
  const est = opts.correction === 'streaming' ? warmedEstimate(p, m + 1, { ...opts.batch, warmup: intOption(opts.batch.warmup, 'warmup', 0) }, opts.rng.fork(7)) : null;
  const warm = est?.stateTensors() ?? null;
  const mix = opts.mixWith ?? null;
  const rng = opts.rng;
  const samples = new Float64Array(T * B * d);
  const losses = new Float64Array(T);
  const rows = m + 1;
  const batchIds = new Int32Array(rows);
  const q1: Matrix = { data: new Float32Array(d), rows: 1, cols: d };
  let sampleSeconds = 0;
  const logQOf = (ids: ArrayLike<number>): Float64Array | null => {
    if (exact) return Float64Array.from(ids, (j) => exact[j]!);
    if (est) return est.logProb(ids);
    return null;
  };
  for (let t = 0; t < T; t++) {
    let lossSum = 0;
    for (let b = 0; b < B; b++) {
      const t0 = performance.now();
      const y = labels.ids[b]!;
      batchIds[0] = y;
      drawFrom(cdf, m, rng, batchIds, 1);
      if (est) {
        est.loadState(warm!);
        est.observe(batchIds);
      }
      q1.data.set(queries.data.subarray(b * d, (b + 1) * d));
      const batchLabels = singleLabels(batchIds);
      const bq = logQOf(batchIds);
      let draws: Draws;
      let pos: number;
      if (mix === null) {
        const r = inBatchDraws(batchLabels, bq);
        draws = r.draws;
        pos = r.posLogQ[0]!;
      } else {
        const s = mix.sample({ m, rng, queries: mix.adaptive ? q1 : null, rows: 1, unique: opts.unique ?? false });
        const shared: Draws = { ...s, shared: true, rows: 1 };
        // one query for the whole batch: every row's proposal is row 0's
        const r = mixedDraws({
          labels: batchLabels, batchLogQ: bq, sampledBatchLogQ: logQOf(s.ids), sampled: shared,
          samplerLogQ: (ids) => mix.logQ(mix.adaptive ? q1 : null, ids), sameProposal: true,
        });
        const M = r.draws.m;
        draws = { ids: r.draws.ids.slice(0, M), logQ: r.draws.logQ.slice(0, M), rows: 1, m: M, shared: false, unique: false, tries: null };
        pos = r.posLogQ[0]!;
      }
      sampleSeconds += (performance.now() - t0) / 1000;
      const res = sampledSoftmaxLoss({ queries: q1, table, labels: singleLabels([y]), draws, convention: 'correctedAll', posLogQ: Float64Array.of(pos) });
      lossSum += res.loss;
      samples.set(res.gradQueries, (t * B + b) * d);
    }
    losses[t] = lossSum / B;
  }
  return trialMoments(samples, losses, sampleSeconds, T, B * d);
}
