/**
 * Training and evaluation loops of the {@link LstmLm} language model over BPTT batches.
 * @module
 */
import { BpttBatcher } from '../data/bptt.js';
import { intOption, rejectUnknown } from '../core/validate.js';
import type { Rng } from '../core/rng.js';
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
  const batcher = new BpttBatcher(stream, {
    batchSize: intOption(opts.batchSize ?? 10, 'batchSize', 1),
    seqLen: intOption(opts.seqLen ?? 35, 'seqLen', 1),
  });
  const layer = model.head.layer;
  const d = layer.table.d;
  let total = 0;
  let tokens = 0;
  model.resetState();
  for (const batch of batcher) {
    const { queries, targets } = model.evalQueries(batch);
    const q = { data: queries.dataSync() as Float32Array, rows: targets.length, cols: d };
    const offsets = Int32Array.from({ length: targets.length + 1 }, (_, i) => i);
    total += layer.fullLoss(q, { ids: targets, offsets }) * targets.length;
    tokens += targets.length;
    queries.dispose();
  }
  model.resetState();
  const nll = total / tokens;
  return { nll, perplexity: Math.exp(nll), tokens };
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
