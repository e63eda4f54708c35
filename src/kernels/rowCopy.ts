/**
 * Row copies between a table and a compact block (staging for the kernels, gathered rows for the
 * losses). Each hot loop is a function of its own that ends with its loop: V8 compiles such a loop
 * on stack replacement, and code after the loop in the same function would leave that compiled
 * loop without type feedback, to be thrown away again on every call. Browser-safe.
 * @module
 */

/** `dst[e·d .. e·d+d) = src[ids[e]·d .. ids[e]·d+d)` for `e < count`. */
export function copyRowsIn(dst: Float32Array, src: Float32Array, ids: Int32Array, count: number, d: number): void {
  if (d >= 64) {
    for (let e = 0; e < count; e++) dst.set(src.subarray(ids[e]! * d, ids[e]! * d + d), e * d);
    return;
  }
  // short rows: a plain loop beats a subarray view per row
  for (let e = 0; e < count; e++) {
    const s = ids[e]! * d;
    const o = e * d;
    for (let t = 0; t < d; t++) dst[o + t] = src[s + t]!;
  }
}

/** `dst[ids[e]·d .. ids[e]·d+d) = src[e·d .. e·d+d)` for `e < count` (the inverse of {@link copyRowsIn}). */
export function copyRowsOut(dst: Float32Array, src: Float32Array, ids: Int32Array, count: number, d: number): void {
  if (d >= 64) {
    for (let e = 0; e < count; e++) dst.set(src.subarray(e * d, e * d + d), ids[e]! * d);
    return;
  }
  for (let e = 0; e < count; e++) {
    const s = e * d;
    const o = ids[e]! * d;
    for (let t = 0; t < d; t++) dst[o + t] = src[s + t]!;
  }
}

/** `out[e] = e` for `e < count`. */
export function iota(out: Int32Array, count: number): void {
  for (let e = 0; e < count; e++) out[e] = e;
}

/** `out[e] = src[ids[e]]` for `e < count`. */
export function gatherI32(out: Int32Array, src: Int32Array, ids: Int32Array, count: number): void {
  for (let e = 0; e < count; e++) out[e] = src[ids[e]!]!;
}

/** `dst[ids[e]] = src[e]` for `e < count`. */
export function scatterI32(dst: Int32Array, src: Int32Array, ids: Int32Array, count: number): void {
  for (let e = 0; e < count; e++) dst[ids[e]!] = src[e]!;
}

/** `dst[ids[e]·d .. ids[e]·d+d) = src[ids[e]·d .. ids[e]·d+d)` for `e < count` (the rows at their own places). */
export function copyRowsAt(dst: Float32Array, src: Float32Array, ids: Int32Array, count: number, d: number): void {
  if (d >= 64) {
    for (let e = 0; e < count; e++) dst.set(src.subarray(ids[e]! * d, ids[e]! * d + d), ids[e]! * d);
    return;
  }
  for (let e = 0; e < count; e++) {
    const o = ids[e]! * d;
    for (let t = 0; t < d; t++) dst[o + t] = src[o + t]!;
  }
}
