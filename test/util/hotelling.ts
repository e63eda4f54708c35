/**
 * Hotelling-style test that the mean of Monte-Carlo gradient samples equals a target, per query,
 * with the large-sample chi-square approximation (T² ~ χ²(d) for T ≫ d).
 */
import { gammaQ } from '../../src/core/stats.js';
import type { GradientTrials } from '../../src/diagnostics/bias.js';

/** Solves S x = v for a symmetric positive definite S (d×d, row-major) by Cholesky. */
function cholSolve(S: Float64Array, v: Float64Array, d: number): Float64Array {
  const L = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = S[i * d + j]!;
      for (let k = 0; k < j; k++) s -= L[i * d + k]! * L[j * d + k]!;
      if (i === j) L[i * d + i] = Math.sqrt(Math.max(s, 1e-300));
      else L[i * d + j] = s / L[j * d + j]!;
    }
  }
  const y = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    let s = v[i]!;
    for (let k = 0; k < i; k++) s -= L[i * d + k]! * y[k]!;
    y[i] = s / L[i * d + i]!;
  }
  const x = new Float64Array(d);
  for (let i = d - 1; i >= 0; i--) {
    let s = y[i]!;
    for (let k = i + 1; k < d; k++) s -= L[k * d + i]! * x[k]!;
    x[i] = s / L[i * d + i]!;
  }
  return x;
}

/**
 * Sum over queries of `T (ḡ_b − target_b)ᵀ S_b⁻¹ (ḡ_b − target_b)`, and its p-value under
 * χ²(B·d) (queries are independent; each term is asymptotically χ²(d)).
 */
export function hotelling(tr: GradientTrials, target: Float64Array, B: number, d: number): { stat: number; pValue: number } {
  const T = tr.trials;
  let stat = 0;
  for (let b = 0; b < B; b++) {
    const S = new Float64Array(d * d);
    for (let t = 0; t < T; t++) {
      const o = t * B * d + b * d;
      for (let i = 0; i < d; i++) {
        const ei = tr.samples[o + i]! - tr.mean[b * d + i]!;
        for (let j = 0; j < d; j++) S[i * d + j] += (ei * (tr.samples[o + j]! - tr.mean[b * d + j]!)) / (T - 1);
      }
    }
    // a tiny ridge keeps S invertible when a direction has (near) zero variance
    let trace = 0;
    for (let i = 0; i < d; i++) trace += S[i * d + i]!;
    for (let i = 0; i < d; i++) S[i * d + i] += 1e-9 * (trace / d) + 1e-300;
    const diff = new Float64Array(d);
    for (let i = 0; i < d; i++) diff[i] = tr.mean[b * d + i]! - target[b * d + i]!;
    const x = cholSolve(S, diff, d);
    let q = 0;
    for (let i = 0; i < d; i++) q += diff[i]! * x[i]!;
    stat += T * q;
  }
  const dof = B * d;
  return { stat, pValue: gammaQ(dof / 2, stat / 2) };
}
