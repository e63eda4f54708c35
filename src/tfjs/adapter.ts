/**
 * TensorFlow.js adapter: samplex's output layer as a tfjs op. The op takes the model's query
 * vectors `[N, d]`, computes the sampled (or full) softmax loss with the {@link OutputLayer},
 * returns `dL/dh` to tfjs autodiff, and applies the class-table gradient sparsely through the
 * layer's optimizer: tfjs never sees the `n × d` table, so it never builds a dense gradient for
 * it. A tied input embedding ({@link TfOutputHead.embed}) reads the same table; its gradient is
 * merged with the output gradient and applied in the same sparse update.
 *
 * tfjs is an optional peer dependency: this module only imports its types, and the functions
 * take the tfjs namespace (`@tensorflow/tfjs-core` or `@tensorflow/tfjs`) as an argument, so it
 * works with whatever copy and backend (`cpu`, `wasm`, `webgl`, …) the application loaded.
 * @module
 */
import type * as tfc from '@tensorflow/tfjs-core';
import { OptionError, ShapeError, StateError } from '../core/errors.js';
import { checkLabels, singleLabels, type Labels, type Matrix } from '../core/matrix.js';
import type { Rng } from '../core/rng.js';
import { choiceOption, rejectUnknown } from '../core/validate.js';
import type { OutputLayer } from '../layer/outputLayer.js';
import { fullSoftmaxLoss } from '../loss/full.js';
import type { LossResult, SparseRowGrad } from '../loss/types.js';

/** The TensorFlow.js namespace (`import * as tf from '@tensorflow/tfjs-core'` or `@tensorflow/tfjs`). */
export type Tf = typeof tfc;

/** Which loss the head computes. */
export type HeadLoss = 'sampled' | 'full';

/** Options of {@link TfOutputHead}. */
export interface TfOutputHeadOptions {
  /**
   * `'sampled'` (default): the layer's sampled softmax (its sampler, negatives, convention).
   * `'full'`: the exact softmax over all `n` classes (every row of the table is updated each
   * step; the baseline).
   */
  loss?: HeadLoss;
}

/** Per-call options of {@link TfOutputHead.loss}. */
export interface HeadLossOptions {
  /** Generator for the negatives (unused by the full loss). */
  rng: Rng;
  /** Per-row weights (0 = padding); default all 1. */
  rowWeights?: Float32Array | null;
}

/** What the last completed step did (see {@link TfOutputHead.lastStep}). */
export interface HeadStepInfo {
  /** The loss of the batch before the update. */
  loss: number;
  /** Distinct class rows the update touched (ascending). */
  touchedIds: Int32Array;
}

/** Cumulative timing of the work done by samplex in the head. */
export interface HeadTiming {
  /** Completed updates. */
  steps: number;
  /** Milliseconds in the output layer: sampling, loss, gradients, the sparse update and sampler refresh. */
  outputMs: number;
}

/**
 * Merges sparse row gradients over the same table (ids ascending in each): the union of ids,
 * rows and biases summed.
 */
export function mergeRowGrads(a: SparseRowGrad, b: SparseRowGrad, d: number): SparseRowGrad {
  const hasBias = a.bias !== null || b.bias !== null;
  const ids: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.ids.length || j < b.ids.length) {
    const x = i < a.ids.length ? a.ids[i]! : Infinity;
    const y = j < b.ids.length ? b.ids[j]! : Infinity;
    ids.push(Math.min(x, y));
    if (x <= y) i++;
    if (y <= x) j++;
  }
  const k = ids.length;
  const rows = new Float32Array(k * d);
  const bias = hasBias ? new Float32Array(k) : null;
  for (const g of [a, b]) {
    let s = 0;
    for (let r = 0; r < g.ids.length; r++) {
      while (ids[s] !== g.ids[r]) s++;
      for (let t = 0; t < d; t++) rows[s * d + t] += g.rows[r * d + t]!;
      if (bias && g.bias) bias[s] += g.bias[r]!;
    }
  }
  return { ids: Int32Array.from(ids), rows, bias };
}

/**
 * Sums the gradient rows `dy[r, :]` of looked-up ids `ids[r]` per distinct id: the sparse
 * gradient of an embedding lookup (ids ascending; zero bias when the table has biases).
 */
export function embeddingRowGrad(ids: Int32Array, dy: Float32Array, d: number, hasBias: boolean): SparseRowGrad {
  const uniq = Int32Array.from(new Set(ids)).sort();
  const slot = new Map<number, number>();
  uniq.forEach((id, s) => slot.set(id, s));
  const rows = new Float32Array(uniq.length * d);
  for (let r = 0; r < ids.length; r++) {
    const o = slot.get(ids[r]!)! * d;
    for (let t = 0; t < d; t++) rows[o + t] += dy[r * d + t]!;
  }
  return { ids: uniq, rows, bias: hasBias ? new Float32Array(uniq.length) : null };
}

/** `g` with rows and bias multiplied by `s` (the incoming scalar gradient of the loss). */
function scaleRowGrad(g: SparseRowGrad, s: number): SparseRowGrad {
  if (s === 1) return g;
  const rows = g.rows.slice();
  for (let i = 0; i < rows.length; i++) rows[i] *= s;
  const bias = g.bias ? g.bias.map((v) => v * s) : null;
  return { ids: g.ids, rows, bias };
}

/**
 * A samplex {@link OutputLayer} as the softmax head of a TensorFlow.js model.
 *
 * - {@link TfOutputHead.loss} is a `tf.customGrad` op: forward computes the mean loss of the
 *   batch and its gradients with samplex; backward returns `dy · dL/dh` to tfjs and applies
 *   `dy · dL/dC` to the touched class rows with the layer's sparse optimizer.
 * - {@link TfOutputHead.embed} (optional tying) looks rows of the same class table up as input
 *   embeddings; its backward turns `dL/d(rows)` into a sparse row gradient that is merged with
 *   the output gradient, so the table gets one optimizer step per training step.
 *
 * Both ops also take a scalar anchor variable of the head as an input, so their backward runs
 * whenever tfjs differentiates with respect to all trainable variables (`optimizer.minimize`,
 * `tf.variableGrads`), even if nothing else upstream is trainable. Its gradient is always zero.
 *
 * The table update happens in backward: calling {@link TfOutputHead.loss} outside of a gradient
 * computation (or under `tf.tidy` only) changes nothing. Evaluate with the layer's
 * `evaluate`/`fullLoss` on the queries instead.
 */
export class TfOutputHead {
  /** The samplex output layer (class table, sampler, optimizer). */
  readonly layer: OutputLayer;
  /** Sampled or full softmax. */
  readonly lossKind: HeadLoss;
  /** Scalar variable (always 0) that ties the head's ops into tfjs autodiff. */
  readonly anchor: tfc.Variable;
  private readonly tf: Tf;
  private pending: SparseRowGrad | null = null;
  private pendingLoss = 0;
  /** Tied lookups made since the last loss forward (they belong to the next loss). */
  private embedsSinceLoss = 0;
  /** Tied lookups whose backward the staged update still waits for. */
  private embedsAwaited = 0;
  private last: HeadStepInfo | null = null;
  private readonly time: HeadTiming = { steps: 0, outputMs: 0 };

  /** @throws OptionError for unknown options or a bad loss kind */
  constructor(tf: Tf, layer: OutputLayer, opts: TfOutputHeadOptions = {}) {
    rejectUnknown(opts, ['loss'], 'TfOutputHead');
    if (!tf || typeof tf.customGrad !== 'function') throw new OptionError('TfOutputHead: pass the TensorFlow.js namespace (import * as tf from "@tensorflow/tfjs-core") as the first argument');
    this.tf = tf;
    this.layer = layer;
    this.lossKind = opts.loss === undefined ? 'sampled' : choiceOption(opts.loss, 'loss', ['sampled', 'full']);
    this.anchor = tf.variable(tf.scalar(0), true);
  }

  /** The last applied step (loss and touched rows), or null before the first. */
  get lastStep(): HeadStepInfo | null {
    return this.last;
  }

  /** Cumulative time spent in samplex's output layer (a copy). */
  get timing(): HeadTiming {
    return { ...this.time };
  }

  /** Resets {@link TfOutputHead.timing}. */
  resetTiming(): void {
    this.time.steps = 0;
    this.time.outputMs = 0;
  }

  /**
   * The mean softmax loss of `queries` `[N, d]` against `labels` as a tfjs scalar, with a
   * custom gradient (see the class notes).
   * @param labels one id per row (`Int32Array` of length N) or CSR {@link Labels}
   * @throws ShapeError (queries not `[N, d]` float32 with the table's d), LabelRangeError, and as {@link OutputLayer.computeGradients}
   */
  loss(queries: tfc.Tensor, labels: Labels | Int32Array, opts: HeadLossOptions): tfc.Scalar {
    const tf = this.tf;
    const d = this.layer.table.d;
    if (queries.rank !== 2 || queries.shape[1] !== d || queries.dtype !== 'float32') {
      throw new ShapeError(`TfOutputHead.loss: queries must be a float32 [N, ${d}] tensor (the table's d), got ${queries.dtype} [${queries.shape.join(', ')}]`);
    }
    const rows = queries.shape[0]!;
    const lab = labels instanceof Int32Array ? singleLabels(labels) : labels;
    checkLabels(lab, this.layer.table.n, rows, 'TfOutputHead.loss: labels');
    rejectUnknown(opts, ['rng', 'rowWeights'], 'TfOutputHead.loss options');
    // A step whose tied-embedding backward never ran is applied now rather than lost.
    this.flush();
    const embeds = this.embedsSinceLoss;
    this.embedsSinceLoss = 0;
    const op = tf.customGrad((...args: Array<tfc.Tensor | tfc.GradSaveFunc>) => {
      const t0 = performance.now();
      const q: Matrix = { data: (args[0] as tfc.Tensor).dataSync() as Float32Array, rows, cols: d };
      const res = this.compute(q, lab, opts);
      this.time.outputMs += performance.now() - t0;
      return {
        value: tf.scalar(res.loss),
        gradFunc: (dy: tfc.Tensor) => {
          const s = dy.dataSync()[0]!;
          this.stage(scaleRowGrad(res.gradClasses, s), res.loss, embeds);
          return [tf.mul(tf.tensor2d(res.gradQueries, [rows, d]), s), tf.zerosLike(this.anchor)];
        },
      };
    });
    return op(queries, this.anchor) as tfc.Scalar;
  }

  /**
   * Tied input embedding: the table rows of `ids`, as a float32 tensor of shape
   * `[...shape, d]` (default `[ids.length, d]`). Backward adds the sparse gradient of the rows
   * to the output gradient of the same step; the table is then updated once.
   * @throws ShapeError (shape does not match ids.length), LabelRangeError (ids out of range)
   */
  embed(ids: Int32Array, shape: readonly number[] = [ids.length]): tfc.Tensor {
    const tf = this.tf;
    const { n, d, weights } = this.layer.table;
    if (shape.reduce((a, b) => a * b, 1) !== ids.length) {
      throw new ShapeError(`TfOutputHead.embed: shape [${shape.join(', ')}] has ${shape.reduce((a, b) => a * b, 1)} entries but ids has ${ids.length}`);
    }
    checkLabels(singleLabels(ids), n, ids.length, 'TfOutputHead.embed: ids');
    const op = tf.customGrad(() => {
      const t0 = performance.now();
      const out = new Float32Array(ids.length * d);
      for (let r = 0; r < ids.length; r++) out.set(weights.subarray(ids[r]! * d, ids[r]! * d + d), r * d);
      this.time.outputMs += performance.now() - t0;
      this.embedsSinceLoss++;
      return {
        value: tf.tensor(out, [...shape, d]),
        gradFunc: (dy: tfc.Tensor) => {
          const t1 = performance.now();
          const g = embeddingRowGrad(ids, dy.dataSync() as Float32Array, d, this.layer.table.bias !== null);
          this.pending = this.pending ? mergeRowGrads(this.pending, g, d) : g;
          this.embedsAwaited--;
          this.time.outputMs += performance.now() - t1;
          if (this.embedsAwaited <= 0) this.flush();
          return [tf.zerosLike(this.anchor)];
        },
      };
    });
    return op(this.anchor);
  }

  /**
   * Applies a staged class gradient now (normally done by backward itself). Returns whether
   * there was one. Call it after a training step whose tied embedding was looked up but not
   * differentiated.
   */
  flush(): boolean {
    this.embedsAwaited = 0;
    const g = this.pending;
    if (!g) return false;
    this.pending = null;
    const t0 = performance.now();
    this.layer.applyGradients(g);
    this.time.outputMs += performance.now() - t0;
    this.time.steps++;
    this.last = { loss: this.pendingLoss, touchedIds: g.ids };
    return true;
  }

  /** Frees the anchor variable. */
  dispose(): void {
    this.anchor.dispose();
  }

  private compute(q: Matrix, labels: Labels, opts: HeadLossOptions): LossResult {
    if (this.lossKind === 'full') {
      return fullSoftmaxLoss({
        queries: q,
        table: this.layer.table,
        labels,
        rowWeights: opts.rowWeights ?? null,
        labelWeighting: this.layer.labelWeighting,
      });
    }
    return this.layer.computeGradients({ queries: q, labels, rng: opts.rng, rowWeights: opts.rowWeights ?? null });
  }

  /** Stages the output gradient; applies it at once unless a tied embedding's backward is still to come. */
  private stage(g: SparseRowGrad, loss: number, embeds: number): void {
    const t0 = performance.now();
    if (this.pending) {
      throw new StateError('TfOutputHead: a second loss backward ran before the staged update was applied; compute one loss per training step');
    }
    this.pending = g;
    this.pendingLoss = loss;
    this.embedsAwaited = embeds;
    this.time.outputMs += performance.now() - t0;
    if (embeds === 0) this.flush();
  }
}
