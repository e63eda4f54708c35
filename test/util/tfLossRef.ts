/**
 * Float64 references of TensorFlow's sampled losses, written from TensorFlow's documented
 * formulas (`tf.nn.sampled_softmax_loss`, `tf.nn.nce_loss` and their shared
 * `_compute_sampled_logits`):
 *
 *   true_logits    = h·W[labels]ᵀ + b[labels]                    [B, num_true]
 *   sampled_logits = h·W[sampled]ᵀ + b[sampled]                  [B, num_sampled]
 *   if remove_accidental_hits: sampled_logits[hit] += −FLT_MAX  (a sampled id equal to a true label of the row)
 *   if subtract_log_q: true_logits −= log(true_expected_count); sampled_logits −= log(sampled_expected_count)
 *   logits = [true_logits, sampled_logits];  labels = [1/num_true …, 0 …]
 *   sampled_softmax_loss = softmax_cross_entropy_with_logits(labels, logits)   (per row)
 *   nce_loss             = Σ_cols sigmoid_cross_entropy_with_logits(labels, logits)
 *
 * Expected counts are those of TensorFlow's candidate samplers: `m·q` with replacement and
 * `1 − (1 − q)^T` (T the tries) for unique draws. The per-row losses are averaged with the row
 * weights (TensorFlow's `reduce_mean` when all weights are 1). Gradients are analytic
 * (`softmax − labels`, `sigmoid − labels`), checked against finite differences by the tests.
 */
import type { Labels, Matrix } from '../../src/core/matrix.js';
import type { ClassTable } from '../../src/core/classTable.js';
import type { Draws } from '../../src/samplers/types.js';
import type { RefParams, RefResult } from './lossRef.js';

/** float32's largest finite value, TensorFlow's accidental-hit logit offset. */
const FLT_MAX = 3.4028234663852886e38;

/** The inputs of the TensorFlow references. */
export interface TfRefInput {
  queries: Matrix;
  table: ClassTable;
  labels: Labels;
  draws: Draws;
  /** Proposal probabilities `q` of every class (not renormalized). */
  q: Float64Array;
  rowWeights?: Float32Array | null;
  subtractLogQ: boolean;
  removeAccidentalHits: boolean;
}

/** One logit column of a row: class id, `log Q` subtracted, hit offset, label. */
interface Column {
  id: number;
  corr: number;
  label: number;
}

function expectedCount(draws: Draws, row: number, q: number): number {
  if (!draws.unique) return draws.m * q;
  const T = draws.tries![draws.shared ? 0 : row]!;
  return -Math.expm1(T * Math.log1p(-q));
}

/** TensorFlow's `_compute_sampled_logits` for row `r`, as columns (true first). */
function columns(inp: TfRefInput, r: number): Column[] {
  const { labels, draws, q } = inp;
  const m = draws.m;
  const dr = draws.shared ? 0 : r;
  const trueIds: number[] = [];
  for (let k = labels.offsets[r]!; k < labels.offsets[r + 1]!; k++) trueIds.push(labels.ids[k]!);
  const numTrue = trueIds.length;
  const cols: Column[] = [];
  for (const id of trueIds) {
    cols.push({ id, corr: inp.subtractLogQ ? Math.log(expectedCount(draws, r, q[id]!)) : 0, label: 1 / numTrue });
  }
  for (let j = 0; j < m; j++) {
    const id = draws.ids[dr * m + j]!;
    let corr = inp.subtractLogQ ? Math.log(expectedCount(draws, r, q[id]!)) : 0;
    if (inp.removeAccidentalHits && trueIds.includes(id)) corr += FLT_MAX; // logit += −FLT_MAX
    cols.push({ id, corr, label: 0 });
  }
  return cols;
}

function logitsOf(cols: Column[], p: RefParams, r: number, d: number): number[] {
  return cols.map((c) => {
    let o = p.b ? p.b[c.id]! : 0;
    for (let k = 0; k < d; k++) o += p.h[r * d + k]! * p.w[c.id * d + k]!;
    return o - c.corr;
  });
}

function softplus(x: number): number {
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}

/**
 * Evaluates TensorFlow's sampled softmax (`'softmax'`), nce (`'sigmoid'`) or, for comparison,
 * samplex's per-positive softmax terms over the same logit columns (`'perTerm'`: one softmax per
 * true column over it and the sampled columns, weight `1/num_true`) or per-positive logistic
 * terms (`'sigmoidMean'`: each true column label 1 with weight `1/num_true`).
 */
export function tfSampledRef(inp: TfRefInput, kind: 'softmax' | 'sigmoid' | 'sigmoidMean' | 'perTerm', p: RefParams): RefResult {
  const { queries, table } = inp;
  const B = queries.rows;
  const d = table.d;
  const n = table.n;
  const gradH = new Float64Array(B * d);
  const gradW = new Float64Array(n * d);
  const gradB = p.b ? new Float64Array(n) : null;
  let total = 0;
  for (let r = 0; r < B; r++) total += inp.rowWeights ? inp.rowWeights[r]! : 1;
  let loss = 0;
  const chain = (r: number, id: number, g: number): void => {
    for (let k = 0; k < d; k++) {
      gradH[r * d + k] += g * p.w[id * d + k]!;
      gradW[id * d + k] += g * p.h[r * d + k]!;
    }
    if (gradB) gradB[id] += g;
  };
  for (let r = 0; r < B; r++) {
    const wr = (inp.rowWeights ? inp.rowWeights[r]! : 1) / total;
    if (wr === 0) continue;
    const cols = columns(inp, r);
    const a = logitsOf(cols, p, r, d);
    if (kind === 'softmax') {
      const mx = Math.max(...a);
      const lse = mx + Math.log(a.reduce((s, x) => s + Math.exp(x - mx), 0));
      for (let c = 0; c < a.length; c++) {
        loss += wr * cols[c]!.label * (lse - a[c]!);
        chain(r, cols[c]!.id, wr * (Math.exp(a[c]! - lse) - cols[c]!.label));
      }
    } else if (kind === 'sigmoid' || kind === 'sigmoidMean') {
      for (let c = 0; c < a.length; c++) {
        const y = cols[c]!.label;
        const sig = 1 / (1 + Math.exp(-a[c]!));
        if (kind === 'sigmoidMean' && y > 0) {
          loss += wr * y * softplus(-a[c]!);
          chain(r, cols[c]!.id, wr * y * (sig - 1));
        } else {
          loss += wr * (softplus(a[c]!) - y * a[c]!);
          chain(r, cols[c]!.id, wr * (sig - y));
        }
      }
    } else {
      const numTrue = cols.filter((c) => c.label > 0).length;
      const sampled = a.slice(numTrue);
      for (let t = 0; t < numTrue; t++) {
        const term = [a[t]!, ...sampled];
        const ids = [cols[t]!.id, ...cols.slice(numTrue).map((c) => c.id)];
        const mx = Math.max(...term);
        const lse = mx + Math.log(term.reduce((s, x) => s + Math.exp(x - mx), 0));
        const w = wr / numTrue;
        loss += w * (lse - term[0]!);
        for (let c = 0; c < term.length; c++) chain(r, ids[c]!, w * (Math.exp(term[c]! - lse) - (c === 0 ? 1 : 0)));
      }
    }
  }
  return { loss, gradH, gradW, gradB };
}
