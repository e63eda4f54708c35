/**
 * A word-level LSTM language model in TensorFlow.js whose softmax is a samplex
 * {@link TfOutputHead}: stacked LSTM layers over an input embedding (optionally tied to the
 * output class table), dropout, truncated back-propagation through time with the recurrent
 * state carried across batches, Adam on the dense parameters (the class table is updated
 * sparsely by the head's own optimizer).
 * @module
 */
import type * as tfc from '@tensorflow/tfjs-core';
import { OptionError, ShapeError } from '../../core/errors.js';
import type { Rng } from '../../core/rng.js';
import { intOption, numOption, rejectUnknown } from '../../core/validate.js';
import type { BpttBatch } from '../../data/bptt.js';
import type { Tf, TfOutputHead } from '../../tfjs/adapter.js';
import { DenseAdam } from '../../tfjs/denseAdam.js';

/** Options of {@link LstmLm}. */
export interface LstmLmOptions {
  /** Input embedding width (default: the head's class-table width `d`; must equal it when tied). */
  embedDim?: number;
  /** Stacked LSTM layers (default 2). */
  layers?: number;
  /** Dropout rate on the embeddings, between layers and on the last layer's output (default 0.2). */
  dropout?: number;
  /** Read the input embedding from the head's class table (default false). */
  tied?: boolean;
  /** Adam learning rate of the dense parameters (default 0.001). */
  lr?: number;
  /** Clip the global norm of the dense gradients to this (default 5; 0 = no clipping). */
  clipNorm?: number;
}

/** Result of one training step. */
export interface LmStepResult {
  /** The head's loss on the batch (sampled or full, as configured), before the update. */
  loss: number;
  /** Predicted tokens in the batch. */
  tokens: number;
}

/**
 * 2-layer (by default) LSTM language model. The hidden width is the head's class-table width
 * `d` (the last layer's output is the query of the softmax). Every random choice (initial
 * weights, dropout masks) takes an explicit {@link Rng}.
 */
export class LstmLm {
  /** The softmax head (class table, sampler, sparse optimizer). */
  readonly head: TfOutputHead;
  /** Hidden width = query width `d`. */
  readonly hidden: number;
  /** Input embedding width. */
  readonly embedDim: number;
  /** LSTM layers. */
  readonly layers: number;
  /** Dropout rate. */
  readonly dropout: number;
  /** Whether the input embedding is the class table. */
  readonly tied: boolean;
  /** Dense trainable variables (embedding when untied, per layer `Wx`, `Wh`, `b`). */
  readonly variables: tfc.Variable[];
  private readonly tf: Tf;
  private readonly embedding: tfc.Variable | null;
  private readonly cells: Array<{ wx: tfc.Variable; wh: tfc.Variable; b: tfc.Variable }>;
  private readonly optimizer: DenseAdam;
  private readonly clipNorm: number;
  private state: { h: tfc.Tensor2D[]; c: tfc.Tensor2D[] } | null = null;

  /** @throws OptionError (bad or unknown options, tied with embedDim ≠ d) */
  constructor(tf: Tf, head: TfOutputHead, rng: Rng, opts: LstmLmOptions = {}) {
    rejectUnknown(opts, ['embedDim', 'layers', 'dropout', 'tied', 'lr', 'clipNorm'], 'LstmLm');
    this.tf = tf;
    this.head = head;
    const { n, d } = head.layer.table;
    this.hidden = d;
    this.tied = opts.tied ?? false;
    this.embedDim = opts.embedDim === undefined ? d : intOption(opts.embedDim, 'embedDim', 1);
    if (this.tied && this.embedDim !== d) {
      throw new OptionError(`LstmLm: tied embeddings read the class table, so embedDim must equal its width ${d} (got ${this.embedDim}); drop embedDim or tied`);
    }
    this.layers = intOption(opts.layers ?? 2, 'layers', 1, 16);
    this.dropout = numOption(opts.dropout ?? 0.2, 'dropout', 0, 1);
    if (this.dropout >= 1) throw new OptionError('LstmLm: dropout must be below 1');
    this.clipNorm = numOption(opts.clipNorm ?? 5, 'clipNorm', 0);
    const H = d;
    const uniform = (len: number, scale: number): Float32Array => Float32Array.from({ length: len }, () => (2 * rng.float() - 1) * scale);
    this.embedding = this.tied ? null : tf.variable(tf.tensor2d(uniform(n * this.embedDim, 0.1), [n, this.embedDim]), true, undefined);
    this.cells = [];
    for (let l = 0; l < this.layers; l++) {
      const inDim = l === 0 ? this.embedDim : H;
      const bias = new Float32Array(4 * H);
      bias.fill(1, H, 2 * H); // forget-gate bias 1
      this.cells.push({
        wx: tf.variable(tf.tensor2d(uniform(inDim * 4 * H, 1 / Math.sqrt(H)), [inDim, 4 * H])),
        wh: tf.variable(tf.tensor2d(uniform(H * 4 * H, 1 / Math.sqrt(H)), [H, 4 * H])),
        b: tf.variable(tf.tensor1d(bias)),
      });
    }
    this.variables = [...(this.embedding ? [this.embedding] : []), ...this.cells.flatMap((c) => [c.wx, c.wh, c.b])];
    // tfjs's Adam keys its state by position and process-unique names; DenseAdam's named state restores exactly
    this.optimizer = new DenseAdam(tf, new Map(this.variables.map((v, i) => [`var.${i}`, v])), {
      lr: numOption(opts.lr ?? 0.001, 'lr', 0, Infinity, true),
      beta2: 0.999,
    });
  }

  /** Forgets the recurrent state (the next batch starts from zeros). */
  resetState(): void {
    if (this.state) this.tf.dispose([...this.state.h, ...this.state.c]);
    this.state = null;
  }

  /**
   * One training step on a BPTT batch: forward with dropout, the head's loss on all `B·T`
   * next-token predictions, backward, Adam on the dense parameters (gradients clipped by
   * global norm) and the head's sparse class-table update. The final recurrent state is kept
   * (detached) for the next batch.
   * @throws ShapeError when the batch size changes without {@link LstmLm.resetState}
   */
  trainStep(batch: BpttBatch, rng: Rng): LmStepResult {
    const tf = this.tf;
    const { targets } = timeMajor(batch);
    let lossValue = 0;
    tf.tidy(() => {
      const trainable = [...this.variables, this.head.anchor];
      const { value, grads } = tf.variableGrads(() => {
        const q = this.forward(batch, rng);
        return this.head.loss(q, targets, { rng });
      }, trainable);
      lossValue = value.dataSync()[0]!;
      const dense: Record<string, tfc.Tensor> = {};
      for (const v of this.variables) dense[v.name] = grads[v.name]!;
      this.optimizer.apply(this.clip(dense));
    });
    return { loss: lossValue, tokens: targets.length };
  }

  /**
   * The queries `[T·B, d]` of a batch without dropout (evaluation), time-major: row `t·B + b`
   * predicts `targets[b·T + t]`. Carries the recurrent state like training. The caller owns
   * (and disposes) the returned tensor.
   */
  evalQueries(batch: BpttBatch): { queries: tfc.Tensor2D; targets: Int32Array } {
    const { targets } = timeMajor(batch);
    const queries = this.tf.tidy(() => this.forward(batch, null));
    return { queries, targets };
  }

  /**
   * The dense parameters (`var.<i>`, in {@link LstmLm.variables} order) and Adam's state
   * (`adam/t`, `adam/m/var.<i>`, `adam/v/var.<i>`) as float32 arrays, for checkpoints.
   */
  async denseState(): Promise<Record<string, { data: Float32Array; shape: number[] }>> {
    const out: Record<string, { data: Float32Array; shape: number[] }> = {};
    this.variables.forEach((v, i) => {
      out[`var.${i}`] = { data: Float32Array.from(v.dataSync()), shape: v.shape.slice() };
    });
    for (const [k, a] of Object.entries(this.optimizer.stateTensors())) out[k] = { data: Float32Array.from(a), shape: [a.length] };
    return out;
  }

  /**
   * Restores {@link LstmLm.denseState} of a model with the same shapes.
   * @throws ShapeError when a tensor is missing or has another shape; StateError when the
   *   optimizer state is missing or of another model
   */
  async loadDenseState(state: Readonly<Record<string, { data: Float32Array; shape: readonly number[] }>>): Promise<void> {
    const tf = this.tf;
    this.variables.forEach((v, i) => {
      const s = state[`var.${i}`];
      if (!s || s.shape.length !== v.shape.length || s.shape.some((x, k) => x !== v.shape[k])) {
        throw new ShapeError(`LstmLm.loadDenseState: parameter ${i} should have shape [${v.shape.join(', ')}]; the checkpoint is of another model (check --dim, --layers, --tied)`);
      }
      v.assign(tf.tensor(s.data, v.shape));
    });
    const adam: Record<string, Float32Array> = {};
    for (const [k, s] of Object.entries(state)) if (k.startsWith('adam/')) adam[k] = s.data;
    this.optimizer.loadState(adam);
  }

  /** Disposes the variables, the optimizer and the state (not the head). */
  dispose(): void {
    this.resetState();
    this.tf.dispose(this.variables);
    this.optimizer.dispose();
  }

  /** Forward pass: queries `[T·B, d]` (time-major); keeps the final state. `rng` null = no dropout. */
  private forward(batch: BpttBatch, rng: Rng | null): tfc.Tensor2D {
    const tf = this.tf;
    const { batch: B, steps: T } = batch;
    const H = this.hidden;
    const { inputs } = timeMajor(batch);
    if (this.state && this.state.h[0]!.shape[0] !== B) {
      throw new ShapeError(`LstmLm: batch of ${B} rows after batches of ${this.state.h[0]!.shape[0]}; call resetState() first`);
    }
    let x: tfc.Tensor2D = this.embedding
      ? (tf.gather(this.embedding, tf.tensor1d(inputs, 'int32')) as tfc.Tensor2D)
      : (this.head.embed(inputs) as tfc.Tensor2D);
    x = this.drop(x, rng);
    const h0 = this.state?.h ?? this.cells.map(() => tf.zeros([B, H]) as tfc.Tensor2D);
    const c0 = this.state?.c ?? this.cells.map(() => tf.zeros([B, H]) as tfc.Tensor2D);
    const hN: tfc.Tensor2D[] = [];
    const cN: tfc.Tensor2D[] = [];
    for (let l = 0; l < this.layers; l++) {
      const cell = this.cells[l]!;
      // input projections of all steps in one product, then the recurrence step by step
      const xw = tf.add(tf.matMul(x, cell.wx), cell.b).reshape([T, B, 4 * H]);
      const xs = tf.unstack(xw, 0) as tfc.Tensor2D[];
      let h = h0[l]!;
      let c = c0[l]!;
      const outs: tfc.Tensor2D[] = [];
      for (let t = 0; t < T; t++) {
        const z = tf.add(xs[t]!, tf.matMul(h, cell.wh));
        const [zi, zf, zg, zo] = tf.split(z, 4, 1) as tfc.Tensor2D[];
        c = tf.add(tf.mul(tf.sigmoid(zf!), c), tf.mul(tf.sigmoid(zi!), tf.tanh(zg!)));
        h = tf.mul(tf.sigmoid(zo!), tf.tanh(c));
        outs.push(h);
      }
      hN.push(tf.keep(h.clone()));
      cN.push(tf.keep(c.clone()));
      x = this.drop(tf.concat(outs, 0), rng);
    }
    if (this.state) tf.dispose([...this.state.h, ...this.state.c]);
    this.state = { h: hN, c: cN };
    return x;
  }

  /** Inverted dropout with a mask drawn from `rng` (identity when `rng` is null or the rate is 0). */
  private drop(x: tfc.Tensor2D, rng: Rng | null): tfc.Tensor2D {
    if (rng === null || this.dropout === 0) return x;
    const keep = 1 - this.dropout;
    const mask = new Float32Array(x.size);
    for (let i = 0; i < mask.length; i++) mask[i] = rng.float() < keep ? 1 / keep : 0;
    return this.tf.mul(x, this.tf.tensor2d(mask, x.shape));
  }

  /** Scales the gradients so that their global norm is at most `clipNorm`. */
  private clip(grads: Record<string, tfc.Tensor>): Record<string, tfc.Tensor> {
    if (this.clipNorm === 0) return grads;
    const tf = this.tf;
    const sq = Object.values(grads).map((g) => tf.sum(tf.square(g)));
    const norm = Math.sqrt(tf.addN(sq).dataSync()[0]!);
    if (!(norm > this.clipNorm)) return grads;
    const s = this.clipNorm / norm;
    const out: Record<string, tfc.Tensor> = {};
    for (const [k, g] of Object.entries(grads)) out[k] = tf.mul(g, s);
    return out;
  }
}

/** Inputs and targets of a batch-major BPTT batch in time-major order (`t·B + b`). */
export function timeMajor(batch: BpttBatch): { inputs: Int32Array; targets: Int32Array } {
  const { batch: B, steps: T } = batch;
  const inputs = new Int32Array(B * T);
  const targets = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      inputs[t * B + b] = batch.inputs[b * T + t]!;
      targets[t * B + b] = batch.targets[b * T + t]!;
    }
  }
  return { inputs, targets };
}
