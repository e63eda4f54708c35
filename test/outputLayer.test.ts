import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClassTable } from '../src/core/classTable.js';
import { OptionError, ShapeError } from '../src/core/errors.js';
import { matrix, singleLabels, type Labels, type Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { OutputLayer } from '../src/layer/outputLayer.js';
import { createOptimizer } from '../src/layer/optimizers.js';
import { sampledSoftmaxLoss } from '../src/loss/sampled.js';
import { MidxSampler } from '../src/samplers/midx.js';
import { createSampler } from '../src/samplers/factory.js';
import '../src/samplers/index.js';

const N = 300;
const D = 16;

/**
 * Synthetic planted problem (labelled as such): class `c` has a hidden centroid `μ_c` of norm 3;
 * a query of class `y` is `μ_y` plus isotropic noise of norm ≈ 0.3·√D/4; classes follow Zipf.
 */
function planted(seed: number): { sample: (rows: number, rng: Rng) => { queries: Matrix; labels: Labels }; counts: Float64Array } {
  const rng = Rng.fromSeed(seed);
  const mu = new Float32Array(N * D);
  for (let c = 0; c < N; c++) {
    let s = 0;
    for (let k = 0; k < D; k++) {
      mu[c * D + k] = rng.normal();
      s += mu[c * D + k]! ** 2;
    }
    for (let k = 0; k < D; k++) mu[c * D + k]! *= 3 / Math.sqrt(s);
  }
  const counts = Float64Array.from({ length: N }, (_, i) => 1 / (i + 1));
  const cdf = new Float64Array(N);
  let acc = 0;
  for (let i = 0; i < N; i++) cdf[i] = acc += counts[i]!;
  return {
    counts,
    sample(rows, r) {
      const queries = matrix(rows, D);
      const ys: number[] = [];
      for (let i = 0; i < rows; i++) {
        const u = r.float() * acc;
        let y = 0;
        while (cdf[y]! < u) y++;
        ys.push(y);
        for (let k = 0; k < D; k++) queries.data[i * D + k] = mu[y * D + k]! + 0.075 * r.normal();
      }
      return { queries, labels: singleLabels(ys) };
    },
  };
}

test('OutputLayer.step equals sampling, the sampled loss and the optimizer composed by hand', () => {
  for (const convention of ['exclusive', 'correctedAll'] as const) {
    const p = planted(1);
    const rng = Rng.fromSeed(2);
    const t1 = ClassTable.init(N, D, rng, { bias: true });
    const t2 = t1.clone();
    const layer = new OutputLayer({
      table: t1,
      sampler: createSampler('unigram', { counts: p.counts }),
      optimizer: createOptimizer('adagrad', { lr: 0.3 }),
      negatives: 12,
      convention,
    });
    const sampler = createSampler('unigram', { counts: p.counts });
    const opt = createOptimizer('adagrad', { lr: 0.3 });
    const data = Rng.fromSeed(3);
    // batches of changing sizes: the layer's reused gradient block grows and is reused part-way
    const sizes = [32, 8, 64, 16];
    for (let s = 0; s < sizes.length; s++) {
      const { queries, labels } = p.sample(sizes[s]!, data);
      const got = layer.step({ queries, labels, rng: Rng.fromSeed(100 + s) });
      const draws = sampler.sample({
        m: 12,
        rng: Rng.fromSeed(100 + s),
        rows: sizes[s]!,
        exclude: convention === 'exclusive' ? labels : null,
      });
      const ref = sampledSoftmaxLoss({
        queries,
        table: t2,
        labels,
        draws,
        convention,
        posLogQ: convention === 'exclusive' ? null : sampler.logQ(null, labels),
      });
      opt.step(t2, ref.gradClasses);
      assert.equal(got.loss, ref.loss, convention);
      assert.deepEqual(got.gradQueries, ref.gradQueries);
      assert.equal(got.touchedRows, ref.gradClasses.ids.length);
      assert.deepEqual(t1.weights, t2.weights);
      assert.deepEqual(t1.bias, t2.bias);
    }
    assert.equal(layer.steps, sizes.length);
  }
});

test('OutputLayer with denseUpdates applies the optimizer to every row (zero gradient for the untouched ones)', () => {
  const p = planted(4);
  const data = Rng.fromSeed(5);
  const batches = [0, 1, 2].map(() => p.sample(16, data));
  const run = (dense: boolean, optimizer: 'adam' | 'sgd'): { table: ClassTable; refTable: ClassTable; touched: number[] } => {
    const table = ClassTable.init(N, D, Rng.fromSeed(6), { bias: true });
    const refTable = table.clone();
    const layer = new OutputLayer({
      table, sampler: createSampler('uniform', { n: N }), optimizer: createOptimizer(optimizer, { lr: 0.05 }), negatives: 8, denseUpdates: dense,
    });
    const refOpt = createOptimizer(optimizer, { lr: 0.05 });
    const touched: number[] = [];
    for (let s = 0; s < batches.length; s++) {
      const { queries, labels } = batches[s]!;
      const res = layer.computeGradients({ queries, labels, rng: Rng.fromSeed(50 + s) });
      layer.applyGradients(res.gradClasses);
      touched.push(res.gradClasses.ids.length);
      // the reference: the same gradient spread over all n rows, zeros elsewhere
      const rows = new Float32Array(N * D);
      const bias = new Float32Array(N);
      res.gradClasses.ids.forEach((id, k) => {
        rows.set(res.gradClasses.rows.subarray(k * D, (k + 1) * D), id * D);
        bias[id] = res.gradClasses.bias![k]!;
      });
      refOpt.step(refTable, { ids: Int32Array.from({ length: N }, (_, i) => i), rows, bias });
    }
    return { table, refTable, touched };
  };
  const adam = run(true, 'adam');
  assert.ok(adam.touched.every((t) => t < N / 2), 'each step samples a small part of the table');
  assert.deepEqual(adam.table.weights, adam.refTable.weights);
  assert.deepEqual(adam.table.bias, adam.refTable.bias);
  // with Adam, rows sampled at step 1 keep moving afterwards: the lazy update differs
  const lazy = run(false, 'adam');
  assert.notDeepEqual(lazy.table.weights, adam.table.weights);
  // SGD leaves zero-gradient rows alone: dense and sparse updates agree exactly
  assert.deepEqual(run(true, 'sgd').table.weights, run(false, 'sgd').table.weights);
  const layer = new OutputLayer({ table: ClassTable.init(N, D, Rng.fromSeed(7)), sampler: createSampler('uniform', { n: N }), optimizer: createOptimizer('adam'), negatives: 4, denseUpdates: true });
  assert.throws(() => layer.applyGradients({ ids: Int32Array.of(3, 2), rows: new Float32Array(2 * D), bias: null }), ShapeError);
});

test('OutputLayer learns a planted synthetic problem (full-softmax NLL and P@1 on held-out queries)', () => {
  // Chance is NLL = log 300 = 5.70 and P@1 ≈ 0.16 (always the most frequent class). Measured with
  // these seeds after 300 steps: NLL ≈ 0.75 and P@1 ≈ 0.86 for all three samplers (rare Zipf
  // classes are seen only a few times). The bounds fail if the sampled gradient or the sparse
  // update is wrong (a sign error or a wrong row update leaves the NLL near or above chance).
  const p = planted(7);
  const test = p.sample(512, Rng.fromSeed(8));
  for (const sampler of ['exact', 'uniform', 'unigram'] as const) {
    const rng = Rng.fromSeed(9);
    const layer = new OutputLayer({
      table: ClassTable.init(N, D, rng, { bias: true, scale: 0.01 }),
      sampler: createSampler(sampler, sampler === 'unigram' ? { counts: p.counts } : {}),
      optimizer: createOptimizer('adagrad', { lr: 0.5 }),
      negatives: 20,
    });
    const before = layer.evaluate(test.queries, test.labels, { ks: [1] });
    const data = Rng.fromSeed(10);
    for (let s = 0; s < 300; s++) layer.step({ ...p.sample(64, data), rng });
    const after = layer.evaluate(test.queries, test.labels, { ks: [1] });
    console.log(`# ${sampler}: NLL ${before.nll.toFixed(3)} -> ${after.nll.toFixed(3)}, P@1 ${before.precision[1]!.toFixed(3)} -> ${after.precision[1]!.toFixed(3)}`);
    assert.ok(before.nll > 5, `${sampler}: initial NLL ${before.nll}`);
    assert.ok(after.nll < 1, `${sampler}: NLL after training ${after.nll}`);
    assert.ok(after.precision[1]! > 0.8, `${sampler}: P@1 after training ${after.precision[1]}`);
    assert.ok(Math.abs(layer.fullLoss(test.queries, test.labels) - after.nll) < 1e-4, 'fullLoss agrees with the evaluator');
  }
});

test('OutputLayer validates its options', () => {
  const rng = Rng.fromSeed(1);
  const table = ClassTable.init(10, 4, rng);
  const base = { table, optimizer: createOptimizer('sgd', { lr: 0.1 }) };
  assert.throws(() => new OutputLayer({ ...base, sampler: createSampler('uniform', {}), negatives: 0 }), OptionError);
  assert.throws(() => new OutputLayer({ ...base, sampler: createSampler('uniform', {}), negatives: 11 }), OptionError);
  assert.throws(() => new OutputLayer({ ...base, sampler: createSampler('exact', {}), negatives: 3, shared: true }), OptionError);
  assert.throws(() => new OutputLayer({ ...base, sampler: createSampler('uniform', {}), negatives: 3, convention: 'both' as never }), OptionError);
  assert.throws(() => new OutputLayer({ ...base, sampler: createSampler('uniform', { n: 9 }), negatives: 3 }), ShapeError);
  assert.throws(() => new OutputLayer({ ...base, sampler: createSampler('uniform', {}), negatives: 3, lr: 1 } as never), OptionError);
});

test('OutputLayer trains with the adaptive samplers, keeps them in sync with the table and rebuilds per policy', () => {
  // Same planted problem and budget as above; the adaptive proposals report exact log q, so the
  // layer must reach the same quality (measured: NLL ≈ 0.7–0.8, P@1 ≈ 0.86 for all three).
  const p = planted(7);
  const test = p.sample(512, Rng.fromSeed(8));
  const probe = p.sample(4, Rng.fromSeed(11)).queries;
  const all = { ids: Int32Array.from({ length: 4 * N }, (_, i) => i % N), offsets: Int32Array.from({ length: 5 }, (_, r) => r * N) };
  for (const name of ['quadratic', 'rff', 'midx'] as const) {
    const rng = Rng.fromSeed(9);
    const layer = new OutputLayer({
      table: ClassTable.init(N, D, rng, { bias: true, scale: 0.01 }),
      sampler: createSampler(name, name === 'midx' ? { codewords: 8 } : name === 'quadratic' ? { method: 'tree' } : {}),
      optimizer: createOptimizer('adagrad', { lr: 0.5 }),
      negatives: 20,
      stepUpdates: true,
    });
    const data = Rng.fromSeed(10);
    for (let s = 0; s < 300; s++) layer.step({ ...p.sample(64, data), rng });
    const after = layer.evaluate(test.queries, test.labels, { ks: [1] });
    console.log(`# ${name}: NLL ${after.nll.toFixed(3)}, P@1 ${after.precision[1]!.toFixed(3)}`);
    assert.ok(after.nll < 1, `${name}: NLL after training ${after.nll}`);
    assert.ok(after.precision[1]! > 0.8, `${name}: P@1 after training ${after.precision[1]}`);
    // after 300 incremental updates the proposal equals one built on the trained table
    const got = layer.sampler.logQ(probe, all);
    let fresh: Float64Array | null = null;
    if (name === 'quadratic') {
      const q = createSampler('quadratic', { method: 'tree' });
      q.build(layer.table);
      fresh = q.logQ(probe, all);
    } else if (name === 'midx') {
      const m = layer.sampler as MidxSampler;
      const q = new MidxSampler({ codewords: 8 });
      q.buildWithCodebooks(layer.table, m.codebooks()!);
      fresh = q.logQ(probe, all);
    }
    if (fresh) for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i]! - fresh[i]!) < 1e-6, `${name}: id ${i % N}`);
    assert.equal(layer.endEpoch(), true);
  }
  const off = new OutputLayer({
    table: ClassTable.init(N, D, Rng.fromSeed(1)),
    sampler: createSampler('midx', { codewords: 4 }),
    optimizer: createOptimizer('sgd', { lr: 0.1 }),
    negatives: 5,
    rebuildPerEpoch: false,
  });
  assert.equal(off.endEpoch(), false);
});

test("stepUpdates 'auto' (the default) decides at the first step: rebuilds every 100 steps when a step touches n/100 rows or more, else per-step updates", () => {
  const p = planted(7);
  /** A midx layer of n classes with counted updates and builds, after `steps` steps of `rows` queries. */
  const run = (n: number, rows: number, steps: number, extra: { rebuildEvery?: number; denseUpdates?: boolean } = {}) => {
    const sampler = createSampler('midx', { codewords: 4 });
    const count = { updates: 0, builds: 0, touched: 0 };
    const update = sampler.update.bind(sampler);
    const build = sampler.build.bind(sampler);
    sampler.update = (ids) => {
      count.updates++;
      update(ids);
    };
    sampler.build = (t) => {
      count.builds++;
      build(t);
    };
    const layer = new OutputLayer({
      table: ClassTable.init(n, D, Rng.fromSeed(1), { bias: true, scale: 0.01 }),
      sampler, optimizer: createOptimizer('adam', { lr: 0.01 }), negatives: 5, ...extra,
    });
    assert.equal(layer.stepUpdates, 'auto', 'undecided before the first step');
    const rng = Rng.fromSeed(2);
    const data = Rng.fromSeed(3);
    for (let s = 0; s < steps; s++) {
      const b = p.sample(rows, data);
      const labels = { ids: b.labels.ids.map((y) => y % n), offsets: b.labels.offsets };
      const r = layer.step({ queries: b.queries, labels, rng });
      if (s === 0) count.touched = r.touchedRows;
    }
    return { layer, ...count };
  };
  // 300 classes: one step of 8 queries touches far more than 3 rows
  const big = run(N, 8, 201);
  assert.ok(big.touched * 100 >= N);
  assert.equal(big.layer.stepUpdates, false);
  assert.equal(big.layer.rebuildEvery, 100);
  assert.equal(big.updates, 0);
  assert.equal(big.builds, 1 + 2, 'built at construction, then at steps 100 and 200');
  // 50,000 classes: one query with 5 negatives touches at most 6 rows, 6 · 100 < 50,000
  const small = run(50_000, 1, 3);
  assert.ok(small.touched * 100 < 50_000);
  assert.equal(small.layer.stepUpdates, true);
  assert.equal(small.layer.rebuildEvery, 0);
  assert.equal(small.updates, 3);
  assert.equal(small.builds, 1);
  // a given rebuild period is the one the rule uses: 6 · 10,000 ≥ 50,000
  const given = run(50_000, 1, 3, { rebuildEvery: 10_000 });
  assert.equal(given.layer.stepUpdates, false);
  assert.equal(given.layer.rebuildEvery, 10_000);
  assert.equal(given.updates, 0);
  // rebuildEvery: 0 (never) keeps the updates; denseUpdates changes every row: rebuilds
  assert.equal(run(N, 8, 2, { rebuildEvery: 0 }).layer.stepUpdates, true);
  const dense = run(50_000, 1, 2, { denseUpdates: true });
  assert.equal(dense.layer.stepUpdates, false);
  assert.equal(dense.layer.rebuildEvery, 100);
  // a static sampler has nothing to update
  const uniform = new OutputLayer({
    table: ClassTable.init(N, D, Rng.fromSeed(1)), sampler: createSampler('uniform', {}), optimizer: createOptimizer('sgd', { lr: 0.1 }), negatives: 5,
  });
  assert.equal(uniform.stepUpdates, false);
  assert.throws(() => new OutputLayer({ table: ClassTable.init(N, D, Rng.fromSeed(1)), sampler: createSampler('midx', { codewords: 4 }), optimizer: createOptimizer('sgd', { lr: 0.1 }), negatives: 5, stepUpdates: 'yes' as never }), OptionError);
});

test('OutputLayer with stepUpdates: false refreshes an adaptive sampler only by its rebuilds, and still learns', () => {
  // Same planted problem; midx rebuilt every 50 steps with no per-step updates. Its draws carry
  // the log q of the (stale) proposal actually used, so the loss stays a correct sampled softmax.
  const p = planted(7);
  const test = p.sample(512, Rng.fromSeed(8));
  const rng = Rng.fromSeed(9);
  const sampler = createSampler('midx', { codewords: 8 });
  let updates = 0;
  let builds = 0;
  const update = sampler.update.bind(sampler);
  const build = sampler.build.bind(sampler);
  sampler.update = (ids) => {
    updates++;
    update(ids);
  };
  sampler.build = (t) => {
    builds++;
    build(t);
  };
  const layer = new OutputLayer({
    table: ClassTable.init(N, D, rng, { bias: true, scale: 0.01 }),
    sampler,
    optimizer: createOptimizer('adagrad', { lr: 0.5 }),
    negatives: 20,
    rebuildEvery: 50,
    stepUpdates: false,
  });
  assert.equal(builds, 1);
  const data = Rng.fromSeed(10);
  for (let s = 0; s < 300; s++) layer.step({ ...p.sample(64, data), rng });
  assert.equal(updates, 0);
  assert.equal(builds, 1 + 300 / 50);
  const after = layer.evaluate(test.queries, test.labels, { ks: [1] });
  assert.ok(after.nll < 1, `NLL after training ${after.nll}`);
  assert.ok(after.precision[1]! > 0.8, `P@1 after training ${after.precision[1]}`);
});
