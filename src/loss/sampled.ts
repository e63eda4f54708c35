/**
 * Sampled softmax loss with both estimator conventions of ALGORITHMS.md §2.
 * @module
 */
import { OptionError, ShapeError } from '../core/errors.js';
import { logAddExp } from '../core/math.js';
import { checkLabels } from '../core/matrix.js';
import { assertLength, assertLogProb, choiceOption, intOption, rejectUnknown } from '../core/validate.js';
import { activeMemory, dot, kernels } from '../kernels/index.js';
import { ScratchBlock } from '../kernels/scratch.js';
import { copyRowsIn, wholeCopyPays } from '../core/rows.js';
import { logExpectedCount, logExpectedCountOf, type Draws } from '../samplers/types.js';
import {
  BASE_KEYS,
  containsSorted,
  indexOfSorted,
  isFirstInRow,
  setupBase,
  sortedPositives,
  zeroResult,
} from './common.js';
import type { ClassTable } from '../core/classTable.js';
import { CONVENTIONS, type Convention, type LossResult, type SampledLossInput, type SparseRowGrad } from './types.js';

const WHAT = 'sampledSoftmaxLoss';
const KEYS = [...BASE_KEYS, 'draws', 'convention', 'posLogQ', 'removeAccidentalHits', 'gradRowsInto'];

/**
 * Sampled softmax loss and its gradients for one batch.
 *
 * Logits are `o_i = h·c_i + b_i`. For a row with positives `P` and sampled slots `j < m`
 * (ids `s_j`, proposal log-probabilities from `draws.logQ`), each positive `p ∈ P` gives one
 * softmax term over the candidates `{p} ∪ {unmasked s_j}` with adjusted logits:
 *
 * - `exclusive` (Bengio & Senécal; Jean et al.): the positive keeps its raw logit `o_p`; a
 *   negative uses `o_j − log Q_j`, `Q_j = m·q_j` (with replacement) or `π_j` (unique draws),
 *   see {@link logExpectedCount}. The draws must have been made with `exclude: labels`, so no
 *   sampled id equals a positive of its row; an {@link OptionError} is thrown otherwise.
 * - `correctedAll` (TensorFlow's `sampled_softmax_loss` for one label per row): every candidate uses `o − log Q`,
 *   the positive with `log Q_p = logExpectedCountOf(draws, row, posLogQ[k])`. A sampled slot
 *   whose id equals ANY positive of its row (an accidental hit) is masked: it is removed from
 *   the softmax entirely, which is the limit of TensorFlow's large negative logit.
 *
 * Each sampled slot is its own candidate (an id drawn twice with replacement appears twice).
 * The term of positive `p` is `L_rp = −a_p + log(exp(a_p) + Σ_j exp(a_j))`; the other positives
 * of the row never enter it. A row's terms are weighted `1/P` (`labelWeighting: 'mean'`, the
 * default) or 1 (`'sum'`). `labelWeighting: 'joint'` (`correctedAll` only) is TensorFlow's
 * multi-label `sampled_softmax_loss` instead: one softmax per row over all its positives and its
 * unmasked slots, target `1/P` on each positive, `L_r = log Σ_c exp(a_c) − (1/P) Σ_p a_p`; for
 * one label per row all three agree. With `removeAccidentalHits: false` (`correctedAll` only)
 * hits are not masked: they stay in the partition as ordinary negatives. With shared draws (`draws.shared`,
 * one row of ids) every query uses the same negatives and masks its own positives among them.
 *
 * The loss is `Σ_r w_r Σ_p weight_p L_rp / Σ_r w_r`; rows of weight 0 (padding) contribute
 * nothing and touch no class row. If all weights are 0 the loss is 0 and all gradients are zero.
 * Sample ids and `log q` are constants: no gradient flows through them.
 *
 * Logits come from `kernels.gatherDot` and the per-query gradients go through
 * `kernels.gatherAccumGradQueries` / `kernels.scatterAddRows` (float32 storage; the TS kernels
 * accumulate dot products in float64, the WebAssembly ones in float32); the log-sum-exp, the loss
 * and the softmax weights are computed in float64.
 *
 * @returns the loss, `gradQueries` `[B, d]` and a {@link SparseRowGrad} over the distinct
 *   touched class ids (positives and sampled ids of rows with weight > 0), ascending.
 * @throws ShapeError for shapes that do not match (queries vs `table.d`, draws rows vs batch,
 *   a row with weight > 0 and no positive); NonFiniteError for NaN/±Inf queries, weights or
 *   log-probabilities; LabelRangeError for ids outside `[0, n)`; OptionError for a missing
 *   `posLogQ` under `correctedAll`, a log-probability above 0 in `draws.logQ` or `posLogQ`, or a
 *   positive drawn under `exclusive`.
 */
export function sampledSoftmaxLoss(input: SampledLossInput): LossResult {
  if (input === null || typeof input !== 'object') throw new OptionError(`${WHAT}: expected an input object`);
  rejectUnknown(input, KEYS, WHAT);
  const base = setupBase(input, WHAT);
  const { B, d, n, rowScale, termWeight } = base;
  const { queries, table, labels, draws } = input;
  const convention: Convention = choiceOption(input.convention, 'convention', CONVENTIONS);
  const joint = base.weighting === 'joint';
  if (joint && convention !== 'correctedAll') {
    throw new OptionError(`${WHAT}: labelWeighting 'joint' (TensorFlow's multi-label sampled softmax) needs convention 'correctedAll', got '${convention}'; use labelWeighting 'mean' or 'sum' with '${convention}'`);
  }
  const removeHits = input.removeAccidentalHits ?? true;
  if (typeof removeHits !== 'boolean') throw new OptionError(`${WHAT}: removeAccidentalHits must be a boolean, got ${String(removeHits)}`);
  if (!removeHits && convention !== 'correctedAll') {
    throw new OptionError(`${WHAT}: removeAccidentalHits: false needs convention 'correctedAll' ('${convention}' ${convention === 'exclusive' ? 'draws no positive' : 'is defined by dropping the hits'}); drop the option or use 'correctedAll'`);
  }
  const rowsInto = input.gradRowsInto ?? null;
  if (rowsInto !== null && !(rowsInto instanceof Float32Array)) throw new OptionError(`${WHAT}: gradRowsInto must be a Float32Array (or null)`);
  const needPosQ = convention !== 'exclusive';
  checkDraws(draws, B, n, needPosQ);
  if (convention === 'maskedExclusive' && draws.unique) {
    throw new OptionError(`${WHAT}: convention 'maskedExclusive' needs draws with replacement (unique: false); use 'exclusive' or 'correctedAll' with unique draws`);
  }
  const m = draws.m;
  const shared = draws.shared;
  const posIds = labels.ids;
  const offs = labels.offsets;
  let posLogQ: Float64Array | null = null;
  if (needPosQ) {
    posLogQ = input.posLogQ ?? null;
    if (posLogQ === null) {
      throw new OptionError(
        `${WHAT}: convention '${convention}' needs posLogQ = sampler.logQ(queries, labels), the log-probability of every positive under the proposal`,
      );
    }
    assertLength(posLogQ, posIds.length, `${WHAT}: posLogQ (one entry per positive in labels.ids)`);
    assertLogProb(posLogQ, `${WHAT}: posLogQ`);
  }

  // Accidental hits: exclusive forbids them, correctedAll and maskedExclusive mask them (unless
  // removeAccidentalHits is false: then they stay as ordinary negatives).
  const sortedPos = sortedPositives(posIds, offs);
  const masked = new Uint8Array(B * m);
  for (let r = 0; r < B; r++) {
    if (rowScale[r] === 0 || !removeHits) continue;
    const a = offs[r]!;
    const b = offs[r + 1]!;
    const io = shared ? 0 : r * m;
    for (let j = 0; j < m; j++) {
      const id = draws.ids[io + j]!;
      if (!containsSorted(sortedPos, a, b, id)) continue;
      if (convention === 'exclusive') {
        throw new OptionError(
          `${WHAT}: row ${r} drew class ${id}, which is one of its positives; convention 'exclusive' needs draws made with exclude: labels (or use convention 'correctedAll', which masks accidental hits)`,
        );
      }
      masked[r * m + j] = 1;
    }
  }

  const hasBias = table.bias !== null;
  if (base.totalWeight === 0) return zeroResult(0, B, d, hasBias, base.grad);

  const h = queries.data;
  const W = table.weights;
  const bias = table.bias;

  // Adjusted negative logits a = o − log Q, in float64.
  const negLogit = new Float32Array(B * m);
  // per-row draws with the table outside the kernels' memory: the distinct touched rows are
  // gathered into it once, and both products over the drawn rows (logits here, dL/dh in
  // sampledGradients) read that compact copy (the same values) instead of each staging all drawn rows
  const mem = activeMemory();
  const gathered = shared || mem === null || mem.owns(W) ? null : gatherTouched(table, draws, posIds, offs, rowScale);
  if (gathered) kernels.gatherDot(h, B, gathered.rows, d, gathered.readSlots, m, false, negLogit);
  else kernels.gatherDot(h, B, W, d, draws.ids, m, shared, negLogit);
  const logEC = new Float64Array(draws.rows * m);
  for (let i = 0; i < logEC.length; i++) logEC[i] = logExpectedCount(draws, i);
  const adj = new Float64Array(B * m);
  for (let r = 0; r < B; r++) {
    const io = shared ? 0 : r * m;
    for (let j = 0; j < m; j++) {
      const id = draws.ids[io + j]!;
      adj[r * m + j] = negLogit[r * m + j]! + (bias ? bias[id]! : 0) - logEC[io + j]!;
    }
  }
  if (convention === 'maskedExclusive') maskedExclusiveShift(adj, masked, B, m, rowScale, offs, posIds, posLogQ!);

  // Per row: log-sum-exp over the unmasked negatives, then one term per positive.
  const posAdj = new Float64Array(posIds.length);
  const gPos = new Float64Array(posIds.length);
  const gNeg = new Float32Array(B * m);
  let loss = 0;
  for (let r = 0; r < B; r++) {
    const scale = rowScale[r]!;
    if (scale === 0) continue;
    const ro = r * m;
    let mx = -Infinity;
    for (let j = 0; j < m; j++) if (masked[ro + j] === 0 && adj[ro + j]! > mx) mx = adj[ro + j]!;
    let lseNeg = -Infinity;
    if (mx > -Infinity) {
      let s = 0;
      for (let j = 0; j < m; j++) if (masked[ro + j] === 0) s += Math.exp(adj[ro + j]! - mx);
      lseNeg = mx + Math.log(s);
    }
    // negFactor = Σ_p weight_p·exp(lseNeg − lse_p): softmax_p(j) summed over terms is exp(a_j − lseNeg)·negFactor.
    let negFactor = 0;
    if (joint) {
      // One softmax over the row's positives and negatives, target 1/P on each positive.
      let lse = lseNeg;
      for (let k = offs[r]!; k < offs[r + 1]!; k++) {
        const p = posIds[k]!;
        const a = dot(h, r * d, W, p * d, d) + (bias ? bias[p]! : 0) - logExpectedCountOf(draws, r, posLogQ![k]!);
        posAdj[k] = a;
        lse = logAddExp(lse, a);
      }
      for (let k = offs[r]!; k < offs[r + 1]!; k++) {
        const tw = termWeight[k]!;
        loss += scale * tw * (lse - posAdj[k]!);
        gPos[k] = scale * (Math.exp(posAdj[k]! - lse) - tw);
      }
      if (lseNeg > -Infinity) negFactor = Math.exp(lseNeg - lse);
    } else {
      for (let k = offs[r]!; k < offs[r + 1]!; k++) {
        const p = posIds[k]!;
        let a = dot(h, r * d, W, p * d, d) + (bias ? bias[p]! : 0);
        if (convention === 'correctedAll') a -= logExpectedCountOf(draws, r, posLogQ![k]!);
        posAdj[k] = a;
        const lse = logAddExp(lseNeg, a);
        const tw = termWeight[k]!;
        loss += scale * tw * (lse - a);
        gPos[k] = scale * tw * Math.expm1(a - lse); // softmax_p(p) − 1
        if (lseNeg > -Infinity) negFactor += tw * Math.exp(lseNeg - lse);
      }
    }
    if (!base.grad || lseNeg === -Infinity) continue;
    const f = scale * negFactor;
    for (let j = 0; j < m; j++) if (masked[ro + j] === 0) gNeg[ro + j] = f * Math.exp(adj[ro + j]! - lseNeg);
  }
  if (!base.grad) return zeroResult(loss, B, d, hasBias, false);

  return { loss, ...sampledGradients(queries.data, table, draws, labels.ids, labels.offsets, rowScale, gPos, gNeg, gathered, rowsInto) };
}

/** The distinct class rows a batch touches and, for per-row draws, each slot's index among them. */
export interface TouchedRows {
  /** Distinct ids of the positives and draws of the rows with weight > 0, ascending. */
  ids: Int32Array;
  /** Per-row draws: `slots[r·m + j]` = index of `draws.ids[r·m + j]` in `ids` (0 for rows with weight 0); null for shared draws. */
  slots: Int32Array | null;
}

/**
 * {@link TouchedRows} with the rows themselves: draw `r·m + j` reads row `readSlots[r·m + j]` of
 * `rows`. Either `rows` holds table row `ids[s]` at row `s` (`ids.length × d`, `readSlots` =
 * `slots`), or, when the touched rows are many, the whole table (`readSlots` = the drawn ids).
 */
export interface GatheredRows extends TouchedRows {
  rows: Float32Array;
  readSlots: Int32Array;
}

/**
 * The rows a batch touches (see {@link TouchedRows}) in a table of `n` rows. When `n` is at most
 * 16 times the entries, the distinct ids come from a scan of a marker array over `[0, n)`
 * (reused), else from a sort; both give the same ids and slots.
 */
export function touchedRows(draws: Draws, posIds: Int32Array, offs: Int32Array, rowScale: Float64Array, n: number): TouchedRows {
  const B = rowScale.length;
  const m = draws.m;
  const shared = draws.shared;
  const list = touchedList(draws, posIds, offs, rowScale);
  const slots = shared ? null : new Int32Array(B * m);
  if (n > 16 * Math.max(list.length, 1)) {
    list.sort();
    const ids = list.slice(0, dedupeSorted(list));
    if (slots) searchSlots(slots, ids, draws.ids, rowScale, m);
    return { ids, slots };
  }
  if (marks.length < n) marks = new Int32Array(n);
  const mk = marks;
  markIds(mk, list);
  const ids = new Int32Array(collectMarked(mk, n, list));
  ids.set(list.subarray(0, ids.length));
  if (slots) markedSlots(slots, mk, draws.ids, rowScale, m);
  clearMarks(mk, ids);
  return { ids, slots };
}

/** Zero between calls of {@link touchedRows}; while one runs, the touched ids' slots + 1. */
let marks = new Int32Array(0);

/** The positives and per-row draws of the rows with weight > 0 (then the shared draws), with repeats. */
function touchedList(draws: Draws, posIds: Int32Array, offs: Int32Array, rowScale: Float64Array): Int32Array {
  const B = rowScale.length;
  const m = draws.m;
  const shared = draws.shared;
  let len = shared ? m : 0;
  for (let r = 0; r < B; r++) if (rowScale[r] !== 0) len += offs[r + 1]! - offs[r]! + (shared ? 0 : m);
  const list = new Int32Array(len);
  fillTouched(list, draws.ids, posIds, offs, rowScale, shared ? 0 : m);
  if (shared) list.set(draws.ids.subarray(0, m), len - m);
  return list;
}

function fillTouched(list: Int32Array, drawn: Int32Array, posIds: Int32Array, offs: Int32Array, rowScale: Float64Array, m: number): void {
  let p = 0;
  for (let r = 0; r < rowScale.length; r++) {
    if (rowScale[r] === 0) continue;
    for (let k = offs[r]!; k < offs[r + 1]!; k++) list[p++] = posIds[k]!;
    for (let j = 0; j < m; j++) list[p++] = drawn[r * m + j]!;
  }
}

/** Moves the distinct values of the ascending `a` to its front; returns their count. */
function dedupeSorted(a: Int32Array): number {
  let k = 0;
  for (let i = 0; i < a.length; i++) if (i === 0 || a[i] !== a[i - 1]) a[k++] = a[i]!;
  return k;
}

function searchSlots(slots: Int32Array, ids: Int32Array, drawn: Int32Array, rowScale: Float64Array, m: number): void {
  for (let r = 0; r < rowScale.length; r++) {
    if (rowScale[r] === 0) continue;
    for (let j = 0; j < m; j++) slots[r * m + j] = indexOfSorted(ids, drawn[r * m + j]!);
  }
}

function markIds(mk: Int32Array, list: Int32Array): void {
  for (let i = 0; i < list.length; i++) mk[list[i]!] = 1;
}

/** Writes the marked ids of `[0, n)` in order to the front of `out`, each marked with its slot + 1; returns their count. */
function collectMarked(mk: Int32Array, n: number, out: Int32Array): number {
  let k = 0;
  for (let i = 0; i < n; i++) {
    if (mk[i] === 0) continue;
    out[k++] = i;
    mk[i] = k;
  }
  return k;
}

function markedSlots(slots: Int32Array, mk: Int32Array, drawn: Int32Array, rowScale: Float64Array, m: number): void {
  for (let r = 0; r < rowScale.length; r++) {
    if (rowScale[r] === 0) continue;
    for (let j = 0; j < m; j++) slots[r * m + j] = mk[drawn[r * m + j]!]! - 1;
  }
}

function clearMarks(mk: Int32Array, ids: Int32Array): void {
  for (let i = 0; i < ids.length; i++) mk[ids[i]!] = 0;
}

/** Reused block for the gathered rows, in the active kernels' memory when they have one (then the kernels read it in place). */
const gatherBlock = new ScratchBlock("the sampled loss's gathered rows");

/** {@link touchedRows} with the rows copied out of `table` into a reused block (valid until the next call). */
export function gatherTouched(table: ClassTable, draws: Draws, posIds: Int32Array, offs: Int32Array, rowScale: Float64Array): GatheredRows {
  const t = touchedRows(draws, posIds, offs, rowScale, table.n);
  const { n, d } = table;
  if (wholeCopyPays(t.ids.length, n) && n * d * 4 <= GATHER_WHOLE_MAX_BYTES) {
    // many rows of a small table: one copy of the whole table (a memcpy) is cheaper than a loop
    // over the rows, and the draws read their rows by id (the same values, so the same results)
    const rows = gatherBlock.f32(n * d);
    rows.set(table.weights.subarray(0, n * d));
    return { ...t, rows, readSlots: draws.ids };
  }
  const rows = gatherBlock.f32(t.ids.length * d);
  copyRowsIn(rows, table.weights, t.ids, t.ids.length, d);
  return { ...t, rows, readSlots: t.slots! };
}

/** The largest table {@link gatherTouched} copies whole (see `wholeCopyPays`). */
const GATHER_WHOLE_MAX_BYTES = 64 << 20;

/**
 * The gradients of a loss over positives and sampled slots from its logit derivatives (internal,
 * shared by the sampled losses): `gPos[k]` is `∂L/∂o` of positive entry `k` (aligned with
 * `posIds`), `gNeg[r·m + j]` that of slot `j` of row `r` (0 for masked slots). Rows with
 * `rowScale` 0 are skipped and touch no class row. `rowsInto`: see {@link SampledLossInput.gradRowsInto}.
 */
export function sampledGradients(
  h: Float32Array, table: ClassTable, draws: Draws, posIds: Int32Array, offs: Int32Array,
  rowScale: Float64Array, gPos: Float64Array, gNeg: Float32Array, gathered: GatheredRows | null = null, rowsInto: Float32Array | null = null,
): { gradQueries: Float32Array; gradClasses: SparseRowGrad } {
  const B = rowScale.length;
  const d = table.d;
  const m = draws.m;
  const shared = draws.shared;
  const W = table.weights;
  const bias = table.bias;
  // distinct touched ids: positives and sampled ids of rows with weight > 0
  const touched = gathered ?? touchedRows(draws, posIds, offs, rowScale, table.n);
  const ids = touched.ids;
  const k = ids.length;
  if (rowsInto !== null && rowsInto.length < k * d) {
    throw new ShapeError(`sampledSoftmaxLoss: gradRowsInto has ${rowsInto.length} values, the ${k} touched rows need ${k * d}; pass min(n, labels.ids.length + draws.ids.length) · d = ${Math.min(table.n, posIds.length + draws.ids.length) * d}`);
  }
  const gradRows = rowsInto !== null ? rowsInto.subarray(0, k * d).fill(0) : new Float32Array(k * d);
  const gradBias = bias ? new Float32Array(k) : null;
  const gradQ = new Float32Array(B * d);

  // Positives: o_p = h·c_p + b_p with coefficient gPos.
  for (let r = 0; r < B; r++) {
    if (rowScale[r] === 0) continue;
    for (let q = offs[r]!; q < offs[r + 1]!; q++) {
      const g = gPos[q]!;
      const p = posIds[q]!;
      const c = indexOfSorted(ids, p);
      axpy(g, W, p * d, gradQ, r * d, d);
      axpy(g, h, r * d, gradRows, c * d, d);
      if (gradBias) gradBias[c] = gradBias[c]! + g;
    }
  }

  if (shared) {
    // One [B, m] logit block against the gathered sampled rows: use the dense kernels.
    const cs = new Float32Array(m * d);
    for (let j = 0; j < m; j++) cs.set(W.subarray(draws.ids[j]! * d, (draws.ids[j]! + 1) * d), j * d);
    kernels.accumGradQueries(gNeg, B, cs, 0, m, d, gradQ);
    const slotGrad = new Float32Array(m * d);
    kernels.accumGradClasses(gNeg, B, m, h, d, slotGrad);
    for (let j = 0; j < m; j++) {
      const c = indexOfSorted(ids, draws.ids[j]!);
      axpy(1, slotGrad, j * d, gradRows, c * d, d);
      if (gradBias) {
        let s = 0;
        for (let r = 0; r < B; r++) s += gNeg[r * m + j]!;
        gradBias[c] = gradBias[c]! + s;
      }
    }
  } else {
    // Per-query negatives: gathered rows through the kernels. Slots of rows with weight 0 (whose
    // ids are not among the touched ones) point at row 0 with a zero coefficient.
    const slots = touched.slots!;
    if (gradBias) {
      for (let r = 0; r < B; r++) {
        if (rowScale[r] === 0) continue;
        for (let j = 0; j < m; j++) {
          const c = slots[r * m + j]!;
          gradBias[c] = gradBias[c]! + gNeg[r * m + j]!;
        }
      }
    }
    if (gathered) kernels.gatherAccumGradQueries(gNeg, B, gathered.rows, d, gathered.readSlots, m, false, gradQ);
    else kernels.gatherAccumGradQueries(gNeg, B, W, d, draws.ids, m, false, gradQ);
    kernels.scatterAddRows(gNeg, B, h, d, slots, m, false, gradRows);
  }
  return { gradQueries: gradQ, gradClasses: { ids, rows: gradRows, bias: gradBias } };
}

/**
 * Turns the `o − log(m·q)` negatives of each row into `o − log(k·q/(1 − Q_P))`: `k` the row's
 * unmasked slots, `Q_P` the proposal mass of its distinct positives (from `posLogQ`). When `Q_P`
 * rounds to 1 while some draws missed the positives, `1 − Q_P` is estimated by `k/m`.
 */
function maskedExclusiveShift(
  adj: Float64Array, masked: Uint8Array, B: number, m: number, rowScale: Float64Array,
  offs: Int32Array, posIds: Int32Array, posLogQ: Float64Array,
): void {
  for (let r = 0; r < B; r++) {
    if (rowScale[r] === 0) continue;
    let k = 0;
    for (let j = 0; j < m; j++) k += masked[r * m + j] === 0 ? 1 : 0;
    if (k === 0) continue;
    let qp = 0;
    for (let t = offs[r]!; t < offs[r + 1]!; t++) {
      if (isFirstInRow(posIds, offs[r]!, t)) qp += Math.exp(posLogQ[t]!);
    }
    const logRest = qp < 1 ? Math.log1p(-qp) : Math.log(k / m);
    const shift = Math.log(m / k) + logRest;
    for (let j = 0; j < m; j++) adj[r * m + j] = adj[r * m + j]! + shift;
  }
}

/** `y[yo..yo+d) += a · x[xo..xo+d)`. */
function axpy(a: number, x: Float32Array, xo: number, y: Float32Array, yo: number, d: number): void {
  for (let t = 0; t < d; t++) y[yo + t] += a * x[xo + t]!;
}

/**
 * (Internal, shared by the sampled losses.) Checks a draw record against the batch: rows, lengths, id range, finite log-probabilities
 * and, when the positives need `log Q` of unique draws, the per-row tries.
 */
export function checkDraws(draws: Draws, B: number, n: number, needTries: boolean, what: string = WHAT): void {
  if (!draws || !(draws.ids instanceof Int32Array) || !(draws.logQ instanceof Float64Array)) {
    throw new OptionError(`${what}: 'draws' must be a Draws record from sampler.sample (ids: Int32Array, logQ: Float64Array)`);
  }
  const m = intOption(draws.m, 'draws.m', 0);
  const rows = draws.shared ? 1 : B;
  if (draws.rows !== rows) {
    throw new ShapeError(
      draws.shared
        ? `${what}: shared draws must have rows = 1, got ${draws.rows}`
        : `${what}: draws have ${draws.rows} rows but the batch has ${B} queries; sample with one row per query (or shared: true)`,
    );
  }
  assertLength(draws.ids, rows * m, `${what}: draws.ids (rows*m)`);
  assertLength(draws.logQ, rows * m, `${what}: draws.logQ (rows*m)`);
  const offsets = new Int32Array(rows + 1);
  for (let r = 0; r <= rows; r++) offsets[r] = r * m;
  checkLabels({ ids: draws.ids, offsets }, n, rows, `${WHAT}: draws.ids`);
  assertLogProb(draws.logQ, `${WHAT}: draws.logQ (a sampled id must have probability > 0)`, m);
  if (draws.unique && needTries) {
    const t = draws.tries;
    if (!(t instanceof Int32Array) || t.length !== rows) {
      throw new ShapeError(`${what}: unique draws need tries (Int32Array, one per draw row = ${rows}) to compute log Q of the positives`);
    }
    for (let r = 0; r < rows; r++) {
      if (t[r]! < 1) throw new ShapeError(`${what}: draws.tries[${r}] = ${t[r]}; tries must be ≥ 1`);
    }
  }
}
