/**
 * The class table: `n` class embeddings of dimension `d` (row-major float32) and an
 * optional bias per class. Logits are `o_i = h · c_i + b_i`.
 * @module
 */
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

  /** Creates an initialized table; every random value comes from `rng`. */
  static init(n: number, d: number, rng: Rng, opts: TableInitOptions = {}): ClassTable {
    intOption(n, 'n (number of classes)', 1);
    intOption(d, 'd (embedding dimension)', 1);
    const w = new Float32Array(n * d);
    tableFiller(n, d, opts)(w, rng);
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

/**
 * The fill of {@link ClassTable.init} for an `n × d` table: a function that writes the next
 * `w.length` values of the initializer's stream into `w`. Filling consecutive pieces of the
 * table one after the other from the same `rng` gives the same values as one fill of the whole
 * table (this is how a sharded table is initialized).
 * @throws OptionError for an unknown initializer or a bad scale
 */
export function tableFiller(n: number, d: number, opts: TableInitOptions): (w: Float32Array, rng: Rng) => void {
  const init = opts.init ?? 'normal';
  const scale = opts.scale === undefined ? 1 / Math.sqrt(d) : numOption(opts.scale, 'scale', 0);
  switch (init) {
    case 'zeros':
      return () => {};
    case 'normal':
      return (w, rng) => {
        for (let i = 0; i < w.length; i++) w[i] = rng.normal() * scale;
      };
    case 'uniform':
      return (w, rng) => {
        for (let i = 0; i < w.length; i++) w[i] = (2 * rng.float() - 1) * scale;
      };
    case 'xavier': {
      const a = Math.sqrt(6 / (n + d));
      return (w, rng) => {
        for (let i = 0; i < w.length; i++) w[i] = (2 * rng.float() - 1) * a;
      };
    }
    default:
      throw new OptionError(`unknown table init '${String(init)}'; use zeros, normal, uniform or xavier`);
  }
}
