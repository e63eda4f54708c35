/**
 * A seeded pseudo-random permutation of `[0, n)` evaluated one index at a time in O(1) memory:
 * a keyed Feistel network on the smallest even number of bits covering `n`, restricted to
 * `[0, n)` by cycle walking. It replaces a shuffled index array where `n` is too large to hold
 * one (10^8 rows: 400 MB of int32).
 * @module
 */
import { OptionError } from './errors.js';
import { fmix32, Rng } from './rng.js';

/** Feistel rounds (six rounds of a keyed avalanche mix: a well-mixed order, not a cipher). */
const ROUNDS = 6;

/** The largest size of a {@link FeistelPermutation} (its values fit an `Int32Array`). */
export const FEISTEL_MAX_SIZE = 2 ** 31;

/**
 * A bijection of `[0, size)` onto itself that depends only on `(seed, stream)`:
 * `at(i)` is the `i`-th element of the permuted order. Each round maps the halves `(L, R)` of
 * a `2h`-bit word to `(R, L ⊕ F_k(R))`, a bijection of `[0, 4^h)` whatever `F` is; an image at or
 * past `size` is mapped again until it falls inside (cycle walking), which keeps the map a
 * bijection of `[0, size)`. `4^h < 4·size`, so an index takes fewer than four walks on average.
 */
export class FeistelPermutation {
  /** The number of elements permuted. */
  readonly size: number;
  private readonly half: number;
  private readonly mask: number;
  private readonly keys: Uint32Array;

  /**
   * @param size elements, `1 ≤ size ≤ 2^31`
   * @param seed non-negative integer seed
   * @param stream stream number: distinct `(seed, stream)` pairs give unrelated orders
   * @throws OptionError for a size out of range or a bad seed or stream
   */
  constructor(size: number, seed: number, stream = 0) {
    if (!Number.isInteger(size) || size < 1 || size > FEISTEL_MAX_SIZE) {
      throw new OptionError(`permutation size must be a whole number in [1, 2^31], got ${size}`);
    }
    this.size = size;
    let bits = 0;
    while (2 ** bits < size) bits++;
    this.half = Math.max(1, Math.ceil(bits / 2));
    this.mask = 2 ** this.half - 1;
    const rng = Rng.fromSeed(seed, stream);
    this.keys = new Uint32Array(ROUNDS);
    for (let i = 0; i < ROUNDS; i++) this.keys[i] = rng.nextU32();
  }

  /** One pass of the network over `[0, 4^half)`. */
  private encrypt(x: number): number {
    const h = this.half;
    const mask = this.mask;
    let l = Math.floor(x / 2 ** h);
    let r = x & mask;
    for (let k = 0; k < ROUNDS; k++) {
      const f = fmix32((r + Math.imul(k + 1, 0x9e3779b9)) ^ this.keys[k]!) & mask;
      const t = l ^ f;
      l = r;
      r = t;
    }
    return l * 2 ** h + r;
  }

  /**
   * The element at position `i` of the permuted order.
   * @throws OptionError when `i` is not a whole number in `[0, size)`
   */
  at(i: number): number {
    if (!Number.isInteger(i) || i < 0 || i >= this.size) {
      throw new OptionError(`permutation index must be a whole number in [0, ${this.size}), got ${i}`);
    }
    return this.walk(i);
  }

  /**
   * Writes the elements at positions `start … start + out.length − 1` into `out`.
   * @throws OptionError when the positions leave `[0, size)`
   */
  fill(start: number, out: Int32Array): void {
    if (!Number.isInteger(start) || start < 0 || start + out.length > this.size) {
      throw new OptionError(`permutation positions [${start}, ${start + out.length}) leave [0, ${this.size})`);
    }
    for (let j = 0; j < out.length; j++) out[j] = this.walk(start + j);
  }

  /** The image of `i` in `[0, size)`: the network applied until it lands there (cycle walking). */
  private walk(i: number): number {
    let x = this.encrypt(i);
    while (x >= this.size) x = this.encrypt(x);
    return x;
  }
}
