/**
 * The sharded output layer on the WebAssembly kernels gives the unsharded layer's results on the
 * same kernels: identical sampled losses, gradients and tables (each logit is the same float32 dot
 * product of the same rows), and evaluation metrics within the float32 accumulation of the fused
 * evaluator (its log-sum-exp is accumulated per shard and merged: 1e-5 on these sizes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/core/rng.js';
import { multiLabels } from '../src/core/matrix.js';
import { ShardedClassTable } from '../src/core/shardedTable.js';
import { OutputLayer } from '../src/layer/outputLayer.js';
import { createOptimizer } from '../src/layer/optimizers.js';
import '../src/samplers/index.js';
import { ShardedSampler } from '../src/samplers/sharded.js';
import { kernels } from '../src/kernels/index.js';
import { detectFeatures, initFastKernels } from '../src/kernels/fast.js';
import { maxAbsDiff, randomQueries, randomTable } from './util/adaptive.js';

const features = await detectFeatures(false);

test('sharded and unsharded OutputLayer agree on the WebAssembly kernels', { skip: !(features.simd && features.sharedMemory) && 'no WebAssembly SIMD' }, async () => {
  const fk = await initFastKernels({ path: 'simd', threads: 0 });
  try {
    assert.notEqual(kernels.name, 'ts');
    const [n, d] = [500, 24];
    const sizes = [123, 77, 300];
    const t = randomTable(n, d, 1, true, 0.5);
    const st = ShardedClassTable.split(t, sizes);
    const common = { negatives: 20, convention: 'correctedAll' as const };
    const uns = new OutputLayer({ table: t, sampler: ShardedSampler.create('exact', sizes), optimizer: createOptimizer('adam', { lr: 0.02 }), ...common });
    const sh = new OutputLayer({ table: st, sampler: ShardedSampler.create('exact', st), optimizer: createOptimizer('adam', { lr: 0.02 }), ...common });
    const rng = Rng.fromSeed(2);
    for (let step = 0; step < 5; step++) {
      const queries = randomQueries(32, d, 10 + step);
      const labels = multiLabels(Array.from({ length: 32 }, () => [rng.int(n)]));
      const a = uns.step({ queries, labels, rng: Rng.fromSeed(step) });
      const b = sh.step({ queries, labels, rng: Rng.fromSeed(step) });
      assert.equal(b.loss, a.loss);
      assert.deepEqual(b.gradQueries, a.gradQueries);
    }
    assert.deepEqual(st.toTable().weights, t.weights);
    const queries = randomQueries(64, d, 99);
    const labels = multiLabels(Array.from({ length: 64 }, () => [rng.int(n)]));
    const ea = uns.evaluate(queries, labels, { ks: [1, 5] });
    const eb = sh.evaluate(queries, labels, { ks: [1, 5] });
    assert.ok(Math.abs(ea.nll - eb.nll) < 1e-5, `nll ${ea.nll} vs ${eb.nll}`);
    assert.ok(maxAbsDiff(ea.evaluation.lse, eb.evaluation.lse) < 1e-5);
    assert.deepEqual(eb.evaluation.topIds, ea.evaluation.topIds);
    assert.ok(Math.abs(uns.fullLoss(queries, labels) - sh.fullLoss(queries, labels)) < 1e-5);
  } finally {
    await fk.close();
  }
});

test('bfloat16 shards on kernel storage: every shard optimizer takes that storage and every Adam update runs on kernel memory', { skip: !(features.simd && features.sharedMemory) && 'no WebAssembly SIMD' }, async () => {
  const fk = await initFastKernels({ path: 'simd', threads: 0 });
  const wasmAdam = kernels.adamRows;
  try {
    const [n, d] = [300, 16];
    const sizes = [100, 57, 143];
    const base = randomTable(n, d, 3, true, 0.5);
    // record, for every adamRows call, whether the table rows, moments and step counts lie in kernel memory
    const owned: boolean[] = [];
    kernels.adamRows = (w, m, v, dd, ids, count, g, steps, lr, b1, b2, eps) => {
      owned.push(fk.arena!.owns(w) && fk.arena!.owns(m) && fk.arena!.owns(v) && fk.arena!.owns(steps));
      wasmAdam(w, m, v, dd, ids, count, g, steps, lr, b1, b2, eps);
    };
    const storage = { f32: fk.allocF32, i32: fk.allocI32, free: fk.free };
    const layers = [storage, undefined].map((s) => {
      const st = ShardedClassTable.split(base.clone(), sizes, 'bf16');
      return new OutputLayer({ table: st, sampler: ShardedSampler.create('uniform', st), optimizer: createOptimizer('adam', { lr: 0.02 }, s), negatives: 10 });
    });
    const [fast, plain] = layers as [OutputLayer<ShardedClassTable>, OutputLayer<ShardedClassTable>];
    for (const o of fast.shardedOptimizer!.shards) assert.equal(o.storage, storage);
    const rng = Rng.fromSeed(4);
    for (let step = 0; step < 4; step++) {
      const queries = randomQueries(24, d, 20 + step);
      const labels = multiLabels(Array.from({ length: 24 }, () => [rng.int(n)]));
      owned.length = 0;
      const a = fast.step({ queries, labels, rng: Rng.fromSeed(step) });
      assert.equal(owned.length, sizes.length, 'one Adam call per shard');
      assert.ok(owned.every((x) => x), `step ${step}: an Adam update ran on arrays outside kernel memory (the TypeScript loop)`);
      owned.length = 0;
      const b = plain.step({ queries, labels, rng: Rng.fromSeed(step) });
      assert.ok(owned.every((x) => !x), 'plain storage: the arrays are outside kernel memory');
      // the kernel and the TypeScript loop round differently (float32 vs float64 arithmetic): close, not equal
      assert.ok(Math.abs(a.loss - b.loss) < 1e-3 * Math.max(1, Math.abs(b.loss)), `step ${step}: loss ${a.loss} vs ${b.loss}`);
    }
    assert.ok(maxAbsDiff(fast.table.toTable().weights, plain.table.toTable().weights) < 0.05);
  } finally {
    kernels.adamRows = wasmAdam;
    await fk.close();
  }
});
