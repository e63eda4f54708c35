/**
 * Copies of listed rows between row-major arrays, as tight loops (no view per row): the staging
 * of a step's touched rows into and out of kernel memory, and the gathers of sharded tables.
 * @module
 */

/**
 * `dst[(dOff + e)·d …]` ← row `ids[iOff + e]` of `src`, for `e < count` (gather into consecutive rows).
 * The caller checks the ids and lengths.
 */
export function gatherRowsInto(
  dst: Float32Array, dOff: number, src: Float32Array, ids: Int32Array, iOff: number, count: number, d: number,
): void {
  const d4 = d & ~3;
  for (let e = 0; e < count; e++) {
    let so = ids[iOff + e]! * d;
    let de = (dOff + e) * d;
    const end4 = de + d4;
    while (de < end4) {
      dst[de] = src[so]!;
      dst[de + 1] = src[so + 1]!;
      dst[de + 2] = src[so + 2]!;
      dst[de + 3] = src[so + 3]!;
      de += 4;
      so += 4;
    }
    const end = (dOff + e) * d + d;
    while (de < end) dst[de++] = src[so++]!;
  }
}

/**
 * Row `ids[e]` of `dst` ← row `sOff + e` of `src`, for `e < count` (scatter of consecutive rows).
 * The caller checks the ids and lengths.
 */
export function scatterRowsFrom(dst: Float32Array, ids: Int32Array, src: Float32Array, sOff: number, count: number, d: number): void {
  const d4 = d & ~3;
  for (let e = 0; e < count; e++) {
    let de = ids[e]! * d;
    let so = (sOff + e) * d;
    const end4 = so + d4;
    while (so < end4) {
      dst[de] = src[so]!;
      dst[de + 1] = src[so + 1]!;
      dst[de + 2] = src[so + 2]!;
      dst[de + 3] = src[so + 3]!;
      de += 4;
      so += 4;
    }
    const end = (sOff + e) * d + d;
    while (so < end) dst[de++] = src[so++]!;
  }
}
