/**
 * Exact full-softmax evaluation that streams over blocks of classes: per-query log-sum-exp over
 * all `n` logits, top-k classes, and the log-probability of every label, without ever holding the
 * `B × n` logits.
 * @module
 */
import type { ClassTable } from '../core/classTable.js';
import { NonFiniteError, OptionError } from '../core/errors.js';
import { checkLabels, type Labels, type Matrix } from '../core/matrix.js';
import { assertFinite, assertMatrix, intOption, rejectUnknown } from '../core/validate.js';
import { expNonPos } from '../core/fastExp.js';
import { activePool, dot, kernels } from '../kernels/index.js';
import { containsSorted, sortedPositives } from '../loss/common.js';
import {
  meanNll,
  ndcgAtK,
  precisionAtK,
  recallAtK,
} from '../loss/metrics.js';

/** Options of {@link evaluate}. */
export interface EvaluateOptions {
  /** How many top classes to return per query; integer in `[0, n]`. Default `min(10, n)`. */
  k?: number;
  /** Positives per query; when given, `labelLogProb` is returned for every entry of `labels.ids`. */
  labels?: Labels;
  /**
   * Class ids per query to leave out of that query's top-k (for example the items a user has
   * already seen, when ranking for recommendation). Exclusion affects the ranking only: the
   * excluded classes still count in the log-sum-exp, so `lse` and `labelLogProb` are the
   * probabilities of the full model over all `n` classes.
   */
  exclude?: Labels;
  /** Classes per streamed block (default {@link DEFAULT_BLOCK_SIZE}). Memory grows with it, results do not change. */
  blockSize?: number;
}

/** Result of {@link evaluate}. */
export interface EvaluateResult {
  /** `k` actually used (the stride of `topIds` / `topScores`). */
  readonly k: number;
  /** `[B]` log Σ_i exp(o_i) over all `n` classes, `o_i = h·c_i + b_i`, in float64. */
  readonly lse: Float64Array;
  /**
   * `[B·k]` top classes of each row, by descending logit, ties broken by the smaller id. When a
   * row has fewer than `k` classes left after exclusion, the tail is padded with id `-1`.
   */
  readonly topIds: Int32Array;
  /** `[B·k]` the logits of `topIds` (float32), descending per row; `-Infinity` for padding. */
  readonly topScores: Float32Array;
  /**
   * Aligned with `labels.ids`: `log p(y | h) = o_y − lse` (≤ 0). Present only when labels were given.
   */
  readonly labelLogProb?: Float64Array;
}

/**
 * Default classes per block: measured with the TS kernels at d = 128 (bench/evaluator.ts), where
 * blocks of 512–1024 rows keep the block of class rows in cache while every query passes over it.
 */
export const DEFAULT_BLOCK_SIZE = 1024;

/** Upper bound on the logits buffer (elements); queries are processed in row chunks beyond it. */
const MAX_BUFFER = 1 << 22;

/**
 * Full-softmax evaluation of queries against all classes, streaming over class blocks.
 *
 * With fast kernels installed (`initFastKernels`), the whole evaluation is one call of the fused
 * kernel `kernels.fusedSoftmaxTopK` (same outputs, float32 accumulation; with `exclude` it asks
 * for a longer top list and drops the excluded ids); with the TypeScript kernels it runs the
 * blocked path below. {@link evaluateAsync} runs the fused kernel on the worker pool.
 *
 * For each block of `blockSize` classes it computes the `rows × block` logits with
 * `kernels.matmulNT` into one reused buffer, then per row updates an online log-sum-exp (float64:
 * running max `m` and `s = Σ exp(o − m)`) and a size-`k` min-heap of the best classes (a logit not
 * above the current k-th best is rejected with one comparison; otherwise insertion costs
 * O(log k)). Memory is `O(min(B, 2^22/block)·block + B·k)` beyond the outputs, independent of `n`;
 * time is `O(B·n·d)`.
 *
 * Logits are float32 (the kernel's dot product, plus the bias rounded to float32); the log-sum-exp
 * accumulates them in float64 (with a fast `exp` accurate to 1e-14 relative). The top-k ranks these
 * float32 logits, ties going to the smaller id, and `labelLogProb` uses the same values, so all
 * outputs describe one set of logits.
 *
 * @throws ShapeError (queries not `[B, d]`, labels/exclude not `B` rows), NonFiniteError (NaN/±Inf
 *   in the queries, or logits that overflow), LabelRangeError (ids outside `[0, n)`),
 *   OptionError (`k` not in `[0, n]`, bad `blockSize`, unknown option)
 */
export function evaluate(queries: Matrix, table: ClassTable, opts: EvaluateOptions = {}): EvaluateResult {
  const p = prepare(queries, table, opts);
  return p.fused ? fusedSync(queries, table, p) : evaluateBlocked(queries, table, p);
}

function fusedSync(queries: Matrix, table: ClassTable, p: Prepared): EvaluateResult {
  return fusedResult(queries, table, p, (kk, lse, ids, sc) => {
    kernels.fusedSoftmaxTopK(queries.data, p.B, table.weights, table.bias, table.n, table.d, kk, lse, ids, sc);
  }) as EvaluateResult;
}

/**
 * {@link evaluate} on the worker pool of the fast kernels ({@link initFastKernels} installs it):
 * the fused kernel runs on every core, by query rows or, for few queries, by class ranges; a
 * table outside the kernels' memory (for instance one larger than 4 GiB) streams through it in
 * blocks. Same options, checks and results as {@link evaluate} (the same kernel computes the
 * logits); without a pool (TypeScript kernels) it runs {@link evaluate}.
 * @throws as {@link evaluate}
 */
export async function evaluateAsync(queries: Matrix, table: ClassTable, opts: EvaluateOptions = {}): Promise<EvaluateResult> {
  const p = prepare(queries, table, opts);
  const pool = activePool();
  if (!p.fused) return evaluateBlocked(queries, table, p);
  if (pool === null) return fusedSync(queries, table, p);
  return fusedResult(queries, table, p, (kk, lse, ids, sc) =>
    pool.fusedSoftmaxTopK(queries.data, p.B, table.weights, table.bias, table.n, table.d, kk, lse, ids, sc));
}

/** Checked options of one evaluation. */
interface Prepared {
  B: number;
  k: number;
  block: number;
  labels: Labels | undefined;
  /** Excluded ids sorted per row (CSR with `exOff`), or null. */
  exIds: Int32Array | null;
  exOff: Int32Array | null;
  /** Whether the fused kernel computes it (fast kernels installed). */
  fused: boolean;
}

/**
 * Checks the inputs of an evaluation over `n` classes of dimension `d` (options, query shape and
 * finiteness, `k`, labels and exclusions); returns the rows and `k`.
 * @throws as {@link evaluate}
 */
export function checkEvaluateInputs(queries: Matrix, n: number, d: number, opts: EvaluateOptions): { B: number; k: number } {
  rejectUnknown(opts, ['k', 'labels', 'exclude', 'blockSize'], 'evaluate');
  assertMatrix(queries, 'evaluate: queries', d);
  assertFinite(queries.data, 'evaluate: queries', d);
  const B = queries.rows;
  if (opts.k !== undefined && typeof opts.k === 'number' && Number.isInteger(opts.k) && opts.k > n) {
    throw new OptionError(`evaluate: k = ${opts.k} exceeds the number of classes n = ${n}; use k ≤ ${n}`);
  }
  const k = opts.k === undefined ? Math.min(10, n) : intOption(opts.k, 'k', 0, n);
  if (opts.labels) checkLabels(opts.labels, n, B, 'evaluate: labels');
  if (opts.exclude) checkLabels(opts.exclude, n, B, 'evaluate: exclude');
  return { B, k };
}

function prepare(queries: Matrix, table: ClassTable, opts: EvaluateOptions): Prepared {
  const { n, d } = table;
  const { B, k } = checkEvaluateInputs(queries, n, d, opts);
  const block = opts.blockSize === undefined ? DEFAULT_BLOCK_SIZE : intOption(opts.blockSize, 'blockSize', 1);
  const labels = opts.labels;
  const exclude = opts.exclude;

  // Excluded ids, sorted per row, for binary search when a candidate would enter the top-k.
  let exIds: Int32Array | null = null;
  let exOff: Int32Array | null = null;
  if (exclude && exclude.ids.length > 0) {
    exIds = sortedPositives(exclude.ids, exclude.offsets);
    exOff = exclude.offsets;
  }
  return { B, k, block, labels, exIds, exOff, fused: kernels.name !== 'ts' && B > 0 && d > 0 };
}

/** The blocked evaluation (any kernels; the only path of the TypeScript kernels). */
function evaluateBlocked(queries: Matrix, table: ClassTable, p: Prepared): EvaluateResult {
  const { n, d } = table;
  const { B, k, block, labels, exIds, exOff } = p;
  // Label entries sorted by class id, so that each block picks up its labels' logits in order.
  let labOrder: Int32Array | null = null;
  let labRow: Int32Array | null = null;
  let labLogit: Float64Array | null = null;
  if (labels && labels.ids.length > 0) {
    const L = labels.ids.length;
    labRow = new Int32Array(L);
    for (let r = 0; r < B; r++) labRow.fill(r, labels.offsets[r]!, labels.offsets[r + 1]!);
    const ids = labels.ids;
    labOrder = Int32Array.from({ length: L }, (_, i) => i).sort((a, b) => ids[a]! - ids[b]! || a - b);
    labLogit = new Float64Array(L);
  }

  const mx = new Float64Array(B).fill(-Infinity);
  const sm = new Float64Array(B);
  const heapS = new Float32Array(B * k);
  const heapI = new Int32Array(B * k);
  const heapN = new Int32Array(B);
  const thr = new Float64Array(B).fill(-Infinity);
  const bias = table.bias;
  const W = table.weights;
  const Q = queries.data;

  const rowsPer = Math.max(1, Math.min(B, Math.floor(MAX_BUFFER / Math.min(block, n))));
  const buf = new Float32Array(rowsPer * Math.min(block, n));

  for (let r0 = 0; r0 < B; r0 += rowsPer) {
    const rows = Math.min(rowsPer, B - r0);
    const qv = Q.subarray(r0 * d, (r0 + rows) * d);
    let lp = 0; // position in labOrder
    for (let s = 0; s < n; s += block) {
      const cnt = Math.min(block, n - s);
      kernels.matmulNT(qv, rows, W, s, cnt, d, buf);
      for (let i = 0; i < rows; i++) {
        const r = r0 + i;
        const o = i * cnt;
        // Pass 1: add the bias (float32, like the kernel's logits) and find the block max.
        let bm = -Infinity;
        if (bias === null) {
          for (let j = 0; j < cnt; j++) if (buf[o + j]! > bm) bm = buf[o + j]!;
        } else {
          for (let j = 0; j < cnt; j++) {
            const v = (buf[o + j] = buf[o + j]! + bias[s + j]!);
            if (v > bm) bm = v;
          }
        }
        let m = mx[r]!;
        let acc = sm[r]!;
        if (bm > m) {
          acc = m === -Infinity ? 0 : acc * Math.exp(m - bm);
          m = bm;
        }
        // Pass 2: accumulate exp(o − m) and offer logits above the k-th best to the heap.
        let t = k > 0 ? thr[r]! : Infinity;
        for (let j = 0; j < cnt; j++) {
          const v = buf[o + j]!;
          acc += expNonPos(v - m);
          if (v > t) {
            const id = s + j;
            if (exIds !== null && containsSorted(exIds, exOff![r]!, exOff![r + 1]!, id)) continue;
            t = heapPush(heapS, heapI, heapN, r, k, v, id);
          }
        }
        mx[r] = m;
        sm[r] = acc;
        if (k > 0) thr[r] = t;
      }
      if (labOrder !== null) {
        const end = s + cnt;
        const ids = labels!.ids;
        while (lp < labOrder.length && ids[labOrder[lp]!]! < end) {
          const e = labOrder[lp++]!;
          const r = labRow![e]!;
          if (r >= r0 && r < r0 + rows) {
            const y = ids[e]!;
            labLogit![e] = buf[(r - r0) * cnt + (y - s)]!;
          }
        }
      }
    }
  }

  const lse = new Float64Array(B);
  for (let r = 0; r < B; r++) lse[r] = mx[r]! + Math.log(sm[r]!);
  checkLse(lse);

  const topIds = new Int32Array(B * k).fill(-1);
  const topScores = new Float32Array(B * k).fill(-Infinity);
  for (let r = 0; r < B; r++) {
    // Pop the min repeatedly: the worst goes last.
    for (let c = heapN[r]!; c > 0; c--) {
      const base = r * k;
      topIds[base + c - 1] = heapI[base]!;
      topScores[base + c - 1] = heapS[base]!;
      heapPopMin(heapS, heapI, heapN, r, k);
    }
  }

  let labelLogProb: Float64Array | undefined;
  if (labels) {
    labelLogProb = new Float64Array(labels.ids.length);
    for (let r = 0; r < B; r++) {
      for (let e = labels.offsets[r]!; e < labels.offsets[r + 1]!; e++) {
        labelLogProb[e] = Math.min(0, labLogit![e]! - lse[r]!);
      }
    }
  }
  return labelLogProb ? { k, lse, topIds, topScores, labelLogProb } : { k, lse, topIds, topScores };
}

/** Throws when a row's log-sum-exp is not finite (NaN/Inf in the table or overflowing logits). */
function checkLse(lse: Float64Array): void {
  for (let r = 0; r < lse.length; r++) {
    if (!Number.isFinite(lse[r]!)) {
      throw new NonFiniteError(
        `evaluate: the logits of query row ${r} are not finite (log-sum-exp = ${lse[r]}); check the class table for NaN/Inf or huge values`,
        r,
      );
    }
  }
}

/**
 * The path of {@link evaluate} on fast kernels: one call of the fused `fusedSoftmaxTopK` (tiled
 * product, online log-sum-exp and top-k in one pass) through `run`. With exclusions it asks for
 * the top `k + (most ids excluded from one row)` and drops each row's excluded ids, which leaves
 * that row's top `k` among the others (exclusion changes the ranking only). Label logits are
 * recomputed as float32 `h·c_y + b_y`.
 */
function fusedResult(
  queries: Matrix, table: ClassTable, p: Prepared,
  run: (kk: number, lse: Float64Array, ids: Int32Array, scores: Float32Array) => void | Promise<void>,
): EvaluateResult | Promise<EvaluateResult> {
  const { n, d } = table;
  const { B, k, labels, exIds, exOff } = p;
  let extra = 0;
  if (exOff !== null) for (let r = 0; r < B; r++) extra = Math.max(extra, exOff[r + 1]! - exOff[r]!);
  const kk = Math.min(n, k + extra);
  const lse = new Float64Array(B);
  const ids = new Int32Array(B * kk);
  const scores = new Float32Array(B * kk);
  const finish = (): EvaluateResult => {
    checkLse(lse);
    let topIds = ids;
    let topScores = scores;
    if (exIds !== null) {
      topIds = new Int32Array(B * k).fill(-1);
      topScores = new Float32Array(B * k).fill(-Infinity);
      for (let r = 0; r < B; r++) {
        let c = 0;
        for (let t = 0; t < kk && c < k; t++) {
          const id = ids[r * kk + t]!;
          if (id < 0 || containsSorted(exIds, exOff![r]!, exOff![r + 1]!, id)) continue;
          topIds[r * k + c] = id;
          topScores[r * k + c] = scores[r * kk + t]!;
          c++;
        }
      }
    }
    if (!labels) return { k, lse, topIds, topScores };
    const labelLogProb = new Float64Array(labels.ids.length);
    const h = queries.data;
    const bias = table.bias;
    for (let r = 0; r < B; r++) {
      for (let e = labels.offsets[r]!; e < labels.offsets[r + 1]!; e++) {
        const y = labels.ids[e]!;
        const o = Math.fround(Math.fround(dot(h, r * d, table.weights, y * d, d)) + (bias ? bias[y]! : 0));
        labelLogProb[e] = Math.min(0, o - lse[r]!);
      }
    }
    return { k, lse, topIds, topScores, labelLogProb };
  };
  const pending = run(kk, lse, ids, scores);
  return pending instanceof Promise ? pending.then(finish) : finish();
}

/** `a` ranks below `b` (worse): smaller score, or equal score and larger id. */
function worse(sa: number, ia: number, sb: number, ib: number): boolean {
  return sa < sb || (sa === sb && ia > ib);
}

/**
 * Offers `(score, id)` to row `r`'s min-heap (root = worst kept). Returns the new rejection
 * threshold: `-Infinity` while the heap is not full, else the root's score. Ids arrive in
 * increasing order, so a candidate equal to the root's score never displaces it.
 */
function heapPush(hs: Float32Array, hi: Int32Array, hn: Int32Array, r: number, k: number, score: number, id: number): number {
  const base = r * k;
  let size = hn[r]!;
  if (size < k) {
    let c = size++;
    while (c > 0) {
      const p = (c - 1) >> 1;
      if (!worse(score, id, hs[base + p]!, hi[base + p]!)) break;
      hs[base + c] = hs[base + p]!;
      hi[base + c] = hi[base + p]!;
      c = p;
    }
    hs[base + c] = score;
    hi[base + c] = id;
    hn[r] = size;
    return size < k ? -Infinity : hs[base]!;
  }
  if (!worse(hs[base]!, hi[base]!, score, id)) return hs[base]!;
  siftDown(hs, hi, base, size, score, id);
  return hs[base]!;
}

/** Places `(score, id)` at the root of a heap of `size` and sifts it down. */
function siftDown(hs: Float32Array, hi: Int32Array, base: number, size: number, score: number, id: number): void {
  let c = 0;
  for (;;) {
    const l = 2 * c + 1;
    if (l >= size) break;
    let m = l;
    const rr = l + 1;
    if (rr < size && worse(hs[base + rr]!, hi[base + rr]!, hs[base + l]!, hi[base + l]!)) m = rr;
    if (!worse(hs[base + m]!, hi[base + m]!, score, id)) break;
    hs[base + c] = hs[base + m]!;
    hi[base + c] = hi[base + m]!;
    c = m;
  }
  hs[base + c] = score;
  hi[base + c] = id;
}

function heapPopMin(hs: Float32Array, hi: Int32Array, hn: Int32Array, r: number, k: number): void {
  const base = r * k;
  const size = hn[r]! - 1;
  hn[r] = size;
  if (size > 0) siftDown(hs, hi, base, size, hs[base + size]!, hi[base + size]!);
}

/** Options of {@link evaluateMetrics}. */
export interface EvaluateMetricsOptions {
  /** Cut-offs for P@k, Recall@k and nDCG@k (default `[1, 3, 5]`); each in `[1, n]`. */
  ks?: readonly number[];
  /** Ids to leave out of each row's ranking (see {@link EvaluateOptions.exclude}). */
  exclude?: Labels;
  /** Classes per streamed block (see {@link EvaluateOptions.blockSize}). */
  blockSize?: number;
}

/** Metrics of {@link evaluateMetrics}; ranking metrics are keyed by cut-off `k`. */
export interface EvaluationMetrics {
  /** Mean negative log-likelihood over all label entries (nats). */
  readonly nll: number;
  /** `exp(nll)`. */
  readonly perplexity: number;
  /** Number of label entries the NLL averages over. */
  readonly entries: number;
  /** Number of rows with at least one positive (the rows ranking metrics average over). */
  readonly rows: number;
  /** Mean P@k per cut-off. */
  readonly precision: Readonly<Record<number, number>>;
  /** Mean Recall@k per cut-off. */
  readonly recall: Readonly<Record<number, number>>;
  /** Mean nDCG@k per cut-off. */
  readonly ndcg: Readonly<Record<number, number>>;
  /** The underlying evaluation (per-row log-sum-exp, top-k, label log-probabilities). */
  readonly evaluation: EvaluateResult;
}

/**
 * Runs {@link evaluate} once with `k = max(ks)` and computes NLL, perplexity, and P@k, Recall@k,
 * nDCG@k for every cut-off (formulas in `loss/metrics`).
 * @throws as {@link evaluate}; OptionError for empty or invalid `ks`
 */
export function evaluateMetrics(
  queries: Matrix,
  table: ClassTable,
  labels: Labels,
  opts: EvaluateMetricsOptions = {},
): EvaluationMetrics {
  const ks = metricCutoffs(opts, table.n);
  const ev = evaluate(queries, table, evaluateOptionsFor(opts, ks, labels));
  return metricsOf(ev, labels, ks);
}

/**
 * {@link evaluateMetrics} through {@link evaluateAsync}: on the worker pool of the fast kernels
 * when they are installed. Same options and results.
 * @throws as {@link evaluateMetrics}
 */
export async function evaluateMetricsAsync(
  queries: Matrix,
  table: ClassTable,
  labels: Labels,
  opts: EvaluateMetricsOptions = {},
): Promise<EvaluationMetrics> {
  const ks = metricCutoffs(opts, table.n);
  return metricsOf(await evaluateAsync(queries, table, evaluateOptionsFor(opts, ks, labels)), labels, ks);
}

/**
 * The cut-offs of {@link evaluateMetrics} for `n` classes (default `[1, 3, 5]`), validated.
 * @throws OptionError for unknown options, or cut-offs that are empty or not in `[1, n]`
 */
export function metricCutoffs(opts: EvaluateMetricsOptions, n: number): readonly number[] {
  rejectUnknown(opts, ['ks', 'exclude', 'blockSize'], 'evaluateMetrics');
  const ks = opts.ks ?? [1, 3, 5];
  if (!Array.isArray(ks) || ks.length === 0) throw new OptionError('evaluateMetrics: ks must be a non-empty array of cut-offs, e.g. [1, 3, 5]');
  for (const c of ks) intOption(c, 'ks[]', 1, n);
  return ks;
}

/** The {@link evaluate} options {@link evaluateMetrics} runs with (`k = max(ks)`). */
export function evaluateOptionsFor(opts: EvaluateMetricsOptions, ks: readonly number[], labels: Labels): EvaluateOptions {
  return {
    k: Math.max(...ks),
    labels,
    ...(opts.exclude ? { exclude: opts.exclude } : {}),
    ...(opts.blockSize !== undefined ? { blockSize: opts.blockSize } : {}),
  };
}

/** NLL, perplexity and the ranking metrics at every cut-off from an evaluation run with `k = max(ks)` and `labels`. */
export function metricsOf(ev: EvaluateResult, labels: Labels, ks: readonly number[]): EvaluationMetrics {
  const kmax = Math.max(...ks);
  const precision: Record<number, number> = {};
  const recall: Record<number, number> = {};
  const ndcg: Record<number, number> = {};
  let rows = 0;
  for (const c of ks) {
    const p = precisionAtK(ev.topIds, kmax, labels, c);
    precision[c] = p.mean;
    rows = p.rows;
    recall[c] = recallAtK(ev.topIds, kmax, labels, c).mean;
    ndcg[c] = ndcgAtK(ev.topIds, kmax, labels, c).mean;
  }
  const nll = meanNll(ev.labelLogProb!);
  return { nll, perplexity: Math.exp(nll), entries: labels.ids.length, rows, precision, recall, ndcg, evaluation: ev };
}
