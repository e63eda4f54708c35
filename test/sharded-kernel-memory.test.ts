/**
 * Shards in their own kernel memories (`shardedTableInKernelMemory`): every shard lives in a
 * further WebAssembly instance's memory, the kernels run calls on those arrays on the owning
 * instance (checked against the TS reference), an optimizer without a storage of its own puts each
 * shard's state beside the shard, and a sharded layer trained that way gives the unsharded layer's
 * bits (losses, gradients, table, Adam state) and evaluation (1e-5, the per-shard merge).
 * Also the row copies of the staging paths against per-row copies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/core/rng.js';
import { multiLabels } from '../src/core/matrix.js';
import { gatherRowsInto, scatterRowsFrom } from '../src/core/rows.js';
import { ShardedClassTable } from '../src/core/shardedTable.js';
import { OutputLayer } from '../src/layer/outputLayer.js';
import { createOptimizer } from '../src/layer/optimizers.js';
import '../src/samplers/index.js';
import { ShardedSampler } from '../src/samplers/sharded.js';
import { MidxRow, MidxSampler } from '../src/samplers/midx.js';
import { activePool, kernels, memoryHolding } from '../src/kernels/index.js';
import { ClassTable } from '../src/core/classTable.js';
import * as ref from '../src/kernels/ref.js';
import { detectFeatures, initFastKernels, shardedTableInKernelMemory, tableInKernelMemory } from '../src/kernels/fast.js';
import { maxAbsDiff, randomQueries, randomTable } from './util/adaptive.js';
import { adamRowsInputs, assertClose, dotTol, randF32, randIds } from './util/kernelCheck.js';

const features = await detectFeatures(false);
const skip = !(features.simd && features.sharedMemory) && 'no WebAssembly SIMD';

test('gatherRowsInto / scatterRowsFrom equal per-row copies (row widths 1 to 9 and 64)', () => {
  const rng = Rng.fromSeed(7);
  for (const d of [1, 2, 3, 4, 5, 7, 8, 9, 64]) {
    const n = 50;
    const src = randF32(rng, n * d);
    const ids = randIds(rng, 30, n);
    const got = randF32(rng, 40 * d);
    const want = got.slice();
    gatherRowsInto(got, 5, src, ids, 2, 25, d);
    for (let e = 0; e < 25; e++) want.set(src.subarray(ids[2 + e]! * d, ids[2 + e]! * d + d), (5 + e) * d);
    assert.deepEqual(got, want, `gather, d = ${d}`);
    const distinct = Int32Array.from(new Set(ids));
    const dst = randF32(rng, n * d);
    const dstWant = dst.slice();
    scatterRowsFrom(dst, distinct, got, 3, distinct.length, d);
    for (let e = 0; e < distinct.length; e++) dstWant.set(got.subarray((3 + e) * d, (4 + e) * d), distinct[e]! * d);
    assert.deepEqual(dst, dstWant, `scatter, d = ${d}`);
  }
});

test('kernels on arrays in a shard\'s own kernel memory run there and equal the TS reference', { skip }, async () => {
  const fk = await initFastKernels({ path: 'simd', threads: 0 });
  try {
    const rng = Rng.fromSeed(11);
    const [n, d] = [400, 20];
    const base = randomTable(n, d, 5, false, 0.5);
    const st = await shardedTableInKernelMemory(fk, ShardedClassTable.split(base, [150, 250]));
    const [s0, s1] = st.shards as [typeof base, typeof base];
    // each shard in its own memory, neither in the main one
    assert.ok(!fk.arena!.owns(s0.weights) && !fk.arena!.owns(s1.weights));
    const m0 = memoryHolding(s0.weights);
    const m1 = memoryHolding(s1.weights);
    assert.ok(m0 !== null && m1 !== null && m0 !== m1);
    assert.ok(m0.owns(s0.weights) && !m0.owns(s1.weights));
    const c = s1.weights;
    const rows = 6;
    const a = randF32(rng, rows * d);
    // gatherDot (per-query ids)
    const m = 9;
    const ids = randIds(rng, rows * m, 250);
    const got = new Float32Array(rows * m);
    const want = new Float32Array(rows * m);
    kernels.gatherDot(a, rows, c, d, ids, m, false, got);
    ref.gatherDot(a, rows, c, d, ids, m, false, want);
    assertClose(got, want, (i) => dotTol(a, Math.floor(i / m) * d, c, ids[i]! * d, d), 'gatherDot');
    // matmulNT over a block of the shard
    const mo = new Float32Array(rows * 40);
    const mw = new Float32Array(rows * 40);
    kernels.matmulNT(a, rows, c, 30, 40, d, mo);
    ref.matmulNT(a, rows, c, 30, 40, d, mw);
    assertClose(mo, mw, (i) => dotTol(a, Math.floor(i / 40) * d, c, (30 + (i % 40)) * d, d), 'matmulNT');
    // adamRows on a table and moments that all live in the peer memory, against the reference on copies
    const count = 60;
    const inp = adamRowsInputs(rng, 250, d, count);
    const w = m1.f32(250 * d);
    const mm = m1.f32(250 * d);
    const vv = m1.f32(250 * d);
    const steps = m1.i32(250);
    w.set(inp.w);
    mm.set(inp.m);
    vv.set(inp.v);
    const grad = randF32(rng, count * d);
    const [w2, m2, v2, steps2] = [inp.w.slice(), inp.m.slice(), inp.v.slice(), new Int32Array(250)];
    kernels.adamRows(w, mm, vv, d, inp.ids, count, grad, steps, 0.01, 0.9, 0.999, 1e-8);
    ref.adamRows(w2, m2, v2, d, inp.ids, count, grad, steps2, 0.01, 0.9, 0.999, 1e-8);
    assert.deepEqual(steps, steps2);
    assertClose(mm, m2, () => 1e-6, 'adam m');
    assertClose(vv, v2, () => 1e-6, 'adam v');
    assertClose(w, w2, () => 1e-5, 'adam w');
  } finally {
    await fk.close();
  }
});

test('a sharded layer whose shards live in their own kernel memories trains to the unsharded layer\'s bits', { skip }, async () => {
  const fk = await initFastKernels({ path: 'simd', threads: 0 });
  const wasmAdam = kernels.adamRows;
  try {
    const [n, d] = [500, 24];
    const sizes = [123, 77, 300];
    const base = randomTable(n, d, 1, true, 0.5);
    const t = tableInKernelMemory(fk, base);
    const st = await shardedTableInKernelMemory(fk, ShardedClassTable.split(base, sizes));
    const common = { negatives: 20, convention: 'maskedExclusive' as const };
    const uns = new OutputLayer({ table: t, sampler: ShardedSampler.create('exact', sizes), optimizer: createOptimizer('adam', { lr: 0.02 }), ...common });
    const sh = new OutputLayer({ table: st, sampler: ShardedSampler.create('exact', st), optimizer: createOptimizer('adam', { lr: 0.02 }), ...common });
    // every Adam call of the sharded layer runs on one shard memory holding the rows, moments and step counts
    const homes: boolean[] = [];
    const rng = Rng.fromSeed(2);
    for (let step = 0; step < 5; step++) {
      const queries = randomQueries(32, d, 10 + step);
      const labels = multiLabels(Array.from({ length: 32 }, () => [rng.int(n)]));
      kernels.adamRows = wasmAdam;
      const a = uns.step({ queries, labels, rng: Rng.fromSeed(step) });
      kernels.adamRows = (w, m, v, dd, ids, count, g, steps, lr, b1, b2, eps) => {
        const mem = memoryHolding(w);
        homes.push(mem !== null && !fk.arena!.owns(w) && mem.owns(m) && mem.owns(v) && mem.owns(steps));
        wasmAdam(w, m, v, dd, ids, count, g, steps, lr, b1, b2, eps);
      };
      const b = sh.step({ queries, labels, rng: Rng.fromSeed(step) });
      assert.equal(b.loss, a.loss, `step ${step}: loss`);
      assert.deepEqual(b.gradQueries, a.gradQueries, `step ${step}: query gradient`);
    }
    kernels.adamRows = wasmAdam;
    assert.equal(homes.length, 5 * sizes.length);
    assert.ok(homes.every((x) => x), 'an Adam update of a shard ran outside that shard\'s kernel memory');
    for (let s = 0; s < sizes.length; s++) {
      const w = (st.shards[s] as typeof t).weights;
      assert.ok(!fk.arena!.owns(w) && memoryHolding(w) !== null, `shard ${s} lives in its own kernel memory`);
    }
    assert.deepEqual(st.toTable().weights, t.weights);
    assert.deepEqual(st.toTable().bias, t.bias);
    const sa = uns.optimizer.stateTensors();
    const sb = sh.optimizer.stateTensors();
    assert.deepEqual(Object.keys(sb).sort(), Object.keys(sa).sort());
    for (const k of Object.keys(sa)) assert.deepEqual(sb[k], sa[k], `Adam state '${k}'`);
    const queries = randomQueries(64, d, 99);
    const labels = multiLabels(Array.from({ length: 64 }, () => [rng.int(n)]));
    const ea = uns.evaluate(queries, labels, { ks: [1, 5] });
    const eb = sh.evaluate(queries, labels, { ks: [1, 5] });
    assert.ok(Math.abs(ea.nll - eb.nll) < 1e-5, `nll ${ea.nll} vs ${eb.nll}`);
    assert.ok(maxAbsDiff(ea.evaluation.lse, eb.evaluation.lse) < 1e-5);
    assert.deepEqual(eb.evaluation.topIds, ea.evaluation.topIds);
  } finally {
    kernels.adamRows = wasmAdam;
    await fk.close();
  }
});

test('with a pool of two workers, the gathers and Adam updates split over them give the bits of the unsharded layer in JS memory (shards of unequal size, the smallest updated in one call)', { skip }, async () => {
  const fk = await initFastKernels({ path: 'simd', threads: 2 });
  const bk = activePool()!.blocking!;
  const gatherRows = bk.gatherRows;
  const split: boolean[] = [];
  try {
    const [n, d] = [3000, 16];
    const sizes = [1300, 1500, 200];
    const base = randomTable(n, d, 3, true, 0.5);
    const plain = new ClassTable(n, d, base.weights.slice(), base.bias!.slice());
    const st = await shardedTableInKernelMemory(fk, ShardedClassTable.split(base, sizes));
    const common = { negatives: 40, convention: 'maskedExclusive' as const };
    const uns = new OutputLayer({ table: plain, sampler: ShardedSampler.create('exact', sizes), optimizer: createOptimizer('adam', { lr: 0.02 }), ...common });
    const sh = new OutputLayer({ table: st, sampler: ShardedSampler.create('exact', st), optimizer: createOptimizer('adam', { lr: 0.02 }), ...common });
    bk.gatherRows = (dst, segments, dd) => {
      const r = gatherRows(dst, segments, dd);
      split.push(r);
      return r;
    };
    const rng = Rng.fromSeed(4);
    for (let step = 0; step < 3; step++) {
      const queries = randomQueries(64, d, 20 + step);
      const labels = multiLabels(Array.from({ length: 64 }, () => [rng.int(n)]));
      const a = uns.step({ queries, labels, rng: Rng.fromSeed(step) });
      const b = sh.step({ queries, labels, rng: Rng.fromSeed(step) });
      assert.equal(b.loss, a.loss, `step ${step}: loss`);
      assert.deepEqual(b.gradQueries, a.gradQueries, `step ${step}: query gradient`);
    }
    assert.ok(split.length === 3 && split.every((x) => x), 'the gathers of the steps were split over the workers');
    assert.deepEqual(st.toTable().weights, plain.weights);
    assert.deepEqual(st.toTable().bias, plain.bias);
    const sa = uns.optimizer.stateTensors();
    const sb = sh.optimizer.stateTensors();
    for (const k of Object.keys(sa)) assert.deepEqual(sb[k], sa[k], `Adam state '${k}'`);
  } finally {
    bk.gatherRows = gatherRows;
    await fk.close();
  }
});

test('a sharded table in shard memories evaluates on the worker pool to the shard-by-shard results', { skip }, async () => {
  const fk = await initFastKernels({ path: 'simd', threads: 2 });
  try {
    const [n, d] = [700, 20];
    const sizes = [250, 1, 150, 299];
    const base = randomTable(n, d, 4, true, 0.5);
    const st = await shardedTableInKernelMemory(fk, ShardedClassTable.split(base, sizes));
    const layer = new OutputLayer({ table: st, sampler: ShardedSampler.create('exact', st), optimizer: createOptimizer('sgd', { lr: 0.1 }), negatives: 5 });
    const rng = Rng.fromSeed(7);
    const queries = randomQueries(48, d, 3);
    const labels = multiLabels(Array.from({ length: 48 }, () => [rng.int(n), rng.int(n)]));
    const sync = layer.evaluate(queries, labels, { ks: [1, 5, 20] });
    const pooled = await layer.evaluateAsync(queries, labels, { ks: [1, 5, 20] });
    assert.ok(maxAbsDiff(sync.evaluation.lse, pooled.evaluation.lse) < 1e-5, 'lse');
    assert.deepEqual(pooled.evaluation.topIds, sync.evaluation.topIds);
    assert.ok(Math.abs(sync.nll - pooled.nll) < 1e-5, `nll ${sync.nll} vs ${pooled.nll}`);
    assert.deepEqual(pooled.recall, sync.recall);
  } finally {
    await fk.close();
  }
});

test('midx shards of one set of codebooks share each query\'s codeword scores: the same draws and log-probabilities, scored once per row', () => {
  const [n, d, B] = [600, 16, 12];
  const base = randomTable(n, d, 8, false, 0.5);
  const sizes = [200, 150, 250];
  const make = (): ShardedSampler => {
    // composed draw by draw (the merged index has no per-shard scoring to share)
    const s = ShardedSampler.create('midx', sizes, { codewords: 8 }, { mergedIndex: false });
    s.build(ShardedClassTable.split(base, sizes));
    return s;
  };
  const shared = make();
  const apart = make();
  for (const x of apart.shards) (x as MidxSampler).shareCodewordScores(null);
  const proto = MidxRow.prototype as unknown as { computeCodewordScores: (h: Float32Array, ho: number) => void };
  const original = proto.computeCodewordScores;
  let calls = 0;
  proto.computeCodewordScores = function (this: unknown, h: Float32Array, ho: number): void {
    calls++;
    original.call(this, h, ho);
  };
  try {
    const queries = randomQueries(B, d, 31);
    const labels = multiLabels(Array.from({ length: B }, (_, r) => [(r * 37) % n]));
    calls = 0;
    const a = shared.sampleWithLogQ!({ queries, m: 20, rng: Rng.fromSeed(5) }, labels);
    const callsShared = calls;
    calls = 0;
    const b = apart.sampleWithLogQ!({ queries, m: 20, rng: Rng.fromSeed(5) }, labels);
    const callsApart = calls;
    assert.deepEqual(a.draws.ids, b.draws.ids);
    assert.deepEqual(a.draws.logQ, b.draws.logQ);
    assert.deepEqual(a.logQ, b.logQ);
    assert.ok(callsApart >= sizes.length * B, `every shard scores every row when not shared (${callsApart})`);
    assert.ok(callsShared * sizes.length <= callsApart, `shared: ${callsShared} scorings against ${callsApart}`);
    // outside a batch nothing is shared: the same query buffer changed in place gets fresh scores
    const q2 = randomQueries(1, d, 40);
    const one = multiLabels([[3]]);
    const l1 = shared.logQ(q2, one)[0]!;
    const l1apart = apart.logQ(q2, one)[0]!;
    assert.equal(l1, l1apart);
    q2.data.fill(0.25);
    assert.equal(shared.logQ(q2, one)[0]!, apart.logQ(q2, one)[0]!);
  } finally {
    proto.computeCodewordScores = original;
  }
});
