/**
 * Bias study of sampled softmax estimators (ALGORITHMS.md §4): for a fixed class table and
 * set of queries, compares the expected sampled gradient and loss with the exact ones, and
 * the proposal with the softmax (KL), for each sampler and sample size `m`.
 * @module
 */
import type { ClassTable } from '../core/classTable.js';
import { OptionError } from '../core/errors.js';
import { type Labels, type Matrix, singleLabels } from '../core/matrix.js';
import type { Rng } from '../core/rng.js';
import { assertMatrix, intOption } from '../core/validate.js';
import { kernels } from '../kernels/index.js';
import { sampledSoftmaxLoss } from '../loss/sampled.js';
import { sampledLogisticLoss, type BinaryLoss } from '../loss/binary.js';
import type { Convention } from '../loss/types.js';
import type { Sampler } from '../samplers/types.js';
import { type BatchCorrection, type BatchSetting, inBatchTrials, normalizedFrequencies } from './inBatchBias.js';
import { trialMoments, type GradientTrials } from './trials.js';

export type { GradientTrials } from './trials.js';

/** Exact softmax quantities of a query set: log-probabilities, labels, losses and gradients (float64). */
export interface ExactReference {
  /** `[B, n]` log softmax of each query's logits. */
  logProbs: Float64Array;
  /** One label per query, drawn from the query's own softmax. */
  labels: Labels;
  /** `[B]` full-softmax loss `−log p_t`. */
  loss: Float64Array;
  /** `[B, d]` full-softmax gradient w.r.t. the query: `Σ_i p_i c_i − c_t`. */
  grad: Float64Array;
}

/**
 * Computes the exact softmax of every query (materializes `B × n`, so meant for studies, not
 * training) and draws one label per query from it with `rng`.
 */
export function exactReference(table: ClassTable, queries: Matrix, rng: Rng): ExactReference {
  assertMatrix(queries, 'queries', table.d);
  const { n, d } = table;
  const B = queries.rows;
  const logits = new Float32Array(B * n);
  kernels.matmulNT(queries.data, B, table.weights, 0, n, d, logits);
  const logProbs = new Float64Array(B * n);
  const labelIds = new Int32Array(B);
  const loss = new Float64Array(B);
  const grad = new Float64Array(B * d);
  const w = table.weights;
  for (let b = 0; b < B; b++) {
    const o = b * n;
    let mx = -Infinity;
    for (let i = 0; i < n; i++) {
      const v = logits[o + i]! + (table.bias ? table.bias[i]! : 0);
      logProbs[o + i] = v;
      if (v > mx) mx = v;
    }
    let s = 0;
    for (let i = 0; i < n; i++) s += Math.exp(logProbs[o + i]! - mx);
    const lse = mx + Math.log(s);
    for (let i = 0; i < n; i++) logProbs[o + i] = logProbs[o + i]! - lse;
    // label ~ softmax
    let u = rng.float();
    let t = n - 1;
    for (let i = 0; i < n; i++) {
      u -= Math.exp(logProbs[o + i]!);
      if (u < 0) {
        t = i;
        break;
      }
    }
    labelIds[b] = t;
    loss[b] = -logProbs[o + t]!;
    const g = b * d;
    for (let i = 0; i < n; i++) {
      const p = Math.exp(logProbs[o + i]!);
      if (p === 0) continue;
      for (let k = 0; k < d; k++) grad[g + k] += p * w[i * d + k]!;
    }
    for (let k = 0; k < d; k++) grad[g + k] -= w[t * d + k]!;
  }
  return { logProbs, labels: singleLabels(labelIds), loss, grad };
}

/** How well a proposal fits the exact softmax, averaged over queries (see {@link proposalFit}). */
export interface ProposalFit {
  /** Mean `KL(softmax ‖ q)` in nats. */
  kl: number;
  /**
   * Mean `1 / Σ_i p_i² / q_i`: the effective sample size per draw of importance sampling from `q`
   * for the softmax `p` (`1/(1 + χ²(p‖q))`; 1 for `q = p`, 0 when `q` misses mass of `p`).
   */
  ess: number;
  /**
   * Mean mass of `q` on the softmax's head: the fewest classes, by decreasing `p`, that hold at
   * least half of the softmax's mass.
   */
  headMass: number;
}

/**
 * {@link ProposalFit} of `sampler` against the exact reference: `log q` of every class for every
 * query (one `logQ` call over all `n` ids), compared with the reference's softmax.
 */
export function proposalFit(sampler: Sampler, queries: Matrix, ref: ExactReference, n: number): ProposalFit {
  const B = queries.rows;
  return fitOfLogQ(sampler.logQ(sampler.adaptive ? queries : null, allIds(B, n)), ref, B, n);
}

/** Every class id for each of `B` rows, as a CSR list. */
function allIds(B: number, n: number): Labels {
  const offsets = new Int32Array(B + 1);
  const ids = new Int32Array(B * n);
  for (let b = 0; b < B; b++) {
    offsets[b + 1] = (b + 1) * n;
    for (let i = 0; i < n; i++) ids[b * n + i] = i;
  }
  return { ids, offsets };
}

/** {@link ProposalFit} of `[B, n]` proposal log-probabilities `lq` against the exact reference. */
export function fitOfLogQ(lq: Float64Array, ref: ExactReference, B: number, n: number): ProposalFit {
  const order = new Int32Array(n);
  let kl = 0;
  let ess = 0;
  let head = 0;
  for (let b = 0; b < B; b++) {
    const o = b * n;
    let klb = 0;
    let chi = 0;
    for (let i = 0; i < n; i++) {
      const lp = ref.logProbs[o + i]!;
      if (lp === -Infinity) continue;
      const p = Math.exp(lp);
      if (p === 0) continue;
      klb += p * (lp - lq[o + i]!);
      chi += Math.exp(2 * lp - lq[o + i]!);
    }
    kl += klb;
    ess += 1 / chi;
    for (let i = 0; i < n; i++) order[i] = i;
    order.sort((x, y) => ref.logProbs[o + y]! - ref.logProbs[o + x]!);
    let pm = 0;
    let qm = 0;
    for (let r = 0; r < n && pm < 0.5; r++) {
      pm += Math.exp(ref.logProbs[o + order[r]!]!);
      qm += Math.exp(lq[o + order[r]!]!);
    }
    head += qm;
  }
  return { kl: kl / B, ess: ess / B, headMass: head / B };
}

/** Mean `KL(softmax ‖ q)` over queries ({@link ProposalFit.kl}). */
export function meanKL(sampler: Sampler, queries: Matrix, ref: ExactReference, n: number): number {
  return proposalFit(sampler, queries, ref, n).kl;
}


/** Options of {@link gradientTrials}. */
export interface TrialOptions {
  m: number;
  trials: number;
  convention: Convention;
  rng: Rng;
  /** Draw without replacement. Default false. */
  unique?: boolean;
  /** The sampled loss (default `'softmax'`); NCE and negative sampling estimate another objective. */
  loss?: 'softmax' | BinaryLoss;
  /** Mask accidental hits (default true). */
  removeAccidentalHits?: boolean;
}

/**
 * Runs `trials` independent sampled-softmax evaluations (fresh draws each time) for every query
 * and returns the moments of the per-query gradient `∂L̂_b/∂h_b` and of the batch loss.
 */
export function gradientTrials(
  sampler: Sampler,
  table: ClassTable,
  queries: Matrix,
  labels: Labels,
  opts: TrialOptions,
): GradientTrials {
  const m = intOption(opts.m, 'm', 1);
  const T = intOption(opts.trials, 'trials', 2);
  const B = queries.rows;
  const d = table.d;
  const exclude = opts.convention === 'exclusive' ? labels : null;
  const posLogQ = opts.convention !== 'exclusive' ? sampler.logQ(sampler.adaptive ? queries : null, labels) : null;
  const samples = new Float64Array(T * B * d);
  const losses = new Float64Array(T);
  let sampleSeconds = 0;
  for (let t = 0; t < T; t++) {
    const t0 = performance.now();
    const draws = sampler.sample({ m, rng: opts.rng, queries, exclude, unique: opts.unique ?? false });
    sampleSeconds += (performance.now() - t0) / 1000;
    const loss = opts.loss ?? 'softmax';
    const keep = opts.removeAccidentalHits === false ? { removeAccidentalHits: false } : {};
    const res = loss === 'softmax'
      ? sampledSoftmaxLoss({ queries, table, labels, draws, convention: opts.convention, posLogQ, ...keep })
      : sampledLogisticLoss({ queries, table, labels, draws, loss, posLogQ, removeAccidentalHits: opts.removeAccidentalHits ?? true });
    losses[t] = res.loss;
    const o = t * B * d;
    // the loss is a mean over rows: per-row gradients are B times the returned ones
    for (let i = 0; i < B * d; i++) samples[o + i] = res.gradQueries[i]! * B;
  }
  return trialMoments(samples, losses, sampleSeconds, T, B * d);
}


/** Relative gradient bias of a set of trials against the exact gradient. */
export interface GradBias {
  /**
   * Mean over queries of `‖E[ĝ] − g‖ / ‖g‖`, with the Monte-Carlo noise removed from the
   * squared norm (`‖ḡ − g‖² − tr Σ̂ / T`, clipped at 0): an unbiased estimate of the squared bias.
   */
  gradBias: number;
  /** Standard error of `gradBias` (delta method over the trials, queries independent). */
  gradBiasStderr: number;
  /** Mean over queries of the raw `‖ḡ − g‖ / ‖g‖` (includes Monte-Carlo noise). */
  gradBiasRaw: number;
  /** Mean over queries of the noise floor `sqrt(tr Σ̂ / T) / ‖g‖`. */
  gradNoise: number;
}

/** Measures the relative bias of `trials.mean` against `target` (`[B, d]`, e.g. the exact gradient). */
export function gradBias(trials: GradientTrials, target: Float64Array, B: number, d: number): GradBias {
  const T = trials.trials;
  let sumBias = 0;
  let sumRaw = 0;
  let sumNoise = 0;
  let sumVar = 0;
  for (let b = 0; b < B; b++) {
    let gn = 0;
    let diff2 = 0;
    let tr = 0;
    for (let k = 0; k < d; k++) {
      const i = b * d + k;
      gn += target[i]! * target[i]!;
      const e = trials.mean[i]! - target[i]!;
      diff2 += e * e;
      tr += trials.variance[i]!;
    }
    const gNorm = Math.sqrt(gn) || 1e-300;
    const debiased = Math.sqrt(Math.max(0, diff2 - tr / T));
    sumBias += debiased / gNorm;
    sumRaw += Math.sqrt(diff2) / gNorm;
    sumNoise += Math.sqrt(tr / T) / gNorm;
    // delta method: Var(‖ḡ − g‖) ≈ uᵀ Σ u / T, u the unit direction of ḡ − g
    const norm = Math.sqrt(diff2);
    if (norm > 0) {
      let pm = 0;
      const proj = new Float64Array(T);
      for (let t = 0; t < T; t++) {
        let s = 0;
        for (let k = 0; k < d; k++) {
          const i = b * d + k;
          s += trials.samples[t * B * d + i]! * ((trials.mean[i]! - target[i]!) / norm);
        }
        proj[t] = s;
        pm += s;
      }
      pm /= T;
      let v = 0;
      for (let t = 0; t < T; t++) v += (proj[t]! - pm) ** 2;
      sumVar += v / (T - 1) / T / (gNorm * gNorm);
    } else {
      sumVar += tr / T / (gNorm * gNorm);
    }
  }
  return {
    gradBias: sumBias / B,
    gradBiasStderr: Math.sqrt(sumVar) / B,
    gradBiasRaw: sumRaw / B,
    gradNoise: sumNoise / B,
  };
}

/** One result of a bias study: a sampler at one sample size. */
export interface BiasRow {
  sampler: string;
  /** Sampler options as given (numbers, strings and booleans only). */
  samplerOptions: Record<string, number | string | boolean>;
  classes: number;
  dim: number;
  queries: number;
  negatives: number;
  trials: number;
  convention: Convention;
  /**
   * The sampled loss. `nce` and `negativeSampling` estimate a different objective from the
   * softmax, so their gradient and loss "bias" against the exact softmax measures how far that
   * objective is from the softmax's, not a sampling error that vanishes as `m` grows.
   */
  loss: 'softmax' | BinaryLoss;
  /** Whether accidental hits were masked. */
  removeAccidentalHits: boolean;
  /**
   * Where the negatives come from: the sampler's draws, the other rows' positives of a batch of
   * `negatives + 1` rows (`inBatch`), or both (`mixed`: the batch's and `negatives` draws of the
   * sampler); see {@link BatchSetting}.
   */
  negativeSource: 'sampler' | 'inBatch' | 'mixed';
  /** The batch's `log Q` (in-batch and mixed rows; null for the sampler's). */
  batchCorrection: BatchCorrection | null;
  unique: boolean;
  embeddings: string;
  scale: number;
  seed: number;
  /** Mean over queries of KL(softmax ‖ q) in nats (exact, from `logQ` over all classes). */
  kl: number;
  /** See {@link ProposalFit.ess}. */
  ess: number;
  /** See {@link ProposalFit.headMass}. */
  headMass: number;
  /** See {@link GradBias.gradBias}. */
  gradBias: number;
  gradBiasStderr: number;
  gradBiasRaw: number;
  gradNoise: number;
  /** Mean sampled loss minus the exact loss (averaged over queries). */
  lossBias: number;
  lossBiasStderr: number;
  /** Ids drawn per second by `sample` (B·m·trials / time in `sample`). */
  drawsPerSec: number;
  /** Sampler build time in milliseconds. */
  buildMs: number;
}

/** A sampler to study: its registry name, a display label and a ready (unbuilt) instance. */
export interface StudySampler {
  label: string;
  options: Record<string, number | string | boolean>;
  sampler: Sampler;
}

/** Options of {@link runBiasStudy}. */
export interface BiasStudyOptions {
  table: ClassTable;
  queries: Matrix;
  samplers: StudySampler[];
  negatives: number[];
  trials: number;
  convention: Convention;
  /** The sampled loss (default `'softmax'`). */
  loss?: 'softmax' | BinaryLoss;
  /** Mask accidental hits (default true). */
  removeAccidentalHits?: boolean;
  /**
   * Negatives from a batch instead of (`inBatch`: `samplers` are not used) or beside (`mixed`) the
   * samplers' draws, each with every batch correction (`streaming` only with `buckets > 0`);
   * convention `correctedAll`, the softmax, hits masked. Absent: the samplers' draws.
   */
  batch?: (BatchSetting & { source: 'inBatch' | 'mixed' }) | null;
  /** Seed of the study (labels and draws come from streams derived from it). */
  seed: number;
  rng: Rng;
  unique?: boolean;
  /** Free-form description of the embeddings (for the rows). */
  embeddings: string;
  scale: number;
  /** Called with each row as soon as it is measured. */
  onRow?: (row: BiasRow) => void;
}

/** Runs the study: every sampler at every `m`, sharing one exact reference and label set. */
export function runBiasStudy(opts: BiasStudyOptions): BiasRow[] {
  const { table, queries } = opts;
  if (opts.negatives.length === 0) throw new OptionError('negatives: give at least one sample size m');
  for (const m of opts.negatives) intOption(m, 'negatives', 1);
  const loss = opts.loss ?? 'softmax';
  const allowed = loss === 'nce' ? ['correctedAll'] : loss === 'negativeSampling' ? ['correctedAll', 'exclusive'] : null;
  if (allowed && !allowed.includes(opts.convention)) {
    throw new OptionError(`loss '${loss}' takes convention ${allowed.join(' or ')}, got '${opts.convention}'`);
  }
  if (loss === 'softmax' && opts.removeAccidentalHits === false && opts.convention !== 'correctedAll') {
    throw new OptionError(`keeping accidental hits needs convention 'correctedAll' with the softmax, got '${opts.convention}'`);
  }
  const ref = exactReference(table, queries, opts.rng.fork(1));
  const B = queries.rows;
  const d = table.d;
  let exactLoss = 0;
  for (let b = 0; b < B; b++) exactLoss += ref.loss[b]!;
  exactLoss /= B;
  const rows: BiasRow[] = [];
  const base = {
    classes: table.n, dim: d, queries: B, convention: opts.convention, loss, removeAccidentalHits: opts.removeAccidentalHits ?? true,
    unique: opts.unique ?? false, embeddings: opts.embeddings, scale: opts.scale, seed: opts.seed,
  };
  const finish = (tr: GradientTrials, m: number): Omit<BiasRow, 'sampler' | 'samplerOptions' | 'negativeSource' | 'batchCorrection' | 'kl' | 'ess' | 'headMass' | 'buildMs'> => {
    const gb = gradBias(tr, ref.grad, B, d);
    let lm = 0;
    for (let t = 0; t < tr.trials; t++) lm += tr.losses[t]!;
    lm /= tr.trials;
    let lv = 0;
    for (let t = 0; t < tr.trials; t++) lv += (tr.losses[t]! - lm) ** 2;
    lv /= tr.trials - 1;
    return {
      ...base, negatives: m, trials: tr.trials, ...gb,
      lossBias: lm - exactLoss, lossBiasStderr: Math.sqrt(lv / tr.trials),
      drawsPerSec: tr.sampleSeconds > 0 ? (B * m * tr.trials) / tr.sampleSeconds : Infinity,
    };
  };
  const batch = opts.batch ?? null;
  if (batch) {
    if (opts.convention !== 'correctedAll') throw new OptionError(`in-batch and mixed negatives take convention 'correctedAll', got '${opts.convention}'`);
    if (loss !== 'softmax') throw new OptionError(`in-batch and mixed negatives are studied with the softmax loss, got '${loss}'`);
    if (opts.removeAccidentalHits === false) throw new OptionError('in-batch and mixed negatives mask accidental hits; drop the keep-hits setting');
    if (batch.source === 'inBatch' && opts.unique) throw new OptionError('in-batch negatives are the batch\'s distinct items; unique applies to the sampler of mixed negatives only');
    const corrections: BatchCorrection[] = ['none', 'exact', ...(batch.buckets > 0 ? ['streaming' as const] : [])];
    // the per-draw proposal of the batch's items: the label distribution, the same for every query
    const p = normalizedFrequencies(batch.frequencies, table.n);
    const logP = new Float64Array(B * table.n);
    for (let b = 0; b < B; b++) for (let i = 0; i < table.n; i++) logP[b * table.n + i] = Math.log(p[i]!);
    const settings = { buckets: batch.buckets, alpha: batch.alpha, warmup: batch.warmup };
    const emit = (label: string, options: Record<string, number | string | boolean>, fit: ProposalFit, c: BatchCorrection, buildMs: number, mix: Sampler | null, si: number, ci: number): void => {
      opts.negatives.forEach((m, mi) => {
        const tr = inBatchTrials(table, queries, ref.labels, {
          m, trials: opts.trials, correction: c, batch, rng: opts.rng.fork(500000 + si * 10000 + ci * 1000 + mi), mixWith: mix, unique: opts.unique ?? false,
        });
        const row: BiasRow = { sampler: label, samplerOptions: options, negativeSource: batch.source, batchCorrection: c, ...fit, buildMs, ...finish(tr, m) };
        rows.push(row);
        opts.onRow?.(row);
      });
    };
    if (batch.source === 'inBatch') {
      const fit = fitOfLogQ(logP, ref, B, table.n);
      corrections.forEach((c, ci) => emit(`inBatch/${c}`, c === 'streaming' ? settings : {}, fit, c, 0, null, 0, ci));
      return rows;
    }
    opts.samplers.forEach((s, si) => {
      const t0 = performance.now();
      s.sampler.build(table);
      const buildMs = performance.now() - t0;
      // the per-draw proposal of the union: half the draws from the batch, half from the sampler
      const all = allIds(B, table.n);
      const lq = s.sampler.logQ(s.sampler.adaptive ? queries : null, all);
      const mixture = Float64Array.from(lq, (x, k) => Math.log((Math.exp(x) + Math.exp(logP[k]!)) / 2));
      const fit = fitOfLogQ(mixture, ref, B, table.n);
      corrections.forEach((c, ci) => emit(`mixed:${s.label}/${c}`, { ...s.options, ...(c === 'streaming' ? settings : {}) }, fit, c, buildMs, s.sampler, si, ci));
    });
    return rows;
  }
  opts.samplers.forEach((s, si) => {
    const t0 = performance.now();
    s.sampler.build(table);
    const buildMs = performance.now() - t0;
    const fit = proposalFit(s.sampler, queries, ref, table.n);
    opts.negatives.forEach((m, mi) => {
      const rng = opts.rng.fork(1000 + si * 1000 + mi);
      const tr = gradientTrials(s.sampler, table, queries, ref.labels, {
        m,
        trials: opts.trials,
        convention: opts.convention,
        rng,
        unique: opts.unique ?? false,
        loss: opts.loss ?? 'softmax',
        removeAccidentalHits: opts.removeAccidentalHits ?? true,
      });
      const row: BiasRow = { sampler: s.label, samplerOptions: s.options, negativeSource: 'sampler', batchCorrection: null, ...fit, buildMs, ...finish(tr, m) };
      rows.push(row);
      opts.onRow?.(row);
    });
  });
  return rows;
}

/**
 * Marginal label distribution `p̄_i = (1/B) Σ_b softmax_b(i)` of an exact reference: the
 * class frequencies a unigram sampler would be estimated from.
 */
export function marginalProbs(ref: ExactReference, B: number, n: number): Float64Array {
  const p = new Float64Array(n);
  for (let b = 0; b < B; b++) for (let i = 0; i < n; i++) p[i] += Math.exp(ref.logProbs[b * n + i]!) / B;
  return p;
}
