/**
 * Training and evaluation loops of the {@link LstmLm} language model over BPTT batches.
 * @module
 */
import { OptionError } from '../../core/errors.js';
import { matrix, type Matrix } from '../../core/matrix.js';
import { BpttBatcher } from '../../data/bptt.js';
import { intOption, rejectUnknown } from '../../core/validate.js';
import type { Rng } from '../../core/rng.js';
import type { LstmLm } from './model.js';

/** Options of {@link evaluatePerplexity}. */
export interface PerplexityOptions {
  /** Parallel columns (default 10). */
  batchSize?: number;
  /** Steps per window (default 35). */
  seqLen?: number;
}

/** Full-softmax evaluation of a token stream. */
export interface PerplexityResult {
  /** Mean negative log-likelihood per predicted token (nats). */
  nll: number;
  /** `exp(nll)`. */
  perplexity: number;
  /** Predicted tokens. */
  tokens: number;
}

/**
 * Exact (full-softmax) perplexity of `stream` under the model: the stream is read in BPTT
 * windows without dropout, the recurrent state carried from window to window (reset before
 * and after), and each window's queries are scored against all classes with the output
 * layer's `fullLoss` (streamed over class blocks; no `tokens × n` logits).
 * @throws as {@link BpttBatcher} (too short a stream), OptionError
 */
export function evaluatePerplexity(model: LstmLm, stream: Int32Array, opts: PerplexityOptions = {}): PerplexityResult {
  rejectUnknown(opts, ['batchSize', 'seqLen'], 'evaluatePerplexity');
  const layer = model.head.layer;
  const d = layer.table.d;
  let total = 0;
  let tokens = 0;
  for (const { data, targets } of evalOutputs(model, stream, opts)) {
    const q = { data, rows: targets.length, cols: d };
    const offsets = Int32Array.from({ length: targets.length + 1 }, (_, i) => i);
    total += layer.fullLoss(q, { ids: targets, offsets }) * targets.length;
    tokens += targets.length;
  }
  const nll = total / tokens;
  return { nll, perplexity: Math.exp(nll), tokens };
}

/**
 * The model's output vectors (the queries its softmax scores, `rows × d` row-major) batch by
 * batch over `stream` in evaluation order: from the zero state, without dropout. A batch's
 * `data` is valid until the next one is asked for.
 */
function* evalOutputs(model: LstmLm, stream: Int32Array, opts: PerplexityOptions): Generator<{ data: Float32Array; targets: Int32Array }> {
  const batcher = new BpttBatcher(stream, {
    batchSize: intOption(opts.batchSize ?? 10, 'batchSize', 1),
    seqLen: intOption(opts.seqLen ?? 35, 'seqLen', 1),
  });
  model.resetState();
  try {
    for (const batch of batcher) {
      const { queries, targets } = model.evalQueries(batch);
      try {
        yield { data: queries.dataSync() as Float32Array, targets };
      } finally {
        queries.dispose();
      }
    }
  } finally {
    model.resetState();
  }
}

/** Options of {@link lmQueries}. */
export interface LmQueriesOptions extends PerplexityOptions {
  /** Take every `stride`-th position of the evaluation order (default 7; see {@link lmQueries}). */
  stride?: number;
}

/**
 * `count` output vectors of the model on `stream`, as {@link evaluatePerplexity} computes them:
 * positions `offset, offset + stride, …` of the evaluation order (`offset = ⌊stride / 2⌋`), so
 * they spread over the batches' rows and time steps. For studying a sampler's proposal against
 * the model's own softmax (`samplex bias --lm-run`).
 * @throws OptionError when `stream` has fewer than `count` such positions
 */
export function lmQueries(model: LstmLm, stream: Int32Array, count: number, opts: LmQueriesOptions = {}): Matrix {
  rejectUnknown(opts, ['batchSize', 'seqLen', 'stride'], 'lmQueries');
  const want = intOption(count, 'count', 1);
  const stride = intOption(opts.stride ?? 7, 'stride', 1);
  const d = model.head.layer.table.d;
  const out = matrix(want, d);
  let taken = 0;
  let pos = 0;
  const offset = Math.floor(stride / 2);
  for (const { data, targets } of evalOutputs(model, stream, opts)) {
    for (let r = 0; r < targets.length && taken < want; r++, pos++) {
      if (pos % stride !== offset) continue;
      out.data.set(data.subarray(r * d, (r + 1) * d), taken * d);
      taken++;
    }
    if (taken === want) break;
  }
  if (taken < want) throw new OptionError(`the evaluation split gives only ${taken} positions at stride ${stride}; ask for fewer queries or a smaller stride`);
  return out;
}

/** Progress of {@link trainEpoch}, reported after every batch. */
export interface EpochProgress {
  /** Batches done in this epoch. */
  batches: number;
  /** Batches in the epoch. */
  totalBatches: number;
  /** Tokens predicted so far in this epoch. */
  tokens: number;
  /** Mean head loss over the epoch so far. */
  meanLoss: number;
}

/** Options of {@link trainEpoch}. */
export interface TrainEpochOptions {
  /** Parallel columns `B` (default 20). */
  batchSize?: number;
  /** BPTT steps `T` (default 35). */
  seqLen?: number;
  /** Stop early when this returns true (checked before each batch; e.g. a time budget). */
  shouldStop?: () => boolean;
  /** Called after every batch. */
  onBatch?: (p: EpochProgress) => void;
}

/** Summary of an epoch. */
export interface EpochResult {
  /** Batches trained. */
  batches: number;
  /** Tokens predicted. */
  tokens: number;
  /** Mean head loss (sampled or full, as configured). */
  meanLoss: number;
  /** Whether `shouldStop` cut it short. */
  stopped: boolean;
}

/**
 * One pass over `stream` in contiguous BPTT batches (state reset at the start), one
 * {@link LstmLm.trainStep} per batch, then the head's end-of-epoch hook (an adaptive sampler's
 * full rebuild).
 */
export function trainEpoch(model: LstmLm, stream: Int32Array, rng: Rng, opts: TrainEpochOptions = {}): EpochResult {
  rejectUnknown(opts, ['batchSize', 'seqLen', 'shouldStop', 'onBatch'], 'trainEpoch');
  const batcher = new BpttBatcher(stream, {
    batchSize: intOption(opts.batchSize ?? 20, 'batchSize', 1),
    seqLen: intOption(opts.seqLen ?? 35, 'seqLen', 1),
  });
  model.resetState();
  let lossSum = 0;
  let tokens = 0;
  let batches = 0;
  let stopped = false;
  for (const batch of batcher) {
    if (opts.shouldStop?.()) {
      stopped = true;
      break;
    }
    const r = model.trainStep(batch, rng);
    lossSum += r.loss * r.tokens;
    tokens += r.tokens;
    batches++;
    opts.onBatch?.({ batches, totalBatches: batcher.numBatches, tokens, meanLoss: lossSum / tokens });
  }
  model.resetState();
  model.head.layer.endEpoch();
  return { batches, tokens, meanLoss: tokens ? lossSum / tokens : Number.NaN, stopped };
}

/**
 * The model's output vector after reading `prefix` from the zero state (no dropout): the query
 * whose softmax over the vocabulary is the next-word distribution.
 * @throws OptionError for an empty prefix
 */
export function nextWordQuery(model: LstmLm, prefix: Int32Array): Matrix {
  if (prefix.length === 0) throw new OptionError('nextWordQuery: the prefix is empty; give at least one word');
  const T = prefix.length;
  // the targets are not used for the queries; each input is its own placeholder target
  const batch = { index: 0, offset: 0, batch: 1, steps: T, inputs: prefix, targets: prefix };
  model.resetState();
  try {
    const { queries } = model.evalQueries(batch);
    try {
      const all = queries.dataSync() as Float32Array;
      const d = model.head.layer.table.d;
      const out = matrix(1, d);
      out.data.set(all.subarray((T - 1) * d, T * d));
      return out;
    } finally {
      queries.dispose();
    }
  } finally {
    model.resetState();
  }
}
