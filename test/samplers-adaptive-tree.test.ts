/**
 * Tree samplers (quadratic, RFF): exact distributions, reported log q, updates, degenerate
 * inputs, exclusion, unique draws, determinism. Statistical checks use fixed seeds; each
 * chi-square test has a false-failure rate of 1e-3 (p-value threshold).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClassTable } from '../src/core/classTable.js';
import { ImpossibleError, OptionError, ShapeError, StateError } from '../src/core/errors.js';
import { matrix, multiLabels, type Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { chiSquareTest } from '../src/core/stats.js';
import { createSampler } from '../src/index.js';
import { multiDot, rowsDot, seqDot } from '../src/samplers/kernelTree.js';
import { chooseQuadraticMethod, QuadraticSampler } from '../src/samplers/quadratic.js';
import { RffSampler } from '../src/samplers/rff.js';
import { tsKernels, useKernels } from '../src/kernels/index.js';
import {
  drawChiSquare,
  logNormalize,
  logQAll,
  maxAbsDiff,
  queryRow,
  randomQueries,
  randomTable,
} from './util/adaptive.js';

const P_MIN = 1e-3;

/** Brute-force quadratic kernel distribution `K/ΣK` with the bias folded in. */
function quadraticBrute(t: ClassTable, q: Matrix, r: number, alpha: number): Float64Array {
  const lw = new Float64Array(t.n);
  for (let i = 0; i < t.n; i++) {
    const o = t.logit(q.data, r * q.cols, i);
    lw[i] = Math.log(alpha * o * o + 1);
  }
  return logNormalize(lw);
}

test('quadratic: log q of every id equals log K/ΣK for several leaf sizes (with biases)', () => {
  const t = randomTable(300, 8, 11, true);
  const q = randomQueries(3, 8, 12);
  for (const leafSize of [1, 7, 16, 64, 1000]) {
    const s = new QuadraticSampler({ leafSize, alpha: 100, method: 'tree' });
    s.build(t);
    for (let r = 0; r < q.rows; r++) {
      const got = logQAll(s, queryRow(q, r));
      const want = quadraticBrute(t, q, r, 100);
      assert.ok(maxAbsDiff(got, want) < 1e-9, `leafSize ${leafSize} row ${r}: ${maxAbsDiff(got, want)}`);
    }
  }
  // the dense method: exact to float64 rounding with float64 dot products, to float32's with float32 ones
  for (const [precision, tol] of [['float64', 1e-9], ['float32', 1e-5]] as const) {
    const s = new QuadraticSampler({ alpha: 100, method: 'dense', precision });
    s.build(t);
    assert.equal(s.activeMethod, 'dense');
    for (let r = 0; r < q.rows; r++) {
      const got = logQAll(s, queryRow(q, r));
      assert.ok(maxAbsDiff(got, quadraticBrute(t, q, r, 100)) < tol, `${precision} row ${r}`);
    }
  }
});

test('quadratic: draw frequencies match K/ΣK (chi-square) and reported log q is exact', () => {
  const t = randomTable(300, 8, 21, true);
  const q = randomQueries(2, 8, 22);
  // 4 chi-square tests at p > 1e-3: family false-failure rate below 4e-3
  for (const [opts, tol] of [[{ leafSize: 16, method: 'tree' }, 1e-9], [{ method: 'dense' }, 1e-5]] as const) {
    const s = new QuadraticSampler(opts);
    s.build(t);
    for (let r = 0; r < q.rows; r++) {
      const want = quadraticBrute(t, q, r, 100);
      const p = drawChiSquare(s, queryRow(q, r), want, 30000, 100 + r, tol);
      assert.ok(p > P_MIN, `${opts.method} row ${r}: p = ${p}`);
    }
  }
});

test('quadratic: update(ids) gives the same distribution as a fresh build on the changed table', () => {
  const t = randomTable(400, 8, 31, true);
  const q = randomQueries(2, 8, 32);
  const s = new QuadraticSampler({ leafSize: 16, method: 'tree' });
  const dense = new QuadraticSampler({ method: 'dense', precision: 'float64' });
  s.build(t);
  dense.build(t);
  const rng = Rng.fromSeed(33);
  const changed: number[] = [];
  for (let i = 0; i < 400; i += 7) {
    changed.push(i);
    for (let k = 0; k < 8; k++) t.weights[i * 8 + k] = rng.normal();
    t.bias![i] = rng.normal();
  }
  s.update(changed);
  dense.update(changed);
  const fresh = new QuadraticSampler({ leafSize: 16, method: 'tree' });
  fresh.build(t);
  for (let r = 0; r < 2; r++) {
    const a = logQAll(s, queryRow(q, r));
    const b = logQAll(fresh, queryRow(q, r));
    assert.ok(maxAbsDiff(a, b) < 1e-9, `row ${r}: ${maxAbsDiff(a, b)}`);
    assert.ok(maxAbsDiff(a, quadraticBrute(t, q, r, 100)) < 1e-9);
    // the dense method reads the live table
    assert.ok(maxAbsDiff(logQAll(dense, queryRow(q, r)), a) < 1e-9);
  }
});

test('quadratic dense: batches scored in groups of rows match each row alone; row streams; sampleWithLogQ', () => {
  // 100 000 classes: a group holds 20 rows, so 45 queries span three groups
  const n = 100000;
  const d = 4;
  const t = randomTable(n, d, 41, true);
  const q = randomQueries(45, d, 42);
  const s = new QuadraticSampler({ method: 'dense' });
  s.build(t);
  const probe = { ids: Int32Array.from({ length: 45 * 3 }, (_, k) => (k * 7919) % n), offsets: Int32Array.from({ length: 46 }, (_, r) => 3 * r) };
  const both = s.sampleWithLogQ({ m: 8, rng: Rng.fromSeed(43), queries: q, rowStreams: true }, probe);
  const alone = s.logQ(q, probe);
  assert.deepEqual(both.logQ, alone);
  for (let r = 0; r < 45; r++) {
    const one = { ids: probe.ids.subarray(3 * r, 3 * r + 3), offsets: Int32Array.from([0, 3]) };
    assert.deepEqual(s.logQ(queryRow(q, r), one), alone.subarray(3 * r, 3 * r + 3), `row ${r}`);
    // each draw reports logQ of its id under its own row
    const drawn = { ids: both.draws.ids.subarray(8 * r, 8 * r + 8), offsets: Int32Array.from([0, 8]) };
    assert.deepEqual(s.logQ(queryRow(q, r), drawn), both.draws.logQ.subarray(8 * r, 8 * r + 8), `row ${r} draws`);
  }
  // with rowStreams a row's draws do not depend on the other rows of the batch
  const last = s.sample({ m: 8, rng: Rng.fromSeed(43), queries: q, rowStreams: true });
  assert.deepEqual(last.ids, both.draws.ids);
  const sub = s.sample({ m: 8, rng: Rng.fromSeed(43), queries: { data: q.data.subarray(0, 30 * d), rows: 30, cols: d }, rowStreams: true });
  assert.deepEqual(sub.ids, both.draws.ids.subarray(0, 30 * 8));
});

test("quadratic: 'auto' picks the dense scan for small tables and wide rows, the tree for large ones", () => {
  assert.equal(chooseQuadraticMethod(50000, 201), 'dense');
  assert.equal(chooseQuadraticMethod(1e6, 65), 'tree');
  const s = new QuadraticSampler();
  assert.equal(s.method, 'auto');
  assert.equal(s.activeMethod, null);
  s.build(randomTable(300, 8, 51, true));
  assert.equal(s.activeMethod, chooseQuadraticMethod(300, 9));
  assert.equal(s.stats()['method'], s.activeMethod);
  // a rebuild on a changed table gives that table's distribution
  const t2 = randomTable(300, 8, 52, true);
  s.build(t2);
  const q = randomQueries(1, 8, 53);
  assert.ok(maxAbsDiff(logQAll(s, q), quadraticBrute(t2, q, 0, 100)) < 1e-5);
  assert.throws(() => new QuadraticSampler({ method: 'fast' as never }), OptionError);
  assert.throws(() => new QuadraticSampler({ precision: 'float16' as never }), OptionError);
});

/** φ(u) = D^{-1/2}[cos(Wu); sin(Wu)] in float64, recomputed independently of the sampler. */
function rffFeatures(w: Float32Array, D: number, u: Float64Array): Float64Array {
  const d = u.length;
  const f = new Float64Array(2 * D);
  for (let j = 0; j < D; j++) {
    let x = 0;
    for (let k = 0; k < d; k++) x += w[j * d + k]! * u[k]!;
    f[j] = Math.cos(x) / Math.sqrt(D);
    f[D + j] = Math.sin(x) / Math.sqrt(D);
  }
  return f;
}

function unit(x: ArrayLike<number>): Float64Array {
  let s = 0;
  for (let k = 0; k < x.length; k++) s += x[k]! * x[k]!;
  const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
  return Float64Array.from(x, (v) => v * inv);
}

/** Branch decisions where a child score was raised to the clamp floor (counted by rffBranchProduct). */
let clampCount = 0;

/** Independent log q of every id for RFF: product of clamped branch probabilities × exact leaf softmax. */
function rffBranchProduct(s: RffSampler, t: ClassTable, hq: Float32Array): Float64Array {
  const tree = s.kernelTree!;
  const D = s.features;
  const phi = rffFeatures(s.frequencies()!, D, unit(hq));
  const S = 2 * D;
  const score = (v: number): number => {
    let x = 0;
    for (let k = 0; k < S; k++) x += phi[k]! * tree.z[(v - 1) * S + k]!;
    return x;
  };
  const h = unit(hq);
  const out = new Float64Array(t.n);
  for (let id = 0; id < t.n; id++) {
    const j = tree.leafOf[id]!;
    let lp = 0;
    let v = 1;
    for (let lvl = tree.depth - 1; lvl >= 0; lvl--) {
      const a = score(2 * v);
      const b = score(2 * v + 1);
      const pa = Math.max(a, 0);
      const pb = Math.max(b, 0);
      const tot = pa + pb;
      let ca: number;
      let cb: number;
      if (!(tot > 0)) {
        ca = tree.nodeSize(2 * v);
        cb = tree.nodeSize(2 * v + 1);
      } else {
        ca = Math.max(pa, s.eps * tot);
        cb = Math.max(pb, s.eps * tot);
        if (a < s.eps * tot || b < s.eps * tot) clampCount++;
      }
      const right = (j >> lvl) & 1;
      lp += Math.log(right ? cb : ca) - Math.log(ca + cb);
      v = 2 * v + right;
    }
    // exact leaf step exp(τ ĥ·ĉ)
    let z = 0;
    let wi = 0;
    for (let p = tree.leafStart[j]!; p < tree.leafStart[j + 1]!; p++) {
      const c = tree.perm[p]!;
      // the sampler's stored unit rows (float32)
      let x = 0;
      for (let k = 0; k < t.d; k++) x += h[k]! * tree.rows[p * t.d + k]!;
      const w = Math.exp(s.tau * (x - 1));
      z += w;
      if (c === id) wi = w;
    }
    out[id] = lp + Math.log(wi) - Math.log(z);
  }
  return out;
}

test('rff: reported log q equals the product of clamped branch probabilities recomputed independently', () => {
  const t = randomTable(300, 8, 41, false);
  const q = randomQueries(3, 8, 42);
  const s = new RffSampler({ features: 64, leafSize: 16, seed: 5 });
  s.build(t);
  clampCount = 0;
  for (let r = 0; r < q.rows; r++) {
    const qr = queryRow(q, r);
    const got = logQAll(s, qr);
    const want = rffBranchProduct(s, t, qr.data);
    assert.ok(maxAbsDiff(got, want) < 1e-8, `row ${r}: ${maxAbsDiff(got, want)}`);
    let total = 0;
    for (const l of got) total += Math.exp(l);
    assert.ok(Math.abs(total - 1) < 1e-9, `row ${r}: probabilities sum to ${total}`);
  }
  assert.ok(clampCount > 0, 'the case must exercise clamped branches');
});

test('rff: draws follow the reported distribution (chi-square) with exact log q', () => {
  const t = randomTable(300, 8, 51, false);
  const q = randomQueries(2, 8, 52);
  const s = new RffSampler({ features: 32, leafSize: 8, seed: 1 });
  s.build(t);
  for (let r = 0; r < q.rows; r++) {
    const qr = queryRow(q, r);
    const want = rffBranchProduct(s, t, qr.data);
    const p = drawChiSquare(s, qr, want, 30000, 200 + r, 1e-8);
    assert.ok(p > P_MIN, `row ${r}: p = ${p}`);
  }
});

test('rff: with many features and ν = τ the distribution approaches softmax(τ ĥ·ĉ)', () => {
  const t = randomTable(200, 8, 61, false);
  const q = randomQueries(2, 8, 62);
  const tau = 2;
  const s = new RffSampler({ features: 16384, nu: tau, tau, leafSize: 8, seed: 3 });
  s.build(t);
  for (let r = 0; r < q.rows; r++) {
    const qr = queryRow(q, r);
    const h = unit(qr.data);
    const lw = new Float64Array(t.n);
    for (let i = 0; i < t.n; i++) {
      const c = unit(t.row(i));
      let x = 0;
      for (let k = 0; k < 8; k++) x += h[k]! * c[k]!;
      lw[i] = tau * x;
    }
    const want = logNormalize(lw);
    const got = logQAll(s, qr);
    let tv = 0;
    for (let i = 0; i < t.n; i++) tv += Math.abs(Math.exp(got[i]!) - Math.exp(want[i]!));
    tv /= 2;
    assert.ok(tv < 0.02, `row ${r}: total variation ${tv}`);
  }
  // few features: clearly further from the softmax (the test above can fail)
  const coarse = new RffSampler({ features: 4, nu: tau, tau, leafSize: 8, seed: 3 });
  coarse.build(t);
  const qr = queryRow(q, 0);
  const got = logQAll(coarse, qr);
  const h = unit(qr.data);
  const want = logNormalize(Array.from({ length: t.n }, (_, i) => tau * unit(t.row(i)).reduce((a, c, k) => a + c * h[k]!, 0)));
  let tv = 0;
  for (let i = 0; i < t.n; i++) tv += Math.abs(Math.exp(got[i]!) - Math.exp(want[i]!));
  assert.ok(tv / 2 > 0.02, `coarse total variation ${tv / 2}`);
});

test('rff: update(ids) equals recomputing every summary from scratch; W is kept', () => {
  // float64 agreement is a property of the TS kernels; the WebAssembly ones (Node's default) send
  // small calls to the TS code and large ones to float32 SIMD, so there the two agree to float32
  // rounding only
  const prevKernels = useKernels(tsKernels);
  try {
    rffUpdateMatchesScratch();
  } finally {
    useKernels(prevKernels);
  }
});

function rffUpdateMatchesScratch(): void {
  const t = randomTable(300, 8, 71, false);
  const q = randomQueries(2, 8, 72);
  const s = new RffSampler({ features: 64, leafSize: 16, seed: 9 });
  s.build(t);
  const w = s.frequencies()!.slice();
  const rng = Rng.fromSeed(73);
  const ids = [3, 50, 51, 52, 199, 299, 3];
  for (const i of ids) for (let k = 0; k < 8; k++) t.weights[i * 8 + k] = rng.normal();
  s.update(ids);
  assert.deepEqual(s.frequencies(), w);
  const before = [0, 1].map((r) => logQAll(s, queryRow(q, r)));
  s.kernelTree!.computeSummaries();
  for (let r = 0; r < 2; r++) {
    const after = logQAll(s, queryRow(q, r));
    assert.ok(maxAbsDiff(before[r]!, after) < 1e-9);
    assert.ok(maxAbsDiff(after, rffBranchProduct(s, t, queryRow(q, r).data)) < 1e-8);
  }
}

test('tree samplers: degenerate inputs give finite probabilities that sum to 1', () => {
  const d = 8;
  const tiny = randomTable(5, d, 81, true);
  const dup = new ClassTable(50, d, new Float32Array(50 * d).fill(0.3), null);
  const huge = randomTable(100, d, 82, true);
  for (let k = 0; k < d; k++) huge.weights[17 * d + k] *= 1000;
  const zeroQ = matrix(1, d);
  const q = randomQueries(1, d, 83);
  for (const make of [() => new QuadraticSampler({ leafSize: 4, method: 'tree' }), () => new QuadraticSampler({ method: 'dense' }), () => new RffSampler({ features: 16, leafSize: 4 })]) {
    for (const t of [tiny, dup, huge]) {
      const s = make();
      s.build(t);
      for (const qq of [zeroQ, q]) {
        const lq = logQAll(s, qq);
        let tot = 0;
        for (const l of lq) {
          assert.ok(!Number.isNaN(l));
          tot += Math.exp(l);
        }
        assert.ok(Math.abs(tot - 1) < 1e-9, `${s.name} n=${t.n}: sums to ${tot}`);
        const dr = s.sample({ m: 20, rng: Rng.fromSeed(1), queries: qq });
        for (let j = 0; j < 20; j++) assert.ok(Number.isFinite(dr.logQ[j]!));
      }
    }
  }
  // quadratic with one huge logit concentrates on it
  const s = new QuadraticSampler({ leafSize: 4, method: 'tree' });
  s.build(huge);
  const lq = logQAll(s, q);
  assert.ok(lq[17]! > Math.log(0.99));
  // all-zero query: only the biases remain, K = α b² + 1
  assert.ok(maxAbsDiff(logQAll(s, zeroQ), quadraticBrute(huge, zeroQ, 0, 100)) < 1e-9);
  // no biases and a zero query: K = 1 everywhere → uniform
  const nb = new QuadraticSampler({ leafSize: 4, method: 'tree' });
  nb.build(dup);
  assert.ok(maxAbsDiff(logQAll(nb, zeroQ), new Float64Array(50).fill(-Math.log(50))) < 1e-12);
});

test('tree samplers: exclusion renormalizes exactly; unique draws report inclusion probabilities', () => {
  const t = randomTable(120, 8, 91, true);
  const q = randomQueries(1, 8, 92);
  for (const s of [new QuadraticSampler({ leafSize: 8, method: 'tree' }), new QuadraticSampler({ method: 'dense' }), new RffSampler({ features: 32, leafSize: 8 })]) {
    s.build(t);
    const full = logQAll(s, q);
    // exclude the 5 most likely ids
    const top = Array.from(full.keys()).sort((a, b) => full[b]! - full[a]!).slice(0, 5);
    let ex = 0;
    for (const i of top) ex += Math.exp(full[i]!);
    const expected = Float64Array.from(full, (l, i) => (top.includes(i) ? -Infinity : l - Math.log(1 - ex)));
    const rng = Rng.fromSeed(93);
    const counts = new Float64Array(120);
    for (let rep = 0; rep < 40; rep++) {
      const dr = s.sample({ m: 500, rng, queries: q, exclude: multiLabels([top]) });
      for (let j = 0; j < 500; j++) {
        const id = dr.ids[j]!;
        assert.ok(!top.includes(id), 'excluded id drawn');
        assert.ok(Math.abs(dr.logQ[j]! - expected[id]!) < 1e-9);
        counts[id]!++;
      }
    }
    const p = chiSquareTest(counts, Float64Array.from(expected, Math.exp)).pValue;
    assert.ok(p > P_MIN, `${s.name}: p = ${p}`);
    // unique
    const u = s.sample({ m: 30, rng, queries: q, unique: true });
    assert.equal(new Set(u.ids).size, 30);
    const T = u.tries![0]!;
    assert.ok(T >= 30);
    for (let j = 0; j < 30; j++) {
      const qi = Math.exp(full[u.ids[j]!]!);
      assert.ok(Math.abs(Math.exp(u.logQ[j]!) - (1 - Math.pow(1 - qi, T))) < 1e-9);
    }
    assert.throws(() => s.sample({ m: 121, rng, queries: q, unique: true }), ImpossibleError);
  }
});

test('tree samplers: same seed gives the same draws; rff frequencies depend on the seed', () => {
  const t = randomTable(200, 8, 101, false);
  const q = randomQueries(4, 8, 102);
  for (const make of [() => new QuadraticSampler({ method: 'tree' }), () => new QuadraticSampler({ method: 'dense' }), () => new RffSampler({ seed: 4, features: 32 })]) {
    const a = make();
    const b = make();
    a.build(t);
    b.build(t);
    const da = a.sample({ m: 50, rng: Rng.fromSeed(7), queries: q });
    const db = b.sample({ m: 50, rng: Rng.fromSeed(7), queries: q });
    assert.deepEqual(da.ids, db.ids);
    assert.deepEqual(da.logQ, db.logQ);
  }
  const r1 = new RffSampler({ seed: 1, features: 8 });
  const r2 = new RffSampler({ seed: 2, features: 8 });
  r1.build(t);
  r2.build(t);
  assert.notDeepEqual(r1.frequencies(), r2.frequencies());
});

test('tree samplers: typed errors for bad options and misuse', () => {
  assert.throws(() => new QuadraticSampler({ alpha: -1 }), OptionError);
  assert.throws(() => new QuadraticSampler({ leafsize: 3 } as never), OptionError);
  assert.throws(() => new RffSampler({ features: 0 }), OptionError);
  assert.throws(() => new RffSampler({ eps: 0 }), OptionError);
  assert.throws(() => createSampler('rff', { bogus: 1 }), OptionError);
  const s = createSampler('quadratic', { alpha: 10 });
  assert.equal(s.name, 'quadratic');
  const q = randomQueries(1, 8, 1);
  assert.throws(() => s.sample({ m: 3, rng: Rng.fromSeed(1), queries: q }), StateError);
  s.build(randomTable(20, 8, 2));
  assert.throws(() => s.sample({ m: 3, rng: Rng.fromSeed(1) }), OptionError);
  assert.throws(() => s.sample({ m: 3, rng: Rng.fromSeed(1), queries: randomQueries(1, 4, 1) }), ShapeError);
  assert.throws(() => s.sample({ m: 3, rng: Rng.fromSeed(1), queries: q, shared: true }), OptionError);
  assert.throws(() => s.update([20]), Error);
});

test('tree kernels: multiDot and rowsDot equal seqDot bit for bit; seqDot matches a float64 dot', () => {
  const rng = Rng.fromSeed(111);
  for (const len of [0, 1, 2, 3, 7, 8, 33]) {
    const vecs = 9;
    const Q = new Float64Array(vecs * len);
    rng.fillNormal(Q);
    for (const z of [new Float64Array(vecs * len), new Float32Array(vecs * len)]) {
      for (let i = 0; i < z.length; i++) z[i] = rng.normal();
      // multiDot over k in [1, 8) (a block of four, a pair, a single; offsets in a shuffled
      // order) against row 0 of z, then over [1, 4) (a pair and a single) against row 1
      const off = Int32Array.from([0, 5, 2, 7, 1, 8, 3, 6, 4], (v) => v * len);
      const out = new Float64Array(vecs).fill(NaN);
      multiDot(Q, off, 1, 8, z, 0, len, out);
      for (let k = 1; k < 8; k++) assert.equal(out[k], seqDot(Q, off[k]!, z, 0, len), `multiDot len ${len} k ${k}`);
      assert.ok(Number.isNaN(out[0]!) && Number.isNaN(out[8]!));
      out.fill(NaN);
      multiDot(Q, off, 1, 4, z, len, len, out);
      for (let k = 1; k < 4; k++) assert.equal(out[k], seqDot(Q, off[k]!, z, len, len), `multiDot (3) len ${len} k ${k}`);
      assert.ok(Number.isNaN(out[0]!) && Number.isNaN(out[4]!));
      // rowsDot: vector 3 of Q against the 9 rows of z, written at offset 2
      const rows = new Float64Array(vecs + 2);
      rowsDot(Q, 3 * len, z, 0, vecs, len, rows, 2);
      for (let p = 0; p < vecs; p++) assert.equal(rows[2 + p], seqDot(Q, 3 * len, z, p * len, len), `rowsDot len ${len} p ${p}`);
      // seqDot against a plain float64 sum (different order: agreement up to rounding)
      let want = 0;
      let mag = 0;
      for (let t = 0; t < len; t++) {
        want += Q[len + t]! * z[2 * len + t]!;
        mag += Math.abs(Q[len + t]! * z[2 * len + t]!);
      }
      assert.ok(Math.abs(seqDot(Q, len, z, 2 * len, len) - want) <= 1e-14 * mag, `seqDot len ${len}`);
    }
  }
});

test('tree samplers: batched draws of many queries follow each query\'s distribution with exact log q', () => {
  // 9 queries: the root group is scored in blocks of 4 + 4 + 1; deep nodes see 1–9 queries.
  // 18 chi-square tests at p > 1e-4 each: family false-failure rate below 2e-3.
  const t = randomTable(600, 8, 121, true);
  const q = randomQueries(9, 8, 122);
  const samplers = [new QuadraticSampler({ leafSize: 8, method: 'tree' }), new RffSampler({ features: 32, leafSize: 8, seed: 2 })];
  for (const s of samplers) {
    s.build(t);
    const want = Array.from({ length: q.rows }, (_, r) => logQAll(s, queryRow(q, r)));
    if (s instanceof QuadraticSampler) {
      for (let r = 0; r < q.rows; r++) assert.ok(maxAbsDiff(want[r]!, quadraticBrute(t, q, r, 100)) < 1e-9);
    }
    const counts = Array.from({ length: q.rows }, () => new Float64Array(t.n));
    const rng = Rng.fromSeed(123);
    const m = 2000;
    for (let rep = 0; rep < 10; rep++) {
      const dr = s.sample({ m, rng, queries: q });
      // the reported log q of every draw is exactly logQ of that id for that query
      const lq = s.logQ(q, { ids: dr.ids, offsets: Int32Array.from({ length: q.rows + 1 }, (_, r) => r * m) });
      assert.deepEqual(dr.logQ, lq);
      for (let r = 0; r < q.rows; r++) {
        for (let j = 0; j < m; j++) {
          const id = dr.ids[r * m + j]!;
          counts[r]![id]!++;
          assert.ok(Math.abs(dr.logQ[r * m + j]! - want[r]![id]!) < 1e-12);
        }
      }
    }
    for (let r = 0; r < q.rows; r++) {
      const p = chiSquareTest(counts[r]!, Float64Array.from(want[r]!, Math.exp)).pValue;
      assert.ok(p > 1e-4, `${s.name} row ${r}: p = ${p}`);
    }
  }
});
