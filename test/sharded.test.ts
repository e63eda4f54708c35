// Sharded class tables and the exact composition of samplers over shards, checked against the
// unsharded table and samplers. Every chi-square test uses a fixed seed and asserts p > 1e-3: were
// the sampler correct and the seed random, each such assertion would fail with probability 1e-3;
// with the fixed seeds they are reproducible.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClassTable } from '../src/core/classTable.js';
import { ImpossibleError, LabelRangeError, OptionError, ShapeError, StateError } from '../src/core/errors.js';
import { matrix, multiLabels, singleLabels, type Labels, type Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { ShardedClassTable } from '../src/core/shardedTable.js';
import { chiSquareTest } from '../src/core/stats.js';
import { OutputLayer } from '../src/layer/outputLayer.js';
import { createOptimizer, type Adam } from '../src/layer/optimizers.js';
import { shardedEvaluate, shardedFullLoss } from '../src/layer/sharded.js';
import { evaluate } from '../src/layer/evaluator.js';
import { fullSoftmaxLoss } from '../src/loss/full.js';
import { createSampler } from '../src/samplers/factory.js';
import '../src/samplers/index.js';
import { MidxSampler, RffSampler, UniformSampler } from '../src/samplers/index.js';
import type { RowDistribution } from '../src/samplers/base.js';
import type { Rng as RngT } from '../src/core/rng.js';
import { ShardedSampler } from '../src/samplers/sharded.js';
import { logInclusionProb, type Sampler } from '../src/samplers/types.js';
import { renormalize } from './util/oracle.js';
import { allIds, drawChiSquare, logQAll, maxAbsDiff, queryRow, randomQueries, randomTable } from './util/adaptive.js';
import { tsKernels, useKernels } from '../src/kernels/index.js';

// equality with the unsharded path to float64 rounding: the TS reference kernels (test/sharded-kernels.test.ts runs the WebAssembly ones)
useKernels(tsKernels);

const P_MIN = 1e-3;
const N = 60;
const D = 8;
/** Unequal shards, one of a single class. */
const SIZES = [7, 25, 1, 27];
/** The shard whose classes get (near) zero proposal mass: shard 0 (ids 0..6). */
const LOW = { start: 0, end: 7 };

/** A table with biases where shard 0's classes have logits about −60 below the others. */
function lowMassTable(seed = 5): ClassTable {
  const t = randomTable(N, D, seed, true, 0.6);
  for (let i = LOW.start; i < LOW.end; i++) t.bias![i] = -60;
  return t;
}

/** Counts with shard 0 nearly empty (count 1e-30) and a few zeros elsewhere. */
function counts(): number[] {
  const rng = Rng.fromSeed(17);
  const c = Array.from({ length: N }, (_, i) => (i >= LOW.start && i < LOW.end ? 1e-30 : 1 + Math.floor(200 * rng.float() ** 3)));
  c[30] = 0;
  c[45] = 0;
  return c;
}

/** `logQ` of every class for every query row (rows × n). */
function logQRows(s: Sampler, q: Matrix | null, rows: number): Float64Array {
  return s.logQ(q, allIds(s.numClasses, rows));
}

/** Σ_i exp(logQ) per row (must be 1 for an exactly reported proposal). */
function rowMass(lq: Float64Array, n: number, r: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.exp(lq[r * n + i]!);
  return s;
}

// ---------------------------------------------------------------------------------------------
// The sharded table

test('ShardedClassTable.init equals ClassTable.init with the same seed, for every initializer and layout', () => {
  for (const init of ['normal', 'uniform', 'xavier', 'zeros'] as const) {
    for (const layout of [{ sizes: SIZES }, { shards: 7 }, { shardRows: 16 }]) {
      const ref = ClassTable.init(N, D, Rng.fromSeed(3), { init, bias: true });
      const st = ShardedClassTable.init(N, D, Rng.fromSeed(3), { init, bias: true, ...layout });
      assert.equal(st.n, N);
      assert.equal(st.d, D);
      assert.ok(st.hasBias);
      const cat = st.toTable();
      assert.deepEqual(cat.weights, ref.weights, `${init} ${JSON.stringify(layout)}`);
      assert.deepEqual(cat.bias, ref.bias);
    }
  }
  const st = ShardedClassTable.init(N, D, Rng.fromSeed(3), { shards: 7 });
  assert.deepEqual(st.sizes, [9, 9, 9, 9, 8, 8, 8]);
  assert.deepEqual(ShardedClassTable.init(N, D, Rng.fromSeed(3), { shardRows: 16 }).sizes, [16, 16, 16, 12]);
  assert.equal(st.byteLength, N * D * 4);
});

test('ShardedClassTable: split/toTable round trip, shardOf/localId, clone, logit', () => {
  const t = randomTable(N, D, 1, true);
  const st = ShardedClassTable.split(t, SIZES);
  assert.deepEqual(Array.from(st.starts), [0, 7, 32, 33, 60]);
  assert.deepEqual(st.toTable().weights, t.weights);
  assert.deepEqual(st.toTable().bias, t.bias);
  // split copies
  (st.shards[1] as ClassTable).weights[0] = 99;
  assert.notEqual(t.weights[7 * D], 99);
  const q = randomQueries(1, D, 2);
  for (let id = 0; id < N; id++) {
    const s = st.shardOf(id);
    assert.ok(id >= st.starts[s]! && id < st.starts[s + 1]!);
    assert.equal(st.localId(id), id - st.starts[s]!);
    if (id !== 7) assert.equal(st.logit(q.data, 0, id), t.logit(q.data, 0, id));
  }
  assert.equal(st.shardOf(32), 2);
  assert.throws(() => st.shardOf(N), LabelRangeError);
  assert.throws(() => st.shardOf(-1), LabelRangeError);
  assert.throws(() => st.shardOf(1.5), LabelRangeError);
  const c = st.clone();
  (c.shards[0] as ClassTable).weights[0] = 123;
  assert.notEqual((st.shards[0] as ClassTable).weights[0], 123);
  assert.equal(st.byteLength, t.byteLength);
});

test('ShardedClassTable: bad layouts and shards are refused with typed errors', () => {
  const rng = Rng.fromSeed(1);
  assert.throws(() => ShardedClassTable.init(N, D, rng, {}), OptionError);
  assert.throws(() => ShardedClassTable.init(N, D, rng, { shards: 2, shardRows: 5 }), OptionError);
  assert.throws(() => ShardedClassTable.init(N, D, rng, { sizes: [10, 10] }), ShapeError);
  assert.throws(() => ShardedClassTable.init(N, D, rng, { sizes: [N, 0] }), OptionError);
  assert.throws(() => ShardedClassTable.init(N, D, rng, { shards: N + 1 }), OptionError);
  assert.throws(() => ShardedClassTable.init(N, D, rng, { shards: 2, init: 'bogus' as 'normal' }), OptionError);
  assert.throws(() => ShardedClassTable.init(N, D, rng, { shards: 2, colour: 1 } as never), OptionError);
  assert.throws(() => new ShardedClassTable([]), OptionError);
  assert.throws(() => new ShardedClassTable([randomTable(3, D, 1), randomTable(3, D + 1, 1)]), ShapeError);
  assert.throws(() => new ShardedClassTable([randomTable(3, D, 1, true), randomTable(3, D, 1, false)]), ShapeError);
});

// ---------------------------------------------------------------------------------------------
// Composition: log q equal to the unsharded sampler

/** Asserts the composite's `logQ` of every class equals the unsharded one, and that each row sums to 1. */
function assertSameLogQ(uns: Sampler, comp: Sampler, q: Matrix | null, rows: number, tol: number, what: string): void {
  const a = logQRows(uns, q, rows);
  const b = logQRows(comp, q, rows);
  const diff = maxAbsDiff(a, b);
  assert.ok(diff <= tol, `${what}: composite logQ differs from the unsharded one by ${diff} (> ${tol})`);
  for (let r = 0; r < rows; r++) assert.ok(Math.abs(rowMass(b, N, r) - 1) < 1e-9, `${what}: row ${r} sums to ${rowMass(b, N, r)}`);
}

test('composite logQ equals the unsharded logQ: uniform, unigram, logUniform (counts and assumeSorted)', () => {
  const t = randomTable(N, D, 4);
  const st = ShardedClassTable.split(t, SIZES);
  const c = counts();
  const cases: [string, Record<string, unknown>][] = [
    ['uniform', {}],
    ['unigram', { counts: c, alpha: 0.75 }],
    ['unigram', { counts: c, alpha: 2 }],
    ['logUniform', { counts: c }],
    ['logUniform', { assumeSorted: true }],
  ];
  for (const [name, opts] of cases) {
    const uns = createSampler(name, name === 'uniform' ? { n: N } : opts);
    uns.build(t);
    const comp = ShardedSampler.create(name, st, opts);
    comp.build(st);
    assert.equal(comp.adaptive, false);
    assertSameLogQ(uns, comp, null, 1, 1e-12, `${name} ${JSON.stringify(opts).slice(0, 40)}`);
  }
  // the near-empty unigram shard has nearly zero probability, and the composite reports it
  const comp = ShardedSampler.create('unigram', st, { counts: c });
  comp.build(st);
  const lq = logQRows(comp, null, 1);
  assert.ok(lq[0]! < Math.log(1e-20), `near-empty shard logQ ${lq[0]}`);
  assert.equal(lq[30], -Infinity);
});

test('composite logQ equals the unsharded logQ: exact, quadratic (tree and dense), with a near-zero-mass shard', () => {
  const t = lowMassTable();
  const st = ShardedClassTable.split(t, SIZES);
  const q = randomQueries(5, D, 6);
  const cases: [string, Record<string, unknown>, number][] = [
    ['exact', { precision: 'float64' }, 1e-9],
    ['exact', {}, 1e-9],
    ['quadratic', { method: 'tree', alpha: 50, leafSize: 4 }, 1e-9],
    ['quadratic', { method: 'dense', alpha: 50, precision: 'float64' }, 1e-9],
  ];
  for (const [name, opts, tol] of cases) {
    const uns = createSampler(name, opts);
    uns.build(t);
    const comp = ShardedSampler.create(name, st, opts);
    comp.build(st);
    assert.equal(comp.adaptive, true);
    assertSameLogQ(uns, comp, q, 5, tol, `${name} ${JSON.stringify(opts)}`);
    // also built over views of the unsharded table
    const views = ShardedSampler.create(name, SIZES, opts);
    views.build(t);
    assertSameLogQ(uns, views, q, 5, tol, `${name} on views`);
  }
  const ex = ShardedSampler.create('exact', st, { precision: 'float64' });
  ex.build(st);
  const lq = logQAll(ex, queryRow(q, 0));
  for (let i = LOW.start; i < LOW.end; i++) assert.ok(lq[i]! < -40, `low-mass class ${i}: logQ ${lq[i]}`);
});

test('composite logQ equals the unsharded midx with shared codebooks (uniform, pop, residual stages)', () => {
  const t = lowMassTable(8);
  const st = ShardedClassTable.split(t, SIZES);
  const q = randomQueries(4, D, 9);
  const pop = counts().map((x) => x + 0.5);
  for (const [codebook, stage, mergedIndex] of (['rq', 'pq'] as const).flatMap((c) => [
    ...(['uniform', 'pop'] as const).flatMap((g) => [[c, g, true], [c, g, false]] as const),
    [c, 'residual', false] as const,
  ])) {
    {
      const opts = { codebook, codewords: 4, stage, seed: 3, ...(stage === 'pop' ? { popularity: pop } : {}) };
      // merged: one index over the shards' codes; else composed draw by draw
      const comp = ShardedSampler.create('midx', st, opts, { mergedIndex });
      comp.build(st);
      assert.equal(comp.mergedIndex, mergedIndex);
      // the shared codebooks are those an unsharded build trains (same rows, same seed)
      const ref = new MidxSampler(opts);
      ref.build(t);
      const shard0 = comp.shards[0] as MidxSampler;
      assert.deepEqual(shard0.codebooks()!.c1, ref.codebooks()!.c1);
      assert.deepEqual(shard0.codebooks()!.c2, ref.codebooks()!.c2);
      // the unsharded index of the same codebooks (classes assigned to their nearest codewords)
      const uns = new MidxSampler(opts);
      uns.buildWithCodebooks(t, shard0.codebooks()!);
      assertSameLogQ(uns, comp, q, 4, 1e-9, `midx ${codebook} ${stage} merged=${mergedIndex}`);
      if (mergedIndex) {
        // the merged index is the unsharded one: the same draws, bit for bit
        const a = comp.sample({ queries: q, m: 50, rng: Rng.fromSeed(7) });
        const b = uns.sample({ queries: q, m: 50, rng: Rng.fromSeed(7) });
        assert.deepEqual(a.ids, b.ids, `midx ${codebook} ${stage} merged draws`);
        assert.deepEqual(a.logQ, b.logQ, `midx ${codebook} ${stage} merged log q`);
      }
    }
  }
});

test('midx softmax stage and per-shard codebooks: a different proposal, reported exactly', () => {
  const t = lowMassTable(8);
  const st = ShardedClassTable.split(t, SIZES);
  const q = randomQueries(1, D, 10);
  for (const [opts, extra] of [
    [{ codewords: 4, stage: 'softmax', seed: 1 }, {}],
    [{ codewords: 4, stage: 'uniform', seed: 1 }, { sharedCodebooks: false }],
  ] as const) {
    const comp = ShardedSampler.create('midx', st, opts, extra);
    comp.build(st);
    const lq = logQAll(comp, q);
    assert.ok(Math.abs(rowMass(lq, N, 0) - 1) < 1e-9);
    const p = drawChiSquare(comp, q, lq, 20000, 11, 1e-9, 200);
    assert.ok(p > P_MIN, `midx ${JSON.stringify(opts)} ${JSON.stringify(extra)}: chi-square p = ${p}`);
  }
});

test('rff shards share their random features; the composite is reported exactly (chi-square)', () => {
  const t = randomTable(N, D, 12);
  const st = ShardedClassTable.split(t, SIZES);
  const comp = ShardedSampler.create('rff', st, { features: 64, seed: 5, leafSize: 4 });
  comp.build(st);
  const w0 = (comp.shards[0] as RffSampler).frequencies()!;
  for (const s of comp.shards) assert.deepEqual((s as RffSampler).frequencies(), w0);
  const uns = new RffSampler({ features: 64, seed: 5, leafSize: 4 });
  uns.build(t);
  assert.deepEqual(uns.frequencies(), w0);
  const q = randomQueries(1, D, 13);
  const lq = logQAll(comp, q);
  assert.ok(Math.abs(rowMass(lq, N, 0) - 1) < 1e-9);
  const p = drawChiSquare(comp, q, lq, 20000, 14, 1e-9, 200);
  assert.ok(p > P_MIN, `rff composite chi-square p = ${p}`);
});

// ---------------------------------------------------------------------------------------------
// Draws against the unsharded exact probabilities

test('composite draws follow the unsharded probabilities (chi-square): exact, quadratic tree, midx, unigram', () => {
  const t = lowMassTable(20);
  const st = ShardedClassTable.split(t, SIZES);
  const q = randomQueries(1, D, 21);
  const cases: [string, Record<string, unknown>][] = [
    ['exact', { precision: 'float64' }],
    ['quadratic', { method: 'tree', alpha: 20, leafSize: 4 }],
    ['midx', { codewords: 4, seed: 2 }],
    ['midx-composed', { codewords: 4, seed: 2 }],
  ];
  let seed = 30;
  for (const [label, opts] of cases) {
    // midx-composed: shard by mass, then class in the shard (not the merged index)
    const name = label === 'midx-composed' ? 'midx' : label;
    const comp = ShardedSampler.create(name, st, opts, label === 'midx-composed' ? { mergedIndex: false } : {});
    comp.build(st);
    let expected: Float64Array;
    if (name === 'midx') {
      const uns = new MidxSampler(opts);
      uns.buildWithCodebooks(t, (comp.shards[0] as MidxSampler).codebooks()!);
      expected = logQAll(uns, q);
    } else {
      const uns = createSampler(name, opts);
      uns.build(t);
      expected = logQAll(uns, q);
    }
    const p = drawChiSquare(comp, q, expected, 30000, seed++, 1e-9, 300);
    assert.ok(p > P_MIN, `${label}: chi-square p = ${p}`);
  }
  // static: unigram, per-query rows and shared rows
  const c = counts();
  const uns = createSampler('unigram', { counts: c });
  const comp = ShardedSampler.create('unigram', st, { counts: c });
  comp.build(st);
  const expected = logQRows(uns, null, 1);
  const rng = Rng.fromSeed(40);
  for (const shared of [false, true]) {
    const hist = new Float64Array(N);
    const dr = comp.sample({ m: 2000, rows: 10, rng, shared });
    assert.equal(dr.rows, shared ? 1 : 10);
    for (let j = 0; j < dr.ids.length; j++) {
      hist[dr.ids[j]!]!++;
      assert.ok(Math.abs(dr.logQ[j]! - expected[dr.ids[j]!]!) < 1e-12);
    }
    const p = chiSquareTest(hist, Float64Array.from(expected, Math.exp)).pValue;
    assert.ok(p > P_MIN, `unigram shared=${shared}: chi-square p = ${p}`);
  }
});

test('composite exclude: never draws an excluded id, reports the renormalised proposal, follows it (chi-square)', () => {
  const t = lowMassTable(22);
  const st = ShardedClassTable.split(t, SIZES);
  const q = randomQueries(3, D, 23);
  const uns = createSampler('exact', { precision: 'float64' });
  uns.build(t);
  const comp = ShardedSampler.create('exact', st, { precision: 'float64' });
  comp.build(st);
  const excl = multiLabels([[32, 40, 8], [59], [7, 8, 9, 10, 11]]);
  const full = logQRows(uns, q, 3);
  const hist = new Float64Array(N);
  const rng = Rng.fromSeed(24);
  for (let rep = 0; rep < 40; rep++) {
    const dr = comp.sample({ m: 300, rng, queries: q, exclude: excl });
    for (let r = 0; r < 3; r++) {
      const ex = new Set(Array.from(excl.ids.subarray(excl.offsets[r]!, excl.offsets[r + 1]!)));
      let keep = 0;
      for (let i = 0; i < N; i++) if (!ex.has(i)) keep += Math.exp(full[r * N + i]!);
      for (let j = 0; j < 300; j++) {
        const id = dr.ids[r * 300 + j]!;
        assert.ok(!ex.has(id), `row ${r} drew excluded ${id}`);
        assert.ok(Math.abs(dr.logQ[r * 300 + j]! - (full[r * N + id]! - Math.log(keep))) < 1e-9);
        if (r === 0) hist[id]!++;
      }
    }
  }
  const ex0 = new Set([32, 40, 8]);
  const probs = renormalize(Float64Array.from({ length: N }, (_, i) => Math.exp(full[i]!)), ex0);
  const p = chiSquareTest(hist, probs).pValue;
  assert.ok(p > P_MIN, `exclude chi-square p = ${p}`);
});

test('composite unique draws: distinct ids with the inclusion probability of the unsharded proposal; impossible requests refused', () => {
  const t = lowMassTable(25);
  const st = ShardedClassTable.split(t, SIZES);
  const q = randomQueries(4, D, 26);
  const uns = createSampler('quadratic', { method: 'tree', alpha: 10, leafSize: 4 });
  uns.build(t);
  const comp = ShardedSampler.create('quadratic', st, { method: 'tree', alpha: 10, leafSize: 4 });
  comp.build(st);
  const full = logQRows(uns, q, 4);
  const dr = comp.sample({ m: 20, rng: Rng.fromSeed(27), queries: q, unique: true });
  for (let r = 0; r < 4; r++) {
    const ids = new Set(Array.from(dr.ids.subarray(r * 20, (r + 1) * 20)));
    assert.equal(ids.size, 20);
    for (let j = 0; j < 20; j++) {
      const id = dr.ids[r * 20 + j]!;
      assert.ok(Math.abs(dr.logQ[r * 20 + j]! - logInclusionProb(full[r * N + id]!, dr.tries![r]!)) < 1e-9);
    }
  }
  assert.throws(() => comp.sample({ m: N + 1, rng: Rng.fromSeed(1), queries: q, unique: true }), ImpossibleError);
  // the unigram composite's support excludes zero counts (ids 30, 45)
  const c = counts();
  const ug = ShardedSampler.create('unigram', st, { counts: c });
  ug.build(st);
  assert.throws(() => ug.sample({ m: N - 1, rng: Rng.fromSeed(1), rows: 1, unique: true }), ImpossibleError);
});

test('composite rowStreams: a row\'s draws do not depend on the other rows; sampleWithLogQ equals sample + logQ', () => {
  const t = lowMassTable(28);
  const st = ShardedClassTable.split(t, SIZES);
  const comp = ShardedSampler.create('exact', st, { precision: 'float64' });
  comp.build(st);
  const q = randomQueries(4, D, 29);
  const q2 = matrix(4, D, q.data.slice());
  for (let k = 0; k < D; k++) q2.data[k] = 3; // row 0 changed
  const a = comp.sample({ m: 30, rng: Rng.fromSeed(5), queries: q, rowStreams: true });
  const b = comp.sample({ m: 30, rng: Rng.fromSeed(5), queries: q2, rowStreams: true });
  assert.deepEqual(a.ids.subarray(30), b.ids.subarray(30));
  assert.notDeepEqual(a.ids.subarray(0, 30), b.ids.subarray(0, 30));
  const labels = singleLabels([1, 10, 33, 59]);
  const both = comp.sampleWithLogQ({ m: 30, rng: Rng.fromSeed(6), queries: q }, labels);
  const draws = comp.sample({ m: 30, rng: Rng.fromSeed(6), queries: q });
  assert.deepEqual(both.draws.ids, draws.ids);
  assert.deepEqual(both.draws.logQ, draws.logQ);
  assert.deepEqual(both.logQ, comp.logQ(q, labels));
});

// ---------------------------------------------------------------------------------------------
// update routing

test('update(ids) reaches the right shard with local ids, and keeps the composite equal to the unsharded sampler', () => {
  const calls: [number, number[]][] = [];
  class Recording extends UniformSampler {
    constructor(
      n: number,
      private readonly shard: number,
    ) {
      super({ n });
    }
    override update(ids: ArrayLike<number>): void {
      super.update(ids);
      calls.push([this.shard, Array.from(ids)]);
    }
  }
  const rec = new ShardedSampler(SIZES, (s) => new Recording(s.n, s.shard));
  rec.build(ShardedClassTable.split(randomTable(N, D, 1), SIZES));
  rec.update([3, 40, 32, 8, 59, 7]);
  assert.deepEqual(calls, [
    [0, [3]],
    [1, [1, 0]],
    [2, [0]],
    [3, [7, 26]],
  ]);
  assert.throws(() => rec.update([N]), LabelRangeError);

  const t = lowMassTable(31);
  const st = ShardedClassTable.split(t, SIZES);
  const q = randomQueries(3, D, 32);
  const opts = { method: 'tree', alpha: 30, leafSize: 4 };
  const uns = createSampler('quadratic', opts);
  uns.build(t);
  const comp = ShardedSampler.create('quadratic', st, opts);
  comp.build(st);
  const changed = [2, 9, 31, 32, 50];
  const rng = Rng.fromSeed(33);
  for (const id of changed) {
    for (let k = 0; k < D; k++) {
      const v = rng.normal();
      t.weights[id * D + k] = v;
      const s = st.shardOf(id);
      (st.shards[s] as ClassTable).weights[st.localId(id) * D + k] = v;
    }
  }
  uns.update(changed);
  comp.update(changed);
  assertSameLogQ(uns, comp, q, 3, 1e-9, 'quadratic after update');

  // midx: the merged index takes the codes the shards re-assign, and stays the unsharded index
  // of the same codebooks, draw for draw; the composed one stays equal in log q
  for (const mergedIndex of [true, false]) {
    const mopts = { codewords: 4, seed: 4 };
    const mc = ShardedSampler.create('midx', st, mopts, { mergedIndex });
    mc.build(st);
    const mu = new MidxSampler(mopts);
    mu.buildWithCodebooks(t, (mc.shards[0] as MidxSampler).codebooks()!);
    const moved = [1, 20, 33, 44, 59];
    for (const id of moved) {
      // far from where it was: the row changes bucket
      for (let k = 0; k < D; k++) {
        const v = 3 * rng.normal();
        t.weights[id * D + k] = v;
        (st.shards[st.shardOf(id)] as ClassTable).weights[st.localId(id) * D + k] = v;
      }
    }
    mu.update(moved);
    mc.update(moved);
    assertSameLogQ(mu, mc, q, 3, 1e-9, `midx merged=${mergedIndex} after update`);
    if (mergedIndex) {
      const a = mc.sample({ queries: q, m: 40, rng: Rng.fromSeed(34) });
      const b = mu.sample({ queries: q, m: 40, rng: Rng.fromSeed(34) });
      assert.deepEqual(a.ids, b.ids);
      assert.deepEqual(a.logQ, b.logQ);
    }
  }
});

test('composition errors: layout mismatch, non-composable shard sampler, no mass anywhere', () => {
  const st = ShardedClassTable.split(randomTable(N, D, 1), SIZES);
  const comp = ShardedSampler.create('uniform', [30, 30]);
  assert.throws(() => comp.build(st), ShapeError);
  assert.throws(() => comp.build(randomTable(N + 1, D, 1)), ShapeError);
  assert.throws(() => ShardedSampler.create('unigram', st, { counts: [1, 2, 3] }), ShapeError);
  assert.throws(() => ShardedSampler.create('uniform', st, { n: 3 }), ShapeError);
  const opaque: Sampler = {
    name: 'opaque', adaptive: false, isBuilt: true, numClasses: 3,
    build() {}, update() {}, stats: () => ({}),
    sample: () => { throw new Error('unused'); },
    logQ: () => new Float64Array(0),
  };
  assert.throws(() => new ShardedSampler([3], () => opaque), OptionError);
  // a shard distribution that reports no mass
  class NoMass extends UniformSampler {
    protected override rowDistribution(): RowDistribution {
      const inner = super.rowDistribution();
      return { draw: (r: RngT) => inner.draw(r), lastLogQ: 0, logProb: (id: number) => inner.logProb(id) };
    }
  }
  const nm = new ShardedSampler([5, 5], (s) => new NoMass({ n: s.n }));
  nm.build(randomTable(10, D, 1));
  assert.throws(() => nm.sample({ m: 1, rows: 1, rng: Rng.fromSeed(1) }), StateError);
  // adaptive composite: queries required, shared refused
  const ex = ShardedSampler.create('exact', st);
  ex.build(st);
  assert.throws(() => ex.sample({ m: 1, rows: 1, rng: Rng.fromSeed(1) }), OptionError);
  assert.throws(() => ex.sample({ m: 1, rng: Rng.fromSeed(1), queries: randomQueries(2, D, 1), shared: true }), OptionError);
  assert.throws(() => ShardedSampler.create('exact', st).sample({ m: 1, rng: Rng.fromSeed(1), queries: randomQueries(2, D, 1) }), StateError);
});

// ---------------------------------------------------------------------------------------------
// OutputLayer on a sharded table

/** Queries and labels of a small batch (some multi-label rows). */
function batch(seed: number, B: number): { queries: Matrix; labels: Labels } {
  const rng = Rng.fromSeed(seed);
  const queries = randomQueries(B, D, seed + 1);
  const rows: number[][] = [];
  for (let r = 0; r < B; r++) {
    const k = r % 3 === 0 ? 2 : 1;
    const s = new Set<number>();
    while (s.size < k) s.add(rng.int(N));
    rows.push([...s]);
  }
  return { queries, labels: multiLabels(rows) };
}

test('OutputLayer on a sharded table equals the unsharded layer: losses, gradients, Adam state and table after several steps, evaluation', () => {
  for (const cfg of [
    { sampler: 'exact', opts: { precision: 'float64' }, convention: 'exclusive', unique: false, denseUpdates: false },
    { sampler: 'quadratic', opts: { method: 'tree', alpha: 10, leafSize: 4 }, convention: 'correctedAll', unique: true, denseUpdates: false },
    { sampler: 'uniform', opts: {}, convention: 'maskedExclusive', unique: false, denseUpdates: true },
  ] as const) {
    const t = randomTable(N, D, 40, true);
    const st = ShardedClassTable.split(t, SIZES);
    // the same composite proposal on both sides (over views of the unsharded table, or the shards),
    // so both layers draw the same negatives from the same generator
    const common = { negatives: 12, convention: cfg.convention, unique: cfg.unique, denseUpdates: cfg.denseUpdates };
    const uns = new OutputLayer({ table: t, sampler: ShardedSampler.create(cfg.sampler, SIZES, cfg.opts), optimizer: createOptimizer('adam', { lr: 0.05 }), ...common });
    const given = createOptimizer('adam', { lr: 0.05 });
    const sh = new OutputLayer({ table: st, sampler: ShardedSampler.create(cfg.sampler, st, cfg.opts), optimizer: given, ...common });
    for (let step = 0; step < 6; step++) {
      const { queries, labels } = batch(100 + step, 9);
      const gu = uns.computeGradients({ queries, labels, rng: Rng.fromSeed(step) });
      const gs = sh.computeGradients({ queries, labels, rng: Rng.fromSeed(step) });
      assert.ok(Math.abs(gu.loss - gs.loss) <= 1e-12 * Math.max(1, Math.abs(gu.loss)), `${cfg.sampler} step ${step}: loss ${gu.loss} vs ${gs.loss}`);
      assert.deepEqual(gs.gradClasses.ids, gu.gradClasses.ids);
      assert.ok(maxAbsDiff(gs.gradClasses.rows, gu.gradClasses.rows) <= 1e-7);
      assert.ok(maxAbsDiff(gs.gradClasses.bias!, gu.gradClasses.bias!) <= 1e-7);
      assert.ok(maxAbsDiff(gs.gradQueries, gu.gradQueries) <= 1e-7);
      if (step === 2) sh.optimizer.lrScale = uns.optimizer.lrScale = 0.5;
      uns.applyGradients(gu.gradClasses);
      sh.applyGradients(gs.gradClasses);
    }
    const cat = st.toTable();
    assert.ok(maxAbsDiff(cat.weights, t.weights) <= 1e-6, `${cfg.sampler}: tables differ by ${maxAbsDiff(cat.weights, t.weights)}`);
    assert.ok(maxAbsDiff(cat.bias!, t.bias!) <= 1e-6);
    // per-shard Adam state: every shard counted every step; row step counts follow the global ids
    const opts = sh.shardedOptimizer!.shards;
    assert.equal(opts.length, SIZES.length);
    assert.equal(opts[0], given);
    assert.equal(sh.optimizer, sh.shardedOptimizer);
    for (const o of opts) assert.equal(o.steps, 6);
    for (let id = 0; id < N; id++) {
      const s = st.shardOf(id);
      assert.equal((opts[s] as Adam).rowStepCount(st.localId(id)), (uns.optimizer as Adam).rowStepCount(id));
    }
    // evaluation and the full loss
    const { queries, labels } = batch(999, 12);
    const eu = uns.evaluate(queries, labels, { ks: [1, 5] });
    const es = sh.evaluate(queries, labels, { ks: [1, 5] });
    assert.ok(Math.abs(eu.nll - es.nll) < 1e-9);
    assert.deepEqual(es.precision, eu.precision);
    assert.deepEqual(es.recall, eu.recall);
    assert.deepEqual(es.ndcg, eu.ndcg);
    assert.deepEqual(es.evaluation.topIds, eu.evaluation.topIds);
    assert.ok(Math.abs(uns.fullLoss(queries, labels) - sh.fullLoss(queries, labels)) < 1e-9);
  }
});

test('shardedEvaluate equals evaluate on the concatenated table: lse, top-k with exclusions, label log-probabilities, k = n', () => {
  const t = randomTable(N, D, 50, true);
  const st = ShardedClassTable.split(t, SIZES);
  const q = randomQueries(6, D, 51);
  const labels = multiLabels([[0], [7, 8], [32], [59, 1], [20], [6, 33, 40]]);
  const exclude = multiLabels([[1, 2], [], [33, 32], [59], [0, 1, 2, 3, 4, 5, 6], []]);
  for (const k of [0, 3, 10, N]) {
    const ex = k === N ? undefined : exclude;
    const a = evaluate(q, t, { k, labels, ...(ex ? { exclude: ex } : {}) });
    const b = shardedEvaluate(q, st, { k, labels, ...(ex ? { exclude: ex } : {}), blockSize: 5 });
    assert.equal(b.k, a.k);
    assert.ok(maxAbsDiff(a.lse, b.lse) < 1e-9);
    assert.deepEqual(b.topIds, a.topIds);
    assert.deepEqual(b.topScores, a.topScores);
    assert.ok(maxAbsDiff(a.labelLogProb!, b.labelLogProb!) < 1e-9);
  }
  assert.throws(() => shardedEvaluate(q, st, { k: N + 1 }), OptionError);
  assert.throws(() => shardedEvaluate(q, st, { labels: singleLabels([0, 1, 2, 3, 4, N]) }), LabelRangeError);
});

test('shardedFullLoss equals fullSoftmaxLoss, including multi-label rows whose positives dominate (the rescan path)', () => {
  const t = randomTable(N, D, 60, true);
  const q = randomQueries(5, D, 61);
  // row 0's two positives (in different shards) hold nearly all the mass
  for (const id of [3, 45]) {
    for (let k = 0; k < D; k++) t.weights[id * D + k] = 4 * q.data[k]!;
  }
  const st = ShardedClassTable.split(t, SIZES);
  const labels = multiLabels([[3, 45], [10, 11], [32], [59, 0, 59], [20]]);
  for (const labelWeighting of ['mean', 'sum'] as const) {
    const rowWeights = Float32Array.from([1, 0.5, 0, 2, 1]);
    const a = fullSoftmaxLoss({ queries: q, table: t, labels, rowWeights, labelWeighting, grad: false }).loss;
    const b = shardedFullLoss({ queries: q, table: st, labels, rowWeights, labelWeighting });
    assert.ok(Math.abs(a - b) < 1e-9 * Math.max(1, Math.abs(a)), `${labelWeighting}: ${a} vs ${b}`);
  }
});

test('OutputLayer refuses a sharded table with an unsharded sampler or a sampler of another layout', () => {
  const st = ShardedClassTable.split(randomTable(N, D, 1), SIZES);
  const base = { table: st, optimizer: createOptimizer('sgd'), negatives: 5 };
  assert.throws(() => new OutputLayer({ ...base, sampler: createSampler('uniform', { n: N }) }), OptionError);
  assert.throws(() => new OutputLayer({ ...base, sampler: ShardedSampler.create('uniform', [30, 30]) }), ShapeError);
  // a working sharded layer's step trains (loss goes down on a fixed batch)
  const layer = new OutputLayer({ ...base, sampler: ShardedSampler.create('uniform', st), optimizer: createOptimizer('adam', { lr: 0.05 }) });
  const { queries, labels } = batch(7, 16);
  const before = layer.fullLoss(queries, labels);
  for (let s = 0; s < 30; s++) layer.step({ queries, labels, rng: Rng.fromSeed(s) });
  assert.ok(layer.fullLoss(queries, labels) < before - 0.5, `full loss ${before} → ${layer.fullLoss(queries, labels)}`);
});

test('a composite of composites is the flat composite (the rule composes: a ShardedRow reports its mass)', () => {
  const t = lowMassTable(70);
  const q = randomQueries(3, D, 71);
  const flat = ShardedSampler.create('exact', SIZES, { precision: 'float64' });
  flat.build(t);
  // shards [7, 25] and [1, 27], each a composite of two exact samplers
  const nested = new ShardedSampler([32, 28], (s) => ShardedSampler.create('exact', s.shard === 0 ? [7, 25] : [1, 27], { precision: 'float64' }));
  nested.build(t);
  assertSameLogQ(flat, nested, q, 3, 1e-9, 'nested composite');
  const p = drawChiSquare(nested, queryRow(q, 1), logQAll(flat, queryRow(q, 1)), 20000, 72, 1e-9, 200);
  assert.ok(p > P_MIN, `nested composite chi-square p = ${p}`);
});

test('batched composite draws (drawMany): independent draws of the composite at every position of a row, deterministic (chi-square)', () => {
  // unequal shard masses: unigram counts growing with the id
  const c = new Float64Array(N);
  for (let i = 0; i < N; i++) c[i] = 1 + (i % 13) + i / 4;
  const comp = ShardedSampler.create('unigram', SIZES, { counts: c });
  comp.build(randomTable(N, D, 90));
  const S = SIZES.length;
  const starts = comp.starts;
  const shardOf = (id: number): number => {
    let s = 0;
    while (id >= starts[s + 1]!) s++;
    return s;
  };
  // the unsharded proposal (counts raised to the sampler's alpha), summed per shard
  const uns = createSampler('unigram', { counts: c });
  uns.build(randomTable(N, D, 90));
  const expected = logQRows(uns, null, 1);
  const pS = Float64Array.from({ length: S }, (_, s) => {
    let a = 0;
    for (let i = starts[s]!; i < starts[s + 1]!; i++) a += Math.exp(expected[i]!);
    return a;
  });
  const m = 6;
  const rows = 6000;
  const dr = comp.sample({ m, rows, rng: Rng.fromSeed(91) });
  // the same seed gives the same draws
  assert.deepEqual(comp.sample({ m, rows, rng: Rng.fromSeed(91) }).ids, dr.ids);
  // each position's shard follows P(s); the shards of positions 0 and m−1 are independent
  for (const j of [0, m - 1]) {
    const hist = new Float64Array(S);
    for (let r = 0; r < rows; r++) hist[shardOf(dr.ids[r * m + j]!)]!++;
    const p = chiSquareTest(hist, pS).pValue;
    assert.ok(p > P_MIN, `position ${j}: shard chi-square p = ${p}`);
  }
  const pair = new Float64Array(S * S);
  const pairP = new Float64Array(S * S);
  for (let a = 0; a < S; a++) for (let b = 0; b < S; b++) pairP[a * S + b] = pS[a]! * pS[b]!;
  for (let r = 0; r < rows; r++) pair[shardOf(dr.ids[r * m]!) * S + shardOf(dr.ids[r * m + m - 1]!)]!++;
  const pp = chiSquareTest(pair, pairP).pValue;
  assert.ok(pp > P_MIN, `positions 0 and ${m - 1}: joint shard chi-square p = ${pp}`);
  // the class of one position follows the unsharded probabilities, log q exact
  const hist = new Float64Array(N);
  for (let r = 0; r < rows; r++) {
    const id = dr.ids[r * m + 2]!;
    hist[id]!++;
    assert.ok(Math.abs(dr.logQ[r * m + 2]! - expected[id]!) < 1e-12);
  }
  const p = chiSquareTest(hist, Float64Array.from(expected, Math.exp)).pValue;
  assert.ok(p > P_MIN, `position 2: class chi-square p = ${p}`);
});
