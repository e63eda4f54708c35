/**
 * Float64 reference implementations of the sampled and full softmax losses, written
 * for clarity: every softmax term is materialized as an explicit list of candidates.
 * Used as the oracle for the streamed / sparse implementations in src/loss.
 */
import type { LossInputBase, SampledLossInput } from '../../src/loss/types.js';

/** One candidate of a softmax term: class id and the correction subtracted from its logit. */
export interface RefCandidate {
  id: number;
  corr: number;
}

/** One softmax term: `weight · (−a_0 + log Σ_c exp a_c)`, candidate 0 is the positive. */
export interface RefTerm {
  row: number;
  weight: number;
  cands: RefCandidate[];
}

/** Parameters the loss is differentiated against (float64 copies). */
export interface RefParams {
  h: Float64Array;
  w: Float64Array;
  b: Float64Array | null;
}

/** Loss and dense float64 gradients. */
export interface RefResult {
  loss: number;
  gradH: Float64Array;
  gradW: Float64Array;
  gradB: Float64Array | null;
}

/** Float64 copies of the queries, weights and biases of an input. */
export function refParams(input: LossInputBase): RefParams {
  return {
    h: Float64Array.from(input.queries.data),
    w: Float64Array.from(input.table.weights),
    b: input.table.bias ? Float64Array.from(input.table.bias) : null,
  };
}

function positivesOf(input: LossInputBase, r: number): number[] {
  const out: number[] = [];
  for (let k = input.labels.offsets[r]!; k < input.labels.offsets[r + 1]!; k++) out.push(input.labels.ids[k]!);
  return out;
}

function rowWeight(input: LossInputBase, r: number): number {
  return input.rowWeights ? input.rowWeights[r]! : 1;
}

function termWeightOf(input: LossInputBase, P: number): number {
  return (input.labelWeighting ?? 'mean') === 'mean' ? 1 / P : 1;
}

/** Calls `fn(row, weight of each of its terms, positives)` for every row of weight > 0. */
function forEachRow(input: LossInputBase, fn: (r: number, weight: number, pos: number[]) => void): void {
  const B = input.queries.rows;
  let total = 0;
  for (let r = 0; r < B; r++) total += rowWeight(input, r);
  for (let r = 0; r < B; r++) {
    const wr = rowWeight(input, r);
    if (wr === 0) continue;
    const pos = positivesOf(input, r);
    fn(r, (wr / total) * termWeightOf(input, pos.length), pos);
  }
}

/** Terms of the sampled loss, from the definitions of ALGORITHMS.md §2. */
export function sampledTerms(input: SampledLossInput): RefTerm[] {
  const { draws } = input;
  const m = draws.m;
  const terms: RefTerm[] = [];
  forEachRow(input, (r, weight, pos) => {
    const dr = draws.shared ? 0 : r;
    for (let k = 0; k < pos.length; k++) {
      const p = pos[k]!;
      let posCorr = 0;
      if (input.convention === 'correctedAll') {
        const lq = input.posLogQ![input.labels.offsets[r]! + k]!;
        if (draws.unique) {
          const T = draws.tries![dr]!;
          posCorr = Math.log(1 - Math.pow(1 - Math.exp(lq), T));
        } else {
          posCorr = Math.log(m) + lq;
        }
      }
      const cands: RefCandidate[] = [{ id: p, corr: posCorr }];
      // maskedExclusive: the k draws that miss the positives come from q / (1 − Q_P)
      let kept = 0;
      for (let j = 0; j < m; j++) if (!pos.includes(draws.ids[dr * m + j]!)) kept++;
      let qp = 0;
      for (const u of new Set(pos)) qp += Math.exp(input.posLogQ?.[input.labels.offsets[r]! + pos.indexOf(u)] ?? -Infinity);
      for (let j = 0; j < m; j++) {
        const id = draws.ids[dr * m + j]!;
        if (pos.includes(id)) {
          if (input.convention === 'exclusive') throw new Error('reference: positive drawn under exclusive');
          continue;
        }
        const lq = draws.logQ[dr * m + j]!;
        if (input.convention === 'maskedExclusive') cands.push({ id, corr: Math.log(kept) + lq - Math.log(1 - qp) });
        else cands.push({ id, corr: draws.unique ? lq : Math.log(m) + lq });
      }
      terms.push({ row: r, weight, cands });
    }
  });
  return terms;
}

/** Terms of the full softmax loss: every class, the row's other positives removed. */
export function fullTerms(input: LossInputBase): RefTerm[] {
  const n = input.table.n;
  const terms: RefTerm[] = [];
  forEachRow(input, (r, weight, pos) => {
    for (const p of pos) {
      const cands: RefCandidate[] = [{ id: p, corr: 0 }];
      for (let i = 0; i < n; i++) if (!pos.includes(i)) cands.push({ id: i, corr: 0 });
      terms.push({ row: r, weight, cands });
    }
  });
  return terms;
}

/** Evaluates the terms at `params`, with analytic float64 gradients. */
export function evalTerms(terms: RefTerm[], params: RefParams, B: number, n: number, d: number): RefResult {
  const { h, w, b } = params;
  const gradH = new Float64Array(B * d);
  const gradW = new Float64Array(n * d);
  const gradB = b ? new Float64Array(n) : null;
  let loss = 0;
  for (const t of terms) {
    const a = t.cands.map((c) => {
      let o = b ? b[c.id]! : 0;
      for (let k = 0; k < d; k++) o += h[t.row * d + k]! * w[c.id * d + k]!;
      return o - c.corr;
    });
    const mx = Math.max(...a);
    const z = a.reduce((s, x) => s + Math.exp(x - mx), 0);
    const lse = mx + Math.log(z);
    loss += t.weight * (lse - a[0]!);
    for (let c = 0; c < a.length; c++) {
      const g = t.weight * (Math.exp(a[c]! - lse) - (c === 0 ? 1 : 0));
      const id = t.cands[c]!.id;
      for (let k = 0; k < d; k++) {
        gradH[t.row * d + k] += g * w[id * d + k]!;
        gradW[id * d + k] += g * h[t.row * d + k]!;
      }
      if (gradB) gradB[id] += g;
    }
  }
  return { loss, gradH, gradW, gradB };
}

/** Reference sampled softmax loss. */
export function refSampledLoss(input: SampledLossInput, params: RefParams = refParams(input)): RefResult {
  return evalTerms(sampledTerms(input), params, input.queries.rows, input.table.n, input.table.d);
}

/** Reference full softmax loss. */
export function refFullLoss(input: LossInputBase, params: RefParams = refParams(input)): RefResult {
  return evalTerms(fullTerms(input), params, input.queries.rows, input.table.n, input.table.d);
}
