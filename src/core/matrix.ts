/**
 * Row-major float32 matrix views and multi-label (CSR) label sets.
 * @module
 */
import { LabelRangeError, ShapeError } from './errors.js';

/** A row-major `rows × cols` float32 matrix. `data.length` must equal `rows * cols`. */
export interface Matrix {
  readonly data: Float32Array;
  readonly rows: number;
  readonly cols: number;
}

/** Creates a matrix, allocating zeros when `data` is omitted; checks the length. */
export function matrix(rows: number, cols: number, data?: Float32Array): Matrix {
  if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(cols) || cols < 0) {
    throw new ShapeError(`matrix shape must be non-negative integers, got [${rows}, ${cols}]`);
  }
  const buf = data ?? new Float32Array(rows * cols);
  if (buf.length !== rows * cols) {
    throw new ShapeError(`matrix data has length ${buf.length}, expected rows*cols = ${rows}*${cols} = ${rows * cols}`);
  }
  return { data: buf, rows, cols };
}

/** Subarray view of row `i` (no copy). */
export function row(m: Matrix, i: number): Float32Array {
  return m.data.subarray(i * m.cols, (i + 1) * m.cols);
}

/**
 * Positive labels per row in CSR form: the positives of row `r` are
 * `ids[offsets[r] .. offsets[r+1])`. Single-label data has `offsets = [0,1,2,…,B]`.
 */
export interface Labels {
  readonly ids: Int32Array;
  readonly offsets: Int32Array;
}

/** Number of rows of a label set. */
export function labelRows(l: Labels): number {
  return l.offsets.length - 1;
}

/**
 * Wraps one label per row as a {@link Labels}.
 * @throws LabelRangeError for an id that is not a 32-bit integer (1.5, NaN, 2³¹)
 */
export function singleLabels(ids: ArrayLike<number>): Labels {
  const n = ids.length;
  const offsets = new Int32Array(n + 1);
  for (let i = 0; i <= n; i++) offsets[i] = i;
  return { ids: labelIds(ids, n, (i) => `row ${i}`), offsets };
}

/**
 * `ids` as an Int32Array, every entry checked to be a 32-bit integer (the range `[0, n)` of a
 * class set is checked by {@link checkLabels} where `n` is known).
 */
function labelIds(ids: ArrayLike<number>, total: number, where: (i: number) => string): Int32Array {
  const out = new Int32Array(total);
  for (let i = 0; i < total; i++) {
    const v = ids[i]!;
    if (!Number.isInteger(v) || v < -(2 ** 31) || v > 2 ** 31 - 1) {
      throw new LabelRangeError(`${where(i)} has class id ${v}; class ids must be integers`);
    }
    out[i] = v;
  }
  return out;
}

/**
 * Builds a {@link Labels} from one array of positives per row.
 * @throws LabelRangeError for an id that is not a 32-bit integer
 */
export function multiLabels(rows: ReadonlyArray<ArrayLike<number>>): Labels {
  const offsets = new Int32Array(rows.length + 1);
  let total = 0;
  for (let r = 0; r < rows.length; r++) {
    total += rows[r]!.length;
    offsets[r + 1] = total;
  }
  const ids = new Int32Array(total);
  for (let r = 0; r < rows.length; r++) ids.set(labelIds(rows[r]!, rows[r]!.length, (j) => `row ${r}, entry ${j},`), offsets[r]!);
  return { ids, offsets };
}

/**
 * Checks a label set: offsets non-decreasing from 0 to `ids.length`, `rows` rows
 * when given, every id an integer in `[0, n)`.
 * @throws ShapeError, LabelRangeError
 */
export function checkLabels(l: Labels, n: number, rows?: number, what = 'labels'): void {
  const o = l.offsets;
  if (o.length < 1 || o[0] !== 0 || o[o.length - 1] !== l.ids.length) {
    throw new ShapeError(`${what}: offsets must start at 0 and end at ids.length (${l.ids.length})`);
  }
  if (rows !== undefined && o.length - 1 !== rows) {
    throw new ShapeError(`${what}: has ${o.length - 1} rows, expected ${rows} (one per query)`);
  }
  for (let r = 1; r < o.length; r++) {
    if (o[r]! < o[r - 1]!) throw new ShapeError(`${what}: offsets must be non-decreasing (row ${r - 1})`);
  }
  const ids = l.ids;
  for (let i = 0; i < ids.length; i++) {
    const v = ids[i]!;
    if (v < 0 || v >= n) {
      let r = 0;
      while (o[r + 1]! <= i) r++;
      throw new LabelRangeError(`${what}: row ${r} has class id ${v}, outside [0, ${n}); ids must index the ${n} classes`);
    }
  }
}
