/**
 * In-batch negatives for two-tower training: the other rows' positives as a batch's negatives,
 * as a draw record for {@link sampledSoftmaxLoss}, alone or mixed with a sampler's draws.
 * @module
 */
import { NonFiniteError, OptionError, ShapeError } from '../core/errors.js';
import { logAddExp } from '../core/math.js';
import type { Labels } from '../core/matrix.js';
import { assertFinite, assertLength } from '../core/validate.js';
import { logExpectedCount, type Draws } from '../samplers/types.js';

/** A draw record and the `log q` of each positive, ready for `sampledSoftmaxLoss` with `correctedAll`. */
export interface InBatchDraws {
  /** The candidates of every row. */
  readonly draws: Draws;
  /** Pass as `posLogQ` (aligned with `labels.ids`). */
  readonly posLogQ: Float64Array;
}

function singleLabelIds(labels: Labels, what: string): Int32Array {
  const B = labels.offsets.length - 1;
  for (let r = 0; r < B; r++) {
    if (labels.offsets[r + 1]! - labels.offsets[r]! !== 1) {
      throw new ShapeError(`${what}: in-batch negatives need exactly one positive per row; row ${r} has ${labels.offsets[r + 1]! - labels.offsets[r]!}`);
    }
  }
  return labels.ids;
}

/**
 * In-batch negatives: one shared draw record whose slots are the batch's distinct positives. Use
 * it with `convention: 'correctedAll'`: every candidate's logit is corrected by `log Q`, the row's
 * own positive is masked among the slots as an accidental hit, so row `r`'s softmax runs over its
 * positive and every other item that is a positive somewhere in the batch, each item once however
 * many rows it is the positive of (Yi et al., RecSys 2019, with duplicates removed).
 *
 * `logQ[r]` is `log Q` of row `r`'s positive: the log probability that the item is among a
 * batch's positives, its expected count among the batch's distinct items (the `log Q` of unique
 * draws), e.g. `log p̂` of a {@link StreamingFrequencyEstimator} (the correction), or `null` for
 * the uncorrected in-batch softmax (`Q` = 1 for every item, no correction). Rows with the same
 * item must give it the same `logQ`. Rows of weight 0 in `rowWeights` (padding) give no negatives.
 * @throws ShapeError (not one positive per row, wrong length), NonFiniteError, OptionError (a
 *   repeated item with two different `logQ`)
 */
export function inBatchDraws(labels: Labels, logQ: Float64Array | null, rowWeights: Float32Array | null = null): InBatchDraws {
  const ids = singleLabelIds(labels, 'inBatchDraws');
  const B = ids.length;
  const lq = logQ ?? new Float64Array(B);
  assertLength(lq, B, 'inBatchDraws: logQ (one per row)');
  assertFinite(lq, 'inBatchDraws: logQ');
  const live = liveRows(B, rowWeights, 'inBatchDraws');
  if (live.length === 0) throw new ShapeError('inBatchDraws: the batch has no row of weight > 0');
  const first = distinctRows(ids, live, lq, 'inBatchDraws: logQ');
  // logExpectedCount adds log m to a with-replacement record's logQ: store log Q − log m.
  const m = first.length;
  const shift = Math.log(m);
  const draws: Draws = {
    ids: Int32Array.from(first, (r) => ids[r]!), logQ: Float64Array.from(first, (r) => lq[r]! - shift),
    rows: 1, m, shared: true, unique: false, tries: null,
  };
  return { draws, posLogQ: Float64Array.from(lq, (x) => x - shift) };
}

/**
 * The first of `live` rows of every distinct id of `ids`, in order of first occurrence; the
 * `logQ` of a repeated id must be that of its first row.
 */
function distinctRows(ids: Int32Array, live: number[], logQ: Float64Array, what: string): number[] {
  const seen = new Map<number, number>();
  const out: number[] = [];
  for (const r of live) {
    const id = ids[r]!;
    const f = seen.get(id);
    if (f === undefined) {
      seen.set(id, r);
      out.push(r);
    } else if (logQ[r] !== logQ[f]) {
      throw new OptionError(`${what}: item ${id} is the positive of rows ${f} and ${r} with log Q ${logQ[f]} and ${logQ[r]}; give every occurrence of an item the same log Q`);
    }
  }
  return out;
}

/** Rows of weight > 0 (all rows without weights): the rows whose positives are negatives for the others. */
function liveRows(B: number, rowWeights: Float32Array | null, what: string): number[] {
  if (rowWeights !== null) assertLength(rowWeights, B, `${what}: rowWeights`);
  const out: number[] = [];
  for (let r = 0; r < B; r++) if (rowWeights === null || rowWeights[r]! > 0) out.push(r);
  return out;
}

/** Inputs of {@link mixedDraws}. */
export interface MixedDrawsInput {
  /** The batch's labels (one positive per row). */
  labels: Labels;
  /** `log Q_batch` of each row's positive (e.g. `log p̂` of a streaming estimate); `null`: 0. */
  batchLogQ: Float64Array | null;
  /** `log Q_batch` of each id of `sampled` (aligned with `sampled.ids`), from the same estimate; `−∞` for a class never seen. */
  sampledBatchLogQ: Float64Array | null;
  /** The sampler's draws (per-row or shared, with replacement or unique). */
  sampled: Draws;
  /**
   * The sampler's `log q` of the ids of a CSR list, one row per batch row, under that row's
   * proposal: `(ids) => sampler.logQ(queries, ids)`. {@link mixedDraws} asks only for what it
   * uses: each row of weight > 0 lists the batch's distinct positives (`D` ids), a row of weight 0
   * lists none; with `sameProposal` it is called with one row.
   */
  samplerLogQ: (ids: Labels) => Float64Array;
  /**
   * Every row draws from the same proposal (a static sampler such as `uniform` or `unigram`, or
   * one query for the whole batch): `samplerLogQ` is asked once, for one row. Default false.
   */
  sameProposal?: boolean;
  /** Per-row weights: rows of weight 0 (padding) give no in-batch negatives. Default all 1. */
  rowWeights?: Float32Array | null;
}

/**
 * Mixed negatives: in-batch negatives and a sampler's draws in one per-row record of `D + m`
 * slots (`D` the distinct positives of the rows of weight > 0, each once as in
 * {@link inBatchDraws}). The union of the two samples has, for each class `j`, the expected count
 * `Q_j = Q_batch(j) + Q_sampler(j)` among a row's negatives, `Q_batch` the probability that `j`
 * is among a batch's positives (from the frequency estimate) and `Q_sampler` from the sampler's own `log q` (`m·q`, or the inclusion probability
 * for unique draws); every candidate, the positive included, is corrected by `log Q_j` under
 * `correctedAll`, which is the sampled softmax of the mixture. Hits on the row's positive are
 * masked as usual. `batchLogQ` is read at the first row of each distinct item; the sampler's
 * `log q` is asked for once per (row, distinct positive), not per pair of rows.
 * @throws ShapeError, NonFiniteError, OptionError (unique draws without tries; a repeated item with
 *   two different `batchLogQ`)
 */
export function mixedDraws(input: MixedDrawsInput): InBatchDraws {
  const ids = singleLabelIds(input.labels, 'mixedDraws');
  const B = ids.length;
  const s = input.sampled;
  const m2 = s.m;
  if (!s.shared && s.rows !== B) throw new ShapeError(`mixedDraws: the sampled draws have ${s.rows} rows, the batch ${B}`);
  if (s.unique && !(s.tries instanceof Int32Array)) throw new OptionError('mixedDraws: unique draws need tries');
  const bq = input.batchLogQ ?? new Float64Array(B);
  assertLength(bq, B, 'mixedDraws: batchLogQ');
  const sbq = input.sampledBatchLogQ ?? new Float64Array(s.ids.length);
  assertLength(sbq, s.ids.length, 'mixedDraws: sampledBatchLogQ');
  assertFinite(bq, 'mixedDraws: batchLogQ');
  // −∞ is allowed here: a drawn class never seen in a batch has Q_batch = 0
  for (let k = 0; k < sbq.length; k++) {
    if (Number.isNaN(sbq[k]) || sbq[k] === Infinity) throw new NonFiniteError(`mixedDraws: sampledBatchLogQ[${k}] = ${sbq[k]}`, k);
  }
  const rowW = input.rowWeights ?? null;
  const liveList = liveRows(B, rowW, 'mixedDraws');
  const live = distinctRows(ids, liveList, bq, 'mixedDraws: batchLogQ');
  const L = live.length;
  // slot[r]: where row r's own positive sits among the distinct ones (−1 for a row of weight 0)
  const slot = new Int32Array(B).fill(-1);
  const slotOf = new Map<number, number>();
  for (let t = 0; t < L; t++) slotOf.set(ids[live[t]!]!, t);
  for (const r of liveList) slot[r] = slotOf.get(ids[r]!)!;
  const distinct = Int32Array.from(live, (r) => ids[r]!);
  const same = input.sameProposal === true;
  const csrRows = same ? 1 : B;
  const offsets = new Int32Array(csrRows + 1);
  for (let r = 0; r < csrRows; r++) offsets[r + 1] = offsets[r]! + (same || slot[r]! >= 0 ? L : 0);
  const csrIds = new Int32Array(offsets[csrRows]!);
  for (let r = 0; r < csrRows; r++) if (offsets[r + 1]! > offsets[r]!) csrIds.set(distinct, offsets[r]!);
  const sq = input.samplerLogQ({ ids: csrIds, offsets });
  assertLength(sq, csrIds.length, 'mixedDraws: samplerLogQ (one value per id asked for)');
  const m = L + m2;
  const outIds = new Int32Array(B * m);
  const outLogQ = new Float64Array(B * m);
  const posLogQ = new Float64Array(B);
  const logM = Math.log(m);
  // Q_sampler of an id scored separately: m2·q, or 1 − (1 − q)^T for unique draws.
  const samplerQ = (row: number, lq: number): number => {
    if (lq === -Infinity) return -Infinity;
    if (!s.unique) return lq + Math.log(m2);
    const T = s.tries![s.shared ? 0 : row]!;
    return Math.log(-Math.expm1(T * Math.log1p(-Math.exp(lq))));
  };
  for (let r = 0; r < B; r++) {
    const o = r * m;
    // a row of weight 0 contributes nothing: its in-batch slots carry Q_batch alone (any finite value would do)
    const so = same ? 0 : slot[r]! >= 0 ? offsets[r]! : -1;
    for (let t = 0; t < L; t++) {
      const j = live[t]!;
      outIds[o + t] = ids[j]!;
      outLogQ[o + t] = logAddExp(bq[j]!, so < 0 ? -Infinity : samplerQ(r, sq[so + t]!)) - logM;
    }
    const io = s.shared ? 0 : r * m2;
    for (let j = 0; j < m2; j++) {
      outIds[o + L + j] = s.ids[io + j]!;
      outLogQ[o + L + j] = logAddExp(sbq[io + j]!, logExpectedCount(s, io + j)) - logM;
    }
    posLogQ[r] = logAddExp(bq[r]!, so < 0 || slot[r]! < 0 ? -Infinity : samplerQ(r, sq[so + slot[r]!]!)) - logM;
  }
  return { draws: { ids: outIds, logQ: outLogQ, rows: B, m, shared: false, unique: false, tries: null }, posLogQ };
}
