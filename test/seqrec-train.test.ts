import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassTable } from '../src/core/classTable.js';
import { Rng } from '../src/core/rng.js';
import { leaveOneOut, type LeaveOneOutSplit } from '../src/data/interactions.js';
import { OutputLayer } from '../src/layer/outputLayer.js';
import { createOptimizer, Sgd } from '../src/layer/optimizers.js';
import '../src/samplers/index.js';
import { createSampler } from '../src/samplers/factory.js';
import { TfOutputHead } from '../src/tfjs/index.js';
import { seqRecHead, type SeqRecHead } from '../src/apps/seqrec/head.js';
import { SasRec } from '../src/apps/seqrec/sasrec.js';
import { SeqRecTrainer, trainingBatch } from '../src/apps/seqrec/trainer.js';
import { runSeqRec, seqRecDataFingerprint } from '../src/apps/seqrec/run.js';
import { PlainTfHead } from './util/tfjsHead.js';
import { tf, useBackend } from './util/tfjs.js';
import { cycleSequences } from './util/seqData.js';
import { StateError } from '../src/core/errors.js';

assert.equal(await useBackend('cpu'), null);

/** Largest |a−b| / (1 + |b|). */
function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let e = 0;
  for (let i = 0; i < a.length; i++) e = Math.max(e, Math.abs(a[i]! - b[i]!) / (1 + Math.abs(b[i]!)));
  return e;
}

test('SASRec through the adapter (tied table, full softmax): loss and every gradient match plain tfjs autodiff', () => {
  const n = 23;
  const d = 8;
  const L = 6;
  const B = 5;
  const split = leaveOneOut(cycleSequences(Rng.fromSeed(4), B, n, 4, 12));
  const batch = trainingBatch(split, [0, 1, 2, 3, 4], L);
  const table0 = ClassTable.init(n, d, Rng.fromSeed(7), { scale: 0.5 });
  const opts = { maxLen: L, blocks: 2, heads: 2, dropout: 0.3 };

  // Reference: the table is a tfjs variable; tfjs differentiates everything.
  const plain = new PlainTfHead(table0);
  const mRef = new SasRec(tf, plain, Rng.fromSeed(5), opts);
  const ref = tf.variableGrads(() => mRef.loss(batch.input, batch.targets, Rng.fromSeed(9)), [...mRef.variables, plain.tableVar]);

  // Adapter: SGD with lr 1 on the table, so the table's change is minus its gradient.
  const table = new ClassTable(n, d, table0.weights.slice());
  const layer = new OutputLayer({ table, sampler: createSampler('uniform', { n }), optimizer: new Sgd({ lr: 1 }), negatives: 1 });
  const tfHead = new TfOutputHead(tf, layer, { loss: 'full' });
  const head = seqRecHead(tfHead);
  const m = new SasRec(tf, head, Rng.fromSeed(5), opts);
  const got = tf.variableGrads(() => m.loss(batch.input, batch.targets, Rng.fromSeed(9)), [...m.variables, ...head.variables]);
  head.flush();

  // float32 on both sides, the adapter's log-sum-exp in float64: agreement at rounding level;
  // a wrong factor, sign or missing term (e.g. the tied lookup's share) gives errors ≥ 1e-2.
  const TOL = 5e-5;
  assert.ok(maxRelErr(got.value.dataSync(), ref.value.dataSync()) < TOL, 'loss');
  const refVars = mRef.variables;
  m.variables.forEach((v, i) => {
    const e = maxRelErr(got.grads[v.name]!.dataSync(), ref.grads[refVars[i]!.name]!.dataSync());
    assert.ok(e < TOL, `gradient of ${[...m.namedVariables.keys()][i]}: ${e}`);
  });
  const tableGrad = Float32Array.from(table0.weights, (w0, i) => w0 - table.weights[i]!);
  const e = maxRelErr(tableGrad, ref.grads[plain.tableVar.name]!.dataSync());
  assert.ok(e < TOL, `item table gradient (lookup + output): ${e}`);
  let norm = 0;
  for (const g of tableGrad) norm += g * g;
  assert.ok(norm > 1e-6, 'the table was updated');
  m.dispose();
  mRef.dispose();
  tfHead.dispose();
});

function midxHead(split: LeaveOneOutSplit, d: number, seed: number, sampler = 'midx'): { head: SeqRecHead; tfHead: TfOutputHead } {
  const n = split.sequences.numItems;
  const table = ClassTable.init(n, d, Rng.fromSeed(seed, 3), { scale: 1 / Math.sqrt(d) });
  const samplerOpts: Record<string, unknown> = sampler === 'midx' ? { codewords: 4, seed } : { n };
  const layer = new OutputLayer({ table, sampler: createSampler(sampler, samplerOpts), optimizer: createOptimizer('adam', { lr: 0.01 }), negatives: 8 });
  const tfHead = new TfOutputHead(tf, layer);
  return { head: seqRecHead(tfHead), tfHead };
}

test('SeqRecTrainer with the midx head learns next-item cycles (valid Recall@10 far above chance)', () => {
  const n = 60;
  const split = leaveOneOut(cycleSequences(Rng.fromSeed(1), 120, n, 5, 14));
  const { head, tfHead } = midxHead(split, 16, 2);
  const tr = new SeqRecTrainer(tf, { split, head, seed: 3, batchSize: 32, lr: 0.01, model: { maxLen: 10, blocks: 1, heads: 1, dropout: 0.1 } });
  const before = tr.evaluate('valid');
  for (let e = 0; e < 8; e++) tr.trainEpoch();
  const after = tr.evaluate('valid');
  // Chance Recall@10 is about 10/60 ≈ 0.17 (fewer excluded items aside); the cycle is learnable exactly.
  assert.ok(after['recall@10']! > 0.8, `valid recall@10 ${before['recall@10']} → ${after['recall@10']}`);
  assert.ok(after['ndcg@10']! > before['ndcg@10']! + 0.3);
  const test = tr.evaluate('test');
  assert.ok(test['recall@10']! > 0.8);
  tr.dispose();
  tfHead.dispose();
});

test('runSeqRec: a resumed run continues exactly as an uninterrupted one (checkpoint, metrics.jsonl)', async () => {
  const n = 30;
  const split = leaveOneOut(cycleSequences(Rng.fromSeed(8), 40, n, 4, 10));
  const cfg = { sampler: 'midx', seed: 5 };
  const make = (): { tr: SeqRecTrainer; tfHead: TfOutputHead } => {
    const { head, tfHead } = midxHead(split, 8, 6);
    const tr = new SeqRecTrainer(tf, { split, head, seed: 5, batchSize: 16, model: { maxLen: 6, blocks: 1, heads: 1, dropout: 0.2 } });
    return { tr, tfHead };
  };
  const root = mkdtempSync(join(tmpdir(), 'samplex-seqrec-'));
  try {
    const a = make();
    const data = seqRecDataFingerprint(split);
    const ra = await runSeqRec({ trainer: a.tr, out: join(root, 'a'), data, epochs: 2, config: cfg, name: 'midx', progress: null, select: 'last' });
    const b1 = make();
    await runSeqRec({ trainer: b1.tr, out: join(root, 'b'), data, epochs: 1, config: cfg, name: 'midx', progress: null, select: 'last' });
    const b2 = make();
    const rb = await runSeqRec({ trainer: b2.tr, out: join(root, 'b'), resume: true, data, epochs: 2, config: cfg, name: 'midx', progress: null, select: 'last' });
    const sa = a.tr.stateTensors();
    const sb = b2.tr.stateTensors();
    for (const k of Object.keys(sa)) {
      if (k === 'trainer/trainSec') continue;
      assert.deepEqual(sb[k], sa[k], `state ${k}`);
    }
    assert.deepEqual(rb.test, ra.test);
    const recs = readFileSync(join(root, 'b', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(recs.map((r) => r['epoch']), [1, 2]);
    assert.equal(recs[1]!['ndcg@10'], ra.records[1]!['ndcg@10']);
    // Other settings are refused.
    const c = make();
    await assert.rejects(
      runSeqRec({ trainer: c.tr, out: join(root, 'b'), resume: true, data, epochs: 3, config: { ...cfg, seed: 6 }, name: 'midx', progress: null }),
      (e: unknown) => e instanceof StateError && /seed was 5, now 6/.test(e.message),
    );
    // Other data of the same shape is refused too.
    await assert.rejects(
      runSeqRec({ trainer: c.tr, out: join(root, 'b'), resume: true, data: 'other', epochs: 3, config: cfg, name: 'midx', progress: null }),
      (e: unknown) => e instanceof StateError && /data differs/.test(e.message),
    );
    for (const x of [a, b1, b2, c]) {
      x.tr.dispose();
      x.tfHead.dispose();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
