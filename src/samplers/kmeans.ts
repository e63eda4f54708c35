/**
 * Lloyd's k-means on row-major float32 data, used to train the MIDX codebooks.
 * Assignment goes through `kernels.kmeansAssign`;
 * means are accumulated in float64; empty clusters are reseeded at the points farthest from
 * their centroids; initialization is k-means++ (or random points) from an explicit generator,
 * or a warm start from given centroids.
 * @module
 */
import { OptionError, ShapeError } from '../core/errors.js';
import type { Rng } from '../core/rng.js';
import { choiceOption, intOption, rejectUnknown } from '../core/validate.js';
import { kernels } from '../kernels/index.js';

/** Options of {@link kmeans}. */
export interface KMeansOptions {
  /** Maximum Lloyd iterations (default 10; 0 keeps the initial centroids). */
  iters?: number;
  /** Initialization when no `initial` centroids are given (default `'kmeans++'`). */
  init?: 'kmeans++' | 'random';
  /** Warm start: `k × d` centroids to start from (copied). */
  initial?: Float32Array | null;
  /** Fit on at most this many points drawn without replacement (default: all); every point is assigned at the end. */
  sample?: number;
}

/** Result of {@link kmeans}. */
export interface KMeansResult {
  /** `k × d` centroids, row-major. */
  centroids: Float32Array;
  /** Cluster of each of the `n` points. */
  assign: Int32Array;
  /** Sum of squared distances of all points to their centroids. */
  inertia: number;
  /** Lloyd iterations run. */
  iterations: number;
}

/** Rows per `kmeansAssign` call (bounds the staging copy of each call). */
const ASSIGN_BLOCK = 4096;

/**
 * Assigns each of the `n` rows of `data` (`n × d`) to its nearest of the `k` centroids,
 * writing `assign` and (when given) the squared distance `dist2`. Returns the inertia.
 * Runs `kernels.kmeansAssign` (exact float64 distances on the TypeScript path; `‖c‖² − 2x·c` in
 * float32 SIMD on the WebAssembly path) block by block.
 */
export function assignNearest(
  data: Float32Array,
  n: number,
  d: number,
  centroids: Float32Array,
  k: number,
  assign: Int32Array,
  dist2: Float64Array | null = null,
): number {
  const block = Math.max(1, Math.min(n, ASSIGN_BLOCK));
  const dist = new Float32Array(block);
  const idx = new Int32Array(block);
  let inertia = 0;
  for (let r0 = 0; r0 < n; r0 += block) {
    const cnt = Math.min(block, n - r0);
    kernels.kmeansAssign(data.subarray(r0 * d, (r0 + cnt) * d), cnt, centroids, k, d, idx, dist);
    for (let r = 0; r < cnt; r++) {
      assign[r0 + r] = idx[r]!;
      const dd = Math.max(0, dist[r]!);
      if (dist2) dist2[r0 + r] = dd;
      inertia += dd;
    }
  }
  return inertia;
}

/** Index of the centroid nearest to `x[xo .. xo+d)` (ties: lowest index). `O(k·d)`. */
export function nearestCentroid(x: ArrayLike<number>, xo: number, d: number, centroids: Float32Array, k: number): number {
  let best = 0;
  let bestD = Infinity;
  for (let j = 0; j < k; j++) {
    let s = 0;
    const co = j * d;
    for (let t = 0; t < d; t++) {
      const e = x[xo + t]! - centroids[co + t]!;
      s += e * e;
    }
    if (s < bestD) {
      bestD = s;
      best = j;
    }
  }
  return best;
}

/**
 * k-means with `k` clusters on the `n × d` rows of `data`.
 * @throws OptionError for invalid options, ShapeError for inconsistent sizes
 */
export function kmeans(data: Float32Array, n: number, d: number, k: number, rng: Rng, opts: KMeansOptions = {}): KMeansResult {
  rejectUnknown(opts, ['iters', 'init', 'initial', 'sample'], 'kmeans');
  intOption(n, 'n (points)', 1);
  intOption(d, 'd (dimension)', 1);
  intOption(k, 'k (clusters)', 1);
  if (data.length !== n * d) throw new ShapeError(`kmeans: data has length ${data.length}, expected n*d = ${n * d}`);
  if (k > n) throw new OptionError(`kmeans: k = ${k} clusters need at least k points, got n = ${n}; lower k`);
  const iters = intOption(opts.iters ?? 10, 'iters', 0);
  const init = choiceOption(opts.init ?? 'kmeans++', 'init', ['kmeans++', 'random'] as const);
  const sampleN = Math.max(k, Math.min(n, intOption(opts.sample ?? n, 'sample', 1)));
  // fitting set: all points or a random subset
  let fit = data;
  let fn = n;
  if (sampleN < n) {
    const idx = new Int32Array(n);
    for (let i = 0; i < n; i++) idx[i] = i;
    for (let i = 0; i < sampleN; i++) {
      const j = i + rng.int(n - i);
      const t = idx[i]!;
      idx[i] = idx[j]!;
      idx[j] = t;
    }
    fit = new Float32Array(sampleN * d);
    for (let i = 0; i < sampleN; i++) fit.set(data.subarray(idx[i]! * d, (idx[i]! + 1) * d), i * d);
    fn = sampleN;
  }
  let cent: Float32Array;
  if (opts.initial) {
    if (opts.initial.length !== k * d) throw new ShapeError(`kmeans: initial centroids have length ${opts.initial.length}, expected k*d = ${k * d}`);
    cent = opts.initial.slice();
  } else {
    cent = init === 'random' ? randomInit(fit, fn, d, k, rng) : plusPlusInit(fit, fn, d, k, rng);
  }
  const assign = new Int32Array(fn);
  const dist2 = new Float64Array(fn);
  const sums = new Float64Array(k * d);
  const counts = new Int32Array(k);
  let it = 0;
  if (iters > 0) {
    assign.fill(-1);
    const prev = new Int32Array(fn);
    for (; it < iters; it++) {
      prev.set(assign);
      assignNearest(fit, fn, d, cent, k, assign, dist2);
      let changed = it === 0;
      for (let i = 0; i < fn && !changed; i++) if (assign[i] !== prev[i]) changed = true;
      if (!changed) break;
      sums.fill(0);
      counts.fill(0);
      for (let i = 0; i < fn; i++) {
        const c = assign[i]!;
        counts[c]!++;
        const o = i * d;
        const so = c * d;
        for (let t = 0; t < d; t++) sums[so + t] += fit[o + t]!;
      }
      reseedEmpty(fit, d, k, counts, sums, assign, dist2);
      for (let j = 0; j < k; j++) {
        const c = counts[j]!;
        for (let t = 0; t < d; t++) cent[j * d + t] = sums[j * d + t]! / c;
      }
    }
  }
  const all = new Int32Array(n);
  const inertia = assignNearest(data, n, d, cent, k, all);
  return { centroids: cent, assign: all, inertia, iterations: it };
}

/** Moves the farthest points into empty clusters (each point used once). */
function reseedEmpty(
  fit: Float32Array,
  d: number,
  k: number,
  counts: Int32Array,
  sums: Float64Array,
  assign: Int32Array,
  dist2: Float64Array,
): void {
  for (let j = 0; j < k; j++) {
    if (counts[j]! > 0) continue;
    // farthest point whose cluster keeps at least one member
    let far = -1;
    let farD = -1;
    for (let i = 0; i < assign.length; i++) {
      if (counts[assign[i]!]! > 1 && dist2[i]! > farD) {
        farD = dist2[i]!;
        far = i;
      }
    }
    if (far < 0) continue; // cannot happen while k ≤ points
    const old = assign[far]!;
    const o = far * d;
    for (let t = 0; t < d; t++) {
      sums[old * d + t] -= fit[o + t]!;
      sums[j * d + t] = fit[o + t]!;
    }
    counts[old]!--;
    counts[j] = 1;
    assign[far] = j;
    dist2[far] = 0;
  }
}

function randomInit(fit: Float32Array, n: number, d: number, k: number, rng: Rng): Float32Array {
  const cent = new Float32Array(k * d);
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  for (let j = 0; j < k; j++) {
    const r = j + rng.int(n - j);
    const t = idx[j]!;
    idx[j] = idx[r]!;
    idx[r] = t;
    cent.set(fit.subarray(idx[j]! * d, (idx[j]! + 1) * d), j * d);
  }
  return cent;
}

/** k-means++ seeding: each next centroid drawn ∝ squared distance to the nearest chosen one. */
function plusPlusInit(fit: Float32Array, n: number, d: number, k: number, rng: Rng): Float32Array {
  const cent = new Float32Array(k * d);
  const best = new Float64Array(n).fill(Infinity);
  let pick = rng.int(n);
  for (let j = 0; j < k; j++) {
    cent.set(fit.subarray(pick * d, (pick + 1) * d), j * d);
    let total = 0;
    for (let i = 0; i < n; i++) {
      let s = 0;
      const o = i * d;
      const co = j * d;
      for (let t = 0; t < d; t++) {
        const e = fit[o + t]! - cent[co + t]!;
        s += e * e;
      }
      if (s < best[i]!) best[i] = s;
      total += best[i]!;
    }
    if (j + 1 === k) break;
    if (!(total > 0)) {
      pick = rng.int(n); // all points coincide with chosen centroids (duplicates)
      continue;
    }
    let u = rng.float() * total;
    pick = n - 1;
    for (let i = 0; i < n; i++) {
      u -= best[i]!;
      if (u < 0) {
        pick = i;
        break;
      }
    }
  }
  return cent;
}
