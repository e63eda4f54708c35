/**
 * Streaming frequency estimation for in-batch negatives: the hashed step-gap estimator of
 * Yi et al., "Sampling-bias-corrected neural modeling for large corpus item recommendations"
 * (RecSys 2019).
 * @module
 */
import { NonFiniteError, OptionError, ShapeError, StateError } from '../core/errors.js';
import { intOption, numOption, rejectUnknown } from '../core/validate.js';

/** Options of {@link StreamingFrequencyEstimator}. */
export interface StreamingFrequencyOptions {
  /** Number of hash buckets `H` (≥ 1). With `H ≥` the number of ids and `hash: 'identity'` no two ids share a bucket. */
  buckets: number;
  /** Learning rate `α` of the gap average, in (0, 1] (default 0.01). */
  alpha?: number;
  /**
   * Step gap every bucket starts from, averaged with its first gaps like any other (default: none;
   * a bucket's first occurrence at step `t` sets `B = t`, its gap from step 0, so that a short run
   * is not dominated by an arbitrary start). The estimate of an id never seen is `1 / initialGap`,
   * or 0 without one.
   */
  initialGap?: number;
  /** `'identity'` (`id mod H`) or `'multiplicative'` (Knuth's multiplicative hash, default). */
  hash?: 'identity' | 'multiplicative';
}

/**
 * Estimates, for each id of a stream of batches, the probability `p` that it occurs in a batch,
 * from the gaps between the steps where it occurs (Yi et al., Algorithm 2): arrays `A` (last step
 * the bucket was seen) and `B` (estimated gap) of size `H`; at step `t` each distinct id `y` of the
 * batch updates its bucket `h = hash(y)`: `B[h] ← (1 − α)·B[h] + α·(t − A[h])`, `A[h] ← t`; the
 * estimate is `p̂ = 1 / B[h]`. An id occurring `k` times in a batch is counted once per step,
 * so `p̂` estimates the per-batch occurrence probability `1 − (1 − f)^b` (≈ `b·f` for a rare id
 * of frequency `f` in batches of `b`): the expected count of the id among a batch's distinct
 * positives, which is the `log Q` the in-batch sampled softmax subtracts (it counts each distinct
 * item of a batch once, see `inBatchDraws`), not its expected number of occurrences `b·f`. Ids sharing a bucket share an
 * estimate (their occurrence probabilities add up); the first occurrence of a bucket sets its gap
 * to the steps since step 0 (unless `initialGap` gives a start to average from).
 */
export class StreamingFrequencyEstimator {
  /** Number of buckets. */
  readonly buckets: number;
  /** Learning rate of the gap average. */
  readonly alpha: number;
  /** The hash. */
  readonly hash: 'identity' | 'multiplicative';
  private readonly last: Float64Array;
  private readonly gap: Float64Array;
  private step = 0;

  /** @throws OptionError for bad options */
  constructor(opts: StreamingFrequencyOptions) {
    if (opts === null || typeof opts !== 'object') throw new OptionError('StreamingFrequencyEstimator needs options { buckets, alpha?, initialGap?, hash? }');
    rejectUnknown(opts, ['buckets', 'alpha', 'initialGap', 'hash'], 'StreamingFrequencyEstimator');
    this.buckets = intOption(opts.buckets, 'buckets', 1, 2 ** 31 - 1);
    this.alpha = opts.alpha === undefined ? 0.01 : numOption(opts.alpha, 'alpha', 0, 1);
    if (!(this.alpha > 0)) throw new OptionError('StreamingFrequencyEstimator: alpha must be in (0, 1]');
    const g0 = opts.initialGap === undefined ? Infinity : numOption(opts.initialGap, 'initialGap', 1, 1e300);
    const hash = opts.hash ?? 'multiplicative';
    if (hash !== 'identity' && hash !== 'multiplicative') throw new OptionError(`StreamingFrequencyEstimator: hash must be 'identity' or 'multiplicative', got '${String(hash)}'`);
    this.hash = hash;
    this.last = new Float64Array(this.buckets);
    this.gap = new Float64Array(this.buckets).fill(g0);
  }

  /** Steps observed so far. */
  get steps(): number {
    return this.step;
  }

  /** The bucket of `id`. */
  bucket(id: number): number {
    if (this.hash === 'identity') return id % this.buckets;
    return (Math.imul(id, 0x9e3779b1) >>> 0) % this.buckets;
  }

  /** Observes one batch's ids (the next step `t`): each distinct bucket updated once. */
  observe(ids: ArrayLike<number>): void {
    const t = ++this.step;
    const a = this.alpha;
    for (let k = 0; k < ids.length; k++) {
      const id = ids[k]!;
      if (!Number.isInteger(id) || id < 0) throw new OptionError(`StreamingFrequencyEstimator.observe: ids must be non-negative integers, got ${id}`);
      const h = this.bucket(id);
      if (this.last[h] === t) continue; // already updated at this step
      const g = this.gap[h]!;
      this.gap[h] = g === Infinity ? t : (1 - a) * g + a * (t - this.last[h]!);
      this.last[h] = t;
    }
  }

  /**
   * The estimate's state as named arrays for a checkpoint (copies): `last` (`[H]`, the last step
   * each bucket was seen, 0: never), `gap` (`[2H]`, the float64 gap estimates as pairs of 32-bit
   * words, so that a restored estimate is bit-identical) and `step` (`[1]`, steps observed).
   * @throws StateError past 2³¹ − 1 steps (more than an int32 checkpoint holds)
   */
  stateTensors(): { last: Int32Array; gap: Int32Array; step: Int32Array } {
    if (this.step > 2147483647) throw new StateError(`StreamingFrequencyEstimator: ${this.step} steps, more than an int32 checkpoint holds`);
    return {
      last: Int32Array.from(this.last),
      gap: new Int32Array(this.gap.slice().buffer),
      step: Int32Array.of(this.step),
    };
  }

  /**
   * Restores {@link StreamingFrequencyEstimator.stateTensors} into an estimate with the same
   * buckets (the options are not part of the state: build it with the run's). Nothing is changed
   * unless the whole state passes.
   * @throws ShapeError (a missing array or one of the wrong length), NonFiniteError (a NaN gap),
   *   StateError (values no run can produce: a negative step, a bucket seen after the last step,
   *   a gap below 1, an infinite gap on a seen bucket)
   */
  loadState(state: Readonly<Record<string, ArrayLike<number>>>): void {
    const what = 'StreamingFrequencyEstimator.loadState';
    const H = this.buckets;
    const get = (k: string, len: number): ArrayLike<number> => {
      const a = state[k];
      if (a === undefined) throw new ShapeError(`${what}: the state has no '${k}'`);
      if (a.length !== len) throw new ShapeError(`${what}: '${k}' has ${a.length} entries, expected ${len} for ${H} buckets; the state is of an estimate with other --frequency-buckets`);
      return a;
    };
    const last = get('last', H);
    const words = get('gap', 2 * H);
    const stepArr = get('step', 1);
    const step = stepArr[0]!;
    if (!Number.isInteger(step) || step < 0) throw new StateError(`${what}: step ${step} is not a non-negative integer`);
    const gap = new Float64Array(Int32Array.from(words).buffer);
    for (let h = 0; h < H; h++) {
      const a = last[h]!;
      const g = gap[h]!;
      if (!Number.isInteger(a) || a < 0 || a > step) throw new StateError(`${what}: bucket ${h} was last seen at step ${a}, outside 0..${step}`);
      if (Number.isNaN(g)) throw new NonFiniteError(`${what}: the gap of bucket ${h} is NaN`, h);
      if (!(g >= 1)) throw new StateError(`${what}: the gap of bucket ${h} is ${g}, below 1 step`);
      if (g === Infinity && a > 0) throw new StateError(`${what}: bucket ${h} was seen at step ${a} but has no gap`);
    }
    for (let h = 0; h < H; h++) this.last[h] = last[h]!;
    this.gap.set(gap);
    this.step = step;
  }

  /** `p̂ = 1 / B[hash(id)]`, the estimated probability that `id` occurs in a batch (0 for a bucket never seen without `initialGap`). */
  prob(id: number): number {
    return 1 / this.gap[this.bucket(id)]!;
  }

  /** `log p̂` of every id. */
  logProb(ids: ArrayLike<number>): Float64Array {
    const out = new Float64Array(ids.length);
    for (let k = 0; k < ids.length; k++) out[k] = -Math.log(this.gap[this.bucket(ids[k]!)]!);
    return out;
  }
}
