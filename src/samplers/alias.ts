/**
 * Walker's alias method (Vose's construction): O(n) build, O(1) draws from a fixed
 * discrete distribution given by non-negative weights.
 * @module
 */
import { NonFiniteError, OptionError } from '../core/errors.js';
import type { Rng } from '../core/rng.js';

/**
 * An alias table over `n` ids with probabilities proportional to non-negative float64 weights.
 * Ids with zero weight are never drawn (`prob(i) = 0`, `logProb(i) = −Infinity`): the table is
 * built over the positive-weight ids only, so no rounding in the construction can give them mass.
 */
export class AliasTable {
  /** Number of ids (including zero-weight ones). */
  readonly n: number;
  /** Number of ids with positive weight (the support). */
  readonly support: number;
  /** Weights divided by their maximum (in [0, 1]); kept to score ids exactly. */
  private readonly scaled: Float64Array;
  /** log of the sum of {@link AliasTable.scaled}. */
  private readonly logTotal: number;
  private readonly total: number;
  /** Support ids; column `k` of the table belongs to `ids[k]`. */
  private readonly ids: Int32Array;
  /** Probability of keeping column `k` (else take its alias). */
  private readonly keep: Float64Array;
  /** Alias of column `k`, as a column index. */
  private readonly alias: Int32Array;
  /**
   * The draw path, one record of {@link STRIDE} float64 per column so a draw touches one cache
   * line: `[keep, id, log q(id), alias id, log q(alias id)]`.
   */
  private readonly packed: Float64Array;
  /** Log-probability of the id returned by the last {@link AliasTable.draw}. */
  lastLogQ = 0;

  /**
   * Builds the table from `weights` (copied). O(n).
   * @throws NonFiniteError for NaN or ±Infinity weights; OptionError for negative weights,
   *   an empty array or weights that are all zero.
   */
  constructor(weights: ArrayLike<number>, what = 'weights') {
    const n = weights.length;
    if (n === 0) throw new OptionError(`${what} is empty; give one non-negative weight per class`);
    let mx = 0;
    for (let i = 0; i < n; i++) {
      const w = weights[i]!;
      if (!Number.isFinite(w)) {
        throw new NonFiniteError(`${what} contains ${w} at index ${i}; weights must be finite and ≥ 0`, i);
      }
      if (w < 0) throw new OptionError(`${what} contains the negative value ${w} at index ${i}; weights must be ≥ 0`);
      if (w > mx) mx = w;
    }
    if (mx === 0) throw new OptionError(`${what} are all zero; at least one class needs a positive weight`);
    const scaled = new Float64Array(n);
    let support = 0;
    for (let i = 0; i < n; i++) {
      const s = weights[i]! / mx;
      scaled[i] = s;
      if (s > 0) support++;
    }
    const ids = new Int32Array(support);
    let k = 0;
    for (let i = 0; i < n; i++) if (scaled[i]! > 0) ids[k++] = i;
    const total = neumaierSum(scaled);
    this.n = n;
    this.support = support;
    this.scaled = scaled;
    this.total = total;
    this.logTotal = Math.log(total);
    this.ids = ids;
    this.keep = new Float64Array(support);
    this.alias = new Int32Array(support);
    this.construct();
    this.packed = new Float64Array(STRIDE * support);
    for (let c = 0; c < support; c++) {
      const id = ids[c]!;
      const al = ids[this.alias[c]!]!;
      const o = STRIDE * c;
      this.packed[o] = this.keep[c]!;
      this.packed[o + 1] = id;
      this.packed[o + 2] = this.logProb(id);
      this.packed[o + 3] = al;
      this.packed[o + 4] = this.logProb(al);
    }
  }

  /** Vose's two-worklist construction over the support columns. */
  private construct(): void {
    const k = this.support;
    const p = new Float64Array(k);
    for (let j = 0; j < k; j++) p[j] = (this.scaled[this.ids[j]!]! * k) / this.total;
    const small = new Int32Array(k);
    const large = new Int32Array(k);
    let ns = 0;
    let nl = 0;
    for (let j = 0; j < k; j++) {
      if (p[j]! < 1) small[ns++] = j;
      else large[nl++] = j;
    }
    while (ns > 0 && nl > 0) {
      const s = small[--ns]!;
      const l = large[nl - 1]!;
      this.keep[s] = p[s]!;
      this.alias[s] = l;
      p[l] = p[l]! + p[s]! - 1;
      if (p[l]! < 1) {
        nl--;
        small[ns++] = l;
      }
    }
    // Leftovers are 1 up to rounding; every column here has positive weight.
    while (nl > 0) {
      const l = large[--nl]!;
      this.keep[l] = 1;
      this.alias[l] = l;
    }
    while (ns > 0) {
      const s = small[--ns]!;
      this.keep[s] = 1;
      this.alias[s] = s;
    }
  }

  /**
   * Draws one id in O(1) from one 53-bit uniform `u`: column `⌊u·K⌋`, and the fractional part of
   * `u·K` (uniform on [0, 1), independent of the column, with ≥ 21 bits for K < 2^32) decides
   * between the column and its alias. Sets {@link AliasTable.lastLogQ}.
   */
  draw(rng: Rng): number {
    const x = rng.float() * this.support;
    const k = Math.floor(x);
    const o = STRIDE * k;
    const p = this.packed;
    if (x - k < p[o]!) {
      this.lastLogQ = p[o + 2]!;
      return p[o + 1]!;
    }
    this.lastLogQ = p[o + 4]!;
    return p[o + 3]!;
  }

  /** Probability of id `i` (0 for zero-weight ids). `i` must be an integer in `[0, n)`. */
  prob(i: number): number {
    return this.scaled[i]! / this.total;
  }

  /** Log-probability of id `i` (−Infinity for zero-weight ids). `i` must be an integer in `[0, n)`. */
  logProb(i: number): number {
    const s = this.scaled[i]!;
    return s > 0 ? Math.log(s) - this.logTotal : -Infinity;
  }

  /** Bytes held by the table. */
  get byteLength(): number {
    return this.scaled.byteLength + this.ids.byteLength + this.keep.byteLength + this.alias.byteLength + this.packed.byteLength;
  }
}

/** Float64 entries per column of the packed draw records. */
const STRIDE = 5;

/** Compensated (Neumaier) sum of non-negative values. */
function neumaierSum(a: Float64Array): number {
  let s = 0;
  let c = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const t = s + x;
    c += s >= x ? s - t + x : x - t + s;
    s = t;
  }
  return s + c;
}
