/**
 * Quadratic-kernel adaptive sampler (Blanc & Rendle, ICML 2018).
 *
 * Proposal `q(i | h) ∝ K(h, c_i) = α (h̃·c̃_i)² + 1` with biases folded in as
 * `h̃ = [h, 1]`, `c̃_i = [c_i, b_i]`. The feature map is the symmetric upper-triangle form
 * `φ(x) = [√α · (x_k x_l · (k<l ? √2 : 1))_{k≤l}; 1]`, so a node score is
 * `α · h̃ᵀ Z(S) h̃ + |S|` with `Z(S) = Σ_{i∈S} c̃_i c̃_iᵀ` kept as a float64 upper triangle
 * (`d'(d'+1)/2` entries, `d' = d + 1` with biases): `O(d²)` per node, `O(d²)` memory per node.
 * Fat leaves score their classes directly with `K`, so the reported `log q` telescopes to
 * `K(h,c_i) / Σ_j K(h,c_j)` exactly (up to rounding).
 *
 * The same distribution can also be drawn densely: score every class with one matrix product
 * (`O(n·d)` per query through the fast float32 kernels), then draw from the prefix sums of
 * `K`. Which is cheaper depends on `n`, `d` and the draws per query: a tree draw costs
 * `O(d²·log n)`, so at `d = 200` and `n = 43 401` (the Brown vocabulary) a scan of all classes
 * costs about as much as 17 tree draws, and with 100 draws per query the scan is 6× faster.
 * {@link QuadraticSampler} picks the method (`method: 'auto'`, {@link chooseQuadraticMethod}) or
 * takes the one it is given.
 * @module
 */
import type { ClassTable } from '../core/classTable.js';
import { StateError } from '../core/errors.js';
import type { Labels, Matrix } from '../core/matrix.js';
import type { Rng } from '../core/rng.js';
import { choiceOption, intOption, numOption, rejectUnknown } from '../core/validate.js';
import { SamplerBase, type RowDistribution } from './base.js';
import { denseDots, GROUP_ELEMS, type ExactPrecision } from './exact.js';
import { KernelTreeSampler, type TreeKernel } from './kernelTree.js';
import type { Draws, SampleOptions, SampleWithLogQ, Sampler, SamplerRows, SamplerStats } from './types.js';

/** How {@link QuadraticSampler} draws: see {@link QuadraticOptions.method}. */
export type QuadraticMethod = 'auto' | 'tree' | 'dense';

/** Options of {@link QuadraticTreeSampler}. */
export interface QuadraticTreeOptions {
  /** Kernel weight `α` in `α(h·c)² + 1` (default 100). */
  alpha?: number;
  /**
   * Maximum classes per fat leaf. Default: `max(64, 2·d')` rounded up to a power of two, which
   * keeps the node summaries (`≈ 2n/leaf · d'²/2` float64) at or below the size of the table.
   */
  leafSize?: number;
}

/** Options of {@link QuadraticDenseSampler}. */
export interface QuadraticDenseOptions {
  /** Kernel weight `α` in `α(h·c)² + 1` (default 100). */
  alpha?: number;
  /**
   * Precision of the dot products `h·c_i + b_i` (default `'float32'`, through the active fast
   * kernels; `'float64'` is exact up to float64 rounding and slower). The kernel and its sums are
   * float64 either way, and the reported `log q` is that of the distribution actually drawn (up to
   * the rounding of the float64 prefix sums the draws search).
   */
  precision?: ExactPrecision;
}

/** Options of {@link QuadraticSampler}: those of both methods, and the method. */
export interface QuadraticOptions extends QuadraticTreeOptions, QuadraticDenseOptions {
  /**
   * `'tree'`: the divide-and-conquer tree, `O(d²·log n)` per draw, sublinear in `n`, with
   * `O(d²·log n)` work per changed row in `update`. `'dense'`: every class scored per query,
   * `O(n·d)` per query through the fast matrix kernels, nothing to maintain. `'auto'` (default):
   * chosen at `build` by {@link chooseQuadraticMethod}. Both draw from the same distribution.
   */
  method?: QuadraticMethod;
}

/** Option names accepted by {@link QuadraticSampler} (and routed to it by the CLI). */
export const QUADRATIC_OPTIONS = ['alpha', 'leafSize', 'precision', 'method'] as const;

/**
 * `'auto'` picks the dense scan when scoring all `n` classes takes no more multiply-adds than this
 * many tree draws (see {@link chooseQuadraticMethod}). Calibrated with `bench/quadratic-methods.ts`
 * (2 cores, WebAssembly kernels, m = 100 draws per query): the scan took 0.17× the tree's time at
 * n = 43 401, d = 200 (where the rule's ratio `n·d' / (200 · tree draw)` is 0.18), 0.44× at
 * n = 10^5, d = 128 (ratio 0.48) and 5.8× at n = 10^6, d = 64 (ratio 7.7).
 */
export const AUTO_SCAN_DRAWS = 200;

/** The tree's default leaf size for stored rows of width `rowDim` (`max(64, 2·rowDim)` rounded up to a power of two). */
function defaultLeafSize(rowDim: number): number {
  let l = 64;
  while (l < 2 * rowDim) l *= 2;
  return l;
}

/**
 * The method `'auto'` picks for `n` classes of stored width `rowDim` (`d`, plus one with biases):
 * `'dense'` when scoring all classes (`n·rowDim` multiply-adds) costs no more than
 * {@link AUTO_SCAN_DRAWS} tree draws (each `rowDim(rowDim+1)/2` multiply-adds per level below the
 * root, plus `leafSize·rowDim` in the leaf), else `'tree'`. The tree's cost grows with the draws
 * per query and the dense scan's does not, so with many more than 100 draws per query the dense
 * method pays at larger `n` than this rule says, and with a few draws the tree pays earlier.
 */
export function chooseQuadraticMethod(n: number, rowDim: number, leafSize = defaultLeafSize(rowDim)): 'tree' | 'dense' {
  const levels = Math.max(1, Math.ceil(Math.log2(Math.max(1, n / leafSize))));
  const treeDraw = ((rowDim * (rowDim + 1)) / 2) * levels + leafSize * rowDim;
  return n * rowDim <= AUTO_SCAN_DRAWS * treeDraw ? 'dense' : 'tree';
}

/** The quadratic kernel on stored rows `[c, b]` (or `c` without biases). */
class QuadraticKernel implements TreeKernel {
  readonly rowDim: number;
  readonly summaryDim: number;
  readonly eps = 0;
  readonly perClass = 1;
  constructor(
    dim: number,
    private readonly alpha: number,
  ) {
    this.rowDim = dim;
    this.summaryDim = (dim * (dim + 1)) / 2;
  }

  accumulate(rows: Float32Array, ro: number, count: number, sign: number, z: Float64Array, zo: number): void {
    const D = this.rowDim;
    let r = 0;
    // four rows per pass over the summary: a quarter of the read-modify-writes of z
    for (; r + 3 < count; r += 4) {
      const b0 = ro + r * D;
      const b1 = b0 + D;
      const b2 = b1 + D;
      const b3 = b2 + D;
      let idx = zo;
      for (let k = 0; k < D; k++) {
        const c0 = sign * rows[b0 + k]!;
        const c1 = sign * rows[b1 + k]!;
        const c2 = sign * rows[b2 + k]!;
        const c3 = sign * rows[b3 + k]!;
        for (let l = k; l < D; l++) {
          z[idx++] += c0 * rows[b0 + l]! + c1 * rows[b1 + l]! + c2 * rows[b2 + l]! + c3 * rows[b3 + l]!;
        }
      }
    }
    for (; r < count; r++) {
      const base = ro + r * D;
      let idx = zo;
      for (let k = 0; k < D; k++) {
        const ck = sign * rows[base + k]!;
        for (let l = k; l < D; l++) z[idx++] += ck * rows[base + l]!;
      }
    }
  }

  featurize(q: Float64Array, qo: number, qf: Float64Array, fo: number): void {
    const D = this.rowDim;
    const a = this.alpha;
    let idx = fo;
    for (let k = 0; k < D; k++) {
      const qk = a * q[qo + k]!;
      qf[idx++] = qk * q[qo + k]!;
      const q2 = 2 * qk;
      for (let l = k + 1; l < D; l++) qf[idx++] = q2 * q[qo + l]!;
    }
  }

  leafWeight(s: number): number {
    return this.alpha * s * s + 1;
  }

  clampMass(raw: number, size: number): number {
    // every class weighs at least 1; the sum is exact up to rounding
    return Math.max(raw, size);
  }
}

/**
 * Adaptive sampler with `q(i|h) ∝ α([h,1]·[c_i,b_i])² + 1` (Blanc & Rendle), drawn through a
 * divide-and-conquer tree in `O(d² log n)` per draw: the `'tree'` method of {@link QuadraticSampler}.
 */
export class QuadraticTreeSampler extends KernelTreeSampler {
  readonly name = 'quadratic';
  /** Kernel weight `α`. */
  readonly alpha: number;
  private readonly leafOpt: number | undefined;
  private withBias = false;

  /** @throws OptionError for unknown or invalid options */
  constructor(opts: QuadraticTreeOptions = {}) {
    super();
    rejectUnknown(opts, ['alpha', 'leafSize'], 'quadratic tree sampler');
    this.alpha = opts.alpha === undefined ? 100 : numOption(opts.alpha, 'alpha', 0, 1e12, true);
    this.leafOpt = opts.leafSize === undefined ? undefined : intOption(opts.leafSize, 'leafSize', 1);
  }

  protected makeKernel(table: ClassTable): TreeKernel {
    this.withBias = table.bias !== null;
    return new QuadraticKernel(table.d + (this.withBias ? 1 : 0), this.alpha);
  }

  protected storeRow(table: ClassTable, i: number, out: Float32Array): void {
    const d = table.d;
    out.set(table.weights.subarray(i * d, (i + 1) * d));
    if (this.withBias) out[d] = table.bias![i]!;
  }

  protected storeQuery(h: Float32Array, ho: number, out: Float64Array, oo: number): void {
    const d = this.dim;
    for (let k = 0; k < d; k++) out[oo + k] = h[ho + k]!;
    if (this.withBias) out[oo + d] = 1;
  }

  protected leafSizeFor(_table: ClassTable, kernel: TreeKernel): number {
    return this.leafOpt ?? defaultLeafSize(kernel.rowDim);
  }

  stats(): SamplerStats {
    return { ...this.treeStats(), alpha: this.alpha, bias: this.withBias };
  }
}

/**
 * Adaptive sampler with the quadratic kernel's distribution `q(i|h) ∝ α(h·c_i + b_i)² + 1`, drawn
 * densely: the scores of a group of queries against every class come from one matrix product
 * (the active `kernels.matmulNT`), each query's `K` values are summed into prefix sums, and a draw
 * is a binary search, so a query costs `O(n·d)` once plus `O(log n)` per draw. It reads the live
 * table given to `build` (like the exact sampler), so `update` only validates ids. The `'dense'`
 * method of {@link QuadraticSampler}.
 */
export class QuadraticDenseSampler extends SamplerBase {
  readonly name = 'quadratic';
  readonly adaptive = true;
  /** Kernel weight `α`. */
  readonly alpha: number;
  /** Precision of the dot products. */
  readonly precision: ExactPrecision;
  private table: ClassTable | null = null;
  /** `K` of the query rows `[g0, g0 + g)` of the current batch, row-major `g × n`. */
  private k = new Float64Array(0);
  private g0 = 0;
  private g = 0;
  private queries: Matrix | null = null;
  private readonly row = new PrefixRow();

  /** @throws OptionError for unknown or invalid options */
  constructor(opts: QuadraticDenseOptions = {}) {
    super();
    rejectUnknown(opts, ['alpha', 'precision'], 'quadratic dense sampler');
    this.alpha = opts.alpha === undefined ? 100 : numOption(opts.alpha, 'alpha', 0, 1e12, true);
    this.precision = opts.precision === undefined ? 'float32' : choiceOption(opts.precision, 'precision', ['float32', 'float64']);
  }

  /** Keeps a reference to `table`; later changes to its rows are seen by every draw. */
  build(table: ClassTable): void {
    this.table = table;
    this.n = table.n;
    this.dim = table.d;
    this.built = true;
  }

  stats(): SamplerStats {
    return { sampler: this.name, method: 'dense', n: this.n, d: this.dim, built: this.built, alpha: this.alpha, precision: this.precision, memoryBytes: this.k.byteLength };
  }

  protected override beginRows(queries: Matrix | null): void {
    this.queries = queries;
    this.g = 0;
  }

  protected override endRows(): void {
    this.queries = null;
    this.g = 0;
  }

  /**
   * Row `row`'s distribution. Rows are scored in groups (one matrix product per group), so a
   * batch asks for its rows in increasing order; the returned object is valid until the next call.
   */
  protected rowDistribution(queries: Matrix | null, row: number): RowDistribution {
    const q = queries!;
    const n = this.n;
    if (row < this.g0 || row >= this.g0 + this.g) {
      // outside a batch (no beginRows) the row is scored alone and kept for no other call
      const inBatch = q === this.queries;
      const rows = inBatch ? Math.max(1, Math.min(q.rows - row, Math.floor(GROUP_ELEMS / n))) : 1;
      if (this.k.length < rows * n) this.k = new Float64Array(rows * n);
      denseDots(this.table!, this.precision, q, row, rows, this.k, this.alpha);
      this.g0 = row;
      this.g = inBatch ? rows : 0;
    }
    this.row.set(this.k, (row - this.g0) * n, n);
    return this.row;
  }
}

/** One row's distribution `w_i / Σ w` from positive weights, drawn by binary search in prefix sums. */
class PrefixRow implements RowDistribution {
  lastLogQ = 0;
  private cum = new Float64Array(0);
  private w: Float64Array = new Float64Array(0);
  private o = 0;
  private n = 0;
  private total = 0;
  private logTotal = 0;

  /** Takes the weights `w[o .. o+n)` (kept by reference) and builds the prefix sums. */
  set(w: Float64Array, o: number, n: number): void {
    if (this.cum.length < n) this.cum = new Float64Array(n);
    const c = this.cum;
    let acc = 0;
    for (let i = 0; i < n; i++) {
      acc += w[o + i]!;
      c[i] = acc;
    }
    this.w = w;
    this.o = o;
    this.n = n;
    this.total = acc;
    this.logTotal = Math.log(acc);
  }

  draw(rng: Rng): number {
    const c = this.cum;
    const u = rng.float() * this.total;
    // smallest i with c[i] > u
    let lo = 0;
    let hi = this.n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (c[mid]! > u) hi = mid;
      else lo = mid + 1;
    }
    this.lastLogQ = this.logProb(lo);
    return lo;
  }

  logProb(id: number): number {
    return Math.log(this.w[this.o + id]!) - this.logTotal;
  }

  /** `log Σ K(h, c_i)`. */
  get logMass(): number {
    return this.logTotal;
  }
}

/**
 * Adaptive sampler with `q(i|h) ∝ α([h,1]·[c_i,b_i])² + 1` (Blanc & Rendle), registered as
 * `'quadratic'`. It draws through {@link QuadraticTreeSampler} or {@link QuadraticDenseSampler},
 * picked at `build` by `method` (see {@link QuadraticOptions.method}); `stats().method` says which.
 */
export class QuadraticSampler implements Sampler {
  readonly name = 'quadratic';
  readonly adaptive = true;
  /** Kernel weight `α`. */
  readonly alpha: number;
  /** The method asked for (`'auto'` by default). */
  readonly method: QuadraticMethod;
  private readonly treeOpts: QuadraticTreeOptions;
  private readonly denseOpts: QuadraticDenseOptions;
  private impl: QuadraticTreeSampler | QuadraticDenseSampler | null = null;

  /** @throws OptionError for unknown or invalid options */
  constructor(opts: QuadraticOptions = {}) {
    rejectUnknown(opts, QUADRATIC_OPTIONS, 'quadratic sampler');
    this.method = opts.method === undefined ? 'auto' : choiceOption(opts.method, 'method', ['auto', 'tree', 'dense']);
    const { method: _m, precision, leafSize, ...common } = opts;
    this.treeOpts = leafSize === undefined ? common : { ...common, leafSize };
    this.denseOpts = precision === undefined ? common : { ...common, precision };
    // validate every option now, whichever method build picks
    const tree = new QuadraticTreeSampler(this.treeOpts);
    new QuadraticDenseSampler(this.denseOpts);
    this.alpha = tree.alpha;
  }

  /** The method in use since the last `build` (`null` before). */
  get activeMethod(): 'tree' | 'dense' | null {
    return this.impl === null ? null : this.impl instanceof QuadraticTreeSampler ? 'tree' : 'dense';
  }

  get isBuilt(): boolean {
    return this.impl?.isBuilt ?? false;
  }

  get numClasses(): number {
    return this.impl?.numClasses ?? 0;
  }

  build(table: ClassTable): void {
    const rowDim = table.d + (table.bias !== null ? 1 : 0);
    const want = this.method !== 'auto' ? this.method : chooseQuadraticMethod(table.n, rowDim, this.treeOpts.leafSize);
    // a rebuild with the same method reuses the sampler (and the dense method's buffers)
    const same = this.impl !== null && this.activeMethod === want;
    const impl = same ? this.impl! : want === 'tree' ? new QuadraticTreeSampler(this.treeOpts) : new QuadraticDenseSampler(this.denseOpts);
    impl.build(table);
    this.impl = impl;
  }

  update(ids: ArrayLike<number>): void {
    this.built().update(ids);
  }

  sample(opts: SampleOptions): Draws {
    return this.built().sample(opts);
  }

  logQ(queries: Matrix | null, ids: Labels): Float64Array {
    return this.built().logQ(queries, ids);
  }

  sampleWithLogQ(opts: SampleOptions, ids: Labels): SampleWithLogQ {
    return this.built().sampleWithLogQ(opts, ids);
  }

  openRows(queries: Matrix | null): SamplerRows {
    return this.built().openRows(queries);
  }

  get supportCount(): number {
    return this.built().supportCount;
  }

  stats(): SamplerStats {
    if (this.impl === null) return { sampler: this.name, built: false, alpha: this.alpha, method: this.method };
    return { ...this.impl.stats(), method: this.activeMethod!, methodOption: this.method };
  }

  private built(): QuadraticTreeSampler | QuadraticDenseSampler {
    if (this.impl === null) throw new StateError(`sampler '${this.name}' is not built; call build(table) first`);
    return this.impl;
  }
}
