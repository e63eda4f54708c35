import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/core/rng.js';
import { ClassTable } from '../src/core/classTable.js';
import { matrix, multiLabels, singleLabels } from '../src/core/matrix.js';
import { LabelRangeError, NonFiniteError, OptionError, ShapeError } from '../src/core/errors.js';
import { fullSoftmaxLoss } from '../src/loss/full.js';
import type { LossInputBase } from '../src/loss/types.js';
import { refFullLoss, refParams } from './util/lossRef.js';
import { assertClose, makeProblem } from './util/lossFixtures.js';
import { tsKernels, useKernels } from '../src/kernels/index.js';
import { detectFeatures, initFastKernels, tableInKernelMemory } from '../src/kernels/fast.js';

// The TS reference kernels (float64 sums), held to the float64 reference at tight tolerances; the
// WebAssembly kernels (Node's default) are held to the TS ones in kernels-integration.test.ts.
useKernels(tsKernels);


/** Naive single-label check: loss = mean −log softmax, ∂L/∂o = (softmax − onehot)/B. */
function naive(input: LossInputBase): { loss: number; gradH: Float64Array; gradW: Float64Array; gradB: Float64Array } {
  const { queries, table, labels } = input;
  const B = queries.rows;
  const { n, d } = table;
  const gradH = new Float64Array(B * d);
  const gradW = new Float64Array(n * d);
  const gradB = new Float64Array(n);
  let loss = 0;
  for (let r = 0; r < B; r++) {
    const o = Array.from({ length: n }, (_, i) => table.logit(queries.data, r * d, i));
    const t = labels.ids[r]!;
    const z = o.reduce((s, x) => s + Math.exp(x), 0);
    loss += -Math.log(Math.exp(o[t]!) / z) / B;
    for (let i = 0; i < n; i++) {
      const g = (Math.exp(o[i]!) / z - (i === t ? 1 : 0)) / B;
      for (let k = 0; k < d; k++) {
        gradH[r * d + k] += g * table.weights[i * d + k]!;
        gradW[i * d + k] += g * queries.data[r * d + k]!;
      }
      gradB[i] += g;
    }
  }
  return { loss, gradH, gradW, gradB };
}

test('single label: loss is the mean −log softmax and the gradient is softmax − onehot, for any block size', () => {
  const rng = Rng.fromSeed(1);
  const input = makeProblem(rng, { n: 23, d: 5, B: 6, bias: true, positives: 1 });
  const want = naive(input);
  for (const blockSize of [1, 4, 7, 23, 100]) {
    const got = fullSoftmaxLoss(input, { blockSize });
    assert.ok(Math.abs(got.loss - want.loss) < 1e-6 * Math.max(1, want.loss), `block ${blockSize}: ${got.loss} vs ${want.loss}`);
    assertClose(got.gradQueries, want.gradH, 1e-5, `block ${blockSize} gradQueries`);
    assertClose(got.gradClasses.rows, want.gradW, 1e-5, `block ${blockSize} class rows`);
    assertClose(got.gradClasses.bias!, want.gradB, 1e-5, `block ${blockSize} bias`);
    assert.deepEqual(Array.from(got.gradClasses.ids), Array.from({ length: 23 }, (_, i) => i));
  }
});

test('multi-label and row weights match the float64 reference (other positives removed from the partition)', () => {
  for (let s = 0; s < 4; s++) {
    const rng = Rng.fromSeed(40 + s);
    const prob = makeProblem(rng, { n: 17, d: 4, B: 5, bias: s % 2 === 0, positives: [1, 4] });
    const rowWeights = Float32Array.from([1, 0, 2.5, 0.5, 1]);
    for (const labelWeighting of ['mean', 'sum'] as const) {
      const input: LossInputBase = { ...prob, rowWeights, labelWeighting };
      const ref = refFullLoss(input);
      const got = fullSoftmaxLoss(input, { blockSize: 5 });
      assert.ok(Math.abs(got.loss - ref.loss) < 1e-5 * Math.max(1, ref.loss), `${got.loss} vs ${ref.loss}`);
      assertClose(got.gradQueries, ref.gradH, 1e-5, 'gradQueries');
      assertClose(got.gradClasses.rows, ref.gradW, 1e-5, 'class rows');
      if (ref.gradB) assertClose(got.gradClasses.bias!, ref.gradB, 1e-5, 'bias');
      else assert.equal(got.gradClasses.bias, null);
      assert.ok(got.gradQueries.subarray(4, 8).every((x) => x === 0), 'padded row has zero gradient');
    }
  }
});

test('multi-label rows whose positives hold most of the mass (exact rescan) or little of it (subtraction) match the reference', () => {
  const rng = Rng.fromSeed(93); // a table where rows 0 and 3's positives lie on its hull (checked below)
  const n = 12;
  const d = 3;
  const table = ClassTable.init(n, d, rng, { init: 'normal', scale: 0.7, bias: true });
  for (let i = 0; i < n; i++) table.bias![i] = rng.normal() * 0.5;
  const rows = [[2, 5], [1, 7, 7], [3], [4, 9, 10], [0, 0]];
  const q = new Float32Array(rows.length * d);
  // rows 0 and 3 point at their positives with a large norm: the positives dominate the softmax
  for (const r of [0, 3]) {
    for (const p of rows[r]!) for (let k = 0; k < d; k++) q[r * d + k] += 12 * table.weights[p * d + k]!;
  }
  for (const r of [1, 2, 4]) for (let k = 0; k < d; k++) q[r * d + k] = rng.normal() * 0.3;
  const input: LossInputBase = { queries: matrix(rows.length, d, q), table, labels: multiLabels(rows) };
  const massOf = (r: number): number => {
    const o = Array.from({ length: n }, (_, i) => table.logit(q, r * d, i));
    const z = o.reduce((s, x) => s + Math.exp(x), 0);
    return [...new Set(rows[r])].reduce((s, p) => s + Math.exp(o[p]!) / z, 0);
  };
  assert.ok(massOf(0) > 0.5 && massOf(3) > 0.5, `rows 0 and 3 exercise the rescan (${massOf(0)}, ${massOf(3)})`);
  assert.ok(massOf(1) <= 0.5, `row 1 exercises the subtraction (${massOf(1)})`);
  for (const labelWeighting of ['mean', 'sum'] as const) {
    const ref = refFullLoss({ ...input, labelWeighting });
    const got = fullSoftmaxLoss({ ...input, labelWeighting }, { blockSize: 5 });
    assert.ok(Math.abs(got.loss - ref.loss) < 1e-5 * Math.max(1, ref.loss), `${got.loss} vs ${ref.loss}`);
    assertClose(got.gradQueries, ref.gradH, 1e-5, 'gradQueries');
    assertClose(got.gradClasses.rows, ref.gradW, 1e-5, 'class rows');
    assertClose(got.gradClasses.bias!, ref.gradB!, 1e-5, 'bias');
  }
});

test('finite differences of the float64 reference agree with the streamed gradient (multi-label)', () => {
  const rng = Rng.fromSeed(77);
  const input: LossInputBase = { ...makeProblem(rng, { n: 9, d: 3, B: 3, bias: true, positives: [1, 3] }), rowWeights: Float32Array.from([1, 2, 0.5]) };
  const base = refParams(input);
  const got = fullSoftmaxLoss(input, { blockSize: 4 });
  const eps = 1e-6;
  const fdOf = (key: 'h' | 'w' | 'b', len: number): Float64Array =>
    Float64Array.from({ length: len }, (_, i) => {
      const p = { h: base.h.slice(), w: base.w.slice(), b: base.b!.slice() };
      const q = { h: base.h.slice(), w: base.w.slice(), b: base.b!.slice() };
      p[key][i] += eps;
      q[key][i] -= eps;
      return (refFullLoss(input, p).loss - refFullLoss(input, q).loss) / (2 * eps);
    });
  assertClose(got.gradQueries, fdOf('h', 9), 1e-5, 'd/dh');
  assertClose(got.gradClasses.rows, fdOf('w', 27), 1e-5, 'd/dW');
  assertClose(got.gradClasses.bias!, fdOf('b', 9), 1e-5, 'd/db');
});

test('edge cases: B = 1, n = 1, all classes positive, large logits', () => {
  // n = 1: the only class is the label, loss 0, gradients 0.
  const t1 = new ClassTable(1, 2, Float32Array.from([3, -1]), Float32Array.from([0.5]));
  const r1 = fullSoftmaxLoss({ queries: matrix(1, 2, Float32Array.from([1, 2])), table: t1, labels: singleLabels([0]) });
  assert.equal(r1.loss, 0);
  assert.ok(r1.gradQueries.every((x) => x === 0));
  assert.ok(r1.gradClasses.rows.every((x) => x === 0));
  assert.ok(r1.gradClasses.bias!.every((x) => x === 0));
  // All classes are positives of the row: every term has only its own class, loss 0.
  const t3 = ClassTable.init(3, 2, Rng.fromSeed(3));
  const r3 = fullSoftmaxLoss({ queries: matrix(1, 2, Float32Array.from([1, -1])), table: t3, labels: multiLabels([[0, 1, 2]]) });
  assert.equal(r3.loss, 0);
  assert.ok(r3.gradQueries.every((x) => x === 0));
  // Large logits stay finite (log-sum-exp with max rescaling across blocks).
  const big = new ClassTable(5, 1, Float32Array.from([100, 300, 200, 500, 400]));
  const rb = fullSoftmaxLoss({ queries: matrix(1, 1, Float32Array.from([2])), table: big, labels: singleLabels([1]) }, { blockSize: 2 });
  assert.ok(Math.abs(rb.loss - 400) < 1e-6, `${rb.loss}`);
  assert.ok(Math.abs(rb.gradQueries[0]! - (500 - 300)) < 1e-3);
});

test('grad: false computes the same loss without gradients', () => {
  const input = makeProblem(Rng.fromSeed(8), { n: 30, d: 4, B: 3, positives: [1, 2] });
  const a = fullSoftmaxLoss(input, { blockSize: 8 });
  const b = fullSoftmaxLoss({ ...input, grad: false }, { blockSize: 8 });
  assert.equal(a.loss, b.loss);
  assert.equal(b.gradQueries.length, 0);
  assert.equal(b.gradClasses.ids.length, 0);
});

test('full loss: bad inputs raise typed errors', () => {
  const input = makeProblem(Rng.fromSeed(2), { n: 10, d: 3, B: 2 });
  assert.throws(() => fullSoftmaxLoss({ ...input, queries: matrix(2, 4) }), ShapeError);
  assert.throws(() => fullSoftmaxLoss({ ...input, queries: matrix(2, 3, Float32Array.from([0, 0, 0, Infinity, 0, 0])) }), NonFiniteError);
  assert.throws(() => fullSoftmaxLoss({ ...input, labels: singleLabels([0, 10]) }), LabelRangeError);
  assert.throws(() => fullSoftmaxLoss({ ...input, labels: multiLabels([[1], []]) }), (e: unknown) => e instanceof ShapeError && /rowWeights\[1\] = 0/.test(e.message));
  assert.doesNotThrow(() => fullSoftmaxLoss({ ...input, labels: multiLabels([[1], []]), rowWeights: Float32Array.from([1, 0]) }));
  assert.throws(() => fullSoftmaxLoss(input, { blockSize: 0 }), OptionError);
  assert.throws(() => fullSoftmaxLoss(input, { blocksize: 4 } as never), (e: unknown) => e instanceof OptionError && /blocksize/.test(e.message));
});

test('into: the class gradient is written into the given arrays, the same values; wrong shapes are refused', () => {
  const rng = Rng.fromSeed(77);
  const p = makeProblem(rng, { B: 6, n: 40, d: 5, positives: [1, 3], bias: true });
  const want = fullSoftmaxLoss(p);
  const into = { ids: new Int32Array(40).fill(-1), rows: new Float32Array(40 * 5).fill(NaN), bias: new Float32Array(40).fill(NaN) };
  const got = fullSoftmaxLoss(p, { into });
  assert.equal(got.loss, want.loss);
  assert.deepEqual(got.gradQueries, want.gradQueries);
  assert.equal(got.gradClasses.rows, into.rows, 'returned in place');
  assert.equal(got.gradClasses.bias, into.bias);
  assert.equal(got.gradClasses.ids, into.ids);
  assert.deepEqual(got.gradClasses, want.gradClasses);
  assert.throws(() => fullSoftmaxLoss(p, { into: { ...into, rows: new Float32Array(39 * 5) } }), ShapeError);
  assert.throws(() => fullSoftmaxLoss(p, { into: { ...into, bias: null } }), ShapeError);
  assert.throws(() => fullSoftmaxLoss(p, { into: { ...into, ids: new Float32Array(40) as unknown as Int32Array } }), OptionError);
});

test('on the worker pool (the table in kernel memory): the loss and class gradient of one thread, the query gradient within rounding', { skip: !(await detectFeatures()).sharedMemory && 'no shared WebAssembly memory' }, async () => {
  const rng = Rng.fromSeed(78);
  const p = makeProblem(rng, { B: 24, n: 3000, d: 20, positives: [1, 3], bias: true });
  const single = await initFastKernels({ path: 'simd', threads: 0 });
  let want: ReturnType<typeof fullSoftmaxLoss>;
  try {
    const t = tableInKernelMemory(single, p.table);
    want = fullSoftmaxLoss({ ...p, table: t });
  } finally {
    await single.close();
  }
  const pooled = await initFastKernels({ path: 'simd', threads: 2 });
  try {
    const t = tableInKernelMemory(pooled, p.table);
    const got = fullSoftmaxLoss({ ...p, table: t });
    assert.equal(got.loss, want.loss, 'pass 1 split by rows: the same log-sum-exps');
    assert.deepEqual(got.gradClasses, want.gradClasses);
    assertClose(got.gradQueries, want.gradQueries, 1e-5, 'gradQueries');
    assert.notDeepEqual(got.gradQueries, new Float32Array(got.gradQueries.length), 'a non-zero query gradient');
  } finally {
    await pooled.close();
  }
  useKernels(tsKernels);
});
