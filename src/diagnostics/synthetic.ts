/**
 * Synthetic class tables and queries for bias studies and scale tests (clearly synthetic:
 * real-data applications live elsewhere).
 * @module
 */
import { ClassTable } from '../core/classTable.js';
import { OptionError } from '../core/errors.js';
import { matrix, type Matrix } from '../core/matrix.js';
import type { Rng } from '../core/rng.js';
import { intOption, numOption } from '../core/validate.js';

/** How synthetic embeddings are generated. */
export type SyntheticKind = 'gaussian' | 'clustered';

/** Options of {@link syntheticTable}. */
export interface SyntheticOptions {
  /** Number of clusters for `clustered` (default `round(sqrt(n))`, at least 2). */
  clusters?: number;
  /** Within-cluster spread relative to the unit-norm centre (default 0.5). */
  spread?: number;
}

function normalizeRow(a: Float32Array, o: number, d: number): void {
  let s = 0;
  for (let k = 0; k < d; k++) s += a[o + k]! * a[o + k]!;
  const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
  for (let k = 0; k < d; k++) a[o + k] = a[o + k]! * inv;
}

/**
 * A synthetic `n × d` class table with unit-norm rows.
 * - `gaussian`: isotropic random directions (no structure).
 * - `clustered`: a Gaussian mixture on the sphere with unequal cluster sizes (cluster `k` has
 *   weight ∝ 1/(k+1), Zipf-like), each row `normalize(μ_k + spread·z/√d)`: the structure real
 *   embeddings have, where adaptive samplers differ most from static ones.
 */
export function syntheticTable(kind: SyntheticKind, n: number, d: number, rng: Rng, opts: SyntheticOptions = {}): ClassTable {
  intOption(n, 'classes', 1);
  intOption(d, 'dim', 1);
  const w = new Float32Array(n * d);
  if (kind === 'gaussian') {
    rng.fillNormal(w);
    for (let i = 0; i < n; i++) normalizeRow(w, i * d, d);
    return new ClassTable(n, d, w);
  }
  if (kind !== 'clustered') throw new OptionError(`unknown embeddings kind '${String(kind)}'; use gaussian or clustered`);
  const c = intOption(opts.clusters ?? Math.max(2, Math.round(Math.sqrt(n))), 'clusters', 1);
  const spread = numOption(opts.spread ?? 0.5, 'spread', 0);
  const centres = new Float32Array(c * d);
  rng.fillNormal(centres);
  for (let k = 0; k < c; k++) normalizeRow(centres, k * d, d);
  // cumulative Zipf weights for the cluster of each row
  const cum = new Float64Array(c);
  let tot = 0;
  for (let k = 0; k < c; k++) cum[k] = tot += 1 / (k + 1);
  const sd = spread / Math.sqrt(d);
  for (let i = 0; i < n; i++) {
    const u = rng.float() * tot;
    let lo = 0;
    let hi = c - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cum[mid]! > u) hi = mid;
      else lo = mid + 1;
    }
    const o = i * d;
    for (let k = 0; k < d; k++) w[o + k] = centres[lo * d + k]! + sd * rng.normal();
    normalizeRow(w, o, d);
  }
  return new ClassTable(n, d, w);
}

/**
 * `B` query vectors of norm `scale`, so logits are `scale × cosine` for unit-norm classes.
 * With `nearClasses`, each query points near a uniformly chosen class row (plus noise of
 * relative size `spread`): queries then concentrate their softmax on a neighbourhood, as a
 * trained model's do. Otherwise directions are uniform on the sphere.
 */
export function syntheticQueries(
  table: ClassTable,
  B: number,
  scale: number,
  rng: Rng,
  nearClasses: boolean,
  spread = 0.5,
): Matrix {
  intOption(B, 'queries', 1);
  numOption(scale, 'scale', 0);
  const d = table.d;
  const q = matrix(B, d);
  const a = q.data;
  const sd = spread / Math.sqrt(d);
  for (let b = 0; b < B; b++) {
    const o = b * d;
    if (nearClasses) {
      const i = rng.int(table.n);
      const c = table.weights;
      let s = 0;
      for (let k = 0; k < d; k++) s += c[i * d + k]! * c[i * d + k]!;
      const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
      for (let k = 0; k < d; k++) a[o + k] = c[i * d + k]! * inv + sd * rng.normal();
    } else {
      for (let k = 0; k < d; k++) a[o + k] = rng.normal();
    }
    normalizeRow(a, o, d);
    for (let k = 0; k < d; k++) a[o + k] = a[o + k]! * scale;
  }
  return q;
}
