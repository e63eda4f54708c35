/**
 * The exact softmax proposal `q(i | h) = softmax(h·c_i + b_i)`: O(n·d) per query. The
 * oracle for tests and bias studies. Exclusion is exact (excluded ids get zero mass and
 * the rest is renormalized, no rejection), so it works even when an excluded positive
 * holds almost all the mass.
 * @module
 */
import type { ClassTable } from '../core/classTable.js';
import { ImpossibleError } from '../core/errors.js';
import { log1mExp, logSumExp, searchCumulative } from '../core/math.js';
import type { Labels, Matrix } from '../core/matrix.js';
import type { Rng } from '../core/rng.js';
import { choiceOption, rejectUnknown } from '../core/validate.js';
import { dot, kernels } from '../kernels/index.js';
import { SamplerBase, type RowDistribution } from './base.js';
import { SumTree } from './sumTree.js';
import { logInclusionProb, type Draws, type SampleOptions, type SamplerStats } from './types.js';

/** How {@link ExactSampler} computes logits. */
export type ExactPrecision = 'float32' | 'float64';

/** Options of {@link ExactSampler}. */
export interface ExactOptions {
  /**
   * `'float32'` (default): dot products through the active `kernels.matmulNT` (float32 results,
   * the fast path); `'float64'`: float64 dot products (slower with fast kernels, exact up to
   * float64 rounding). In both cases the bias is added and the softmax computed in float64,
   * and the reported `logQ` is that of the distribution actually sampled.
   */
  precision?: ExactPrecision;
}

/** Float64 logits buffered per group of rows (elements). */
export const GROUP_ELEMS = 1 << 21;
/** Float32 scratch per kernel call (elements). */
const BLOCK_ELEMS = 1 << 16;
/** Largest number of tries reported for unique draws (the `tries` array is Int32). */
const MAX_TRIES = 2 ** 31 - 1;

/**
 * `q = softmax(o)` with `o_i = h·c_i + b_i` from the live class table given to `build`
 * (a reference is kept, so `update(ids)` only validates ids).
 */
export class ExactSampler extends SamplerBase {
  readonly name = 'exact';
  readonly adaptive = true;
  /** Logit precision (see {@link ExactOptions.precision}). */
  readonly precision: ExactPrecision;
  private table: ClassTable | null = null;
  private tree: SumTree | null = null;

  /** @throws OptionError for unknown options or a bad precision. */
  constructor(opts: ExactOptions = {}) {
    super();
    rejectUnknown(opts, ['precision'], 'exact sampler');
    this.precision = opts.precision === undefined ? 'float32' : choiceOption(opts.precision, 'precision', ['float32', 'float64']);
  }

  /** Keeps a reference to `table`; later changes to its rows are seen by every draw. */
  build(table: ClassTable): void {
    this.table = table;
    this.n = table.n;
    this.dim = table.d;
    this.tree = null;
    this.built = true;
  }

  stats(): SamplerStats {
    return { sampler: this.name, n: this.n, d: this.dim, built: this.built, precision: this.precision, bytes: 0 };
  }

  /**
   * Draws per query row from the exact softmax. With `exclude`, excluded ids get zero mass
   * and the reported `logQ` is under the renormalized softmax. With `unique`, the with-replacement
   * process is simulated exactly: distinct ids in order of appearance come from successive
   * sampling without replacement, and the waiting time for each new id is geometric, so the
   * number of tries `T` costs O(1) per distinct id however skewed the softmax is.
   */
  override sample(opts: SampleOptions): Draws {
    const { rows } = this.checkSampleOptions(opts);
    const q = opts.queries!;
    const m = opts.m;
    const unique = opts.unique ?? false;
    const n = this.n;
    const ids = new Int32Array(rows * m);
    const logQ = new Float64Array(rows * m);
    const tries = unique ? new Int32Array(rows) : null;
    const tree = (this.tree ??= new SumTree(n));
    const group = Math.max(1, Math.min(rows, Math.floor(GROUP_ELEMS / n)));
    const buf = new Float64Array(group * n);
    const w = new Float64Array(n);
    const ex = opts.exclude ?? null;
    for (let r0 = 0; r0 < rows; r0 += group) {
      const g = Math.min(group, rows - r0);
      denseDots(this.table!, this.precision, q, r0, g, buf);
      for (let r = 0; r < g; r++) {
        const row = r0 + r;
        const o = buf.subarray(r * n, (r + 1) * n);
        const excluded = ex ? rowSet(ex, row) : null;
        const shift = fillWeights(o, excluded, null, w);
        if (shift === -Infinity) {
          throw new ImpossibleError(`exact sampler: row ${row} excludes all ${n} classes; nothing is left to draw`);
        }
        tree.fill(w, n);
        const lse = shift + Math.log(tree.total);
        const at = row * m;
        if (!unique) {
          for (let j = 0; j < m; j++) {
            const id = tree.draw(opts.rng);
            ids[at + j] = id;
            logQ[at + j] = o[id]! - lse;
          }
        } else {
          const left = n - (excluded ? excluded.size : 0);
          if (left < m) {
            throw new ImpossibleError(`cannot draw m = ${m} distinct ids from the ${left} classes left in row ${row} after exclusion; lower m`);
          }
          tries![row] = drawUnique(o, shift, lse, excluded, w, tree, opts.rng, m, ids, logQ, at);
        }
      }
    }
    return { ids, logQ, rows, m, shared: false, unique, tries };
  }

  protected rowDistribution(queries: Matrix | null, row: number): RowDistribution {
    const o = new Float64Array(this.n);
    denseDots(this.table!, this.precision, queries!, row, 1, o);
    return new LogitsRow(o);
  }
}

/**
 * Fills `out[r*n + i]` (`r < rows`) with `h·c_i + b_i` in float64 for query rows `r0 .. r0+rows`
 * of `q` against every row of `table`. `'float32'`: dot products through the active
 * `kernels.matmulNT` (float32 results, the fast path), the bias added in float64; a row whose
 * float32 products overflow is recomputed in float64. `'float64'`: float64 dot products.
 * With `alpha` it stores the quadratic kernel `alpha · s² + 1` of each `s = h·c_i + b_i` instead.
 * Shared by the dense samplers (exact softmax, dense quadratic kernel).
 */
export function denseDots(t: ClassTable, precision: ExactPrecision, q: Matrix, r0: number, rows: number, out: Float64Array, alpha: number | null = null): void {
  const n = t.n;
  const d = t.d;
  const bias = t.bias;
  const h = q.data;
  const float64Row = (r: number): void => {
    const ho = (r0 + r) * d;
    const oo = r * n;
    for (let i = 0; i < n; i++) out[oo + i] = dot(h, ho, t.weights, i * d, d) + (bias ? bias[i]! : 0);
    if (alpha !== null) for (let i = oo; i < oo + n; i++) out[i] = alpha * out[i]! * out[i]! + 1;
  };
  if (precision === 'float64') {
    for (let r = 0; r < rows; r++) float64Row(r);
    return;
  }
  const a = h.subarray(r0 * d, (r0 + rows) * d);
  const cb = Math.max(1, Math.min(n, Math.floor(BLOCK_ELEMS / rows)));
  const tmp = new Float32Array(rows * cb);
  for (let c0 = 0; c0 < n; c0 += cb) {
    const len = Math.min(cb, n - c0);
    kernels.matmulNT(a, rows, t.weights, c0, len, d, tmp);
    for (let r = 0; r < rows; r++) {
      const oo = r * n + c0;
      const to = r * len;
      if (alpha !== null) {
        for (let j = 0; j < len; j++) {
          const v = tmp[to + j]! + (bias ? bias[c0 + j]! : 0);
          out[oo + j] = alpha * v * v + 1;
        }
      } else if (bias) for (let j = 0; j < len; j++) out[oo + j] = tmp[to + j]! + bias[c0 + j]!;
      else for (let j = 0; j < len; j++) out[oo + j] = tmp[to + j]!;
    }
  }
  for (let r = 0; r < rows; r++) {
    const oo = r * n;
    for (let i = 0; i < n; i++) {
      // a float32 product overflowed (an infinite score, or an infinite kernel from it)
      if (!Number.isFinite(out[oo + i]!)) {
        float64Row(r);
        break;
      }
    }
  }
}

/**
 * Sets `w[i] = exp(o[i] − shift)` for ids neither excluded nor in `seen` (0 for those),
 * with `shift` the largest such logit, and returns `shift` (−Infinity when no id is left).
 */
function fillWeights(o: Float64Array, excluded: Set<number> | null, seen: Set<number> | null, w: Float64Array): number {
  const n = o.length;
  let mx = -Infinity;
  for (let i = 0; i < n; i++) {
    if (o[i]! > mx && !(excluded?.has(i) ?? false) && !(seen?.has(i) ?? false)) mx = o[i]!;
  }
  if (mx === -Infinity) return mx;
  for (let i = 0; i < n; i++) {
    w[i] = (excluded?.has(i) ?? false) || (seen?.has(i) ?? false) ? 0 : Math.exp(o[i]! - mx);
  }
  return mx;
}

/**
 * m distinct ids by successive sampling without replacement, with the geometric number of
 * with-replacement tries each new id would have taken. Returns the total tries `T` and writes
 * `log(1 − (1 − q)^T)` per id.
 */
function drawUnique(
  o: Float64Array,
  shift0: number,
  lse: number,
  excluded: Set<number> | null,
  w: Float64Array,
  tree: SumTree,
  rng: Rng,
  m: number,
  ids: Int32Array,
  logQ: Float64Array,
  at: number,
): number {
  const seen = new Set<number>();
  // tree leaves hold exp(o − shift); the remaining mass is total·e^{shift − lse}
  let shift = shift0;
  let t = 0;
  for (let k = 0; k < m; k++) {
    if (k > 0) {
      if (tree.total < 1e-200) {
        // the unseen mass underflows relative to the old shift: rescale to the largest unseen logit
        shift = fillWeights(o, excluded, seen, w);
        tree.fill(w, o.length);
      }
      const logRemaining = Math.min(0, Math.log(tree.total) + shift - lse);
      // tries until a new id: Geometric(1 − S) with S = 1 − remaining, the seen mass
      const logSeen = log1mExp(logRemaining);
      const g = 1 + Math.floor(Math.log(rng.floatOpen()) / logSeen);
      t = Math.min(MAX_TRIES, t + (Number.isFinite(g) ? g : MAX_TRIES));
    } else {
      t = 1;
    }
    const id = tree.draw(rng);
    seen.add(id);
    tree.set(id, 0);
    ids[at + k] = id;
    logQ[at + k] = o[id]! - lse;
  }
  for (let k = 0; k < m; k++) logQ[at + k] = logInclusionProb(logQ[at + k]!, t);
  return t;
}

/** The distinct ids of row `r` of a label set. */
function rowSet(l: Labels, r: number): Set<number> | null {
  const a = l.offsets[r]!;
  const b = l.offsets[r + 1]!;
  if (a === b) return null;
  const s = new Set<number>();
  for (let k = a; k < b; k++) s.add(l.ids[k]!);
  return s;
}

/**
 * One row's softmax from precomputed logits (used by `logQ` and by composites): the first draw
 * builds the row's cumulative probabilities (`O(n)`, once), every draw is then a binary search.
 */
class LogitsRow implements RowDistribution {
  lastLogQ = 0;
  private readonly lse: number;
  /** Cumulative probabilities, built by the first draw. */
  private cum: Float64Array | null = null;
  constructor(private readonly o: Float64Array) {
    this.lse = logSumExp(o);
  }
  /** `log Σ exp(o_i)`: the softmax's partition function. */
  get logMass(): number {
    return this.lse;
  }
  draw(rng: Rng): number {
    const o = this.o;
    const n = o.length;
    let cum = this.cum;
    if (cum === null) {
      cum = new Float64Array(n);
      let acc = 0;
      for (let i = 0; i < n; i++) cum[i] = acc += Math.exp(o[i]! - this.lse);
      this.cum = cum;
    }
    // first id whose cumulative probability exceeds u (ids of probability 0 never are)
    const lo = searchCumulative(cum, 0, n, rng.float() * cum[n - 1]!);
    this.lastLogQ = o[lo]! - this.lse;
    return lo;
  }
  logProb(id: number): number {
    return this.o[id]! - this.lse;
  }
}
