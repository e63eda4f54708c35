/**
 * Seeded, splittable pseudo-random generator (xoshiro128**), built only on 32-bit
 * integer arithmetic so the same seed gives the same stream on every platform.
 * @module
 */
import { OptionError } from './errors.js';

/** 32-bit finalizer of MurmurHash3: a bijective avalanche mix. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const TWO_POW_32 = 4294967296;
const INV_TWO_POW_53 = 1 / 9007199254740992;

/**
 * A deterministic random generator. Construct with {@link Rng.fromSeed}; derive
 * independent streams with {@link Rng.split} (advances this generator) or
 * {@link Rng.fork} (does not, keyed by an integer, e.g. a row or worker index).
 */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spare = Number.NaN;

  private constructor(a: number, b: number, c: number, d: number) {
    // the state words are kept as int32 (the same bits as uint32): V8 then holds them as
    // small integers and the generator needs no float conversions
    this.s0 = a | 0;
    this.s1 = b | 0;
    this.s2 = c | 0;
    this.s3 = d | 0;
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 0x9e3779b9 | 0;
  }

  /**
   * Creates a generator from a non-negative integer seed (up to 2^53) and an
   * optional stream number; distinct (seed, stream) pairs give unrelated streams.
   */
  static fromSeed(seed: number, stream = 0): Rng {
    if (!Number.isSafeInteger(seed) || seed < 0) {
      throw new OptionError(`seed must be a non-negative safe integer, got ${seed}`);
    }
    if (!Number.isSafeInteger(stream) || stream < 0) {
      throw new OptionError(`stream must be a non-negative safe integer, got ${stream}`);
    }
    const lo = seed >>> 0;
    const hi = Math.floor(seed / TWO_POW_32) >>> 0;
    const slo = stream >>> 0;
    const shi = Math.floor(stream / TWO_POW_32) >>> 0;
    return Rng.fromWords(lo, hi, slo, shi);
  }

  private static fromWords(w0: number, w1: number, w2: number, w3: number): Rng {
    let h = fmix32(w0 ^ 0x243f6a88);
    const a = fmix32(h ^ Math.imul(w1 ^ 0x85a308d3, 0x9e3779b1));
    h = fmix32(a + 0x13198a2e);
    const b = fmix32(h ^ Math.imul(w2 ^ 0x03707344, 0x9e3779b1));
    h = fmix32(b + 0xa4093822);
    const c = fmix32(h ^ Math.imul(w3 ^ 0x299f31d0, 0x9e3779b1));
    const d = fmix32(c + 0x082efa98 + a);
    const r = new Rng(a, b, c, d);
    // discard a few outputs so weak seeds are well mixed
    for (let i = 0; i < 8; i++) r.nextU32();
    return r;
  }

  /** Next uniformly distributed unsigned 32-bit integer. */
  nextU32(): number {
    const s0 = this.s0;
    const s1 = this.s1;
    const s2 = this.s2;
    const s3 = this.s3;
    const m = Math.imul(s1, 5);
    const r = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    const t = s1 << 9;
    let n2 = s2 ^ s0;
    let n3 = s3 ^ s1;
    const n1 = s1 ^ n2;
    const n0 = s0 ^ n3;
    n2 ^= t;
    n3 = (n3 << 11) | (n3 >>> 21);
    this.s0 = n0;
    this.s1 = n1;
    this.s2 = n2;
    this.s3 = n3;
    return r;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  float(): number {
    const a = this.nextU32() >>> 5;
    const b = this.nextU32() >>> 6;
    return (a * 67108864 + b) * INV_TWO_POW_53;
  }

  /** Uniform double in (0, 1): never exactly zero (safe for `log`). */
  floatOpen(): number {
    let u = this.float();
    while (u === 0) u = this.float();
    return u;
  }

  /** Unbiased uniform integer in [0, n), n ≤ 2^32 (Lemire's method with rejection). */
  int(n: number): number {
    if (!(n > 0) || n > TWO_POW_32 || !Number.isInteger(n)) {
      throw new OptionError(`int(n) needs an integer 1 ≤ n ≤ 2^32, got ${n}`);
    }
    if (n === TWO_POW_32) return this.nextU32();
    // unsigned 32-bit operands: V8 then computes `%` with an integer division, not fmod
    const n32 = n >>> 0;
    let x = this.nextU32();
    // a draw below the threshold 2^32 mod n is rejected; the threshold is below n, so only a draw
    // below n needs it (the same draws as testing every draw against it)
    if (x < n32) {
      const threshold = (-n32 >>> 0) % n32;
      while (x < threshold) x = this.nextU32();
    }
    return (x % n32) >>> 0;
  }

  /** Standard normal variate (Marsaglia polar method, caching the spare). */
  normal(): number {
    if (!Number.isNaN(this.spare)) {
      const s = this.spare;
      this.spare = Number.NaN;
      return s;
    }
    let u: number;
    let v: number;
    let s: number;
    do {
      u = 2 * this.float() - 1;
      v = 2 * this.float() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const f = Math.sqrt((-2 * Math.log(s)) / s);
    this.spare = v * f;
    return u * f;
  }

  /** Fills `out` with standard normal variates times `scale`. */
  fillNormal(out: Float32Array | Float64Array, scale = 1): void {
    for (let i = 0; i < out.length; i++) out[i] = this.normal() * scale;
  }

  /** Returns an independent generator and advances this one. */
  split(): Rng {
    return Rng.fromWords(this.nextU32(), this.nextU32(), this.nextU32(), this.nextU32());
  }

  /**
   * Returns the generator of sub-stream `key` without advancing this one: the same
   * state and key always give the same child. Use it to give each row, worker or
   * epoch its own stream so results do not depend on scheduling.
   */
  fork(key: number): Rng {
    if (!Number.isSafeInteger(key) || key < 0) {
      throw new OptionError(`fork key must be a non-negative safe integer, got ${key}`);
    }
    const klo = key >>> 0;
    const khi = Math.floor(key / TWO_POW_32) >>> 0;
    return Rng.fromWords(
      fmix32(this.s0 ^ klo),
      fmix32(this.s1 ^ Math.imul(khi + 1, 0x9e3779b1)),
      fmix32(this.s2 + 0x6a09e667),
      fmix32(this.s3 ^ 0xbb67ae85 ^ klo),
    );
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T>(a: T[] | Int32Array | Uint32Array): void {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i]!;
      a[i] = a[j]!;
      a[j] = t;
    }
  }

  /** Snapshot of the internal state (for checkpoints). */
  state(): [number, number, number, number] {
    return [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0];
  }

  /** Restores a generator from {@link Rng.state}. */
  static fromState(s: readonly number[]): Rng {
    if (s.length !== 4) throw new OptionError('Rng state must have 4 words');
    return new Rng(s[0]!, s[1]!, s[2]!, s[3]!);
  }
}
