/**
 * Multi-threaded training pieces: one-pass sampling with log q (`sampleWithLogQ`), per-row
 * generators (`rowStreams`), MIDX helper threads (bit-identical to one thread, including a whole
 * training run and its resume), the sparse Adam kernel against the TS reference, and optimizer
 * state placed in kernel memory. The chi-square check uses a fixed seed with a false-failure
 * rate of 1e-3.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClassTable } from '../src/core/classTable.js';
import { LabelRangeError, OptionError, ShapeError, StateError } from '../src/core/errors.js';
import { matrix, multiLabels, type Labels } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { createSampler } from '../src/index.js';
import { initFastKernels, tableInKernelMemory } from '../src/kernels/fast.js';
import * as ref from '../src/kernels/ref.js';
import { createOptimizer } from '../src/layer/optimizers.js';
import { MidxSampler, type MidxCodebook, type MidxStage } from '../src/samplers/midx.js';
import { MidxThreads } from '../src/samplers/midxThreads.js';
import type { SampleOptions, Sampler } from '../src/samplers/types.js';
import { rowRangeOutputBytes, rowRangeOutputIn } from '../src/samplers/base.js';
import { XmcTrainer, type XmcConfig } from '../src/apps/xmc/trainer.js';
import { drawChiSquare, logQAll, queryRow, randomQueries, randomTable } from './util/adaptive.js';
import { syntheticXmc } from './util/xmcSynthetic.js';
import { U32, adamRowsInputs, assertClose, randF32 } from './util/kernelCheck.js';

const POP = Array.from({ length: 300 }, (_, i) => (i % 5 === 0 ? 0 : 1 + (i % 3)));

/** Random positives (1–3 per row) of `rows` rows over `n` classes. */
function randomLabels(rows: number, n: number, seed: number): Labels {
  const rng = Rng.fromSeed(seed);
  return multiLabels(Array.from({ length: rows }, () => Array.from(new Set(Array.from({ length: 1 + rng.int(3) }, () => rng.int(n))))));
}

function sameSamples(a: ReturnType<NonNullable<Sampler['sampleWithLogQ']>>, b: ReturnType<NonNullable<Sampler['sampleWithLogQ']>>, what: string): void {
  assert.deepEqual(a.draws.ids, b.draws.ids, `${what}: ids`);
  assert.deepEqual(a.draws.logQ, b.draws.logQ, `${what}: logQ`);
  assert.deepEqual(a.draws.tries, b.draws.tries, `${what}: tries`);
  assert.deepEqual(a.logQ, b.logQ, `${what}: scored logQ`);
}

test('sampleWithLogQ equals sample followed by logQ (same draws, same generator use), with and without rowStreams', () => {
  const t = randomTable(300, 8, 1, true, 0.8);
  const q = randomQueries(9, 8, 2);
  const labels = randomLabels(9, 300, 3);
  const midx = new MidxSampler({ codewords: 8, seed: 4 });
  midx.build(t);
  const uniform = createSampler('uniform', { n: 300 });
  uniform.build(t);
  for (const s of [midx, uniform]) {
    for (const rowStreams of [false, true]) {
      for (const extra of [{}, { unique: true }, { exclude: labels }] as Partial<SampleOptions>[]) {
        const opts = (seed: number): SampleOptions => ({ m: 12, rng: Rng.fromSeed(seed), queries: q, rowStreams, ...extra });
        const a = s.sampleWithLogQ!(opts(7), labels);
        const o = opts(7);
        const draws = s.sample(o);
        const lq = s.logQ(s.name === 'midx' ? q : null, labels);
        sameSamples(a, { draws, logQ: lq }, `${s.name} rowStreams=${rowStreams} ${Object.keys(extra).join(',')}`);
        // the generator was advanced the same way
        const o2 = opts(7);
        s.sampleWithLogQ!(o2, labels);
        assert.equal(o2.rng.nextU32(), o.rng.nextU32());
      }
    }
  }
});

test('rowStreams: a row draws the same ids whatever the other rows of the batch are', () => {
  const t = randomTable(300, 8, 11, true, 0.8);
  const s = new MidxSampler({ codewords: 8, seed: 4 });
  s.build(t);
  const q = randomQueries(4, 8, 12);
  const q2 = matrix(4, 8, q.data.slice());
  q2.data.fill(0.5, 8, 16); // row 1 changes
  const a = s.sample({ m: 30, rng: Rng.fromSeed(5), queries: q, rowStreams: true });
  const b = s.sample({ m: 30, rng: Rng.fromSeed(5), queries: q2, rowStreams: true });
  for (const r of [0, 2, 3]) assert.deepEqual(a.ids.subarray(r * 30, (r + 1) * 30), b.ids.subarray(r * 30, (r + 1) * 30), `row ${r}`);
  assert.notDeepEqual(a.ids.subarray(30, 60), b.ids.subarray(30, 60));
  // without row streams the later rows shift with the draws of row 1 (different tries)
  const c = s.sample({ m: 30, rng: Rng.fromSeed(5), queries: q });
  assert.notDeepEqual(c.ids, a.ids);
});

test('rowStreams draws follow the exact midx distribution (chi-square, p > 1e-3)', () => {
  const t = randomTable(300, 8, 21, true, 0.8);
  const s = new MidxSampler({ codewords: 8, seed: 6 });
  s.build(t);
  const q = queryRow(randomQueries(1, 8, 22), 0);
  const want = logQAll(s, q);
  const streams: Sampler = {
    name: s.name, adaptive: true, isBuilt: true, numClasses: s.numClasses,
    build: () => {}, update: () => {}, stats: () => ({}), logQ: (qq, ids) => s.logQ(qq, ids),
    sample: (o) => s.sample({ ...o, rowStreams: true }),
  };
  const p = drawChiSquare(streams, q, want, 60_000, 23);
  assert.ok(p > 1e-3, `chi-square p = ${p}`);
});

for (const [codebook, stage] of [['rq', 'uniform'], ['pq', 'pop'], ['rq', 'residual']] as [MidxCodebook, MidxStage][]) {
  test(`midx helper threads (${codebook}/${stage}): 1 and 2 helpers give exactly the one-thread draws`, async () => {
    const t = randomTable(300, 8, 31, true, 0.8);
    const q = randomQueries(23, 8, 32);
    const labels = randomLabels(23, 300, 33);
    const make = (): MidxSampler => {
      const s = new MidxSampler({ codebook, stage, codewords: 8, popularity: stage === 'pop' ? POP : null, seed: 7 });
      s.build(t);
      return s;
    };
    const cases = [{}, { unique: true }, { exclude: labels }] as Partial<SampleOptions>[];
    const single = make();
    const one = cases.map((extra) => single.sampleWithLogQ({ m: 15, rng: Rng.fromSeed(9), queries: q, rowStreams: true, ...extra }, labels));
    for (const helpers of [1, 2]) {
      const s = make();
      const th = await MidxThreads.create(helpers);
      try {
        s.useWorkers(th);
        cases.forEach((extra, i) => {
          const got = s.sampleWithLogQ({ m: 15, rng: Rng.fromSeed(9), queries: q, rowStreams: true, ...extra }, labels);
          sameSamples(got, one[i]!, `${helpers} helpers, ${Object.keys(extra).join(',') || 'plain'}`);
        });
        // the index copy follows rebuilds
        const t2 = randomTable(300, 8, 34, true, 0.8);
        s.build(t2);
        const a = s.sampleWithLogQ({ m: 15, rng: Rng.fromSeed(10), queries: q, rowStreams: true }, labels);
        s.useWorkers(null);
        const b = s.sampleWithLogQ({ m: 15, rng: Rng.fromSeed(10), queries: q, rowStreams: true }, labels);
        sameSamples(a, b, `${helpers} helpers after a rebuild`);
      } finally {
        s.useWorkers(null);
        await th.close();
      }
    }
  });
}

test('midx helper threads: errors surface as typed errors and a closed set of threads is refused', async () => {
  await assert.rejects(() => MidxThreads.create(0), OptionError);
  const t = randomTable(300, 8, 41, true, 0.8);
  const s = new MidxSampler({ codewords: 8, seed: 1 });
  s.build(t);
  const th = await MidxThreads.create(1);
  s.useWorkers(th);
  const q = randomQueries(16, 8, 42);
  const labels = randomLabels(16, 300, 43);
  // an impossible unique request fails on the helper's rows too; the next call still works
  assert.throws(() => s.sampleWithLogQ({ m: 299, rng: Rng.fromSeed(1), queries: q, rowStreams: true, unique: true, exclude: multiLabels(Array.from({ length: 16 }, () => [1, 2, 3])) }, labels));
  const ok = s.sampleWithLogQ({ m: 5, rng: Rng.fromSeed(1), queries: q, rowStreams: true }, labels);
  assert.equal(ok.draws.ids.length, 80);
  await th.close();
  assert.throws(() => s.sampleWithLogQ({ m: 5, rng: Rng.fromSeed(1), queries: q, rowStreams: true }, labels), StateError);
  s.useWorkers(null);
});

test('xmc training with midx helper threads equals one thread, and resumes exactly', async () => {
  const split = syntheticXmc();
  const cfg: XmcConfig = { dim: 16, batchSize: 32, lr: 0.05, negatives: 10, seed: 5, sampler: 'midx', rebuildEvery: 7, samplerOptions: { codewords: 8 } };
  const a = new XmcTrainer(split, cfg);
  a.trainEpoch();
  const saved = Object.fromEntries(Object.entries(a.stateTensors()).map(([k, v]) => [k, v.slice()]));
  a.trainEpoch();
  const ma = await a.evaluate();
  const th = await MidxThreads.create(1);
  try {
    const b = new XmcTrainer(split, cfg, { midxWorkers: th });
    b.trainEpoch();
    b.trainEpoch();
    assert.deepEqual(b.model.table.weights, a.model.table.weights);
    assert.deepEqual(b.model.encoder.embedding.weights, a.model.encoder.embedding.weights);
    assert.deepEqual(await b.evaluate(), ma);
    const c = new XmcTrainer(split, cfg, { midxWorkers: th });
    c.loadState(saved);
    c.trainEpoch();
    assert.deepEqual(c.model.table.weights, a.model.table.weights);
    assert.deepEqual(await c.evaluate(), ma);
  } finally {
    await th.close();
  }
});

test('adamRows: the WebAssembly kernel matches the TS reference (float32 arithmetic bound)', async () => {
  const fast = await initFastKernels({ threads: 0, install: false });
  try {
    const rng = Rng.fromSeed(51);
    for (const d of [1, 3, 4, 7, 16, 33, 128]) {
      const n = 40;
      const count = 17;
      const ids = Int32Array.from({ length: n }, (_, i) => i);
      rng.shuffle(ids);
      const idsIn = ids.slice(0, count);
      const w = randF32(rng, n * d);
      const m = randF32(rng, n * d).map((x) => 0.1 * x);
      const v = randF32(rng, n * d).map((x) => 0.01 * Math.abs(x));
      const steps = Int32Array.from({ length: n }, () => rng.int(5));
      const grad = randF32(rng, count * d);
      const put = <T extends Float32Array | Int32Array>(x: T): T => {
        const y = (x instanceof Float32Array ? fast.allocF32(x.length) : fast.allocI32(x.length)) as T;
        y.set(x as never);
        return y;
      };
      const [w1, m1, v1, s1] = [w.slice(), m.slice(), v.slice(), steps.slice()];
      ref.adamRows(w1, m1, v1, d, idsIn, count, grad, s1, 0.01, 0.9, 0.999, 1e-8);
      const [w2, m2, v2, s2] = [put(w), put(m), put(v), put(steps)];
      fast.kernels.adamRows(w2, m2, v2, d, idsIn, count, grad, s2, 0.01, 0.9, 0.999, 1e-8);
      assert.deepEqual(s2, s1, 'row step counts');
      // m and v: two float32 roundings per operation; w: the update (≤ lr·|m̂|/(√v̂+eps) ≲ lr·10)
      // carries ~8 float32 roundings of relative error
      assertClose(m2, m1, (i) => 4 * U32 * (Math.abs(m[i]!) + Math.abs(m1[i]!) + 1e-30), `m d=${d}`);
      assertClose(v2, v1, (i) => 4 * U32 * (Math.abs(v[i]!) + Math.abs(v1[i]!) + 1e-30), `v d=${d}`);
      assertClose(w2, w1, (i) => 2 * U32 * Math.abs(w1[i]!) + 16 * U32 * Math.abs(w[i]! - w1[i]!) + 1e-12, `w d=${d}`);
      // rows not listed are untouched
      for (const id of ids.subarray(count)) assert.deepEqual(w2.subarray(id * d, (id + 1) * d), w.subarray(id * d, (id + 1) * d));
    }
  } finally {
    await fast.close();
  }
});

test('adamAllRows: the WebAssembly kernel matches the TS reference, and adamRows on the spread gradient bit for bit', async () => {
  const fast = await initFastKernels({ threads: 0, install: false });
  try {
    const rng = Rng.fromSeed(52);
    for (const d of [1, 3, 4, 7, 16, 33, 128]) {
      const n = 40;
      const count = 11;
      const { ids, w, m, v } = adamRowsInputs(rng, n, d, count);
      const allRows = Int32Array.from({ length: n }, (_, i) => i);
      // equal step counts in runs (as after dense updates) and a few odd ones
      const steps = Int32Array.from({ length: n }, (_, i) => (i % 9 === 4 ? 1 + rng.int(5) : 7));
      const grad = randF32(rng, count * d);
      const spread = new Float32Array(n * d);
      ids.forEach((id, p) => spread.set(grad.subarray(p * d, (p + 1) * d), id * d));
      const put = <T extends Float32Array | Int32Array>(x: T): T => {
        const y = (x instanceof Float32Array ? fast.allocF32(x.length) : fast.allocI32(x.length)) as T;
        y.set(x as never);
        return y;
      };
      const [w1, m1, v1, s1] = [w.slice(), m.slice(), v.slice(), steps.slice()];
      ref.adamAllRows(w1, m1, v1, d, n, ids, count, grad, s1, 0.01, 0.9, 0.999, 1e-8);
      // the TS reference equals adamRows over every row with the spread gradient, exactly
      const [w0, m0, v0, s0] = [w.slice(), m.slice(), v.slice(), steps.slice()];
      ref.adamRows(w0, m0, v0, d, allRows, n, spread, s0, 0.01, 0.9, 0.999, 1e-8);
      assert.deepEqual([w1, m1, v1, s1], [w0, m0, v0, s0], `ref d=${d}`);
      const [w2, m2, v2, s2] = [put(w), put(m), put(v), put(steps)];
      fast.kernels.adamAllRows(w2, m2, v2, d, n, ids, count, grad, s2, 0.01, 0.9, 0.999, 1e-8);
      assert.deepEqual(s2, s1, 'row step counts');
      assertClose(m2, m1, (i) => 4 * U32 * (Math.abs(m[i]!) + Math.abs(m1[i]!) + 1e-30), `m d=${d}`);
      assertClose(v2, v1, (i) => 4 * U32 * (Math.abs(v[i]!) + Math.abs(v1[i]!) + 1e-30), `v d=${d}`);
      assertClose(w2, w1, (i) => 2 * U32 * Math.abs(w1[i]!) + 16 * U32 * Math.abs(w[i]! - w1[i]!) + 1e-12, `w d=${d}`);
      // the WebAssembly adamRows on the spread gradient gives the same bits
      const [w3, m3, v3, s3] = [put(w), put(m), put(v), put(steps)];
      fast.kernels.adamRows(w3, m3, v3, d, allRows, n, spread, s3, 0.01, 0.9, 0.999, 1e-8);
      assert.deepEqual([w2, m2, v2], [w3, m3, v3], `wasm adamRows d=${d}`);
    }
    // ids out of order or range are refused
    const [w, m, v] = [fast.allocF32(8), fast.allocF32(8), fast.allocF32(8)];
    const st = fast.allocI32(4);
    assert.throws(() => fast.kernels.adamAllRows(w, m, v, 2, 4, Int32Array.of(2, 1), 2, new Float32Array(4), st, 0.01, 0.9, 0.999, 1e-8), ShapeError);
    assert.throws(() => fast.kernels.adamAllRows(w, m, v, 2, 4, Int32Array.of(4), 1, new Float32Array(2), st, 0.01, 0.9, 0.999, 1e-8), LabelRangeError);
  } finally {
    await fast.close();
  }
});

test('Adam with its state in kernel memory: same updates as plain arrays (kernel tolerance), restored state stays there', async () => {
  const fast = await initFastKernels({ threads: 0 });
  try {
    const storage = { f32: fast.allocF32, i32: fast.allocI32 };
    const rng = Rng.fromSeed(61);
    const n = 50;
    const d = 12;
    const init = ClassTable.init(n, d, rng, { init: 'normal', scale: 0.1, bias: true });
    const plain = new ClassTable(n, d, init.weights.slice(), init.bias!.slice());
    const placed = tableInKernelMemory(fast, init);
    const a = createOptimizer('adam', { lr: 0.01 });
    const b = createOptimizer('adam', { lr: 0.01 }, storage);
    for (let s = 0; s < 5; s++) {
      const ids = Int32Array.from(new Set(Array.from({ length: 8 }, () => rng.int(n)))).sort();
      const g = { ids, rows: randF32(rng, ids.length * d), bias: randF32(rng, ids.length) };
      a.step(plain, g);
      b.step(placed, g);
    }
    assert.deepEqual(placed.bias, plain.bias, 'biases are updated by the same TS code');
    for (let i = 0; i < n * d; i++) assert.ok(Math.abs(placed.weights[i]! - plain.weights[i]!) < 1e-6, `weight ${i}`);
    const st = b.stateTensors();
    assert.ok(fast.arena!.owns(st['m']!), 'moments live in kernel memory');
    const c = createOptimizer('adam', { lr: 0.01 }, storage);
    c.loadState(st);
    const back = c.stateTensors();
    assert.ok(fast.arena!.owns(back['m']!) && fast.arena!.owns(back['rowSteps']!), 'restored moments live in kernel memory');
    assert.deepEqual(back['v'], st['v']);
  } finally {
    await fast.close();
  }
});

test('midx refitIters: warm rebuilds run at most refitIters Lloyd steps per codebook; bad values are refused', () => {
  const t = randomTable(400, 8, 71, false);
  const s = new MidxSampler({ seed: 9, codewords: 8, iters: 10, refitIters: 1 });
  s.build(t);
  const t2 = randomTable(400, 8, 72, false);
  s.build(t2);
  assert.ok((s.stats().kmeansIterations as number) <= 2);
  assert.throws(() => new MidxSampler({ refitIters: -1 }), OptionError);
});

test("midx threads option: helper threads started by the sampler give one thread's row-stream draws, bit for bit", async () => {
  const t = randomTable(300, 8, 41, true, 0.8);
  const q = randomQueries(37, 8, 42);
  const labels = randomLabels(37, 300, 43);
  for (const codebook of ['pq', 'rq'] as MidxCodebook[]) {
    for (const stage of ['uniform', 'pop'] as MidxStage[]) {
      const opts = { codebook, stage, codewords: 6, seed: 2, popularity: stage === 'pop' ? POP : null };
      const one = createSampler('midx', opts) as MidxSampler;
      const two = createSampler('midx', { ...opts, threads: 2 }) as MidxSampler;
      one.build(t);
      two.build(t);
      assert.equal(two.stats().threads, 2);
      for (const extra of [{}, { unique: true }, { exclude: labels }] as Partial<SampleOptions>[]) {
        // the threaded sampler draws with row streams whatever the call says
        const a = one.sampleWithLogQ({ m: 11, rng: Rng.fromSeed(5), queries: q, rowStreams: true, ...extra }, labels);
        const b = two.sampleWithLogQ({ m: 11, rng: Rng.fromSeed(5), queries: q, ...extra }, labels);
        sameSamples(a, b, `${codebook}/${stage} ${Object.keys(extra).join(',')}`);
        const c = two.sample({ m: 11, rng: Rng.fromSeed(5), queries: q, ...extra });
        assert.deepEqual(c.ids, a.draws.ids);
        assert.deepEqual(c.logQ, a.draws.logQ);
      }
      await two.close();
      assert.equal(two.stats().threads, 1);
      // after close: one thread, same draws
      const d = two.sampleWithLogQ({ m: 11, rng: Rng.fromSeed(5), queries: q }, labels);
      sameSamples(one.sampleWithLogQ({ m: 11, rng: Rng.fromSeed(5), queries: q, rowStreams: true }, labels), d, `${codebook}/${stage} closed`);
    }
  }
  assert.throws(() => createSampler('midx', { stage: 'softmax', threads: 2 }), OptionError);
});

test('a range output in a shared buffer: the views fill exactly its bytes without overlapping, zeroed on request, the same views on both sides', () => {
  for (const [rows, m, unique, scored] of [[3, 5, false, 0], [7, 1, true, 4], [1, 100, true, 0], [4, 3, false, 9]] as const) {
    const bytes = rowRangeOutputBytes(rows, m, unique, scored);
    const buf = new SharedArrayBuffer(bytes + 16);
    const a = rowRangeOutputIn(buf, rows, m, unique, scored);
    const views = [a.logQ, a.posLogQ, a.ids, ...(a.tries ? [a.tries] : [])];
    assert.deepEqual(views.map((v) => v.length), [rows * m, scored, rows * m, ...(unique ? [rows] : [])]);
    let at = 0;
    for (const v of views) {
      assert.equal(v.byteOffset, at, 'views follow each other');
      at += v.byteLength;
    }
    assert.equal(at, bytes);
    a.ids.fill(-1);
    a.logQ.fill(-2);
    a.posLogQ.fill(-3);
    a.tries?.fill(-4);
    const b = rowRangeOutputIn(buf, rows, m, unique, scored, false);
    assert.ok(b.ids.every((x) => x === -1) && b.logQ.every((x) => x === -2) && b.posLogQ.every((x) => x === -3) && (b.tries ?? []).every((x) => x === -4));
    const c = rowRangeOutputIn(buf, rows, m, unique, scored);
    assert.ok([c.ids, c.logQ, c.posLogQ, ...(c.tries ? [c.tries] : [])].every((v) => v.every((x) => x === 0)));
  }
});
