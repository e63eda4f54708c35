/**
 * The class table: `n` class embeddings of dimension `d` (row-major float32) and an
 * optional bias per class. Logits are `o_i = h · c_i + b_i`.
 * @module
 */
import { NORMAL_CHUNK, tableFills } from './fill.js';
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
    const w = new Float32Array(n * d);
    tableFiller(n, d, opts)(w, tableFillState(rng), 0);
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

/** The generator words of a table fill: one `split()` of `rng` (which advances by that split). */
export function tableFillState(rng: Rng): Int32Array {
  return Int32Array.from(rng.split().state());
}

/**
 * The fill of {@link ClassTable.init} for an `n × d` table: a function that writes the values at
 * positions `start … start + w.length − 1` of the initializer's stream (seeded by `state`, from
 * {@link tableFillState}) into `w`. Filling consecutive pieces of a table in order, each at its
 * position, gives the values of one fill of the whole table (this is how a sharded table is
 * initialized). The normal stream is addressed by position; the uniform one advances `state`, so
 * its pieces must come in order.
 * @throws OptionError for an unknown initializer or a bad scale
 */
export function tableFiller(n: number, d: number, opts: TableInitOptions): (w: Float32Array, state: Int32Array, start: number) => void {
  const init = opts.init ?? 'normal';
  const scale = opts.scale === undefined ? 1 / Math.sqrt(d) : numOption(opts.scale, 'scale', 0);
  switch (init) {
    case 'zeros':
      return () => {};
    case 'normal':
      return (w, state, start) => {
        // a piece that starts inside a chunk takes that chunk's tail, then whole chunks
        const skip = start % NORMAL_CHUNK;
        let head = 0;
        if (skip !== 0) {
          const tmp = new Float32Array(NORMAL_CHUNK);
          tableFills.normal(tmp, 0, NORMAL_CHUNK, state, scale, start - skip);
          head = Math.min(NORMAL_CHUNK - skip, w.length);
          w.set(tmp.subarray(skip, skip + head));
        }
        if (head < w.length) tableFills.normal(w, head, w.length - head, state, scale, start + head);
      };
    case 'uniform':
      return (w, state) => tableFills.uniform(w, 0, w.length, state, scale);
    case 'xavier': {
      const a = Math.sqrt(6 / (n + d));
      return (w, state) => tableFills.uniform(w, 0, w.length, state, a);
    }
    default:
      throw new OptionError(`unknown table init '${String(init)}'; use zeros, normal, uniform or xavier`);
  }
}
