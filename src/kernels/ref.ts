/**
 * Plain-TypeScript reference kernels: the test oracle for every fast kernel and the
 * fallback when WebAssembly is unavailable. All matrices are row-major float32.
 * @module
 */

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
