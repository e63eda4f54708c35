/**
 * Exact (full) softmax loss, streamed over blocks of classes.
 * @module
 */
import { OptionError } from '../core/errors.js';
import { logAddExp } from '../core/math.js';
import { intOption, rejectUnknown } from '../core/validate.js';
import { dot, kernels } from '../kernels/index.js';
import { BASE_KEYS, setupBase, zeroResult } from './common.js';
import type { LossInputBase, LossResult } from './types.js';

const WHAT = 'fullSoftmaxLoss';

/** Options of {@link fullSoftmaxLoss}. */
export interface FullLossOptions {
  /**
   * Classes per block (default 1024). Peak extra memory is one `[B, blockSize]` float32 score
   * block; any value ≥ 1 works, it need not divide `n`.
   */
  blockSize?: number;
}

/**
 * The exact softmax loss over all `n` classes, the baseline every sampled loss estimates.
 *
 * Logits are `o_i = h·c_i + b_i`. Each positive `p` of a row gives one term
 * `L_rp = −o_p + log(exp(o_p) + Σ_{i ∉ P_r} exp(o_i))`: the row's other positives are removed
 * from the partition function (the same multi-label convention as {@link sampledSoftmaxLoss});
 * for a single label this is `−log softmax(o)_t`. Terms are weighted `1/P` (`'mean'`, default)
 * or 1 (`'sum'`) and rows by `rowWeights`: loss `= Σ_r w_r Σ_p weight_p L_rp / Σ_r w_r`.
 *
 * The scores are never materialized as `B × n`: a first pass over class blocks
 * (`kernels.matmulNT`) accumulates each row's log-sum-exp in float64 (online max rescaling); a
 * second pass recomputes each block, forms `∂L/∂o = softmax − onehot` and accumulates the
 * gradients with `kernels.accumGradQueries` / `kernels.accumGradClasses`. With `grad: false`
 * only the first pass runs. The class gradient covers every row (`ids = 0..n−1`).
 *
 * @throws ShapeError, NonFiniteError, LabelRangeError, OptionError (see {@link sampledSoftmaxLoss}).
 */
export function fullSoftmaxLoss(input: LossInputBase, opts: FullLossOptions = {}): LossResult {
  if (input === null || typeof input !== 'object') throw new OptionError(`${WHAT}: expected an input object`);
  rejectUnknown(input, BASE_KEYS, WHAT);
  rejectUnknown(opts, ['blockSize'], `${WHAT} options`);
  const base = setupBase(input, WHAT);
  const { B, d, n, rowScale, termWeight } = base;
  const bs = Math.min(n, opts.blockSize === undefined ? 1024 : intOption(opts.blockSize, 'blockSize', 1));
  const { queries, table, labels } = input;
  const hasBias = table.bias !== null;
  if (base.totalWeight === 0) return zeroResult(0, B, d, hasBias, base.grad);

  const h = queries.data;
  const W = table.weights;
  const bias = table.bias;
  const posIds = labels.ids;
  const offs = labels.offsets;
  const scores = new Float32Array(B * bs);

  /** Scores of block [start, start+cRows) with biases added and the row's positives set to −∞. */
  const scoreBlock = (start: number, cRows: number): void => {
    kernels.matmulNT(h, B, W, start, cRows, d, scores);
    for (let r = 0; r < B; r++) {
      const so = r * cRows;
      if (bias) for (let j = 0; j < cRows; j++) scores[so + j] += bias[start + j]!;
      for (let k = offs[r]!; k < offs[r + 1]!; k++) {
        const p = posIds[k]! - start;
        if (p >= 0 && p < cRows) scores[so + p] = -Infinity;
      }
    }
  };

  // Pass 1: log-sum-exp over each row's non-positive classes (float64, online rescaling).
  const mx = new Float64Array(B).fill(-Infinity);
  const sum = new Float64Array(B);
  for (let start = 0; start < n; start += bs) {
    const cRows = Math.min(bs, n - start);
    scoreBlock(start, cRows);
    for (let r = 0; r < B; r++) {
      if (rowScale[r] === 0) continue;
      const so = r * cRows;
      let bm = -Infinity;
      for (let j = 0; j < cRows; j++) if (scores[so + j]! > bm) bm = scores[so + j]!;
      if (bm === -Infinity) continue;
      if (bm > mx[r]!) {
        sum[r] = sum[r]! * Math.exp(mx[r]! - bm);
        mx[r] = bm;
      }
      const m0 = mx[r]!;
      let s = 0;
      for (let j = 0; j < cRows; j++) s += Math.exp(scores[so + j]! - m0);
      sum[r] = sum[r]! + s;
    }
  }

  // Terms: one per positive.
  const lseNeg = new Float64Array(B);
  const negFactor = new Float64Array(B);
  const gPos = new Float64Array(posIds.length);
  let loss = 0;
  for (let r = 0; r < B; r++) {
    const scale = rowScale[r]!;
    if (scale === 0) continue;
    const ln = mx[r] === -Infinity ? -Infinity : mx[r]! + Math.log(sum[r]!);
    lseNeg[r] = ln;
    let f = 0;
    for (let k = offs[r]!; k < offs[r + 1]!; k++) {
      const p = posIds[k]!;
      const o = dot(h, r * d, W, p * d, d) + (bias ? bias[p]! : 0);
      const lse = logAddExp(ln, o);
      const tw = termWeight[k]!;
      loss += scale * tw * (lse - o);
      gPos[k] = scale * tw * Math.expm1(o - lse);
      if (ln > -Infinity) f += tw * Math.exp(ln - lse);
    }
    negFactor[r] = scale * f;
  }
  if (!base.grad) return zeroResult(loss, B, d, hasBias, false);

  // Pass 2: ∂L/∂o per block, then the gradients.
  const gradQ = new Float32Array(B * d);
  const gradRows = new Float32Array(n * d);
  const gradBias = bias ? new Float32Array(n) : null;
  for (let start = 0; start < n; start += bs) {
    const cRows = Math.min(bs, n - start);
    scoreBlock(start, cRows);
    for (let r = 0; r < B; r++) {
      const so = r * cRows;
      if (rowScale[r] === 0) {
        scores.fill(0, so, so + cRows);
        continue;
      }
      const ln = lseNeg[r]!;
      const f = negFactor[r]!;
      // Masked positives hold −∞ and get exp(−∞) = 0 here; a row whose classes are all positives has no negatives.
      if (ln === -Infinity) scores.fill(0, so, so + cRows);
      else for (let j = 0; j < cRows; j++) scores[so + j] = f * Math.exp(scores[so + j]! - ln);
      for (let k = offs[r]!; k < offs[r + 1]!; k++) {
        const p = posIds[k]! - start;
        if (p >= 0 && p < cRows) scores[so + p] += gPos[k]!;
      }
    }
    kernels.accumGradQueries(scores, B, W, start, cRows, d, gradQ);
    kernels.accumGradClasses(scores, B, cRows, h, d, gradRows.subarray(start * d, (start + cRows) * d));
    if (gradBias) {
      for (let r = 0; r < B; r++) {
        const so = r * cRows;
        for (let j = 0; j < cRows; j++) gradBias[start + j] += scores[so + j]!;
      }
    }
  }
  const ids = new Int32Array(n);
  for (let i = 0; i < n; i++) ids[i] = i;
  return { loss, gradQueries: gradQ, gradClasses: { ids, rows: gradRows, bias: gradBias } };
}
