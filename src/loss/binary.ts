/**
 * Sampled logistic losses over the same draw record as the sampled softmax: noise-contrastive
 * estimation (TensorFlow's `nce_loss`) and negative sampling (word2vec's and fastText's `ns`).
 * @module
 */
import { OptionError } from '../core/errors.js';
import { assertFinite, assertLength, choiceOption, rejectUnknown } from '../core/validate.js';
import { dot, kernels } from '../kernels/index.js';
import { logExpectedCount, logExpectedCountOf } from '../samplers/types.js';
import { BASE_KEYS, containsSorted, setupBase, sortedPositives, zeroResult } from './common.js';
import { checkDraws, sampledGradients } from './sampled.js';
import type { LossInputBase, LossResult } from './types.js';
import type { Draws } from '../samplers/types.js';

/** The sampled logistic losses, see {@link SampledLogisticLossInput.loss}. */
export const BINARY_LOSSES = ['nce', 'negativeSampling'] as const;

/** A sampled logistic loss: `'nce'` or `'negativeSampling'`. */
export type BinaryLoss = (typeof BINARY_LOSSES)[number];

/** Inputs of {@link sampledLogisticLoss}. */
export interface SampledLogisticLossInput extends LossInputBase {
  /**
   * `'nce'`: every logit, positive and sampled, is corrected to `o − log Q` (`Q = m·q` with
   * replacement, the inclusion probability for unique draws), TensorFlow's `nce_loss`.
   * `'negativeSampling'`: raw logits `o` (word2vec, fastText `-loss ns`).
   */
  loss: BinaryLoss;
  /** Draws from the sampler (per-query rows = B, or shared). */
  draws: Draws;
  /** `sampler.logQ(queries, labels)` (aligned with `labels.ids`); required by `'nce'`, ignored otherwise. */
  posLogQ?: Float64Array | null;
  /**
   * Drop sampled slots whose id is a positive of their row (default true). TensorFlow's
   * `nce_loss` keeps them (`remove_accidental_hits=False` is its default): pass false for it.
   */
  removeAccidentalHits?: boolean;
}

const WHAT = 'sampledLogisticLoss';
const KEYS = [...BASE_KEYS, 'loss', 'draws', 'posLogQ', 'removeAccidentalHits'];

/** `log(1 + e^x)` without overflow. */
function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

/** The logistic function `1 / (1 + e^{−x})` without overflow. */
function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/**
 * Sampled logistic loss (NCE or negative sampling) and its gradients for one batch.
 *
 * Logits are `o_i = h·c_i + b_i`; the loss uses `a = o − log Q` (`'nce'`) or `a = o`
 * (`'negativeSampling'`). Each positive is a binary example of label 1 and each sampled slot one
 * of label 0, scored by the sigmoid cross-entropy `ℓ(a, y) = log(1 + e^a) − y·a`:
 * `L_r = Σ_p w_p ℓ(a_p, 1) + Σ_j ℓ(a_j, 0)`, the positives weighted `w_p = 1/P` (`'mean'`) or 1
 * (`'sum'`); `'joint'` gives TensorFlow's `nce_loss` labels instead, `ℓ(a_p, 1/P)` with weight 1.
 * For one label per row all three agree. Slots equal to a positive of their row are dropped
 * unless `removeAccidentalHits` is false. The loss is `Σ_r w_r L_r / Σ_r w_r`.
 *
 * These losses estimate a different objective from the softmax: per row, a logistic
 * classification of the positive against `m` noise draws. NCE's optimum is the self-normalised
 * `o_y = log p(y | h)` whatever the proposal; negative sampling's is `o_y = log(p(y | h) / (m·q_y))`,
 * which depends on the proposal (see docs/losses.md).
 *
 * @throws as {@link sampledSoftmaxLoss} for shapes, ranges and non-finite values; OptionError for a
 *   missing `posLogQ` under `'nce'`.
 */
export function sampledLogisticLoss(input: SampledLogisticLossInput): LossResult {
  if (input === null || typeof input !== 'object') throw new OptionError(`${WHAT}: expected an input object`);
  rejectUnknown(input, KEYS, WHAT);
  const kind: BinaryLoss = choiceOption(input.loss, 'loss', BINARY_LOSSES);
  const base = setupBase(input, WHAT);
  const { B, d, n, rowScale, termWeight } = base;
  const joint = base.weighting === 'joint';
  const { queries, table, labels, draws } = input;
  const nce = kind === 'nce';
  checkDraws(draws, B, n, nce, WHAT);
  const removeHits = input.removeAccidentalHits ?? true;
  if (typeof removeHits !== 'boolean') throw new OptionError(`${WHAT}: removeAccidentalHits must be a boolean, got ${String(removeHits)}`);
  const posIds = labels.ids;
  const offs = labels.offsets;
  let posLogQ: Float64Array | null = null;
  if (nce) {
    posLogQ = input.posLogQ ?? null;
    if (posLogQ === null) throw new OptionError(`${WHAT}: loss 'nce' needs posLogQ = sampler.logQ(queries, labels), the log-probability of every positive under the proposal`);
    assertLength(posLogQ, posIds.length, `${WHAT}: posLogQ (one entry per positive in labels.ids)`);
    assertFinite(posLogQ, `${WHAT}: posLogQ`);
  }
  const hasBias = table.bias !== null;
  if (base.totalWeight === 0) return zeroResult(0, B, d, hasBias, base.grad);

  const m = draws.m;
  const shared = draws.shared;
  const h = queries.data;
  const W = table.weights;
  const bias = table.bias;
  const sortedPos = sortedPositives(posIds, offs);
  const negLogit = new Float32Array(B * m);
  kernels.gatherDot(h, B, W, d, draws.ids, m, shared, negLogit);
  const gPos = new Float64Array(posIds.length);
  const gNeg = new Float32Array(B * m);
  let loss = 0;
  for (let r = 0; r < B; r++) {
    const scale = rowScale[r]!;
    if (scale === 0) continue;
    const a0 = offs[r]!;
    const b0 = offs[r + 1]!;
    for (let k = a0; k < b0; k++) {
      const p = posIds[k]!;
      let a = dot(h, r * d, W, p * d, d) + (bias ? bias[p]! : 0);
      if (nce) a -= logExpectedCountOf(draws, r, posLogQ![k]!);
      if (joint) {
        const y = termWeight[k]!;
        loss += scale * (softplus(a) - y * a);
        gPos[k] = scale * (sigmoid(a) - y);
      } else {
        const w = termWeight[k]!;
        loss += scale * w * softplus(-a);
        gPos[k] = scale * w * (sigmoid(a) - 1);
      }
    }
    const io = shared ? 0 : r * m;
    for (let j = 0; j < m; j++) {
      const id = draws.ids[io + j]!;
      if (removeHits && containsSorted(sortedPos, a0, b0, id)) continue;
      let a = negLogit[r * m + j]! + (bias ? bias[id]! : 0);
      if (nce) a -= logExpectedCount(draws, io + j);
      loss += scale * softplus(a);
      gNeg[r * m + j] = scale * sigmoid(a);
    }
  }
  if (!base.grad) return zeroResult(loss, B, d, hasBias, false);
  return { loss, ...sampledGradients(h, table, draws, posIds, offs, rowScale, gPos, gNeg) };
}
