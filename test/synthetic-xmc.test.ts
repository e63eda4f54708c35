import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OptionError } from '../src/core/errors.js';
import { Rng } from '../src/core/rng.js';
import { chiSquareTest } from '../src/core/stats.js';
import { numRows } from '../src/data/sparse.js';
import { parseSyntheticXmcSpec, SyntheticXmc, ZipfSampler } from '../src/data/syntheticXmc.js';

const tiny = { labels: 40, rows: 200, test: 50, features: 256, clusters: 5, clusterFeatures: 4, signature: 3, tokens: 5, seed: 11 };

test('synthetic XMC: same seed gives the same rows, row r does not depend on the order rows are made in', () => {
  const a = new SyntheticXmc({ labels: 5000, rows: 300, seed: 4 });
  const b = new SyntheticXmc({ labels: 5000, rows: 300, seed: 4 });
  const fwd = Array.from({ length: 300 }, (_, r) => a.row(r));
  const back = Array.from({ length: 300 }, (_, i) => b.row(299 - i)).reverse();
  assert.deepEqual(back, fwd);
  // the dataset built from the stream holds the same rows
  const ds = a.rows(0, 300);
  for (const r of [0, 17, 299]) {
    const lo = ds.features.offsets[r]!;
    const hi = ds.features.offsets[r + 1]!;
    assert.deepEqual(ds.features.indices.subarray(lo, hi), fwd[r]!.features);
    assert.deepEqual(ds.features.values.subarray(lo, hi), fwd[r]!.counts);
    assert.equal(ds.labels.ids[r], fwd[r]!.label);
  }
  // another seed gives other rows; the test split continues the stream
  const c = new SyntheticXmc({ labels: 5000, rows: 300, seed: 5 });
  assert.notDeepEqual(Array.from({ length: 20 }, (_, r) => c.row(r).label), fwd.slice(0, 20).map((x) => x.label));
  const split = a.split();
  assert.equal(numRows(split.train), 300);
  assert.equal(numRows(split.test), a.options.test);
  assert.deepEqual(split.test.features.indices.subarray(0, split.test.features.offsets[1]!), a.row(300).features);
  // every row has its T tokens, features ascending and in range
  for (const row of fwd) {
    assert.equal(row.counts.reduce((s, x) => s + x, 0), a.options.tokens);
    for (let i = 1; i < row.features.length; i++) assert.ok(row.features[i]! > row.features[i - 1]!);
    assert.ok(row.features[row.features.length - 1]! < a.numFeatures);
  }
});

// Failure rate: each chi-square check below fails with probability 1e-3 under a correct
// generator (fixed seeds, so a pass is reproducible).
test('synthetic XMC: Zipf draws match the exact pmf (chi-square, s = 1 and s = 1.3, n up to 10^6)', () => {
  for (const [n, s, seed] of [[50, 1, 1], [1000, 1.3, 2], [1_000_000, 1, 3], [7, 0.5, 4]] as const) {
    const z = new ZipfSampler(n, s);
    const rng = Rng.fromSeed(seed);
    const bins = Math.min(n, 2000);
    // ranks beyond `bins` pooled into the last cell
    const obs = new Float64Array(bins);
    const draws = 200_000;
    for (let i = 0; i < draws; i++) {
      const k = z.sample(rng);
      assert.ok(k >= 1 && k <= n);
      obs[Math.min(k, bins) - 1]!++;
    }
    let norm = 0;
    for (let k = n; k >= 1; k--) norm += k ** -s;
    const probs = new Float64Array(bins);
    for (let k = 1; k <= n; k++) probs[Math.min(k, bins) - 1]! += k ** -s / norm;
    const r = chiSquareTest(obs, probs);
    assert.ok(r.pValue > 1e-3, `n ${n} s ${s}: chi-square p ${r.pValue} (${r.bins} bins)`);
  }
});

test('synthetic XMC: labels of generated rows follow the Zipf prior, tokens follow P(f | y) (chi-square)', () => {
  const g = new SyntheticXmc({ ...tiny, rows: 40_000 });
  const obs = new Float64Array(tiny.labels);
  for (let r = 0; r < 40_000; r++) obs[g.row(r).label]!++;
  const prior = Float64Array.from({ length: tiny.labels }, (_, l) => Math.exp(g.logPrior(l)));
  assert.ok(Math.abs(prior.reduce((s, x) => s + x, 0) - 1) < 1e-12);
  assert.ok(chiSquareTest(obs, prior).pValue > 1e-3);
  // the emission the Bayes posterior assumes is the one the generator draws from
  for (const y of [0, 7, 39]) {
    const pf = Float64Array.from({ length: tiny.features }, (_, f) => g.tokenProb(y, f));
    assert.ok(Math.abs(pf.reduce((s, x) => s + x, 0) - 1) < 1e-12);
    const counts = new Float64Array(tiny.features);
    const rng = Rng.fromSeed(90 + y);
    const out = new Int32Array(tiny.tokens);
    for (let i = 0; i < 20_000; i++) {
      g.drawTokens(y, rng, out);
      for (const f of out) counts[f]!++;
    }
    assert.ok(chiSquareTest(counts, pf).pValue > 1e-3, `label ${y}`);
  }
});

test('synthetic XMC: the Bayes-optimal label equals brute-force enumeration of the posterior', () => {
  for (const o of [tiny, { ...tiny, clusters: 1, seed: 3 }, { ...tiny, labels: 300, features: 512, clusters: 17, tokens: 3, pSignature: 0.6, pCluster: 0.1, seed: 8 }]) {
    const g = new SyntheticXmc(o);
    const L = g.numLabels;
    let agree = 0;
    for (let r = 0; r < 400; r++) {
      const row = g.row(r);
      // brute force: the posterior over every label from the per-token probabilities
      const lj = new Float64Array(L);
      for (let y = 0; y < L; y++) {
        let s = Math.exp(g.logPrior(y));
        for (let i = 0; i < row.features.length; i++) s *= g.tokenProb(y, row.features[i]!) ** row.counts[i]!;
        lj[y] = Math.log(s);
      }
      let best = 0;
      for (let y = 1; y < L; y++) if (lj[y]! > lj[best]! + 1e-9 * Math.abs(lj[best]!)) best = y;
      const top = g.bayesTop(row.features, row.counts);
      assert.equal(top.label, best, `row ${r}`);
      assert.ok(Math.abs(top.logJoint - lj[best]!) < 1e-9 * Math.abs(lj[best]!), `row ${r}: ${top.logJoint} vs ${lj[best]}`);
      if (best === row.label) agree++;
    }
    // the Bayes rate is what bayesP1 reports
    const ds = g.rows(0, 400);
    assert.equal(g.bayesP1(ds, Int32Array.from({ length: 400 }, (_, i) => i)), agree / 400);
  }
});

test('synthetic XMC: distinct labels have distinct signatures', () => {
  const g = new SyntheticXmc({ labels: 5000, rows: 1, features: 4096, clusters: 50 });
  const seen = new Set<string>();
  for (let l = 0; l < 5000; l++) seen.add([0, 1, 2, 3].map((j) => g.signatureFeature(l, j)).join(','));
  assert.equal(seen.size, 5000);
});

test('synthetic XMC spec: strict parsing, exponent notation, refusals name the keys', () => {
  assert.deepEqual(parseSyntheticXmcSpec('labels=1e6,rows=2.5e5,seed=3,zipf=1.1'), { labels: 1_000_000, rows: 250_000, seed: 3, zipf: 1.1 });
  const refuse = (spec: string, re: RegExp): void => assert.throws(() => parseSyntheticXmcSpec(spec), (e: unknown) => e instanceof OptionError && re.test(e.message), spec);
  refuse('labels=1e6,rows=10,colour=3', /unknown key 'colour'.*labels, rows, test/);
  refuse('labels=1e6', /missing rows/);
  refuse('rows=5', /missing labels/);
  refuse('labels=1.5e0,rows=5', /labels=1.5e0 is not a whole number/);
  refuse('labels=0x10,rows=5', /labels=0x10/);
  refuse('labels=10,rows=5,labels=20', /given twice/);
  refuse('labels=10,rows', /'rows' is not key=value/);
  refuse('labels=10,rows=5,zipf=abc', /zipf=abc is not a decimal number/);
  const ctor = (o: object, re: RegExp): void => assert.throws(() => new SyntheticXmc(o as never), (e: unknown) => e instanceof OptionError && re.test(e.message));
  ctor({ labels: 10, rows: 5, pSignature: 0.7, pCluster: 0.5 }, /exceeds 1/);
  ctor({ labels: 10_000, rows: 5, features: 64 }, /too few|distinct signatures/);
  ctor({ labels: 10, rows: 5, zipf: 0 }, /zipf/);
  // the canonical spec reads back to the same generator
  const g = new SyntheticXmc({ labels: 3000, rows: 100 });
  const again = new SyntheticXmc(parseSyntheticXmcSpec(g.spec().slice('synthetic:'.length)));
  assert.deepEqual(again.options, g.options);
  assert.match(g.spec(), /^synthetic:labels=3000,rows=100,test=100,/);
});
