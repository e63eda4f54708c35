/**
 * Copies of listed rows between row-major arrays: the staging of a step's touched rows into and
 * out of kernel memory, the losses' gathered rows, and the gathers of sharded tables. Each hot loop
 * is a function of its own that ends with its loop: V8 compiles such a loop on stack replacement,
 * and code after the loop in the same function would leave that compiled loop without type
 * feedback, to be thrown away again on every call. Rows of 64 values or more are copied with one
 * `set` per row (as fast as the plain loop there, measured side by side), shorter ones by a loop.
 * The gathers and scatters of listed rows go in blocks of {@link TOUCH_BLOCK} rows: a first loop
 * reads one value of each row of the block, so that the memory reads of the block's rows (each a
 * cache and TLB miss in a large table) overlap instead of waiting one after another inside the
 * copies; over a 1 GB table this halves the time of a random gather (about 0.5 µs per row of 128
 * floats before, 0.27 µs after, measured on a 2-core x86 virtual machine).
 * Browser-safe.
 * @module
 */

/**
 * `dst[(dOff + e)·d …]` ← row `ids[iOff + e]` of `src`, for `e < count` (gather into consecutive rows).
 * The caller checks the ids and lengths.
 */
export function gatherRowsInto(
  dst: Float32Array, dOff: number, src: Float32Array, ids: Int32Array, iOff: number, count: number, d: number,
): void {
  for (let a = 0; a < count; a += TOUCH_BLOCK) {
    const c = Math.min(TOUCH_BLOCK, count - a);
    touchRows(src, ids, iOff + a, c, d);
    if (d >= 64) gatherLongRows(dst, dOff + a, src, ids, iOff + a, c, d);
    else gatherShortRows(dst, dOff + a, src, ids, iOff + a, c, d);
  }
}

/** Rows per block of the gathers and scatters of listed rows (see the module's note). */
export const TOUCH_BLOCK = 128;

/** What the touch loops read (kept, so that the reads are not dropped as unused). */
let touched = 0;

/** Reads the first value of rows `ids[iOff … iOff + count)` of `a` (see the module's note). */
function touchRows(a: Float32Array, ids: Int32Array, iOff: number, count: number, d: number): void {
  let z = 0;
  for (let e = 0; e < count; e++) z += a[ids[iOff + e]! * d]!;
  touched += z;
}

function gatherLongRows(dst: Float32Array, dOff: number, src: Float32Array, ids: Int32Array, iOff: number, count: number, d: number): void {
  for (let e = 0; e < count; e++) {
    const s = ids[iOff + e]! * d;
    dst.set(src.subarray(s, s + d), (dOff + e) * d);
  }
}

function gatherShortRows(dst: Float32Array, dOff: number, src: Float32Array, ids: Int32Array, iOff: number, count: number, d: number): void {
  for (let e = 0; e < count; e++) {
    const s = ids[iOff + e]! * d;
    const o = (dOff + e) * d;
    for (let t = 0; t < d; t++) dst[o + t] = src[s + t]!;
  }
}

/**
 * Row `ids[e]` of `dst` ← row `sOff + e` of `src`, for `e < count` (scatter of consecutive rows).
 * The caller checks the ids and lengths.
 */
export function scatterRowsFrom(dst: Float32Array, ids: Int32Array, src: Float32Array, sOff: number, count: number, d: number): void {
  for (let a = 0; a < count; a += TOUCH_BLOCK) {
    const c = Math.min(TOUCH_BLOCK, count - a);
    touchRows(dst, ids, a, c, d);
    if (d >= 64) scatterLongRows(dst, ids, a, src, sOff + a, c, d);
    else scatterShortRows(dst, ids, a, src, sOff + a, c, d);
  }
}

function scatterLongRows(dst: Float32Array, ids: Int32Array, iOff: number, src: Float32Array, sOff: number, count: number, d: number): void {
  for (let e = 0; e < count; e++) {
    const s = (sOff + e) * d;
    dst.set(src.subarray(s, s + d), ids[iOff + e]! * d);
  }
}

function scatterShortRows(dst: Float32Array, ids: Int32Array, iOff: number, src: Float32Array, sOff: number, count: number, d: number): void {
  for (let e = 0; e < count; e++) {
    const s = (sOff + e) * d;
    const o = ids[iOff + e]! * d;
    for (let t = 0; t < d; t++) dst[o + t] = src[s + t]!;
  }
}

/** `dst[e·d …] = row ids[e] of src` for `e < count` (the whole block from its start). */
export function copyRowsIn(dst: Float32Array, src: Float32Array, ids: Int32Array, count: number, d: number): void {
  gatherRowsInto(dst, 0, src, ids, 0, count, d);
}

/** Row `ids[e]` of `dst` = `src[e·d …]` for `e < count` (the inverse of {@link copyRowsIn}). */
export function copyRowsOut(dst: Float32Array, src: Float32Array, ids: Int32Array, count: number, d: number): void {
  scatterRowsFrom(dst, ids, src, 0, count, d);
}

/** `dst[ids[e]·d .. ids[e]·d+d) = src[ids[e]·d .. ids[e]·d+d)` for `e < count` (the rows at their own places). */
export function copyRowsAt(dst: Float32Array, src: Float32Array, ids: Int32Array, count: number, d: number): void {
  if (d >= 64) {
    for (let e = 0; e < count; e++) {
      const o = ids[e]! * d;
      dst.set(src.subarray(o, o + d), o);
    }
    return;
  }
  copyShortRowsAt(dst, src, ids, count, d);
}

function copyShortRowsAt(dst: Float32Array, src: Float32Array, ids: Int32Array, count: number, d: number): void {
  for (let e = 0; e < count; e++) {
    const o = ids[e]! * d;
    for (let t = 0; t < d; t++) dst[o + t] = src[o + t]!;
  }
}

/**
 * Whether copying all `n` rows of a table (one memcpy) is cheaper than copying `rows` listed rows
 * of it: when they are an eighth of the table or more. A memcpy moves a float in about 0.1 ns, a
 * loop over listed rows in 1.3–1.5 ns when the table is in cache, 8.9 ns when it is not (measured
 * on a 2-core x86 machine). The sampled loss's gather and Adam's staging decide by it.
 */
export function wholeCopyPays(rows: number, n: number): boolean {
  return rows * 8 >= n;
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
