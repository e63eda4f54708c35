/**
 * Library code on the installed WebAssembly kernels gives the results it gives on the TS
 * kernels: the streaming evaluator, the full-softmax loss and the sampled loss.
 *
 * Tolerances: the wasm kernels accumulate dot products in float32, the TS ones in float64, so
 * each logit differs by at most `(d + 2)·2⁻²⁴·Σ|h_k c_k|` (see test/util/kernelCheck.ts); with
 * the data below (|h_k|, |c_k| <= 1, d = 24) that is below 1.6e-6·24 ≈ 4e-5 per logit. Losses and
 * log-sum-exps are 1-Lipschitz in the max norm of the logits, so 5e-5 bounds their difference.
 * Gradients are sums over classes of `p_j·c_j` in float32 (a few hundred terms): their
 * difference is checked in norm at 1e-4 relative, about ten times the float32 rounding level of
 * such sums plus the probability perturbation `|Δp_j| <= 2·p_j·max|Δo|`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/core/rng.js';
import { ClassTable } from '../src/core/classTable.js';
import { matrix, multiLabels, singleLabels } from '../src/core/matrix.js';
import { evaluate } from '../src/layer/evaluator.js';
import { fullSoftmaxLoss } from '../src/loss/full.js';
import { sampledSoftmaxLoss } from '../src/loss/sampled.js';
import { createSampler } from '../src/samplers/factory.js';
import '../src/samplers/index.js';
import { kernels, tsKernels, useKernels } from '../src/kernels/index.js';
import { detectFeatures, initFastKernels, tableInKernelMemory } from '../src/kernels/fast.js';
import { dot64 } from './util/kernelCheck.js';

const features = await detectFeatures(false);

function relNormDiff(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-300));
}

test('evaluator and losses agree on TS and wasm kernels', { skip: !(features.simd && features.sharedMemory) && 'no WebAssembly SIMD' }, async () => {
  const rng = Rng.fromSeed(77);
  const [B, n, d] = [37, 1500, 24];
  const table = ClassTable.init(n, d, rng, { bias: true });
  for (let e = 0; e < table.weights.length; e++) table.weights[e] = 2 * rng.float() - 1;
  const q = matrix(B, d);
  for (let e = 0; e < q.data.length; e++) q.data[e] = 2 * rng.float() - 1;
  const labels = singleLabels(Array.from({ length: B }, () => rng.int(n)));
  const drawRng = Rng.fromSeed(78);
  const sampler = createSampler('uniform', {});
  sampler.build(table);
  const draws = sampler.sample({ queries: q, m: 40, rng: drawRng, exclude: labels });

  // Per-row exclusions (the blocked path) next to the fused path (no exclusions).
  const exclude = multiLabels(Array.from({ length: B }, (_, i) => [i, (7 * i + 3) % n, (11 * i + 5) % n]));
  const run = () => ({
    ev: evaluate(q, table, { k: 5 }),
    evLab: evaluate(q, table, { k: 5, labels }),
    evEx: evaluate(q, table, { k: 5, labels, exclude }),
    full: fullSoftmaxLoss({ queries: q, table, labels }),
    sampled: sampledSoftmaxLoss({ queries: q, table, labels, draws, convention: 'exclusive' }),
  });
  // the TS reference, chosen explicitly (the default kernels are the WebAssembly ones in Node)
  const before = useKernels(tsKernels);
  let ts: ReturnType<typeof run>;
  let wa: ReturnType<typeof run>;
  try {
    assert.equal(kernels.name, 'ts');
    ts = run();
    const fk = await initFastKernels({ path: 'simd', threads: 0 });
    try {
      assert.equal(kernels.name, 'wasm-simd');
      wa = run();
    } finally {
      await fk.close();
    }
  } finally {
    useKernels(before);
  }
  assert.equal(kernels.name, before.name, 'the kernels from before are back');

  const tol = 5e-5;
  for (let i = 0; i < B; i++) {
    assert.ok(Math.abs(wa.ev.lse[i]! - ts.ev.lse[i]!) <= tol, `lse row ${i}`);
    for (let r = 0; r < 5; r++) {
      // the r-th best score moves by at most the logit error; the returned id's exact logit is that score
      const e = i * 5 + r;
      assert.ok(Math.abs(wa.ev.topScores[e]! - ts.ev.topScores[e]!) <= tol, `top score row ${i} rank ${r}`);
      const id = wa.ev.topIds[e]!;
      const exact = dot64(q.data, i * d, table.weights, id * d, d) + table.bias![id]!;
      assert.ok(Math.abs(exact - wa.ev.topScores[e]!) <= tol, `top id ${id} row ${i} rank ${r}`);
    }
  }
  for (const key of ['evLab', 'evEx'] as const) {
    for (let e = 0; e < B; e++) {
      assert.ok(Math.abs(wa[key].labelLogProb![e]! - ts[key].labelLogProb![e]!) <= tol, `${key} labelLogProb ${e}`);
      assert.ok(Math.abs(wa[key].lse[e]! - wa.ev.lse[e]!) <= 1e-6, `${key} lse ${e} equals the plain evaluation`);
    }
  }
  for (let i = 0; i < B; i++) {
    for (let r = 0; r < 5; r++) {
      const e = i * 5 + r;
      const id = wa.evEx.topIds[e]!;
      assert.ok(![i, (7 * i + 3) % n, (11 * i + 5) % n].includes(id), `row ${i}: excluded id ${id} ranked`);
      assert.ok(Math.abs(wa.evEx.topScores[e]! - ts.evEx.topScores[e]!) <= tol, `excluded top score row ${i} rank ${r}`);
    }
  }
  assert.ok(Math.abs(wa.full.loss - ts.full.loss) <= tol, `full loss ${wa.full.loss} vs ${ts.full.loss}`);
  assert.ok(Math.abs(wa.sampled.loss - ts.sampled.loss) <= tol, `sampled loss ${wa.sampled.loss} vs ${ts.sampled.loss}`);
  for (const key of ['full', 'sampled'] as const) {
    assert.ok(relNormDiff(wa[key].gradQueries, ts[key].gradQueries) <= 1e-4, `${key} gradQueries`);
    assert.deepEqual(wa[key].gradClasses.ids, ts[key].gradClasses.ids);
    assert.ok(relNormDiff(wa[key].gradClasses.rows, ts[key].gradClasses.rows) <= 1e-4, `${key} gradClasses`);
  }
});

test('tableInKernelMemory: same values, same losses, and the kernels read it in place', { skip: !(features.simd && features.sharedMemory) && 'no WebAssembly SIMD' }, async () => {
  const rng = Rng.fromSeed(91);
  const [B, n, d] = [16, 700, 20];
  const table = ClassTable.init(n, d, rng, { bias: true });
  rng.fillNormal(table.bias!);
  const q = matrix(B, d);
  rng.fillNormal(q.data);
  const labels = singleLabels(Array.from({ length: B }, () => rng.int(n)));
  const sampler = createSampler('uniform', {});
  sampler.build(table);
  const draws = sampler.sample({ queries: q, m: 30, rng: Rng.fromSeed(92), exclude: labels });
  const fk = await initFastKernels({ path: 'simd', threads: 0 });
  try {
    const t2 = tableInKernelMemory(fk, table);
    assert.notEqual(t2.weights, table.weights);
    assert.ok(fk.arena!.owns(t2.weights), 'weights live in wasm memory');
    assert.deepEqual(t2.weights, table.weights);
    assert.deepEqual(t2.bias, table.bias);
    const a = sampledSoftmaxLoss({ queries: q, table, labels, draws, convention: 'exclusive' });
    const b = sampledSoftmaxLoss({ queries: q, table: t2, labels, draws, convention: 'exclusive' });
    assert.equal(b.loss, a.loss);
    assert.deepEqual(b.gradQueries, a.gradQueries);
    assert.deepEqual(b.gradClasses, a.gradClasses);
  } finally {
    await fk.close();
  }
  const ts = await initFastKernels({ path: 'ts' });
  try {
    assert.equal(tableInKernelMemory(ts, table), table);
  } finally {
    await ts.close();
  }
});
