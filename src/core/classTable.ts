/**
 * The class table: `n` class embeddings of dimension `d` (row-major float32) and an
 * optional bias per class. Logits are `o_i = h · c_i + b_i`.
 * @module
 */
import { kernels } from '../kernels/index.js';
import { OptionError, ShapeError } from './errors.js';
import type { Rng } from './rng.js';
import { assertFinite, intOption, numOption } from './validate.js';

/** Initializers for {@link ClassTable.init}. */
export type TableInit = 'zeros' | 'normal' | 'uniform' | 'xavier';

/** Options of {@link ClassTable.init}. */
export interface TableInitOptions {
  /** Initializer (default `'normal'`). */
  init?: TableInit;
  /** Standard deviation (`normal`) or half-width (`uniform`); default `1/sqrt(d)`. Ignored by `xavier`/`zeros`. */
  scale?: number;
  /** Allocate a bias vector (initialized to zero). Default false. */
  bias?: boolean;
}

/** `n × d` class embeddings plus optional biases. Rows are views into one Float32Array. */
export class ClassTable {
  /** Number of classes. */
  readonly n: number;
  /** Embedding dimension. */
  readonly d: number;
  /** Row-major `n × d` embeddings. */
  readonly weights: Float32Array;
  /** Per-class bias, or `null` when the table has none. */
  readonly bias: Float32Array | null;

  /**
   * Wraps existing arrays (no copy). Checks shapes and finiteness.
   * @throws ShapeError, NonFiniteError
   */
  constructor(n: number, d: number, weights: Float32Array, bias: Float32Array | null = null) {
    intOption(n, 'n (number of classes)', 1);
    intOption(d, 'd (embedding dimension)', 1);
    if (weights.length !== n * d) {
      throw new ShapeError(`class table weights have length ${weights.length}, expected n*d = ${n}*${d} = ${n * d}`);
    }
    if (bias !== null && bias.length !== n) {
      throw new ShapeError(`class table bias has length ${bias.length}, expected n = ${n}`);
    }
    assertFinite(weights, 'class table weights', d);
    if (bias) assertFinite(bias, 'class table bias');
    this.n = n;
    this.d = d;
    this.weights = weights;
    this.bias = bias;
  }

  /**
   * Creates an initialized table. The values come from a generator split off `rng` (which
   * advances by one split) through `kernels.fillNormal` / `kernels.fillUniform` (their
   * reference in `kernels/ref` defines the values): the same seed gives the same table with the
   * TypeScript or the WebAssembly kernels, in Node and in browsers.
   */
  static init(n: number, d: number, rng: Rng, opts: TableInitOptions = {}): ClassTable {
    intOption(n, 'n (number of classes)', 1);
    intOption(d, 'd (embedding dimension)', 1);
    const init = opts.init ?? 'normal';
    const scale = opts.scale === undefined ? 1 / Math.sqrt(d) : numOption(opts.scale, 'scale', 0);
    if (init !== 'zeros' && init !== 'normal' && init !== 'uniform' && init !== 'xavier') {
      throw new OptionError(`unknown table init '${String(init)}'; use zeros, normal, uniform or xavier`);
    }
    const w = new Float32Array(n * d);
    if (init !== 'zeros') {
      const state = Int32Array.from(rng.split().state());
      if (init === 'normal') kernels.fillNormal(w, 0, w.length, state, scale, 0);
      else kernels.fillUniform(w, 0, w.length, state, init === 'xavier' ? Math.sqrt(6 / (n + d)) : scale);
    }
    return new ClassTable(n, d, w, opts.bias ? new Float32Array(n) : null);
  }

  /** View (no copy) of row `i`. */
  row(i: number): Float32Array {
    return this.weights.subarray(i * this.d, (i + 1) * this.d);
  }

  /** Logit of class `i` for the query `h[ho .. ho+d)`, in float64. */
  logit(h: Float32Array, ho: number, i: number): number {
    const d = this.d;
    const w = this.weights;
    const co = i * d;
    let s = 0;
    for (let k = 0; k < d; k++) s += h[ho + k]! * w[co + k]!;
    return this.bias ? s + this.bias[i]! : s;
  }

  /** Deep copy. */
  clone(): ClassTable {
    return new ClassTable(this.n, this.d, this.weights.slice(), this.bias ? this.bias.slice() : null);
  }

  /** Bytes held by the weights and bias. */
  get byteLength(): number {
    return this.weights.byteLength + (this.bias ? this.bias.byteLength : 0);
  }
}
