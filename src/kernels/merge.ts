/**
 * Merging of fused-evaluation results computed over disjoint class ranges (by several workers,
 * or block by block over a table streamed through the kernels' memory). Browser-safe.
 * @module
 */
import { logSumExp } from '../core/math.js';

/** One class range's fused-evaluation result: ids are relative to `offset`. */
export interface FusedPart {
  /** First class of the range (added to the part's ids). */
  offset: number;
  /** `[rows]` log-sum-exp over the range. */
  lse: Float64Array;
  /** `[rows·k]` top ids of the range, relative to `offset`; `-1` for missing entries. */
  ids: Int32Array;
  /** `[rows·k]` their scores, descending per row. */
  scores: Float32Array;
}

/**
 * Merges fused-evaluation results over disjoint class ranges: log-sum-exps add in probability
 * space, top-k lists merge by descending score with ties to the smaller (global) id; missing
 * entries are `(-1, -Infinity)` as in the single-range kernel. The outputs may be the arrays of
 * a part with offset 0 (each row is read before it is written).
 */
export function mergeFusedParts(
  parts: FusedPart[], rows: number, k: number, outLse: Float64Array, outIds: Int32Array, outScores: Float32Array,
): void {
  const cand: Array<{ id: number; s: number }> = [];
  for (let i = 0; i < rows; i++) {
    outLse[i] = logSumExp(parts.map((p) => p.lse[i]!));
    cand.length = 0;
    for (const p of parts) {
      for (let r = 0; r < k; r++) {
        const id = p.ids[i * k + r]!;
        if (id >= 0) cand.push({ id: id + p.offset, s: p.scores[i * k + r]! });
      }
    }
    cand.sort((x, y) => (y.s - x.s) || (x.id - y.id));
    for (let r = 0; r < k; r++) {
      const c = cand[r];
      outIds[i * k + r] = c ? c.id : -1;
      outScores[i * k + r] = c ? c.s : -Infinity;
    }
  }
}
