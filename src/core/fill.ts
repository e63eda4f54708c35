/**
 * The seeded table fills (the reference that defines the values): a standard normal stream cut
 * in chunks and a uniform stream, from xoshiro128** words, using only + − × ÷ and `sqrt`, so that
 * the WebAssembly kernels give the same bits. {@link tableFills} is the dispatch `ClassTable.init`
 * calls through; the kernel layer points it at the active kernels.
 * @module
 */
import { ShapeError } from './errors.js';

const TWO_M31 = 1 / 2147483648;
const LN2 = 0.6931471805599453;
const SQRT2 = 1.4142135623730951;
const F64 = new Float64Array(1);
const W32 = new Int32Array(F64.buffer);
/** Index of the high word of a float64 in {@link W32} (1 on little-endian machines). */
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;

/** xoshiro128** on `st[0..4)` (advanced in place); returns the next output as a signed int32. */
function xoNext(st: Int32Array): number {
  const s0 = st[0]!;
  const s1 = st[1]!;
  const s2 = st[2]!;
  const s3 = st[3]!;
  const x = Math.imul(s1, 5);
  const r = Math.imul((x << 7) | (x >>> 25), 9);
  const t = s1 << 9;
  let n2 = s2 ^ s0;
  const n3 = s3 ^ s1;
  st[0] = s0 ^ n3;
  st[1] = s1 ^ n2;
  n2 ^= t;
  st[2] = n2;
  st[3] = (n3 << 11) | (n3 >>> 21);
  return r;
}

/**
 * Natural log of `s` in (0, 1] with only + − × ÷ (the wasm kernel's `lnUnit`): `s = 2^e·m`, `m`
 * in [√½, √2), `ln m = 2·atanh(t)`, `t = (m−1)/(m+1)`, to the t^11 term (relative error below 2e-9, far below float32's).
 */
function lnUnit(s: number): number {
  F64[0] = s;
  const hi = W32[HI]!;
  let e = ((hi >>> 20) & 0x7ff) - 1023;
  W32[HI] = (hi & 0x000fffff) | 0x3ff00000;
  let m = F64[0]!;
  if (m > SQRT2) {
    m *= 0.5;
    e += 1;
  }
  const t = (m - 1) / (m + 1);
  const t2 = t * t;
  const t4 = t2 * t2;
  const p = (1 / 3 + t2 * (1 / 5)) + t4 * ((1 / 7 + t2 * (1 / 9)) + t4 * (1 / 11));
  return e * LN2 + 2 * t * (1 + t2 * p);
}

/** Values per chunk of a normal fill (see {@link fillNormal}). */
export const NORMAL_CHUNK = 1024;

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * Writes positions `start … start+len−1` (`start` a multiple of {@link NORMAL_CHUNK}) of the
 * standard normal stream of `seed` (4 words, not changed), times `scale`, to `out[off ..
 * off+len)`. The stream is cut in chunks of 1024 values; chunk `j` runs xoshiro128** from the
 * words `fmix32(seed_w ^ (j + 1)·K_w)` and turns its words, four at a time, into two candidate
 * pairs `u, v` uniform in [−1, 1) (Marsaglia's polar method): a pair with `0 < s = u²+v² < 1`
 * gives `u·f, v·f`, `f = √(−2·ln s / s)·scale`, rounded to float32, the first pair before the
 * second; values past the end of a chunk are dropped. Chunks make any split of a fill (staged
 * blocks, threads) give the same values.
 */
export function fillNormal(out: Float32Array, off: number, len: number, seed: Int32Array, scale: number, start = 0): void {
  if (start % NORMAL_CHUNK !== 0) throw new ShapeError(`fillNormal: start ${start} must be a multiple of ${NORMAL_CHUNK}`);
  const st = new Int32Array(4);
  const w = [0, 0, 0, 0];
  for (let c0 = 0; c0 < len; c0 += NORMAL_CHUNK) {
    const j = (start + c0) / NORMAL_CHUNK + 1;
    st[0] = fmix32(seed[0]! ^ Math.imul(j, 0x9e3779b9));
    st[1] = fmix32(seed[1]! ^ Math.imul(j, 0x85ebca6b));
    st[2] = fmix32(seed[2]! ^ Math.imul(j, 0xc2b2ae35));
    st[3] = fmix32(seed[3]! ^ Math.imul(j, 0x27d4eb2f));
    if ((st[0]! | st[1]! | st[2]! | st[3]!) === 0) st[0] = 1;
    const cl = Math.min(NORMAL_CHUNK, len - c0);
    const o = off + c0;
    let i = 0;
    while (i < cl) {
      for (let q = 0; q < 4; q++) w[q] = xoNext(st);
      for (let c = 0; c < 4 && i < cl; c += 2) {
        const u = w[c]! * TWO_M31;
        const v = w[c + 1]! * TWO_M31;
        const s = u * u + v * v;
        if (!(s < 1 && s !== 0)) continue;
        const f = Math.sqrt((-2 * lnUnit(s)) / s) * scale;
        out[o + i] = u * f;
        if (i + 1 < cl) out[o + i + 1] = v * f;
        i += 2;
      }
    }
  }
}

/** Fills `out[off .. off+len)` with `scale·u`, `u` uniform in [−1, 1) from one xoshiro128** word of `state` each. */
export function fillUniform(out: Float32Array, off: number, len: number, state: Int32Array, scale: number): void {
  for (let i = 0; i < len; i++) out[off + i] = xoNext(state) * TWO_M31 * scale;
}

/** The fills `ClassTable.init` uses: the reference above until the kernel layer installs its own. */
export const tableFills: { normal: typeof fillNormal; uniform: typeof fillUniform } = { normal: fillNormal, uniform: fillUniform };
