/**
 * Reverse-dictionary metrics, exact over all classes: the rank of a definition's best-ranked true
 * headword (1 = first), accuracy@k (that rank ≤ k) and the median rank. Browser-safe.
 * @module
 */
import type { ClassTable } from '../../core/classTable.js';
import { ShapeError } from '../../core/errors.js';
import type { Labels, Matrix } from '../../core/matrix.js';
import { activePool, kernels } from '../../kernels/index.js';
import { evaluateAsync } from '../../layer/evaluator.js';

/** The cut-offs of accuracy@k. */
export const RDICT_KS = [1, 10, 100] as const;

/**
 * Exact ranks of each row's best true label, from a top-`k` list (`topIds`, `k` per row) and,
 * for rows whose labels are all outside it, a count over every class: rank = 1 + the number of
 * other classes whose logit is strictly above the row's best true logit (ties count in the
 * label's favour), and at least `k + 1`. Rows without a label get rank 0. The count's blocks of
 * logits are computed by `matmul` (default: the active kernels' `matmulNT`; `rdictRanks` passes
 * the worker pool's).
 * @throws ShapeError when the shapes do not fit
 */
export async function bestRanks(
  queries: Matrix, table: ClassTable, labels: Labels, topIds: Int32Array, k: number,
  matmul: (...args: Parameters<typeof kernels.matmulNT>) => void | Promise<void> = (...a) => kernels.matmulNT(...a),
): Promise<Int32Array> {
  const B = queries.rows;
  const d = table.d;
  if (queries.cols !== d || topIds.length !== B * k || labels.offsets.length !== B + 1) {
    throw new ShapeError(`bestRanks: queries ${queries.rows}×${queries.cols}, table dim ${d}, ${topIds.length} top ids for k=${k}, ${labels.offsets.length - 1} label rows`);
  }
  const ranks = new Int32Array(B);
  const rest: number[] = [];
  for (let r = 0; r < B; r++) {
    const lo = labels.offsets[r]!;
    const hi = labels.offsets[r + 1]!;
    if (hi === lo) continue;
    for (let j = 0; j < k && ranks[r] === 0; j++) {
      const id = topIds[r * k + j]!;
      for (let e = lo; e < hi; e++) if (labels.ids[e] === id) ranks[r] = j + 1;
    }
    if (ranks[r] === 0) rest.push(r);
  }
  if (rest.length === 0) return ranks;
  // the rows outside the top-k: an estimate of their best true logit, then one pass over blocks
  // of classes counting the logits above it; logits within a small band of the estimate are kept
  // and settled against the best true logit of the same pass (the kernel may round a single dot
  // product differently from a block)
  const n = table.n;
  const bias = table.bias;
  const one = new Float32Array(1);
  const q = new Float32Array(d);
  const chunk = 256;
  const block = 4096;
  const buf = new Float32Array(chunk * block);
  for (let s = 0; s < rest.length; s += chunk) {
    const rows = rest.slice(s, s + chunk);
    const m = rows.length;
    const qs = new Float32Array(m * d);
    const est = new Float64Array(m);
    const band = new Float64Array(m);
    for (let i = 0; i < m; i++) {
      const r = rows[i]!;
      qs.set(queries.data.subarray(r * d, (r + 1) * d), i * d);
      q.set(queries.data.subarray(r * d, (r + 1) * d));
      let best = -Infinity;
      for (let e = labels.offsets[r]!; e < labels.offsets[r + 1]!; e++) {
        const y = labels.ids[e]!;
        kernels.matmulNT(q, 1, table.weights, y, 1, d, one);
        best = Math.max(best, Math.fround(one[0]! + (bias ? bias[y]! : 0)));
      }
      est[i] = best;
      band[i] = 1e-4 * (1 + Math.abs(best));
    }
    const above = new Int32Array(m);
    const near: { id: number; v: number }[][] = Array.from({ length: m }, () => []);
    for (let c0 = 0; c0 < n; c0 += block) {
      const cb = Math.min(block, n - c0);
      await matmul(qs, m, table.weights, c0, cb, d, buf);
      for (let i = 0; i < m; i++) {
        const hi = est[i]! + band[i]!;
        const lo = est[i]! - band[i]!;
        const o = i * cb;
        let c = 0;
        for (let j = 0; j < cb; j++) {
          const v = bias ? Math.fround(buf[o + j]! + bias[c0 + j]!) : buf[o + j]!;
          if (v > hi) c++;
          else if (v >= lo) near[i]!.push({ id: c0 + j, v });
        }
        above[i] = above[i]! + c;
      }
    }
    for (let i = 0; i < m; i++) {
      const r = rows[i]!;
      const own = labels.ids.subarray(labels.offsets[r]!, labels.offsets[r + 1]!);
      let t = -Infinity;
      for (const x of near[i]!) if (own.includes(x.id) && x.v > t) t = x.v;
      if (t === -Infinity) t = est[i]!;
      let c = above[i]!;
      for (const x of near[i]!) if (x.v > t && !own.includes(x.id)) c++;
      ranks[r] = Math.max(k + 1, c + 1);
    }
  }
  return ranks;
}

/** Accuracy@k and median rank of a set of ranks. */
export interface RankSummary {
  /** Rows summarized (rank > 0). */
  rows: number;
  /** accuracy@1, @10, @100: the share of rows whose rank is ≤ k. */
  acc1: number;
  acc10: number;
  acc100: number;
  /** Median rank (the mean of the two middle ranks for an even count; NaN without rows). */
  medianRank: number;
}

/** Summarizes ranks `[from, to)` of `ranks` (rank 0 = a row without label, left out). */
export function summarizeRanks(ranks: Int32Array, from = 0, to = ranks.length): RankSummary {
  const r = Array.from(ranks.subarray(from, to)).filter((x) => x > 0).sort((a, b) => a - b);
  const n = r.length;
  const at = (k: number): number => (n === 0 ? NaN : r.filter((x) => x <= k).length / n);
  const median = n === 0 ? NaN : n % 2 === 1 ? r[(n - 1) / 2]! : (r[n / 2 - 1]! + r[n / 2]!) / 2;
  return { rows: n, acc1: at(1), acc10: at(10), acc100: at(100), medianRank: median };
}

/**
 * Ranks of every row's best true label, exact over all classes: the top-100 by the evaluator,
 * the rows outside it by {@link bestRanks}' count, both on the kernels' worker pool when one is
 * installed.
 */
export async function rdictRanks(queries: Matrix, table: ClassTable, labels: Labels): Promise<Int32Array> {
  const k = Math.min(100, table.n);
  const ev = await evaluateAsync(queries, table, { k });
  const pool = activePool();
  return bestRanks(queries, table, labels, ev.topIds, ev.k, pool ? (...a) => pool.matmulNT(...a) : undefined);
}
