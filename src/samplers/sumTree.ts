/**
 * A complete binary tree of float64 partial sums over `n` non-negative leaf weights:
 * O(n) fill, O(log n) draw proportional to the weights, O(log n) weight change.
 * Internal nodes are recomputed from their children (never by subtraction), so removing
 * a dominant leaf leaves the exact sum of the others.
 * @module
 */
import type { Rng } from '../core/rng.js';

/** Sum tree with capacity fixed at construction; reuse it across rows with {@link SumTree.fill}. */
export class SumTree {
  /** Number of leaves in use. */
  n = 0;
  private size = 1;
  private tree: Float64Array;

  constructor(capacity: number) {
    while (this.size < capacity) this.size *= 2;
    this.tree = new Float64Array(2 * this.size);
  }

  /** Sets the leaves to `w[0..n)` (others 0) and recomputes every sum. `n` must fit the capacity. */
  fill(w: ArrayLike<number>, n: number): void {
    const P = this.size;
    const t = this.tree;
    this.n = n;
    for (let i = 0; i < n; i++) t[P + i] = w[i]!;
    t.fill(0, P + n, 2 * P);
    for (let j = P - 1; j >= 1; j--) t[j] = t[2 * j]! + t[2 * j + 1]!;
  }

  /** Sum of all leaves. */
  get total(): number {
    return this.tree[1]!;
  }

  /** Weight of leaf `i`. */
  weight(i: number): number {
    return this.tree[this.size + i]!;
  }

  /** Sets leaf `i` to `w` and recomputes its ancestors. */
  set(i: number, w: number): void {
    const t = this.tree;
    let j = this.size + i;
    t[j] = w;
    for (j >>= 1; j >= 1; j >>= 1) t[j] = t[2 * j]! + t[2 * j + 1]!;
  }

  /**
   * Draws a leaf with probability weight/total (total must be > 0). A zero-weight leaf is
   * never returned, whatever the rounding.
   */
  draw(rng: Rng): number {
    const t = this.tree;
    const P = this.size;
    let u = rng.float() * t[1]!;
    let j = 1;
    while (j < P) {
      const l = 2 * j;
      const wl = t[l]!;
      if (t[l + 1]! === 0 || (u < wl && wl > 0)) {
        j = l;
      } else {
        u -= wl;
        j = l + 1;
      }
    }
    return j - P;
  }
}
