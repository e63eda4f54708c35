/**
 * Tables outside the kernels' memory (as a table larger than one 4 GiB wasm memory must be):
 * the WebAssembly kernels stage only the rows or class blocks a call needs, and give the
 * results of the TS reference and of the same table inside the arena. Also the seeded fills
 * (TS and wasm bit for bit) and the pooled evaluation.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { ClassTable } from '../src/core/classTable.js';
import { ShapeError } from '../src/core/errors.js';
import { matrix, multiLabels, singleLabels } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { chiSquareTest, gammaQ } from '../src/core/stats.js';
import { activePool, kernels, tsKernels } from '../src/kernels/index.js';
import * as ref from '../src/kernels/ref.js';
import { initFastKernels, tableInKernelMemory, type FastKernels } from '../src/kernels/fast.js';
import { stageClasses } from '../src/kernels/wasmKernels.js';
import { evaluate, evaluateAsync, evaluateMetrics, evaluateMetricsAsync } from '../src/layer/evaluator.js';
import { createOptimizer } from '../src/layer/optimizers.js';
import { OutputLayer } from '../src/layer/outputLayer.js';
import { UniformSampler } from '../src/samplers/uniform.js';
import { U32, adamRowsInputs, assertClose, randF32 } from './util/kernelCheck.js';

let fast: FastKernels;
before(async () => {
  fast = await initFastKernels({ threads: 2 });
});
after(async () => {
  await fast.close();
});

/** A copy of `x` in the kernels' memory. */
function inKernel<T extends Float32Array | Int32Array>(x: T): T {
  const y = (x instanceof Float32Array ? fast.allocF32(x.length) : fast.allocI32(x.length)) as T;
  y.set(x);
  return y;
}

test('initFastKernels installs its pool as the active pool, and close restores none', async () => {
  assert.equal(activePool(), fast.pool);
  const other = await initFastKernels({ threads: 0 });
  assert.notEqual(activePool(), fast.pool);
  await other.close();
  assert.equal(activePool(), fast.pool);
});

test('adamRows on rows outside the arena (staged rows) equals the TS reference within float32 bounds and the in-arena kernel bit for bit', () => {
  const rng = Rng.fromSeed(71);
  for (const d of [1, 5, 8, 128]) {
    const n = 300;
    const count = 60;
    const { ids, w, m, v } = adamRowsInputs(rng, n, d, count);
    const steps = Int32Array.from({ length: n }, () => rng.int(4));
    const grad = randF32(rng, count * d);
    const [w1, m1, v1, s1] = [w.slice(), m.slice(), v.slice(), steps.slice()];
    ref.adamRows(w1, m1, v1, d, ids, count, grad, s1, 0.01, 0.9, 0.999, 1e-8);
    // every array outside the arena
    const [w2, m2, v2, s2] = [w.slice(), m.slice(), v.slice(), steps.slice()];
    fast.kernels.adamRows(w2, m2, v2, d, ids, count, grad, s2, 0.01, 0.9, 0.999, 1e-8);
    assert.deepEqual(s2, s1, 'row step counts');
    assertClose(m2, m1, (i) => 4 * U32 * (Math.abs(m[i]!) + Math.abs(m1[i]!) + 1e-30), `m d=${d}`);
    assertClose(v2, v1, (i) => 4 * U32 * (Math.abs(v[i]!) + Math.abs(v1[i]!) + 1e-30), `v d=${d}`);
    assertClose(w2, w1, (i) => 2 * U32 * Math.abs(w1[i]!) + 16 * U32 * Math.abs(w[i]! - w1[i]!) + 1e-12, `w d=${d}`);
    // the table in the arena, its moments outside; and everything in the arena: the same bits
    const put = (x: Float32Array): Float32Array => {
      const y = fast.allocF32(x.length);
      y.set(x);
      return y;
    };
    const [w3, m3, v3, s3] = [put(w), m.slice(), v.slice(), steps.slice()];
    fast.kernels.adamRows(w3, m3, v3, d, ids, count, grad, s3, 0.01, 0.9, 0.999, 1e-8);
    const s4 = fast.allocI32(n);
    s4.set(steps);
    const [w4, m4, v4] = [put(w), put(m), put(v)];
    fast.kernels.adamRows(w4, m4, v4, d, ids, count, grad, s4, 0.01, 0.9, 0.999, 1e-8);
    assert.deepEqual([w2, m2, v2, s2], [w3, m3, v3, s3], `staged vs table in arena d=${d}`);
    assert.deepEqual([w2, m2, v2, [...s2]], [new Float32Array(w4), new Float32Array(m4), new Float32Array(v4), [...s4]], `staged vs all in arena d=${d}`);
    for (const a of [w3, w4, m4, v4]) fast.free(a);
    fast.free(s4);
  }
  // repeated ids cannot be staged (nor are they allowed by the reference): refused
  const z = () => new Float32Array(8);
  assert.throws(() => fast.kernels.adamRows(z(), z(), z(), 2, Int32Array.of(3, 1, 3), 3, new Float32Array(6), new Int32Array(4), 0.1, 0.9, 0.999, 1e-8), ShapeError);
});

test('Adam kernels: the per-call memo of bias corrections gives the bits of one call per row, with many step counts that share memo slots', () => {
  const rng = Rng.fromSeed(73);
  const n = 2600;
  const d = 8;
  // step counts repeated in the call, some 1024 or 2048 apart (the same memo slot), in shuffled order
  const steps = Int32Array.from({ length: n }, (_, i) => (i % 13 === 0 ? rng.int(3000) : 1 + rng.int(40) + 1024 * rng.int(3)));
  const { ids, w, m, v } = adamRowsInputs(rng, n, d, n);
  const grad = randF32(rng, n * d);
  const [w1, m1, v1, s1] = [w.slice(), m.slice(), v.slice(), steps.slice()];
  fast.kernels.adamRows(w1, m1, v1, d, ids, n, grad, s1, 0.01, 0.9, 0.999, 1e-8);
  const [w2, m2, v2, s2] = [w.slice(), m.slice(), v.slice(), steps.slice()];
  for (let i = 0; i < n; i++) fast.kernels.adamRows(w2, m2, v2, d, ids.subarray(i, i + 1), 1, grad.subarray(i * d, (i + 1) * d), s2, 0.01, 0.9, 0.999, 1e-8);
  assert.deepEqual([w1, m1, v1, s1], [w2, m2, v2, s2]);
  const [w3, m3, v3, s3] = [w.slice(), m.slice(), v.slice(), steps.slice()];
  ref.adamRows(w3, m3, v3, d, ids, n, grad, s3, 0.01, 0.9, 0.999, 1e-8);
  assertClose(w1, w3, (i) => 2 * U32 * Math.abs(w3[i]!) + 16 * U32 * Math.abs(w[i]! - w3[i]!) + 1e-12, 'w against the reference');
  // every row (dense updates), the listed ones with their gradient: the same bits as adamRows
  // over all rows with zero gradient rows spread in
  const few = ids.filter((_, i) => i % 5 === 0);
  const fewGrad = new Float32Array(few.length * d);
  const spread = new Float32Array(n * d);
  few.forEach((id, k) => {
    for (let t = 0; t < d; t++) fewGrad[k * d + t] = spread[id * d + t] = grad[k * d + t]!;
  });
  const all = Int32Array.from({ length: n }, (_, i) => i);
  const [w4, m4, v4, s4] = [w.slice(), m.slice(), v.slice(), steps.slice()];
  fast.kernels.adamAllRows(w4, m4, v4, d, n, few, few.length, fewGrad, s4, 0.01, 0.9, 0.999, 1e-8);
  const [w5, m5, v5, s5] = [w.slice(), m.slice(), v.slice(), steps.slice()];
  for (let i = 0; i < n; i++) fast.kernels.adamRows(w5, m5, v5, d, all.subarray(i, i + 1), 1, spread.subarray(i * d, (i + 1) * d), s5, 0.01, 0.9, 0.999, 1e-8);
  assert.deepEqual([w4, m4, v4, s4], [w5, m5, v5, s5]);
});

test('adamRows on many ascending rows in kernel memory, split over the pool\'s two workers: the bits of one call (the staged path), in any order of the ids', () => {
  const rng = Rng.fromSeed(74);
  const [n, d, count] = [4000, 8, 2600];
  const steps = Int32Array.from({ length: n }, () => rng.int(50));
  const { ids, w, m, v } = adamRowsInputs(rng, n, d, count);
  const grad = randF32(rng, count * d);
  const [w1, m1, v1] = [inKernel(w), inKernel(m), inKernel(v)];
  const s1 = inKernel(steps);
  fast.kernels.adamRows(w1, m1, v1, d, ids, count, grad, s1, 0.01, 0.9, 0.999, 1e-8);
  const [w2, m2, v2, s2] = [w.slice(), m.slice(), v.slice(), steps.slice()];
  fast.kernels.adamRows(w2, m2, v2, d, ids, count, grad, s2, 0.01, 0.9, 0.999, 1e-8);
  assert.deepEqual([w1.slice(), m1.slice(), v1.slice(), s1.slice()], [w2, m2, v2, s2]);
  // the same distinct rows in shuffled order (one call on the calling thread)
  const order = Int32Array.from({ length: count }, (_, i) => i);
  rng.shuffle(order);
  const shuffled = Int32Array.from(order, (i) => ids[i]!);
  const shuffledGrad = new Float32Array(count * d);
  order.forEach((i, k) => shuffledGrad.set(grad.subarray(i * d, (i + 1) * d), k * d));
  w1.set(w);
  m1.set(m);
  v1.set(v);
  s1.set(steps);
  fast.kernels.adamRows(w1, m1, v1, d, shuffled, count, shuffledGrad, s1, 0.01, 0.9, 0.999, 1e-8);
  assert.deepEqual([w1.slice(), m1.slice(), v1.slice(), s1.slice()], [w2, m2, v2, s2]);
  for (const x of [w1, m1, v1, s1]) fast.free(x);
});

test('adamAllRows (dense updates) on a table outside the arena, over several staging blocks: the in-arena kernel\'s bits', () => {
  const rng = Rng.fromSeed(72);
  const d = 1000;
  const n = Math.floor((32 << 20) / (12 * d)) * 2 + 31; // three staged blocks
  const count = 50;
  const { ids, w, m, v } = adamRowsInputs(rng, n, d, count);
  const steps = Int32Array.from({ length: n }, (_, i) => (i % 7 === 3 ? 2 : 5));
  const grad = randF32(rng, count * d);
  const [w1, m1, v1, s1] = [w.slice(), m.slice(), v.slice(), steps.slice()];
  fast.kernels.adamAllRows(w1, m1, v1, d, n, ids, count, grad, s1, 0.01, 0.9, 0.999, 1e-8);
  const [w2, m2, v2] = [inKernel(w), inKernel(m), inKernel(v)];
  const s2 = inKernel(steps);
  fast.kernels.adamAllRows(w2, m2, v2, d, n, ids, count, grad, s2, 0.01, 0.9, 0.999, 1e-8);
  assert.deepEqual([...s1], [...s2]);
  assert.ok(w1.every((x, i) => x === w2[i]) && m1.every((x, i) => x === m2[i]) && v1.every((x, i) => x === v2[i]), 'same bits');
  // and the reference within float32 bounds: the update is a chain of about 12 float32
  // operations (two per moment, the corrections, sqrt, add, div, mul), each off by at most u,
  // so 32u of its size covers first and second order (millions of elements reach past 16u)
  const [w3, m3, v3, s3] = [w.slice(), m.slice(), v.slice(), steps.slice()];
  ref.adamAllRows(w3, m3, v3, d, n, ids, count, grad, s3, 0.01, 0.9, 0.999, 1e-8);
  assertClose(w1, w3, (i) => 2 * U32 * Math.abs(w3[i]!) + 32 * U32 * Math.abs(w[i]! - w3[i]!) + 1e-12, 'w');
  for (const a of [w2, m2, v2]) fast.free(a);
  fast.free(s2);
});

/** A table of `n` classes of dimension `d` in JS memory, spanning several staging blocks. */
function bigCase(seed: number, d: number, blocks: number, rows: number) {
  const rng = Rng.fromSeed(seed);
  const n = stageClasses(d) * blocks + 77;
  const c = randF32(rng, n * d);
  const bias = randF32(rng, n);
  const a = randF32(rng, rows * d);
  return { n, c, bias, a };
}

function fusedOut(rows: number, k: number) {
  return { l: new Float64Array(rows), i: new Int32Array(rows * k), s: new Float32Array(rows * k) };
}

test('fused evaluation of a table outside the arena, larger than one staging block: the reference\'s top-k and log-sum-exp, sync and pooled', async () => {
  const d = 1000; // not a multiple of 4; ~8k classes per staged block
  const k = 7;
  for (const rows of [2, 13]) { // pooled: split by classes (few rows) and by rows
    const { n, c, bias, a } = bigCase(80 + rows, d, 2, rows);
    assert.ok(n > 2 * stageClasses(d), 'the table spans three staging blocks');
    const want = fusedOut(rows, k);
    ref.fusedSoftmaxTopK(a, rows, c, bias, n, d, k, want.l, want.i, want.s);
    const sync = fusedOut(rows, k);
    fast.kernels.fusedSoftmaxTopK(a, rows, c, bias, n, d, k, sync.l, sync.i, sync.s);
    const pooled = fusedOut(rows, k);
    await fast.pool.fusedSoftmaxTopK(a, rows, c, bias, n, d, k, pooled.l, pooled.i, pooled.s);
    // the same table in the arena, in one piece
    const cA = fast.allocF32(c.length);
    cA.set(c);
    const bA = fast.allocF32(n);
    bA.set(bias);
    const inArena = fusedOut(rows, k);
    fast.kernels.fusedSoftmaxTopK(a, rows, cA, bA, n, d, k, inArena.l, inArena.i, inArena.s);
    fast.free(cA);
    fast.free(bA);
    for (const [name, got] of [['sync', sync], ['pooled', pooled], ['in arena', inArena]] as const) {
      // logits of random data at d = 1000: float32 dot error ~ d·u·Σ|a c| ≈ 1.5e-5; sums of
      // float32 lanes and the block merge add relative ~1e-6 to the sum
      for (let i = 0; i < rows; i++) assert.ok(Math.abs(got.l[i]! - want.l[i]!) < 1e-4, `${name} lse[${i}] ${got.l[i]} vs ${want.l[i]}`);
      assert.deepEqual([...got.i], [...want.i], `${name} top ids`);
      assertClose(got.s, want.s, () => 1e-4, `${name} top scores`);
    }
    // blocks are merged exactly as the pool merges class ranges: sync and pooled agree on the ids and scores
    assert.deepEqual([...pooled.i], [...sync.i]);
  }
});

test('evaluate / evaluateAsync of a table outside the arena equal those of the same table inside it', async () => {
  const d = 1000;
  const B = 9;
  const { n, c, bias, a } = bigCase(90, d, 1, B);
  const tJs = new ClassTable(n, d, c, bias);
  const tArena = tableInKernelMemory(fast, tJs);
  const rng = Rng.fromSeed(91);
  const labels = singleLabels(Array.from({ length: B }, () => rng.int(n)));
  const q = matrix(B, d, a);
  const inArena = evaluateMetrics(q, tArena, labels, { ks: [1, 5] });
  const outside = evaluateMetrics(q, tJs, labels, { ks: [1, 5] });
  const pooled = await evaluateMetricsAsync(q, tJs, labels, { ks: [1, 5] });
  for (const got of [outside, pooled]) {
    assert.deepEqual([...got.evaluation.topIds], [...inArena.evaluation.topIds]);
    assert.ok(Math.abs(got.nll - inArena.nll) < 1e-5, `nll ${got.nll} vs ${inArena.nll}`);
    assert.deepEqual(got.precision, inArena.precision);
  }
  fast.free(tArena.weights);
  fast.free(tArena.bias!);
});

test('evaluateAsync (worker pool) equals the synchronous evaluate, with labels and exclusions', async () => {
  const rng = Rng.fromSeed(92);
  const [B, n, d] = [40, 5000, 24];
  const t = tableInKernelMemory(fast, ClassTable.init(n, d, rng, { bias: true }));
  const q = matrix(B, d);
  rng.fillNormal(q.data);
  const labels = multiLabels(Array.from({ length: B }, () => [rng.int(n), rng.int(n)]));
  const exclude = multiLabels(Array.from({ length: B }, (_, r) => Array.from({ length: r % 5 }, () => rng.int(n))));
  for (const opts of [{ k: 10, labels }, { k: 10, labels, exclude }]) {
    const sync = evaluate(q, t, opts);
    const pooled = await evaluateAsync(q, t, opts);
    assert.deepEqual(pooled, sync);
  }
  // exclusions drop exactly the excluded ids from the ranking; what remains is the TS path's top-k
  const prev = { ...kernels };
  Object.assign(kernels, tsKernels);
  let tsRes;
  try {
    tsRes = evaluate(q, t, { k: 10, exclude });
  } finally {
    Object.assign(kernels, prev);
  }
  const fastRes = await evaluateAsync(q, t, { k: 10, exclude });
  assert.deepEqual([...fastRes.topIds], [...tsRes.topIds]);
  for (let i = 0; i < B; i++) assert.ok(Math.abs(fastRes.lse[i]! - tsRes.lse[i]!) < 1e-5);
  const m1 = evaluateMetrics(q, t, labels, { ks: [1, 3] });
  const m2 = await evaluateMetricsAsync(q, t, labels, { ks: [1, 3] });
  assert.deepEqual(m2, m1);
  fast.free(t.weights);
  fast.free(t.bias!);
});

test('OutputLayer: a table outside the arena trains to the same bits as the same table inside it (Adam\'s state in kernel memory either way: beside the table, or beside a block the touched rows are copied into)', () => {
  const [n, d, B, m] = [3000, 20, 16, 12];
  const base = ClassTable.init(n, d, Rng.fromSeed(93), { bias: true });
  const run = (table: ClassTable) => {
    const optimizer = createOptimizer('adam', { lr: 0.05 });
    const layer = new OutputLayer({ table, sampler: new UniformSampler({ n }), optimizer, negatives: m, convention: 'maskedExclusive' });
    const rng = Rng.fromSeed(94);
    const losses: number[] = [];
    for (let s = 0; s < 4; s++) {
      const q = matrix(B, d);
      rng.fillNormal(q.data);
      const labels = singleLabels(Array.from({ length: B }, () => rng.int(n)));
      losses.push(layer.step({ queries: q, labels, rng }).loss);
    }
    return { table, losses, state: optimizer.stateTensors() };
  };
  const js = run(base.clone());
  const ar = run(tableInKernelMemory(fast, base));
  assert.equal(fast.arena!.owns(ar.state['m']!), true, 'moments in kernel memory beside the table');
  assert.equal(fast.arena!.owns(js.table.weights), false, 'the JS table stays in JS memory');
  assert.equal(fast.arena!.owns(js.state['m']!), true, 'moments in kernel memory beside the block for a JS table');
  assert.deepEqual(js.losses, ar.losses);
  assert.deepEqual(js.table.weights, new Float32Array(ar.table.weights));
  assert.deepEqual(js.table.bias, new Float32Array(ar.table.bias!));
  assert.deepEqual(js.state['m'], new Float32Array(ar.state['m']!));
});

test('fills: the TS reference and the wasm kernel give the same bits (in the arena, in JS memory, across staging blocks, any split)', () => {
  const seed = Int32Array.of(0x12345678, -5, 77, 0);
  for (const len of [1, 3, 2047, 2048, 5000, 1024 * 9 + 3]) {
    for (const scale of [1, 0.0883]) {
      const want = new Float32Array(len);
      ref.fillNormal(want, 0, len, seed, scale, 0);
      const got = new Float32Array(len);
      fast.kernels.fillNormal(got, 0, len, seed, scale, 0);
      assert.deepEqual(got, want, `normal len=${len}`);
      const inArena = fast.allocF32(len);
      fast.kernels.fillNormal(inArena, 0, len, seed, scale, 0);
      assert.deepEqual(new Float32Array(inArena), want, `normal in arena len=${len}`);
      fast.free(inArena);
      const su = Int32Array.from(seed);
      const wu = new Float32Array(len);
      ref.fillUniform(wu, 0, len, su, scale);
      const gu = new Float32Array(len);
      const sg = Int32Array.from(seed);
      fast.kernels.fillUniform(gu, 0, len, sg, scale);
      assert.deepEqual(gu, wu, `uniform len=${len}`);
      assert.deepEqual(sg, su, 'uniform state advanced alike');
    }
  }
  // a fill split at a chunk boundary, or staged through blocks, gives the values of one call
  const len = (32 << 20) / 4 + 3 * 1024 + 5; // beyond one staging block
  const whole = new Float32Array(len);
  ref.fillNormal(whole, 0, len, seed, 1, 0);
  const got = new Float32Array(len);
  fast.kernels.fillNormal(got, 0, len, seed, 1, 0);
  assert.deepEqual(got, whole);
  const parts = new Float32Array(len);
  ref.fillNormal(parts, 0, 4096, seed, 1, 0);
  fast.kernels.fillNormal(parts, 4096, len - 4096, seed, 1, 4096);
  assert.deepEqual(parts, whole);
  assert.throws(() => fast.kernels.fillNormal(parts, 0, 10, seed, 1, 100), ShapeError);
});

test('ClassTable.init gives the same table with the TS and the wasm kernels', () => {
  for (const init of ['normal', 'uniform', 'xavier'] as const) {
    const a = ClassTable.init(700, 33, Rng.fromSeed(5), { init });
    const prev = { ...kernels };
    Object.assign(kernels, tsKernels);
    let b;
    try {
      b = ClassTable.init(700, 33, Rng.fromSeed(5), { init });
    } finally {
      Object.assign(kernels, prev);
    }
    assert.deepEqual(a.weights, b.weights, init);
  }
});

test('fillNormal is standard normal: chi-square over 40 equiprobable bins (seeded; a correct fill fails with probability 1e-4)', () => {
  const len = 400_000;
  const out = new Float32Array(len);
  fast.kernels.fillNormal(out, 0, len, Int32Array.of(1, 2, 3, 4), 1, 0);
  // Φ(x) from the regularized gamma function: P(|Z| ≤ x) = 1 − Q(1/2, x²/2)
  const cdf = (x: number): number => 0.5 + 0.5 * Math.sign(x) * (1 - gammaQ(0.5, (x * x) / 2));
  const edges: number[] = [];
  for (let b = 1; b < 40; b++) {
    // bisection for the b/40 quantile
    let lo = -6;
    let hi = 6;
    for (let it = 0; it < 60; it++) {
      const mid = (lo + hi) / 2;
      if (cdf(mid) < b / 40) lo = mid;
      else hi = mid;
    }
    edges.push((lo + hi) / 2);
  }
  const counts = new Array<number>(40).fill(0);
  for (const x of out) {
    let b = 0;
    while (b < 39 && x >= edges[b]!) b++;
    counts[b]!++;
  }
  const r = chiSquareTest(counts, new Array<number>(40).fill(1 / 40));
  assert.ok(r.pValue > 1e-4, `chi-square p = ${r.pValue} (stat ${r.statistic}, dof ${r.dof})`);
  // and the uniform fill is uniform on [-1, 1)
  const u = new Float32Array(len);
  fast.kernels.fillUniform(u, 0, len, Int32Array.of(4, 3, 2, 1), 1);
  const uc = new Array<number>(40).fill(0);
  for (const x of u) uc[Math.min(39, Math.floor((x + 1) * 20))]!++;
  const ru = chiSquareTest(uc, new Array<number>(40).fill(1 / 40));
  assert.ok(ru.pValue > 1e-4, `uniform chi-square p = ${ru.pValue}`);
});

test('fillNormal moments: E[x], E[x²], E[x³], E[x⁴] of N(0,1) within 4.5 standard errors (seeded; a correct fill fails with probability below 3e-5)', () => {
  const len = 1 << 20;
  for (const [name, fill] of [['wasm', fast.kernels.fillNormal], ['ts', ref.fillNormal]] as const) {
    const out = new Float32Array(len);
    fill(out, 0, len, Int32Array.of(9, 8, 7, 6), 1, 0);
    let m1 = 0;
    let m2 = 0;
    let m3 = 0;
    let m4 = 0;
    for (const x of out) {
      const x2 = x * x;
      m1 += x;
      m2 += x2;
      m3 += x2 * x;
      m4 += x2 * x2;
    }
    // population values 0, 1, 0, 3; variances of x, x², x³, x⁴: 1, 2, 15, 96
    const z = [m1 / len / Math.sqrt(1 / len), (m2 / len - 1) / Math.sqrt(2 / len), m3 / len / Math.sqrt(15 / len), (m4 / len - 3) / Math.sqrt(96 / len)];
    for (let k = 0; k < 4; k++) assert.ok(Math.abs(z[k]!) < 4.5, `${name}: moment ${k + 1} is ${z[k]} standard errors off`);
  }
});

test('arena arrays come zero-filled, whether fresh or reused after writes (only reused memory is cleared)', () => {
  const arena = fast.arena!;
  for (let round = 0; round < 3; round++) {
    const a = arena.allocF32(10_000 + round);
    const b = arena.allocI32(333);
    const c = arena.allocF64(4097);
    for (const x of [a, b, c]) {
      assert.ok(x.every((v) => v === 0), `round ${round}: zero-filled`);
      x.fill(7);
    }
    // staging blocks are written too, and land where the next arrays go
    const f = arena.frame();
    f.tempF32(50_000).view.fill(3);
    f.release();
    arena.free(c);
    arena.free(b);
    arena.free(a);
  }
});
