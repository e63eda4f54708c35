/**
 * The divide-and-conquer sampling tree shared by the kernel samplers (quadratic, RFF).
 *
 * Classes are ordered by recursive median splits (largest-spread coordinate) into `2^k` fat
 * leaves of at most `leafSize` classes. Every heap node `v` (root `1`, children `2v`, `2v+1`,
 * leaf `j` at `nl + j`) stores the float64 summary `z(S) = Σ_{i∈S} φ(c_i)`. A query scores a node
 * as `s(S) = φ(h)·z(S)`; a draw walks from the root, entering the left child with probability
 * `s'(L) / (s'(L) + s'(R))` where `s'` are the (clamped) child scores, and at the leaf picks a
 * class proportionally to a leaf weight `w(h, c_i)` computed directly from the stored row.
 *
 * The reported log-probability is always the sum of the log branch probabilities actually used
 * plus the log leaf probability, so it is exact for the procedure, whatever the clamping and
 * rounding. When scores are exact kernel sums (no clamping) it telescopes to
 * `w(h,c_i) / Σ_j w(h,c_j)`.
 *
 * Per query, raw node scores are cached (stamped by a generation counter), so the nodes near the
 * root are scored once per query, not once per draw; only the left child of a node is scored
 * directly, the right one is `s(parent) − s(left)` (exact in exact arithmetic). Batches of draws
 * descend together, splitting their count at each node, and are then shuffled, which gives an
 * i.i.d. sequence.
 * @module
 */
import type { ClassTable } from '../core/classTable.js';
import type { Matrix } from '../core/matrix.js';
import type { Rng } from '../core/rng.js';
import { SamplerBase, type RowDistribution } from './base.js';
import type { Draws, SampleOptions, SamplerStats } from './types.js';

/** The kernel-specific part of a {@link KernelTree}. */
export interface TreeKernel {
  /** Width of the stored rows (after any transformation such as bias folding or normalization). */
  readonly rowDim: number;
  /** Width of a node summary `z(S)` and of the per-query feature vector `φ(h)` (float64 entries). */
  readonly summaryDim: number;
  /**
   * Adds `sign · φ(row)` for `count` consecutive rows `rows[ro + r*rowDim ..]` into the summary
   * at `z[zo .. zo + summaryDim)`.
   */
  accumulate(rows: Float32Array, ro: number, count: number, sign: number, z: Float64Array, zo: number): void;
  /** Computes `φ(h)` from the stored-form query `q` (length `rowDim`). */
  featurize(q: Float64Array, qf: Float64Array): void;
  /** Raw score `φ(h)·z(S)` (plus any constant per class) of a node of `size` classes. */
  nodeScore(qf: Float64Array, z: Float64Array, zo: number, size: number): number;
  /** Leaf weight `w(h, c) > 0` of the stored row at `rows[ro ..]`. */
  leafWeight(q: Float64Array, rows: Float32Array, ro: number): number;
  /**
   * Floor of a child score relative to the positive total of the two children (`0` for kernels
   * whose node scores are exact non-negative sums).
   */
  readonly eps: number;
}

/**
 * `Σ_k q[k] · rows[ro + k]` over `k < len` in float64 (four partial sums): the leaf-weight dot
 * product of the tree kernels.
 */
export function rowDot(q: Float64Array, rows: Float32Array, ro: number, len: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let k = 0;
  for (; k + 3 < len; k += 4) {
    s0 += q[k]! * rows[ro + k]!;
    s1 += q[k + 1]! * rows[ro + k + 1]!;
    s2 += q[k + 2]! * rows[ro + k + 2]!;
    s3 += q[k + 3]! * rows[ro + k + 3]!;
  }
  for (; k < len; k++) s0 += q[k]! * rows[ro + k]!;
  return s0 + s1 + s2 + s3;
}

/** `Σ_k qf[k] · z[zo + k]` over `k < len` in float64 (four partial sums): a node score. */
export function summaryDot(qf: Float64Array, z: Float64Array, zo: number, len: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let k = 0;
  for (; k + 3 < len; k += 4) {
    s0 += qf[k]! * z[zo + k]!;
    s1 += qf[k + 1]! * z[zo + k + 1]!;
    s2 += qf[k + 2]! * z[zo + k + 2]!;
    s3 += qf[k + 3]! * z[zo + k + 3]!;
  }
  for (; k < len; k++) s0 += qf[k]! * z[zo + k]!;
  return s0 + s1 + s2 + s3;
}

/** Options of {@link KernelTree}. */
export interface KernelTreeOptions {
  /** Maximum classes per leaf; leaves hold between `leafSize/2` and `leafSize` classes. */
  leafSize: number;
}

/**
 * A kernel sampling tree over a snapshot of the transformed class rows. Build with
 * {@link KernelTree.constructor}, refresh rows with {@link KernelTree.setRows}, and sample
 * through a {@link TreeQuery}.
 */
export class KernelTree {
  readonly kernel: TreeKernel;
  /** Number of classes. */
  readonly n: number;
  /** Number of leaves (a power of two). */
  readonly numLeaves: number;
  /** Depth of the leaves (`log2(numLeaves)`). */
  readonly depth: number;
  /**
   * Snapshot of the transformed rows, `n × rowDim`, in leaf order: the row of class `perm[p]`
   * is at `p · rowDim`, so every leaf's rows are contiguous.
   */
  readonly rows: Float32Array;
  /** Class ids in leaf order. */
  readonly perm: Int32Array;
  /** Position of each class id in {@link KernelTree.perm} (the inverse permutation). */
  readonly pos: Int32Array;
  /** Leaf index of each class id. */
  readonly leafOf: Int32Array;
  /** Start of leaf `j` in `perm` is `leafStart[j]`; `leafStart[numLeaves] = n`. */
  readonly leafStart: Int32Array;
  /** Node summaries, heap node `v` at `(v − 1) · summaryDim`. */
  readonly z: Float64Array;
  private readonly dirty: Uint8Array;

  /**
   * Builds the tree: orders the classes by recursive median splits of `rows` and computes
   * every node summary in float64. `rows` (length `n · kernel.rowDim`, class-id order) is read
   * during the build and then stored in leaf order.
   */
  constructor(kernel: TreeKernel, n: number, rows: Float32Array, opts: KernelTreeOptions) {
    this.kernel = kernel;
    this.n = n;
    const target = Math.max(1, Math.ceil(n / Math.max(1, opts.leafSize)));
    let depth = 0;
    while (1 << depth < target) depth++;
    this.depth = depth;
    const nl = 1 << depth;
    this.numLeaves = nl;
    this.leafStart = new Int32Array(nl + 1);
    for (let j = 0; j <= nl; j++) this.leafStart[j] = Math.floor((j * n) / nl);
    this.perm = new Int32Array(n);
    for (let i = 0; i < n; i++) this.perm[i] = i;
    this.leafOf = new Int32Array(n);
    this.order(rows);
    for (let j = 0; j < nl; j++) {
      for (let p = this.leafStart[j]!; p < this.leafStart[j + 1]!; p++) this.leafOf[this.perm[p]!] = j;
    }
    const D = kernel.rowDim;
    this.pos = new Int32Array(n);
    this.rows = new Float32Array(n * D);
    for (let p = 0; p < n; p++) {
      const id = this.perm[p]!;
      this.pos[id] = p;
      this.rows.set(rows.subarray(id * D, (id + 1) * D), p * D);
    }
    const S = kernel.summaryDim;
    this.z = new Float64Array(2 * nl * S);
    this.dirty = new Uint8Array(2 * nl);
    this.computeSummaries();
  }

  /** Bytes held by the tree (rows snapshot, summaries, index arrays). */
  get byteLength(): number {
    return (
      this.rows.byteLength +
      this.z.byteLength +
      this.perm.byteLength +
      this.pos.byteLength +
      this.leafOf.byteLength +
      this.leafStart.byteLength
    );
  }

  /** Number of classes under heap node `v`. */
  nodeSize(v: number): number {
    let lo = v;
    let hi = v;
    while (lo < this.numLeaves) {
      lo = 2 * lo;
      hi = 2 * hi + 1;
    }
    return this.leafStart[hi - this.numLeaves + 1]! - this.leafStart[lo - this.numLeaves]!;
  }

  /** Recursive median splits on the coordinate of largest spread (estimated on a sample). */
  private order(rows: Float32Array): void {
    const D = this.kernel.rowDim;
    const perm = this.perm;
    const keys = new Float64Array(this.n);
    const stack: number[] = [1];
    while (stack.length > 0) {
      const v = stack.pop()!;
      let lo = v;
      let hi = v;
      let levels = 0;
      while (lo < this.numLeaves) {
        lo = 2 * lo;
        hi = 2 * hi + 1;
        levels++;
      }
      if (levels === 0) continue;
      const a = this.leafStart[lo - this.numLeaves]!;
      const b = this.leafStart[hi - this.numLeaves + 1]!;
      const midLeaf = (lo + hi + 1) / 2 - this.numLeaves;
      const mid = this.leafStart[midLeaf]!;
      // coordinate of largest variance over (a sample of) the range
      const len = b - a;
      const step = Math.max(1, Math.floor(len / 512));
      let best = 0;
      let bestVar = -1;
      for (let k = 0; k < D; k++) {
        let s = 0;
        let s2 = 0;
        let c = 0;
        for (let p = a; p < b; p += step) {
          const x = rows[perm[p]! * D + k]!;
          s += x;
          s2 += x * x;
          c++;
        }
        const varK = s2 / c - (s / c) * (s / c);
        if (varK > bestVar) {
          bestVar = varK;
          best = k;
        }
      }
      for (let p = a; p < b; p++) keys[p] = rows[perm[p]! * D + best]!;
      quickselect(keys, perm, a, b - 1, mid);
      stack.push(2 * v, 2 * v + 1);
    }
  }

  /** Recomputes every summary from the rows: leaves by accumulation, internal nodes as child sums. */
  computeSummaries(): void {
    const S = this.kernel.summaryDim;
    const nl = this.numLeaves;
    const D = this.kernel.rowDim;
    this.z.fill(0);
    for (let j = 0; j < nl; j++) {
      const a = this.leafStart[j]!;
      this.kernel.accumulate(this.rows, a * D, this.leafStart[j + 1]! - a, 1, this.z, (nl + j - 1) * S);
    }
    for (let v = nl - 1; v >= 1; v--) this.sumChildren(v);
    this.dirty.fill(0);
  }

  private sumChildren(v: number): void {
    const S = this.kernel.summaryDim;
    const z = this.z;
    const o = (v - 1) * S;
    const l = (2 * v - 1) * S;
    const r = 2 * v * S;
    for (let k = 0; k < S; k++) z[o + k] = z[l + k]! + z[r + k]!;
  }

  /**
   * Replaces the stored row of class `id` by `row` (length `rowDim`): subtracts the old `φ` from
   * its leaf summary and adds the new one. Call {@link KernelTree.propagate} after a batch.
   */
  setRow(id: number, row: Float32Array): void {
    const D = this.kernel.rowDim;
    const S = this.kernel.summaryDim;
    const leaf = this.numLeaves + this.leafOf[id]!;
    const zo = (leaf - 1) * S;
    const ro = this.pos[id]! * D;
    this.kernel.accumulate(this.rows, ro, 1, -1, this.z, zo);
    this.rows.set(row, ro);
    this.kernel.accumulate(this.rows, ro, 1, 1, this.z, zo);
    this.dirty[leaf] = 1;
  }

  /** Refreshes the summaries of the ancestors of changed leaves (child sums, no drift). */
  propagate(): void {
    const d = this.dirty;
    for (let v = this.numLeaves - 1; v >= 1; v--) {
      if (d[2 * v] || d[2 * v + 1]) {
        this.sumChildren(v);
        d[v] = 1;
      }
    }
    d.fill(0);
  }
}

/** Partial sort: after the call, `keys[lo..k)` ≤ `keys[k..hi]` (perm permuted alongside). */
function quickselect(keys: Float64Array, perm: Int32Array, lo: number, hi: number, k: number): void {
  while (hi > lo) {
    const mid = (lo + hi) >>> 1;
    // median of three pivot
    const a = keys[lo]!;
    const b = keys[mid]!;
    const c = keys[hi]!;
    const pivot = a < b ? (b < c ? b : a < c ? c : a) : a < c ? a : b < c ? c : b;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (keys[i]! < pivot) i++;
      while (keys[j]! > pivot) j--;
      if (i <= j) {
        const t = keys[i]!;
        keys[i] = keys[j]!;
        keys[j] = t;
        const u = perm[i]!;
        perm[i] = perm[j]!;
        perm[j] = u;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return;
  }
}

/**
 * Per-query sampling state over a {@link KernelTree}: cached node scores and leaf totals for the
 * current query. Reuse one object for many queries (no per-draw allocation).
 */
export class TreeQuery {
  readonly tree: KernelTree;
  /** Current query in stored form (length `rowDim`). */
  readonly q: Float64Array;
  private readonly qf: Float64Array;
  private readonly raw: Float64Array;
  private readonly stamp: Int32Array;
  private readonly leafTot: Float64Array;
  private readonly leafStamp: Int32Array;
  private readonly cum: Float64Array;
  private readonly wts: Float64Array;
  private gen = 0;
  private sizes: Int32Array;

  constructor(tree: KernelTree) {
    this.tree = tree;
    const k = tree.kernel;
    this.q = new Float64Array(k.rowDim);
    this.qf = new Float64Array(k.summaryDim);
    const nodes = 2 * tree.numLeaves;
    this.raw = new Float64Array(nodes);
    this.stamp = new Int32Array(nodes);
    this.leafTot = new Float64Array(tree.numLeaves);
    this.leafStamp = new Int32Array(tree.numLeaves);
    let maxLeaf = 1;
    for (let j = 0; j < tree.numLeaves; j++) maxLeaf = Math.max(maxLeaf, tree.leafStart[j + 1]! - tree.leafStart[j]!);
    this.cum = new Float64Array(maxLeaf);
    this.wts = new Float64Array(maxLeaf);
    this.sizes = new Int32Array(nodes);
    for (let v = 1; v < nodes; v++) this.sizes[v] = tree.nodeSize(v);
  }

  /** Starts a new query: `q` must already hold the stored-form query. Invalidates all caches. */
  begin(): void {
    if (++this.gen >= 0x7fffffff) {
      this.gen = 1;
      this.stamp.fill(0);
      this.leafStamp.fill(0);
    }
    this.tree.kernel.featurize(this.q, this.qf);
  }

  /** Raw score `φ(h)·z(v)`: root and left children directly, right children by difference. */
  private rawScore(v: number): number {
    if (this.stamp[v] === this.gen) return this.raw[v]!;
    let s: number;
    if (v === 1 || (v & 1) === 0) {
      const t = this.tree;
      s = t.kernel.nodeScore(this.qf, t.z, (v - 1) * t.kernel.summaryDim, this.sizes[v]!);
    } else {
      s = this.rawScore(v >> 1) - this.rawScore(v - 1);
    }
    this.raw[v] = s;
    this.stamp[v] = this.gen;
    return s;
  }

  /** Clamped child scores of internal node `v`, written to `pair[0]`, `pair[1]`. */
  private branch(v: number, pair: Float64Array): void {
    const a = this.rawScore(2 * v);
    const b = this.rawScore(2 * v + 1);
    const pa = a > 0 ? a : 0;
    const pb = b > 0 ? b : 0;
    const t = pa + pb;
    if (!(t > 0) || !Number.isFinite(t)) {
      // no usable estimate: split by class counts (uniform over the node's classes)
      pair[0] = this.sizes[2 * v]!;
      pair[1] = this.sizes[2 * v + 1]!;
      return;
    }
    // t > 0, so at least one side stays positive
    const floor = this.tree.kernel.eps * t;
    pair[0] = Math.max(pa, floor);
    pair[1] = Math.max(pb, floor);
  }

  /** Fills the cumulative leaf weights of leaf `j`; returns the total (cached per query). */
  private leafCum(j: number): number {
    const t = this.tree;
    const k = t.kernel;
    const D = k.rowDim;
    const a = t.leafStart[j]!;
    const b = t.leafStart[j + 1]!;
    let s = 0;
    for (let p = a; p < b; p++) {
      const w = k.leafWeight(this.q, t.rows, p * D);
      this.wts[p - a] = w;
      s += w;
      this.cum[p - a] = s;
    }
    this.leafTot[j] = s;
    this.leafStamp[j] = this.gen;
    return s;
  }

  private leafTotal(j: number): number {
    return this.leafStamp[j] === this.gen ? this.leafTot[j]! : this.leafCum(j);
  }

  private readonly pair = new Float64Array(2);

  /** `log q(id)` under the current query: the log branch probabilities of `id`'s path plus its leaf probability. */
  logProb(id: number): number {
    const t = this.tree;
    const j = t.leafOf[id]!;
    let lp = 0;
    let v = 1;
    const pair = this.pair;
    for (let lvl = t.depth - 1; lvl >= 0; lvl--) {
      this.branch(v, pair);
      const right = (j >> lvl) & 1;
      lp += Math.log(pair[right]!) - Math.log(pair[0]! + pair[1]!);
      v = 2 * v + right;
    }
    const tot = this.leafTotal(j);
    if (!usableTotal(tot)) return lp - Math.log(t.leafStart[j + 1]! - t.leafStart[j]!);
    return lp + Math.log(t.kernel.leafWeight(this.q, t.rows, t.pos[id]! * t.kernel.rowDim)) - Math.log(tot);
  }

  private outIds: Int32Array = new Int32Array(0);
  private outLq: Float64Array = new Float64Array(0);
  private outPos = 0;

  /**
   * Draws `count` i.i.d. ids (in random order) into `ids[0..count)` with their log-probabilities
   * in `logQ[0..count)`: the batch descends together, splitting its count at every node.
   */
  drawBatch(rng: Rng, count: number, ids: Int32Array, logQ: Float64Array): void {
    this.outIds = ids;
    this.outLq = logQ;
    this.outPos = 0;
    this.descend(1, count, 0, rng);
    // shuffle: multinomial counts in random order = i.i.d. sequence
    for (let i = count - 1; i > 0; i--) {
      const r = rng.int(i + 1);
      const a = ids[i]!;
      ids[i] = ids[r]!;
      ids[r] = a;
      const b = logQ[i]!;
      logQ[i] = logQ[r]!;
      logQ[r] = b;
    }
  }

  private descend(v: number, count: number, lp: number, rng: Rng): void {
    const t = this.tree;
    if (v >= t.numLeaves) {
      this.drawLeaf(v - t.numLeaves, count, lp, rng);
      return;
    }
    const pair = this.pair;
    this.branch(v, pair);
    const a = pair[0]!;
    const b = pair[1]!;
    const tot = a + b;
    let left = 0;
    for (let c = 0; c < count; c++) if (rng.float() * tot < a) left++;
    const lt = Math.log(tot);
    if (left > 0) this.descend(2 * v, left, lp + Math.log(a) - lt, rng);
    if (count - left > 0) this.descend(2 * v + 1, count - left, lp + Math.log(b) - lt, rng);
  }

  private drawLeaf(j: number, count: number, lp: number, rng: Rng): void {
    const t = this.tree;
    const a = t.leafStart[j]!;
    const size = t.leafStart[j + 1]! - a;
    const tot = this.leafCum(j);
    const cum = this.cum;
    const ids = this.outIds;
    const lq = this.outLq;
    if (!usableTotal(tot)) {
      const l = lp - Math.log(size);
      for (let c = 0; c < count; c++) {
        ids[this.outPos] = t.perm[a + rng.int(size)]!;
        lq[this.outPos++] = l;
      }
      return;
    }
    const lt = Math.log(tot);
    for (let c = 0; c < count; c++) {
      const u = rng.float() * tot;
      let lo = 0;
      let hi = size - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (cum[mid]! > u) hi = mid;
        else lo = mid + 1;
      }
      // the search lands on the first cum > u, so zero weights are never drawn (except u
      // rounding up to the total: step back to a positive weight)
      while (lo > 0 && !(this.wts[lo]! > 0)) lo--;
      ids[this.outPos] = t.perm[a + lo]!;
      // the same weight logProb uses, so draws and logProb agree exactly
      lq[this.outPos++] = lp + Math.log(this.wts[lo]!) - lt;
    }
  }
}

/** Buffered per-row distribution over a {@link TreeQuery}: draws come from batched descents. */
class TreeRowDistribution implements RowDistribution {
  lastLogQ = 0;
  /** Batch size of the next refill (the number of draws the caller asked for). */
  hint = 64;
  private ids = new Int32Array(0);
  private lq = new Float64Array(0);
  private pos = 0;
  private len = 0;
  constructor(private readonly tq: TreeQuery) {}

  reset(): void {
    this.pos = 0;
    this.len = 0;
  }

  draw(rng: Rng): number {
    if (this.pos >= this.len) {
      const k = this.hint;
      if (this.ids.length < k) {
        this.ids = new Int32Array(k);
        this.lq = new Float64Array(k);
      }
      this.tq.drawBatch(rng, k, this.ids, this.lq);
      this.len = k;
      this.pos = 0;
    }
    this.lastLogQ = this.lq[this.pos]!;
    return this.ids[this.pos++]!;
  }

  logProb(id: number): number {
    return this.tq.logProb(id);
  }
}

/**
 * Base of the tree samplers: keeps a transformed snapshot of the class rows in a
 * {@link KernelTree}, maps each query row to its stored form, and samples by batched descents.
 * `update(ids)` re-reads those rows from the table given to `build` and refreshes the summaries
 * along their root-to-leaf paths only.
 */
export abstract class KernelTreeSampler extends SamplerBase {
  readonly adaptive = true;
  protected tree: KernelTree | null = null;
  private tq: TreeQuery | null = null;
  private dist: TreeRowDistribution | null = null;
  private table: ClassTable | null = null;
  protected buildMs = 0;
  protected updateMs = 0;

  /** The sampling tree of the current build (null before `build`), for diagnostics and tests. */
  get kernelTree(): KernelTree | null {
    return this.tree;
  }

  /** Creates the kernel for `table` (called by `build`). */
  protected abstract makeKernel(table: ClassTable): TreeKernel;
  /** Writes the stored form of class `i` of `table` into `out` (length `rowDim`). */
  protected abstract storeRow(table: ClassTable, i: number, out: Float32Array): void;
  /** Writes the stored form of the query `h[ho .. ho+d)` into `out` (length `rowDim`). */
  protected abstract storeQuery(h: Float32Array, ho: number, out: Float64Array): void;
  /** Leaf size to use for `table`. */
  protected abstract leafSizeFor(table: ClassTable, kernel: TreeKernel): number;

  build(table: ClassTable): void {
    const t0 = performance.now();
    const kernel = this.makeKernel(table);
    const D = kernel.rowDim;
    const rows = new Float32Array(table.n * D);
    const row = new Float32Array(D);
    for (let i = 0; i < table.n; i++) {
      this.storeRow(table, i, row);
      rows.set(row, i * D);
    }
    this.tree = new KernelTree(kernel, table.n, rows, { leafSize: this.leafSizeFor(table, kernel) });
    this.tq = new TreeQuery(this.tree);
    this.dist = new TreeRowDistribution(this.tq);
    this.table = table;
    this.n = table.n;
    this.dim = table.d;
    this.built = true;
    this.buildMs = performance.now() - t0;
  }

  override update(ids: ArrayLike<number>): void {
    super.update(ids);
    const t0 = performance.now();
    const tree = this.tree!;
    const row = new Float32Array(tree.kernel.rowDim);
    for (let k = 0; k < ids.length; k++) {
      this.storeRow(this.table!, ids[k]!, row);
      tree.setRow(ids[k]!, row);
    }
    tree.propagate();
    this.updateMs = performance.now() - t0;
  }

  override sample(opts: SampleOptions): Draws {
    if (this.dist) this.dist.hint = Math.max(1, Math.min(opts.m, 1 << 20));
    return super.sample(opts);
  }

  protected rowDistribution(queries: Matrix | null, row: number): RowDistribution {
    const tq = this.tq!;
    this.storeQuery(queries!.data, row * this.dim, tq.q);
    tq.begin();
    this.dist!.reset();
    return this.dist!;
  }

  /** Common figures of the tree samplers. */
  protected treeStats(): SamplerStats {
    const t = this.tree;
    return {
      built: this.built,
      classes: this.n,
      leaves: t ? t.numLeaves : 0,
      depth: t ? t.depth : 0,
      maxLeafSize: t ? Math.ceil(t.n / t.numLeaves) : 0,
      summaryDim: t ? t.kernel.summaryDim : 0,
      memoryBytes: t ? t.byteLength : 0,
      buildMs: this.buildMs,
      lastUpdateMs: this.updateMs,
    };
  }
}

/** A leaf's weight total can be sampled from (else the leaf is drawn uniformly, in draws and in `logQ` alike). */
function usableTotal(tot: number): boolean {
  return tot > 0 && Number.isFinite(tot);
}
