/**
 * The learned unigram sampler: draws against its exact probabilities, counts against the
 * positives seen, log q at the time of each draw, checkpointed state.
 * Chi-square tests use fixed seeds and the threshold p > 1e-3 (a correct sampler fails one in a
 * thousand seeds).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/core/rng.js';
import { chiSquareTest } from '../src/core/stats.js';
import { ClassTable } from '../src/core/classTable.js';
import { singleLabels, multiLabels, type Labels } from '../src/core/matrix.js';
import { LabelRangeError, OptionError, ShapeError } from '../src/core/errors.js';
import { createSamplerFor } from '../src/samplers/factory.js';
import { LearnedUnigramSampler } from '../src/samplers/index.js';
import { OutputLayer } from '../src/layer/outputLayer.js';
import { createOptimizer } from '../src/layer/optimizers.js';
import { assertRelClose, histogram } from './util/oracle.js';

const P_MIN = 1e-3;
const N = 50;

/** A skewed label stream: class `i` with probability ∝ 1/(i+1). */
function stream(rng: Rng, rows: number): Labels {
  const w = Array.from({ length: N }, (_, i) => 1 / (i + 1));
  const total = w.reduce((a, b) => a + b, 0);
  const ys: number[] = [];
  for (let r = 0; r < rows; r++) {
    let u = rng.float() * total;
    let y = 0;
    while (y < N - 1 && u >= w[y]!) u -= w[y++]!;
    ys.push(y);
  }
  return singleLabels(ys);
}

/** `(prior + c_i)^α`, normalized: the sampler's law computed from the counts alone. */
function exactProbs(counts: ArrayLike<number>, prior: number, alpha: number): Float64Array {
  const p = Float64Array.from(counts, (c) => Math.pow(prior + c, alpha));
  const s = p.reduce((a, b) => a + b, 0);
  return p.map((x) => x / s);
}

for (const alpha of [1, 0.75]) {
  test(`learnedUnigram (alpha ${alpha}): draws match (prior + count)^alpha of the labels observed (chi-square p > 1e-3), logQ exact`, () => {
    const s = new LearnedUnigramSampler({ n: N, alpha });
    const rng = Rng.fromSeed(10);
    const seen = new Float64Array(N);
    for (let t = 0; t < 20; t++) {
      const labels = stream(rng, 64);
      for (const y of labels.ids) seen[y]++;
      s.observe(labels);
    }
    const p = exactProbs(seen, 1, alpha);
    const shared = s.sample({ m: 100000, rng: Rng.fromSeed(11), rows: 1, shared: true });
    const res = chiSquareTest(histogram(shared.ids, N), p);
    assert.ok(res.pValue > P_MIN, `chi-square p = ${res.pValue}`);
    const perRow = s.sample({ m: 2000, rng: Rng.fromSeed(12), rows: 20 });
    assert.ok(chiSquareTest(histogram(perRow.ids, N), p).pValue > P_MIN);
    for (let k = 0; k < 3000; k++) assertRelClose(perRow.logQ[k]!, Math.log(p[perRow.ids[k]!]!), 1e-12, 'logQ');
    // the chi-square rejects the law before the updates (the test has power)
    const before = exactProbs(new Float64Array(N), 1, alpha);
    assert.ok(chiSquareTest(histogram(shared.ids, N), before).pValue < 1e-6);
  });
}

test('learnedUnigram: every class starts at the prior (TensorFlow starts every weight at 1)', () => {
  const s = new LearnedUnigramSampler({ n: N });
  const d = s.sample({ m: 50000, rng: Rng.fromSeed(3), rows: 1, shared: true });
  assert.ok(chiSquareTest(histogram(d.ids, N), new Float64Array(N).fill(1 / N)).pValue > P_MIN);
  for (let k = 0; k < 100; k++) assertRelClose(d.logQ[k]!, -Math.log(N), 1e-12, 'logQ');
});

test('learnedUnigram in the OutputLayer: counts after k steps equal the positives seen; each step draws with the counts before it', () => {
  const d = 4;
  const table = ClassTable.init(N, d, Rng.fromSeed(1));
  const sampler = createSamplerFor('learnedUnigram', { n: N }) as LearnedUnigramSampler;
  const layer = new OutputLayer({ table, sampler, optimizer: createOptimizer('sgd', { lr: 0.1 }), negatives: 5, convention: 'correctedAll', labelWeighting: 'mean' });
  const rng = Rng.fromSeed(2);
  const seen = new Float64Array(N);
  for (let t = 0; t < 7; t++) {
    // multi-label rows with a repeated class: every entry counts
    const rows: number[][] = [];
    for (let r = 0; r < 8; r++) rows.push([rng.int(N), rng.int(5), rng.int(5)]);
    const labels = multiLabels(rows);
    const queries = { rows: 8, cols: d, data: Float32Array.from({ length: 8 * d }, () => rng.normal()) };
    // the step's draws use the counts before it: replay them with the same generator
    const replay = new LearnedUnigramSampler({ n: N });
    replay.loadState({ counts: seen });
    const expected = replay.sample({ m: 5, rng: Rng.fromSeed(100 + t), rows: 8 });
    const before = sampler.sample({ m: 5, rng: Rng.fromSeed(100 + t), rows: 8 });
    assert.deepEqual(before.ids, expected.ids);
    assert.deepEqual(before.logQ, expected.logQ);
    layer.step({ queries, labels, rng: Rng.fromSeed(100 + t) });
    for (const y of labels.ids) seen[y]++;
    for (let i = 0; i < N; i++) assert.equal(sampler.count(i), seen[i], `step ${t}: count of class ${i}`);
  }
  assert.equal(sampler.stats()['observed'], 7 * 8 * 3);
});

test('learnedUnigram: state round trip gives the same law and the same draws; bad state and options are refused', () => {
  const a = new LearnedUnigramSampler({ n: N, alpha: 0.5, prior: 2 });
  a.observe(stream(Rng.fromSeed(5), 500));
  const b = new LearnedUnigramSampler({ n: N, alpha: 0.5, prior: 2 });
  b.loadState(a.stateTensors());
  for (let i = 0; i < N; i++) assert.equal(b.prob(i), a.prob(i));
  assert.deepEqual(b.sample({ m: 100, rng: Rng.fromSeed(6), rows: 3 }), a.sample({ m: 100, rng: Rng.fromSeed(6), rows: 3 }));
  // the saved state is a copy
  const st = a.stateTensors();
  st['counts']![0] = 1e9;
  assert.notEqual(a.count(0), 1e9);
  assert.throws(() => b.loadState({ counts: new Float64Array(3) }), ShapeError);
  assert.throws(() => b.loadState({ counts: new Float64Array(N).fill(-1) }), OptionError);
  assert.throws(() => b.observe(singleLabels([N])), LabelRangeError);
  assert.throws(() => new LearnedUnigramSampler({ n: N, prior: 0 }), OptionError);
  assert.throws(() => new LearnedUnigramSampler({ n: N, bogus: 1 } as never), OptionError);
  assert.throws(() => a.build(ClassTable.init(N + 1, 2, Rng.fromSeed(1))), ShapeError);
});
