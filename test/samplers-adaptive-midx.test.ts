/**
 * MIDX sampler and k-means: exact stage distributions (PQ and RQ), draws, updates, degenerate
 * inputs, top-k retrieval, rebuild policy. Chi-square checks use fixed seeds with a
 * false-failure rate of 1e-3 each.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClassTable } from '../src/core/classTable.js';
import { ImpossibleError, OptionError, ShapeError } from '../src/core/errors.js';
import { matrix, multiLabels, type Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { chiSquareTest } from '../src/core/stats.js';
import { createSampler } from '../src/index.js';
import { kmeans } from '../src/samplers/kmeans.js';
import { assignCodes, MidxRow, MidxSampler, sampleRows, type MidxCodebook, type MidxStage } from '../src/samplers/midx.js';
import { newRowRangeOutput, rowGenerators, sampleRowRange, type RowDistribution } from '../src/samplers/base.js';
import { initFastKernels, tableInKernelMemory } from '../src/kernels/fast.js';
import { logInclusionProb } from '../src/samplers/types.js';
import { log1mExp, logSumExp } from '../src/core/math.js';
import { RebuildPolicy } from '../src/samplers/rebuild.js';
import { drawChiSquare, logNormalize, logQAll, maxAbsDiff, queryRow, randomQueries, randomTable } from './util/adaptive.js';

const P_MIN = 1e-3;

/** Brute-force log q for one query: softmax over quantized logits (+log pop) or the full softmax. */
function brute(s: MidxSampler, t: ClassTable, q: Matrix, r: number, stage: MidxStage, pop?: number[]): Float64Array {
  if (stage === 'softmax') {
    // the uniform stage's bucket probabilities, then the exact softmax within each bucket
    const u = brute(s, t, q, r, 'uniform');
    const members = new Map<string, number[]>();
    for (let i = 0; i < t.n; i++) {
      const key = s.codesOf(i).join(',');
      members.set(key, [...(members.get(key) ?? []), i]);
    }
    const lse = (xs: number[]): number => {
      const m = Math.max(...xs);
      return m + Math.log(xs.reduce((a, x) => a + Math.exp(x - m), 0));
    };
    const groups = [...members.values()];
    const logPb = groups.map((ids) => lse(ids.map((i) => u[i]!)));
    const norm = lse(logPb);
    const out = new Float64Array(t.n);
    groups.forEach((ids, g) => {
      const o = ids.map((i) => t.logit(q.data, r * t.d, i));
      const z = lse(o);
      ids.forEach((i, k) => (out[i] = logPb[g]! - norm + o[k]! - z));
    });
    return out;
  }
  const cb = s.codebooks()!;
  const d = t.d;
  const h = [...q.data.subarray(r * d, (r + 1) * d)];
  if (t.bias) h.push(1);
  const lw = new Float64Array(t.n);
  for (let i = 0; i < t.n; i++) {
    if (stage === 'residual') {
      lw[i] = t.logit(q.data, r * d, i);
      continue;
    }
    const [k1, k2] = s.codesOf(i);
    let o = 0;
    if (cb.kind === 'pq') {
      for (let k = 0; k < cb.w1; k++) o += h[k]! * cb.c1[k1 * cb.w1 + k]!;
      for (let k = 0; k < cb.w2; k++) o += h[cb.w1 + k]! * cb.c2[k2 * cb.w2 + k]!;
    } else {
      for (let k = 0; k < cb.w1; k++) o += h[k]! * (cb.c1[k1 * cb.w1 + k]! + cb.c2[k2 * cb.w2 + k]!);
    }
    lw[i] = stage === 'pop' ? o + Math.log(pop![i]!) : o;
  }
  return logNormalize(lw);
}

const POP = Array.from({ length: 400 }, (_, i) => (i % 7 === 0 ? 0 : 1 + (i % 5)));

for (const codebook of ['pq', 'rq'] as MidxCodebook[]) {
  for (const stage of ['uniform', 'pop', 'residual', 'softmax'] as MidxStage[]) {
    test(`midx ${codebook}/${stage}: log q of every id equals the brute-force distribution; draws match (chi-square)`, () => {
      const t = randomTable(400, 8, 11, true, 0.8);
      const q = randomQueries(2, 8, 12);
      const s = new MidxSampler({ codebook, stage, codewords: 8, popularity: stage === 'pop' ? POP : null, seed: 3 });
      s.build(t);
      for (let r = 0; r < 2; r++) {
        const qr = queryRow(q, r);
        const want = brute(s, t, q, r, stage, POP);
        const got = logQAll(s, qr);
        // residual logits go through the float32 kernels; softmax-stage logits are float64 sums of float32 products
        const tol = stage === 'residual' ? 1e-5 : stage === 'softmax' ? 1e-6 : 1e-9;
        assert.ok(maxAbsDiff(got, want) < tol, `row ${r}: ${maxAbsDiff(got, want)}`);
        if (stage === 'pop') for (let i = 0; i < 400; i += 7) assert.equal(got[i], -Infinity);
        const p = drawChiSquare(s, qr, got, 20000, 300 + r, 1e-12);
        assert.ok(p > P_MIN, `row ${r}: p = ${p}`);
      }
    });
  }
}

test('midx: codebooks fitted on a subset of the rows (trainSample) still give the exact log q; draws match (chi-square)', () => {
  for (const codebook of ['pq', 'rq'] as MidxCodebook[]) {
    for (const stage of ['uniform', 'softmax'] as MidxStage[]) {
      const t = randomTable(600, 8, 41, true, 0.8);
      const q = randomQueries(1, 8, 42);
      // 40 of 600 rows fit the codebooks; every row is then assigned to its nearest codewords
      const s = new MidxSampler({ codebook, stage, codewords: 6, trainSample: 40, seed: 5 });
      s.build(t);
      const cb = s.codebooks()!;
      const c1 = new Int32Array(600);
      const c2 = new Int32Array(600);
      assignCodes(t, cb, null, 600, c1, c2);
      for (let i = 0; i < 600; i++) assert.deepEqual(s.codesOf(i), [c1[i], c2[i]]);
      const qr = queryRow(q, 0);
      const got = logQAll(s, qr);
      const want = brute(s, t, q, 0, stage);
      // the softmax stage scores a bucket's classes in float32 (the active kernels)
      assert.ok(maxAbsDiff(got, want) < (stage === 'softmax' ? 5e-6 : 1e-9), `${codebook}/${stage}: ${maxAbsDiff(got, want)}`);
      const p = drawChiSquare(s, qr, got, 20000, 401, 1e-12);
      assert.ok(p > P_MIN, `${codebook}/${stage}: p = ${p}`);
    }
  }
});

test('midx: blocked code assignment equals one block and the brute-force nearest codewords', () => {
  for (const codebook of ['pq', 'rq'] as MidxCodebook[]) {
    for (const bias of [true, false]) {
      const t = randomTable(257, 7, 51, bias, 0.8);
      const s = new MidxSampler({ codebook, codewords: 5, seed: 1 });
      s.build(t);
      const cb = s.codebooks()!;
      const ref1 = new Int32Array(257);
      const ref2 = new Int32Array(257);
      assignCodes(t, cb, null, 257, ref1, ref2, 257);
      for (const block of [1, 3, 64, 100000]) {
        const a1 = new Int32Array(257);
        const a2 = new Int32Array(257);
        assignCodes(t, cb, null, 257, a1, a2, block);
        assert.deepEqual([...a1], [...ref1], `block ${block}`);
        assert.deepEqual([...a2], [...ref2], `block ${block}`);
      }
      // listed rows get the codes of those rows
      const ids = Int32Array.from([256, 0, 17, 17, 100]);
      const l1 = new Int32Array(5);
      const l2 = new Int32Array(5);
      assignCodes(t, cb, ids, 5, l1, l2, 2);
      for (let k = 0; k < 5; k++) assert.deepEqual([l1[k], l2[k]], [ref1[ids[k]!], ref2[ids[k]!]]);
      // brute force: nearest first codeword, then nearest second one (other half / residual), float64
      const dp = 7 + (bias ? 1 : 0);
      const near = (x: number[], c: Float32Array, w: number): number => {
        let best = 0;
        let bestD = Infinity;
        for (let j = 0; j < cb.k; j++) {
          let e = 0;
          for (let u = 0; u < w; u++) e += (x[u]! - c[j * w + u]!) ** 2;
          if (e < bestD) [best, bestD] = [j, e];
        }
        return best;
      };
      for (let i = 0; i < 257; i++) {
        const row = [...t.weights.subarray(i * 7, i * 7 + 7)];
        if (bias) row.push(t.bias![i]!);
        assert.equal(row.length, dp);
        const k1 = near(row.slice(0, cb.w1), cb.c1, cb.w1);
        const second = codebook === 'pq' ? row.slice(cb.w1) : row.map((v, u) => Math.fround(v - cb.c1[k1 * cb.w1 + u]!));
        assert.deepEqual([ref1[i], ref2[i]], [k1, near(second, cb.c2, cb.w2)], `row ${i}`);
      }
      assert.equal(s.codesOf(100).join(), `${ref1[100]},${ref2[100]}`);
    }
  }
});

test('midx: sampleRows draws distinct sorted rows, all rows when asked for as many', () => {
  const rng = Rng.fromSeed(3);
  const r = sampleRows(1000, 50, rng);
  assert.equal(r.length, 50);
  for (let k = 1; k < 50; k++) assert.ok(r[k]! > r[k - 1]!);
  assert.ok(r[0]! >= 0 && r[49]! < 1000);
  assert.deepEqual([...sampleRows(5, 9, rng)], [0, 1, 2, 3, 4]);
  // each row equally likely: 20000 subsets of 3 of 10 rows, chi-square on the row counts
  const counts = new Array<number>(10).fill(0);
  for (let k = 0; k < 20000; k++) for (const i of sampleRows(10, 3, rng)) counts[i]!++;
  const p = chiSquareTest(counts, new Array<number>(10).fill(0.1)).pValue;
  assert.ok(p > P_MIN, `p = ${p}`);
});

test('midx: update(ids) equals indexing the changed table with the same codebooks', () => {
  for (const codebook of ['pq', 'rq'] as MidxCodebook[]) {
    for (const stage of ['uniform', 'pop'] as MidxStage[]) {
      const t = randomTable(400, 8, 21, true, 0.8);
      const q = randomQueries(2, 8, 22);
      const s = new MidxSampler({ codebook, stage, codewords: 8, popularity: POP.map((x) => x + 1) });
      s.build(t);
      const rng = Rng.fromSeed(23);
      const ids: number[] = [];
      for (let i = 0; i < 400; i += 5) {
        ids.push(i);
        for (let k = 0; k < 8; k++) t.weights[i * 8 + k] = rng.normal() * 0.8;
        t.bias![i] = rng.normal();
      }
      const before = Array.from({ length: 400 }, (_, i) => s.codesOf(i).join());
      s.update(ids);
      const fresh = new MidxSampler({ codebook, stage, codewords: 8, popularity: POP.map((x) => x + 1) });
      fresh.buildWithCodebooks(t, s.codebooks()!);
      let moved = 0;
      for (let i = 0; i < 400; i++) {
        assert.deepEqual(s.codesOf(i), fresh.codesOf(i));
        if (s.codesOf(i).join() !== before[i]) moved++;
      }
      assert.ok(moved > 10, `only ${moved} classes changed bucket`);
      for (let r = 0; r < 2; r++) {
        const a = logQAll(s, queryRow(q, r));
        assert.ok(maxAbsDiff(a, logQAll(fresh, queryRow(q, r))) < 1e-12);
        assert.ok(maxAbsDiff(a, brute(s, t, q, r, stage, POP.map((x) => x + 1))) < 1e-9);
      }
    }
  }
});

test('midx: the residual stage stays the exact softmax of the live table even with stale codes', () => {
  const t = randomTable(300, 8, 31, true, 0.8);
  const q = randomQueries(1, 8, 32);
  const s = new MidxSampler({ codebook: 'rq', stage: 'residual', codewords: 8 });
  s.build(t);
  for (let i = 0; i < 300 * 8; i += 3) t.weights[i] = -t.weights[i]!;
  assert.ok(maxAbsDiff(logQAll(s, q), brute(s, t, q, 0, 'residual')) < 1e-5);
});

test('midx: degenerate inputs (n < K², n < K, duplicates, zero query, huge logit) give finite distributions', () => {
  const d = 8;
  const tables = [
    randomTable(10, d, 41, true), // n < K² with K = 8
    randomTable(3, d, 42, false), // n < K: K capped at 3
    new ClassTable(40, d, new Float32Array(40 * d).fill(0.25), null), // all duplicates
    (() => {
      const t = randomTable(60, d, 43, true);
      for (let k = 0; k < d; k++) t.weights[9 * d + k] = 1000;
      return t;
    })(),
  ];
  const zero = matrix(1, d);
  const q = randomQueries(1, d, 44);
  q.data.fill(1);
  for (const codebook of ['pq', 'rq'] as MidxCodebook[]) {
    for (const stage of ['uniform', 'residual'] as MidxStage[]) {
      for (const t of tables) {
        const s = new MidxSampler({ codebook, stage, codewords: 8 });
        s.build(t);
        for (const qq of [zero, q]) {
          const lq = logQAll(s, qq);
          let tot = 0;
          for (const l of lq) {
            assert.ok(!Number.isNaN(l), `${codebook}/${stage} n=${t.n}: NaN`);
            tot += Math.exp(l);
          }
          assert.ok(Math.abs(tot - 1) < 1e-9, `${codebook}/${stage} n=${t.n}: sums to ${tot}`);
          const dr = s.sample({ m: 30, rng: Rng.fromSeed(5), queries: qq });
          for (let j = 0; j < 30; j++) assert.ok(Number.isFinite(dr.logQ[j]!));
        }
        if (t.n === 60 && stage === 'residual') {
          const dr = s.sample({ m: 30, rng: Rng.fromSeed(5), queries: q });
          assert.ok(dr.ids.every((id) => id === 9));
          // excluding the class that holds all the mass leaves nothing to draw
          assert.throws(() => s.sample({ m: 5, rng: Rng.fromSeed(5), queries: q, exclude: multiLabels([[9]]) }), ImpossibleError);
        }
      }
    }
  }
  // impossible requests; 'pop' can only draw the classes with positive popularity (343 of 400)
  const sp = new MidxSampler({ stage: 'pop', popularity: POP, codewords: 8 });
  sp.build(randomTable(400, d, 45));
  assert.throws(() => sp.sample({ m: 344, rng: Rng.fromSeed(6), queries: q, unique: true }), ImpossibleError);
  const u = sp.sample({ m: 200, rng: Rng.fromSeed(6), queries: q, unique: true });
  assert.equal(new Set(u.ids).size, 200);
  assert.ok(u.ids.every((id) => POP[id]! > 0));
  assert.throws(() => new MidxSampler({ codebook: 'pq' }).build(randomTable(10, 1, 1)), ImpossibleError);
  assert.throws(() => new MidxSampler({ stage: 'pop', popularity: new Array(10).fill(0) }).build(randomTable(10, 4, 1)), ImpossibleError);
  assert.throws(() => new MidxSampler({ stage: 'pop', popularity: [1, 2] }).build(randomTable(10, 4, 1)), ShapeError);
  assert.throws(() => new MidxSampler({ stage: 'pop' }), OptionError);
  assert.throws(() => new MidxSampler({ stage: 'pop', popularity: [1, -1] }), OptionError);
  assert.throws(() => new MidxSampler({ codewords: 0 }), OptionError);
  assert.throws(() => createSampler('midx', { codebook: 'opq' }), OptionError);
});

test('midx: batched draws (drawMany) equal one-by-one draws, bit for bit, for every stage', () => {
  const t = randomTable(300, 8, 61, true, 0.8);
  const q = randomQueries(3, 8, 62);
  for (const stage of ['uniform', 'pop', 'residual', 'softmax'] as MidxStage[]) {
    const s = new MidxSampler({ codewords: 6, stage, popularity: stage === 'pop' ? POP.slice(0, 300) : null, seed: 4 });
    s.build(t);
    const one = new MidxRow(s.internals);
    const many = new MidxRow(s.internals);
    for (let r = 0; r < 3; r++) {
      one.setQuery(q.data, r * 8);
      many.setQuery(q.data, r * 8);
      const a = Rng.fromSeed(70 + r);
      const b = Rng.fromSeed(70 + r);
      const ids = new Int32Array(90);
      const lq = new Float64Array(90);
      // two calls: the second starts with buckets already cached by the first
      many.drawMany(b, 50, ids, lq, 0);
      many.drawMany(b, 40, ids, lq, 50);
      for (let j = 0; j < 90; j++) {
        assert.equal(ids[j], one.draw(a), `${stage} row ${r} draw ${j}`);
        assert.equal(lq[j], one.lastLogQ);
        assert.equal(lq[j], many.logProb(ids[j]!));
      }
      assert.deepEqual(b.state(), a.state(), 'the generator is consumed as by single draws');
    }
  }
});

test('midx softmax stage: the batch prefetch of bucket logits gives the row-by-row draws and log q, bit for bit (TS and WebAssembly kernels)', async () => {
  const B = 40;
  const m = 30;
  const q = randomQueries(B, 8, 92);
  const scored = multiLabels(Array.from({ length: B }, (_, r) => [r * 7, (r * 13 + 5) % 300]));
  const exclude = multiLabels(Array.from({ length: B }, (_, r) => (r % 3 === 0 ? [] : [r * 3, r * 3 + 1])));
  for (const path of ['ts', 'wasm'] as const) {
    const fk = path === 'ts' ? null : await initFastKernels({ threads: 0 });
    if (fk && fk.path === 'ts') {
      await fk.close();
      continue; // no WebAssembly SIMD here
    }
    try {
      // with the WebAssembly kernels the table also lives in kernel memory (read in place)
      const t0 = randomTable(300, 8, 91, true, 0.8);
      const t = fk ? tableInKernelMemory(fk, t0) : t0;
      const s = new MidxSampler({ codewords: 5, stage: 'softmax', seed: 6 });
      s.build(t);
      for (const rowStreams of [false, true]) {
        for (const unique of [false, true]) {
          for (const ex of [null, exclude]) {
            const opts = { m, queries: q, rowStreams, unique, exclude: ex };
            const got = s.sampleWithLogQ({ ...opts, rng: Rng.fromSeed(93) }, scored);
            const drawsOnly = s.sample({ ...opts, rng: Rng.fromSeed(93) });
            // reference: every row's distribution computes its own buckets' logits when it needs them
            const row = new MidxRow(s.internals);
            row.scoreBatch(q.data, B);
            const out = newRowRangeOutput(B, m, unique, scored.ids.length);
            const ref = { ...opts, rng: Rng.fromSeed(93) };
            const distOf = (r: number): RowDistribution => {
              row.setQueryScored(q.data, r * 8, r);
              return row;
            };
            sampleRowRange('midx', 300, distOf, rowGenerators(ref), ref, scored, 0, B, out, 0);
            const what = `${path} rowStreams ${rowStreams} unique ${unique} exclude ${ex !== null}`;
            assert.deepEqual([...got.draws.ids], [...out.ids], what);
            assert.deepEqual([...got.draws.logQ], [...out.logQ], what);
            assert.deepEqual([...got.logQ], [...out.posLogQ], what);
            assert.deepEqual([...drawsOnly.ids], [...out.ids], what);
            assert.deepEqual([...drawsOnly.logQ], [...out.logQ], what);
            // and logQ() of the drawn ids, row by row, gives the same values
            const lq = s.logQ(q, { ids: got.draws.ids, offsets: Int32Array.from({ length: B + 1 }, (_, r) => r * m) });
            if (!unique && ex === null) assert.deepEqual([...lq], [...got.draws.logQ], what);
          }
        }
      }
    } finally {
      await fk?.close();
    }
  }
});

test('midx: rounds of batched draws with exclusion and unique draws give what single draws give', () => {
  const t = randomTable(120, 8, 81, true, 0.5);
  const q = randomQueries(4, 8, 82);
  const s = new MidxSampler({ codewords: 4, stage: 'softmax', seed: 5 });
  s.build(t);
  const row = new MidxRow(s.internals);
  // each row excludes its most probable ids (none for row 2), so that rejections do happen
  const exclude = [3, 1, 0, 2].map((k, r) => {
    row.setQuery(q.data, r * 8);
    const lp = Array.from({ length: 120 }, (_, i) => row.logProb(i));
    return Array.from(lp.keys()).sort((a, b) => lp[b]! - lp[a]!).slice(0, k);
  });
  const m = 40;
  for (const unique of [false, true]) {
    const out = newRowRangeOutput(4, m, unique, 0);
    const distOf = (r: number): RowDistribution => {
      row.setQuery(q.data, r * 8);
      return row;
    };
    // one generator for all rows: a round that drew too many would shift every later row
    const shared = Rng.fromSeed(90);
    sampleRowRange('midx', 120, distOf, () => shared, { m, rng: shared, unique, exclude: multiLabels(exclude) }, null, 0, 4, out, 0);
    // reference: one draw at a time, rejection of excluded ids, unique draws until m distinct
    const rng = Rng.fromSeed(90);
    for (let r = 0; r < 4; r++) {
      row.setQuery(q.data, r * 8);
      const ex = new Set(exclude[r]);
      const logKeep = ex.size ? log1mExp(logSumExp([...ex].map((e) => row.logProb(e)))) : 0;
      const ids: number[] = [];
      const lq: number[] = [];
      const seen = new Map<number, number>();
      let tries = 0;
      while (unique ? seen.size < m : ids.length < m) {
        const id = row.draw(rng);
        if (ex.has(id)) continue;
        tries++;
        if (!unique) {
          ids.push(id);
          lq.push(row.lastLogQ - logKeep);
        } else if (!seen.has(id)) seen.set(id, row.lastLogQ - logKeep);
      }
      if (unique) for (const [id, l] of seen) ids.push(id), lq.push(logInclusionProb(l, tries));
      assert.deepEqual([...out.ids.subarray(r * m, r * m + m)], ids, `unique ${unique} row ${r}`);
      assert.deepEqual([...out.logQ.subarray(r * m, r * m + m)], lq);
      if (unique) assert.equal(out.tries![r], tries);
    }
  }
});

test('midx: exclusion renormalizes exactly and unique draws are distinct', () => {
  const t = randomTable(200, 8, 51, true, 0.8);
  const q = randomQueries(1, 8, 52);
  const s = new MidxSampler({ codebook: 'pq', codewords: 6 });
  s.build(t);
  const full = logQAll(s, q);
  const top = Array.from(full.keys()).sort((a, b) => full[b]! - full[a]!).slice(0, 4);
  let ex = 0;
  for (const i of top) ex += Math.exp(full[i]!);
  const expected = Float64Array.from(full, (l, i) => (top.includes(i) ? -Infinity : l - Math.log(1 - ex)));
  const counts = new Float64Array(200);
  const rng = Rng.fromSeed(53);
  for (let rep = 0; rep < 40; rep++) {
    const dr = s.sample({ m: 500, rng, queries: q, exclude: multiLabels([top]) });
    for (let j = 0; j < 500; j++) {
      assert.ok(!top.includes(dr.ids[j]!));
      assert.ok(Math.abs(dr.logQ[j]! - expected[dr.ids[j]!]!) < 1e-9);
      counts[dr.ids[j]!]!++;
    }
  }
  assert.ok(chiSquareTest(counts, Float64Array.from(expected, Math.exp)).pValue > P_MIN);
  const u = s.sample({ m: 50, rng, queries: q, unique: true });
  assert.equal(new Set(u.ids).size, 50);
});

test('midx: topK with every candidate equals the exact top-k; default budget returns sorted exact scores', () => {
  const t = randomTable(500, 8, 61, true, 0.8);
  const q = randomQueries(3, 8, 62);
  const s = new MidxSampler({ codebook: 'rq', codewords: 8 });
  s.build(t);
  const all = s.topK(q, 10, { candidates: 500 });
  for (let r = 0; r < 3; r++) {
    const exact = Array.from({ length: 500 }, (_, i) => i).sort((a, b) => t.logit(q.data, r * 8, b) - t.logit(q.data, r * 8, a));
    assert.deepEqual(Array.from(all.ids.subarray(r * 10, r * 10 + 10)), exact.slice(0, 10));
  }
  const approx = s.topK(q, 5, { candidates: 60 });
  for (let r = 0; r < 3; r++) {
    assert.ok(approx.candidates[r]! >= 60);
    for (let j = 0; j < 5; j++) {
      const id = approx.ids[r * 5 + j]!;
      assert.ok(Math.abs(approx.scores[r * 5 + j]! - t.logit(q.data, r * 8, id)) < 1e-9);
      if (j > 0) assert.ok(approx.scores[r * 5 + j]! <= approx.scores[r * 5 + j - 1]!);
    }
  }
  assert.throws(() => s.topK(q, 501), ImpossibleError);
});

test('midx: same seed gives the same codebooks and draws; rebuild warm-starts', () => {
  const t = randomTable(300, 8, 71, false);
  const q = randomQueries(3, 8, 72);
  const a = new MidxSampler({ seed: 9, codewords: 8 });
  const b = new MidxSampler({ seed: 9, codewords: 8 });
  a.build(t);
  b.build(t);
  assert.deepEqual(a.codebooks()!.c1, b.codebooks()!.c1);
  const da = a.sample({ m: 40, rng: Rng.fromSeed(1), queries: q });
  const db = b.sample({ m: 40, rng: Rng.fromSeed(1), queries: q });
  assert.deepEqual(da.ids, db.ids);
  assert.deepEqual(da.logQ, db.logQ);
  // a rebuild on the same table starts from converged codebooks: few iterations
  const itersFirst = a.stats().kmeansIterations as number;
  a.build(t);
  assert.ok((a.stats().kmeansIterations as number) <= itersFirst);
});

test('kmeans: lowers inertia, respects warm starts and reseeds empty clusters', () => {
  const rng = Rng.fromSeed(81);
  const n = 600;
  const d = 4;
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) for (let k = 0; k < d; k++) x[i * d + k] = (i % 3) * 5 + rng.normal() * 0.1;
  const init = kmeans(x, n, d, 3, Rng.fromSeed(1), { iters: 0 });
  const fit = kmeans(x, n, d, 3, Rng.fromSeed(1), { iters: 20 });
  assert.ok(fit.inertia <= init.inertia);
  assert.ok(fit.inertia / n < 0.1, `inertia per point ${fit.inertia / n}`);
  const warm = kmeans(x, n, d, 3, Rng.fromSeed(2), { iters: 0, initial: fit.centroids });
  assert.deepEqual(warm.centroids, fit.centroids);
  // all centroids start at one point: empty clusters must be reseeded
  const bad = new Float32Array(3 * d).fill(5);
  const re = kmeans(x, n, d, 3, Rng.fromSeed(3), { iters: 20, initial: bad });
  const sizes = [0, 0, 0];
  for (const a of re.assign) sizes[a]!++;
  assert.ok(sizes.every((c) => c > 0), `cluster sizes ${sizes}`);
  // duplicates and k = n
  const dup = new Float32Array(5 * d).fill(1);
  const kd = kmeans(dup, 5, d, 5, Rng.fromSeed(4), { iters: 5 });
  assert.ok(kd.centroids.every(Number.isFinite));
  assert.throws(() => kmeans(dup, 5, d, 6, Rng.fromSeed(4)), OptionError);
});

test('RebuildPolicy: every N steps and/or per epoch', () => {
  const p = new RebuildPolicy({ everySteps: 100, perEpoch: false });
  assert.equal(p.shouldRebuild(99, false), false);
  assert.equal(p.shouldRebuild(100, false), true);
  assert.equal(p.shouldRebuild(101, true), false);
  const e = new RebuildPolicy();
  assert.equal(e.shouldRebuild(5, true), true);
  assert.equal(e.shouldRebuild(100, false), false);
  assert.throws(() => new RebuildPolicy({ everySteps: -1 }), OptionError);
});
