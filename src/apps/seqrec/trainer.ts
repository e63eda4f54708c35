/**
 * Training of the SASRec next-item model on a leave-one-out split: batches of user sequences
 * (the last `maxLen` training items, left-padded), the loss at every non-padding position, Adam
 * on the dense parameters and the head's sparse updates of the item table; full-ranking
 * evaluation; checkpoints that resume bit-for-bit.
 * @module
 */
import type * as tfc from '@tensorflow/tfjs-core';
import { StateError } from '../../core/errors.js';
import type { Matrix } from '../../core/matrix.js';
import { Rng } from '../../core/rng.js';
import { intOption, rejectUnknown } from '../../core/validate.js';
import type { EvalSplit, LeaveOneOutSplit } from '../../data/interactions.js';
import { DenseAdam } from '../../tfjs/denseAdam.js';
import { rankTargets, SEQREC_CUTOFFS, type RankingMetrics } from './evaluate.js';
import type { SeqRecHead } from './head.js';
import { padLeft, SasRec, type SasRecOptions, type SeqInput, type Tf } from './sasrec.js';

/** Options of {@link SeqRecTrainer}. */
export interface SeqRecTrainerOptions {
  /** The leave-one-out split to train on (training prefixes) and evaluate (valid / test targets). */
  split: LeaveOneOutSplit;
  /** The item head (tied lookup + output loss over the item table). */
  head: SeqRecHead;
  /** Seed of the model's initialization and of the training stream (default 1). */
  seed?: number;
  /** Model options (maxLen, blocks, heads, dropout). */
  model?: SasRecOptions;
  /** Sequences per batch (default 128). */
  batchSize?: number;
  /** Learning rate of the dense Adam (default 0.001). */
  lr?: number;
  /** Ranking cut-offs (default 10 and 20). */
  cutoffs?: readonly number[];
}

/** One training batch. */
export interface SeqBatch {
  /** Left-padded inputs. */
  input: SeqInput;
  /** `[B·L]` next item at each position, `-1` at padding. */
  targets: Int32Array;
  /** Number of non-padding targets. */
  positions: number;
}

/** What one epoch did. */
export interface EpochResult {
  /** Epochs completed. */
  epoch: number;
  /** Mean training loss over the epoch's batches. */
  loss: number;
  /** Training seconds of this epoch. */
  sec: number;
  /** Milliseconds of this epoch spent in the output layer and tied lookup. */
  outputMs: number;
}

/** Users whose training sequence has at least one target (two items or more). */
export function trainableUsers(split: LeaveOneOutSplit): Int32Array {
  const { offsets } = split.sequences;
  const out: number[] = [];
  for (let u = 0; u < split.sequences.numUsers; u++) if (split.trainEnd[u]! - offsets[u]! >= 2) out.push(u);
  return Int32Array.from(out);
}

/**
 * The batch of `users`: for each, the training sequence `s` gives inputs `s[0..T−1)` and targets
 * `s[1..T)`, both truncated to their last `maxLen` and left-padded with `-1`.
 */
export function trainingBatch(split: LeaveOneOutSplit, users: ArrayLike<number>, maxLen: number): SeqBatch {
  const B = users.length;
  const ids = new Int32Array(B * maxLen);
  const targets = new Int32Array(B * maxLen);
  const { items, offsets } = split.sequences;
  let positions = 0;
  for (let b = 0; b < B; b++) {
    const u = users[b]!;
    const s = offsets[u]!;
    const e = split.trainEnd[u]!;
    padLeft(ids, b, maxLen, items, s, e - 1);
    padLeft(targets, b, maxLen, items, s + 1, e);
    positions += Math.min(maxLen, e - s - 1);
  }
  return { input: { rows: B, ids }, targets, positions };
}

/** The inputs of an evaluation split for `users`: each user's items before the target, last `maxLen`, left-padded. */
export function evalInputs(split: LeaveOneOutSplit, which: EvalSplit, users: ArrayLike<number>, maxLen: number): SeqInput {
  const ids = new Int32Array(users.length * maxLen);
  const { items, offsets } = split.sequences;
  for (let b = 0; b < users.length; b++) padLeft(ids, b, maxLen, items, offsets[users[b]!]!, which.inputEnd[users[b]!]!);
  return { rows: users.length, ids };
}

/** Users scored per forward pass at evaluation. */
const EVAL_CHUNK = 256;

/**
 * Trains a {@link SasRec} with a {@link SeqRecHead}. Every random choice (initialization,
 * shuffling, dropout, negatives) comes from generators seeded by `seed`; {@link
 * SeqRecTrainer.stateTensors} and {@link SeqRecTrainer.loadState} checkpoint the whole state at
 * an epoch boundary so that a resumed run continues exactly as an uninterrupted one.
 */
export class SeqRecTrainer {
  /** The model. */
  readonly model: SasRec;
  /** The item head. */
  readonly head: SeqRecHead;
  /** The split. */
  readonly split: LeaveOneOutSplit;
  /** Sequences per batch. */
  readonly batchSize: number;
  /** Ranking cut-offs. */
  readonly cutoffs: readonly number[];
  /** The dense optimizer. */
  readonly adam: DenseAdam;
  private readonly tf: Tf;
  private rng: Rng;
  private readonly users: Int32Array;
  private epochs = 0;
  private stepCount = 0;
  private trainSeconds = 0;

  /** @throws OptionError (bad or unknown options), StateError (no user has a training target) */
  constructor(tf: Tf, opts: SeqRecTrainerOptions) {
    rejectUnknown(opts, ['split', 'head', 'seed', 'model', 'batchSize', 'lr', 'cutoffs'], 'SeqRecTrainer');
    this.tf = tf;
    this.split = opts.split;
    this.head = opts.head;
    const seed = intOption(opts.seed ?? 1, 'seed', 0, 2 ** 32 - 1);
    this.batchSize = intOption(opts.batchSize ?? 128, 'batchSize', 1);
    this.cutoffs = opts.cutoffs ?? SEQREC_CUTOFFS;
    this.model = new SasRec(tf, opts.head, Rng.fromSeed(seed, 0), opts.model ?? {});
    // The head's variables join the dense Adam: the adapter's anchor (its gradient is always
    // zero, so Adam leaves it at 0) or, for a plain tfjs head, its table.
    const dense = new Map(this.model.namedVariables);
    opts.head.variables.forEach((v, i) => dense.set(`head/${i}`, v));
    this.adam = new DenseAdam(tf, dense, { lr: opts.lr ?? 1e-3 });
    this.rng = Rng.fromSeed(seed, 1);
    this.users = trainableUsers(opts.split);
    if (this.users.length === 0) throw new StateError('SeqRecTrainer: no user has two or more training items; use a data set with longer sequences');
  }

  /** Epochs completed. */
  get epoch(): number {
    return this.epochs;
  }

  /** Training steps (batches) completed. */
  get steps(): number {
    return this.stepCount;
  }

  /** Training seconds so far (evaluation excluded). */
  get trainSec(): number {
    return this.trainSeconds;
  }

  /** Users with a training target (the sequences of an epoch). */
  get trainUsers(): number {
    return this.users.length;
  }

  /**
   * One training step on `batch`: forward, the head's loss at every non-padding position,
   * backward; Adam on the dense parameters (and the head's variables), the item table updated by
   * the head. Returns the loss.
   */
  step(batch: SeqBatch): number {
    const tf = this.tf;
    const vars = [...this.model.variables, ...this.head.variables];
    const loss = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => this.model.loss(batch.input, batch.targets, this.rng), vars);
      this.adam.apply(grads as Record<string, tfc.Tensor>);
      return value.dataSync()[0]!;
    });
    this.head.flush();
    this.stepCount++;
    return loss;
  }

  /**
   * One epoch over the trainable users in a fresh random order, then the head's end of epoch.
   * @param onBatch called after every batch with the sequences done so far and the batch loss
   */
  trainEpoch(onBatch?: (done: number, total: number, loss: number) => void): EpochResult {
    const t0 = performance.now();
    const out0 = this.head.outputMs;
    const order = this.users.slice();
    this.rng.shuffle(order);
    let sum = 0;
    let batches = 0;
    for (let s = 0; s < order.length; s += this.batchSize) {
      const users = order.subarray(s, Math.min(order.length, s + this.batchSize));
      const loss = this.step(trainingBatch(this.split, users, this.model.maxLen));
      sum += loss;
      batches++;
      onBatch?.(s + users.length, order.length, loss);
    }
    this.head.endEpoch();
    this.epochs++;
    const sec = (performance.now() - t0) / 1000;
    this.trainSeconds += sec;
    return { epoch: this.epochs, loss: sum / batches, sec, outputMs: this.head.outputMs - out0 };
  }

  /** The query vector of every user for an evaluation split (`[U, d]`). */
  queries(which: 'valid' | 'test'): Matrix {
    const sp = which === 'valid' ? this.split.valid : this.split.test;
    const U = this.split.sequences.numUsers;
    const d = this.model.dim;
    const data = new Float32Array(U * d);
    for (let s = 0; s < U; s += EVAL_CHUNK) {
      const users = Int32Array.from({ length: Math.min(EVAL_CHUNK, U - s) }, (_, i) => s + i);
      const q = this.model.lastQueries(evalInputs(this.split, sp, users, this.model.maxLen));
      data.set(q.data, s * d);
    }
    return { data, rows: U, cols: d };
  }

  /**
   * Full-ranking metrics of every user's validation or test target (see {@link rankTargets}):
   * `ndcg@k`, `recall@k`, `nll`.
   */
  evaluate(which: 'valid' | 'test'): RankingMetrics {
    const sp = which === 'valid' ? this.split.valid : this.split.test;
    return rankTargets(this.queries(which), this.head.table, sp.targets, sp.exclude, this.cutoffs);
  }

  /** The whole training state as named arrays (dense parameters, Adam, the head's table and optimizer, counters, rng). */
  stateTensors(): Record<string, Float32Array | Int32Array> {
    const out: Record<string, Float32Array | Int32Array> = {};
    for (const [name, v] of this.model.namedVariables) out[`dense/${name}`] = v.dataSync().slice() as Float32Array;
    Object.assign(out, this.adam.stateTensors(), this.head.stateTensors());
    out['trainer/counters'] = Int32Array.of(this.epochs, this.stepCount);
    out['trainer/rng'] = Int32Array.from(this.rng.state(), (w) => w | 0);
    out['trainer/trainSec'] = Float32Array.of(this.trainSeconds);
    return out;
  }

  /**
   * Restores {@link SeqRecTrainer.stateTensors} into a trainer built with the same options.
   * @throws StateError when the state is of a different model or data
   */
  loadState(state: Readonly<Record<string, ArrayLike<number>>>): void {
    for (const [name, v] of this.model.namedVariables) {
      const a = state[`dense/${name}`];
      if (!a || a.length !== v.size) throw new StateError(`the checkpoint's dense/${name} is missing or has the wrong size; it is of a different model (check --max-len, --blocks, --heads, --dim)`);
      v.assign(this.tf.tensor(Float32Array.from(a), v.shape));
    }
    this.adam.loadState(state);
    this.head.loadState(state);
    const c = state['trainer/counters'];
    const r = state['trainer/rng'];
    const t = state['trainer/trainSec'];
    if (!c || c.length !== 2 || !r || r.length !== 4 || !t) throw new StateError('the checkpoint has no trainer counters; it is not a seqrec checkpoint');
    this.epochs = c[0]!;
    this.stepCount = c[1]!;
    this.rng = Rng.fromState(Array.from(r, (w) => w >>> 0));
    this.trainSeconds = t[0]!;
  }

  /** Frees the model and optimizer tensors (not the head's). */
  dispose(): void {
    this.model.dispose();
    this.adam.dispose();
  }
}
