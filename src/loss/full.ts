/**
 * Exact (full) softmax loss, streamed over blocks of classes.
 * @module
 */
import { OptionError, ShapeError } from '../core/errors.js';
import { logAddExp } from '../core/math.js';
import { iota } from '../core/rows.js';
import { intOption, rejectUnknown } from '../core/validate.js';
import { activePool, dot, kernels } from '../kernels/index.js';
import { BASE_KEYS, isFirstInRow, setupBase, zeroResult } from './common.js';
import type { LossInputBase, LossResult } from './types.js';

const WHAT = 'fullSoftmaxLoss';
const NO_IDS = new Int32Array(0);
const NO_SCORES = new Float32Array(0);

/** Options of {@link fullSoftmaxLoss}. */
export interface FullLossOptions {
  /**
   * Classes per block (default 1024). Peak extra memory is one `[B, blockSize]` float32 score
   * block; any value ≥ 1 works, it need not divide `n`.
   */
  blockSize?: number;
  /**
   * Arrays to write the class gradient into instead of new ones (returned as `gradClasses`):
   * `ids` of length `n` (set to `0 … n−1`), `rows` of `n × d`, `bias` of `n` when the table has
   * biases (else null). Reusing one set in kernel memory (`FastKernels.allocF32`) saves a
   * `n × d` allocation and its copies into and out of the kernels at every step.
   */
  into?: { ids: Int32Array; rows: Float32Array; bias: Float32Array | null };
}

/**
 * The exact softmax loss over all `n` classes, the baseline every sampled loss estimates.
 *
 * Logits are `o_i = h·c_i + b_i`. Each positive `p` of a row gives one term
 * `L_rp = −o_p + log(exp(o_p) + Σ_{i ∉ P_r} exp(o_i))`: the row's other positives are removed
 * from the partition function (the same multi-label convention as {@link sampledSoftmaxLoss});
 * for a single label this is `−log softmax(o)_t`. Terms are weighted `1/P` (`'mean'`, default)
 * or 1 (`'sum'`) and rows by `rowWeights`: loss `= Σ_r w_r Σ_p weight_p L_rp / Σ_r w_r`.
 * `labelWeighting: 'joint'` gives instead one softmax per row over all classes with target `1/P`
 * on each positive, `L_r = log Σ_i exp(o_i) − (1/P) Σ_p o_p` (TensorFlow's soft-label
 * `softmax_cross_entropy`, the full-softmax counterpart of the joint sampled loss).
 *
 * The scores are never materialized as `B × n`. A first pass computes every row's log-sum-exp
 * over all classes with `kernels.fusedSoftmaxTopK` (one fused pass: score tile, max and exps).
 * A row with one positive needs nothing else; a row with several positives gets its
 * partition over the non-positive classes by subtracting the positives' mass when they hold at
 * most half of it, and otherwise (positives dominate: subtraction would cancel) by an exact
 * rescan of that row with its positives masked. A second pass over class blocks
 * (`kernels.fullSoftmaxGrad`) forms `∂L/∂o = softmax − onehot` and accumulates the gradients.
 * With `grad: false` only the first pass runs. The class gradient covers every row
 * (`ids = 0..n−1`). With `initFastKernels({ threads })` (threads ≥ 2) in Node and the table in
 * kernel memory (`tableInKernelMemory`), both passes are split over the worker pool while the
 * calling thread waits: the loss and class gradient are those of one thread up to the rounding
 * of the merged log-sum-exps, the query gradient up to the order of its partial sums.
 *
 * @throws ShapeError, NonFiniteError, LabelRangeError, OptionError (see {@link sampledSoftmaxLoss}).
 */
export function fullSoftmaxLoss(input: LossInputBase, opts: FullLossOptions = {}): LossResult {
  if (input === null || typeof input !== 'object') throw new OptionError(`${WHAT}: expected an input object`);
  rejectUnknown(input, BASE_KEYS, WHAT);
  rejectUnknown(opts, ['blockSize', 'into'], `${WHAT} options`);
  const base = setupBase(input, WHAT);
  const { B, d, n, rowScale, termWeight } = base;
  const joint = base.weighting === 'joint';
  const bs = Math.min(n, opts.blockSize === undefined ? 1024 : intOption(opts.blockSize, 'blockSize', 1));
  const { queries, table, labels } = input;
  const hasBias = table.bias !== null;
  const into = opts.into;
  if (into !== undefined) checkInto(into, n, d, hasBias);
  if (base.totalWeight === 0) return zeroResult(0, B, d, hasBias, base.grad);

  const h = queries.data;
  const W = table.weights;
  const bias = table.bias;
  const posIds = labels.ids;
  const offs = labels.offsets;

  /**
   * Exact log-sum-exp over the non-positive classes of the rows `idx`, streamed over class blocks
   * with their positives masked (online max rescaling, float64 sums): into `lnNeg` and `ref`.
   */
  const maskedLse = (idx: number[], lnNeg: Float64Array, ref: Float64Array): void => {
    const R = idx.length;
    const sub = new Float32Array(R * d);
    const subOffs = new Int32Array(R + 1);
    const subIds: number[] = [];
    for (let t = 0; t < R; t++) {
      const r = idx[t]!;
      sub.set(h.subarray(r * d, (r + 1) * d), t * d);
      for (let k = offs[r]!; k < offs[r + 1]!; k++) subIds.push(posIds[k]!);
      subOffs[t + 1] = subIds.length;
    }
    const blk = new Float32Array(R * bs);
    const mx = new Float64Array(R).fill(-Infinity);
    const sum = new Float64Array(R);
    for (let start = 0; start < n; start += bs) {
      const cRows = Math.min(bs, n - start);
      kernels.matmulNT(sub, R, W, start, cRows, d, blk);
      for (let t = 0; t < R; t++) {
        const so = t * cRows;
        if (bias) for (let j = 0; j < cRows; j++) blk[so + j] += bias[start + j]!;
        for (let k = subOffs[t]!; k < subOffs[t + 1]!; k++) {
          const p = subIds[k]! - start;
          if (p >= 0 && p < cRows) blk[so + p] = -Infinity;
        }
        let bm = -Infinity;
        for (let j = 0; j < cRows; j++) if (blk[so + j]! > bm) bm = blk[so + j]!;
        if (bm === -Infinity) continue;
        if (bm > mx[t]!) {
          sum[t] = sum[t]! * Math.exp(mx[t]! - bm);
          mx[t] = bm;
        }
        const m0 = mx[t]!;
        let s = 0;
        for (let j = 0; j < cRows; j++) s += Math.exp(blk[so + j]! - m0);
        sum[t] = sum[t]! + s;
      }
    }
    for (let t = 0; t < R; t++) {
      const v = mx[t] === -Infinity ? -Infinity : mx[t]! + Math.log(sum[t]!);
      lnNeg[idx[t]!] = v;
      ref[idx[t]!] = v;
    }
  };

  // Both passes run on the worker pool of initFastKernels where the calling thread can block on
  // it (Node) and the table lives in its memory; else on the calling thread.
  const blocking = activePool()?.blocking ?? null;
  const par = blocking && blocking.threads > 1 && blocking.owns(W) && (bias === null || blocking.owns(bias)) ? blocking : kernels;

  // Pass 1: every row's log-sum-exp over all classes in one fused pass (no score block).
  const lseAll = new Float64Array(B);
  par.fusedSoftmaxTopK(h, B, W, bias, n, d, 0, lseAll, NO_IDS, NO_SCORES);

  // Per row: the log-sum-exp over its non-positive classes, `lnNeg`. A single positive needs none
  // (its term's partition is all classes); several positives are removed by subtraction when
  // they hold at most half of the mass (no cancellation), else the row is rescanned with its
  // positives masked. `ref[r]` is the log-scale pass 2 divides the exps by: `lseAll`, or `lnNeg`
  // for rescanned rows, so `exp(ref − lse_p)` stays ≤ 2 (no overflow).
  const oPos = new Float64Array(posIds.length);
  const lnNeg = new Float64Array(B);
  const ref = new Float64Array(B);
  const rescan: number[] = [];
  for (let r = 0; r < B; r++) {
    if (rowScale[r] === 0) continue;
    const a = offs[r]!;
    const b = offs[r + 1]!;
    let mass = 0;
    let distinct = 0;
    for (let k = a; k < b; k++) {
      const p = posIds[k]!;
      oPos[k] = dot(h, r * d, W, p * d, d) + (bias ? bias[p]! : 0);
      if (!isFirstInRow(posIds, a, k)) continue;
      distinct++;
      mass += Math.exp(oPos[k]! - lseAll[r]!);
    }
    ref[r] = lseAll[r]!;
    if (joint || distinct === 1) lnNeg[r] = NaN; // unused: the term's log-partition is lseAll
    else if (mass <= 0.5) lnNeg[r] = lseAll[r]! + Math.log1p(-mass);
    else rescan.push(r);
  }
  if (rescan.length > 0) maskedLse(rescan, lnNeg, ref);

  // Terms: one per positive. negFactor[r] = Σ_p w_p exp(ref_r − lse_p), so a negative's ∂L/∂o is
  // negFactor[r] · exp(o − ref_r).
  const negFactor = new Float64Array(B);
  const gPos = new Float64Array(posIds.length);
  let loss = 0;
  for (let r = 0; r < B; r++) {
    const scale = rowScale[r]!;
    if (scale === 0) continue;
    const ln = lnNeg[r]!;
    let f = 0;
    if (joint) {
      // One softmax over all classes, target 1/P on each positive (a class listed twice once in
      // the softmax, twice in the targets).
      const a = offs[r]!;
      for (let k = a; k < offs[r + 1]!; k++) {
        const tw = termWeight[k]!;
        loss += scale * tw * (lseAll[r]! - oPos[k]!);
        gPos[k] = scale * ((isFirstInRow(posIds, a, k) ? Math.exp(oPos[k]! - lseAll[r]!) : 0) - tw);
      }
      negFactor[r] = scale;
      continue;
    }
    for (let k = offs[r]!; k < offs[r + 1]!; k++) {
      const o = oPos[k]!;
      const lse = Number.isNaN(ln) ? lseAll[r]! : logAddExp(ln, o);
      const tw = termWeight[k]!;
      loss += scale * tw * (lse - o);
      gPos[k] = scale * tw * Math.expm1(o - lse);
      f += tw * Math.exp(ref[r]! - lse);
    }
    negFactor[r] = scale * f;
  }
  if (!base.grad) return zeroResult(loss, B, d, hasBias, false);

  // Pass 2: ∂L/∂o per block (the negatives' negFactor[r] · exp(o − ref[r]), the positives' gPos),
  // then the gradients (rows with weight 0: negFactor 0 and gPos 0).
  const P = offs[B]!;
  const posRows = new Int32Array(P);
  for (let r = 0; r < B; r++) posRows.fill(r, offs[r]!, offs[r + 1]!);
  const gradQ = new Float32Array(B * d);
  const gradRows = into ? into.rows.fill(0) : new Float32Array(n * d);
  const gradBias = into ? (into.bias?.fill(0) ?? null) : bias ? new Float32Array(n) : null;
  par.fullSoftmaxGrad(h, B, W, 0, n, d, bias, ref, negFactor, posRows, posIds.subarray(0, P), gPos.subarray(0, P), bs, gradQ, gradRows, gradBias);
  const ids = into ? into.ids : new Int32Array(n);
  iota(ids, n);
  return { loss, gradQueries: gradQ, gradClasses: { ids, rows: gradRows, bias: gradBias } };
}

/** Checks the shapes of {@link FullLossOptions.into}. */
function checkInto(into: NonNullable<FullLossOptions['into']>, n: number, d: number, hasBias: boolean): void {
  if (into === null || typeof into !== 'object' || !(into.ids instanceof Int32Array) || !(into.rows instanceof Float32Array)) {
    throw new OptionError(`${WHAT}: into must be { ids: Int32Array, rows: Float32Array, bias: Float32Array | null }`);
  }
  if (into.ids.length !== n || into.rows.length !== n * d) {
    throw new ShapeError(`${WHAT}: into.ids must have n = ${n} entries and into.rows n × d = ${n * d} (got ${into.ids.length} and ${into.rows.length})`);
  }
  if (hasBias ? !(into.bias instanceof Float32Array) || into.bias.length !== n : into.bias !== null) {
    throw new ShapeError(`${WHAT}: into.bias must be ${hasBias ? `a Float32Array of n = ${n} entries (the table has biases)` : 'null (the table has no biases)'}`);
  }
}
