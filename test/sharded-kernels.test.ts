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
