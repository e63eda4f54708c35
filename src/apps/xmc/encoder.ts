/**
 * The extreme-classification encoder: a sparse input row → a dense query vector through a learned
 * embedding table and, optionally, one hidden layer. Forward and backward are written by hand;
 * the dense products go through `kernels.X`, and the gradient of the embedding table lists only
 * the rows of the inputs that occur in the batch.
 * @module
 */
import { ClassTable } from '../../core/classTable.js';
import { NonFiniteError, OptionError, ShapeError } from '../../core/errors.js';
import type { Matrix } from '../../core/matrix.js';
import type { Rng } from '../../core/rng.js';
import { intOption, numOption, rejectUnknown } from '../../core/validate.js';
import type { SparseRows } from '../../data/sparse.js';
import { kernels } from '../../kernels/index.js';
import type { SparseRowGrad } from '../../loss/types.js';

/** Options of {@link SparseEncoder.create}. */
export interface SparseEncoderOptions {
  /** Size of the input space (rows of the embedding table). */
  inputs: number;
  /** Output (query) dimension `d` (default 128). */
  dim?: number;
  /** Add a hidden layer `h = relu(W·e + b)` of width `d` after the embedding sum (default false). */
  hidden?: boolean;
  /** Generator of the initial weights. */
  rng: Rng;
  /**
   * Standard deviation of the initial embedding entries (default `1/√d`: an L2-normalized input
   * row then gives a query of norm about 1).
   */
  initScale?: number;
}

/** What {@link SparseEncoder.forward} keeps for the backward pass. */
export interface EncoderPass {
  /** Rows of the input matrix in this batch, in order. */
  readonly rows: Int32Array;
  /** `[B, d]` queries (the encoder's output). */
  readonly queries: Matrix;
  /** `[B, d]` embedding sums `e = Σ_j x_j E_j` (equal to `queries.data` without a hidden layer). */
  readonly sums: Float32Array;
  /** `[B, d]` hidden pre-activations `z = W·e + b` (empty without a hidden layer). */
  readonly pre: Float32Array;
}

/** Gradients of {@link SparseEncoder.backward}. */
export interface EncoderGrads {
  /** Gradient of the embedding table over the inputs present in the batch only (ids ascending). */
  readonly embedding: SparseRowGrad;
  /** Gradient of the hidden layer (all `d` rows and biases), or null without one. */
  readonly layer: SparseRowGrad | null;
}

/**
 * `e_r = Σ_j x_rj · E_j` over the non-zero inputs `j` of row `r`, then `h_r = relu(W e_r + b)`
 * with the hidden layer, else `h_r = e_r`. The embedding table `E` (`inputs × d`) and the
 * hidden layer (`W` as a `d × d` table whose row `i` produces output unit `i`, bias `b`) are
 * {@link ClassTable}s, so the sparse optimizers of `layer/optimizers` update them.
 */
export class SparseEncoder {
  /** Size of the input space. */
  readonly inputs: number;
  /** Query dimension. */
  readonly dim: number;
  /** The embedding table `E`. */
  readonly embedding: ClassTable;
  /** The hidden layer (`W`, `b`), or null. */
  readonly layer: ClassTable | null;
  private slot: Int32Array;

  /**
   * Wraps existing tables (no copy).
   * @throws ShapeError when the layer is not `d × d` with a bias
   */
  constructor(embedding: ClassTable, layer: ClassTable | null = null) {
    if (layer !== null && (layer.n !== embedding.d || layer.d !== embedding.d || layer.bias === null)) {
      throw new ShapeError(`the hidden layer must be a ${embedding.d}×${embedding.d} table with a bias, got ${layer.n}×${layer.d}`);
    }
    this.inputs = embedding.n;
    this.dim = embedding.d;
    this.embedding = embedding;
    this.layer = layer;
    this.slot = new Int32Array(embedding.n).fill(-1);
  }

  /**
   * A freshly initialized encoder: embeddings `N(0, initScale²)`; hidden weights
   * `N(0, 1/d)`, biases 0.
   * @throws OptionError for bad options
   */
  static create(opts: SparseEncoderOptions): SparseEncoder {
    rejectUnknown(opts, ['inputs', 'dim', 'hidden', 'rng', 'initScale'], 'SparseEncoder');
    const inputs = intOption(opts.inputs, 'inputs', 1);
    const d = intOption(opts.dim ?? 128, 'dim', 1, 4096);
    if (!opts.rng) throw new OptionError('SparseEncoder.create needs rng (a seeded Rng)');
    const scale = numOption(opts.initScale ?? 1 / Math.sqrt(d), 'initScale', 0);
    const embedding = ClassTable.init(inputs, d, opts.rng, { init: 'normal', scale });
    const layer = opts.hidden ? ClassTable.init(d, d, opts.rng, { init: 'normal', scale: 1 / Math.sqrt(d), bias: true }) : null;
    return new SparseEncoder(embedding, layer);
  }

  /**
   * Encodes rows `rows` of `x` (indices must be in `[0, inputs)`; not checked here, see
   * {@link checkInputs}).
   */
  forward(x: SparseRows, rows: Int32Array): EncoderPass {
    const d = this.dim;
    const B = rows.length;
    const E = this.embedding.weights;
    const sums = new Float32Array(B * d);
    for (let i = 0; i < B; i++) {
      const r = rows[i]!;
      const o = i * d;
      for (let k = x.offsets[r]!; k < x.offsets[r + 1]!; k++) {
        const v = x.values[k]!;
        const eo = x.indices[k]! * d;
        for (let t = 0; t < d; t++) sums[o + t] += v * E[eo + t]!;
      }
    }
    if (this.layer === null) return { rows, queries: { data: sums, rows: B, cols: d }, sums, pre: new Float32Array(0) };
    const pre = new Float32Array(B * d);
    kernels.matmulNT(sums, B, this.layer.weights, 0, d, d, pre);
    const b = this.layer.bias!;
    const h = new Float32Array(B * d);
    for (let i = 0; i < B; i++) {
      const o = i * d;
      for (let t = 0; t < d; t++) {
        const z = (pre[o + t] = pre[o + t]! + b[t]!);
        h[o + t] = z > 0 ? z : 0;
      }
    }
    return { rows, queries: { data: h, rows: B, cols: d }, sums, pre };
  }

  /**
   * Back-propagates `dL/dh` (`[B, d]`) of a {@link SparseEncoder.forward} pass through the same
   * `x`; returns the gradients (the tables are not changed).
   */
  backward(x: SparseRows, pass: EncoderPass, gradQueries: Float32Array): EncoderGrads {
    const d = this.dim;
    const B = pass.rows.length;
    if (gradQueries.length !== B * d) throw new ShapeError(`gradQueries has length ${gradQueries.length}, expected ${B}×${d}`);
    let gSum = gradQueries;
    let layer: SparseRowGrad | null = null;
    if (this.layer !== null) {
      const gz = new Float32Array(B * d);
      for (let i = 0; i < B * d; i++) gz[i] = pass.pre[i]! > 0 ? gradQueries[i]! : 0;
      gSum = new Float32Array(B * d);
      kernels.accumGradQueries(gz, B, this.layer.weights, 0, d, d, gSum);
      const rowsGrad = new Float32Array(d * d);
      kernels.accumGradClasses(gz, B, d, pass.sums, d, rowsGrad);
      const bias = new Float32Array(d);
      for (let i = 0; i < B; i++) for (let t = 0; t < d; t++) bias[t] += gz[i * d + t]!;
      const ids = new Int32Array(d);
      for (let t = 0; t < d; t++) ids[t] = t;
      layer = { ids, rows: rowsGrad, bias };
    }
    // Distinct inputs of the batch, ascending; slot[j] maps input j to its gradient row.
    const slot = this.slot;
    const seen: number[] = [];
    for (let i = 0; i < B; i++) {
      const r = pass.rows[i]!;
      for (let k = x.offsets[r]!; k < x.offsets[r + 1]!; k++) {
        const j = x.indices[k]!;
        if (slot[j] === -1) {
          slot[j] = 0;
          seen.push(j);
        }
      }
    }
    const ids = Int32Array.from(seen).sort();
    for (let c = 0; c < ids.length; c++) slot[ids[c]!] = c;
    const rowsGrad = new Float32Array(ids.length * d);
    for (let i = 0; i < B; i++) {
      const r = pass.rows[i]!;
      const go = i * d;
      for (let k = x.offsets[r]!; k < x.offsets[r + 1]!; k++) {
        const v = x.values[k]!;
        const o = slot[x.indices[k]!]! * d;
        for (let t = 0; t < d; t++) rowsGrad[o + t] += v * gSum[go + t]!;
      }
    }
    for (let c = 0; c < ids.length; c++) slot[ids[c]!] = -1;
    return { embedding: { ids, rows: rowsGrad, bias: null }, layer };
  }
}

/**
 * Checks that sparse input rows fit an encoder: CSR offsets, indices in `[0, inputs)`, finite values.
 * @throws ShapeError, NonFiniteError
 */
export function checkInputs(x: SparseRows, inputs: number, what = 'inputs'): void {
  const rows = x.offsets.length - 1;
  if (rows < 0 || x.offsets[0] !== 0 || x.offsets[rows] !== x.indices.length || x.values.length !== x.indices.length) {
    throw new ShapeError(`${what}: offsets must start at 0 and end at indices.length = values.length`);
  }
  for (let k = 0; k < x.indices.length; k++) {
    const j = x.indices[k]!;
    if (!(j >= 0 && j < inputs)) throw new ShapeError(`${what}: input index ${j} is outside [0, ${inputs}); use the featurizer the encoder was built for`);
    if (!Number.isFinite(x.values[k]!)) throw new NonFiniteError(`${what}: value ${x.values[k]} at entry ${k} is not finite; fix the input weights`, k);
  }
}
