/**
 * Helpers for testing fast kernels against the TS reference: seeded random inputs and
 * float32 error bounds.
 *
 * Tolerances. A float32 dot product of length d (any summation order, with or without FMA)
 * differs from the exact value by at most `γ_d · Σ|a_k b_k|`, `γ_d = d·u/(1-d·u)`,
 * `u = 2^-24` (Higham, Accuracy and Stability of Numerical Algorithms, §3.1); the result is
 * then rounded once more to float32 (another `u` relative). The reference accumulates in
 * float64 (its own error is negligible next to this) and rounds the result to float32, so
 * the difference between the two is bounded by `(d + 2)·u·Σ|a_k b_k|` (first order). The
 * tests use exactly this bound with a factor 1.01 for the second-order terms: it is the
 * worst case, so a failure means a real bug (wrong element, lane or tail), not unlucky data.
 * @module
 */
import { Rng } from '../../src/core/rng.js';

/** Unit roundoff of float32. */
export const U32 = 2 ** -24;

/** Uniform float32 values in [-1, 1) (or small integers in [-4, 4] when `ints`). */
export function randF32(rng: Rng, len: number, ints = false): Float32Array {
  const out = new Float32Array(len);
  for (let i = 0; i < len; i++) out[i] = ints ? rng.int(9) - 4 : 2 * rng.float() - 1;
  return out;
}

/** Uniform ids in [0, n). */
export function randIds(rng: Rng, len: number, n: number): Int32Array {
  const out = new Int32Array(len);
  for (let i = 0; i < len; i++) out[i] = rng.int(n);
  return out;
}

/** Worst-case |fast - ref| for a float32 dot product of `a[ao..]` and `b[bo..]` of length d. */
export function dotTol(a: Float32Array, ao: number, b: Float32Array, bo: number, d: number): number {
  let s = 0;
  for (let k = 0; k < d; k++) s += Math.abs(a[ao + k]! * b[bo + k]!);
  return 1.01 * (d + 2) * U32 * s;
}

/** Exact (float64) dot product. */
export function dot64(a: ArrayLike<number>, ao: number, b: ArrayLike<number>, bo: number, d: number): number {
  let s = 0;
  for (let k = 0; k < d; k++) s += a[ao + k]! * b[bo + k]!;
  return s;
}

/** Asserts `|got[i] - want[i]| <= tol(i)` for every i, with a message naming the first failure. */
export function assertClose(
  got: ArrayLike<number>, want: ArrayLike<number>, tol: (i: number) => number, what: string,
): void {
  if (got.length !== want.length) throw new Error(`${what}: length ${got.length} != ${want.length}`);
  for (let i = 0; i < got.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    if (g === w) continue;
    const t = tol(i);
    if (!(Math.abs(g - w) <= t)) {
      throw new Error(`${what}[${i}]: got ${g}, want ${w} (|diff| ${Math.abs(g - w)} > tol ${t})`);
    }
  }
}

/**
 * Inputs of an Adam row kernel: `count` distinct sorted row ids of `n`, a table `w` and moments
 * `m` (small) and `v` (non-negative) of `n × d` random values, drawn from `rng` in that order.
 */
export function adamRowsInputs(rng: Rng, n: number, d: number, count: number): { ids: Int32Array; w: Float32Array; m: Float32Array; v: Float32Array } {
  const perm = Int32Array.from({ length: n }, (_, i) => i);
  rng.shuffle(perm);
  const ids = perm.slice(0, count).sort();
  const w = randF32(rng, n * d);
  const m = randF32(rng, n * d).map((x) => 0.1 * x);
  const v = randF32(rng, n * d).map((x) => 0.01 * Math.abs(x));
  return { ids, w, m, v };
}
