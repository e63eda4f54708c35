// bfloat16 storage of class tables: rounding against an independent reference, and a bf16
// sharded table that trains and evaluates exactly as a float32 table holding the rounded values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bf16ClassTable, decodeBf16, encodeBf16, fromBf16, roundBf16, toBf16 } from '../src/core/bf16.js';
import { ClassTable } from '../src/core/classTable.js';
import { NonFiniteError, OptionError } from '../src/core/errors.js';
import { multiLabels, type Labels, type Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { ShardedClassTable } from '../src/core/shardedTable.js';
import { OutputLayer } from '../src/layer/outputLayer.js';
import { createOptimizer } from '../src/layer/optimizers.js';
import { forEachFloatPiece } from '../src/layer/sharded.js';
import '../src/samplers/index.js';
import { ShardedSampler } from '../src/samplers/sharded.js';
import { maxAbsDiff, randomQueries, randomTable } from './util/adaptive.js';
import { tsKernels, useKernels } from '../src/kernels/index.js';

// equality with the unsharded path to float64 rounding: the TS reference kernels (test/sharded-kernels.test.ts runs the WebAssembly ones)
useKernels(tsKernels);

/**
 * Reference rounding, written from the definition: the two bfloat16 values around the float32 `x`
 * are its truncation and the next one away from zero; take the nearer (distances in float64),
 * on a tie the one whose last significand bit is 0.
 */
function refRound(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer);
  const bits = u[0]!;
  if (Number.isNaN(f[0]!)) return NaN;
  if (!Number.isFinite(f[0]!)) return f[0]!;
  const lo = bits & 0xffff0000;
  const hi = (lo + 0x10000) >>> 0;
  const val = (b: number): number => {
    u[0] = b >>> 0;
    return f[0]!;
  };
  const x32 = val(bits);
  const a = val(lo);
  const b = val(hi); // may be ±Infinity past the largest finite value
  if (!Number.isFinite(b)) {
    // past the largest finite bf16 (2^127·(2 − 2^−7)): IEEE rounds to infinity from half an ulp
    // (2^119) above it on, the tie included (the largest finite value has an odd significand)
    return Math.abs(x32) >= (2 - 2 ** -7) * 2 ** 127 + 2 ** 119 ? b : a;
  }
  const da = Math.abs(x32 - a);
  const db = Math.abs(b - x32);
  if (da < db) return a;
  if (db < da) return b;
  return ((lo >>> 16) & 1) === 0 ? a : b;
}

test('bf16 rounding equals the reference round-to-nearest-even on random, tie, subnormal and edge values', () => {
  const rng = Rng.fromSeed(1);
  const xs: number[] = [0, -0, 1, -1, 1.00390625, 1.005859375, 1.001953125, 1.0029296875, 3.14159, 65504, 1e-40, -1e-42, 1.17549435e-38, 3.3895313892515355e38, 3.39e38, -3.4e38, Infinity, -Infinity];
  for (let i = 0; i < 20000; i++) xs.push((rng.float() * 2 - 1) * Math.exp(rng.normal() * 20));
  // exact ties: a bf16 value plus half its ulp
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < 2000; i++) {
    u[0] = ((rng.int(0x7f00) << 16) | 0x8000) >>> 0;
    xs.push(f[0]!);
    xs.push(-f[0]!);
  }
  const src = Float32Array.from(xs);
  const enc = new Uint16Array(src.length);
  encodeBf16(src, 0, enc, 0, src.length);
  const dec = new Float32Array(src.length);
  decodeBf16(enc, 0, dec, 0, src.length);
  for (let i = 0; i < src.length; i++) {
    const want = refRound(src[i]!);
    assert.ok(Object.is(dec[i], Math.fround(want)), `x = ${src[i]}: got ${dec[i]}, reference ${want}`);
    assert.equal(enc[i], toBf16(src[i]!));
    assert.ok(Object.is(roundBf16(src[i]!), dec[i]));
  }
  assert.ok(Number.isNaN(roundBf16(NaN)));
  assert.equal(fromBf16(toBf16(1)), 1);
  // decode is exact: a bf16 value survives a round trip
  for (let b = 0; b < 0x10000; b += 7) {
    const x = fromBf16(b);
    if (!Number.isNaN(x)) assert.equal(toBf16(x), b);
  }
});

test('Bf16ClassTable: encode/decode rows, refusal of values that do not fit', () => {
  const t = randomTable(10, 4, 3, true);
  const b = Bf16ClassTable.fromTable(t);
  assert.equal(b.byteLength, 10 * 4 * 2 + 10 * 4);
  const dec = b.toTable();
  for (let i = 0; i < t.weights.length; i++) assert.equal(dec.weights[i], roundBf16(t.weights[i]!));
  assert.deepEqual(dec.bias, t.bias);
  const q = randomQueries(1, 4, 1);
  assert.ok(Math.abs(b.logit(q.data, 0, 3) - dec.logit(q.data, 0, 3)) < 1e-12);
  assert.throws(() => b.encodeRows(0, 1, Float32Array.from([1, NaN, 0, 0])), NonFiniteError);
  assert.throws(() => b.encodeRows(0, 1, Float32Array.from([1, 3.4e38, 0, 0])), NonFiniteError);
  const c = b.clone();
  c.encodeRows(2, 1, Float32Array.from([1, 2, 3, 4]));
  assert.notDeepEqual(c.data, b.data);
  assert.throws(() => ShardedClassTable.init(10, 4, Rng.fromSeed(1), { shards: 2, storage: 'f16' as 'bf16' }), OptionError);
  assert.throws(() => new ShardedClassTable([b, t]), OptionError);
});

test('a bf16 sharded table holds the rounded values of ClassTable.init; decoding in blocks covers every row', () => {
  const ref = ClassTable.init(50, 6, Rng.fromSeed(4), { bias: true });
  const st = ShardedClassTable.init(50, 6, Rng.fromSeed(4), { sizes: [20, 1, 29], bias: true, storage: 'bf16' });
  assert.equal(st.storage, 'bf16');
  assert.equal(st.byteLength, 50 * 6 * 2 + 50 * 4);
  const cat = st.toTable();
  for (let i = 0; i < ref.weights.length; i++) assert.equal(cat.weights[i], roundBf16(ref.weights[i]!));
  const seen = new Float32Array(50 * 6);
  const starts: number[] = [];
  forEachFloatPiece(st, (t, a) => {
    starts.push(a);
    seen.set(t.weights, a * 6);
  }, 7 * 6);
  assert.deepEqual(starts, [0, 7, 14, 20, 21, 28, 35, 42, 49]);
  assert.deepEqual(seen, cat.weights);
});

/** Queries and labels (some multi-label rows). */
function batch(seed: number, B: number, n: number, d: number): { queries: Matrix; labels: Labels } {
  const rng = Rng.fromSeed(seed);
  const rows: number[][] = [];
  for (let r = 0; r < B; r++) rows.push(r % 4 === 0 ? [rng.int(n), (rng.int(n - 1) + 1 + r) % n] : [rng.int(n)]);
  for (const row of rows) if (row.length === 2 && row[0] === row[1]) row.pop();
  return { queries: randomQueries(B, d, seed + 1), labels: multiLabels(rows) };
}

test('a bf16 sharded table trains like a float32 table rounded to bf16 after every step, and evaluates equal to it', () => {
  const n = 80;
  const d = 8;
  const sizes = [30, 50];
  const base = randomTable(n, d, 7, true, 0.5);
  const st = ShardedClassTable.split(base, sizes, 'bf16');
  const t = st.toTable(); // float32 holding the bf16-rounded values
  const common = { negatives: 10, convention: 'exclusive' as const };
  const ref = new OutputLayer({ table: t, sampler: ShardedSampler.create('exact', sizes, { precision: 'float64' }), optimizer: createOptimizer('adam', { lr: 0.05 }), stepUpdates: true, ...common });
  const bf = new OutputLayer({ table: st, sampler: ShardedSampler.create('exact', st, { precision: 'float64' }), optimizer: createOptimizer('adam', { lr: 0.05 }), stepUpdates: true, ...common });
  const fixed = batch(1, 24, n, d);
  const before = bf.fullLoss(fixed.queries, fixed.labels);
  for (let step = 0; step < 25; step++) {
    const { queries, labels } = step % 2 === 0 ? fixed : batch(100 + step, 24, n, d);
    const a = ref.step({ queries, labels, rng: Rng.fromSeed(step) });
    const b = bf.step({ queries, labels, rng: Rng.fromSeed(step) });
    assert.equal(b.loss, a.loss, `step ${step}`);
    for (let i = 0; i < t.weights.length; i++) t.weights[i] = roundBf16(t.weights[i]!);
    const cat = st.toTable();
    assert.deepEqual(cat.weights, t.weights, `table after step ${step}`);
    assert.ok(maxAbsDiff(cat.bias!, t.bias!) === 0);
  }
  const after = bf.fullLoss(fixed.queries, fixed.labels);
  assert.ok(after < before - 0.3, `bf16 training: full loss ${before} → ${after}`);
  assert.ok(Math.abs(after - ref.fullLoss(fixed.queries, fixed.labels)) < 1e-12);
  const ev = batch(999, 16, n, d);
  const ea = ref.evaluate(ev.queries, ev.labels, { ks: [1, 5] });
  const eb = bf.evaluate(ev.queries, ev.labels, { ks: [1, 5] });
  assert.ok(Math.abs(ea.nll - eb.nll) < 1e-9);
  assert.deepEqual(eb.precision, ea.precision);
  assert.deepEqual(eb.recall, ea.recall);
  assert.deepEqual(eb.ndcg, ea.ndcg);
  assert.deepEqual(eb.evaluation.topIds, ea.evaluation.topIds);
});

test('bf16 with an adaptive sampler kept by update(ids), and with dense updates', () => {
  const n = 60;
  const d = 6;
  const sizes = [25, 35];
  const st = ShardedClassTable.split(randomTable(n, d, 9, false, 0.5), sizes, 'bf16');
  const t = st.toTable();
  for (const denseUpdates of [false, true]) {
    const s2 = st.clone();
    const t2 = t.clone();
    const opts = { method: 'tree', alpha: 10, leafSize: 4 };
    const ref = new OutputLayer({ table: t2, sampler: ShardedSampler.create('quadratic', sizes, opts), optimizer: createOptimizer('adam', { lr: 0.05 }), negatives: 8, denseUpdates, stepUpdates: true });
    const bf = new OutputLayer({ table: s2, sampler: ShardedSampler.create('quadratic', s2, opts), optimizer: createOptimizer('adam', { lr: 0.05 }), negatives: 8, denseUpdates, stepUpdates: true });
    for (let step = 0; step < 8; step++) {
      const { queries, labels } = batch(50 + step, 12, n, d);
      const a = ref.step({ queries, labels, rng: Rng.fromSeed(step) });
      for (let i = 0; i < t2.weights.length; i++) t2.weights[i] = roundBf16(t2.weights[i]!);
      // the reference sampler must see the rounded rows too
      ref.sampler.update(Int32Array.from({ length: n }, (_, i) => i));
      const b = bf.step({ queries, labels, rng: Rng.fromSeed(step) });
      assert.equal(b.loss, a.loss, `dense=${denseUpdates} step ${step}`);
      assert.deepEqual(s2.toTable().weights, t2.weights);
    }
  }
});

test('stepRows on gathered rows equals step on the table, for every optimizer (rows and state)', () => {
  for (const name of ['sgd', 'adagrad', 'adam'] as const) {
    const t = randomTable(20, 5, 11, true);
    const a = createOptimizer(name, { lr: 0.1 });
    const b = createOptimizer(name, { lr: 0.1 });
    const tb = t.clone();
    const rng = Rng.fromSeed(12);
    for (let step = 0; step < 4; step++) {
      const ids = Int32Array.from(new Set(Array.from({ length: 6 }, () => rng.int(20)))).sort();
      const k = ids.length;
      const grad = { ids, rows: Float32Array.from({ length: k * 5 }, () => rng.normal()), bias: Float32Array.from({ length: k }, () => rng.normal()) };
      a.step(t, grad);
      const rows = new Float32Array(k * 5);
      const bias = new Float32Array(k);
      for (let i = 0; i < k; i++) {
        rows.set(tb.row(ids[i]!), i * 5);
        bias[i] = tb.bias![ids[i]!]!;
      }
      b.stepRows!(20, ids, new ClassTable(k, 5, rows, bias), { rows: grad.rows, bias: grad.bias });
      for (let i = 0; i < k; i++) {
        tb.weights.set(rows.subarray(i * 5, (i + 1) * 5), ids[i]! * 5);
        tb.bias![ids[i]!] = bias[i]!;
      }
    }
    assert.deepEqual(tb.weights, t.weights, name);
    assert.deepEqual(tb.bias, t.bias, name);
    assert.deepEqual(b.stateTensors(), a.stateTensors(), name);
    assert.throws(() => b.stepRows!(21, Int32Array.from([0]), new ClassTable(1, 5, new Float32Array(5), new Float32Array(1)), { rows: new Float32Array(5), bias: new Float32Array(1) }));
  }
});
