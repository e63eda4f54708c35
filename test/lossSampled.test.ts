import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/core/rng.js';
import { ClassTable } from '../src/core/classTable.js';
import { matrix, multiLabels, singleLabels } from '../src/core/matrix.js';
import { LabelRangeError, NonFiniteError, OptionError, ShapeError } from '../src/core/errors.js';
import { sampledSoftmaxLoss } from '../src/loss/sampled.js';
import type { Convention, SampledLossInput } from '../src/loss/types.js';
import { refParams, refSampledLoss } from './util/lossRef.js';
import { assertClose, compareWithRef, handDraws, makeDraws, makeProblem, positiveLogQ, randomProposal } from './util/lossFixtures.js';


interface Case {
  convention: Convention;
  shared: boolean;
  unique: boolean;
  positives: number | [number, number];
  weights: boolean;
  bias: boolean;
  labelWeighting: 'mean' | 'sum';
}

function buildCase(seed: number, c: Case, n = 40, d = 6, B = 7, m = 9): SampledLossInput {
  const rng = Rng.fromSeed(seed);
  const prob = makeProblem(rng, { n, d, B, bias: c.bias, positives: c.positives });
  const q = randomProposal(rng, n);
  const exclude = c.convention === 'exclusive' ? prob.labels : null;
  const draws = makeDraws(rng, q, { m, B, shared: c.shared, unique: c.unique, exclude });
  let rowWeights: Float32Array | null = null;
  if (c.weights) {
    rowWeights = new Float32Array(B);
    for (let r = 0; r < B; r++) rowWeights[r] = r % 3 === 1 ? 0 : 0.5 + rng.float();
  }
  return {
    ...prob,
    draws,
    convention: c.convention,
    posLogQ: c.convention !== 'exclusive' ? positiveLogQ(q, prob.labels) : null,
    rowWeights,
    labelWeighting: c.labelWeighting,
  };
}

const cases: Case[] = [];
for (const convention of ['exclusive', 'correctedAll'] as const) {
  for (const shared of [false, true]) {
    for (const unique of [false, true]) {
      for (const positives of [1, [1, 3]] as Array<number | [number, number]>) {
        cases.push({ convention, shared, unique, positives, weights: positives !== 1, bias: !shared, labelWeighting: 'mean' });
      }
    }
  }
  cases.push({ convention, shared: false, unique: false, positives: [2, 4], weights: true, bias: true, labelWeighting: 'sum' });
}

test('sampled loss matches the float64 reference (every convention, single/multi-label, shared/per-query, unique/replacement, weights)', () => {
  let seed = 100;
  for (const c of cases) {
    const input = buildCase(seed++, c);
    const what = JSON.stringify(c);
    compareWithRef(sampledSoftmaxLoss(input), refSampledLoss(input), input.table.n, input.table.d, what);
  }
});

test('correctedAll and maskedExclusive draws with many accidental hits (small n) match the reference', () => {
  // n = 6 with m = 12 draws with replacement: many sampled ids equal positives.
  for (let s = 0; s < 5; s++) {
    const input = buildCase(500 + s, { convention: s < 3 ? 'correctedAll' : 'maskedExclusive', shared: s % 2 === 0, unique: false, positives: [1, 3], weights: false, bias: true, labelWeighting: 'mean' }, 6, 4, 5, 12);
    let hits = 0;
    for (let r = 0; r < 5; r++) {
      const dr = input.draws.shared ? 0 : r;
      for (let j = 0; j < 12; j++) {
        const id = input.draws.ids[dr * 12 + j]!;
        for (let k = input.labels.offsets[r]!; k < input.labels.offsets[r + 1]!; k++) if (input.labels.ids[k] === id) hits++;
      }
    }
    assert.ok(hits > 0, 'the fixture must contain accidental hits');
    compareWithRef(sampledSoftmaxLoss(input), refSampledLoss(input), 6, 4, `small-n seed ${s}`);
  }
});

test('hand-computed single term: both conventions', () => {
  // d = 1, h = 1, logits are the class weights; biases add.
  const table = new ClassTable(4, 1, Float32Array.from([0.5, -1, 2, 0.25]), Float32Array.from([0.1, 0, -0.2, 0]));
  const queries = matrix(1, 1, Float32Array.from([1]));
  const labels = singleLabels([0]);
  const lq = [Math.log(0.2), Math.log(0.5)];
  const draws = handDraws([[2, 3]], [lq]);
  const o = [0.6, -1, 1.8, 0.25];
  const m = 2;
  const ex = sampledSoftmaxLoss({ queries, table, labels, draws, convention: 'exclusive' });
  const a = [o[0]!, o[2]! - Math.log(m * 0.2), o[3]! - Math.log(m * 0.5)];
  const expectEx = -a[0]! + Math.log(a.reduce((s, x) => s + Math.exp(x), 0));
  assert.ok(Math.abs(ex.loss - expectEx) < 1e-6, `${ex.loss} vs ${expectEx}`);
  const posLogQ = Float64Array.from([Math.log(0.3)]);
  const ca = sampledSoftmaxLoss({ queries, table, labels, draws, convention: 'correctedAll', posLogQ });
  const a2 = [o[0]! - Math.log(m * 0.3), a[1]!, a[2]!];
  const expectCa = -a2[0]! + Math.log(a2.reduce((s, x) => s + Math.exp(x), 0));
  assert.ok(Math.abs(ca.loss - expectCa) < 1e-6, `${ca.loss} vs ${expectCa}`);
  // Bias gradient of the positive is softmax − 1; of a negative, its softmax.
  const z = a2.reduce((s, x) => s + Math.exp(x), 0);
  assert.deepEqual(Array.from(ca.gradClasses.ids), [0, 2, 3]);
  assert.ok(Math.abs(ca.gradClasses.bias![0]! - (Math.exp(a2[0]!) / z - 1)) < 1e-6);
  assert.ok(Math.abs(ca.gradClasses.bias![1]! - Math.exp(a2[1]!) / z) < 1e-6);
});

test('unique draws: positives use log(1 − (1 − q)^T), negatives use the reported log π', () => {
  const table = new ClassTable(5, 1, Float32Array.from([0.3, 0.1, -0.4, 1.1, 0.7]));
  const queries = matrix(1, 1, Float32Array.from([2]));
  const labels = singleLabels([1]);
  const T = 7;
  const qs = [0.1, 0.25];
  const logPi = qs.map((q) => Math.log(1 - Math.pow(1 - q, T)));
  const draws = handDraws([[3, 4]], [logPi], { unique: true, tries: [T] });
  const qPos = 0.15;
  const res = sampledSoftmaxLoss({ queries, table, labels, draws, convention: 'correctedAll', posLogQ: Float64Array.from([Math.log(qPos)]) });
  const a = [0.2 - Math.log(1 - Math.pow(1 - qPos, T)), 2.2 - logPi[0]!, 1.4 - logPi[1]!];
  const expect = -a[0]! + Math.log(a.reduce((s, x) => s + Math.exp(x), 0));
  assert.ok(Math.abs(res.loss - expect) < 1e-6, `${res.loss} vs ${expect}`);
});

test('accidental hit: a sampled id equal to a second positive does not enter that row\'s partition function', () => {
  const rng = Rng.fromSeed(9);
  const table = ClassTable.init(8, 3, rng, { bias: true });
  const queries = matrix(1, 3, Float32Array.from([0.4, -1.2, 0.8]));
  const labels = multiLabels([[1, 2]]);
  const posLogQ = Float64Array.from([Math.log(0.1), Math.log(0.2)]);
  const logPi = [Math.log(0.3), Math.log(0.2), Math.log(0.25)];
  // Unique draws: log Q of a sampled id does not depend on m, so dropping the hit is a fair comparison.
  const withHit = handDraws([[2, 3, 5]], [logPi], { unique: true, tries: [4] });
  const without = handDraws([[3, 5]], [logPi.slice(1)], { unique: true, tries: [4] });
  for (const labelWeighting of ['mean', 'sum'] as const) {
    const a = sampledSoftmaxLoss({ queries, table, labels, posLogQ, draws: withHit, convention: 'correctedAll', labelWeighting });
    const b = sampledSoftmaxLoss({ queries, table, labels, posLogQ, draws: without, convention: 'correctedAll', labelWeighting });
    assert.ok(Math.abs(a.loss - b.loss) < 1e-7, `${a.loss} vs ${b.loss}`);
    assert.deepEqual(Array.from(a.gradQueries), Array.from(b.gradQueries));
    assert.deepEqual(Array.from(a.gradClasses.ids), Array.from(b.gradClasses.ids));
    assert.deepEqual(Array.from(a.gradClasses.rows), Array.from(b.gradClasses.rows));
  }
  // Explicit value for the term of positive 1 ('sum' weighting, single term check via P = 1 labels).
  const one = sampledSoftmaxLoss({ queries, table, labels: singleLabels([1]), posLogQ: posLogQ.slice(0, 1), draws: without, convention: 'correctedAll' });
  const twoTerm = sampledSoftmaxLoss({ queries, table, labels, posLogQ, draws: withHit, convention: 'correctedAll', labelWeighting: 'sum' });
  const onlyTwo = sampledSoftmaxLoss({ queries, table, labels: singleLabels([2]), posLogQ: posLogQ.slice(1), draws: handDraws([[3, 5]], [logPi.slice(1)], { unique: true, tries: [4] }), convention: 'correctedAll' });
  assert.ok(Math.abs(twoTerm.loss - (one.loss + onlyTwo.loss)) < 1e-6);
});

test('shared draws: each row masks only its own positives', () => {
  const rng = Rng.fromSeed(21);
  const table = ClassTable.init(10, 4, rng, { bias: true });
  const queries = matrix(2, 4, Float32Array.from([0.1, 0.2, -0.3, 0.4, -0.5, 0.6, 0.7, -0.8]));
  const labels = singleLabels([2, 4]);
  const draws = handDraws([[2, 4, 6]], [[Math.log(0.1), Math.log(0.2), Math.log(0.3)]], { shared: true });
  const posLogQ = Float64Array.from([Math.log(0.1), Math.log(0.2)]);
  const input: SampledLossInput = { queries, table, labels, draws, posLogQ, convention: 'correctedAll' };
  const res = sampledSoftmaxLoss(input);
  compareWithRef(res, refSampledLoss(input), 10, 4, 'shared');
  // Row 0's term: candidates {2, 4, 6}; row 1's: {4, 2, 6}.
  const o = (r: number, i: number): number => table.logit(queries.data, r * 4, i);
  const lq = (x: number): number => Math.log(3 * x);
  const t0 = [o(0, 2) - lq(0.1), o(0, 4) - lq(0.2), o(0, 6) - lq(0.3)];
  const t1 = [o(1, 4) - lq(0.2), o(1, 2) - lq(0.1), o(1, 6) - lq(0.3)];
  const term = (a: number[]): number => -a[0]! + Math.log(a.reduce((s, x) => s + Math.exp(x), 0));
  assert.ok(Math.abs(res.loss - (term(t0) + term(t1)) / 2) < 1e-6);
  assert.throws(
    () => sampledSoftmaxLoss({ ...input, convention: 'exclusive' }),
    (e: unknown) => e instanceof OptionError && /exclude/.test(e.message),
  );
});

test('padding rows (weight 0) contribute nothing and touch no class row', () => {
  const rng = Rng.fromSeed(33);
  const table = ClassTable.init(20, 3, rng, { bias: true });
  const queries = matrix(3, 3, Float32Array.from([1, 2, 3, 4, 5, 6, -1, 0.5, 2]));
  // Row 1 is padding: no positives at all, and its draws hit ids nobody else uses.
  const labels = multiLabels([[0], [], [1]]);
  const draws = handDraws([[5, 6], [17, 18], [6, 7]], [[-2, -2], [-2, -2], [-2, -2]]);
  const rowWeights = Float32Array.from([1, 0, 3]);
  const input: SampledLossInput = { queries, table, labels, draws, rowWeights, convention: 'exclusive' };
  const res = sampledSoftmaxLoss(input);
  compareWithRef(res, refSampledLoss(input), 20, 3, 'padding');
  assert.deepEqual(Array.from(res.gradClasses.ids), [0, 1, 5, 6, 7]);
  assert.deepEqual(Array.from(res.gradQueries.subarray(3, 6)), [0, 0, 0]);
  // Weighted mean: (1·L0 + 3·L2) / 4.
  const l0 = sampledSoftmaxLoss({ ...input, queries: matrix(1, 3, queries.data.slice(0, 3)), labels: singleLabels([0]), draws: handDraws([[5, 6]], [[-2, -2]]), rowWeights: null });
  const l2 = sampledSoftmaxLoss({ ...input, queries: matrix(1, 3, queries.data.slice(6, 9)), labels: singleLabels([1]), draws: handDraws([[6, 7]], [[-2, -2]]), rowWeights: null });
  assert.ok(Math.abs(res.loss - (l0.loss + 3 * l2.loss) / 4) < 1e-6);
  // All rows padded: loss 0, zero gradients.
  const none = sampledSoftmaxLoss({ ...input, rowWeights: new Float32Array(3) });
  assert.equal(none.loss, 0);
  assert.equal(none.gradClasses.ids.length, 0);
  assert.ok(none.gradQueries.every((x) => x === 0));
  assert.equal(none.gradQueries.length, 9);
});

test('gradRowsInto: the class-gradient rows are written into the given array (the same values), a short one or a wrong type is refused', () => {
  for (const shared of [false, true]) {
    const input = buildCase(78, { convention: 'correctedAll', shared, unique: false, positives: [1, 3], weights: true, bias: true, labelWeighting: 'mean' });
    const a = sampledSoftmaxLoss(input);
    const room = Math.min(input.table.n, input.labels.ids.length + input.draws.ids.length) * input.table.d; // the stated bound
    const into = new Float32Array(room + 7).fill(Number.NaN); // stale contents are overwritten
    const b = sampledSoftmaxLoss({ ...input, gradRowsInto: into });
    assert.equal(b.gradClasses.rows.buffer, into.buffer);
    assert.equal(b.gradClasses.rows.byteOffset, 0);
    assert.deepEqual(b.gradClasses.rows, a.gradClasses.rows);
    assert.deepEqual(b.gradClasses.ids, a.gradClasses.ids);
    assert.deepEqual(b.gradQueries, a.gradQueries);
    assert.equal(b.loss, a.loss);
    // the same array again: the same values (no accumulation across calls)
    assert.deepEqual(sampledSoftmaxLoss({ ...input, gradRowsInto: into }).gradClasses.rows, a.gradClasses.rows);
    const need = a.gradClasses.ids.length * input.table.d;
    assert.throws(() => sampledSoftmaxLoss({ ...input, gradRowsInto: new Float32Array(need - 1) }), (e: unknown) => e instanceof ShapeError && /gradRowsInto/.test(e.message));
    assert.throws(() => sampledSoftmaxLoss({ ...input, gradRowsInto: new Float64Array(room) as unknown as Float32Array }), OptionError);
  }
});

test('grad: false returns the same loss and no gradients', () => {
  const input = buildCase(77, { convention: 'correctedAll', shared: false, unique: false, positives: [1, 3], weights: true, bias: true, labelWeighting: 'mean' });
  const a = sampledSoftmaxLoss(input);
  const b = sampledSoftmaxLoss({ ...input, grad: false });
  assert.equal(a.loss, b.loss);
  assert.equal(b.gradQueries.length, 0);
  assert.equal(b.gradClasses.ids.length, 0);
});

/**
 * Finite differences: the reference loss is evaluated in float64 at the float32 inputs
 * perturbed by ±eps (eps = 1e-6, central differences, truncation error O(eps²)), and compared
 * with both the reference's analytic gradient and the fast float32 gradient.
 */
test('float64 finite-difference gradient check w.r.t. queries, class rows and biases', () => {
  const eps = 1e-6;
  const configs: Case[] = [
    { convention: 'exclusive', shared: false, unique: false, positives: [1, 3], weights: true, bias: true, labelWeighting: 'mean' },
    { convention: 'correctedAll', shared: false, unique: true, positives: [1, 3], weights: true, bias: true, labelWeighting: 'sum' },
    { convention: 'correctedAll', shared: true, unique: false, positives: 2, weights: false, bias: true, labelWeighting: 'mean' },
  ];
  let seed = 900;
  for (const c of configs) {
    const input = buildCase(seed++, c, 12, 4, 4, 6);
    const base = refParams(input);
    const ref = refSampledLoss(input, base);
    const fast = sampledSoftmaxLoss(input);
    const d = 4;
    const fastW = new Float64Array(12 * d);
    const fastB = new Float64Array(12);
    const { ids, rows, bias } = fast.gradClasses;
    for (let k = 0; k < ids.length; k++) {
      for (let t = 0; t < d; t++) fastW[ids[k]! * d + t] = rows[k * d + t]!;
      fastB[ids[k]!] = bias![k]!;
    }
    const check = (key: 'h' | 'w' | 'b', analytic: Float64Array, fastGrad: ArrayLike<number>): void => {
      const fd = new Float64Array(analytic.length);
      for (let i = 0; i < analytic.length; i++) {
        const plus = { h: base.h.slice(), w: base.w.slice(), b: base.b!.slice() };
        const minus = { h: base.h.slice(), w: base.w.slice(), b: base.b!.slice() };
        plus[key][i] += eps;
        minus[key][i] -= eps;
        fd[i] = (refSampledLoss(input, plus).loss - refSampledLoss(input, minus).loss) / (2 * eps);
      }
      assertClose(analytic, fd, 1e-6, `${c.convention} reference d/d${key} vs finite differences`);
      assertClose(fastGrad, fd, 1e-5, `${c.convention} fast d/d${key} vs finite differences`);
    };
    check('h', ref.gradH, fast.gradQueries);
    check('w', ref.gradW, fastW);
    check('b', ref.gradB!, fastB);
  }
});

test('bad inputs raise typed errors with actionable messages', () => {
  const input = buildCase(5, { convention: 'correctedAll', shared: false, unique: false, positives: 1, weights: false, bias: false, labelWeighting: 'mean' });
  const B = input.queries.rows;
  const d = input.table.d;
  const expect = (f: () => unknown, cls: new (...a: never[]) => Error, re: RegExp): void => {
    assert.throws(f, (e: unknown) => e instanceof cls && re.test((e as Error).message));
  };
  expect(() => sampledSoftmaxLoss({ ...input, queries: matrix(B, d + 1) }), ShapeError, /columns/);
  const nan = input.queries.data.slice();
  nan[3] = NaN;
  expect(() => sampledSoftmaxLoss({ ...input, queries: matrix(B, d, nan) }), NonFiniteError, /queries/);
  const badLabels = singleLabels(Array.from({ length: B }, (_, r) => (r === 2 ? 40 : 0)));
  expect(() => sampledSoftmaxLoss({ ...input, labels: badLabels }), LabelRangeError, /row 2/);
  expect(() => sampledSoftmaxLoss({ ...input, labels: singleLabels([0, 1]) }), ShapeError, /rows/);
  expect(() => sampledSoftmaxLoss({ ...input, posLogQ: null }), OptionError, /posLogQ/);
  expect(() => sampledSoftmaxLoss({ ...input, convention: 'maskedExclusive', posLogQ: null }), OptionError, /'maskedExclusive' needs posLogQ/);
  expect(
    () => sampledSoftmaxLoss({ ...input, convention: 'maskedExclusive', draws: { ...input.draws, unique: true, tries: new Int32Array(B).fill(9) } }),
    OptionError,
    /with replacement/,
  );
  expect(() => sampledSoftmaxLoss({ ...input, posLogQ: new Float64Array(B + 1) }), ShapeError, /posLogQ/);
  const badQ = input.posLogQ!.slice();
  badQ[0] = NaN;
  expect(() => sampledSoftmaxLoss({ ...input, posLogQ: badQ }), NonFiniteError, /posLogQ/);
  // draws rows must match the batch
  const m = input.draws.m;
  const short = { ...input.draws, rows: B - 1, ids: input.draws.ids.slice(0, (B - 1) * m), logQ: input.draws.logQ.slice(0, (B - 1) * m) };
  expect(() => sampledSoftmaxLoss({ ...input, draws: short }), ShapeError, /one row per query/);
  const outOfRange = input.draws.ids.slice();
  outOfRange[5] = 99;
  expect(() => sampledSoftmaxLoss({ ...input, draws: { ...input.draws, ids: outOfRange } }), LabelRangeError, /draws/);
  const infQ = input.draws.logQ.slice();
  infQ[1] = -Infinity;
  expect(() => sampledSoftmaxLoss({ ...input, draws: { ...input.draws, logQ: infQ } }), NonFiniteError, /logQ/);
  // exclusive with a positive drawn
  const hit = input.draws.ids.slice();
  hit[0] = input.labels.ids[0]!;
  expect(() => sampledSoftmaxLoss({ ...input, convention: 'exclusive', draws: { ...input.draws, ids: hit } }), OptionError, /exclude: labels/);
  // row with weight > 0 but no positive
  const empty = multiLabels(Array.from({ length: B }, (_, r) => (r === 1 ? [] : [0])));
  expect(() => sampledSoftmaxLoss({ ...input, labels: empty, posLogQ: new Float64Array(B - 1) }), ShapeError, /rowWeights\[1\] = 0/);
  expect(() => sampledSoftmaxLoss({ ...input, rowWeights: Float32Array.from({ length: B }, () => -1) }), OptionError, /≥ 0/);
  expect(() => sampledSoftmaxLoss({ ...input, rowWeights: new Float32Array(B + 2) }), ShapeError, /rowWeights/);
  expect(() => sampledSoftmaxLoss({ ...input, convention: 'both' as Convention }), OptionError, /convention/);
  expect(() => sampledSoftmaxLoss({ ...input, labelWeighting: 'max' as 'mean' }), OptionError, /labelWeighting/);
  expect(() => sampledSoftmaxLoss({ ...input, convetion: 'x' } as unknown as SampledLossInput), OptionError, /unknown option 'convetion'/);
  // unique draws without tries cannot correct the positives
  expect(
    () => sampledSoftmaxLoss({ ...input, draws: { ...input.draws, unique: true, tries: null } }),
    ShapeError,
    /tries/,
  );
});
