/**
 * The contract every registered sampler keeps, run over the registry (not a list of names), so a
 * new sampler is checked as soon as it is registered:
 * - `exp(logQ)` over all classes sums to 1 for every query row;
 * - draws with replacement follow `exp(logQ)` (Pearson chi-square) and report the `logQ` of their id;
 * - with `exclude`, no excluded id is drawn, the draws follow the renormalized law and report it;
 * - `unique` draws are distinct and report `1 − (1 − q)^T` from their tries `T`;
 * - the same seed gives the same draws (with and without per-row streams);
 * - `sampleWithLogQ`, where present, equals `sample` and `logQ`;
 * - query-dependent samplers refuse `shared`; static ones draw one set for the batch.
 * Each sampler is created by `createSamplerFor` from the data it declares at registration.
 *
 * Failure rate: every chi-square test fails a correct sampler with probability 1e-4 under a random
 * seed; with seven tests per sampler (three rows with and without exclude, one shared set) that is
 * at most 7e-4 per sampler. The seeds are fixed, so a run that passes passes every time.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { SamplexError } from '../src/core/errors.js';
import { logSumExp } from '../src/core/math.js';
import { Rng } from '../src/core/rng.js';
import { chiSquareTest } from '../src/core/stats.js';
import type { Labels } from '../src/core/matrix.js';
import { createSamplerFor, samplerNames, samplerNeeds } from '../src/samplers/factory.js';
import '../src/samplers/index.js';
import { logInclusionProb, type Sampler } from '../src/samplers/types.js';
import { allIds, queryRow, randomQueries, randomTable } from './util/adaptive.js';
import { histogram, renormalize } from './util/oracle.js';

const N = 200;
const D = 8;
const ROWS = 3;
const P_MIN = 1e-4;
/** Draws per row for the chi-square tests (about 100 per class on average). */
const DRAWS = 20000;
const table = randomTable(N, D, 11, true);
const queries = randomQueries(ROWS, D, 12, 1.5);
const counts = Float64Array.from({ length: N }, (_, i) => 1 + ((i * 37) % 23) + (i % 5 === 0 ? 40 : 0));
/** Ids row `r` excludes (its "positives"). */
const excluded = [[3, 17, 90], [0, 1], [150]];
const excludeLabels: Labels = {
  ids: Int32Array.from(excluded.flat()),
  offsets: Int32Array.from([0, 3, 5, 6]),
};

function build(name: string): Sampler {
  const s = createSamplerFor(name, { n: N, counts, seed: 5 });
  s.build(table);
  return s;
}

/** `q(· | row r)` over all classes, as probabilities. */
function probs(s: Sampler, r: number): Float64Array {
  return Float64Array.from(s.logQ(queryRow(queries, r), allIds(N, 1)), Math.exp);
}

const close = (a: number, b: number, tol: number): boolean => a === b || Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));

test('the registry holds the built-in samplers, each with declared options and needs', () => {
  const names = samplerNames();
  assert.ok(names.length >= 7, names.join(','));
  for (const name of names) assert.ok(Array.isArray(samplerNeeds(name)), name);
});

for (const name of samplerNames()) {
  test(`${name}: exp(logQ) sums to 1 over all classes for every row, also after update`, () => {
    const s = build(name);
    assert.equal(s.numClasses, N);
    const check = (what: string) => {
      for (let r = 0; r < ROWS; r++) {
        const lq = s.logQ(queryRow(queries, r), allIds(N, 1));
        assert.equal(lq.length, N);
        for (const v of lq) assert.ok(v <= 1e-12 && !Number.isNaN(v), `${what} row ${r}: log q ${v}`);
        const lse = logSumExp(lq);
        assert.ok(Math.abs(lse) < 1e-5, `${what} row ${r}: log Σ q = ${lse}`);
      }
    };
    check('built');
    // move a few classes and refresh them
    const rng = Rng.fromSeed(21);
    const moved = [4, 50, 199];
    for (const i of moved) for (let c = 0; c < D; c++) table.weights[i * D + c] = rng.normal() * 0.5;
    s.update(moved);
    check('updated');
    // put the table back for the other tests
    const fresh = randomTable(N, D, 11, true);
    table.weights.set(fresh.weights);
    if (table.bias && fresh.bias) table.bias.set(fresh.bias);
  });

  test(`${name}: draws with replacement follow exp(logQ) and report it (chi-square, p ≥ ${P_MIN})`, () => {
    const s = build(name);
    for (let r = 0; r < ROWS; r++) {
      const q = queryRow(queries, r);
      const p = probs(s, r);
      const d = s.sample({ m: DRAWS, rng: Rng.fromSeed(100 + r), queries: q });
      assert.equal(d.ids.length, DRAWS);
      for (let j = 0; j < DRAWS; j++) {
        const id = d.ids[j]!;
        assert.ok(id >= 0 && id < N && p[id]! > 0, `row ${r}: drew id ${id} of probability ${p[id]}`);
        assert.ok(close(d.logQ[j]!, Math.log(p[id]!), 1e-6), `row ${r}: reported ${d.logQ[j]} for id ${id}, logQ gives ${Math.log(p[id]!)}`);
      }
      const res = chiSquareTest(histogram(d.ids, N), p);
      assert.ok(res.pValue >= P_MIN, `row ${r}: chi-square ${res.statistic} on ${res.dof} dof, p = ${res.pValue}`);
    }
  });

  test(`${name}: with exclude, excluded ids are never drawn and the draws follow the renormalized law`, () => {
    const s = build(name);
    const d = s.sample({ m: DRAWS, rng: Rng.fromSeed(200), queries, exclude: excludeLabels });
    for (let r = 0; r < ROWS; r++) {
      const target = renormalize(probs(s, r), excluded[r]!);
      const ids = d.ids.subarray(r * DRAWS, (r + 1) * DRAWS);
      for (let j = 0; j < DRAWS; j++) {
        const id = ids[j]!;
        assert.ok(!excluded[r]!.includes(id), `row ${r} drew excluded id ${id}`);
        assert.ok(close(d.logQ[r * DRAWS + j]!, Math.log(target[id]!), 1e-6), `row ${r}: reported ${d.logQ[r * DRAWS + j]} for id ${id}, renormalized ${Math.log(target[id]!)}`);
      }
      const res = chiSquareTest(histogram(ids, N), target);
      assert.ok(res.pValue >= P_MIN, `row ${r}: chi-square ${res.statistic} on ${res.dof} dof, p = ${res.pValue}`);
    }
  });

  test(`${name}: unique draws are distinct and report 1 − (1 − q)^T (with and without exclude)`, () => {
    const s = build(name);
    const m = 12;
    for (const exclude of [null, excludeLabels]) {
      const d = s.sample({ m, rng: Rng.fromSeed(300), queries, unique: true, exclude });
      assert.ok(d.unique && d.tries !== null);
      for (let r = 0; r < ROWS; r++) {
        const ex = exclude ? excluded[r]! : [];
        const q = renormalize(probs(s, r), ex);
        const ids = Array.from(d.ids.subarray(r * m, (r + 1) * m));
        assert.equal(new Set(ids).size, m, `row ${r}: ids ${ids.join(',')} are not distinct`);
        const tries = d.tries[r]!;
        assert.ok(tries >= m, `row ${r}: ${tries} tries for ${m} ids`);
        for (let j = 0; j < m; j++) {
          const id = ids[j]!;
          assert.ok(!ex.includes(id), `row ${r} drew excluded id ${id}`);
          const want = logInclusionProb(Math.log(q[id]!), tries);
          assert.ok(close(d.logQ[r * m + j]!, want, 1e-6), `row ${r}: reported ${d.logQ[r * m + j]} for id ${id}, expected ${want}`);
        }
      }
    }
  });

  test(`${name}: the same seed gives the same draws; sampleWithLogQ equals sample and logQ`, () => {
    const s = build(name);
    for (const rowStreams of [false, true]) {
      const a = s.sample({ m: 50, rng: Rng.fromSeed(400), queries, rowStreams });
      const b = build(name).sample({ m: 50, rng: Rng.fromSeed(400), queries, rowStreams });
      assert.deepEqual(a.ids, b.ids);
      assert.deepEqual(a.logQ, b.logQ);
    }
    if (s.sampleWithLogQ) {
      const ids = allIds(N, ROWS);
      const both = s.sampleWithLogQ({ m: 20, rng: Rng.fromSeed(401), queries, exclude: excludeLabels }, ids);
      const draws = s.sample({ m: 20, rng: Rng.fromSeed(401), queries, exclude: excludeLabels });
      assert.deepEqual(both.draws.ids, draws.ids);
      assert.deepEqual(both.draws.logQ, draws.logQ);
      assert.deepEqual(both.logQ, s.logQ(queries, ids));
    }
  });

  test(`${name}: shared draws are refused by a query-dependent sampler and follow the law otherwise`, () => {
    const s = build(name);
    if (s.adaptive) {
      assert.throws(() => s.sample({ m: 5, rng: Rng.fromSeed(500), queries, shared: true }), SamplexError);
      return;
    }
    const d = s.sample({ m: DRAWS, rng: Rng.fromSeed(500), queries, shared: true });
    assert.equal(d.rows, 1);
    assert.equal(d.ids.length, DRAWS);
    const p = probs(s, 0);
    const res = chiSquareTest(histogram(d.ids, N), p);
    assert.ok(res.pValue >= P_MIN, `chi-square ${res.statistic} on ${res.dof} dof, p = ${res.pValue}`);
  });
}
