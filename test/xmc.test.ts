import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ClassTable } from '../src/core/classTable.js';
import { NonFiniteError, OptionError, ShapeError } from '../src/core/errors.js';
import { Rng } from '../src/core/rng.js';
import { checkInputs, SparseEncoder } from '../src/apps/xmc/encoder.js';
import { bigramBucket, Featurizer } from '../src/apps/xmc/features.js';
import { resolveXmcConfig, XmcTrainer, type XmcConfig } from '../src/apps/xmc/trainer.js';
import type { SparseRows } from '../src/data/sparse.js';
import { initFastKernels } from '../src/kernels/fast.js';
import '../src/samplers/index.js';
import { syntheticXmc } from './util/xmcSynthetic.js';

/** Float64 forward of the encoder from its float32 parameters (the test's reference). */
function forward64(x: SparseRows, rows: Int32Array, E: Float64Array, d: number, W: Float64Array | null, b: Float64Array | null): Float64Array {
  const B = rows.length;
  const h = new Float64Array(B * d);
  for (let i = 0; i < B; i++) {
    const e = new Float64Array(d);
    const r = rows[i]!;
    for (let k = x.offsets[r]!; k < x.offsets[r + 1]!; k++) for (let t = 0; t < d; t++) e[t] += x.values[k]! * E[x.indices[k]! * d + t]!;
    for (let u = 0; u < d; u++) {
      if (W === null) h[i * d + u] = e[u]!;
      else {
        let z = b![u]!;
        for (let t = 0; t < d; t++) z += W[u * d + t]! * e[t]!;
        h[i * d + u] = z > 0 ? z : 0;
      }
    }
  }
  return h;
}

/** L(h) = Σ G·h + ½ Σ h², so dL/dh = G + h. */
function loss64(h: Float64Array, G: Float64Array): number {
  let s = 0;
  for (let i = 0; i < h.length; i++) s += G[i]! * h[i]! + 0.5 * h[i]! * h[i]!;
  return s;
}

const tinyRows: SparseRows = {
  indices: Int32Array.from([0, 2, 5, 1, 2, 3, 4, 6]),
  values: Float32Array.from([0.5, -0.7, 0.3, 0.9, 0.2, -0.4, 0.6, 0.1]),
  offsets: Int32Array.from([0, 3, 6, 8]),
};

for (const hidden of [false, true]) {
  test(`encoder gradients match float64 finite differences (hidden=${hidden})`, () => {
    const d = 5;
    const enc = SparseEncoder.create({ inputs: 8, dim: d, hidden, rng: Rng.fromSeed(3) });
    if (enc.layer) for (let t = 0; t < d; t++) enc.layer.bias![t] = 0.3; // keep pre-activations away from the kink
    const rows = Int32Array.from([0, 2, 1]);
    const pass = enc.forward(tinyRows, rows);
    const E = Float64Array.from(enc.embedding.weights);
    const W = enc.layer ? Float64Array.from(enc.layer.weights) : null;
    const b = enc.layer ? Float64Array.from(enc.layer.bias!) : null;
    const h = forward64(tinyRows, rows, E, d, W, b);
    for (let i = 0; i < h.length; i++) assert.ok(Math.abs(h[i]! - pass.queries.data[i]!) < 1e-5, 'forward matches the float64 reference');
    const rng = Rng.fromSeed(4);
    const G = Float64Array.from({ length: h.length }, () => rng.normal());
    const gq = Float32Array.from(h, (v, i) => G[i]! + v);
    const g = enc.backward(tinyRows, pass, gq);
    // Inputs present in the batch: 0..6 (7 never occurs).
    assert.deepEqual([...g.embedding.ids], [0, 1, 2, 3, 4, 5, 6]);
    const eps = 1e-6;
    const fd = (arr: Float64Array, idx: number): number => {
      const v = arr[idx]!;
      arr[idx] = v + eps;
      const lp = loss64(forward64(tinyRows, rows, E, d, W, b), G);
      arr[idx] = v - eps;
      const lm = loss64(forward64(tinyRows, rows, E, d, W, b), G);
      arr[idx] = v;
      return (lp - lm) / (2 * eps);
    };
    g.embedding.ids.forEach((j, c) => {
      for (let t = 0; t < d; t++) {
        const want = fd(E, j * d + t);
        assert.ok(Math.abs(g.embedding.rows[c * d + t]! - want) < 1e-4 * (1 + Math.abs(want)), `dE[${j},${t}] ${g.embedding.rows[c * d + t]} vs ${want}`);
      }
    });
    if (W && b && g.layer) {
      for (let i = 0; i < d * d; i++) {
        const want = fd(W, i);
        assert.ok(Math.abs(g.layer.rows[i]! - want) < 1e-4 * (1 + Math.abs(want)), `dW[${i}]`);
      }
      for (let u = 0; u < d; u++) {
        const want = fd(b, u);
        assert.ok(Math.abs(g.layer.bias![u]! - want) < 1e-4 * (1 + Math.abs(want)), `db[${u}]`);
      }
    }
  });
}

test('checkInputs rejects indices outside the input space and non-finite values', () => {
  assert.throws(() => checkInputs(tinyRows, 5), ShapeError);
  const bad = { ...tinyRows, values: Float32Array.from([0.5, NaN, 0.3, 0.9, 0.2, -0.4, 0.6, 0.1]) };
  assert.throws(() => checkInputs(bad, 8), NonFiniteError);
  assert.throws(() => new SparseEncoder(ClassTable.init(8, 4, Rng.fromSeed(1)), ClassTable.init(4, 4, Rng.fromSeed(1))), ShapeError);
});

test('featurizer: tf-idf rows have unit norm, rare words weigh more, bigrams hash into extra inputs', () => {
  const { train } = syntheticXmc({ train: 200, test: 10 });
  const f = Featurizer.fit(train, { bigrams: 64 });
  assert.equal(f.inputs, train.numFeatures + 64);
  const x = f.transform(train);
  for (let r = 0; r < 20; r++) {
    let ss = 0;
    let hasBigram = false;
    for (let k = x.offsets[r]!; k < x.offsets[r + 1]!; k++) {
      ss += x.values[k]! ** 2;
      if (x.indices[k]! >= train.numFeatures) hasBigram = true;
      if (k > x.offsets[r]!) assert.ok(x.indices[k]! > x.indices[k - 1]!, 'indices ascending');
    }
    assert.ok(Math.abs(ss - 1) < 1e-5, `row ${r} norm² ${ss}`);
    assert.ok(hasBigram, 'rows with two or more tokens get bigram inputs');
    // transformTokens of the row's sequence gives the same row.
    const seq = train.sequences!;
    const one = f.transformTokens(seq.ids.subarray(seq.offsets[r]!, seq.offsets[r + 1]!));
    assert.deepEqual([...one.indices], [...x.indices.subarray(x.offsets[r]!, x.offsets[r + 1]!)]);
    one.values.forEach((v, i) => assert.ok(Math.abs(v - x.values[x.offsets[r]! + i]!) < 1e-6));
  }
  // idf: a word in fewer rows has a larger idf; unseen words get the largest.
  assert.ok(f.idf[train.numFeatures - 1]! > f.idf[0]!);
  assert.ok(bigramBucket(3, 4, 64) >= 0 && bigramBucket(3, 4, 64) < 64);
  assert.notEqual(bigramBucket(3, 4, 1 << 20), bigramBucket(4, 3, 1 << 20), 'bigrams are ordered');
  assert.throws(() => Featurizer.fit({ ...train, sequences: undefined } as typeof train, { bigrams: 8 }), OptionError);
  const counts = Featurizer.fit(train, { weighting: 'counts' });
  assert.ok(counts.idf.every((v) => v === 1));
});

const base: XmcConfig = { dim: 16, batchSize: 32, lr: 0.05, negatives: 10, seed: 5 };

test('a tiny synthetic problem is learned by the full softmax and by sampled samplers', async () => {
  const split = syntheticXmc();
  for (const sampler of ['full', 'uniform', 'midx']) {
    const t = new XmcTrainer(split, { ...base, sampler, samplerOptions: sampler === 'midx' ? { codewords: 8 } : {} });
    const before = await t.evaluate();
    let first = NaN;
    let last = NaN;
    for (let e = 0; e < 8; e++) {
      const st = t.trainEpoch();
      if (e === 0) first = st.loss;
      last = st.loss;
    }
    const m = await t.evaluate();
    assert.ok(last < first, `${sampler}: training loss falls (${first} → ${last})`);
    assert.ok(m.p1 > 0.85, `${sampler}: P@1 ${m.p1} (before training ${before.p1})`);
    assert.ok(m.ndcg3 > 0.8, `${sampler}: nDCG@3 ${m.ndcg3}`);
    assert.ok(m.p1 >= m.p3 - 1e-12 || m.p3 <= 1, 'metrics in range');
  }
});

test('every registered sampler trains the classifier (counts passed to unigram and logUniform)', async () => {
  const split = syntheticXmc();
  for (const sampler of ['unigram', 'logUniform', 'quadratic', 'rff', 'exact']) {
    const t = new XmcTrainer(split, { ...base, sampler });
    for (let e = 0; e < 4; e++) t.trainEpoch();
    const m = await t.evaluate();
    assert.ok(m.p1 > 0.85, `${sampler}: P@1 ${m.p1}`);
  }
});

test('sparse updates: embedding rows of inputs that never occur in training stay unchanged', () => {
  const split = syntheticXmc({ unused: 10 });
  const t = new XmcTrainer(split, { ...base, sampler: 'uniform', hidden: true });
  const E = t.model.encoder.embedding;
  const before = E.weights.slice();
  const bias = t.model.table.bias!.slice();
  t.trainEpoch();
  const d = E.d;
  const W = split.train.numFeatures;
  for (let j = W - 10; j < W; j++) {
    assert.deepEqual(E.weights.subarray(j * d, (j + 1) * d), before.subarray(j * d, (j + 1) * d), `unused input ${j} untouched`);
  }
  let changed = 0;
  for (let j = 0; j < W - 10; j++) if (E.weights[j * d] !== before[j * d]) changed++;
  assert.ok(changed > 0.9 * (W - 10), 'inputs that occur are updated');
  assert.notDeepEqual(t.model.table.bias, bias);
});

test('resuming from the state after epoch 1 gives exactly the uninterrupted run', async () => {
  const split = syntheticXmc();
  for (const sampler of ['midx', 'full']) {
    const cfg: XmcConfig = { ...base, sampler, hidden: sampler === 'midx', rebuildEvery: 7 };
    const a = new XmcTrainer(split, cfg);
    a.trainEpoch();
    const saved = Object.fromEntries(Object.entries(a.stateTensors()).map(([k, v]) => [k, v.slice()]));
    a.trainEpoch();
    const ma = await a.evaluate();
    const b = new XmcTrainer(split, cfg);
    b.loadState(saved);
    assert.equal(b.epoch, 1);
    b.trainEpoch();
    const mb = await b.evaluate();
    assert.deepEqual(mb, ma, sampler);
    assert.deepEqual(b.model.table.weights, a.model.table.weights);
    assert.throws(() => new XmcTrainer(split, { ...cfg, dim: 8 }).loadState(saved), ShapeError);
  }
});

test('lrDecayEpochs: the rate falls linearly to 0 at the end of that epoch (a later epoch changes nothing), and differs from constant before', () => {
  const split = syntheticXmc();
  for (const sampler of ['midx', 'full']) {
    const t = new XmcTrainer(split, { ...base, sampler, hidden: true, lrDecayEpochs: 1 });
    const c = new XmcTrainer(split, { ...base, sampler, hidden: true });
    t.trainEpoch();
    c.trainEpoch();
    assert.notDeepEqual(t.model.table.weights, c.model.table.weights, `${sampler}: decay changes epoch 1`);
    // the parameters (not the optimizer accumulators, which still take in the gradients)
    const params = (): [string, Float32Array | Int32Array][] => Object.entries(t.stateTensors()).filter(([k, v]) => !k.startsWith('opt.') && v instanceof Float32Array);
    const snap = params().map(([k, v]) => [k, v.slice()] as const);
    assert.ok(snap.length >= 4);
    t.trainEpoch();
    const after = Object.fromEntries(params());
    for (const [k, v] of snap) assert.deepEqual(after[k], v, `${sampler}: ${k} unchanged at rate 0`);
  }
  assert.throws(() => new XmcTrainer(split, { ...base, lrDecayEpochs: -1 }), OptionError);
});

test('the evaluation split across 2 worker threads equals the single-threaded one', async () => {
  const split = syntheticXmc({ test: 400 });
  const fast = await initFastKernels({ threads: 2 });
  try {
    const t = new XmcTrainer(split, { ...base, sampler: 'uniform' });
    t.trainEpoch();
    const one = await t.evaluate(); // no pool: the synchronous kernels on this thread
    const t2 = new XmcTrainer(split, { ...base, sampler: 'uniform' }, { pool: fast.pool });
    t2.loadState(t.stateTensors());
    const pooled = await t2.evaluate();
    assert.deepEqual(
      [pooled.p1, pooled.p3, pooled.p5, pooled.ndcg1, pooled.ndcg3, pooled.ndcg5, pooled.rows],
      [one.p1, one.p3, one.p5, one.ndcg1, one.ndcg3, one.ndcg5, one.rows],
    );
    assert.ok(Math.abs(pooled.nll - one.nll) < 1e-9);
  } finally {
    await fast.close();
  }
});

test('bad configurations raise OptionError', () => {
  assert.throws(() => resolveXmcConfig({ sampler: 'nope' }), (e: unknown) => e instanceof OptionError && /unknown sampler 'nope'/.test(e.message));
  assert.throws(() => resolveXmcConfig({ negatives: 0 }), OptionError);
  assert.throws(() => resolveXmcConfig({ lr: -1 }), OptionError);
  assert.throws(() => resolveXmcConfig({ typo: 1 } as XmcConfig), OptionError);
  assert.throws(() => new XmcTrainer(syntheticXmc({ labels: 5 }), { negatives: 10 }), OptionError);
});
