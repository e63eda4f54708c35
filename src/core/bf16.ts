/**
 * bfloat16 storage for class tables: the top 16 bits of a float32 (same exponent range, 8 bits of
 * significand), rounded to nearest, ties to even. Values are stored as 16 bits and every
 * computation decodes them to float32 first.
 * @module
 */
import { ClassTable } from './classTable.js';
import { NonFiniteError, ShapeError } from './errors.js';
import { intOption } from './validate.js';

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/**
 * The bfloat16 bits of `x` rounded to float32 first, then to bfloat16 by round-to-nearest-even
 * (NaN stays a quiet NaN; values past the largest bfloat16 round to ±Infinity, as IEEE rounding does).
 */
export function toBf16(x: number): number {
  F32[0] = x;
  const u = U32[0]!;
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 0x40) & 0xffff; // NaN: keep it quiet
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** The float32 value of bfloat16 bits `b`. */
export function fromBf16(b: number): number {
  U32[0] = (b & 0xffff) << 16;
  return F32[0]!;
}

/** `x` rounded to the nearest bfloat16 (ties to even), as a number. */
export function roundBf16(x: number): number {
  return fromBf16(toBf16(x));
}

/** Encodes `count` floats `src[so ..]` as bfloat16 into `dst[dOff ..]`. */
export function encodeBf16(src: Float32Array, so: number, dst: Uint16Array, dOff: number, count: number): void {
  const u = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < count; i++) {
    const x = u[so + i]!;
    dst[dOff + i] = (x & 0x7fffffff) > 0x7f800000 ? ((x >>> 16) | 0x40) & 0xffff : ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
  }
}

/** Decodes `count` bfloat16 values `src[so ..]` into the floats `dst[dOff ..]` (exact). */
export function decodeBf16(src: Uint16Array, so: number, dst: Float32Array, dOff: number, count: number): void {
  const u = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  for (let i = 0; i < count; i++) u[dOff + i] = src[so + i]! << 16;
}

/**
 * An `n × d` class table whose embeddings are stored as bfloat16 (`Uint16Array`, half the bytes
 * of float32) and whose biases stay float32. It is a shard type of {@link ShardedClassTable}:
 * rows are decoded to float32 to be computed with ({@link Bf16ClassTable.decodeRows}) and written
 * back rounded to nearest even ({@link Bf16ClassTable.encodeRows}).
 */
export class Bf16ClassTable {
  /** Number of classes. */
  readonly n: number;
  /** Embedding dimension. */
  readonly d: number;
  /** Row-major `n × d` bfloat16 bits. */
  readonly data: Uint16Array;
  /** Per-class float32 bias, or `null`. */
  readonly bias: Float32Array | null;

  /**
   * Wraps existing arrays (no copy).
   * @throws ShapeError for lengths that do not match; NonFiniteError for a non-finite bias
   */
  constructor(n: number, d: number, data: Uint16Array, bias: Float32Array | null = null) {
    intOption(n, 'n (number of classes)', 1);
    intOption(d, 'd (embedding dimension)', 1);
    if (!(data instanceof Uint16Array) || data.length !== n * d) throw new ShapeError(`bf16 class table data must be a Uint16Array of length n*d = ${n * d}`);
    if (bias !== null && bias.length !== n) throw new ShapeError(`bf16 class table bias has length ${bias.length}, expected n = ${n}`);
    if (bias) for (let i = 0; i < n; i++) if (!Number.isFinite(bias[i]!)) throw new NonFiniteError(`bf16 class table bias[${i}] is ${bias[i]}`, i);
    this.n = n;
    this.d = d;
    this.data = data;
    this.bias = bias;
  }

  /** `table` rounded to bfloat16 (biases copied as float32). @throws NonFiniteError for non-finite weights */
  static fromTable(table: ClassTable): Bf16ClassTable {
    const data = new Uint16Array(table.n * table.d);
    encodeBf16(table.weights, 0, data, 0, data.length);
    return new Bf16ClassTable(table.n, table.d, data, table.bias ? table.bias.slice() : null);
  }

  /** Decodes rows `[a, a + count)` into `out[oo ..]` (float32, row-major). */
  decodeRows(a: number, count: number, out: Float32Array, oo = 0): void {
    decodeBf16(this.data, a * this.d, out, oo, count * this.d);
  }

  /**
   * Encodes `count` float32 rows `src[so ..]` into rows `[a, a + count)`, rounded to nearest even.
   * @throws NonFiniteError when a value is NaN or infinite
   */
  encodeRows(a: number, count: number, src: Float32Array, so = 0): void {
    const len = count * this.d;
    for (let i = 0; i < len; i++) if (!Number.isFinite(src[so + i]!)) throw new NonFiniteError(`bf16 class table: row ${a + Math.floor(i / this.d)} would hold ${src[so + i]}`, i);
    encodeBf16(src, so, this.data, a * this.d, len);
    const o = a * this.d;
    for (let i = 0; i < len; i++) {
      // a finite float32 beyond the largest bfloat16 rounds to infinity
      if ((this.data[o + i]! & 0x7fff) === 0x7f80) throw new NonFiniteError(`bf16 class table: row ${a + Math.floor(i / this.d)} holds ${src[so + i]}, beyond the bfloat16 range`, i);
    }
  }

  /** The decoded float32 table (a copy). */
  toTable(): ClassTable {
    const w = new Float32Array(this.n * this.d);
    this.decodeRows(0, this.n, w);
    return new ClassTable(this.n, this.d, w, this.bias ? this.bias.slice() : null);
  }

  /** Logit of class `i` for the query `h[ho .. ho+d)`, in float64 from the decoded row. */
  logit(h: Float32Array, ho: number, i: number): number {
    const d = this.d;
    let s = 0;
    for (let k = 0; k < d; k++) s += h[ho + k]! * fromBf16(this.data[i * d + k]!);
    return this.bias ? s + this.bias[i]! : s;
  }

  /** Deep copy. */
  clone(): Bf16ClassTable {
    return new Bf16ClassTable(this.n, this.d, this.data.slice(), this.bias ? this.bias.slice() : null);
  }

  /** Bytes held by the embeddings and biases. */
  get byteLength(): number {
    return this.data.byteLength + (this.bias ? this.bias.byteLength : 0);
  }
}
