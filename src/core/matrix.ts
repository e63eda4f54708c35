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

/** Wraps one label per row as a {@link Labels}. */
export function singleLabels(ids: ArrayLike<number>): Labels {
  const n = ids.length;
  const offsets = new Int32Array(n + 1);
  for (let i = 0; i <= n; i++) offsets[i] = i;
  return { ids: Int32Array.from(ids), offsets };
}

/** Builds a {@link Labels} from one array of positives per row. */
export function multiLabels(rows: ReadonlyArray<ArrayLike<number>>): Labels {
  const offsets = new Int32Array(rows.length + 1);
  let total = 0;
  for (let r = 0; r < rows.length; r++) {
    total += rows[r]!.length;
    offsets[r + 1] = total;
  }
  const ids = new Int32Array(total);
  let k = 0;
  for (const r of rows) for (let j = 0; j < r.length; j++) ids[k++] = r[j]!;
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
