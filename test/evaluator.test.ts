import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import fc from 'fast-check';
import { Rng } from '../src/core/rng.js';
import { ClassTable } from '../src/core/classTable.js';
import { matrix, multiLabels, singleLabels, type Labels, type Matrix } from '../src/core/matrix.js';
import { LabelRangeError, NonFiniteError, OptionError, ShapeError } from '../src/core/errors.js';
import { kernels, tsKernels, useKernels } from '../src/kernels/index.js';
import { evaluate, evaluateMetrics, type EvaluateResult } from '../src/layer/evaluator.js';
import { allLogits, bruteLse, bruteTopK, rowIds } from './util/brute.js';

// These tests hold the evaluator on the TS reference kernels (float64 sums) to brute force at
// tight tolerances; the WebAssembly kernels (Node's default) are held to the TS ones in
// kernels-integration.test.ts.
useKernels(tsKernels);


/** Small-integer data: every float32 dot product is exact, so ties are real and results exact. */
function intCase(B: number, n: number, d: number, bias: boolean, seed: number, range = 3): { q: Matrix; t: ClassTable } {
  const rng = Rng.fromSeed(seed);
  const w = new Float32Array(n * d);
  for (let i = 0; i < w.length; i++) w[i] = rng.int(2 * range + 1) - range;
  const b = bias ? Float32Array.from({ length: n }, () => (rng.int(9) - 4) / 2) : null;
  const q = matrix(B, d);
  for (let i = 0; i < q.data.length; i++) q.data[i] = rng.int(2 * range + 1) - range;
  return { q, t: new ClassTable(n, d, w, b) };
}

function randomLabels(rng: Rng, B: number, n: number, maxPer: number): Labels {
  return multiLabels(Array.from({ length: B }, () => Array.from({ length: rng.int(maxPer + 1) }, () => rng.int(n))));
}

/** Checks one evaluation against the brute force; exact because the data are small integers. */
function checkExact(q: Matrix, t: ClassTable, k: number, block: number, labels: Labels, exclude?: Labels): void {
  const res = evaluate(q, t, { k, labels, blockSize: block, ...(exclude ? { exclude } : {}) });
  const logits = allLogits(q, t);
  assert.equal(res.k, k);
  assert.equal(res.topIds.length, q.rows * k);
  for (let r = 0; r < q.rows; r++) {
    const o = logits[r]!;
    const lse = bruteLse(o);
    assert.ok(Math.abs(res.lse[r]! - lse) <= 1e-12 * Math.max(1, Math.abs(lse)), `row ${r}: lse ${res.lse[r]} vs ${lse}`);
    const ex = new Set(exclude ? rowIds(exclude, r) : []);
    const want = bruteTopK(o, k, ex);
    const got = Array.from(res.topIds.subarray(r * k, r * k + k));
    const pad = Array.from({ length: k - want.length }, () => -1);
    assert.deepEqual(got, [...want, ...pad], `row ${r} (n=${t.n}, block=${block}, k=${k})`);
    for (let j = 0; j < k; j++) {
      const expect = j < want.length ? Math.fround(o[want[j]!]!) : -Infinity;
      assert.equal(res.topScores[r * k + j], expect);
    }
    for (let e = labels.offsets[r]!; e < labels.offsets[r + 1]!; e++) {
      const lp = o[labels.ids[e]!]! - lse;
      assert.ok(Math.abs(res.labelLogProb![e]! - Math.min(0, lp)) <= 1e-12 * Math.max(1, Math.abs(lp)), `label ${e}`);
    }
  }
}

test('exact vs brute force: n < block, n not a multiple of block, B = 1, k = n, k = 0, with and without bias', () => {
  const rng = Rng.fromSeed(11);
  const cases: Array<[B: number, n: number, d: number, block: number, k: number, bias: boolean]> = [
    [5, 37, 6, 64, 5, false], // n < block
    [5, 37, 6, 64, 5, true],
    [4, 100, 5, 32, 7, true], // 100 = 3·32 + 4
    [1, 100, 5, 32, 7, false], // B = 1
    [3, 13, 4, 5, 13, true], // k = n
    [3, 13, 4, 5, 0, false], // k = 0: lse and label log-probs only
    [6, 50, 3, 1, 4, true], // block of one class
    [2, 64, 8, 16, 3, false], // n a multiple of block
  ];
  for (const [B, n, d, block, k, bias] of cases) {
    const { q, t } = intCase(B, n, d, bias, B * 1000 + n + block);
    checkExact(q, t, k, block, randomLabels(rng, B, n, 3));
  }
});

test('ties are broken by the smaller id', () => {
  // All logits equal within each row: the top-k must be 0..k-1 with equal scores.
  const t = new ClassTable(20, 2, new Float32Array(40).fill(1));
  const q = matrix(2, 2, new Float32Array([1, 2, -1, 0]));
  const res = evaluate(q, t, { k: 4, blockSize: 3 });
  assert.deepEqual(Array.from(res.topIds), [0, 1, 2, 3, 0, 1, 2, 3]);
  assert.deepEqual(Array.from(res.topScores), [3, 3, 3, 3, -1, -1, -1, -1]);
  assert.ok(Math.abs(res.lse[0]! - (3 + Math.log(20))) < 1e-12);
});

test('property: random small integer cases match the brute force (with exclusion and labels)', () => {
  fc.assert(
    fc.property(
      fc.record({
        B: fc.integer({ min: 1, max: 6 }),
        n: fc.integer({ min: 1, max: 70 }),
        d: fc.integer({ min: 1, max: 6 }),
        block: fc.integer({ min: 1, max: 80 }),
        kFrac: fc.double({ min: 0, max: 1, noNaN: true }),
        bias: fc.boolean(),
        seed: fc.integer({ min: 0, max: 1e6 }),
        excl: fc.boolean(),
      }),
      ({ B, n, d, block, kFrac, bias, seed, excl }) => {
        const { q, t } = intCase(B, n, d, bias, seed, 2);
        const rng = Rng.fromSeed(seed, 1);
        const k = Math.round(kFrac * n);
        checkExact(q, t, k, block, randomLabels(rng, B, n, 3), excl ? randomLabels(rng, B, n, n) : undefined);
      },
    ),
    { numRuns: 150, seed: 4242 },
  );
});

test('exclusion: excluded ids leave the ranking (padding with -1 when too few remain) but stay in the lse', () => {
  const { q, t } = intCase(3, 9, 3, true, 5);
  const exclude = multiLabels([[0, 1, 2, 3, 4, 5, 6], [8, 8, 3], []]);
  const plain = evaluate(q, t, { k: 4 });
  const res = evaluate(q, t, { k: 4, exclude, blockSize: 4 });
  assert.deepEqual(Array.from(res.lse), Array.from(plain.lse));
  checkExact(q, t, 4, 4, singleLabels([0, 1, 2]), exclude);
  // Row 0 keeps only 2 candidates (7, 8).
  assert.deepEqual(Array.from(res.topIds.subarray(2, 4)), [-1, -1]);
  assert.deepEqual(Array.from(res.topScores.subarray(2, 4)), [-Infinity, -Infinity]);
  for (let j = 0; j < 4; j++) assert.ok(![8, 3].includes(res.topIds[4 + j]!));
  assert.deepEqual(Array.from(res.topIds.subarray(8, 12)), Array.from(plain.topIds.subarray(8, 12)));
});

test('float data: lse within 1e-5 relative of float64 brute force; top-k scores match the sorted logits', () => {
  const rng = Rng.fromSeed(3);
  for (const [B, n, d, block, bias] of [
    [7, 3001, 32, 512, true],
    [1, 777, 16, 1024, false],
    [9, 2048, 24, 256, true],
  ] as const) {
    const t = ClassTable.init(n, d, rng, { init: 'normal', scale: 0.5, bias });
    if (t.bias) for (let i = 0; i < n; i++) t.bias[i] = rng.normal();
    const q = matrix(B, d);
    rng.fillNormal(q.data);
    const k = 10;
    const res = evaluate(q, t, { k, blockSize: block });
    const logits = allLogits(q, t);
    for (let r = 0; r < B; r++) {
      const o = logits[r]!;
      const lse = bruteLse(o);
      assert.ok(Math.abs(res.lse[r]! - lse) <= 1e-5 * Math.abs(lse), `lse row ${r}`);
      const sorted = Float64Array.from(o).sort().reverse();
      for (let j = 0; j < k; j++) {
        const id = res.topIds[r * k + j]!;
        const s = res.topScores[r * k + j]!;
        assert.ok(Math.abs(s - sorted[j]!) <= 1e-4 * Math.max(1, Math.abs(sorted[j]!)), `rank ${j}: ${s} vs ${sorted[j]}`);
        assert.ok(Math.abs(o[id]! - s) <= 1e-4 * Math.max(1, Math.abs(s)), `id ${id} has logit ${o[id]} not ${s}`);
        if (j > 0) assert.ok(s <= res.topScores[r * k + j - 1]!);
      }
      assert.equal(new Set(res.topIds.subarray(r * k, r * k + k)).size, k);
    }
  }
});

/** Same ranking exactly; lse and label log-probs equal up to summation order (1e-13). */
function assertSameEvaluation(a: EvaluateResult, b: EvaluateResult, what: string): void {
  assert.deepEqual(a.topIds, b.topIds, what);
  assert.deepEqual(a.topScores, b.topScores, what);
  for (let r = 0; r < a.lse.length; r++) assert.ok(Math.abs(a.lse[r]! - b.lse[r]!) <= 1e-13 * Math.max(1, Math.abs(a.lse[r]!)), what);
  const la = a.labelLogProb!;
  const lb = b.labelLogProb!;
  assert.equal(la.length, lb.length);
  for (let e = 0; e < la.length; e++) assert.ok(Math.abs(la[e]! - lb[e]!) <= 1e-12, what);
}

test('results do not depend on the block size', () => {
  const rng = Rng.fromSeed(8);
  const t = ClassTable.init(1000, 12, rng, { bias: true });
  for (let i = 0; i < 1000; i++) t.bias![i] = rng.normal();
  const q = matrix(5, 12);
  rng.fillNormal(q.data);
  const labels = randomLabels(rng, 5, 1000, 4);
  const ref = evaluate(q, t, { k: 7, labels, blockSize: 1000 });
  for (const block of [1, 7, 64, 333, 4096]) {
    assertSameEvaluation(evaluate(q, t, { k: 7, labels, blockSize: block }), ref, `blockSize ${block}`);
  }
});

test('query rows are processed in chunks when B × block is large; results unchanged', () => {
  // B·min(block, n) = 1100·4100 > 2^22 forces two row chunks; labels span both.
  const { q, t } = intCase(1100, 4100, 2, true, 21, 2);
  const rng = Rng.fromSeed(22);
  const labels = randomLabels(rng, 1100, 4100, 2);
  const res = evaluate(q, t, { k: 2, labels, blockSize: 8192 });
  const small = evaluate(q, t, { k: 2, labels, blockSize: 100 });
  assertSameEvaluation(res, small, 'row chunks');
  // Spot-check rows on both sides of the chunk boundary against the brute force.
  for (const r of [0, 1023, 1024, 1099]) {
    const qr = matrix(1, 2, q.data.slice(2 * r, 2 * r + 2));
    const o = allLogits(qr, t)[0]!;
    assert.ok(Math.abs(res.lse[r]! - bruteLse(o)) <= 1e-12 * Math.abs(bruteLse(o)));
    assert.deepEqual(Array.from(res.topIds.subarray(2 * r, 2 * r + 2)), bruteTopK(o, 2));
    for (let e = labels.offsets[r]!; e < labels.offsets[r + 1]!; e++) {
      assert.ok(Math.abs(res.labelLogProb![e]! - (o[labels.ids[e]!]! - bruteLse(o))) < 1e-9);
    }
  }
});

test('boundary validation raises typed errors', () => {
  const { q, t } = intCase(2, 10, 3, false, 1);
  assert.throws(() => evaluate(q, t, { k: 11 }), (e: unknown) => e instanceof OptionError && /k ≤ 10/.test(e.message));
  assert.throws(() => evaluate(q, t, { k: -1 }), OptionError);
  assert.throws(() => evaluate(q, t, { k: 1.5 }), OptionError);
  assert.throws(() => evaluate(q, t, { blockSize: 0 }), OptionError);
  assert.throws(() => evaluate(q, t, { topk: 3 } as never), OptionError);
  assert.throws(() => evaluate(matrix(2, 4), t), ShapeError);
  assert.throws(() => evaluate(q, t, { labels: singleLabels([1]) }), ShapeError);
  assert.throws(() => evaluate(q, t, { labels: singleLabels([1, 10]) }), LabelRangeError);
  assert.throws(() => evaluate(q, t, { exclude: singleLabels([-1, 0]) }), LabelRangeError);
  const bad = matrix(2, 3, new Float32Array([0, NaN, 0, 0, 0, 0]));
  assert.throws(() => evaluate(bad, t), NonFiniteError);
  // A table that became non-finite after construction is caught through the lse.
  const t2 = t.clone();
  t2.weights[4] = Infinity;
  assert.throws(() => evaluate(matrix(1, 3, new Float32Array([1, 1, 1])), t2), NonFiniteError);
  assert.equal(evaluate(q, t).k, 10); // default min(10, n)
  assert.equal(evaluate(matrix(0, 3), t).lse.length, 0);
});

test('memory: n = 2·10^5 classes at B = 4 never allocates B × n', () => {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const n = 200_000;
  const d = 4;
  const B = 4;
  const block = 1024;
  const rng = Rng.fromSeed(9);
  const t = ClassTable.init(n, d, rng);
  const q = matrix(B, d);
  rng.fillNormal(q.data);
  const labels = singleLabels([0, 1, 2, n - 1]);
  gc();
  const base = process.memoryUsage().arrayBuffers;
  let peak = 0;
  let maxOut = 0;
  const orig = kernels.matmulNT;
  const prev = useKernels({
    ...kernels,
    matmulNT: (a, aRows, c, cStart, cRows, dd, out) => {
      maxOut = Math.max(maxOut, out.length);
      orig(a, aRows, c, cStart, cRows, dd, out);
      peak = Math.max(peak, process.memoryUsage().arrayBuffers - base);
    },
  });
  let res;
  try {
    res = evaluate(q, t, { k: 10, labels, blockSize: block });
  } finally {
    useKernels(prev);
  }
  const bxn = B * n * 4;
  assert.ok(maxOut <= B * block, `logits buffer has ${maxOut} elements, more than B·block = ${B * block}`);
  // Live array-buffer memory during the pass stays far below one float32 B×n matrix (3.2 MB).
  assert.ok(peak < bxn / 8, `array buffers grew by ${peak} bytes during evaluation (B·n·4 = ${bxn})`);
  assert.equal(res.lse.length, B);
  assert.ok(res.labelLogProb!.every((x) => x <= 0 && x > -50));
});

test('evaluateMetrics: uniform logits give perplexity n and rank ids by index', () => {
  const n = 50;
  const t = new ClassTable(n, 4, new Float32Array(n * 4));
  const q = matrix(3, 4);
  Rng.fromSeed(1).fillNormal(q.data);
  const labels = multiLabels([[0], [1, 7], [2]]);
  const m = evaluateMetrics(q, t, labels, { ks: [1, 3], exclude: multiLabels([[], [0], []]) });
  assert.ok(Math.abs(m.nll - Math.log(n)) < 1e-12);
  assert.ok(Math.abs(m.perplexity - n) < 1e-9);
  assert.equal(m.entries, 4);
  assert.equal(m.rows, 3);
  // Rankings: row 0: 0,1,2; row 1 (0 excluded): 1,2,3; row 2: 0,1,2.
  assert.deepEqual(Array.from(m.evaluation.topIds), [0, 1, 2, 1, 2, 3, 0, 1, 2]);
  assert.ok(Math.abs(m.precision[1]! - 2 / 3) < 1e-15);
  assert.ok(Math.abs(m.precision[3]! - 1 / 3) < 1e-15);
  assert.ok(Math.abs(m.recall[3]! - (1 + 0.5 + 1) / 3) < 1e-15);
  const ndcg2 = 1 / Math.log2(4) / 1; // row 2: hit at rank 3, one positive
  const ndcg1 = 1 / (1 + 1 / Math.log2(3)); // row 1: hit at rank 1, two positives
  assert.ok(Math.abs(m.ndcg[3]! - (1 + ndcg1 + ndcg2) / 3) < 1e-15);
  assert.throws(() => evaluateMetrics(q, t, labels, { ks: [] }), OptionError);
  assert.throws(() => evaluateMetrics(q, t, labels, { ks: [51] }), OptionError);
});
