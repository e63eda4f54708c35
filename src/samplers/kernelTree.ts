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
 * Draws descend level-synchronously ({@link TreeDescent}): all draws of a batch of queries move
 * down one level at a time, the frontier holding one entry per (query, node) with the count of that
 * query's draws there, so a node is scored once per query however many of its draws pass it, and
 * the queries that reach a node are scored together (its summary is read once per four queries).
 * Only the left child of a node is scored directly, the right one is `s(parent) − s(left)` (exact
 * in exact arithmetic). Each query's draws are shuffled at the end, which gives an i.i.d. sequence.
 * {@link TreeQuery} scores single ids (`logQ`) with the same arithmetic, so a draw's reported
 * log-probability equals `logQ` of its id exactly.
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
  /** Computes `φ(h)` from the stored-form query `q[qo .. qo+rowDim)` into `qf[fo .. fo+summaryDim)`. */
  featurize(q: Float64Array, qo: number, qf: Float64Array, fo: number): void;
  /** Constant per class in a node score: the raw score of a node `S` is `φ(h)·z(S) + perClass · |S|`. */
  readonly perClass: number;
  /** Leaf weight `w(h, c) > 0` from the dot product `s = q·row` of the stored-form query and row. */
  leafWeight(s: number): number;
  /**
   * Floor of a child score relative to the positive total of the two children (`0` for kernels
   * whose node scores are exact non-negative sums).
   */
  readonly eps: number;
  /**
   * The mass a composite sampler gives a tree of `size` classes from its raw root score `raw`
   * (see {@link RowDistribution.logMass}): the score itself for an exact kernel sum, or an estimate
   * kept within the bounds of the sum it estimates. Must be > 0.
   */
  clampMass(raw: number, size: number): number;
}

/*
 * Node and leaf scores are dot products in float64 with one fixed summation order: two
 * accumulators (even and odd terms, the odd tail term into the even one), added at the end. Every
 * kernel below follows it, so a score is bit-identical whether it is computed alone or in a block,
 * and the log-probability a draw reports equals `logQ` of the same id exactly.
 */

/** `Σ_{t<len} q[qo + t] · z[zo + t]` in the tree's fixed summation order (see above). */
export function seqDot(q: Float64Array, qo: number, z: Float64Array | Float32Array, zo: number, len: number): number {
  let a = 0;
  let b = 0;
  let t = 0;
  for (; t + 1 < len; t += 2) {
    a += q[qo + t]! * z[zo + t]!;
    b += q[qo + t + 1]! * z[zo + t + 1]!;
  }
  if (t < len) a += q[qo + t]! * z[zo + t]!;
  return a + b;
}

/**
 * Dot products of several vectors of `Q` with one vector of `z`: for `k` in `[k0, k1)`,
 * `out[k] = Σ_{t<len} Q[off[k] + t] · z[zo + t]`, each as {@link seqDot} computes it. Four
 * vectors go per pass (then a pair, then one), so each `z` entry is loaded once per four products:
 * the node scoring of a level-synchronous descent, where the queries that reach a node are scored
 * together.
 */
export function multiDot(
  Q: Float64Array,
  off: Int32Array,
  k0: number,
  k1: number,
  z: Float64Array | Float32Array,
  zo: number,
  len: number,
  out: Float64Array,
): void {
  let k = k0;
  for (; k + 3 < k1; k += 4) {
    const o0 = off[k]!;
    const o1 = off[k + 1]!;
    const o2 = off[k + 2]!;
    const o3 = off[k + 3]!;
    let a0 = 0;
    let b0 = 0;
    let a1 = 0;
    let b1 = 0;
    let a2 = 0;
    let b2 = 0;
    let a3 = 0;
    let b3 = 0;
    let t = 0;
    for (; t + 1 < len; t += 2) {
      const v = z[zo + t]!;
      const w = z[zo + t + 1]!;
      a0 += Q[o0 + t]! * v;
      b0 += Q[o0 + t + 1]! * w;
      a1 += Q[o1 + t]! * v;
      b1 += Q[o1 + t + 1]! * w;
      a2 += Q[o2 + t]! * v;
      b2 += Q[o2 + t + 1]! * w;
      a3 += Q[o3 + t]! * v;
      b3 += Q[o3 + t + 1]! * w;
    }
    if (t < len) {
      const v = z[zo + t]!;
      a0 += Q[o0 + t]! * v;
      a1 += Q[o1 + t]! * v;
      a2 += Q[o2 + t]! * v;
      a3 += Q[o3 + t]! * v;
    }
    out[k] = a0 + b0;
    out[k + 1] = a1 + b1;
    out[k + 2] = a2 + b2;
    out[k + 3] = a3 + b3;
  }
  if (k + 1 < k1) {
    // two or three left: a pair, then a single
    const o0 = off[k]!;
    const o1 = off[k + 1]!;
    let a0 = 0;
    let b0 = 0;
    let a1 = 0;
    let b1 = 0;
    let t = 0;
    for (; t + 1 < len; t += 2) {
      const v = z[zo + t]!;
      const w = z[zo + t + 1]!;
      a0 += Q[o0 + t]! * v;
      b0 += Q[o0 + t + 1]! * w;
      a1 += Q[o1 + t]! * v;
      b1 += Q[o1 + t + 1]! * w;
    }
    if (t < len) {
      const v = z[zo + t]!;
      a0 += Q[o0 + t]! * v;
      a1 += Q[o1 + t]! * v;
    }
    out[k] = a0 + b0;
    out[k + 1] = a1 + b1;
    k += 2;
  }
  if (k < k1) out[k] = seqDot(Q, off[k]!, z, zo, len);
}

/**
 * Dot products of one vector `q[qo ..]` with `count` consecutive rows of `z` (row `p` at
 * `zo + p·len`): `out[oo + p]`, each as {@link seqDot} computes it. Four rows go per pass, so each
 * `q` entry is loaded once per four products: the scoring of a leaf's rows.
 */
export function rowsDot(
  q: Float64Array,
  qo: number,
  z: Float64Array | Float32Array,
  zo: number,
  count: number,
  len: number,
  out: Float64Array,
  oo: number,
): void {
  let p = 0;
  for (; p + 3 < count; p += 4) {
    const r0 = zo + p * len;
    const r1 = r0 + len;
    const r2 = r1 + len;
    const r3 = r2 + len;
    let a0 = 0;
    let b0 = 0;
    let a1 = 0;
    let b1 = 0;
    let a2 = 0;
    let b2 = 0;
    let a3 = 0;
    let b3 = 0;
    let t = 0;
    for (; t + 1 < len; t += 2) {
      const u = q[qo + t]!;
      const w = q[qo + t + 1]!;
      a0 += u * z[r0 + t]!;
      b0 += w * z[r0 + t + 1]!;
      a1 += u * z[r1 + t]!;
      b1 += w * z[r1 + t + 1]!;
      a2 += u * z[r2 + t]!;
      b2 += w * z[r2 + t + 1]!;
      a3 += u * z[r3 + t]!;
      b3 += w * z[r3 + t + 1]!;
    }
    if (t < len) {
      const u = q[qo + t]!;
      a0 += u * z[r0 + t]!;
      a1 += u * z[r1 + t]!;
      a2 += u * z[r2 + t]!;
      a3 += u * z[r3 + t]!;
    }
    out[oo + p] = a0 + b0;
    out[oo + p + 1] = a1 + b1;
    out[oo + p + 2] = a2 + b2;
    out[oo + p + 3] = a3 + b3;
  }
  for (; p < count; p++) out[oo + p] = seqDot(q, qo, z, zo + p * len, len);
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
  /** Number of classes under heap node `v` (`v < 2 · numLeaves`). */
  readonly sizes: Int32Array;
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
    this.sizes = new Int32Array(2 * nl);
    for (let j = 0; j < nl; j++) this.sizes[nl + j] = this.leafStart[j + 1]! - this.leafStart[j]!;
    for (let v = nl - 1; v >= 1; v--) this.sizes[v] = this.sizes[2 * v]! + this.sizes[2 * v + 1]!;
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
      this.leafStart.byteLength +
      this.sizes.byteLength
    );
  }

  /** Number of classes under heap node `v`. */
  nodeSize(v: number): number {
    return this.sizes[v]!;
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
 * Clamped child scores of a branch from the raw child scores `a` (left) and `b` (right), written
 * to `pair[po]`, `pair[po + 1]`: negative scores count as 0, a positive side is raised to at least
 * `eps` times the positive total, and with no positive (or a non-finite) total the branch splits by
 * the class counts `na`, `nb`. The branch probabilities are `pair[po + i] / (pair[po] + pair[po + 1])`.
 */
function branchPair(a: number, b: number, eps: number, na: number, nb: number, pair: Float64Array, po: number): void {
  const pa = a > 0 ? a : 0;
  const pb = b > 0 ? b : 0;
  const t = pa + pb;
  if (!(t > 0) || !Number.isFinite(t)) {
    // no usable estimate: split by class counts (uniform over the node's classes)
    pair[po] = na;
    pair[po + 1] = nb;
    return;
  }
  // t > 0, so at least one side stays positive
  const floor = eps * t;
  pair[po] = Math.max(pa, floor);
  pair[po + 1] = Math.max(pb, floor);
}

/** A leaf's weight total can be sampled from (else the leaf is drawn uniformly, in draws and in `logQ` alike). */
function usableTotal(tot: number): boolean {
  return tot > 0 && Number.isFinite(tot);
}

/**
 * Index `i < size` of the first cumulative weight `cum[co + i] > u`, stepping back over zero
 * weights (`u` rounding up to the total): the inverse-CDF pick within a leaf.
 */
function pickCum(cum: Float64Array, wts: Float64Array, co: number, size: number, u: number): number {
  let lo = 0;
  let hi = size - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cum[co + mid]! > u) hi = mid;
    else lo = mid + 1;
  }
  while (lo > 0 && !(wts[co + lo]! > 0)) lo--;
  return lo;
}

/**
 * `log q(id)` of one query over a {@link KernelTree}, with the node scores and leaf totals cached
 * per query. Scores use the same arithmetic as {@link TreeDescent}, so `logProb` of a drawn id equals
 * its reported log-probability exactly. Reuse one object for many queries.
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
  private readonly pair = new Float64Array(2);
  private gen = 0;

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
  }

  /** Starts a new query: `q` must already hold the stored-form query. Invalidates all caches. */
  begin(): void {
    if (++this.gen >= 0x7fffffff) {
      this.gen = 1;
      this.stamp.fill(0);
      this.leafStamp.fill(0);
    }
    this.tree.kernel.featurize(this.q, 0, this.qf, 0);
  }

  /** Raw score of the root: the kernel sum (or its estimate) over every class, `φ(h)·z + perClass·n`. */
  rootScore(): number {
    return this.rawScore(1);
  }

  /** Raw score of node `v`: the root and left children directly, right children by difference. */
  private rawScore(v: number): number {
    if (this.stamp[v] === this.gen) return this.raw[v]!;
    let s: number;
    if (v === 1 || (v & 1) === 0) {
      const t = this.tree;
      const k = t.kernel;
      s = seqDot(this.qf, 0, t.z, (v - 1) * k.summaryDim, k.summaryDim) + k.perClass * t.sizes[v]!;
    } else {
      s = this.rawScore(v >> 1) - this.rawScore(v - 1);
    }
    this.raw[v] = s;
    this.stamp[v] = this.gen;
    return s;
  }

  /** Leaf weight of the stored row at position `p`. */
  private weight(p: number): number {
    const t = this.tree;
    const D = t.kernel.rowDim;
    return t.kernel.leafWeight(seqDot(this.q, 0, t.rows, p * D, D));
  }

  /** Sum of the leaf weights of leaf `j` in row order (cached per query). */
  private leafTotal(j: number): number {
    if (this.leafStamp[j] === this.gen) return this.leafTot[j]!;
    const t = this.tree;
    let s = 0;
    for (let p = t.leafStart[j]!; p < t.leafStart[j + 1]!; p++) s += this.weight(p);
    this.leafTot[j] = s;
    this.leafStamp[j] = this.gen;
    return s;
  }

  /** `log q(id)` under the current query: the log branch probabilities of `id`'s path plus its leaf probability. */
  logProb(id: number): number {
    const t = this.tree;
    const j = t.leafOf[id]!;
    let lp = 0;
    let v = 1;
    const pair = this.pair;
    for (let lvl = t.depth - 1; lvl >= 0; lvl--) {
      branchPair(this.rawScore(2 * v), this.rawScore(2 * v + 1), t.kernel.eps, t.sizes[2 * v]!, t.sizes[2 * v + 1]!, pair, 0);
      const right = (j >> lvl) & 1;
      lp += Math.log(pair[right]!) - Math.log(pair[0]! + pair[1]!);
      v = 2 * v + right;
    }
    const tot = this.leafTotal(j);
    if (!usableTotal(tot)) return lp - Math.log(t.sizes[t.numLeaves + j]!);
    return lp + Math.log(this.weight(t.pos[id]!)) - Math.log(tot);
  }
}

/** Most queries descending together (bounds the per-query feature buffer). */
const DESCENT_QUERIES = 256;
/** Most draws descending together (bounds the per-level frontier). */
const DESCENT_DRAWS = 1 << 18;

/**
 * Level-synchronous batched descent over a {@link KernelTree}: the `m` draws of each of a batch of
 * queries go down the tree level by level. At every level the frontier holds one entry per
 * (query, node) with the number of that query's draws at the node, its path log-probability and
 * the node's raw score; the entries are kept sorted by node, so all queries at a node are scored
 * together ({@link multiDot}: the node's summary is read once per four queries). Only left children
 * are scored, the right one is `s(parent) − s(left)`; a node's score is computed once per query,
 * however many of its draws pass through it. At the leaves the queries of a leaf score its rows
 * together, and each query's draws are then shuffled, which gives i.i.d. draws.
 */
export class TreeDescent {
  readonly tree: KernelTree;
  private qf = new Float64Array(0);
  private fOff = new Int32Array(0);
  private cap = 0;
  // frontier (current and next level): query, node, count, path log-probability, raw node score
  private eq = new Int32Array(0);
  private en = new Int32Array(0);
  private ec = new Int32Array(0);
  private elp = new Float64Array(0);
  private es = new Float64Array(0);
  private nq = new Int32Array(0);
  private nn = new Int32Array(0);
  private nc = new Int32Array(0);
  private nlp = new Float64Array(0);
  private ns = new Float64Array(0);
  private left = new Int32Array(0);
  private logTot = new Float64Array(0);
  private pairs = new Float64Array(0);
  private scores = new Float64Array(0);
  private wts = new Float64Array(0);
  private cum = new Float64Array(0);
  private fill = new Int32Array(0);
  private readonly maxLeaf: number;

  constructor(tree: KernelTree) {
    this.tree = tree;
    let maxLeaf = 1;
    for (let j = 0; j < tree.numLeaves; j++) maxLeaf = Math.max(maxLeaf, tree.sizes[tree.numLeaves + j]!);
    this.maxLeaf = maxLeaf;
  }

  private reserve(queries: number, entries: number): void {
    const S = this.tree.kernel.summaryDim;
    if (this.qf.length < queries * S) {
      this.qf = new Float64Array(queries * S);
      this.fOff = new Int32Array(queries);
      this.left = new Int32Array(queries);
      this.logTot = new Float64Array(queries);
      this.pairs = new Float64Array(2 * queries);
      this.scores = new Float64Array(queries);
      this.fill = new Int32Array(queries);
      this.wts = new Float64Array(queries * this.maxLeaf);
      this.cum = new Float64Array(queries * this.maxLeaf);
    }
    if (this.cap < entries) {
      this.cap = entries;
      this.eq = new Int32Array(entries);
      this.en = new Int32Array(entries);
      this.ec = new Int32Array(entries);
      this.elp = new Float64Array(entries);
      this.es = new Float64Array(entries);
      this.nq = new Int32Array(entries);
      this.nn = new Int32Array(entries);
      this.nc = new Int32Array(entries);
      this.nlp = new Float64Array(entries);
      this.ns = new Float64Array(entries);
    }
  }

  /**
   * Draws `m` i.i.d. ids for each of the `rows` stored-form queries in `Q` (row-major,
   * `rows × rowDim`): the ids of query `r` go to `ids[r·m ..]`, their log-probabilities to
   * `logQ[r·m ..]`.
   */
  draw(Q: Float64Array, rows: number, m: number, rng: Rng, ids: Int32Array, logQ: Float64Array): void {
    const chunk = Math.max(1, Math.min(DESCENT_QUERIES, Math.floor(DESCENT_DRAWS / m)));
    for (let r0 = 0; r0 < rows; r0 += chunk) this.drawChunk(Q, r0, Math.min(chunk, rows - r0), m, rng, ids, logQ);
  }

  private drawChunk(Q: Float64Array, r0: number, rows: number, m: number, rng: Rng, ids: Int32Array, logQ: Float64Array): void {
    const t = this.tree;
    const k = t.kernel;
    const S = k.summaryDim;
    const D = k.rowDim;
    this.reserve(rows, rows * Math.min(m, t.numLeaves));
    for (let r = 0; r < rows; r++) {
      k.featurize(Q, (r0 + r) * D, this.qf, r * S);
      this.eq[r] = r;
      this.en[r] = 1;
      this.ec[r] = m;
      this.elp[r] = 0;
      this.fOff[r] = r * S;
    }
    let len = rows;
    if (t.depth > 0) {
      multiDot(this.qf, this.fOff, 0, rows, t.z, 0, S, this.es);
      for (let r = 0; r < rows; r++) this.es[r] += k.perClass * t.sizes[1]!;
    }
    for (let lvl = 0; lvl < t.depth; lvl++) len = this.level(len, rng);
    this.leaves(Q, r0, len, m, rng, ids, logQ);
    // shuffle each query's draws: multinomial counts in random order = an i.i.d. sequence
    for (let r = 0; r < rows; r++) {
      const o = (r0 + r) * m;
      for (let i = m - 1; i > 0; i--) {
        const j = o + rng.int(i + 1);
        const a = ids[o + i]!;
        ids[o + i] = ids[j]!;
        ids[j] = a;
        const b = logQ[o + i]!;
        logQ[o + i] = logQ[j]!;
        logQ[j] = b;
      }
    }
  }

  /** Moves the frontier of `len` entries one level down; returns the new length. */
  private level(len: number, rng: Rng): number {
    const t = this.tree;
    const k = t.kernel;
    const S = k.summaryDim;
    const { eq, en, ec, elp, es, nq, nn, nc, nlp, ns, fOff, scores, pairs, left, logTot } = this;
    let out = 0;
    for (let i = 0; i < len; ) {
      const v = en[i]!;
      let j = i;
      while (j < len && en[j] === v) j++;
      const g = j - i;
      for (let e = 0; e < g; e++) fOff[e] = eq[i + e]! * S;
      const L = 2 * v;
      const nl = t.sizes[L]!;
      const nr = t.sizes[L + 1]!;
      multiDot(this.qf, fOff, 0, g, t.z, (L - 1) * S, S, scores);
      for (let e = 0; e < g; e++) {
        const sl = scores[e]! + k.perClass * nl;
        scores[e] = sl;
        branchPair(sl, es[i + e]! - sl, k.eps, nl, nr, pairs, 2 * e);
        const a = pairs[2 * e]!;
        const tot = a + pairs[2 * e + 1]!;
        const c = ec[i + e]!;
        let l = 0;
        for (let x = 0; x < c; x++) if (rng.float() * tot < a) l++;
        left[e] = l;
        logTot[e] = Math.log(tot);
      }
      // left children first, then right children: the next frontier stays sorted by node; the
      // path sums add each level's log-probability as TreeQuery.logProb does (same rounding)
      for (let e = 0; e < g; e++) {
        const l = left[e]!;
        if (l === 0) continue;
        nq[out] = eq[i + e]!;
        nn[out] = L;
        nc[out] = l;
        nlp[out] = elp[i + e]! + (Math.log(pairs[2 * e]!) - logTot[e]!);
        ns[out++] = scores[e]!;
      }
      for (let e = 0; e < g; e++) {
        const r = ec[i + e]! - left[e]!;
        if (r === 0) continue;
        nq[out] = eq[i + e]!;
        nn[out] = L + 1;
        nc[out] = r;
        nlp[out] = elp[i + e]! + (Math.log(pairs[2 * e + 1]!) - logTot[e]!);
        ns[out++] = es[i + e]! - scores[e]!;
      }
      i = j;
    }
    this.eq = nq;
    this.nq = eq;
    this.en = nn;
    this.nn = en;
    this.ec = nc;
    this.nc = ec;
    this.elp = nlp;
    this.nlp = elp;
    this.es = ns;
    this.ns = es;
    return out;
  }

  /** Draws within the leaves of the final frontier and writes each query's draws (unshuffled). */
  private leaves(Q: Float64Array, r0: number, len: number, m: number, rng: Rng, ids: Int32Array, logQ: Float64Array): void {
    const t = this.tree;
    const k = t.kernel;
    const D = k.rowDim;
    const { eq, en, ec, elp, wts, cum, fill } = this;
    fill.fill(0);
    for (let i = 0; i < len; ) {
      const v = en[i]!;
      let j = i;
      while (j < len && en[j] === v) j++;
      const g = j - i;
      const leaf = v - t.numLeaves;
      const a = t.leafStart[leaf]!;
      const size = t.leafStart[leaf + 1]! - a;
      for (let e = 0; e < g; e++) {
        const co = e * size;
        rowsDot(Q, (r0 + eq[i + e]!) * D, t.rows, a * D, size, D, wts, co);
        let s = 0;
        for (let p = 0; p < size; p++) {
          const w = k.leafWeight(wts[co + p]!);
          wts[co + p] = w;
          s += w;
          cum[co + p] = s;
        }
        const q = eq[i + e]!;
        const o = (r0 + q) * m;
        const c = ec[i + e]!;
        const lp = elp[i + e]!;
        if (!usableTotal(s)) {
          const l = lp - Math.log(size);
          for (let x = 0; x < c; x++) {
            ids[o + fill[q]!] = t.perm[a + rng.int(size)]!;
            logQ[o + fill[q]!++] = l;
          }
          continue;
        }
        const lt = Math.log(s);
        for (let x = 0; x < c; x++) {
          const p = pickCum(cum, wts, co, size, rng.float() * s);
          ids[o + fill[q]!] = t.perm[a + p]!;
          // the same weight logProb uses, so draws and logProb agree exactly
          logQ[o + fill[q]!++] = lp + Math.log(wts[co + p]!) - lt;
        }
      }
      i = j;
    }
  }
}

/** Buffered per-row distribution over a {@link TreeQuery}: draws come from a {@link TreeDescent} of that one query. */
class TreeRowDistribution implements RowDistribution {
  lastLogQ = 0;
  /** Batch size of the next refill (the number of draws the caller asked for). */
  hint = 64;
  private ids = new Int32Array(0);
  private lq = new Float64Array(0);
  private pos = 0;
  private len = 0;
  constructor(
    private readonly tq: TreeQuery,
    private readonly descent: TreeDescent,
  ) {}

  reset(): void {
    this.pos = 0;
    this.len = 0;
  }

  /** The root's score, clamped by the kernel ({@link TreeKernel.clampMass}). */
  get logMass(): number {
    const t = this.tq.tree;
    return Math.log(t.kernel.clampMass(this.tq.rootScore(), t.n));
  }

  draw(rng: Rng): number {
    if (this.pos >= this.len) {
      const k = this.hint;
      if (this.ids.length < k) {
        this.ids = new Int32Array(k);
        this.lq = new Float64Array(k);
      }
      this.descent.draw(this.tq.q, 1, k, rng, this.ids, this.lq);
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
 * {@link KernelTree}, maps each query row to its stored form, and samples by a level-synchronous
 * batched descent of all queries ({@link TreeDescent}; unique or excluding draws go query by query).
 * `update(ids)` re-reads those rows from the table given to `build` and refreshes the summaries
 * along their root-to-leaf paths only.
 */
export abstract class KernelTreeSampler extends SamplerBase {
  readonly adaptive = true;
  protected tree: KernelTree | null = null;
  private tq: TreeQuery | null = null;
  private descent: TreeDescent | null = null;
  private dist: TreeRowDistribution | null = null;
  private table: ClassTable | null = null;
  private stored = new Float64Array(0);
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
  /** Writes the stored form of the query `h[ho .. ho+d)` into `out[oo .. oo+rowDim)`. */
  protected abstract storeQuery(h: Float32Array, ho: number, out: Float64Array, oo: number): void;
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
    this.descent = new TreeDescent(this.tree);
    this.dist = new TreeRowDistribution(this.tq, this.descent);
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
    if (opts.unique || opts.exclude) {
      if (this.dist) this.dist.hint = Math.max(1, Math.min(opts.m, 1 << 20));
      return super.sample(opts);
    }
    const { rows } = this.checkSampleOptions(opts);
    const m = opts.m;
    const q = opts.queries!;
    const D = this.tree!.kernel.rowDim;
    if (this.stored.length < rows * D) this.stored = new Float64Array(rows * D);
    for (let r = 0; r < rows; r++) this.storeQuery(q.data, r * this.dim, this.stored, r * D);
    const ids = new Int32Array(rows * m);
    const logQ = new Float64Array(rows * m);
    this.descent!.draw(this.stored, rows, m, opts.rng, ids, logQ);
    return { ids, logQ, rows, m, shared: false, unique: false, tries: null };
  }

  protected rowDistribution(queries: Matrix | null, row: number): RowDistribution {
    const tq = this.tq!;
    this.storeQuery(queries!.data, row * this.dim, tq.q, 0);
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
