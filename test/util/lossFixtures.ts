/**
 * Random loss problems and hand-built draw records for the loss and optimizer tests.
 */
import { ClassTable } from '../../src/core/classTable.js';
import { matrix, multiLabels, type Labels, type Matrix } from '../../src/core/matrix.js';
import type { Rng } from '../../src/core/rng.js';
import type { Draws } from '../../src/samplers/types.js';
import assert from 'node:assert/strict';
import type { LossResult } from '../../src/loss/types.js';
import type { RefResult } from './lossRef.js';

/** Queries, table and labels of a random problem. */
export interface Problem {
  queries: Matrix;
  table: ClassTable;
  labels: Labels;
}

/** Options of {@link makeProblem}. */
export interface ProblemOptions {
  n: number;
  d: number;
  B: number;
  bias?: boolean;
  /** Positives per row: a number, or [min, max] drawn uniformly. Distinct within a row. */
  positives?: number | [number, number];
  /** Scale of the query entries (default 1). */
  scale?: number;
}

/** A random problem; every random value comes from `rng`. */
export function makeProblem(rng: Rng, o: ProblemOptions): Problem {
  const table = ClassTable.init(o.n, o.d, rng, { init: 'normal', scale: 0.7, bias: o.bias ?? false });
  if (table.bias) for (let i = 0; i < o.n; i++) table.bias[i] = rng.normal() * 0.5;
  const q = new Float32Array(o.B * o.d);
  const s = o.scale ?? 1;
  for (let i = 0; i < q.length; i++) q[i] = rng.normal() * s;
  const spec = o.positives ?? 1;
  const rows: number[][] = [];
  for (let r = 0; r < o.B; r++) {
    const P = typeof spec === 'number' ? spec : spec[0] + rng.int(spec[1] - spec[0] + 1);
    const ids = Array.from({ length: o.n }, (_, i) => i);
    rng.shuffle(ids);
    rows.push(ids.slice(0, P));
  }
  return { queries: matrix(o.B, o.d, q), table, labels: multiLabels(rows) };
}

/** A random proposal over `n` classes (strictly positive, normalized), float64. */
export function randomProposal(rng: Rng, n: number): Float64Array {
  const q = new Float64Array(n);
  let s = 0;
  for (let i = 0; i < n; i++) {
    q[i] = Math.exp(rng.normal() * 0.7);
    s += q[i]!;
  }
  for (let i = 0; i < n; i++) q[i] = q[i]! / s;
  return q;
}

/** Options of {@link makeDraws}. */
export interface DrawOptions {
  m: number;
  /** Number of query rows (ignored when shared). */
  B: number;
  shared?: boolean;
  unique?: boolean;
  /** Ids each row must not draw (the union over rows when shared); the proposal is renormalized. */
  exclude?: Labels | null;
}

/**
 * Draws from proposal `q` by inversion, in the {@link Draws} format: `logQ` is the
 * (renormalized) single-draw log-probability, or for unique draws `log(1 − (1 − q)^T)`.
 */
export function makeDraws(rng: Rng, q: Float64Array, o: DrawOptions): Draws {
  const n = q.length;
  const rows = o.shared ? 1 : o.B;
  const ids = new Int32Array(rows * o.m);
  const logQ = new Float64Array(rows * o.m);
  const tries = o.unique ? new Int32Array(rows) : null;
  for (let r = 0; r < rows; r++) {
    const ex = new Set<number>();
    if (o.exclude) {
      const rs = o.shared ? 0 : r;
      const re = o.shared ? o.exclude.offsets.length - 1 : r + 1;
      for (let k = o.exclude.offsets[rs]!; k < o.exclude.offsets[re]!; k++) ex.add(o.exclude.ids[k]!);
    }
    const qr = new Float64Array(n);
    let s = 0;
    for (let i = 0; i < n; i++) if (!ex.has(i)) s += q[i]!;
    for (let i = 0; i < n; i++) qr[i] = ex.has(i) ? 0 : q[i]! / s;
    const drawOne = (): number => {
      let u = rng.float();
      for (let i = 0; i < n; i++) {
        u -= qr[i]!;
        if (u < 0 && qr[i]! > 0) return i;
      }
      for (let i = n - 1; i >= 0; i--) if (qr[i]! > 0) return i;
      throw new Error('empty proposal');
    };
    if (!o.unique) {
      for (let j = 0; j < o.m; j++) {
        const id = drawOne();
        ids[r * o.m + j] = id;
        logQ[r * o.m + j] = Math.log(qr[id]!);
      }
    } else {
      const got: number[] = [];
      let T = 0;
      while (got.length < o.m) {
        const id = drawOne();
        T++;
        if (!got.includes(id)) got.push(id);
      }
      tries![r] = T;
      for (let j = 0; j < o.m; j++) {
        ids[r * o.m + j] = got[j]!;
        logQ[r * o.m + j] = Math.log(-Math.expm1(T * Math.log1p(-qr[got[j]!]!)));
      }
    }
  }
  return { ids, logQ, rows, m: o.m, shared: o.shared ?? false, unique: o.unique ?? false, tries };
}

/** `log q(p)` of every positive under the (not renormalized) proposal, aligned with `labels.ids`. */
export function positiveLogQ(q: Float64Array, labels: Labels): Float64Array {
  return Float64Array.from(labels.ids, (p) => Math.log(q[p]!));
}

/** A draw record built by hand. */
export function handDraws(ids: number[][], logQ: number[][], opts: { unique?: boolean; tries?: number[]; shared?: boolean } = {}): Draws {
  const m = ids[0]!.length;
  return {
    ids: Int32Array.from(ids.flat()),
    logQ: Float64Array.from(logQ.flat()),
    rows: ids.length,
    m,
    shared: opts.shared ?? false,
    unique: opts.unique ?? false,
    tries: opts.tries ? Int32Array.from(opts.tries) : null,
  };
}

/**
 * Asserts `|a − e| ≤ rtol · max(1, max|e|)` elementwise (relative to the array's scale);
 * returns the largest scaled error.
 */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, what: string): number {
  if (actual.length !== expected.length) throw new Error(`${what}: length ${actual.length} ≠ ${expected.length}`);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]!));
  const tol = rtol * Math.max(scale, 1e-3);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = Math.abs(actual[i]! - expected[i]!);
    worst = Math.max(worst, e / Math.max(scale, 1e-3));
    if (!(e <= tol)) throw new Error(`${what}[${i}]: got ${actual[i]}, expected ${expected[i]} (tol ${tol})`);
  }
  return worst;
}

/** Compares a sparse fast result with the dense reference (untouched rows must be zero there). */
export function compareWithRef(got: LossResult, ref: RefResult, n: number, d: number, what: string, rtol = 1e-5): void {
  assert.ok(Math.abs(got.loss - ref.loss) <= rtol * Math.max(1, Math.abs(ref.loss)), `${what}: loss ${got.loss} vs ${ref.loss}`);
  assertClose(got.gradQueries, ref.gradH, rtol, `${what} gradQueries`);
  const dense = new Float64Array(n * d);
  const denseB = new Float64Array(n);
  const { ids, rows, bias } = got.gradClasses;
  for (let k = 0; k < ids.length; k++) {
    if (k > 0) assert.ok(ids[k]! > ids[k - 1]!, `${what}: ids must be strictly ascending`);
    for (let t = 0; t < d; t++) dense[ids[k]! * d + t] = rows[k * d + t]!;
    if (bias) denseB[ids[k]!] = bias[k]!;
  }
  assertClose(dense, ref.gradW, rtol, `${what} gradClasses.rows`);
  if (ref.gradB) {
    assert.ok(bias !== null, `${what}: bias gradient expected`);
    assertClose(denseB, ref.gradB, rtol, `${what} gradClasses.bias`);
  } else {
    assert.equal(bias, null);
  }
}
