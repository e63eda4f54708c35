/**
 * The losses users bring from TensorFlow, word2vec and fastText, pinned to float64 references of
 * TensorFlow's documented formulas (test/util/tfLossRef.ts): the joint multi-label sampled softmax,
 * kept accidental hits, NCE and negative sampling.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/core/rng.js';
import { ClassTable } from '../src/core/classTable.js';
import { matrix, singleLabels } from '../src/core/matrix.js';
import { OptionError } from '../src/core/errors.js';
import { sampledSoftmaxLoss } from '../src/loss/sampled.js';
import { fullSoftmaxLoss } from '../src/loss/full.js';
import { sampledLogisticLoss, type BinaryLoss } from '../src/loss/binary.js';
import type { LabelWeighting, LossResult } from '../src/loss/types.js';
import type { Draws } from '../src/samplers/types.js';
import { refParams, refSampledLoss, type RefParams, type RefResult } from './util/lossRef.js';
import { tfSampledRef, type TfRefInput } from './util/tfLossRef.js';
import { OutputLayer } from '../src/layer/outputLayer.js';
import { createOptimizer } from '../src/layer/optimizers.js';
import { createSampler } from '../src/samplers/factory.js';
import '../src/samplers/index.js';
import { assertClose, compareWithRef, makeDraws, makeProblem, positiveLogQ, randomProposal } from './util/lossFixtures.js';

interface Setup extends TfRefInput {
  posLogQ: Float64Array;
}

interface SetupOptions {
  n: number;
  B: number;
  m: number;
  shared: boolean;
  unique: boolean;
  positives: number | [number, number];
  weights: boolean;
  removeAccidentalHits: boolean;
  subtractLogQ?: boolean;
}

function setup(seed: number, o: SetupOptions, d = 5): Setup {
  const rng = Rng.fromSeed(seed);
  const prob = makeProblem(rng, { n: o.n, d, B: o.B, bias: true, positives: o.positives });
  const q = randomProposal(rng, o.n);
  const draws = makeDraws(rng, q, { m: o.m, B: o.B, shared: o.shared, unique: o.unique });
  let rowWeights: Float32Array | null = null;
  if (o.weights) {
    rowWeights = new Float32Array(o.B);
    for (let r = 0; r < o.B; r++) rowWeights[r] = r % 3 === 1 ? 0 : 0.5 + rng.float();
  }
  return {
    ...prob, draws, q, rowWeights, posLogQ: positiveLogQ(q, prob.labels),
    subtractLogQ: o.subtractLogQ ?? true, removeAccidentalHits: o.removeAccidentalHits,
  };
}

/** Number of sampled slots equal to a positive of their row. */
function hits(s: Setup): number {
  let c = 0;
  const m = s.draws.m;
  for (let r = 0; r < s.queries.rows; r++) {
    const dr = s.draws.shared ? 0 : r;
    for (let j = 0; j < m; j++) {
      const id = s.draws.ids[dr * m + j]!;
      for (let k = s.labels.offsets[r]!; k < s.labels.offsets[r + 1]!; k++) if (s.labels.ids[k] === id) c++;
    }
  }
  return c;
}

function softmaxOf(s: Setup, labelWeighting: LabelWeighting): LossResult {
  return sampledSoftmaxLoss({
    queries: s.queries, table: s.table, labels: s.labels, rowWeights: s.rowWeights, labelWeighting,
    draws: s.draws, convention: 'correctedAll', posLogQ: s.posLogQ, removeAccidentalHits: s.removeAccidentalHits,
  });
}

function logisticOf(s: Setup, loss: BinaryLoss, labelWeighting: LabelWeighting): LossResult {
  return sampledLogisticLoss({
    queries: s.queries, table: s.table, labels: s.labels, rowWeights: s.rowWeights, labelWeighting,
    loss, draws: s.draws, posLogQ: loss === 'nce' ? s.posLogQ : null, removeAccidentalHits: s.removeAccidentalHits,
  });
}

const grid: SetupOptions[] = [];
for (const shared of [false, true]) {
  for (const unique of [false, true]) {
    for (const removeAccidentalHits of [true, false]) {
      // n = 8 with 10 draws: accidental hits in almost every row.
      grid.push({ n: 8, B: 6, m: unique ? 6 : 10, shared, unique, positives: [1, 4], weights: !shared, removeAccidentalHits });
      grid.push({ n: 40, B: 5, m: 7, shared, unique, positives: [2, 3], weights: shared, removeAccidentalHits });
    }
  }
}

test("labelWeighting 'joint' equals TensorFlow's multi-label sampled_softmax_loss (hits masked or kept, shared/per-row, unique/replacement)", () => {
  let seed = 1;
  let totalHits = 0;
  for (const o of grid) {
    const s = setup(seed++, o);
    totalHits += hits(s);
    const ref = tfSampledRef(s, 'softmax', refParams(s));
    compareWithRef(softmaxOf(s, 'joint'), ref, s.table.n, s.table.d, `joint ${JSON.stringify(o)}`);
  }
  assert.ok(totalHits > 20, `the fixtures must contain accidental hits (got ${totalHits})`);
});

test("'joint' differs from samplex's per-positive 'mean' on multi-label rows and agrees on single-label ones", () => {
  const multi = setup(77, { n: 30, B: 4, m: 6, shared: false, unique: false, positives: 2, weights: false, removeAccidentalHits: true });
  const a = softmaxOf(multi, 'joint').loss;
  const b = softmaxOf(multi, 'mean').loss;
  assert.ok(Math.abs(a - b) > 0.05, `two labels per row: joint ${a} vs mean ${b} should differ`);
  const single = setup(78, { n: 30, B: 4, m: 6, shared: false, unique: true, positives: 1, weights: true, removeAccidentalHits: true });
  const c = softmaxOf(single, 'joint');
  compareWithRef(c, tfSampledRef(single, 'softmax', refParams(single)), 30, 5, 'single-label joint vs TF');
  compareWithRef(softmaxOf(single, 'mean'), tfSampledRef(single, 'softmax', refParams(single)), 30, 5, 'single-label mean vs TF');
});

test('removeAccidentalHits: false keeps hits as ordinary negatives in the per-positive terms', () => {
  let seed = 200;
  let totalHits = 0;
  for (const o of grid) {
    const s = setup(seed++, o);
    totalHits += hits(s);
    const got = softmaxOf(s, 'mean');
    compareWithRef(got, tfSampledRef(s, 'perTerm', refParams(s)), s.table.n, s.table.d, `mean ${JSON.stringify(o)}`);
    if (o.removeAccidentalHits) {
      // the masked case is also the existing reference's correctedAll
      const ref = refSampledLoss({ ...s, convention: 'correctedAll', labelWeighting: 'mean' });
      compareWithRef(got, ref, s.table.n, s.table.d, `mean vs lossRef ${JSON.stringify(o)}`);
    }
  }
  assert.ok(totalHits > 20);
  // keeping the hits changes the loss when there are some
  const s = setup(5, { n: 6, B: 4, m: 12, shared: false, unique: false, positives: 2, weights: false, removeAccidentalHits: false });
  assert.ok(hits(s) > 0);
  const kept = softmaxOf(s, 'mean').loss;
  const masked = softmaxOf({ ...s, removeAccidentalHits: true }, 'mean').loss;
  assert.ok(kept > masked + 1e-3, `hits kept ${kept} should add to the partition (masked ${masked})`);
});

test("NCE equals TensorFlow's nce_loss and negative sampling its uncorrected form (every weighting, hits kept or dropped)", () => {
  let seed = 300;
  for (const o of grid) {
    for (const loss of ['nce', 'negativeSampling'] as const) {
      const s = setup(seed++, { ...o, subtractLogQ: loss === 'nce' });
      const p = refParams(s);
      const what = `${loss} ${JSON.stringify(o)}`;
      compareWithRef(logisticOf(s, loss, 'joint'), tfSampledRef(s, 'sigmoid', p), s.table.n, s.table.d, `${what} joint`);
      compareWithRef(logisticOf(s, loss, 'mean'), tfSampledRef(s, 'sigmoidMean', p), s.table.n, s.table.d, `${what} mean`);
    }
  }
});

/** Dense float64 copies of a sparse class gradient. */
function denseClassGrad(res: LossResult, n: number, d: number): { w: Float64Array; b: Float64Array } {
  const w = new Float64Array(n * d);
  const b = new Float64Array(n);
  const { ids, rows, bias } = res.gradClasses;
  for (let k = 0; k < ids.length; k++) {
    for (let t = 0; t < d; t++) w[ids[k]! * d + t] = rows[k * d + t]!;
    b[ids[k]!] = bias![k]!;
  }
  return { w, b };
}

/**
 * Central finite differences (eps = 1e-6) of the float64 reference against its analytic gradient
 * (1e-6) and the implementation's float32 gradient (1e-5), w.r.t. queries, class rows and biases.
 */
function fdCheck(what: string, fast: LossResult, refAt: (p: RefParams) => RefResult, base: RefParams, n: number, d: number): void {
  const eps = 1e-6;
  const ref = refAt(base);
  const fw = denseClassGrad(fast, n, d);
  const check = (key: 'h' | 'w' | 'b', analytic: Float64Array, fastGrad: ArrayLike<number>): void => {
    const fd = new Float64Array(analytic.length);
    for (let i = 0; i < analytic.length; i++) {
      const plus = { h: base.h.slice(), w: base.w.slice(), b: base.b!.slice() };
      const minus = { h: base.h.slice(), w: base.w.slice(), b: base.b!.slice() };
      plus[key][i] += eps;
      minus[key][i] -= eps;
      fd[i] = (refAt(plus).loss - refAt(minus).loss) / (2 * eps);
    }
    assertClose(analytic, fd, 1e-6, `${what} reference d/d${key} vs finite differences`);
    assertClose(fastGrad, fd, 1e-5, `${what} implementation d/d${key} vs finite differences`);
  };
  check('h', ref.gradH, fast.gradQueries);
  check('w', ref.gradW, fw.w);
  check('b', ref.gradB!, fw.b);
}

test('float64 finite-difference gradients: joint, kept hits, NCE, negative sampling', () => {
  const o: SetupOptions = { n: 7, B: 4, m: 6, shared: false, unique: false, positives: [1, 3], weights: true, removeAccidentalHits: false };
  let seed = 400;
  for (const removeAccidentalHits of [true, false]) {
    const s = setup(seed++, { ...o, removeAccidentalHits }, 3);
    fdCheck(`joint hits=${removeAccidentalHits}`, softmaxOf(s, 'joint'), (p) => tfSampledRef(s, 'softmax', p), refParams(s), 7, 3);
    fdCheck(`mean hits=${removeAccidentalHits}`, softmaxOf(s, 'mean'), (p) => tfSampledRef(s, 'perTerm', p), refParams(s), 7, 3);
    const u = setup(seed++, { ...o, unique: true, shared: true, removeAccidentalHits }, 3);
    fdCheck(`nce unique shared hits=${removeAccidentalHits}`, logisticOf(u, 'nce', 'joint'), (p) => tfSampledRef(u, 'sigmoid', p), refParams(u), 7, 3);
    const v = setup(seed++, { ...o, subtractLogQ: false, removeAccidentalHits }, 3);
    fdCheck(`ns hits=${removeAccidentalHits}`, logisticOf(v, 'negativeSampling', 'mean'), (p) => tfSampledRef(v, 'sigmoidMean', p), refParams(v), 7, 3);
  }
});

/**
 * The expected gradient of a logistic loss over one positive `y ~ p` and `m` i.i.d. draws
 * `z ~ q`, computed exactly by linearity: a row's gradient is `g_pos(y) + Σ_j g_neg(z_j)`, so its
 * expectation equals the gradient of a batch of `n²` rows `(y, z)` with weights `p_y·q_z` whose
 * `m` slots all hold `z`. Logits are the biases (zero weights and queries).
 */
function expectedBiasGrad(loss: BinaryLoss, p: number[], q: number[], logits: number[], m: number): Float32Array {
  const n = p.length;
  const table = new ClassTable(n, 1, new Float32Array(n), Float32Array.from(logits));
  const ys: number[] = [];
  const w: number[] = [];
  const ids: number[] = [];
  const logQ: number[] = [];
  const posLogQ: number[] = [];
  for (let y = 0; y < n; y++) {
    for (let z = 0; z < n; z++) {
      ys.push(y);
      w.push(p[y]! * q[z]!);
      posLogQ.push(Math.log(q[y]!));
      for (let j = 0; j < m; j++) {
        ids.push(z);
        logQ.push(Math.log(q[z]!));
      }
    }
  }
  const rows = n * n;
  const draws: Draws = { ids: Int32Array.from(ids), logQ: Float64Array.from(logQ), rows, m, shared: false, unique: false, tries: null };
  const res = sampledLogisticLoss({
    queries: matrix(rows, 1, new Float32Array(rows)), table, labels: singleLabels(ys), rowWeights: Float32Array.from(w),
    loss, draws, posLogQ: Float64Array.from(posLogQ), removeAccidentalHits: false,
  });
  const g = new Float32Array(n);
  const { ids: gi, bias } = res.gradClasses;
  for (let k = 0; k < gi.length; k++) g[gi[k]!] = bias![k]!;
  return g;
}

/**
 * NCE's stationary point: per class `y`, the expected gradient w.r.t. `o_y` is
 * `−p_y (1 − σ(a_y)) + m q_y σ(a_y)` with `a_y = o_y − log(m q_y)`; it vanishes exactly when
 * `σ(a_y) = p_y / (p_y + m q_y)`, i.e. at `o_y = log p_y`: the self-normalised log-probabilities,
 * whatever the proposal `q` (Gutmann & Hyvärinen). Negative sampling has no `log(m q)` in `a`,
 * so the same algebra puts its stationary point at `o_y = log(p_y / (m q_y))`, a shift that
 * depends on the proposal (Levy & Goldberg's shifted PMI). Hits are kept (`removeAccidentalHits:
 * false`), as the derivation assumes. Both are checked to float32 precision, and a perturbed
 * logit must give a clearly nonzero gradient.
 */
test("NCE's expected gradient vanishes at o = log p (self-normalised), negative sampling's at o = log(p / (m q))", () => {
  const p = [0.4, 0.25, 0.2, 0.1, 0.05];
  const q = [0.1, 0.3, 0.15, 0.25, 0.2];
  const m = 3;
  const nceOpt = p.map((x) => Math.log(x));
  const nsOpt = p.map((x, i) => Math.log(x / (m * q[i]!)));
  for (const [loss, opt, other] of [['nce', nceOpt, nsOpt], ['negativeSampling', nsOpt, nceOpt]] as const) {
    const g = expectedBiasGrad(loss, p, q, [...opt], m);
    for (let i = 0; i < p.length; i++) assert.ok(Math.abs(g[i]!) < 2e-7, `${loss}: E[dL/do_${i}] = ${g[i]} at its optimum`);
    const moved = [...opt];
    moved[2] = moved[2]! + 0.3;
    const g2 = expectedBiasGrad(loss, p, q, moved, m);
    assert.ok(g2[2]! > 1e-3, `${loss}: raising o_2 above the optimum must give a positive gradient, got ${g2[2]}`);
    const g3 = expectedBiasGrad(loss, p, q, [...other], m);
    assert.ok(Math.max(...g3.map(Math.abs)) > 1e-3, `${loss}: the other loss's optimum is not a stationary point`);
  }
});

test("full softmax 'joint': one softmax over all classes, target 1/P on each positive (float64 reference)", () => {
  const rng = Rng.fromSeed(600);
  const prob = makeProblem(rng, { n: 23, d: 4, B: 6, bias: true, positives: [1, 4], scale: 2 });
  const rowWeights = Float32Array.from([1, 0, 0.5, 2, 1, 1]);
  const got = fullSoftmaxLoss({ ...prob, rowWeights, labelWeighting: 'joint' }, { blockSize: 7 });
  const p = refParams(prob);
  const { n, d } = prob.table;
  const B = 6;
  const ref: RefResult = { loss: 0, gradH: new Float64Array(B * d), gradW: new Float64Array(n * d), gradB: new Float64Array(n) };
  const total = rowWeights.reduce((a, b) => a + b, 0);
  for (let r = 0; r < B; r++) {
    const wr = rowWeights[r]! / total;
    if (wr === 0) continue;
    const pos = Array.from(prob.labels.ids.subarray(prob.labels.offsets[r]!, prob.labels.offsets[r + 1]!));
    const o = Array.from({ length: n }, (_, i) => {
      let s = p.b![i]!;
      for (let k = 0; k < d; k++) s += p.h[r * d + k]! * p.w[i * d + k]!;
      return s;
    });
    const mx = Math.max(...o);
    const lse = mx + Math.log(o.reduce((s, x) => s + Math.exp(x - mx), 0));
    for (const y of pos) ref.loss += (wr / pos.length) * (lse - o[y]!);
    for (let i = 0; i < n; i++) {
      const g = wr * (Math.exp(o[i]! - lse) - (pos.includes(i) ? 1 / pos.length : 0));
      for (let k = 0; k < d; k++) {
        ref.gradH[r * d + k] += g * p.w[i * d + k]!;
        ref.gradW[i * d + k] += g * p.h[r * d + k]!;
      }
      ref.gradB![i] += g;
    }
  }
  compareWithRef(got, ref, n, d, 'full joint');
});

test('the TensorFlow options are refused where they cannot be honoured', () => {
  const s = setup(700, { n: 20, B: 3, m: 4, shared: false, unique: false, positives: 2, weights: false, removeAccidentalHits: true });
  const base = { queries: s.queries, table: s.table, labels: s.labels, draws: s.draws, posLogQ: s.posLogQ };
  assert.throws(() => sampledSoftmaxLoss({ ...base, convention: 'maskedExclusive', labelWeighting: 'joint' }), (e: unknown) => e instanceof OptionError && /joint.*correctedAll/.test(e.message));
  assert.throws(() => sampledSoftmaxLoss({ ...base, convention: 'maskedExclusive', removeAccidentalHits: false }), (e: unknown) => e instanceof OptionError && /removeAccidentalHits/.test(e.message));
  assert.throws(() => sampledLogisticLoss({ ...base, posLogQ: null, loss: 'nce' }), (e: unknown) => e instanceof OptionError && /posLogQ/.test(e.message));
  assert.throws(() => sampledLogisticLoss({ ...base, loss: 'hinge' as BinaryLoss }), OptionError);
});

test("OutputLayer's loss option: NCE, negative sampling (both draw modes) and kept hits equal the losses composed by hand", () => {
  const n = 30;
  const d = 4;
  const counts = Array.from({ length: n }, (_, i) => 1 + ((i * 7) % 11));
  const cases = [
    { loss: 'nce', convention: 'correctedAll', removeAccidentalHits: false },
    { loss: 'negativeSampling', convention: 'correctedAll', removeAccidentalHits: true },
    { loss: 'negativeSampling', convention: 'exclusive', removeAccidentalHits: true },
    { loss: 'softmax', convention: 'correctedAll', removeAccidentalHits: false },
  ] as const;
  for (const c of cases) {
    const rng = Rng.fromSeed(800);
    const t1 = ClassTable.init(n, d, rng, { bias: true });
    const t2 = t1.clone();
    const layer = new OutputLayer({
      table: t1, sampler: createSampler('unigram', { counts }), optimizer: createOptimizer('sgd', { lr: 0.5 }),
      negatives: 8, convention: c.convention, loss: c.loss, removeAccidentalHits: c.removeAccidentalHits, labelWeighting: 'joint',
    });
    const sampler = createSampler('unigram', { counts });
    const opt = createOptimizer('sgd', { lr: 0.5 });
    for (let s = 0; s < 3; s++) {
      const prob = makeProblem(Rng.fromSeed(900 + s), { n, d, B: 6, positives: [1, 2] });
      const got = layer.step({ queries: prob.queries, labels: prob.labels, rng: Rng.fromSeed(50 + s) });
      const exclusive = c.convention === 'exclusive';
      const draws = sampler.sample({ m: 8, rng: Rng.fromSeed(50 + s), rows: 6, exclude: exclusive ? prob.labels : null });
      const common = { queries: prob.queries, table: t2, labels: prob.labels, draws, labelWeighting: 'joint' as const, posLogQ: exclusive ? null : sampler.logQ(null, prob.labels) };
      const ref = c.loss === 'softmax'
        ? sampledSoftmaxLoss({ ...common, convention: c.convention, removeAccidentalHits: c.removeAccidentalHits })
        : sampledLogisticLoss({ ...common, loss: c.loss, removeAccidentalHits: c.removeAccidentalHits });
      opt.step(t2, ref.gradClasses);
      assert.equal(got.loss, ref.loss, JSON.stringify(c));
      assert.deepEqual(got.gradQueries, ref.gradQueries);
      assert.deepEqual(t1.weights, t2.weights);
    }
  }
  const opts = { table: ClassTable.init(n, d, Rng.fromSeed(1)), sampler: createSampler('unigram', { counts }), optimizer: createOptimizer('sgd', { lr: 0.1 }), negatives: 4 };
  assert.throws(() => new OutputLayer({ ...opts, loss: 'nce', convention: 'exclusive' }), (e: unknown) => e instanceof OptionError && /nce.*correctedAll/.test(e.message));
  assert.throws(() => new OutputLayer({ ...opts, convention: 'maskedExclusive', labelWeighting: 'joint' }), OptionError);
  assert.throws(() => new OutputLayer({ ...opts, convention: 'exclusive', removeAccidentalHits: false }), OptionError);
});
