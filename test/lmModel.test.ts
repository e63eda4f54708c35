import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClassTable } from '../src/core/classTable.js';
import { Rng } from '../src/core/rng.js';
import { OutputLayer } from '../src/layer/outputLayer.js';
import { Adam } from '../src/layer/optimizers.js';
import { LstmLm, timeMajor } from '../src/apps/lm/model.js';
import { evaluatePerplexity, trainEpoch } from '../src/apps/lm/trainer.js';
import '../src/samplers/index.js';
import { createSampler } from '../src/samplers/factory.js';
import { TfOutputHead, registerSamplexKernels } from '../src/tfjs/index.js';
import { tf, useBackend } from './util/tfjs.js';

/**
 * A first-order Markov stream over V tokens: each token is followed by one of two fixed
 * successors with probability 0.45 each, otherwise by a uniform token. The best achievable
 * perplexity is about 3.5; a uniform model's is V.
 */
function markovStream(V: number, len: number, rng: Rng): Int32Array {
  const next = Array.from({ length: V }, () => [rng.int(V), rng.int(V)] as const);
  const s = new Int32Array(len);
  for (let i = 1; i < len; i++) {
    const u = rng.float();
    const p = s[i - 1]!;
    s[i] = u < 0.45 ? next[p]![0] : u < 0.9 ? next[p]![1] : rng.int(V);
  }
  return s;
}

test('timeMajor reorders a batch-major BPTT batch', () => {
  const b = { index: 0, offset: 0, batch: 2, steps: 3, inputs: Int32Array.from([1, 2, 3, 4, 5, 6]), targets: Int32Array.from([2, 3, 9, 5, 6, 9]) };
  const tm = timeMajor(b);
  assert.deepEqual(Array.from(tm.inputs), [1, 4, 2, 5, 3, 6]);
  assert.deepEqual(Array.from(tm.targets), [2, 5, 3, 6, 9, 9]);
});

const V = 30;
// cpu: stock tfjs kernels, one layer (the cpu backend's per-op cost makes two layers slow
// here); wasm: the default two layers, tied, with samplex's kernels registered.
for (const [backend, tied, layers, epochs] of [['cpu', false, 1, 2], ['wasm', true, 2, 3]] as const) {
  test(`a tiny LSTM LM learns a Markov stream (${backend}, ${layers} layer(s), ${tied ? 'tied' : 'untied'} embeddings)`, async (t) => {
    const why = await useBackend(backend);
    if (why) return t.skip(`${backend} backend unavailable: ${why}`);
    // stock tfjs-wasm cannot differentiate an embedding lookup (no UnsortedSegmentSum)
    const reg = backend === 'wasm' ? await registerSamplexKernels(tf) : null;
    const rng = Rng.fromSeed(31, tied ? 1 : 0);
    const data = markovStream(V, 5000, rng);
    const train = data.subarray(0, 4000);
    const valid = data.subarray(4000);
    const d = 24;
    const table = ClassTable.init(V, d, rng, { init: 'uniform', scale: 0.1, bias: true });
    const layer = new OutputLayer({ table, sampler: createSampler('uniform', { n: V }), optimizer: new Adam({ lr: 0.02 }), negatives: 10 });
    const head = new TfOutputHead(tf, layer);
    const model = new LstmLm(tf, head, rng, { tied, layers, lr: 0.02, dropout: 0.1 });
    try {
      const before = evaluatePerplexity(model, valid, { batchSize: 5, seqLen: 10 });
      assert.ok(Math.abs(before.perplexity - V) < 0.2 * V, `starts near uniform: ${before.perplexity}`);
      for (let e = 0; e < epochs; e++) trainEpoch(model, train, rng, { batchSize: 10, seqLen: 10 });
      const after = evaluatePerplexity(model, valid, { batchSize: 5, seqLen: 10 });
      t.diagnostic(`valid perplexity ${before.perplexity.toFixed(2)} -> ${after.perplexity.toFixed(2)} (uniform ${V}, best ≈ 3.5)`);
      assert.ok(after.perplexity < 10, `perplexity ${after.perplexity} should fall well below uniform (${V})`);
      assert.equal(after.tokens, 5 * Math.floor((1000 / 5) - 1));
    } finally {
      model.dispose();
      head.dispose();
      await reg?.unregister();
    }
  });
}
