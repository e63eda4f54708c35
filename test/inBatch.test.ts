/**
 * In-batch negatives: the streaming frequency estimate of Yi et al. on streams with known
 * frequencies, and the corrected in-batch and mixed losses against float64 references.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/core/rng.js';
import { singleLabels } from '../src/core/matrix.js';
import { NonFiniteError, OptionError, ShapeError, StateError } from '../src/core/errors.js';
import { ClassTable } from '../src/core/classTable.js';
import { OutputLayer } from '../src/layer/outputLayer.js';
import { createOptimizer } from '../src/layer/optimizers.js';
import { createSampler } from '../src/samplers/factory.js';
import type { UnigramSampler } from '../src/samplers/index.js';
import '../src/samplers/index.js';
import { StreamingFrequencyEstimator } from '../src/samplers/frequency.js';
import { inBatchDraws, mixedDraws } from '../src/loss/inBatch.js';
import { sampledSoftmaxLoss } from '../src/loss/sampled.js';
import { logExpectedCount } from '../src/samplers/types.js';
import { evalTerms, refParams, type RefParams, type RefTerm } from './util/lossRef.js';
import { assertClose, compareWithRef, makeDraws, makeProblem, randomProposal } from './util/lossFixtures.js';

/** Draws a batch of `b` ids i.i.d. from `f` by inversion. */
function batchOf(rng: Rng, f: number[], b: number): number[] {
  const out: number[] = [];
  for (let k = 0; k < b; k++) {
    let u = rng.float();
    let y = 0;
    while (y < f.length - 1 && u >= f[y]!) u -= f[y++]!;
    out.push(y);
  }
  return out;
}

/**
 * A stream of 30,000 batches of 8 ids from known frequencies `f`: an id occurs in a batch with
 * probability `π = 1 − (1 − f)^8`, its step gaps are geometric with mean `1/π`, and the gap
 * average with α = 0.005 (≈ 400 gaps) has a relative standard deviation of at most
 * `√(1 − π)/√400 ≤ 5%`; the tolerance is 20% (4 standard deviations) on the ids with π ≥ 0.05.
 */
test('streaming frequency estimate converges to the per-batch occurrence probability (no collisions, and buckets shared)', () => {
  const n = 20;
  const raw = Array.from({ length: n }, (_, i) => 1 / (i + 1) ** 1.1);
  const z = raw.reduce((a, b) => a + b, 0);
  const f = raw.map((x) => x / z);
  const b = 8;
  const pi = f.map((x) => 1 - (1 - x) ** b);
  const exact = new StreamingFrequencyEstimator({ buckets: n, alpha: 0.005, hash: 'identity' });
  const shared = new StreamingFrequencyEstimator({ buckets: 7, alpha: 0.005, hash: 'identity' });
  const rng = Rng.fromSeed(42);
  for (let t = 0; t < 30000; t++) {
    const ids = batchOf(rng, f, b);
    exact.observe(ids);
    shared.observe(ids);
  }
  let checked = 0;
  for (let j = 0; j < n; j++) {
    if (pi[j]! < 0.05) continue;
    checked++;
    const rel = Math.abs(exact.prob(j) - pi[j]!) / pi[j]!;
    assert.ok(rel < 0.2, `id ${j}: p̂ = ${exact.prob(j)}, π = ${pi[j]} (relative error ${rel})`);
  }
  assert.ok(checked >= 8);
  // ids sharing a bucket: the bucket occurs in a batch with probability 1 − (1 − Σ f)^b
  for (let h = 0; h < 7; h++) {
    let fb = 0;
    for (let j = h; j < n; j += 7) fb += f[j]!;
    const pb = 1 - (1 - fb) ** b;
    assert.ok(Math.abs(shared.prob(h) - pb) / pb < 0.2, `bucket ${h}: p̂ = ${shared.prob(h)}, expected ${pb}`);
  }
  // the estimate is far from the per-example frequency f for the frequent ids (π ≠ f): the test can tell them apart
  assert.ok(Math.abs(exact.prob(0) - f[0]!) / f[0]! > 0.5);
});

/**
 * What makes the correction exact: with every distinct item of a batch one candidate and `Q` its
 * probability of being in the batch, `Σ_candidates exp(o_j − log Q_j)` is the Horvitz–Thompson
 * estimate of the full partition `Z = Σ_j exp(o_j)`, unbiased. Batches of 64 i.i.d. ids from 20
 * items (the most frequent repeats ~14 times a batch); the mean over 20,000 batches must be within
 * 4 standard errors of `Z` (standard error from the exact variance
 * `Σ_jk e^{o_j} e^{o_k} (π_jk − π_j π_k) / (π_j π_k)`; failure rate ≈ 6·10⁻⁵ under the normal
 * approximation). One candidate per occurrence with the same `Q` would have the expectation
 * `Σ_j b·f_j/π_j · e^{o_j}`, which the test checks is more than 20 standard errors away.
 */
test('streaming frequency estimate: stateTensors/loadState restore it bit for bit; a damaged or mis-shaped state is refused, typed, and changes nothing', () => {
  const rng = Rng.fromSeed(5);
  const a = new StreamingFrequencyEstimator({ buckets: 16, alpha: 0.3 });
  const stream = Array.from({ length: 40 }, () => Int32Array.from({ length: 6 }, () => rng.int(50)));
  for (const ids of stream.slice(0, 20)) a.observe(ids);
  const saved = a.stateTensors();
  const b = new StreamingFrequencyEstimator({ buckets: 16, alpha: 0.3 });
  b.loadState(saved);
  assert.equal(b.steps, 20);
  for (const ids of stream.slice(20)) {
    a.observe(ids);
    b.observe(ids);
  }
  const all = Int32Array.from({ length: 50 }, (_, i) => i);
  assert.deepEqual(Array.from(b.logProb(all)), Array.from(a.logProb(all)), 'restored and continued = uninterrupted');
  const fresh = new StreamingFrequencyEstimator({ buckets: 16, alpha: 0.3 });
  const before = Array.from(fresh.logProb(all));
  const bad = (edit: (s: Record<string, Int32Array>) => void, type: new (...args: never[]) => Error, msg: RegExp): void => {
    const st: Record<string, Int32Array> = { last: saved.last.slice(), gap: saved.gap.slice(), step: saved.step.slice() };
    edit(st);
    assert.throws(() => fresh.loadState(st), (e: unknown) => e instanceof type && msg.test((e as Error).message));
    assert.deepEqual(Array.from(fresh.logProb(all)), before, 'a refused state changes nothing');
    assert.equal(fresh.steps, 0);
  };
  bad((s) => { s['gap'] = s['gap']!.slice(2); }, ShapeError, /'gap' has 30 entries, expected 32/);
  bad((s) => { delete s['last']; }, ShapeError, /no 'last'/);
  bad((s) => { s['step'] = Int32Array.of(-1); }, StateError, /step -1/);
  bad((s) => { s['last']![3] = 21; }, StateError, /bucket 3 was last seen at step 21, outside 0..20/);
  bad((s) => { s['gap'] = new Int32Array(new Float64Array(16).fill(0.5).buffer); }, StateError, /below 1 step/);
  bad((s) => { s['gap'] = new Int32Array(new Float64Array(16).fill(Number.NaN).buffer); }, NonFiniteError, /NaN/);
});

test('in-batch record: the corrected candidates give an unbiased estimate of the full partition when items repeat', () => {
  const n = 20;
  const b = 64;
  const raw = Array.from({ length: n }, (_, i) => 1 / (i + 1) ** 1.2);
  const z = raw.reduce((a, x) => a + x, 0);
  const f = raw.map((x) => x / z);
  const pi = f.map((x) => 1 - (1 - x) ** b);
  const rng = Rng.fromSeed(11);
  const o = Array.from({ length: n }, () => rng.float() * 2 - 1);
  const e = o.map(Math.exp);
  const Z = e.reduce((a, x) => a + x, 0);
  let v = 0;
  for (let j = 0; j < n; j++) {
    for (let k = 0; k < n; k++) {
      const pjk = j === k ? pi[j]! : 1 - (1 - f[j]!) ** b - (1 - f[k]!) ** b + (1 - f[j]! - f[k]!) ** b;
      v += (e[j]! * e[k]! * (pjk - pi[j]! * pi[k]!)) / (pi[j]! * pi[k]!);
    }
  }
  const N = 20000;
  const se = Math.sqrt(v / N);
  let sum = 0;
  let maxRepeat = 0;
  for (let t = 0; t < N; t++) {
    const ys = batchOf(rng, f, b);
    maxRepeat = Math.max(maxRepeat, ys.filter((y) => y === 0).length);
    const { draws } = inBatchDraws(singleLabels(ys), Float64Array.from(ys, (y) => Math.log(pi[y]!)));
    for (let k = 0; k < draws.m; k++) sum += Math.exp(o[draws.ids[k]!]! - logExpectedCount(draws, k));
  }
  const mean = sum / N;
  assert.ok(maxRepeat >= 10, `item 0 repeats at most ${maxRepeat} times in a batch`);
  assert.ok(Math.abs(mean - Z) < 4 * se, `mean ${mean} vs Z = ${Z} (standard error ${se})`);
  const perOccurrence = e.reduce((a, x, j) => a + (b * f[j]! * x) / pi[j]!, 0);
  assert.ok(perOccurrence - Z > 20 * se, `per-occurrence expectation ${perOccurrence} vs Z = ${Z} (standard error ${se})`);
});

/** Row `r`'s candidates: its positive, the batch's distinct positives that differ from it (each once), and `extra`. */
function inBatchTerms(ys: number[], corr: (r: number, id: number) => number, extra: (r: number) => number[] = () => []): RefTerm[] {
  const B = ys.length;
  const distinct = [...new Set(ys)];
  const terms: RefTerm[] = [];
  for (let r = 0; r < B; r++) {
    const cands = [{ id: ys[r]!, corr: corr(r, ys[r]!) }];
    for (const y of distinct) if (y !== ys[r]) cands.push({ id: y, corr: corr(r, y) });
    for (const id of extra(r)) if (id !== ys[r]) cands.push({ id, corr: corr(r, id) });
    terms.push({ row: r, weight: 1 / B, cands });
  }
  return terms;
}

function fdCheck(terms: RefTerm[], fast: ReturnType<typeof sampledSoftmaxLoss>, base: RefParams, B: number, n: number, d: number, what: string): void {
  const eps = 1e-6;
  const ref = evalTerms(terms, base, B, n, d);
  const fd = new Float64Array(B * d);
  for (let i = 0; i < B * d; i++) {
    const plus = { ...base, h: base.h.slice() };
    const minus = { ...base, h: base.h.slice() };
    plus.h[i] += eps;
    minus.h[i] -= eps;
    fd[i] = (evalTerms(terms, plus, B, n, d).loss - evalTerms(terms, minus, B, n, d).loss) / (2 * eps);
  }
  assertClose(ref.gradH, fd, 1e-6, `${what}: reference dL/dh vs finite differences`);
  assertClose(fast.gradQueries, fd, 1e-5, `${what}: dL/dh vs finite differences`);
}

test('in-batch softmax with the log Q correction (and without) equals the float64 reference, gradients included', () => {
  const rng = Rng.fromSeed(3);
  const n = 15;
  const d = 4;
  const prob = makeProblem(rng, { n, d, B: 7, bias: true });
  const ys = Array.from(prob.labels.ids);
  // repeated items: each is one candidate (not one per occurrence), masked in the rows whose positive it is
  ys[5] = ys[1]!;
  ys[6] = ys[1]!;
  ys[4] = ys[2]!;
  const labels = singleLabels(ys);
  const logQ = Float64Array.from(ys, (y) => Math.log(0.05 + 0.03 * (y % 5)));
  for (const corrected of [true, false]) {
    const { draws, posLogQ } = inBatchDraws(labels, corrected ? logQ : null);
    const got = sampledSoftmaxLoss({ queries: prob.queries, table: prob.table, labels, draws, posLogQ, convention: 'correctedAll' });
    const lq = new Map(ys.map((y, r) => [y, logQ[r]!]));
    const terms = inBatchTerms(ys, (_r, id) => (corrected ? lq.get(id)! : 0));
    const base = refParams({ ...prob, labels });
    compareWithRef(got, evalTerms(terms, base, 7, n, d), n, d, `in-batch corrected=${corrected}`);
    fdCheck(terms, got, base, 7, n, d, `in-batch corrected=${corrected}`);
  }
  // padding rows (weight 0) give no negatives and no terms
  const w = Float32Array.from([1, 1, 0, 1, 1, 0, 1]);
  const { draws, posLogQ } = inBatchDraws(labels, logQ, w);
  const got = sampledSoftmaxLoss({ queries: prob.queries, table: prob.table, labels, draws, posLogQ, convention: 'correctedAll', rowWeights: w });
  const lq = new Map(ys.map((y, r) => [y, logQ[r]!]));
  const liveYs = [...new Set(ys.filter((_, r) => w[r]! > 0))];
  const terms: RefTerm[] = [];
  for (let r = 0; r < 7; r++) {
    if (w[r] === 0) continue;
    const cands = [{ id: ys[r]!, corr: lq.get(ys[r]!)! }];
    for (const y of liveYs) if (y !== ys[r]) cands.push({ id: y, corr: lq.get(y)! });
    terms.push({ row: r, weight: 1 / 5, cands });
  }
  compareWithRef(got, evalTerms(terms, refParams({ ...prob, labels }), 7, n, d), n, d, 'in-batch with padding');
  assert.throws(() => inBatchDraws(singleLabels([1, 2]), Float64Array.of(0)), ShapeError);
  // a repeated item with two different log Q is refused
  assert.throws(() => inBatchDraws(singleLabels([1, 2, 1]), Float64Array.of(-1, -2, -3)), OptionError);
  // one slot per distinct item of the live rows
  assert.equal(inBatchDraws(labels, logQ).draws.m, new Set(ys).size);
});

test('mixed negatives: every candidate corrected by log(Q_batch + Q_sampler), float64 reference with gradients', () => {
  const rng = Rng.fromSeed(4);
  const n = 12;
  const d = 3;
  const B = 5;
  const prob = makeProblem(rng, { n, d, B, bias: true });
  const ys = Array.from(prob.labels.ids);
  ys[3] = ys[0]!; // a repeated item: one in-batch candidate
  ys[4] = ys[0]!;
  const labels = singleLabels(ys);
  const q = randomProposal(rng, n);
  const pb = Array.from({ length: n }, (_, i) => 0.02 + 0.01 * i); // per-batch expected counts of the estimate
  for (const unique of [false, true]) {
    const m2 = 4;
    const sampled = makeDraws(rng, q, { m: m2, B, unique });
    const { draws, posLogQ } = mixedDraws({
      labels, batchLogQ: Float64Array.from(ys, (y) => Math.log(pb[y]!)),
      sampledBatchLogQ: Float64Array.from(sampled.ids, (id) => Math.log(pb[id]!)), sampled,
      samplerLogQ: (ids) => Float64Array.from(ids.ids, (id) => Math.log(q[id]!)),
    });
    const got = sampledSoftmaxLoss({ queries: prob.queries, table: prob.table, labels, draws, posLogQ, convention: 'correctedAll' });
    const Qs = (r: number, id: number): number => (unique ? 1 - (1 - q[id]!) ** sampled.tries![r]! : m2 * q[id]!);
    const terms = inBatchTerms(ys, (r, id) => Math.log(pb[id]! + Qs(r, id)), (r) => Array.from(sampled.ids.subarray(r * m2, (r + 1) * m2)));
    const base = refParams({ ...prob, labels });
    compareWithRef(got, evalTerms(terms, base, B, n, d), n, d, `mixed unique=${unique}`);
    fdCheck(terms, got, base, B, n, d, `mixed unique=${unique}`);
  }
  // a proposal per row (an adaptive sampler) with padding rows: the sampler's log q is asked only
  // for the live rows' distinct live positives, and padding rows give no negatives and no terms
  const qRow = Array.from({ length: B }, () => randomProposal(rng, n));
  const w = Float32Array.from([1, 0, 1, 1, 0]);
  const m2 = 3;
  const sIds = new Int32Array(B * m2);
  const sLogQ = new Float64Array(B * m2);
  for (let k = 0; k < B * m2; k++) {
    sIds[k] = rng.int(n);
    sLogQ[k] = Math.log(qRow[Math.floor(k / m2)]![sIds[k]!]!);
  }
  const sampled = { ids: sIds, logQ: sLogQ, rows: B, m: m2, shared: false, unique: false, tries: null };
  let asked = 0;
  const { draws, posLogQ } = mixedDraws({
    labels, batchLogQ: Float64Array.from(ys, (y) => Math.log(pb[y]!)),
    sampledBatchLogQ: Float64Array.from(sIds, (id) => Math.log(pb[id]!)), sampled, rowWeights: w,
    samplerLogQ: (csr) => {
      asked += csr.ids.length;
      const out = new Float64Array(csr.ids.length);
      for (let r = 0; r < csr.offsets.length - 1; r++) {
        for (let k = csr.offsets[r]!; k < csr.offsets[r + 1]!; k++) out[k] = Math.log(qRow[r]![csr.ids[k]!]!);
      }
      return out;
    },
  });
  const liveYs = [...new Set(ys.filter((_, r) => w[r]! > 0))];
  assert.equal(asked, 3 * liveYs.length, 'one log q per (live row, distinct live positive)');
  const got = sampledSoftmaxLoss({ queries: prob.queries, table: prob.table, labels, draws, posLogQ, convention: 'correctedAll', rowWeights: w });
  const corr = (r: number, id: number): number => Math.log(pb[id]! + m2 * qRow[r]![id]!);
  const terms: RefTerm[] = [];
  for (let r = 0; r < B; r++) {
    if (w[r] === 0) continue;
    const cands = [{ id: ys[r]!, corr: corr(r, ys[r]!) }];
    for (const y of liveYs) if (y !== ys[r]) cands.push({ id: y, corr: corr(r, y) });
    for (const id of sIds.subarray(r * m2, (r + 1) * m2)) if (id !== ys[r]) cands.push({ id, corr: corr(r, id) });
    terms.push({ row: r, weight: 1 / 3, cands });
  }
  compareWithRef(got, evalTerms(terms, refParams({ ...prob, labels }), B, n, d), n, d, 'mixed, a proposal per row, with padding');
});

test('OutputLayer negativeSource inBatch / mixed equals the draw records composed by hand; the estimate observes each batch first', () => {
  const n = 25;
  const d = 4;
  const B = 6;
  for (const source of ['inBatch', 'mixed'] as const) {
    const t1 = ClassTable.init(n, d, Rng.fromSeed(1), { bias: true });
    const t2 = t1.clone();
    const counts = Array.from({ length: n }, (_, i) => 1 + (i % 4));
    const f1 = new StreamingFrequencyEstimator({ buckets: 16, alpha: 0.1 });
    const f2 = new StreamingFrequencyEstimator({ buckets: 16, alpha: 0.1 });
    const layer = new OutputLayer({
      table: t1, sampler: createSampler('unigram', { counts }), optimizer: createOptimizer('sgd', { lr: 0.3 }), negatives: 3,
      convention: 'correctedAll', negativeSource: source, frequency: f1,
    });
    const sampler = createSampler('unigram', { counts });
    const opt = createOptimizer('sgd', { lr: 0.3 });
    for (let s = 0; s < 3; s++) {
      const prob = makeProblem(Rng.fromSeed(70 + s), { n, d, B });
      const got = layer.step({ queries: prob.queries, labels: prob.labels, rng: Rng.fromSeed(5 + s) });
      f2.observe(prob.labels.ids);
      const lq = f2.logProb(prob.labels.ids);
      let rec;
      if (source === 'inBatch') rec = inBatchDraws(prob.labels, lq);
      else {
        const sampled = sampler.sample({ m: 3, rng: Rng.fromSeed(5 + s), rows: B });
        rec = mixedDraws({
          labels: prob.labels, batchLogQ: lq, sampledBatchLogQ: f2.logProb(sampled.ids), sampled,
          samplerLogQ: (ids) => Float64Array.from(ids.ids, (id) => Math.log((sampler as UnigramSampler).prob(id))),
        });
      }
      const ref = sampledSoftmaxLoss({ queries: prob.queries, table: t2, labels: prob.labels, draws: rec.draws, posLogQ: rec.posLogQ, convention: 'correctedAll' });
      opt.step(t2, ref.gradClasses);
      assert.ok(Math.abs(got.loss - ref.loss) < 1e-12 * Math.max(1, ref.loss), `${source}: ${got.loss} vs ${ref.loss}`);
      assert.deepEqual(got.gradQueries, ref.gradQueries);
      assert.deepEqual(t1.weights, t2.weights);
    }
  }
  const base = { table: ClassTable.init(n, d, Rng.fromSeed(1)), sampler: createSampler('uniform', { n }), optimizer: createOptimizer('sgd', { lr: 0.1 }), negatives: 2 };
  assert.throws(() => new OutputLayer({ ...base, negativeSource: 'inBatch' }), OptionError); // exclusive convention
  assert.throws(() => new OutputLayer({ ...base, negativeSource: 'inBatch', convention: 'correctedAll', loss: 'nce' }), OptionError);
});

test('streaming frequency estimate: the first occurrence sets the gap from step 0, later ones average; initialGap gives a start', () => {
  const e = new StreamingFrequencyEstimator({ buckets: 10, alpha: 0.5, hash: 'identity' });
  assert.equal(e.prob(3), 0);
  e.observe([1]);
  e.observe([3, 3]); // counted once in its step
  assert.equal(e.prob(3), 1 / 2);
  e.observe([]);
  e.observe([]);
  e.observe([3]); // gap 3: B = 0.5·2 + 0.5·3
  assert.equal(e.prob(3), 1 / 2.5);
  assert.equal(e.prob(1), 1);
  const g = new StreamingFrequencyEstimator({ buckets: 10, alpha: 0.5, initialGap: 10, hash: 'identity' });
  g.observe([4]);
  assert.equal(g.prob(4), 1 / 5.5);
  assert.equal(g.prob(5), 1 / 10);
});
