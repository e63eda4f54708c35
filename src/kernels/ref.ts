/**
 * Plain-TypeScript reference kernels: the test oracle for every fast kernel and the
 * fallback when WebAssembly is unavailable. All matrices are row-major float32.
 * @module
 */

import { ShapeError } from '../core/errors.js';

/** Dot product of `a[ao..ao+d)` and `b[bo..bo+d)`, float64 accumulation. */
export function dot(a: Float32Array, ao: number, b: Float32Array, bo: number, d: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let k = 0;
  for (; k + 3 < d; k += 4) {
    s0 += a[ao + k]! * b[bo + k]!;
    s1 += a[ao + k + 1]! * b[bo + k + 1]!;
    s2 += a[ao + k + 2]! * b[bo + k + 2]!;
    s3 += a[ao + k + 3]! * b[bo + k + 3]!;
  }
  for (; k < d; k++) s0 += a[ao + k]! * b[bo + k]!;
  return s0 + s1 + s2 + s3;
}

/**
 * Scores of queries against a block of class rows:
 * `out[i*cRows + j] = a[i,:] · c[cStart + j, :]` for `i < aRows`, `j < cRows`.
 */
export function matmulNT(
  a: Float32Array,
  aRows: number,
  c: Float32Array,
  cStart: number,
  cRows: number,
  d: number,
  out: Float32Array,
): void {
  for (let i = 0; i < aRows; i++) {
    const ao = i * d;
    const oo = i * cRows;
    for (let j = 0; j < cRows; j++) out[oo + j] = dot(a, ao, c, (cStart + j) * d, d);
  }
}

/**
 * Gathered dot products for sampled rows: `out[i*m + j] = a[i,:] · c[ids[r*m + j], :]`
 * with `r = i` (per-query ids) or `r = 0` when `shared`.
 */
export function gatherDot(
  a: Float32Array,
  rows: number,
  c: Float32Array,
  d: number,
  ids: Int32Array,
  m: number,
  shared: boolean,
  out: Float32Array,
): void {
  for (let i = 0; i < rows; i++) {
    const ao = i * d;
    const io = shared ? 0 : i * m;
    for (let j = 0; j < m; j++) out[i * m + j] = dot(a, ao, c, ids[io + j]! * d, d);
  }
}

/**
 * Dots of query rows with bucket rows, group by group: group `g` pairs the rows
 * `qRows[gOff[g] .. gOff[g+1])` of `q` (`d` columns) with the rows `ids[gA[g] .. gA[g] +
 * gSize[g])` of `c`; its `cnt × size` dots go to `out` row-major, each group's block right after
 * the previous one's. A group's values are those of `gatherDot` (`shared`) on its query rows.
 */
export function bucketDots(
  q: Float32Array,
  d: number,
  c: Float32Array,
  ids: Int32Array,
  groups: number,
  qRows: Int32Array,
  gOff: Int32Array,
  gA: Int32Array,
  gSize: Int32Array,
  out: Float32Array,
): void {
  let o = 0;
  for (let g = 0; g < groups; g++) {
    const a = gA[g]!;
    const m = gSize[g]!;
    for (let k = gOff[g]!; k < gOff[g + 1]!; k++) {
      const qo = qRows[k]! * d;
      for (let j = 0; j < m; j++) out[o++] = dot(q, qo, c, ids[a + j]! * d, d);
    }
  }
}

/**
 * Accumulates `outH[i,:] += Σ_j g[i*cRows + j] · c[cStart + j, :]` (gradient w.r.t. the
 * queries of a block of logits).
 */
export function accumGradQueries(
  g: Float32Array,
  rows: number,
  c: Float32Array,
  cStart: number,
  cRows: number,
  d: number,
  outH: Float32Array,
): void {
  for (let i = 0; i < rows; i++) {
    const ho = i * d;
    for (let j = 0; j < cRows; j++) {
      const w = g[i * cRows + j]!;
      if (w === 0) continue;
      const co = (cStart + j) * d;
      for (let k = 0; k < d; k++) outH[ho + k] += w * c[co + k]!;
    }
  }
}

/**
 * Accumulates `outC[j,:] += Σ_i g[i*cRows + j] · h[i,:]` (gradient w.r.t. a block of
 * class rows; `outC` is `cRows × d`).
 */
export function accumGradClasses(
  g: Float32Array,
  rows: number,
  cRows: number,
  h: Float32Array,
  d: number,
  outC: Float32Array,
): void {
  for (let i = 0; i < rows; i++) {
    const ho = i * d;
    for (let j = 0; j < cRows; j++) {
      const w = g[i * cRows + j]!;
      if (w === 0) continue;
      const co = j * d;
      for (let k = 0; k < d; k++) outC[co + k] += w * h[ho + k]!;
    }
  }
}

/**
 * Accumulates `outH[i,:] += Σ_j g[i*m + j] · c[ids[r*m + j], :]` with `r = i` (per-query ids)
 * or `r = 0` when `shared` (gradient w.r.t. the queries of gathered logits).
 */
export function gatherAccumGradQueries(
  g: Float32Array,
  rows: number,
  c: Float32Array,
  d: number,
  ids: Int32Array,
  m: number,
  shared: boolean,
  outH: Float32Array,
): void {
  for (let i = 0; i < rows; i++) {
    const ho = i * d;
    const io = shared ? 0 : i * m;
    for (let j = 0; j < m; j++) {
      const w = g[i * m + j]!;
      if (w === 0) continue;
      const co = ids[io + j]! * d;
      for (let k = 0; k < d; k++) outH[ho + k] += w * c[co + k]!;
    }
  }
}

/**
 * Sparse scatter-add of class-gradient rows: `out[slots[r*m + j], :] += g[i*m + j] · h[i, :]`
 * with `r = i` or `r = 0` when `shared`. `out` holds one `d`-row per distinct touched id
 * (e.g. the rows of a SparseRowGrad); `slots` maps each draw to its row.
 */
export function scatterAddRows(
  g: Float32Array,
  rows: number,
  h: Float32Array,
  d: number,
  slots: Int32Array,
  m: number,
  shared: boolean,
  out: Float32Array,
): void {
  for (let i = 0; i < rows; i++) {
    const ho = i * d;
    const so = shared ? 0 : i * m;
    for (let j = 0; j < m; j++) {
      const w = g[i * m + j]!;
      if (w === 0) continue;
      const oo = slots[so + j]! * d;
      for (let k = 0; k < d; k++) out[oo + k] += w * h[ho + k]!;
    }
  }
}

/**
 * Lazy-Adam update of the listed rows of a `? × d` table `w` with moments `m`, `v` (same shape)
 * and per-row step counts `rowSteps`: for `i < count`, row `id = ids[i]` gets gradient row
 * `grad[i*d .. (i+1)*d)`; `t = ++rowSteps[id]`, `m ← β1·m + (1−β1)·g`, `v ← β2·v + (1−β2)·g²`,
 * `w ← w − lr·(m/(1−β1^t)) / (√(v/(1−β2^t)) + eps)` elementwise (float64 arithmetic, float32
 * storage). `ids` must be distinct. Biases are not touched (see `layer/optimizers`' `Adam`).
 */
export function adamRows(
  w: Float32Array,
  m: Float32Array,
  v: Float32Array,
  d: number,
  ids: Int32Array,
  count: number,
  grad: Float32Array,
  rowSteps: Int32Array,
  lr: number,
  beta1: number,
  beta2: number,
  eps: number,
): void {
  for (let i = 0; i < count; i++) adamRow(w, m, v, d, ids[i]!, grad, i * d, rowSteps, lr, beta1, beta2, eps);
}

/**
 * Adam update of every row `0 … n−1` of `w` with a sparse gradient: row `ids[p]` (strictly
 * ascending) gets gradient row `p` of `grad`, every other row a zero gradient. The same as
 * {@link adamRows} on all rows with the gradient spread out, without building it; every row's
 * step count advances. Ids that are not ascending are not found (their gradient is ignored):
 * callers check the order.
 */
export function adamAllRows(
  w: Float32Array,
  m: Float32Array,
  v: Float32Array,
  d: number,
  n: number,
  ids: Int32Array,
  count: number,
  grad: Float32Array,
  rowSteps: Int32Array,
  lr: number,
  beta1: number,
  beta2: number,
  eps: number,
): void {
  let p = 0;
  for (let r = 0; r < n; r++) {
    const listed = p < count && ids[p] === r;
    adamRow(w, m, v, d, r, grad, listed ? p * d : -1, rowSteps, lr, beta1, beta2, eps);
    if (listed) p++;
  }
}

/** One row's Adam step, its gradient at `grad[go …]` (`go` < 0: a zero gradient). */
function adamRow(
  w: Float32Array,
  m: Float32Array,
  v: Float32Array,
  d: number,
  id: number,
  grad: Float32Array,
  go: number,
  rowSteps: Int32Array,
  lr: number,
  beta1: number,
  beta2: number,
  eps: number,
): void {
  const t = rowSteps[id]! + 1;
  rowSteps[id] = t;
  const c1 = 1 - Math.pow(beta1, t);
  const c2 = 1 - Math.pow(beta2, t);
  const wo = id * d;
  for (let k = 0; k < d; k++) {
    const g = go >= 0 ? grad[go + k]! : 0;
    const mk = beta1 * m[wo + k]! + (1 - beta1) * g;
    const vk = beta2 * v[wo + k]! + (1 - beta2) * g * g;
    m[wo + k] = mk;
    v[wo + k] = vk;
    w[wo + k] = w[wo + k]! - (lr * (mk / c1)) / (Math.sqrt(vk / c2) + eps);
  }
}

/** `(s, id)` ranks above `(s0, id0)` in a top-k list: larger score, ties by smaller id; id -1 is empty. */
function ranksAbove(s: number, id: number, s0: number, id0: number): boolean {
  if (id0 < 0) return id >= 0 || s > s0;
  return s > s0 || (s === s0 && id < id0);
}

/**
 * Fused full-softmax evaluation of `rows` queries against all `n` classes without
 * materializing the `rows × n` logits. With `o_j = a_i·c_j + bias_j` (float64):
 * `outLse[i] = log Σ_j exp(o_j)` and the `k` largest logits in `outTopIds[i*k ..]` /
 * `outTopScores[i*k ..]`, descending, ties by smaller id. When `k > n` the missing entries
 * are id `-1`, score `-Infinity`. Memory: O(k) per row.
 */
export function fusedSoftmaxTopK(
  a: Float32Array,
  rows: number,
  c: Float32Array,
  bias: Float32Array | null,
  n: number,
  d: number,
  k: number,
  outLse: Float64Array,
  outTopIds: Int32Array,
  outTopScores: Float32Array,
): void {
  const ts = new Float64Array(k);
  const ti = new Int32Array(k);
  for (let i = 0; i < rows; i++) {
    ts.fill(-Infinity);
    ti.fill(-1);
    let mx = -Infinity;
    let sum = 0;
    const ao = i * d;
    for (let j = 0; j < n; j++) {
      const o = dot(a, ao, c, j * d, d) + (bias ? bias[j]! : 0);
      if (o > mx) {
        sum = sum * Math.exp(mx - o) + 1;
        mx = o;
      } else if (o !== -Infinity) sum += Math.exp(o - mx); // -inf logits (masked classes) add 0
      // insertion into the sorted top-k list
      if (k > 0 && ranksAbove(o, j, ts[k - 1]!, ti[k - 1]!)) {
        let p = k - 1;
        while (p > 0 && ranksAbove(o, j, ts[p - 1]!, ti[p - 1]!)) {
          ts[p] = ts[p - 1]!;
          ti[p] = ti[p - 1]!;
          p--;
        }
        ts[p] = o;
        ti[p] = j;
      }
    }
    outLse[i] = n > 0 ? mx + Math.log(sum) : -Infinity;
    for (let t = 0; t < k; t++) {
      outTopIds[i * k + t] = ti[t]!;
      outTopScores[i * k + t] = ts[t]!;
    }
  }
}

/**
 * k-means assignment: `outIdx[i] = argmin_j ||x_i - c_j||²` over `kc` centroids (ties: smaller
 * j), squared distances (float64 sums, stored as float32) in `outDist` when given.
 */
export function kmeansAssign(
  x: Float32Array,
  n: number,
  cent: Float32Array,
  kc: number,
  d: number,
  outIdx: Int32Array,
  outDist: Float32Array | null,
): void {
  for (let i = 0; i < n; i++) {
    let best = Infinity;
    let bj = 0;
    const xo = i * d;
    for (let j = 0; j < kc; j++) {
      const co = j * d;
      let s = 0;
      for (let t = 0; t < d; t++) {
        const e = x[xo + t]! - cent[co + t]!;
        s += e * e;
      }
      if (s < best) {
        best = s;
        bj = j;
      }
    }
    outIdx[i] = bj;
    if (outDist) outDist[i] = best;
  }
}

/**
 * Kernel-tree node scores in float64: `out[j] = phi · nodes[j*D .. (j+1)*D)` for `j < count`
 * (node sums are kept in float64, so this kernel is float64 end to end).
 */
export function nodeScores(phi: Float64Array, nodes: Float64Array, count: number, D: number, out: Float64Array): void {
  for (let j = 0; j < count; j++) {
    const o = j * D;
    let s0 = 0;
    let s1 = 0;
    let t = 0;
    for (; t + 1 < D; t += 2) {
      s0 += phi[t]! * nodes[o + t]!;
      s1 += phi[t + 1]! * nodes[o + t + 1]!;
    }
    if (t < D) s0 += phi[t]! * nodes[o + t]!;
    out[j] = s0 + s1;
  }
}

/**
 * Softmax weights of a block of scores, in place: `s[i·cols + j] ← factor[i] · exp(s[i·cols + j]
 * + bias[biasStart + j] − ref[i])` (no bias when `bias` is null). A score of `−∞` (a masked
 * class) and a row with `factor[i] = 0` or `ref[i] = −∞` give 0. The exponent must be ≤ 80 (the
 * callers pass a log-sum-exp as `ref`, so it is ≤ 0 up to rounding).
 */
export function softmaxWeights(
  s: Float32Array,
  rows: number,
  cols: number,
  bias: Float32Array | null,
  biasStart: number,
  ref: Float64Array,
  factor: Float64Array,
): void {
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    const f = factor[i]!;
    const r = ref[i]!;
    if (f === 0 || r === -Infinity) {
      s.fill(0, o, o + cols);
      continue;
    }
    for (let j = 0; j < cols; j++) {
      const x = s[o + j]! + (bias ? bias[biasStart + j]! : 0);
      s[o + j] = x === -Infinity ? 0 : f * Math.exp(x - r);
    }
  }
}

/**
 * The full softmax's gradient pass over the classes `[cStart, cStart + cRows)` of `c`, in blocks
 * of `blockSize` classes. Per block: the scores `h·c_j` ({@link matmulNT}); each listed positive
 * `(posRows[k], posIds[k])` (an absolute class id) masked to `−∞`; the weights
 * `factor[i] · exp(score + bias − ref[i])` ({@link softmaxWeights}); each positive's
 * `posGrad[k]` added at its place (so a block holds `∂L/∂o`); then
 * `outH[i,:] += Σ_j G[i,j] · c_j` ({@link accumGradQueries}), `outC[j − cStart,:] += Σ_i G[i,j] · h_i`
 * ({@link accumGradClasses}) and, when given, `outBias[j − cStart] += Σ_i G[i,j]` (rows in order).
 * `outC` holds `cRows × d` values, `outBias` `cRows`.
 */
export function fullSoftmaxGrad(
  h: Float32Array,
  rows: number,
  c: Float32Array,
  cStart: number,
  cRows: number,
  d: number,
  bias: Float32Array | null,
  ref: Float64Array,
  factor: Float64Array,
  posRows: Int32Array,
  posIds: Int32Array,
  posGrad: Float64Array,
  blockSize: number,
  outH: Float32Array,
  outC: Float32Array,
  outBias: Float32Array | null,
): void {
  const bs = Math.max(1, Math.min(blockSize, cRows));
  const scores = new Float32Array(rows * bs);
  const P = posIds.length;
  for (let s = 0; s < cRows; s += bs) {
    const cnt = Math.min(bs, cRows - s);
    const start = cStart + s;
    matmulNT(h, rows, c, start, cnt, d, scores);
    for (let k = 0; k < P; k++) {
      const p = posIds[k]! - start;
      if (p >= 0 && p < cnt) scores[posRows[k]! * cnt + p] = -Infinity;
    }
    softmaxWeights(scores, rows, cnt, bias, start, ref, factor);
    for (let k = 0; k < P; k++) {
      const p = posIds[k]! - start;
      if (p >= 0 && p < cnt) scores[posRows[k]! * cnt + p] += posGrad[k]!;
    }
    accumGradQueries(scores, rows, c, start, cnt, d, outH);
    accumGradClasses(scores, rows, cnt, h, d, outC.subarray(s * d, (s + cnt) * d));
    if (outBias) {
      for (let i = 0; i < rows; i++) {
        const so = i * cnt;
        for (let j = 0; j < cnt; j++) outBias[s + j] += scores[so + j]!;
      }
    }
  }
}

// Random fills. The WebAssembly kernels give the same bits: integer arithmetic, and only
// + − × ÷ and sqrt in float64 (exactly rounded in every engine), no Math.log.

export { fillNormal, fillUniform, NORMAL_CHUNK } from '../core/fill.js';
