import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClassTable } from '../src/core/classTable.js';
import { Rng } from '../src/core/rng.js';
import { OutputLayer } from '../src/layer/outputLayer.js';
import { Sgd, Adam } from '../src/layer/optimizers.js';
import '../src/samplers/index.js';
import { createSampler } from '../src/samplers/factory.js';
import { TfOutputHead, embeddingRowGrad, mergeRowGrads, registerSamplexKernels } from '../src/tfjs/index.js';
import { tf, useBackend } from './util/tfjs.js';

/** Largest |a−b| / (1 + |b|) over the arrays. */
function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let e = 0;
  for (let i = 0; i < a.length; i++) e = Math.max(e, Math.abs(a[i]! - b[i]!) / (1 + Math.abs(b[i]!)));
  return e;
}

function layerOn(table: ClassTable, sampler = 'uniform', lr = 1, negatives = 3): OutputLayer {
  return new OutputLayer({ table, sampler: createSampler(sampler, { n: table.n }), optimizer: new Sgd({ lr }), negatives });
}

/** Plain tfjs full softmax: mean over rows of logSumExp(h·Wᵀ + b) − logit of the label. */
function tfFullLoss(h: tf.Tensor, W: tf.Tensor, b: tf.Tensor, labels: Int32Array): tf.Scalar {
  const logits = tf.add(tf.matMul(h, W, false, true), b);
  const lse = tf.logSumExp(logits, 1);
  const picked = tf.sum(tf.mul(logits, tf.oneHot(tf.tensor1d(labels, 'int32'), W.shape[0]!)), 1);
  return tf.mean(tf.sub(lse, picked));
}

// Tolerance: float32 forward/backward on O(1) values with n = 7 terms per row; samplex
// accumulates the log-sum-exp in float64 and tfjs in float32, so agreement is at the float32
// rounding level (~1e-7 relative per op); 2e-5 leaves room for a dozen roundings and would
// still catch any wrong factor, sign or missing term (those give errors ≥ 1e-2 here).
const TOL = 2e-5;

for (const backend of ['cpu', 'wasm'] as const) {
  test(`tfjs adapter (${backend}): full-softmax loss and gradients match plain tfjs autodiff`, async (t) => {
    const why = await useBackend(backend);
    if (why) return t.skip(`${backend} backend unavailable: ${why}`);
    const rng = Rng.fromSeed(11, 0);
    const n = 7;
    const d = 5;
    const B = 6;
    const table = ClassTable.init(n, d, rng, { init: 'normal', scale: 0.7, bias: true });
    for (let i = 0; i < n; i++) table.bias![i] = 0.3 * rng.normal();
    const W0 = table.weights.slice();
    const b0 = table.bias!.slice();
    const labels = Int32Array.from({ length: B }, () => rng.int(n));
    const hData = Float32Array.from({ length: B * d }, () => rng.normal());
    const head = new TfOutputHead(tf, layerOn(table), { loss: 'full' });
    const h = tf.tensor2d(hData, [B, d]);
    // scale 3: the upstream gradient dy must scale both dL/dh and the table update
    const { value, grad } = tf.valueAndGrad((x: tf.Tensor) => tf.mul(head.loss(x, labels, { rng }), 3) as tf.Scalar)(h);
    const ref = tf.valueAndGrads((x: tf.Tensor, W: tf.Tensor, b: tf.Tensor) => tf.mul(tfFullLoss(x, W, b, labels), 3) as tf.Scalar);
    const r = ref([h, tf.tensor2d(W0, [n, d]), tf.tensor1d(b0)]);
    assert.ok(maxRelErr(value.dataSync(), r.value.dataSync()) < TOL, 'loss');
    assert.ok(maxRelErr(grad.dataSync(), r.grads[0]!.dataSync()) < TOL, 'dL/dh');
    // SGD with lr 1: the applied update is exactly the table gradient
    const gW = W0.map((w, i) => w - table.weights[i]!);
    const gb = b0.map((w, i) => w - table.bias![i]!);
    assert.ok(maxRelErr(gW, r.grads[1]!.dataSync()) < TOL, 'dL/dW');
    assert.ok(maxRelErr(gb, r.grads[2]!.dataSync()) < TOL, 'dL/db');
    assert.equal(head.lastStep!.touchedIds.length, n);
    assert.equal(head.timing.steps, 1);
    head.dispose();
  });

  test(`tfjs adapter (${backend}): tied embedding gets the summed gradient in one sparse update`, async (t) => {
    const why = await useBackend(backend);
    if (why) return t.skip(`${backend} backend unavailable: ${why}`);
    const rng = Rng.fromSeed(12, 0);
    const n = 9;
    const d = 4;
    const B = 5;
    const table = ClassTable.init(n, d, rng, { init: 'normal', scale: 0.8 });
    const W0 = table.weights.slice();
    const inputs = Int32Array.from([1, 4, 1, 7, 2]);
    const labels = Int32Array.from({ length: B }, () => rng.int(n));
    const A0 = Float32Array.from({ length: d * d }, () => 0.5 * rng.normal());
    const head = new TfOutputHead(tf, layerOn(table), { loss: 'full' });
    const A = tf.variable(tf.tensor2d(A0, [d, d]));
    const res = tf.variableGrads(() => head.loss(tf.tanh(tf.matMul(head.embed(inputs), A)) as tf.Tensor2D, labels, { rng }), [A, head.anchor]);
    // reference: the same model with a plain tfjs table variable read by gather (whose gradient,
    // UnsortedSegmentSum, stock tfjs-wasm lacks)
    const reg = backend === 'wasm' ? await registerSamplexKernels(tf) : null;
    const W = tf.variable(tf.tensor2d(W0, [n, d]));
    const ref = tf.variableGrads(() => {
      const q = tf.tanh(tf.matMul(tf.gather(W, tf.tensor1d(inputs, 'int32')), A));
      return tfFullLoss(q, W, tf.zeros([n]), labels);
    }, [A, W]);
    await reg?.unregister();
    assert.ok(maxRelErr(res.value.dataSync(), ref.value.dataSync()) < TOL, 'loss');
    assert.ok(maxRelErr(res.grads[A.name]!.dataSync(), ref.grads[A.name]!.dataSync()) < TOL, 'dL/dA');
    assert.equal(res.grads[head.anchor.name]!.dataSync()[0], 0);
    const gW = W0.map((w, i) => w - table.weights[i]!);
    assert.ok(maxRelErr(gW, ref.grads[W.name]!.dataSync()) < TOL, 'dL/dW (output + input terms)');
    assert.equal(head.timing.steps, 1, 'one optimizer step for both gradients');
    head.dispose();
    A.dispose();
    W.dispose();
  });
}

test('tfjs adapter: the sampled loss updates only the drawn and label rows, with the layer\'s own gradients', async () => {
  assert.equal(await useBackend('cpu'), null);
  const rng = Rng.fromSeed(13, 0);
  const n = 200;
  const d = 8;
  const B = 4;
  const table = ClassTable.init(n, d, rng, { init: 'normal', bias: true });
  const twin = new ClassTable(n, d, table.weights.slice(), table.bias!.slice());
  const W0 = table.weights.slice();
  const labels = Int32Array.from([3, 50, 3, 199]);
  const hData = Float32Array.from({ length: B * d }, () => rng.normal());
  const head = new TfOutputHead(tf, layerOn(table, 'uniform', 0.5, 5));
  const g = tf.grad((x: tf.Tensor) => head.loss(x, labels, { rng: Rng.fromSeed(99, 1) }))(tf.tensor2d(hData, [B, d]));
  // the same step through the layer directly, with the same draws
  const direct = layerOn(twin, 'uniform', 0.5, 5).step({ queries: { data: hData, rows: B, cols: d }, labels: { ids: labels, offsets: Int32Array.from([0, 1, 2, 3, 4]) }, rng: Rng.fromSeed(99, 1) });
  assert.deepEqual(Array.from(g.dataSync()), Array.from(direct.gradQueries));
  assert.deepEqual(Array.from(table.weights), Array.from(twin.weights));
  const touched = new Set(head.lastStep!.touchedIds);
  assert.equal(touched.size, direct.touchedRows);
  for (const l of labels) assert.ok(touched.has(l), `label ${l} updated`);
  assert.ok(touched.size <= B * 6);
  for (let i = 0; i < n; i++) {
    const changed = W0.subarray(i * d, i * d + d).some((w, k) => w !== table.weights[i * d + k]);
    if (!touched.has(i)) assert.ok(!changed, `row ${i} was not drawn but changed`);
  }
  head.dispose();
});

test('tfjs adapter: sparse gradient helpers', () => {
  const d = 2;
  const g = embeddingRowGrad(Int32Array.from([5, 2, 5]), Float32Array.from([1, 2, 3, 4, 5, 6]), d, true);
  assert.deepEqual(Array.from(g.ids), [2, 5]);
  assert.deepEqual(Array.from(g.rows), [3, 4, 6, 8]);
  assert.deepEqual(Array.from(g.bias!), [0, 0]);
  const m = mergeRowGrads(g, { ids: Int32Array.from([1, 5]), rows: Float32Array.from([1, 1, 10, 10]), bias: Float32Array.from([7, 8]) }, d);
  assert.deepEqual(Array.from(m.ids), [1, 2, 5]);
  assert.deepEqual(Array.from(m.rows), [1, 1, 3, 4, 16, 18]);
  assert.deepEqual(Array.from(m.bias!), [7, 0, 8]);
});

test('tfjs adapter: bad inputs raise typed errors', async () => {
  assert.equal(await useBackend('cpu'), null);
  const rng = Rng.fromSeed(14, 0);
  const table = ClassTable.init(10, 3, rng);
  const head = new TfOutputHead(tf, layerOn(table));
  assert.throws(() => head.loss(tf.zeros([2, 4]), Int32Array.from([0, 1]), { rng }), { code: 'E_SHAPE' });
  assert.throws(() => head.loss(tf.zeros([2, 3]), Int32Array.from([0, 10]), { rng }), { code: 'E_LABEL_RANGE' });
  assert.throws(() => head.embed(Int32Array.from([0, 1, 2]), [2, 2]), { code: 'E_SHAPE' });
  assert.throws(() => new TfOutputHead(tf, layerOn(table), { loss: 'nope' as 'full' }), { code: 'E_OPTION' });
  head.dispose();
});

for (const backend of ['cpu', 'wasm'] as const) {
  test(`tfjs adapter (${backend}): a tiny model with a sampled head learns`, async (t) => {
    const why = await useBackend(backend);
    if (why) return t.skip(`${backend} backend unavailable: ${why}`);
    // stock tfjs-wasm lacks UnsortedSegmentSum (the gradient of gather): register samplex's
    const reg = backend === 'wasm' ? await registerSamplexKernels(tf) : null;
    // Classes 0..n−1; the input token x predicts class (3x + 1) mod n through an embedding
    // (a tfjs variable read by gather: its gradient needs UnsortedSegmentSum) and a dense layer.
    const rng = Rng.fromSeed(15, 0);
    const n = 40;
    const d = 16;
    const table = ClassTable.init(n, d, rng, { init: 'normal', scale: 0.1 });
    const layer = new OutputLayer({ table, sampler: createSampler('uniform', { n }), optimizer: new Adam({ lr: 0.05 }), negatives: 8 });
    const head = new TfOutputHead(tf, layer);
    const emb = tf.variable(tf.tensor2d(Float32Array.from({ length: n * d }, () => 0.1 * rng.normal()), [n, d]));
    const dense = tf.variable(tf.tensor2d(Float32Array.from({ length: d * d }, () => rng.normal() / Math.sqrt(d)), [d, d]));
    const opt = tf.train.adam(0.05);
    const B = 32;
    const batch = () => {
      const x = Int32Array.from({ length: B }, () => rng.int(n));
      return { x, y: x.map((v) => (3 * v + 1) % n) };
    };
    const query = (x: Int32Array) => tf.tanh(tf.matMul(tf.gather(emb, tf.tensor1d(x, 'int32')), dense)) as tf.Tensor2D;
    const fullNll = () => {
      const x = Int32Array.from({ length: n }, (_, i) => i);
      const q = tf.tidy(() => query(x));
      const nll = layer.fullLoss({ data: q.dataSync() as Float32Array, rows: n, cols: d }, { ids: x.map((v) => (3 * v + 1) % n), offsets: Int32Array.from({ length: n + 1 }, (_, i) => i) });
      q.dispose();
      return nll;
    };
    const before = fullNll();
    for (let s = 0; s < 150; s++) {
      const { x, y } = batch();
      tf.tidy(() => {
        opt.minimize(() => head.loss(query(x), y, { rng }), false, [emb, dense, head.anchor]);
      });
    }
    const after = fullNll();
    assert.ok(before > Math.log(n) - 0.5, `starts near uniform (${before})`);
    assert.ok(after < 0.25 * Math.log(n), `full-softmax NLL ${after} should fall well below log n = ${Math.log(n).toFixed(2)}`);
    head.dispose();
    emb.dispose();
    dense.dispose();
    await reg?.unregister();
  });
}
