/**
 * Helpers for the adaptive-sampler tests: small tables, queries, brute-force distributions
 * and draw histograms.
 */
import { ClassTable } from '../../src/core/classTable.js';
import { matrix, type Labels, type Matrix } from '../../src/core/matrix.js';
import { Rng } from '../../src/core/rng.js';
import { chiSquareTest } from '../../src/core/stats.js';
import type { Sampler } from '../../src/samplers/types.js';

/** A random table with optional random biases. */
export function randomTable(n: number, d: number, seed: number, bias = false, scale = 1 / Math.sqrt(d)): ClassTable {
  const rng = Rng.fromSeed(seed, 1);
  const t = ClassTable.init(n, d, rng, { bias, scale });
  if (t.bias) for (let i = 0; i < n; i++) t.bias[i] = 0.5 * rng.normal();
  return t;
}

/** `B` random normal queries of dimension `d`. */
export function randomQueries(B: number, d: number, seed: number, scale = 1): Matrix {
  const rng = Rng.fromSeed(seed, 2);
  const q = matrix(B, d);
  for (let i = 0; i < q.data.length; i++) q.data[i] = rng.normal() * scale;
  return q;
}

/** Row `r` of `q` as a one-row matrix. */
export function queryRow(q: Matrix, r: number): Matrix {
  return matrix(1, q.cols, q.data.slice(r * q.cols, (r + 1) * q.cols));
}

/** Every id `0..n-1` for each of `rows` rows. */
export function allIds(n: number, rows: number): Labels {
  const ids = new Int32Array(n * rows);
  const offsets = new Int32Array(rows + 1);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < n; i++) ids[r * n + i] = i;
    offsets[r + 1] = (r + 1) * n;
  }
  return { ids, offsets };
}

/** `log q` of every class for row 0 of `q` (a one-row matrix), via `sampler.logQ`. */
export function logQAll(s: Sampler, q: Matrix): Float64Array {
  return s.logQ(q, allIds(s.numClasses, q.rows));
}

/** Normalized log-probabilities from unnormalized log-weights. */
export function logNormalize(lw: ArrayLike<number>): Float64Array {
  let mx = -Infinity;
  for (let i = 0; i < lw.length; i++) mx = Math.max(mx, lw[i]!);
  let s = 0;
  for (let i = 0; i < lw.length; i++) s += Math.exp(lw[i]! - mx);
  const lz = mx + Math.log(s);
  return Float64Array.from(lw, (x) => x - lz);
}

/** Max |a−b| over finite pairs; Infinity when one side is finite and the other not. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) continue;
    if (!Number.isFinite(x) || !Number.isFinite(y)) return Infinity;
    m = Math.max(m, Math.abs(x - y));
  }
  return m;
}

/**
 * Draws `total` ids for the single query `q` (in chunks of `m`), checks each reported `logQ`
 * against `expected[id]` (tolerance `tol`), and returns the chi-square p-value of the histogram.
 */
export function drawChiSquare(s: Sampler, q: Matrix, expected: Float64Array, total: number, seed: number, tol = 1e-9, m = 500): number {
  const rng = Rng.fromSeed(seed, 3);
  const counts = new Float64Array(expected.length);
  for (let done = 0; done < total; done += m) {
    const d = s.sample({ m, rng, queries: q });
    for (let j = 0; j < m; j++) {
      const id = d.ids[j]!;
      counts[id]!++;
      const err = Math.abs(d.logQ[j]! - expected[id]!);
      if (!(err <= tol)) throw new Error(`reported logQ ${d.logQ[j]} for id ${id} differs from ${expected[id]} by ${err}`);
    }
  }
  return chiSquareTest(counts, Float64Array.from(expected, Math.exp)).pValue;
}
