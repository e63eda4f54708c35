/**
 * Monte-Carlo moments of sampled gradients, shared by the bias study's sampler and in-batch rows.
 * @module
 */

/** Monte-Carlo moments of the sampled gradient for each query. */
export interface GradientTrials {
  /** `[B, d]` mean over trials of the sampled gradient w.r.t. each query. */
  mean: Float64Array;
  /** `[B, d]` unbiased per-coordinate variance over trials. */
  variance: Float64Array;
  /** All trials' gradients `[trials, B, d]` (for projections). */
  samples: Float64Array;
  /** `[trials]` batch-mean sampled loss of each trial. */
  losses: Float64Array;
  /** Seconds spent in `sampler.sample`. */
  sampleSeconds: number;
  trials: number;
}

/** The mean and unbiased variance over `T` trials of `[T, k]` gradient samples. */
export function trialMoments(samples: Float64Array, losses: Float64Array, sampleSeconds: number, T: number, k: number): GradientTrials {
  const mean = new Float64Array(k);
  const variance = new Float64Array(k);
  for (let t = 0; t < T; t++) for (let i = 0; i < k; i++) mean[i] += samples[t * k + i]!;
  for (let i = 0; i < k; i++) mean[i] = mean[i]! / T;
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < k; i++) {
      const e = samples[t * k + i]! - mean[i]!;
      variance[i] += e * e;
    }
  }
  for (let i = 0; i < k; i++) variance[i] = variance[i]! / (T - 1);
  return { mean, variance, samples, losses, sampleSeconds, trials: T };
}
