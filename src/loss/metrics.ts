/**
 * Evaluation metrics computed from full-softmax results (the evaluator's top-k lists and label
 * log-probabilities).
 *
 * Notation for one row: `T = (t_1, …, t_k)` its top-k ids in rank order, `P` its set of positives
 * (duplicate ids count once), `rel_i = 1` if `t_i ∈ P` else 0.
 * - P@k      = |T ∩ P| / k
 * - Recall@k = |T ∩ P| / |P|
 * - nDCG@k   = DCG / IDCG, DCG = Σ_{i=1..k} rel_i / log2(i + 1), IDCG = Σ_{i=1..min(|P|, k)} 1 / log2(i + 1)
 * - NLL      = −log p(y | h) per label entry; perplexity = exp(mean NLL over all entries)
 *
 * Rows with no positives have no defined ranking metric: their per-row value is NaN and they are
 * left out of every mean (`rows` counts the rows that remain). Padding ids (`-1`, when exclusion
 * left fewer than `k` classes) never match a positive.
 * @module
 */
import { OptionError, ShapeError } from '../core/errors.js';
import { checkLabels, type Labels } from '../core/matrix.js';
import { intOption } from '../core/validate.js';
import { containsSorted } from './common.js';

/** Per-row values and their mean over the rows that have at least one positive. */
export interface MetricResult {
  /** `[B]` value per row; NaN for rows without positives. */
  readonly perRow: Float64Array;
  /** Mean over the rows with at least one positive; NaN when there are none. */
  readonly mean: number;
  /** Number of rows averaged. */
  readonly rows: number;
}

type RowScore = (hits: Int32Array | null, nHits: number, nPos: number, at: number) => number;

/** Shared driver: validates, finds the ranks of hits per row, applies `score`. */
function rankMetric(
  topIds: Int32Array,
  k: number,
  labels: Labels,
  at: number,
  what: string,
  score: RowScore,
  needRanks: boolean,
): MetricResult {
  intOption(k, `${what}: k (stride of topIds)`, 0);
  intOption(at, `${what}: cut-off`, 1);
  if (at > k) throw new OptionError(`${what}: cut-off ${at} exceeds the ${k} ids per row in topIds; evaluate with k ≥ ${at}`);
  const B = labels.offsets.length - 1;
  if (B < 0 || topIds.length !== B * k) {
    throw new ShapeError(`${what}: topIds has length ${topIds.length}, expected rows*k = ${B}*${k} (one row per label row)`);
  }
  checkLabels(labels, 0x7fffffff, B, `${what}: labels`);
  const perRow = new Float64Array(B);
  const ranks = needRanks ? new Int32Array(at) : null;
  let sum = 0;
  let rows = 0;
  let pos = new Int32Array(16);
  for (let r = 0; r < B; r++) {
    const a = labels.offsets[r]!;
    const b = labels.offsets[r + 1]!;
    if (b === a) {
      perRow[r] = NaN;
      continue;
    }
    // Distinct sorted positives of the row.
    if (pos.length < b - a) pos = new Int32Array(b - a);
    const p = pos.subarray(0, b - a);
    p.set(labels.ids.subarray(a, b));
    p.sort();
    let np = 0;
    for (let i = 0; i < p.length; i++) if (i === 0 || p[i] !== p[i - 1]) p[np++] = p[i]!;
    let nHits = 0;
    for (let i = 0; i < at; i++) {
      const id = topIds[r * k + i]!;
      if (id >= 0 && containsSorted(p, 0, np, id)) {
        if (ranks) ranks[nHits] = i;
        nHits++;
      }
    }
    const v = score(ranks, nHits, np, at);
    perRow[r] = v;
    sum += v;
    rows++;
  }
  return { perRow, mean: rows > 0 ? sum / rows : NaN, rows };
}

/**
 * Precision at `at`: `|T ∩ P| / at` over the first `at` of each row's ids (a padding id counts
 * as a miss).
 * @param topIds `[B·k]` ranked ids per row (for example `evaluate(...).topIds`)
 * @param k ids per row in `topIds`
 * @param labels positives, `B` rows
 * @param at cut-off, `1 ≤ at ≤ k` (default `k`)
 * @throws ShapeError, OptionError, LabelRangeError
 */
export function precisionAtK(topIds: Int32Array, k: number, labels: Labels, at = k): MetricResult {
  return rankMetric(topIds, k, labels, at, 'precisionAtK', (_, h, _np, c) => h / c, false);
}

/**
 * Recall at `at`: `|T ∩ P| / |P|` (distinct positives).
 * @throws ShapeError, OptionError, LabelRangeError
 */
export function recallAtK(topIds: Int32Array, k: number, labels: Labels, at = k): MetricResult {
  return rankMetric(topIds, k, labels, at, 'recallAtK', (_, h, np) => h / np, false);
}

/**
 * nDCG at `at` with binary relevance: `Σ_{hits at 1-based rank i} 1/log2(i+1)` divided by the
 * ideal `Σ_{i=1..min(|P|, at)} 1/log2(i+1)`.
 * @throws ShapeError, OptionError, LabelRangeError
 */
export function ndcgAtK(topIds: Int32Array, k: number, labels: Labels, at = k): MetricResult {
  return rankMetric(
    topIds,
    k,
    labels,
    at,
    'ndcgAtK',
    (ranks, h, np, c) => {
      let dcg = 0;
      for (let i = 0; i < h; i++) dcg += 1 / Math.log2(ranks![i]! + 2);
      let idcg = 0;
      for (let i = 0; i < Math.min(np, c); i++) idcg += 1 / Math.log2(i + 2);
      return dcg / idcg;
    },
    true,
  );
}

/**
 * Mean negative log-likelihood over label entries: `−(1/L) Σ_j logProb[j]`; NaN when `L = 0`.
 * @param labelLogProb `log p(y_j | h)` per label entry (for example `evaluate(...).labelLogProb`)
 */
export function meanNll(labelLogProb: ArrayLike<number>): number {
  const L = labelLogProb.length;
  if (L === 0) return NaN;
  let s = 0;
  for (let j = 0; j < L; j++) s -= labelLogProb[j]!;
  return s / L;
}

/** Perplexity `exp(meanNll(labelLogProb))`, the mean taken over label entries (tokens). */
export function perplexity(labelLogProb: ArrayLike<number>): number {
  return Math.exp(meanNll(labelLogProb));
}

/**
 * NLL per row: the mean of `−log p(y | h)` over the row's label entries (NaN for rows without
 * labels), plus the entry-weighted mean and perplexity.
 * @throws ShapeError when `labelLogProb` is not aligned with `labels.ids`
 */
export function nllPerRow(labelLogProb: Float64Array, labels: Labels): { perRow: Float64Array; mean: number; perplexity: number } {
  if (labelLogProb.length !== labels.ids.length) {
    throw new ShapeError(`nllPerRow: labelLogProb has length ${labelLogProb.length}, expected labels.ids.length = ${labels.ids.length}`);
  }
  const B = labels.offsets.length - 1;
  const perRow = new Float64Array(B);
  for (let r = 0; r < B; r++) {
    const a = labels.offsets[r]!;
    const b = labels.offsets[r + 1]!;
    let s = 0;
    for (let j = a; j < b; j++) s -= labelLogProb[j]!;
    perRow[r] = b > a ? s / (b - a) : NaN;
  }
  const mean = meanNll(labelLogProb);
  return { perRow, mean, perplexity: Math.exp(mean) };
}

/**
 * Recall@`k` of an approximate top-`k` ranking against the exact one: for each row, the share of
 * the exact top-`k` ids (`exact`, `B × kExact` row-major, `-1` = none) found among the first `k`
 * approximate ids (`approx`, `B × kApprox`), averaged over the rows with at least one exact id.
 * @throws ShapeError when the arrays do not hold the same rows or `k` exceeds either width
 */
export function topKRecall(approx: Int32Array, kApprox: number, exact: Int32Array, kExact: number, k: number): number {
  const B = kApprox > 0 ? approx.length / kApprox : 0;
  if (!Number.isInteger(B) || exact.length !== B * kExact || k < 1 || k > kApprox || k > kExact) {
    throw new ShapeError(`topKRecall: ${approx.length} approximate ids in rows of ${kApprox} and ${exact.length} exact ids in rows of ${kExact} do not fit k = ${k}`);
  }
  let sum = 0;
  let rows = 0;
  for (let r = 0; r < B; r++) {
    let want = 0;
    let hit = 0;
    for (let i = 0; i < k; i++) {
      const e = exact[r * kExact + i]!;
      if (e < 0) continue;
      want++;
      for (let j = 0; j < k; j++) {
        if (approx[r * kApprox + j] === e) {
          hit++;
          break;
        }
      }
    }
    if (want > 0) {
      sum += hit / want;
      rows++;
    }
  }
  return rows > 0 ? sum / rows : 0;
}
