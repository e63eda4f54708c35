/**
 * Brute-force full softmax for tests: materializes every logit in float64.
 * @module
 */
import type { ClassTable } from '../../src/core/classTable.js';
import type { Labels, Matrix } from '../../src/core/matrix.js';

/** All logits `[B, n]` in float64: `o = h·c + b`. */
export function allLogits(q: Matrix, t: ClassTable): Float64Array[] {
  const out: Float64Array[] = [];
  for (let r = 0; r < q.rows; r++) {
    const o = new Float64Array(t.n);
    for (let i = 0; i < t.n; i++) o[i] = t.logit(q.data, r * q.cols, i);
    out.push(o);
  }
  return out;
}

/** log-sum-exp of one row, float64, two-pass. */
export function bruteLse(o: Float64Array): number {
  let m = -Infinity;
  for (const v of o) if (v > m) m = v;
  let s = 0;
  for (const v of o) s += Math.exp(v - m);
  return m + Math.log(s);
}

/** Top-k ids of one row by (score desc, id asc), skipping `excluded`; shorter if too few remain. */
export function bruteTopK(o: Float64Array, k: number, excluded: ReadonlySet<number> = new Set()): number[] {
  const ids: number[] = [];
  for (let i = 0; i < o.length; i++) if (!excluded.has(i)) ids.push(i);
  ids.sort((a, b) => o[b]! - o[a]! || a - b);
  return ids.slice(0, k);
}

/** The ids of row `r` of a label set. */
export function rowIds(l: Labels, r: number): number[] {
  return Array.from(l.ids.subarray(l.offsets[r]!, l.offsets[r + 1]!));
}
